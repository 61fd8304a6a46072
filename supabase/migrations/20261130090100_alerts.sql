-- Alerts (docs/alerts.md): rules evaluated by the heartbeat (/api/jobs), each alert (rule +
-- subject) opened once, repeated only when it worsens and not within a cool-down, and closed
-- with a "resolved" message; the messages go through an outbox (alert_deliveries) that the
-- functions deliver to Slack and WhatsApp with retries and backoff. The board shows the open
-- ones (board_alerts).
--
-- One round trip per heartbeat does the rules, the transitions and the claim of the due
-- deliveries (alerts_evaluate); a second one records the deliveries' results
-- (alert_deliveries_done). Everything reads the clock through app_now() unless given p_now.

-- One alert: a rule's condition about one subject (a campaign, a queue, a caller ID, the
-- account...). pending: the condition holds but its grace period has not passed (nothing sent,
-- not on the board); open: on the board, messages sent; resolved: the condition cleared.
create table public.alerts (
  id                 bigint generated always as identity primary key,
  rule               text not null check (rule in ('abandon', 'short_calls', 'queue_wait', 'no_agent', 'caller_id_cap', 'caller_id_spam',
                                                   'recording_transfers', 'twilio_debugger', 'channel_failing', 'db_unreachable', 'opt_out_not_stored',
                                                   'voicemail', 'rule_failed')),
  subject            text not null check (length(subject) between 1 and 200),
  -- what a person reads for the subject: the campaign's or queue's name, the number, "a conta"
  subject_label      text not null check (length(subject_label) between 1 and 200),
  status             text not null check (status in ('pending', 'open', 'resolved')),
  severity           text not null check (severity in ('warning', 'critical')),
  -- pt-BR one-liner, as the board shows it and the messages carry it
  title              text not null check (length(title) between 1 and 500),
  value              numeric,
  threshold          numeric,
  detail             jsonb not null default '{}'::jsonb check (pg_catalog.jsonb_typeof(detail) = 'object'),
  first_seen_at      timestamptz not null,
  opened_at          timestamptz,
  resolved_at        timestamptz,
  -- the last message sent about it (opened or worse; resolved also sets last_sent_at)
  last_sent_at       timestamptz,
  last_sent_severity text check (last_sent_severity in ('warning', 'critical')),
  last_sent_value    numeric,
  notifications      integer not null default 0 check (notifications >= 0),
  updated_at         timestamptz not null,
  check ((status = 'open') = (opened_at is not null and resolved_at is null) or status <> 'open'),
  check ((status = 'resolved') = (resolved_at is not null))
);
alter table public.alerts enable row level security;
comment on table public.alerts is 'Alerts: one row per rule + subject episode (pending → open → resolved). docs/alerts.md.';
-- At most one live episode per rule and subject: the deduplication.
create unique index alerts_live_uq on public.alerts (rule, subject) where status <> 'resolved';
create index alerts_open_idx on public.alerts (opened_at desc) where status = 'open';
create index alerts_rule_subject_sent_idx on public.alerts (rule, subject, last_sent_at desc);

