-- History and charts (docs/history.md): history_report answers, in one call, the session and
-- role check and every table of the supervisor's history page for a range: by time bucket
-- (hour or day, São Paulo's clock), by campaign, by agent, dispositions, the AMD mix and the
-- service queues. The figures are the board's (board_snapshot, docs/board.md) over a range
-- instead of "today" / "the last hour":
--   dials        outbound-api calls created, Twilio refusals and attempts never placed excluded
--   connects     calls whose customer joined an agent (connected_at)
--   live / abandoned  live_at / abandoned_at (the pacer's counters); the AMD estimate
--                live × (1 − a) / a with each call's campaign accuracy a, shown apart
--   AMD          calls with an AMD result (amd_at) by answered_by
--   short calls  calls placed from our numbers (caller_id) that ended, Twilio refusals and
--                attempts never placed excluded (they are not calls); short: duration
--                (null = 0) ≤ p_short_seconds
--   talk         agent_status_history: busy seconds / seconds in any status but offline,
--                periods clipped to the bucket; attributed by the agent's campaign
--   queues       queue_stats (its service level: answered within the level / ended, errors apart)
-- Each event is counted in the bucket of its own time (a call created at 10:59 and connected
-- at 11:00 is a dial of 10h and a connect of 11h), as the board counts its last hour, except
-- an abandon: it is counted in the bucket of its live answer (a property of that answer), so
-- a bucket's abandon rate is a share of its own live answers and stays within 0-100 %.

-- Range reads: dispositions, status periods and queue entries by time.
create index if not exists call_dispositions_created_idx on public.call_dispositions (created_at);
create index if not exists agent_status_history_started_idx on public.agent_status_history (started_at);
-- Periods that ended after a range's start (the open ones have agent_status_history_open_idx):
-- without it every report reads the whole table, however old.
create index if not exists agent_status_history_ended_idx on public.agent_status_history (ended_at);
create index if not exists queue_entries_entered_idx on public.queue_entries (entered_at);

-- Stops a report that has run longer than p_budget since its call began: SQLSTATE 57014
-- (query_canceled, what a statement timeout raises), which the function answers as 503
-- report_timeout, not as the database being down.
create function public.history_check_time(p_budget interval)
returns void
language plpgsql volatile set search_path = '' as $$
begin
  if pg_catalog.clock_timestamp() - pg_catalog.statement_timestamp() > p_budget then
    raise exception 'the history report ran over its time budget (%)', p_budget using errcode = 'query_canceled';
  end if;
end $$;

-- Answers null when the session is not live (→ 401), {refused: 'forbidden'} for an agent
-- (→ 403), {refused: 'bad_range' | 'not_found', message} for a range or filter it cannot
-- answer (→ 400 / 404), else the report. p_to is exclusive.
create function public.history_report(p_session_hash text, p_idle_seconds integer, p_from timestamptz, p_to timestamptz,
                                      p_group text default 'day', p_campaign_id bigint default null, p_agent_id bigint default null,
                                      p_short_seconds integer default 6)
returns jsonb
language plpgsql
set search_path = ''
-- Its aggregates fold up to a range's calls (100,000 in 30 days): in memory, not on disk.
set work_mem = '32MB'
-- A report is bounded on the server too (the function waits for it at most
-- HISTORY_TIMEOUT_MS, 7 s): PostgREST 12.2+ applies a function's statement_timeout to its
-- call's transaction (Supabase's hosted one does); where it does not (the local 12.0), the
-- report checks its own time between steps (history_check_time).
set statement_timeout = '7s'
as $$
declare
  v_session   jsonb := public.auth_session(p_session_hash, p_idle_seconds);
  v_now       timestamptz := public.app_now();
  v_tz        constant text := 'America/Sao_Paulo';
  v_step      interval;
  -- São Paulo's UTC offset over the range (−03:00 since 2019, when Brazil dropped daylight
  -- saving): buckets are cut with it, the cheap form of the zone for 100,000 rows.
  v_off       interval;
  v_buckets   jsonb;
  v_campaigns jsonb;
  v_agents    jsonb;
  v_disp      jsonb;
  v_amd       jsonb;
  v_queues    jsonb;
  v_cap       numeric;
  -- Where the time budget is checked between steps (statement_timestamp: when the call began).
  v_budget    constant interval := interval '6.5 seconds';
