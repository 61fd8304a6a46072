-- Alert rules fail one by one (docs/alerts.md, "A rule that fails"): each rule of
-- alert_conditions runs in its own block, so an error in one (a row the rule did not expect, a
-- bad setting, a bug) no longer fails the heartbeat's whole round and silences every other
-- alert. The failed rule keeps its open alerts as they are (it is not among the rules
-- `evaluated`, which alone may resolve) and raises an alert of its own, `rule_failed`, about
-- the part that failed, resolved once that part runs again. alert_conditions is otherwise as
-- the alerts migration defined it.

alter table public.alerts drop constraint alerts_rule_check;
alter table public.alerts add constraint alerts_rule_check
  check (rule in ('abandon', 'short_calls', 'queue_wait', 'no_agent', 'caller_id_cap', 'caller_id_spam',
                  'recording_transfers', 'twilio_debugger', 'channel_failing', 'db_unreachable', 'opt_out_not_stored',
                  'voicemail', 'rule_failed'));

-- The conditions that hold now, one row per (rule, subject), as jsonb: {rule, subject,
-- subject_label, severity, title, value, threshold, detail, grace_minutes, step}. `step`: how far
-- the value must move past the last message's to count as worse (null: only a higher severity).
-- Rules skipped (their inputs are missing) or failed are not in `evaluated`; `failed` lists
-- each failed part: {part, rules, error, sqlstate}.
create or replace function public.alert_conditions(p_now timestamptz, p_settings jsonb, p_open_campaigns bigint[])
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_day_start timestamptz := pg_catalog.date_trunc('day', p_now at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo';
  v_today     date := (p_now at time zone 'America/Sao_Paulo')::date;
  v_near      numeric := coalesce((p_settings->>'abandon_near_percent')::numeric, 80) / 100;
  v_min_live  integer := coalesce((p_settings->>'abandon_min_live')::integer, 20);
  v_queue_min numeric := coalesce((p_settings->>'queue_wait_minutes')::numeric, 3);
  v_grace     numeric := coalesce((p_settings->>'no_agent_grace_minutes')::numeric, 5);
  v_tr_n      integer := coalesce((p_settings->>'transfer_failures')::integer, 3);
  v_quiet     numeric := coalesce((p_settings->>'debugger_quiet_minutes')::numeric, 15);
  v_monitor   jsonb;
  v_conds     jsonb := '[]'::jsonb;
  v_part      jsonb;
  v_evaluated text[] := array['abandon', 'queue_wait', 'caller_id_cap', 'caller_id_spam', 'recording_transfers', 'twilio_debugger', 'voicemail'];
  v_voicemail boolean := coalesce((p_settings->>'voicemails')::boolean, false);
  v_failed    jsonb := '[]'::jsonb;
  v_err       text;
  v_state     text;
begin
  begin
    -- Abandon today: the campaign's own abandons (abandoned / live, the board's
    -- abandon_rate_today) against its cap. The rate counted with AMD's estimated hang-ups on
    -- humans (abandon_rate_with_amd_today, docs/board.md) is a x own + (1 - a): it never falls
    -- below 1 - a (4 % at the default a = 0.96, over a 3 % cap before any real abandon), which
    -- no supervisor action changes, so it is shown in the title and detail but does not set the
    -- severity (docs/alerts.md).
    select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'rule', 'abandon', 'subject', 'campaign:' || x.id, 'subject_label', pg_catalog.left(x.name, 200),
             'severity', case when x.rate >= x.cap then 'critical' else 'warning' end,
             'vars', pg_catalog.jsonb_build_object('rate', public.alert_percent(x.rate), 'cap', public.alert_percent(x.cap), 'live', x.live, 'abandoned', x.abandoned,
                       'amd', case when x.est > 0 then public.alert_render(coalesce(p_settings #>> '{texts,labels,abandon_amd}', '; AMD: {rate}'),
                                                                           pg_catalog.jsonb_build_object('rate', public.alert_percent(x.rate_amd)), '') else '' end),
             'value', x.rate, 'threshold', x.cap,
             'detail', pg_catalog.jsonb_build_object('live_today', x.live, 'abandoned_today', x.abandoned,
                         'amd_estimated_abandons_today', pg_catalog.round(x.est, 2), 'abandon_rate_with_amd_today', x.rate_amd,
                         'amd_floor', pg_catalog.round(1 - x.accuracy, 4), 'near_percent', v_near * 100),
             'grace_minutes', 0, 'step', 0.01)), '[]'::jsonb)
      into v_part
      from (select y.*, case when y.live > 0 then pg_catalog.round((y.abandoned + y.est) / (y.live + y.est), 4) else 0 end as rate_amd
              from (select k.id, k.name, k.abandon_cap as cap, k.amd_human_accuracy as accuracy, ab.live, ab.abandoned,
                           ab.live * (1 - k.amd_human_accuracy) / k.amd_human_accuracy as est,
                           case when ab.live > 0 then pg_catalog.round(ab.abandoned::numeric / ab.live, 4) else 0 end as rate
                      from public.campaigns k
                      cross join lateral (select (select pg_catalog.count(*) from public.calls c where c.campaign_id = k.id and c.live_at >= v_day_start and c.live_at <= p_now)::integer as live,
                                                 (select pg_catalog.count(*) from public.calls c where c.campaign_id = k.id and c.abandoned_at >= v_day_start and c.abandoned_at <= p_now)::integer as abandoned) ab
                     where k.status <> 'finished') y) x
     where x.live >= v_min_live and x.rate > 0 and x.rate >= x.cap * v_near;
    v_conds := v_conds || v_part;
  exception when others then
    get stacked diagnostics v_err = message_text, v_state = returned_sqlstate;
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'abandon', 'rules', pg_catalog.to_jsonb(array['abandon']::text[]), 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
    v_evaluated := array(select r from pg_catalog.unnest(v_evaluated) r where r <> all (array['abandon']::text[]));
  end;

  begin
    -- Anatel's short calls: the monitor's projection for the account and each caller ID (skipped
    -- while the monitor answers null).
    v_monitor := public.short_call_monitor(p_now, coalesce(p_settings->'anatel', '{}'::jsonb));
    if v_monitor is not null and pg_catalog.jsonb_typeof(v_monitor) = 'object' then
      v_evaluated := v_evaluated || 'short_calls'::text;
      select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'rule', 'short_calls', 'subject', f.subject, 'subject_label', f.label,
               'severity', case when f.over then 'critical' else 'warning' end,
               'vars', pg_catalog.jsonb_build_object('ratio', coalesce(public.alert_percent(f.ratio), '?'), 'calls', coalesce(f.projected_calls::text, '?'),
                                                     'threshold', coalesce(public.alert_percent(f.threshold), '?'), 'daily', coalesce(v_monitor->>'daily_calls_threshold', '?')),
               'value', f.ratio, 'threshold', f.threshold, 'detail', f.figures,
               'grace_minutes', 0, 'step', null)), '[]'::jsonb)
        into v_part
        from (select s.subject, s.label, s.figures,
                     coalesce((s.figures->>'over')::boolean, false) as over,
                     coalesce((s.figures->>'near')::boolean, false) as near,
                     (s.figures->>'projected_ratio')::numeric as ratio,
                     (s.figures->>'projected_calls')::numeric as projected_calls,
                     (v_monitor->>'short_percent_threshold')::numeric / 100 as threshold
                from (select 'account' as subject, coalesce(p_settings #>> '{texts,labels,account}', 'account') as label, v_monitor->'account' as figures
                       where pg_catalog.jsonb_typeof(v_monitor->'account') = 'object'
                      union all
                      select 'caller_id:' || (c->>'caller_id'), c->>'caller_id', c
                        from pg_catalog.jsonb_array_elements(case when pg_catalog.jsonb_typeof(v_monitor->'caller_ids') = 'array' then v_monitor->'caller_ids' else '[]'::jsonb end) c
                       where c->>'caller_id' is not null) s) f
       where f.over or f.near;
      v_conds := v_conds || v_part;
    end if;
  exception when others then
    get stacked diagnostics v_err = message_text, v_state = returned_sqlstate;
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'short_calls', 'rules', pg_catalog.to_jsonb(array['short_calls']::text[]), 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
    v_evaluated := array(select r from pg_catalog.unnest(v_evaluated) r where r <> all (array['short_calls']::text[]));
  end;

  begin
    -- A customer waiting longer than queue_wait_minutes (open entries whose call has not ended).
    select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'rule', 'queue_wait', 'subject', 'queue:' || q.queue_name, 'subject_label', q.queue_name,
             'severity', case when q.minutes >= 2 * v_queue_min then 'critical' else 'warning' end,
             'vars', pg_catalog.jsonb_build_object('minutes', pg_catalog.floor(q.minutes)::integer, 'limit', v_queue_min, 'waiting', q.waiting),
             'value', pg_catalog.round(q.minutes, 1), 'threshold', v_queue_min,
             'detail', pg_catalog.jsonb_build_object('waiting', q.waiting, 'longest_wait_seconds', pg_catalog.floor(q.minutes * 60)::integer),
             'grace_minutes', 0, 'step', v_queue_min)), '[]'::jsonb)
      into v_part
      from (select e.queue_name, pg_catalog.count(*)::integer as waiting,
                   pg_catalog.max(extract(epoch from p_now - e.entered_at)) / 60 as minutes
              from public.queue_entries e
              left join public.calls c on c.call_sid = e.call_sid
             where e.left_at is null and e.entered_at <= p_now and c.ended_at is null
             group by e.queue_name) q
     where q.minutes >= v_queue_min;
    v_conds := v_conds || v_part;
  exception when others then
    get stacked diagnostics v_err = message_text, v_state = returned_sqlstate;
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'queue_wait', 'rules', pg_catalog.to_jsonb(array['queue_wait']::text[]), 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
    v_evaluated := array(select r from pg_catalog.unnest(v_evaluated) r where r <> all (array['queue_wait']::text[]));
  end;

  begin
    -- No agent working (available, reserved, busy, wrap-up) on a running campaign whose calling
    -- window is open (p_open_campaigns, computed by the functions with the dialer's window rules);
    -- held for no_agent_grace_minutes before it opens. Skipped when the window is unknown.
    if p_open_campaigns is not null then
      v_evaluated := v_evaluated || 'no_agent'::text;
      select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'rule', 'no_agent', 'subject', 'campaign:' || k.id, 'subject_label', k.name,
               'severity', 'critical',
               'vars', pg_catalog.jsonb_build_object('paused', st.paused),
               'value', 0, 'threshold', null,
               'detail', pg_catalog.jsonb_build_object('paused', st.paused),
               'grace_minutes', v_grace, 'step', null)), '[]'::jsonb)
        into v_part
        from public.campaigns k
        cross join lateral (select pg_catalog.count(*) filter (where a.status in ('available', 'reserved', 'busy', 'wrap_up'))::integer as working,
                                   pg_catalog.count(*) filter (where a.status = 'paused')::integer as paused
                              from public.agents a where a.campaign_id = k.id and a.is_active) st
       where k.status = 'active' and k.id = any (p_open_campaigns) and st.working = 0;
      v_conds := v_conds || v_part;
    end if;
  exception when others then
    get stacked diagnostics v_err = message_text, v_state = returned_sqlstate;
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'no_agent', 'rules', pg_catalog.to_jsonb(array['no_agent']::text[]), 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
    v_evaluated := array(select r from pg_catalog.unnest(v_evaluated) r where r <> all (array['no_agent']::text[]));
  end;

  begin
    -- Caller IDs at their daily cap, or flagged as spam.
    select coalesce(pg_catalog.jsonb_agg(x.c), '[]'::jsonb) into v_part
      from (select pg_catalog.jsonb_build_object(
                     'rule', 'caller_id_cap', 'subject', 'caller_id:' || n.phone_number, 'subject_label', n.phone_number,
                     'severity', 'warning',
                     'vars', pg_catalog.jsonb_build_object('calls', n.calls_today, 'cap', n.daily_cap),
                     'value', n.calls_today, 'threshold', n.daily_cap, 'detail', '{}'::jsonb, 'grace_minutes', 0, 'step', null) as c
              from public.phone_numbers n
             where n.is_active and n.calls_today_date = v_today and n.calls_today >= n.daily_cap
            union all
            select pg_catalog.jsonb_build_object(
                     'rule', 'caller_id_spam', 'subject', 'caller_id:' || n.phone_number, 'subject_label', n.phone_number,
                     'severity', 'critical',
                     'vars', '{}'::jsonb,
                     'value', null, 'threshold', null, 'detail', pg_catalog.jsonb_build_object('flagged_at', n.spam_flagged_at),
                     'grace_minutes', 0, 'step', null)
              from public.phone_numbers n
             where n.is_active and n.spam_flagged_at is not null) x;
    v_conds := v_conds || v_part;
  exception when others then
    get stacked diagnostics v_err = message_text, v_state = returned_sqlstate;
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'caller_ids', 'rules', pg_catalog.to_jsonb(array['caller_id_cap', 'caller_id_spam']::text[]), 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
    v_evaluated := array(select r from pg_catalog.unnest(v_evaluated) r where r <> all (array['caller_id_cap', 'caller_id_spam']::text[]));
  end;

  begin
    -- Recording transfers failing in the last 24 hours: given up (failed), or still retrying
    -- after transfer_failures attempts.
    select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'rule', 'recording_transfers', 'subject', 'recordings', 'subject_label', coalesce(p_settings #>> '{texts,labels,recordings}', 'recordings'),
             'severity', case when t.given_up > 0 then 'critical' else 'warning' end,
             'vars', pg_catalog.jsonb_build_object('total', t.total, 'given_up', t.given_up, 'retrying', t.total - t.given_up),
             'value', t.total, 'threshold', v_tr_n,
             'detail', pg_catalog.jsonb_build_object('retrying', t.total - t.given_up, 'given_up', t.given_up, 'last_error', t.last_error),
             'grace_minutes', 0, 'step', v_tr_n)), '[]'::jsonb)
      into v_part
      from (select pg_catalog.count(*)::integer as total,
                   (pg_catalog.count(*) filter (where r.state = 'failed'))::integer as given_up,
                   (pg_catalog.array_agg(pg_catalog.left(r.last_error, 200) order by r.last_error_at desc))[1] as last_error
              from public.recording_transfers r
             where r.last_error_at > p_now - interval '24 hours'
               and (r.state = 'failed' or (r.state not in ('done', 'external') and r.attempts >= v_tr_n))) t
     where t.total > 0;
    v_conds := v_conds || v_part;
  exception when others then
    get stacked diagnostics v_err = message_text, v_state = returned_sqlstate;
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'recording_transfers', 'rules', pg_catalog.to_jsonb(array['recording_transfers']::text[]), 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
    v_evaluated := array(select r from pg_catalog.unnest(v_evaluated) r where r <> all (array['recording_transfers']::text[]));
  end;

  begin
    -- Twilio Debugger events per error code, while one arrived within debugger_quiet_minutes.
    select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'rule', 'twilio_debugger', 'subject', 'debugger:' || d.error_code, 'subject_label', 'Twilio ' || d.error_code,
             'severity', case when d.errors > 0 then 'critical' else 'warning' end,
             'vars', pg_catalog.jsonb_build_object('code', d.error_code, 'count', d.n, 'minutes', v_quiet, 'resource', coalesce(d.resource_sid, '-')),
             'value', d.n, 'threshold', null,
             'detail', pg_catalog.jsonb_build_object('error_code', d.error_code, 'last_event_sid', d.last_sid, 'resource_sid', d.resource_sid,
                         'more_info', 'https://www.twilio.com/docs/api/errors/' || d.error_code),
             'grace_minutes', 0, 'step', 10)), '[]'::jsonb)
      into v_part
      from (select e.error_code, pg_catalog.count(*)::integer as n,
                   (pg_catalog.count(*) filter (where e.level = 'Error'))::integer as errors,
                   (pg_catalog.array_agg(e.sid order by e.received_at desc))[1] as last_sid,
                   (pg_catalog.array_agg(e.resource_sid order by e.received_at desc))[1] as resource_sid
              from public.alert_debugger_events e
             where e.received_at > p_now - pg_catalog.make_interval(secs => v_quiet * 60) and e.received_at <= p_now
             group by e.error_code) d;
    v_conds := v_conds || v_part;
  exception when others then
    get stacked diagnostics v_err = message_text, v_state = returned_sqlstate;
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'twilio_debugger', 'rules', pg_catalog.to_jsonb(array['twilio_debugger']::text[]), 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
    v_evaluated := array(select r from pg_catalog.unnest(v_evaluated) r where r <> all (array['twilio_debugger']::text[]));
  end;

  begin
    -- Voicemails left for an agent or a queue in the last 24 hours that nobody has listened to
    -- yet (recording_access_log), when announced at all (voicemails: ALERT_VOICEMAILS=on).
    if v_voicemail then
      select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'rule', 'voicemail', 'subject', 'voicemail:' || r.recording_sid,
               'subject_label', coalesce(ag.name, r.queue_name, r.recording_sid),
               'severity', 'warning',
               'vars', pg_catalog.jsonb_build_object('from', coalesce(c.from_number, '?'), 'seconds', coalesce(r.duration, 0)),
               'value', r.duration, 'threshold', null,
               'detail', pg_catalog.jsonb_build_object('recording_sid', r.recording_sid, 'agent_id', r.agent_id, 'queue_name', r.queue_name, 'from', c.from_number),
               'grace_minutes', 0, 'step', null)), '[]'::jsonb)
        into v_part
        from public.recordings r
        left join public.agents ag on ag.id = r.agent_id
        left join public.calls c on c.call_sid = r.call_sid
       where r.kind = 'voicemail' and r.status = 'completed' and r.created_at > p_now - interval '24 hours'
         and not exists (select 1 from public.recording_access_log l where l.recording_id = r.id and l.purpose = 'listen' and l.outcome = 'granted');
      v_conds := v_conds || v_part;
    end if;
  exception when others then
    get stacked diagnostics v_err = message_text, v_state = returned_sqlstate;
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'voicemail', 'rules', pg_catalog.to_jsonb(array['voicemail']::text[]), 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
    v_evaluated := array(select r from pg_catalog.unnest(v_evaluated) r where r <> all (array['voicemail']::text[]));
  end;

  -- A rule that failed (a bad row, a setting, a bug) is left out of `evaluated`, so its open
  -- alerts stay as they are instead of resolving, and is itself an alert, resolved once it runs
  -- again: one broken rule never silences the others.
  v_evaluated := v_evaluated || 'rule_failed'::text;
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'rule', 'rule_failed', 'subject', 'rule:' || (f->>'part'),
           'subject_label', coalesce(p_settings #>> array['texts', 'rule_parts', f->>'part'], f->>'part'),
           'severity', 'critical',
           'vars', pg_catalog.jsonb_build_object('error', f->>'error', 'sqlstate', f->>'sqlstate'),
           'value', null, 'threshold', null,
           'detail', pg_catalog.jsonb_build_object('rules', f->'rules', 'error', f->>'error', 'sqlstate', f->>'sqlstate'),
           'grace_minutes', 0, 'step', null)), '[]'::jsonb)
    into v_part
    from pg_catalog.jsonb_array_elements(v_failed) f;
  v_conds := v_conds || v_part;

  return pg_catalog.jsonb_build_object('conditions', v_conds, 'evaluated', pg_catalog.to_jsonb(v_evaluated), 'failed', v_failed);
end $$;