-- The outbox: one row per message and channel, retried with backoff until sent or given up.
create table public.alert_deliveries (
  id              bigint generated always as identity primary key,
  alert_id        bigint not null references public.alerts (id) on delete cascade,
  kind            text not null check (kind in ('opened', 'worse', 'resolved')),
  channel         text not null check (channel in ('slack', 'whatsapp', 'sms')),
  -- what to say, frozen when enqueued: {alert_id, rule, subject, subject_label, severity, title,
  -- value, threshold, detail, kind, at, opened_at}
  message         jsonb not null check (pg_catalog.jsonb_typeof(message) = 'object'),
  status          text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
  attempts        integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null,
  claimed_until   timestamptz,
  last_error      text check (length(last_error) <= 1000),
  created_at      timestamptz not null,
  sent_at         timestamptz,
  -- Twilio's Message SID (WhatsApp, SMS): Twilio accepting a message is not its delivery
  -- (63016 outside the 24-hour window, template errors arrive later on the message's status),
  -- so the next heartbeats fetch it until delivered or failed (confirmed_at).
  message_sid     text check (message_sid ~ '^(SM|MM)[0-9a-fA-F]{32}$'),
  confirmed_at    timestamptz
);
alter table public.alert_deliveries enable row level security;
comment on table public.alert_deliveries is 'Alert messages to send (Slack, WhatsApp/SMS): retried with backoff, then given up and reported. docs/alerts.md.';
create index alert_deliveries_due_idx on public.alert_deliveries (next_attempt_at, id) where status = 'pending';
create index alert_deliveries_alert_idx on public.alert_deliveries (alert_id);
create index alert_deliveries_unconfirmed_idx on public.alert_deliveries (sent_at) where status = 'sent' and message_sid is not null and confirmed_at is null;

-- Twilio Debugger events received by /webhooks/debugger (Sid: a repeated POST counts once).
create table public.alert_debugger_events (
  sid          text primary key check (sid ~ '^[A-Z]{2}[0-9a-fA-F]{32}$'),
  account_sid  text not null check (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
  level        text not null check (level in ('Error', 'Warning')),
  error_code   text not null check (error_code ~ '^[0-9]{1,6}$'),
  resource_sid text check (length(resource_sid) <= 64),
  occurred_at  timestamptz,
  received_at  timestamptz not null,
  payload      jsonb not null check (pg_catalog.jsonb_typeof(payload) = 'object')
);
alter table public.alert_debugger_events enable row level security;
create index alert_debugger_events_code_idx on public.alert_debugger_events (error_code, received_at desc);
create index alert_debugger_events_received_idx on public.alert_debugger_events (received_at desc);

-- LGPD (docs/recordings-access.md): alerts quote customers' numbers (a voicemail's caller in
-- the title and detail, frozen again in the outbox's messages; a Debugger event's payload
-- carries the failing webhook's parameters). Those mentions are exported and, on erasure,
-- replaced by "erased"; the rows stay (the alert history and the delivery log).
insert into public.lgpd_sources (name, position, note, select_sql, erase_sql) values
('alerts', 84,
 'Alerts whose title, label or detail mention the phone (a voicemail''s caller): exported; on erasure the mentions are replaced, the alert kept.',
 $q$select pg_catalog.to_jsonb(a) from public.alerts a where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace((a.title || ' ' || a.subject_label || ' ' || a.detail::text), ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then (a.title || ' ' || a.subject_label || ' ' || a.detail::text) ~ $3 else false end)$q$,
 $q$update public.alerts a
       set title = pg_catalog.regexp_replace(a.title, $3, 'erased', 'g'),
           subject_label = pg_catalog.regexp_replace(a.subject_label, $3, 'erased', 'g'),
           detail = public.lgpd_scrub(a.detail, $3)
     where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace((a.title || ' ' || a.subject_label || ' ' || a.detail::text), ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then (a.title || ' ' || a.subject_label || ' ' || a.detail::text) ~ $3 else false end)$q$),
('alert_deliveries', 85,
 'Alert messages (sent, pending or given up) that mention the phone: exported; on erasure the mentions are replaced, the delivery log kept.',
 $q$select pg_catalog.to_jsonb(d) from public.alert_deliveries d where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(d.message::text, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then d.message::text ~ $3 else false end)$q$,
 $q$update public.alert_deliveries d set message = public.lgpd_scrub(d.message, $3) where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(d.message::text, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then d.message::text ~ $3 else false end)$q$),
('alert_debugger_events', 86,
 'Twilio Debugger events whose payload mentions the phone (the failing webhook''s From/To): exported; on erasure the mentions are replaced, the event kept (error code, resource, time).',
 $q$select pg_catalog.to_jsonb(e) from public.alert_debugger_events e where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(e.payload::text, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then e.payload::text ~ $3 else false end)$q$,
 $q$update public.alert_debugger_events e set payload = public.lgpd_scrub(e.payload, $3) where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(e.payload::text, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then e.payload::text ~ $3 else false end)$q$);

-- 0.034 → '3,4%'
create function public.alert_percent(p numeric) returns text
language sql immutable set search_path = '' as $$
  select pg_catalog.replace(pg_catalog.round(p * 100, 1)::text, '.', ',') || '%'
$$;

-- Fills a text template's {name} placeholders from p_vars. The templates (pt-BR) are the
-- functions' (src/lib/domain/alerts/texts.ts), passed in p_settings.texts, so what people read
-- lives in one place and no SQL body holds it.
create function public.alert_render(p_template text, p_vars jsonb, p_fallback text) returns text
language plpgsql immutable set search_path = '' as $$
declare
  v text := p_template;
  e record;
begin
  if v is null or v = '' then
    return p_fallback;
  end if;
  for e in select key, value from pg_catalog.jsonb_each_text(coalesce(p_vars, '{}'::jsonb)) loop
    v := pg_catalog.replace(v, '{' || e.key || '}', coalesce(e.value, ''));
  end loop;
  return pg_catalog.left(v, 500);
end $$;

create function public.alert_severity_rank(p text) returns integer
language sql immutable set search_path = '' as $$ select case p when 'critical' then 2 when 'warning' then 1 else 0 end $$;

-- Queues one message about p_alert on each channel of p_channels and records it as sent.
create function public.alert_enqueue(p_alert_id bigint, p_kind text, p_channels text[], p_now timestamptz)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  a public.alerts;
  n integer;
begin
  select * into a from public.alerts where id = p_alert_id;
  insert into public.alert_deliveries (alert_id, kind, channel, message, next_attempt_at, created_at)
  select a.id, p_kind, ch,
         pg_catalog.jsonb_build_object('alert_id', a.id, 'rule', a.rule, 'subject', a.subject, 'subject_label', a.subject_label,
           'severity', a.severity, 'title', a.title, 'value', a.value, 'threshold', a.threshold, 'detail', a.detail,
           'kind', p_kind, 'at', p_now, 'opened_at', coalesce(a.opened_at, p_now)),
         p_now, p_now
    from pg_catalog.unnest(coalesce(p_channels, '{}'::text[])) ch;
  get diagnostics n = row_count;
  update public.alerts
     set last_sent_at = p_now, last_sent_severity = a.severity, last_sent_value = a.value,
         notifications = notifications + 1, updated_at = p_now
   where id = a.id;
  return n;
end $$;

-- The conditions that hold now, one row per (rule, subject), as jsonb: {rule, subject,
-- subject_label, severity, title, value, threshold, detail, grace_minutes, step}. `step`: how far
-- the value must move past the last message's to count as worse (null: only a higher severity).
-- Each part runs in its own block, so an error in one (a bug, a row or a setting it did not
-- expect) never fails the round and silences the others: the part becomes a `rule_failed`
-- condition. Rules skipped (their inputs are missing) or failed are not in `evaluated` (their
-- open alerts stay as they are); `failed` lists each failed part: {part, rules, error, sqlstate}.
create function public.alert_conditions(p_now timestamptz, p_settings jsonb, p_open_campaigns bigint[])
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
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'abandon', 'rules', '["abandon"]'::jsonb, 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
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
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'short_calls', 'rules', '["short_calls"]'::jsonb, 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
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
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'queue_wait', 'rules', '["queue_wait"]'::jsonb, 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
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
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'no_agent', 'rules', '["no_agent"]'::jsonb, 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
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
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'caller_ids', 'rules', '["caller_id_cap", "caller_id_spam"]'::jsonb, 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
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
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'recording_transfers', 'rules', '["recording_transfers"]'::jsonb, 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
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
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'twilio_debugger', 'rules', '["twilio_debugger"]'::jsonb, 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
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
    v_failed := v_failed || pg_catalog.jsonb_build_object('part', 'voicemail', 'rules', '["voicemail"]'::jsonb, 'error', pg_catalog.left(v_err, 200), 'sqlstate', v_state);
  end;

  -- A rule that failed (a bad row, a setting, a bug) is left out of `evaluated`, so its open
  -- alerts stay as they are instead of resolving, and is itself an alert, resolved once it runs
  -- again: one broken rule never silences the others.
  v_evaluated := array(select r from pg_catalog.unnest(v_evaluated) r
                        where r not in (select pg_catalog.jsonb_array_elements_text(f->'rules') from pg_catalog.jsonb_array_elements(v_failed) f))
                 || 'rule_failed'::text;
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

-- The heartbeat's alert round, in one call: evaluates every rule (alert_conditions), applies
-- the transitions (open once; a message again only when worse and past the cool-down;
-- resolved when the condition cleared), queues the messages on p_channels, and claims up to
-- p_claim_limit due deliveries (for p_lease_seconds) for the caller to send.
-- p_settings (src/lib/domain/alerts/settings.ts): {cooldown_minutes, abandon_near_percent,
-- abandon_min_live, queue_wait_minutes, no_agent_grace_minutes, transfer_failures,
-- debugger_quiet_minutes, anatel: {...}}.
-- Answers {opened: [ids], worse: [ids], resolved: [ids], open: n, deliveries: [claimed rows]}.
create function public.alerts_evaluate(p_now timestamptz, p_settings jsonb, p_open_campaigns bigint[], p_channels text[],
                                       p_claim_limit integer default 20, p_lease_seconds integer default 30)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_now      timestamptz := coalesce(p_now, public.app_now());
  v_cooldown interval := pg_catalog.make_interval(secs => coalesce((p_settings->>'cooldown_minutes')::numeric, 30) * 60);
  v_res      jsonb;
  v_seen     text[] := '{}';
  c          record;
  a          public.alerts;
  v_recent   timestamptz;
  v_opened   bigint[] := '{}';
  v_worse    bigint[] := '{}';
  v_resolved bigint[] := '{}';
  v_claimed  jsonb;
  v_is_worse boolean;
  v_title    text;
begin
  if p_settings is null or pg_catalog.jsonb_typeof(p_settings) <> 'object' then
    raise exception 'p_settings must be a JSON object' using errcode = '22023';
  end if;
  -- One evaluation at a time (two heartbeats at once would both open the same alert).
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('discador.alerts_evaluate'));
  v_res := public.alert_conditions(v_now, p_settings, p_open_campaigns);

  for c in select * from pg_catalog.jsonb_to_recordset(v_res->'conditions')
             as x(rule text, subject text, subject_label text, severity text, vars jsonb, value numeric, threshold numeric,
                  detail jsonb, grace_minutes numeric, step numeric)
  loop
    -- Names come from rows without a length limit (agents, queues): one too long or empty
    -- must not fail the whole evaluation (every rule runs in this one transaction).
    c.subject := pg_catalog.left(c.subject, 200);
    c.subject_label := pg_catalog.left(coalesce(nullif(c.subject_label, ''), c.subject), 200);
    v_title := public.alert_render(p_settings #>> array['texts', c.rule, c.severity], coalesce(c.vars, '{}'::jsonb) || pg_catalog.jsonb_build_object('label', c.subject_label),
                                   c.rule || ': ' || c.subject_label);
    v_seen := v_seen || (c.rule || '|' || c.subject);
    select * into a from public.alerts where rule = c.rule and subject = c.subject and status <> 'resolved' for update;
    if not found then
      insert into public.alerts (rule, subject, subject_label, status, severity, title, value, threshold, detail, first_seen_at, updated_at)
      values (c.rule, c.subject, c.subject_label, 'pending', c.severity, v_title, c.value, c.threshold, coalesce(c.detail, '{}'::jsonb), v_now, v_now)
      returning * into a;
    else
      update public.alerts set subject_label = c.subject_label, severity = c.severity, title = v_title, value = c.value,
                               threshold = c.threshold, detail = coalesce(c.detail, '{}'::jsonb), updated_at = v_now
       where id = a.id returning * into a;
    end if;

    if a.status = 'pending' and v_now - a.first_seen_at >= pg_catalog.make_interval(secs => coalesce(c.grace_minutes, 0) * 60) then
      update public.alerts set status = 'open', opened_at = v_now where id = a.id returning * into a;
      v_opened := v_opened || a.id;
    end if;
    continue when a.status <> 'open';

    if a.last_sent_at is null then
      -- Not announced yet: at once, unless the same rule and subject sent a message within the
      -- cool-down (a condition flapping): then once the cool-down has passed.
      select pg_catalog.max(x.last_sent_at) into v_recent from public.alerts x
       where x.rule = a.rule and x.subject = a.subject and x.id <> a.id;
      if v_recent is null or v_now - v_recent >= v_cooldown then
        perform public.alert_enqueue(a.id, 'opened', p_channels, v_now);
      end if;
    else
      -- A higher severity than last announced goes out at once; a value step at the same
      -- severity waits for the cool-down (it is what repeats while a condition drifts).
      v_is_worse := public.alert_severity_rank(a.severity) > public.alert_severity_rank(a.last_sent_severity)
                    or (c.step is not null and a.value is not null and a.last_sent_value is not null and a.value >= a.last_sent_value + c.step
                        and v_now - a.last_sent_at >= v_cooldown);
      if v_is_worse then
        perform public.alert_enqueue(a.id, 'worse', p_channels, v_now);
        v_worse := v_worse || a.id;
      end if;
    end if;
  end loop;

  -- Conditions that cleared (only for the rules evaluated now): resolved; a "resolved" message
  -- when the alert was announced.
  for a in select * from public.alerts x
            where x.status <> 'resolved'
              and x.rule in (select pg_catalog.jsonb_array_elements_text(v_res->'evaluated'))
              and not ((x.rule || '|' || x.subject) = any (v_seen))
            for update
  loop
    update public.alerts set status = 'resolved', resolved_at = v_now, updated_at = v_now where id = a.id;
    if a.status = 'open' then
      v_resolved := v_resolved || a.id;
      if a.last_sent_at is not null then
        perform public.alert_deliveries_supersede(a.id, v_now);
        perform public.alert_enqueue(a.id, 'resolved', p_channels, v_now);
      end if;
    end if;
  end loop;

  -- A channel no longer configured: its pending messages are dropped (not given up, so no
  -- failure report) and its failure report closes without a message.
  update public.alert_deliveries set status = 'failed', claimed_until = null, last_error = 'channel_removed'
   where status = 'pending' and not (channel = any (p_channels));
  update public.alerts set status = 'resolved', resolved_at = v_now, updated_at = v_now
   where rule = 'channel_failing' and status <> 'resolved'
     and not (pg_catalog.substr(subject, 9) = any (p_channels));

  v_claimed := public.alert_deliveries_claim(v_now, p_claim_limit, p_lease_seconds);
  return pg_catalog.jsonb_build_object(
    -- Twilio messages sent in the last hour whose final status is not known yet (to fetch).
    'unconfirmed', (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', u.id, 'channel', u.channel, 'message_sid', u.message_sid) order by u.id), '[]'::jsonb)
                      from (select d.id, d.channel, d.message_sid from public.alert_deliveries d
                             where d.status = 'sent' and d.message_sid is not null and d.confirmed_at is null
                               and d.sent_at >= v_now - interval '1 hour'
                             order by d.sent_at limit 20) u),
    'opened', pg_catalog.to_jsonb(v_opened), 'worse', pg_catalog.to_jsonb(v_worse), 'resolved', pg_catalog.to_jsonb(v_resolved),
    'open', (select pg_catalog.count(*) from public.alerts where status = 'open'),
    'deliveries', v_claimed);
end $$;

-- An alert resolved before its opened/worse messages went out: those are dropped (the
-- resolved message carries the title) so that no channel hears "opened" after "resolved".
-- A row leased by a run in progress stays (that run is sending it now).
create function public.alert_deliveries_supersede(p_alert_id bigint, p_now timestamptz)
returns void
language sql
set search_path = ''
as $$
  update public.alert_deliveries set status = 'failed', last_error = 'superseded'
   where alert_id = p_alert_id and status = 'pending' and kind in ('opened', 'worse')
     and (claimed_until is null or claimed_until < p_now)
$$;

-- Claims the due deliveries (pending, next attempt reached, not leased by another run).
create function public.alert_deliveries_claim(p_now timestamptz, p_limit integer, p_lease_seconds integer)
returns jsonb
language sql
set search_path = ''
as $$
  with due as (
    select d.id from public.alert_deliveries d
     where d.status = 'pending' and d.next_attempt_at <= p_now and (d.claimed_until is null or d.claimed_until < p_now)
       -- one alert's messages on one channel go out in order: an earlier one still pending
       -- (due later, or claimed by another run) holds the next back
       and not exists (select 1 from public.alert_deliveries e
                        where e.alert_id = d.alert_id and e.channel = d.channel and e.status = 'pending' and e.id < d.id)
     order by d.next_attempt_at, d.id
     limit greatest(0, least(p_limit, 100))
     for update skip locked),
  claimed as (
    update public.alert_deliveries d
       set claimed_until = p_now + pg_catalog.make_interval(secs => greatest(1, p_lease_seconds)), attempts = d.attempts + 1
      from due where d.id = due.id
    returning d.id, d.alert_id, d.kind, d.channel, d.message, d.attempts)
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', c.id, 'alert_id', c.alert_id, 'kind', c.kind, 'channel', c.channel,
                                                                      'message', c.message, 'attempt', c.attempts) order by c.id), '[]'::jsonb)
    from claimed c
