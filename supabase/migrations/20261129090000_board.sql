-- The supervisor's live board (docs/board.md): board_snapshot answers, in one call, the
-- session check and the whole floor as JSON: agents, calls in progress, service queues,
-- campaigns, caller IDs, the Anatel short-call monitor (board_anatel) and the open alerts
-- (board_alerts). Those two are defined here as empty parts and redefined by the migrations
-- that build them, so board_snapshot itself never changes for them.
--
-- "Today" is São Paulo's day, as everywhere else (pacer_snapshot, queue_stats, caller-ID caps).

-- Today's calls per caller ID (short calls, Anatel) and per campaign by AMD result / connect.
create index if not exists calls_caller_id_created_idx on public.calls (caller_id, created_at) where caller_id is not null;
create index if not exists calls_campaign_amd_at_idx on public.calls (campaign_id, amd_at) where amd_at is not null;
create index if not exists calls_campaign_connected_at_idx on public.calls (campaign_id, connected_at) where connected_at is not null;
create index if not exists agent_status_history_agent_ended_idx on public.agent_status_history (agent_id, ended_at) where ended_at is not null;

-- The Anatel short-call monitor (null until it exists), its part of the board, and the open
-- alerts (empty until alerts exist). p_settings carries the thresholds the functions'
-- configuration holds: {short_call_seconds, anatel_daily_calls, anatel_short_percent,
-- anatel_near_percent} (src/lib/domain/anatel.ts, anatelSettings).
create or replace function public.short_call_monitor(p_now timestamptz, p_settings jsonb)
returns jsonb language sql stable set search_path = '' as $$ select 'null'::jsonb $$;
create or replace function public.board_anatel(p_now timestamptz, p_day_start timestamptz, p_settings jsonb)
returns jsonb language sql stable set search_path = '' as $$ select public.short_call_monitor(p_now, p_settings) $$;
create or replace function public.board_alerts(p_now timestamptz)
returns jsonb language sql stable set search_path = '' as $$ select '[]'::jsonb $$;
revoke execute on function public.short_call_monitor(timestamptz, jsonb) from public, anon, authenticated;
revoke execute on function public.board_anatel(timestamptz, timestamptz, jsonb) from public, anon, authenticated;
revoke execute on function public.board_alerts(timestamptz) from public, anon, authenticated;
grant execute on function public.short_call_monitor(timestamptz, jsonb) to service_role;
grant execute on function public.board_anatel(timestamptz, timestamptz, jsonb) to service_role;
grant execute on function public.board_alerts(timestamptz) to service_role;