begin
  if v_session is null then
    return null;
  end if;
  if v_session #>> '{user,role}' not in ('supervisor', 'admin') then
    return pg_catalog.jsonb_build_object('refused', 'forbidden');
  end if;
  if p_group is null or p_group not in ('hour', 'day') then
    return pg_catalog.jsonb_build_object('refused', 'bad_range', 'message', 'group must be hour or day');
  end if;
  if p_from is null or p_to is null or p_to <= p_from then
    return pg_catalog.jsonb_build_object('refused', 'bad_range', 'message', 'the range must end after it starts');
  end if;
  if p_to - p_from > interval '62 days' then
    return pg_catalog.jsonb_build_object('refused', 'bad_range', 'message', 'the range can be at most 62 days');
  end if;
  if p_group = 'hour' and p_to - p_from > interval '7 days' then
    return pg_catalog.jsonb_build_object('refused', 'bad_range', 'message', 'grouped by hour, the range can be at most 7 days');
  end if;
  if p_short_seconds is null or p_short_seconds < 0 then
    return pg_catalog.jsonb_build_object('refused', 'bad_range', 'message', 'short_seconds must be 0 or more');
  end if;
  if p_campaign_id is not null and not exists (select 1 from public.campaigns k where k.id = p_campaign_id) then
    return pg_catalog.jsonb_build_object('refused', 'not_found', 'message', 'no campaign with that id');
  end if;
  if p_agent_id is not null and not exists (select 1 from public.agents a where a.id = p_agent_id) then
    return pg_catalog.jsonb_build_object('refused', 'not_found', 'message', 'no agent with that id');
  end if;
  v_step := case p_group when 'hour' then interval '1 hour' else interval '1 day' end;
  v_off := (p_from at time zone v_tz) - (p_from at time zone 'UTC');
  if v_off <> (p_to at time zone v_tz) - (p_to at time zone 'UTC') then
    return pg_catalog.jsonb_build_object('refused', 'bad_range', 'message', 'the range crosses a change of the America/Sao_Paulo UTC offset (daylight saving, before 2019): split it there');
  end if;

  create temporary table if not exists pg_temp.history_rows (
    kind text, bucket timestamp, campaign_id bigint, agent_id bigint, code text, figures jsonb
  ) on commit drop;
  truncate pg_temp.history_rows;

  -- Calls: each event in the bucket of its own time, aggregated once for the three groupings.
  -- Events follow a call's creation within a day (a call lasts at most hours: Twilio ends
  -- calls at 4 hours), so the calls read are those created from a day before the range. The
  -- calls are first folded into kinds (same campaign, agent, buckets and flags; a bucket is
  -- null when its time is not in the range), which a range of 100,000 calls turns into a few
  -- thousand rows, then each kind's events are counted.
  insert into pg_temp.history_rows (kind, bucket, campaign_id, agent_id, figures)
  select case when grouping(x.bucket) = 0 then 'bucket' when grouping(x.campaign_id) = 0 then 'campaign' else 'agent' end,
         x.bucket, x.campaign_id, x.agent_id,
         pg_catalog.jsonb_build_object(
           'dials', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'created' and x.dial), 0),
           'connects', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'connected'), 0),
           'ended', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'created' and x.placed_ended), 0),
           'short', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'created' and x.placed_ended and x.short), 0),
           'live', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'live'), 0),
           'abandoned', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'abandoned'), 0),
           'amd_estimate', coalesce(pg_catalog.sum(x.n * (1 - x.acc) / x.acc) filter (where x.kind = 'live'), 0),
           'amd_total', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'amd'), 0),
           'amd_human', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'amd' and x.answered_by = 'human'), 0),
           'amd_machine_start', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'amd' and x.answered_by = 'machine_start'), 0),
           'amd_machine_end_beep', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'amd' and x.answered_by = 'machine_end_beep'), 0),
           'amd_machine_end_silence', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'amd' and x.answered_by = 'machine_end_silence'), 0),
           'amd_machine_end_other', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'amd' and x.answered_by = 'machine_end_other'), 0),
           'amd_fax', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'amd' and x.answered_by = 'fax'), 0),
           'amd_unknown', coalesce(pg_catalog.sum(x.n) filter (where x.kind = 'amd' and (x.answered_by = 'unknown' or x.answered_by is null)), 0))
    from (select e.kind, e.bucket, f.campaign_id, f.agent_id, f.n, coalesce(k.amd_human_accuracy, 1)::numeric as acc, f.answered_by, f.dial, f.placed_ended, f.short
            from (select c.campaign_id, c.agent_id, c.answered_by,
                         (c.direction = 'outbound-api' and not coalesce(c.end_reason in ('twilio_refused', 'never_placed'), false)) as dial,
                         (c.caller_id is not null and c.call_sid is not null
                          and c.status in ('completed', 'no-answer', 'busy', 'failed', 'canceled')
                          and not coalesce(c.end_reason in ('twilio_refused', 'never_placed'), false)) as placed_ended,
                         coalesce(c.duration, 0) <= p_short_seconds as short,
                         case when c.created_at >= p_from then pg_catalog.date_trunc(p_group, c.created_at at time zone v_off) end as b_created,
                         case when c.connected_at >= p_from and c.connected_at < p_to then pg_catalog.date_trunc(p_group, c.connected_at at time zone v_off) end as b_connected,
                         case when c.live_at >= p_from and c.live_at < p_to then pg_catalog.date_trunc(p_group, c.live_at at time zone v_off) end as b_live,
                         case when c.abandoned_at is not null and coalesce(c.live_at, c.abandoned_at) >= p_from and coalesce(c.live_at, c.abandoned_at) < p_to
                              then pg_catalog.date_trunc(p_group, coalesce(c.live_at, c.abandoned_at) at time zone v_off) end as b_abandoned,
                         case when c.amd_at >= p_from and c.amd_at < p_to then pg_catalog.date_trunc(p_group, c.amd_at at time zone v_off) end as b_amd,
                         pg_catalog.count(*) as n
                    from public.calls c
                   where c.created_at >= p_from - interval '1 day' and c.created_at < p_to
                     and (p_campaign_id is null or c.campaign_id = p_campaign_id)
                     and (p_agent_id is null or c.agent_id = p_agent_id)
                   group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11) f
            left join public.campaigns k on k.id = f.campaign_id
            cross join lateral (values ('created', f.b_created), ('connected', f.b_connected), ('live', f.b_live),
                                       ('abandoned', f.b_abandoned), ('amd', f.b_amd)) e(kind, bucket)
           where e.bucket is not null) x
   group by grouping sets ((x.bucket), (x.campaign_id), (x.agent_id));
  perform public.history_check_time(v_budget);

  -- Agents' time: status periods overlapping the range, cut at the bucket edges (a period still
  -- open runs to now). Attributed to the agent's campaign (agents.campaign_id), as the board.
  -- Most periods lie within one bucket; only those that cross an edge are cut by a series.
  insert into pg_temp.history_rows (kind, bucket, campaign_id, agent_id, figures)
  with p as materialized (
    select h.agent_id, a.campaign_id, h.status, h.s, h.e,
           pg_catalog.date_trunc(p_group, h.s at time zone v_off) as b_start,
           pg_catalog.date_trunc(p_group, (h.e - interval '1 microsecond') at time zone v_off) as b_end
      from (select h.agent_id, h.status, greatest(h.started_at, p_from) as s, least(coalesce(h.ended_at, v_now), p_to) as e
              from public.agent_status_history h
             where h.started_at < p_to and (h.ended_at > p_from or h.ended_at is null)
               and (p_agent_id is null or h.agent_id = p_agent_id)) h
      join public.agents a on a.id = h.agent_id
     where h.e > h.s and (p_campaign_id is null or a.campaign_id = p_campaign_id))
  select case when grouping(y.bucket) = 0 then 'time_bucket' when grouping(y.campaign_id) = 0 then 'time_campaign' else 'time_agent' end,
         y.bucket, y.campaign_id, y.agent_id,
         pg_catalog.jsonb_build_object(
           'talk_seconds', coalesce(pg_catalog.sum(y.s) filter (where y.status = 'busy'), 0),
           'staffed_seconds', coalesce(pg_catalog.sum(y.s) filter (where y.status <> 'offline'), 0),
           'paused_seconds', coalesce(pg_catalog.sum(y.s) filter (where y.status = 'paused'), 0))
    from (select p.status, p.campaign_id, p.agent_id, p.b_start as bucket, extract(epoch from p.e - p.s)::float8 as s
            from p where p.b_start = p.b_end
          union all
          select p.status, p.campaign_id, p.agent_id, b.local_start,
                 extract(epoch from least(p.e, (b.local_start + v_step) at time zone v_off) - greatest(p.s, b.local_start at time zone v_off))::float8
            from p
            cross join lateral pg_catalog.generate_series(p.b_start, p.b_end, v_step) b(local_start)
           where p.b_start <> p.b_end) y
   where y.s > 0
   group by grouping sets ((y.bucket), (y.campaign_id), (y.agent_id));
  perform public.history_check_time(v_budget);

  -- Dispositions saved in the range (the call's campaign, the agent who saved it). A
  -- disposition is saved in the wrap-up after its call, so the calls read are those created
  -- from a day before the range (as for the calls above): the calls index, not all calls.
  insert into pg_temp.history_rows (kind, bucket, campaign_id, agent_id, code, figures)
  select case when grouping(z.bucket) = 0 then 'disp_bucket' when grouping(z.campaign_id) = 0 then 'disp_campaign'
              when grouping(z.agent_id) = 0 then 'disp_agent' else 'disp_code' end,
         z.bucket, z.campaign_id, z.agent_id, z.code, pg_catalog.jsonb_build_object('dispositions', pg_catalog.count(*))
    from (select pg_catalog.date_trunc(p_group, d.created_at at time zone v_off) as bucket, c.campaign_id, d.agent_id, d.code
            from public.call_dispositions d
            join public.calls c on c.call_sid = d.call_sid
           where d.created_at >= p_from and d.created_at < p_to
             and c.created_at >= p_from - interval '1 day' and c.created_at < p_to
             and (p_campaign_id is null or c.campaign_id = p_campaign_id)
             and (p_agent_id is null or d.agent_id = p_agent_id)) z
   group by grouping sets ((z.bucket), (z.campaign_id), (z.agent_id), (z.code));
  perform public.history_check_time(v_budget);

  -- The strictest abandon cap among the campaigns shown (the selected one's when filtered).
  select pg_catalog.min(k.abandon_cap) into v_cap from public.campaigns k
   where case when p_campaign_id is not null then k.id = p_campaign_id
              else exists (select 1 from pg_temp.history_rows r where r.kind in ('campaign', 'time_campaign') and r.campaign_id = k.id) end;

  -- Service queues by bucket, from queue_stats: its São Paulo days as they are; hour by hour
  -- (at most 168 small ranges) when grouped by hour.
  insert into pg_temp.history_rows (kind, bucket, figures)
  select 'queue_bucket', q.bucket, pg_catalog.jsonb_build_object(
           'queue_entered', q.entered, 'queue_answered', q.answered, 'queue_answered_in_level', q.in_level,
           'queue_abandoned', q.abandoned, 'queue_ended', q.ended,
           'queue_service_level', case when q.ended > 0 then pg_catalog.round(q.in_level::numeric / q.ended, 4) end)
    from (select st.bucket, pg_catalog.sum(st.entered) as entered, pg_catalog.sum(st.answered) as answered,
                 pg_catalog.sum(st.answered_in_level) as in_level, pg_catalog.sum(st.abandoned) as abandoned,
                 pg_catalog.sum(st.entered - st.waiting - st.error) as ended
            from (select d.day::timestamp as bucket, d.entered, d.answered, d.answered_in_level, d.abandoned, d.waiting, d.error
                    from public.queue_stats(p_from, p_to) d where p_group = 'day'
                  union all
                  select h.local_start, d.entered, d.answered, d.answered_in_level, d.abandoned, d.waiting, d.error
                    from pg_catalog.generate_series(pg_catalog.date_trunc('hour', p_from at time zone v_off),
                                                    p_to at time zone v_off - interval '1 microsecond', interval '1 hour') h(local_start)
                    cross join lateral public.queue_stats(greatest(h.local_start at time zone v_off, p_from),
                                                          least((h.local_start + interval '1 hour') at time zone v_off, p_to)) d
                   where p_group = 'hour') st
           group by st.bucket) q;
  perform public.history_check_time(v_budget);

  -- By time bucket: every bucket of the range (empty ones too).
  select coalesce(pg_catalog.jsonb_agg(public.history_figures(
           pg_catalog.jsonb_build_object(
             'bucket', case p_group when 'hour' then pg_catalog.to_char(b.local_start, 'YYYY-MM-DD HH24:MI') else pg_catalog.to_char(b.local_start, 'YYYY-MM-DD') end,
             'start', greatest(b.local_start at time zone v_off, p_from),
             'end', least((b.local_start + v_step) at time zone v_off, p_to))
           || coalesce(cl.figures, '{}') || coalesce(tm.figures, '{}') || coalesce(dp.figures, '{}')
           || coalesce(qs.figures, '{"queue_entered": 0, "queue_answered": 0, "queue_answered_in_level": 0, "queue_abandoned": 0, "queue_ended": 0, "queue_service_level": null}'))
         order by b.local_start), '[]'::jsonb)
    into v_buckets
    from pg_catalog.generate_series(pg_catalog.date_trunc(p_group, p_from at time zone v_off),
                                    p_to at time zone v_off - interval '1 microsecond', v_step) b(local_start)
    left join pg_temp.history_rows cl on cl.kind = 'bucket' and cl.bucket = b.local_start
    left join pg_temp.history_rows tm on tm.kind = 'time_bucket' and tm.bucket = b.local_start
    left join pg_temp.history_rows dp on dp.kind = 'disp_bucket' and dp.bucket = b.local_start
    left join pg_temp.history_rows qs on qs.kind = 'queue_bucket' and qs.bucket = b.local_start;

  -- By campaign (calls without a campaign: id null).
  select coalesce(pg_catalog.jsonb_agg(public.history_figures(
           pg_catalog.jsonb_build_object('campaign_id', ids.campaign_id, 'campaign', k.name,
                                         'abandon_cap', k.abandon_cap, 'amd_human_accuracy', k.amd_human_accuracy)
           || coalesce(cl.figures, '{}') || coalesce(tm.figures, '{}') || coalesce(dp.figures, '{}'))
         order by k.name nulls last, ids.campaign_id), '[]'::jsonb)
    into v_campaigns
    from (select distinct r.campaign_id from pg_temp.history_rows r where r.kind in ('campaign', 'time_campaign', 'disp_campaign')) ids
    left join public.campaigns k on k.id = ids.campaign_id
    left join pg_temp.history_rows cl on cl.kind = 'campaign' and cl.campaign_id is not distinct from ids.campaign_id
    left join pg_temp.history_rows tm on tm.kind = 'time_campaign' and tm.campaign_id is not distinct from ids.campaign_id
    left join pg_temp.history_rows dp on dp.kind = 'disp_campaign' and dp.campaign_id is not distinct from ids.campaign_id;

  -- By agent (calls without an agent are left out).
  select coalesce(pg_catalog.jsonb_agg(public.history_figures(
           pg_catalog.jsonb_build_object('agent_id', a.id, 'agent', a.name, 'campaign_id', a.campaign_id)
           || coalesce(cl.figures, '{}') || coalesce(tm.figures, '{}') || coalesce(dp.figures, '{}'))
         order by a.name, a.id), '[]'::jsonb)
    into v_agents
    from (select distinct r.agent_id from pg_temp.history_rows r where r.kind in ('agent', 'time_agent', 'disp_agent') and r.agent_id is not null) ids
    join public.agents a on a.id = ids.agent_id
    left join pg_temp.history_rows cl on cl.kind = 'agent' and cl.agent_id = ids.agent_id
    left join pg_temp.history_rows tm on tm.kind = 'time_agent' and tm.agent_id = ids.agent_id
    left join pg_temp.history_rows dp on dp.kind = 'disp_agent' and dp.agent_id = ids.agent_id;

  -- Dispositions by code, most used first.
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('code', d.code, 'count', d.n,
           'share', pg_catalog.round(d.n::numeric / nullif(d.total, 0), 4)) order by d.n desc, d.code), '[]'::jsonb)
    into v_disp
    from (select r.code, (r.figures->>'dispositions')::bigint as n,
                 pg_catalog.sum((r.figures->>'dispositions')::bigint) over () as total
            from pg_temp.history_rows r where r.kind = 'disp_code') d;

  -- The AMD mix of the whole range.
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('answered_by', m.answered_by, 'count', m.n,
           'share', pg_catalog.round(m.n::numeric / nullif(m.total, 0), 4)) order by m.ord), '[]'::jsonb)
    into v_amd
    from (select v.ord, v.answered_by, coalesce(pg_catalog.sum((r.figures->>('amd_' || v.answered_by))::bigint), 0) as n,
                 coalesce((select pg_catalog.sum((t.figures->>'amd_total')::bigint) from pg_temp.history_rows t where t.kind = 'bucket'), 0) as total
            from (values (1, 'human'), (2, 'machine_start'), (3, 'machine_end_beep'), (4, 'machine_end_silence'),
                         (5, 'machine_end_other'), (6, 'fax'), (7, 'unknown')) v(ord, answered_by)
            left join pg_temp.history_rows r on r.kind = 'bucket'
           group by v.ord, v.answered_by) m;

  -- Service queues over the range: queue_stats' days summed per queue.
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'queue', q.queue_name, 'service_level_seconds', sq.service_level_seconds,
           'entered', q.entered, 'answered', q.answered, 'answered_in_level', q.in_level, 'abandoned', q.abandoned,
           'voicemail', q.voicemail, 'callback', q.callback, 'timeout', q.timeout, 'opted_out', q.opted_out,
           'error', q.error, 'waiting', q.waiting, 'ended', q.ended,
           'service_level', case when q.ended > 0 then pg_catalog.round(q.in_level::numeric / q.ended, 4) end,
           'avg_wait_seconds', q.avg_wait, 'max_wait_seconds', q.max_wait)
         order by q.queue_name), '[]'::jsonb)
    into v_queues
    from (select st.queue_name, pg_catalog.sum(st.entered) as entered, pg_catalog.sum(st.answered) as answered,
                 pg_catalog.sum(st.answered_in_level) as in_level, pg_catalog.sum(st.abandoned) as abandoned,
                 pg_catalog.sum(st.voicemail) as voicemail, pg_catalog.sum(st.callback) as callback,
                 pg_catalog.sum(st.timeout) as timeout, pg_catalog.sum(st.opted_out) as opted_out,
                 pg_catalog.sum(st.error) as error, pg_catalog.sum(st.waiting) as waiting,
                 pg_catalog.sum(st.entered - st.waiting - st.error) as ended,
                 pg_catalog.round(pg_catalog.sum(st.avg_wait_seconds * (st.entered - st.waiting))
                                  / nullif(pg_catalog.sum(st.entered - st.waiting), 0), 1) as avg_wait,
                 pg_catalog.max(st.max_wait_seconds) as max_wait
            from public.queue_stats(p_from, p_to) st
           group by st.queue_name) q
    join public.service_queues sq on sq.name = q.queue_name;

  return pg_catalog.jsonb_build_object(
    'server_time', v_now,
    'from', p_from, 'to', p_to, 'group', p_group, 'timezone', v_tz,
    'campaign_id', p_campaign_id, 'agent_id', p_agent_id,
    'short_call_seconds', p_short_seconds,
    'abandon_cap', v_cap,
    'buckets', v_buckets, 'campaigns', v_campaigns, 'agents', v_agents,
    'dispositions', v_disp, 'amd', v_amd, 'queues', v_queues);