$$;

-- Opens (or keeps open) the alert about a failing channel, announced on the other channels.
create function public.alert_channel_failing(p_channel text, p_error text, p_channels text[], p_settings jsonb, p_now timestamptz)
returns void
language plpgsql
set search_path = ''
as $$
declare
  a public.alerts;
  v_label text := coalesce(p_settings #>> array['texts', 'labels', p_channel], p_channel);
  v_count integer;
  v_error text := pg_catalog.left(coalesce(p_error, '?'), 120);
begin
  select * into a from public.alerts where rule = 'channel_failing' and subject = 'channel:' || p_channel and status <> 'resolved' for update;
  v_count := coalesce(a.value, 0)::integer + 1;
  if found then
    update public.alerts
       set value = v_count, updated_at = p_now,
           title = public.alert_render(p_settings #>> '{texts,channel_failing,critical}',
                                       pg_catalog.jsonb_build_object('label', v_label, 'count', v_count, 'error', v_error), 'channel_failing: ' || v_label),
           detail = pg_catalog.jsonb_build_object('last_error', pg_catalog.left(p_error, 500))
     where id = a.id;
    return;
  end if;
  insert into public.alerts (rule, subject, subject_label, status, severity, title, value, threshold, detail, first_seen_at, opened_at, updated_at)
  values ('channel_failing', 'channel:' || p_channel, v_label, 'open', 'critical',
          public.alert_render(p_settings #>> '{texts,channel_failing,critical}',
                              pg_catalog.jsonb_build_object('label', v_label, 'count', 1, 'error', v_error), 'channel_failing: ' || v_label),
          1, null, pg_catalog.jsonb_build_object('last_error', pg_catalog.left(p_error, 500)), p_now, p_now, p_now)
  returning * into a;
  perform public.alert_enqueue(a.id, 'opened', pg_catalog.array_remove(p_channels, p_channel), p_now);
end $$;

-- Records what the caller did with the claimed deliveries: p_results [{id, ok, error?,
-- retry_after_seconds?}]. A failure is retried after retry_seconds · 2^(attempt−1) (at most 10
-- minutes; Slack's Retry-After when longer) until delivery_attempts, then given up and reported
-- (alert channel_failing, on the other channels). A success closes that report.
create function public.alert_deliveries_done(p_results jsonb, p_settings jsonb, p_channels text[], p_now timestamptz default null)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_now     timestamptz := coalesce(p_now, public.app_now());
  v_max     integer := coalesce((p_settings->>'delivery_attempts')::integer, 5);
  v_base    numeric := coalesce((p_settings->>'retry_seconds')::numeric, 10);
  r         record;
  d         public.alert_deliveries;
  a         public.alerts;
  v_sent    integer := 0;
  v_retry   integer := 0;
  v_failed  integer := 0;
begin
  if p_results is null or pg_catalog.jsonb_typeof(p_results) <> 'array' then
    raise exception 'p_results must be a JSON array' using errcode = '22023';
  end if;
  -- The evaluation's lock: the failure reports it opens or closes are alerts too (two runs
  -- reporting the same channel would both insert one).
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('discador.alerts_evaluate'));
  for r in select * from pg_catalog.jsonb_to_recordset(p_results)
                    as x(id bigint, ok boolean, error text, retry_after_seconds numeric, message_sid text, checked text) loop
    if r.checked is not null then
      -- A sent Twilio message's status, fetched later: delivered (or read) confirms it; failed
      -- or undelivered turns it back into a failed attempt (below); anything else: not yet.
      select * into d from public.alert_deliveries where id = r.id and status = 'sent' and confirmed_at is null for update;
      continue when not found;
      if r.checked in ('delivered', 'read') then
        update public.alert_deliveries set confirmed_at = v_now where id = d.id;
        continue;
      end if;
      continue when r.checked not in ('failed', 'undelivered');
      update public.alert_deliveries set status = 'pending', sent_at = null, message_sid = null where id = d.id returning * into d;
      r.ok := false;
    else
      select * into d from public.alert_deliveries where id = r.id and status = 'pending' for update;
      continue when not found;
    end if;
    if r.ok then
      update public.alert_deliveries set status = 'sent', sent_at = v_now, claimed_until = null, last_error = null, message_sid = r.message_sid where id = d.id;
      v_sent := v_sent + 1;
      -- The channel works again: its failure report is over.
      for a in select * from public.alerts where rule = 'channel_failing' and subject = 'channel:' || d.channel and status = 'open' for update loop
        update public.alerts set status = 'resolved', resolved_at = v_now, updated_at = v_now where id = a.id;
        perform public.alert_enqueue(a.id, 'resolved', p_channels, v_now);
      end loop;
    elsif d.attempts >= v_max then
      update public.alert_deliveries set status = 'failed', claimed_until = null, last_error = pg_catalog.left(coalesce(r.error, 'unknown error'), 1000) where id = d.id;
      v_failed := v_failed + 1;
      perform public.alert_channel_failing(d.channel, r.error, p_channels, p_settings, v_now);
    else
      update public.alert_deliveries
         set claimed_until = null, last_error = pg_catalog.left(coalesce(r.error, 'unknown error'), 1000),
             next_attempt_at = v_now + pg_catalog.make_interval(secs => greatest(least(600, v_base * pg_catalog.power(2, greatest(d.attempts - 1, 0))),
                                                                          least(3600, coalesce(r.retry_after_seconds, 0))))
       where id = d.id;
      v_retry := v_retry + 1;
    end if;
  end loop;
  return pg_catalog.jsonb_build_object('sent', v_sent, 'retrying', v_retry, 'given_up', v_failed);