-- Calls of at most this many seconds are short (brazil.md: answered or not, voicemail
-- included; the threshold is configuration: p_short_seconds).
--
-- Answers null when the session is not live (→ 401), {refused: 'forbidden'} for an agent
-- (→ 403 forbidden_role), else the board.
create function public.board_snapshot(p_session_hash text, p_idle_seconds integer default 1800, p_short_seconds integer default 6,
                                       p_settings jsonb default '{}')
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_session   jsonb := public.auth_session(p_session_hash, p_idle_seconds);
  v_now       timestamptz := public.app_now();
  -- One instant for the whole board (app_now() moves between calls): the Brasília day and
  -- the last hour are taken from it.
  v_day_start timestamptz := pg_catalog.date_trunc('day', v_now at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo';
  v_today     date := (v_now at time zone 'America/Sao_Paulo')::date;
  v_hour_ago  timestamptz := v_now - interval '1 hour';
  v_agents    jsonb;
  v_calls     jsonb;
  v_queues    jsonb;
  v_campaigns jsonb;
  v_numbers   jsonb;
begin
  if v_session is null then
    return null;
  end if;
  if v_session #>> '{user,role}' not in ('supervisor', 'admin') then
    return pg_catalog.jsonb_build_object('refused', 'forbidden');
  end if;

  -- Agents (active ones), with their current call.
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', a.id, 'name', a.name, 'status', a.status,
           'seconds_in_state', greatest(0, pg_catalog.floor(extract(epoch from v_now - a.status_changed_at)))::bigint,
           'pause_reason', a.pause_reason,
           'campaign_id', a.campaign_id, 'campaign', k.name,
           'last_seen_at', a.last_seen_at,
           'call', case when a.current_call_sid is null then null else pg_catalog.jsonb_build_object(
             'call_sid', a.current_call_sid,
             'customer', case when c.direction = 'inbound' then c.from_number else c.to_number end,
             'direction', c.direction) end)
         order by a.name, a.id), '[]'::jsonb)
    into v_agents
    from public.agents a
    left join public.campaigns k on k.id = a.campaign_id
    left join public.calls c on c.call_sid = a.current_call_sid
   where a.is_active;

  -- Calls in progress: not ended, not the agents' own softphone legs; a call still queued
  -- without news after ten minutes is the reconciler's (as in pacer_snapshot).
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'call_sid', c.call_sid, 'direction', c.direction, 'status', c.status,
           'campaign_id', c.campaign_id, 'campaign', k.name,
           'agent_id', coalesce(c.agent_id, h.id), 'agent', coalesce(ag.name, h.name),
           'customer', case when c.direction = 'inbound' then c.from_number else c.to_number end,
           'caller_id', c.caller_id,
           'seconds', greatest(0, pg_catalog.floor(extract(epoch from v_now - coalesce(c.answered_at, c.started_at, c.created_at))))::bigint,
           'recording', exists (select 1 from public.recordings r where r.call_sid = c.call_sid and r.status = 'in-progress'))
         order by c.created_at, c.id), '[]'::jsonb)
    into v_calls
    from public.calls c
    left join public.campaigns k on k.id = c.campaign_id
    left join public.agents ag on ag.id = c.agent_id
    left join lateral (select a.id, a.name from public.agents a where a.current_call_sid = c.call_sid limit 1) h on c.agent_id is null
   where c.status in ('queued', 'initiated', 'ringing', 'in-progress')
     and c.ended_at is null and c.end_reason is null and c.call_sid is not null
     and (c.status = 'in-progress' or c.created_at > v_now - interval '10 minutes')
     and not exists (select 1 from public.agents s where s.shift_call_sid = c.call_sid);

  -- Service queues: waiting now and the longest wait now (open entries), today's figures from
  -- queue_stats (São Paulo's day).
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'name', q.name,
           'waiting', w.waiting,
           'longest_wait_seconds', w.longest,
           'entered_today', coalesce(s.entered, 0),
           'answered_today', coalesce(s.answered, 0),
           'abandoned_today', coalesce(s.abandoned, 0),
           'answered_in_level_today', coalesce(s.answered_in_level, 0),
           'service_level_seconds', q.service_level_seconds,
           'service_level_today', s.service_level)
         order by q.name), '[]'::jsonb)
    into v_queues
    from public.service_queues q
    cross join lateral (select pg_catalog.count(*)::integer as waiting,
                               coalesce(pg_catalog.max(greatest(0, pg_catalog.floor(extract(epoch from v_now - e.entered_at))))::bigint, 0) as longest
                          from public.queue_entries e where e.queue_name = q.name and e.left_at is null) w
    left join lateral (select * from public.queue_stats(v_day_start, v_now + interval '1 millisecond', q.name) st
                        where st.day = v_today) s on true;

  -- Campaigns (all but finished ones).
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', k.id, 'name', k.name, 'mode', k.mode, 'status', k.status,
           'dial_ratio', k.dial_ratio, 'max_lines', k.max_lines,
           'agents_staffed', st.staffed,
           'lines_in_use', ln.lines,
           'dial_level', case when st.staffed > 0 then pg_catalog.round(ln.lines::numeric / st.staffed, 2) end,
           'last_round', lr.round,
           'calls_last_hour', hr.calls, 'connects_last_hour', hr.connects,
           'talk_minutes_per_agent_hour', case when tk.staffed_s > 0 then pg_catalog.round(((tk.talk_s / 60.0) / (tk.staffed_s / 3600.0))::numeric, 1) end,
           'live_today', ab.live, 'abandoned_today', ab.abandoned,
           'abandon_cap', k.abandon_cap,
           'abandon_rate_today', case when ab.live > 0 then pg_catalog.round(ab.abandoned::numeric / ab.live, 4) else 0 end,
           'amd_human_accuracy', k.amd_human_accuracy,
           'amd_estimated_abandons_today', pg_catalog.round(ab.live * (1 - k.amd_human_accuracy) / k.amd_human_accuracy, 2),
           'abandon_rate_with_amd_today', case when ab.live > 0 then pg_catalog.round(
               (ab.abandoned + ab.live * (1 - k.amd_human_accuracy) / k.amd_human_accuracy)
             / (ab.live + ab.live * (1 - k.amd_human_accuracy) / k.amd_human_accuracy), 4) else 0 end,
           'amd_today', amd.mix)
         order by k.name), '[]'::jsonb)
    into v_campaigns
    from public.campaigns k
    cross join lateral (select pg_catalog.count(*)::integer as staffed from public.agents a
                         where a.campaign_id = k.id and a.is_active and a.status <> 'offline') st
    cross join lateral (select pg_catalog.count(*)::integer as lines from public.calls c
                         where c.campaign_id = k.id and c.status in ('queued', 'initiated', 'ringing', 'in-progress')
                           and c.end_reason is null and c.ended_at is null
                           and (c.status = 'in-progress' or c.created_at > v_now - interval '10 minutes')) ln
    cross join lateral (select (select pg_catalog.count(*) from public.calls c
                                 where c.campaign_id = k.id and c.created_at >= v_hour_ago and c.direction = 'outbound-api'
                                   and c.end_reason is distinct from 'twilio_refused' and c.end_reason is distinct from 'never_placed')::integer as calls,
                               (select pg_catalog.count(*) from public.calls c
                                 where c.campaign_id = k.id and c.connected_at >= v_hour_ago)::integer as connects) hr
    cross join lateral (select (select pg_catalog.count(*) from public.calls c
                                 where c.campaign_id = k.id and c.live_at >= v_day_start)::integer as live,
                               (select pg_catalog.count(*) from public.calls c
                                 where c.campaign_id = k.id and c.abandoned_at >= v_day_start)::integer as abandoned) ab
    -- Talk and staffed time in the last hour of the campaign's agents (agent_status_history,
    -- periods clipped to the hour): busy seconds; seconds in any status but offline.
    cross join lateral (select coalesce(pg_catalog.sum(x.s) filter (where x.status = 'busy'), 0)::float8 as talk_s,
                               coalesce(pg_catalog.sum(x.s) filter (where x.status <> 'offline'), 0)::float8 as staffed_s
                          from (select h.status, extract(epoch from least(coalesce(h.ended_at, v_now), v_now) - greatest(h.started_at, v_hour_ago)) as s
                                  from public.agents a
                                  join public.agent_status_history h on h.agent_id = a.id
                                 where a.campaign_id = k.id and h.ended_at > v_hour_ago and h.started_at < v_now
                                union all
                                select h.status, extract(epoch from v_now - greatest(h.started_at, v_hour_ago)) as s
                                  from public.agents a
                                  join public.agent_status_history h on h.agent_id = a.id and h.ended_at is null
                                 where a.campaign_id = k.id and h.started_at < v_now) x
                         where x.s > 0) tk
    cross join lateral (select coalesce(pg_catalog.jsonb_object_agg(m.answered_by, m.n), '{}'::jsonb) as mix
                          from (select coalesce(c.answered_by, 'none') as answered_by, pg_catalog.count(*)::integer as n
                                  from public.calls c
                                 where c.campaign_id = k.id and c.amd_at >= v_day_start
                                 group by 1) m) amd
    left join lateral (select pg_catalog.jsonb_build_object('decided_at', r.decided_at, 'trigger', r.trigger, 'wanted', r.wanted,
                                                            'claimed', r.claimed, 'placed', r.placed, 'reason', r.reason) as round
                         from public.pacer_rounds r where r.campaign_id = k.id order by r.decided_at desc limit 1) lr on true
   where k.status <> 'finished';

  -- Caller IDs (active numbers): today's picks against the daily cap, and today's ended calls
  -- placed from the number, short ones (ended, duration <= p_short_seconds, answered or not).
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'phone_number', n.phone_number,
           'calls_today', case when n.calls_today_date = v_today then n.calls_today else 0 end,
           'daily_cap', n.daily_cap,
           'spam_flagged', n.spam_flagged_at is not null,
           'ended_today', sc.ended, 'short_today', sc.short,
           'short_ratio_today', case when sc.ended > 0 then pg_catalog.round(sc.short::numeric / sc.ended, 4) end)
         order by n.phone_number), '[]'::jsonb)
    into v_numbers
    from public.phone_numbers n
    cross join lateral (select pg_catalog.count(*)::integer as ended,
                               (pg_catalog.count(*) filter (where coalesce(c.duration, 0) <= p_short_seconds))::integer as short
                          from public.calls c
                         where c.caller_id = n.phone_number and c.created_at >= v_day_start
                           and c.status in ('completed', 'no-answer', 'busy', 'failed', 'canceled')
                           -- attempts Twilio never placed are not calls (their pick is given back)
                           and c.call_sid is not null
                           and c.end_reason is distinct from 'twilio_refused' and c.end_reason is distinct from 'never_placed') sc
   where n.is_active;

  return pg_catalog.jsonb_build_object(
    'server_time', v_now,
    'day_start', v_day_start,
    'short_call_seconds', p_short_seconds,
    'agents', v_agents,
    'calls', v_calls,
    'queues', v_queues,
    'campaigns', v_campaigns,
    'caller_ids', v_numbers,
    'anatel', public.board_anatel(v_now, v_day_start, p_settings || pg_catalog.jsonb_build_object('short_call_seconds', p_short_seconds)),
    'alerts', public.board_alerts(v_now));
end $$;

revoke execute on function public.board_snapshot(text, integer, integer, jsonb) from public, anon, authenticated;
grant execute on function public.board_snapshot(text, integer, integer, jsonb) to service_role;