end $$;

-- The figures of one row completed: every count present (0 when nothing happened) and the
-- ratios derived from them (null when their base is 0, except the abandon rates: 0 when there
-- was nothing to abandon, as the board shows them; null when abandons have no live answer in
-- the row, which only a call with abandoned_at but no live_at can cause).
create function public.history_figures(p jsonb)
returns jsonb
language sql immutable set search_path = '' as $$
  with f as (
    select coalesce((p->>'dials')::bigint, 0) as dials, coalesce((p->>'connects')::bigint, 0) as connects,
           coalesce((p->>'ended')::bigint, 0) as ended, coalesce((p->>'short')::bigint, 0) as short,
           coalesce((p->>'live')::bigint, 0) as live, coalesce((p->>'abandoned')::bigint, 0) as abandoned,
           coalesce((p->>'amd_estimate')::numeric, 0) as est,
           coalesce((p->>'talk_seconds')::float8, 0) as talk, coalesce((p->>'staffed_seconds')::float8, 0) as staffed,
           coalesce((p->>'paused_seconds')::float8, 0) as paused)
  select (p - 'amd_estimate') || pg_catalog.jsonb_build_object(
           'dials', f.dials, 'connects', f.connects, 'ended', f.ended, 'short', f.short,
           'short_ratio', case when f.ended > 0 then pg_catalog.round(f.short::numeric / f.ended, 4) end,
           'live', f.live, 'abandoned', f.abandoned,
           'abandon_rate', case when f.live > 0 then pg_catalog.round(f.abandoned::numeric / f.live, 4) when f.abandoned > 0 then null else 0 end,
           'amd_estimated_abandons', pg_catalog.round(f.est, 2),
           'abandon_rate_with_amd', case when f.live > 0 then pg_catalog.round((f.abandoned + f.est) / (f.live + f.est), 4) when f.abandoned > 0 then null else 0 end,
           'amd_total', coalesce((p->>'amd_total')::bigint, 0),
           'amd_human', coalesce((p->>'amd_human')::bigint, 0),
           'amd_machine', coalesce((p->>'amd_machine_start')::bigint, 0) + coalesce((p->>'amd_machine_end_beep')::bigint, 0)
                          + coalesce((p->>'amd_machine_end_silence')::bigint, 0) + coalesce((p->>'amd_machine_end_other')::bigint, 0),
           'amd_machine_start', coalesce((p->>'amd_machine_start')::bigint, 0),
           'amd_machine_end_beep', coalesce((p->>'amd_machine_end_beep')::bigint, 0),
           'amd_machine_end_silence', coalesce((p->>'amd_machine_end_silence')::bigint, 0),
           'amd_machine_end_other', coalesce((p->>'amd_machine_end_other')::bigint, 0),
           'amd_fax', coalesce((p->>'amd_fax')::bigint, 0),
           'amd_unknown', coalesce((p->>'amd_unknown')::bigint, 0),
           'talk_seconds', pg_catalog.round(f.talk::numeric),
           'staffed_seconds', pg_catalog.round(f.staffed::numeric),
           'paused_seconds', pg_catalog.round(f.paused::numeric),
           'talk_minutes_per_agent_hour', case when f.staffed > 0 then pg_catalog.round(((f.talk / 60.0) / (f.staffed / 3600.0))::numeric, 1) end,
           'dispositions', coalesce((p->>'dispositions')::bigint, 0))
    from f
$$;

revoke execute on function public.history_report(text, integer, timestamptz, timestamptz, text, bigint, bigint, integer) from public, anon, authenticated;
revoke execute on function public.history_figures(jsonb) from public, anon, authenticated;
revoke execute on function public.history_check_time(interval) from public, anon, authenticated;
grant execute on function public.history_check_time(interval) to service_role;
grant execute on function public.history_report(text, integer, timestamptz, timestamptz, text, bigint, bigint, integer) to service_role;
grant execute on function public.history_figures(jsonb) to service_role;