end $$;

-- A Twilio Debugger event (POSTed to /webhooks/debugger): stored once per Sid; the next
-- heartbeat's evaluation opens or worsens the alert of its error code. Answers {recorded}.
create function public.alert_debugger_event(p_sid text, p_account_sid text, p_level text, p_error_code text, p_resource_sid text,
                                            p_occurred_at timestamptz, p_payload jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  n integer;
begin
  insert into public.alert_debugger_events (sid, account_sid, level, error_code, resource_sid, occurred_at, received_at, payload)
  values (p_sid, p_account_sid, p_level, p_error_code, p_resource_sid, p_occurred_at, public.app_now(), coalesce(p_payload, '{}'::jsonb))
  on conflict (sid) do nothing;
  get diagnostics n = row_count;
  return pg_catalog.jsonb_build_object('recorded', n = 1);
end $$;

-- The functions could not reach the database from p_since until p_until (they alerted on
-- their own, outside the database): recorded once per outage (several instances report the
-- same one: an outage overlapping one already recorded is not recorded again) as a resolved
-- alert, with its "resolved" message queued. Answers {recorded, alert_id}.
create function public.alert_db_outage(p_since timestamptz, p_until timestamptz, p_channels text[], p_settings jsonb, p_announced boolean default true)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  a public.alerts;
  v_now timestamptz := public.app_now();
begin
  if p_since is null or p_until is null or p_since > p_until then
    raise exception 'p_since must be a time before p_until' using errcode = '22023';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('discador.alert_db_outage'));
  select * into a from public.alerts x where x.rule = 'db_unreachable' and x.opened_at <= p_until + interval '1 minute'
                                        and coalesce(x.resolved_at, 'infinity') >= p_since - interval '1 minute'
   order by x.id desc limit 1 for update;
  if found then
    -- Already recorded by another instance; when only this one announced it, its resolved
    -- message is still owed.
    if p_announced and a.last_sent_at is null then
      update public.alerts set last_sent_at = p_since, last_sent_severity = 'critical', notifications = 1, updated_at = v_now where id = a.id;
      perform public.alert_enqueue(a.id, 'resolved', p_channels, v_now);
      return pg_catalog.jsonb_build_object('recorded', false, 'alert_id', a.id, 'resolved_message', true);
    end if;
    return pg_catalog.jsonb_build_object('recorded', false);
  end if;
  insert into public.alerts (rule, subject, subject_label, status, severity, title, value, threshold, detail, first_seen_at, opened_at,
                             last_sent_at, last_sent_severity, notifications, updated_at, resolved_at)
  values ('db_unreachable', 'database', coalesce(p_settings #>> '{texts,labels,database}', 'database'), 'resolved', 'critical',
          public.alert_render(p_settings #>> '{texts,db_unreachable,critical}',
                              pg_catalog.jsonb_build_object('minutes', greatest(1, pg_catalog.ceil(extract(epoch from p_until - p_since) / 60))::integer),
                              'db_unreachable'),
          pg_catalog.round((extract(epoch from p_until - p_since))::numeric, 0), null,
          pg_catalog.jsonb_build_object('since', p_since, 'until', p_until), p_since, p_since,
          case when p_announced then p_since end, case when p_announced then 'critical' end, case when p_announced then 1 else 0 end, v_now, p_until)
  returning * into a;
  if p_announced then
    perform public.alert_enqueue(a.id, 'resolved', p_channels, v_now);
  end if;
  return pg_catalog.jsonb_build_object('recorded', true, 'alert_id', a.id);
end $$;

-- The board's open alerts (BoardAlert, src/lib/domain/board.ts), newest first.
create or replace function public.board_alerts(p_now timestamptz)
returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', a.id, 'rule', a.rule, 'subject', a.subject, 'subject_label', a.subject_label,
           'severity', a.severity, 'title', a.title, 'value', a.value, 'threshold', a.threshold,
           'opened_at', a.opened_at, 'last_sent_at', a.last_sent_at, 'notifications', a.notifications,
           'seconds_open', greatest(0, pg_catalog.floor(extract(epoch from p_now - a.opened_at)))::bigint,
           'detail', a.detail)
         order by a.opened_at desc, a.id desc), '[]'::jsonb)
    from public.alerts a
   where a.status = 'open'
$$;

-- What the heartbeat needs to know which running campaigns' calling windows are open now
-- (the functions apply the dialer's window rules, src/lib/domain/calling-window.ts): each
-- active campaign's window columns and the admin-closed dates around today.
create function public.alert_campaign_windows()
returns jsonb
language sql stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'now_ms', (extract(epoch from public.app_now()) * 1000)::bigint,
    'campaigns', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
        'id', k.id, 'window_profile', k.window_profile, 'weekday_start', k.weekday_start, 'weekday_end', k.weekday_end,
        'saturday_start', k.saturday_start, 'saturday_end', k.saturday_end, 'allow_sunday', k.allow_sunday,
        'sunday_start', k.sunday_start, 'sunday_end', k.sunday_end, 'skip_holidays', k.skip_holidays,
        'holidays', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('day', h.day, 'uf', h.uf) order by h.day, h.uf)
                                from public.calling_holidays h
                               where (h.campaign_id = k.id or h.campaign_id is null)
                                 and h.day between (public.app_now() at time zone 'America/Sao_Paulo')::date - 1
                                               and (public.app_now() at time zone 'America/Sao_Paulo')::date + 1), '[]'::jsonb))
        order by k.id)
      from public.campaigns k where k.status = 'active'), '[]'::jsonb))
$$;

revoke execute on function public.alert_percent(numeric) from public, anon, authenticated;
revoke execute on function public.alert_render(text, jsonb, text) from public, anon, authenticated;
revoke execute on function public.alert_severity_rank(text) from public, anon, authenticated;
revoke execute on function public.alert_enqueue(bigint, text, text[], timestamptz) from public, anon, authenticated;
revoke execute on function public.alert_conditions(timestamptz, jsonb, bigint[]) from public, anon, authenticated;
revoke execute on function public.alerts_evaluate(timestamptz, jsonb, bigint[], text[], integer, integer) from public, anon, authenticated;
revoke execute on function public.alert_deliveries_claim(timestamptz, integer, integer) from public, anon, authenticated;
revoke execute on function public.alert_deliveries_supersede(bigint, timestamptz) from public, anon, authenticated;
revoke execute on function public.alert_channel_failing(text, text, text[], jsonb, timestamptz) from public, anon, authenticated;
revoke execute on function public.alert_deliveries_done(jsonb, jsonb, text[], timestamptz) from public, anon, authenticated;
revoke execute on function public.alert_debugger_event(text, text, text, text, text, timestamptz, jsonb) from public, anon, authenticated;
revoke execute on function public.alert_db_outage(timestamptz, timestamptz, text[], jsonb, boolean) from public, anon, authenticated;
revoke execute on function public.alert_campaign_windows() from public, anon, authenticated;
grant execute on function public.alerts_evaluate(timestamptz, jsonb, bigint[], text[], integer, integer) to service_role;
grant execute on function public.alert_deliveries_done(jsonb, jsonb, text[], timestamptz) to service_role;
grant execute on function public.alert_debugger_event(text, text, text, text, text, timestamptz, jsonb) to service_role;
grant execute on function public.alert_db_outage(timestamptz, timestamptz, text[], jsonb, boolean) to service_role;
grant execute on function public.alert_campaign_windows() to service_role;
grant execute on function public.alert_percent(numeric) to service_role;
grant execute on function public.alert_render(text, jsonb, text) to service_role;
grant execute on function public.alert_severity_rank(text) to service_role;
grant execute on function public.alert_enqueue(bigint, text, text[], timestamptz) to service_role;
grant execute on function public.alert_conditions(timestamptz, jsonb, bigint[]) to service_role;
grant execute on function public.alert_deliveries_claim(timestamptz, integer, integer) to service_role;
grant execute on function public.alert_deliveries_supersede(bigint, timestamptz) to service_role;
grant execute on function public.alert_channel_failing(text, text, text[], jsonb, timestamptz) to service_role;
