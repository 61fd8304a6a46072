-- What a dialer call's end means for its lead, what an agent's disposition does to it, and the
-- preview mode's side of the agent (a lead shown to one agent, dialed when they ask).
--
--   lead_attempt_ended / lead_call_ended  the call's outcome (calls.outcome) and, once per call,
--                      the lead's next step: a retry per the campaign's retry_rules, a callback,
--                      failed at the limits, done ('connected') when an agent talked to them,
--                      opted_out when the number was listed meanwhile
--   apply_call_status  (redefined) also calls lead_call_ended on a final status
--   agent_set_disposition (redefined) applies the campaign's disposition list to the lead and
--                      ends the agent's wrap-up
--   agent_preview_*    the preview card: the context to claim a lead, dial it, skip it
--   agent_poll         (redefined) also returns the agent's campaign and previewed lead
--
-- Time is read only through public.app_now().

-- When the call's end was applied to its lead (once per call: repeated and reordered
-- callbacks change nothing twice).
alter table public.calls add column lead_outcome_at timestamptz;

-- Previewed leads by agent (the poll releases those of agents gone offline).
create index leads_previewing_idx on public.leads (preview_agent_id) where status = 'previewing';

-- An agent's "do not call me again" disposition lands in the opt-out list with source 'agent'.
-- The check is widened, not rewritten, so sources other migrations allow are kept.
do $$
declare
  v_def text;
begin
  select pg_catalog.pg_get_constraintdef(c.oid) into v_def
    from pg_catalog.pg_constraint c
   where c.conrelid = 'public.opt_outs'::regclass and c.conname = 'opt_outs_source_check';
  if v_def is not null and v_def !~ '''agent''' then
    execute 'alter table public.opt_outs drop constraint opt_outs_source_check';
    execute pg_catalog.format('alter table public.opt_outs add constraint opt_outs_source_check check ((%s) or source = %L)',
      pg_catalog.regexp_replace(v_def, '^CHECK \((.*)\)$', '\1'), 'agent');
  end if;
end $$;

-- ---------------------------------------------------------------------------------------
-- Retry rules.

-- The retry rule (key of campaigns.retry_rules) an outcome is governed by: machine_voicemail
-- shares machine's rule; hangup has its own rule when the campaign gives one, else no_answer's;
-- a disposition code with outcome 'retry' uses its own rule when given, else no_answer's.
create function public.lead_retry_rule_key(p_outcome text, p_rules jsonb)
returns text
language sql immutable set search_path = '' as $$
  select case
    when p_outcome = 'machine_voicemail' then 'machine'
    when p_outcome in ('busy', 'no_answer', 'machine', 'failed', 'abandoned') then p_outcome
    when coalesce(p_rules, '{}'::jsonb) ? p_outcome then p_outcome
    else 'no_answer' end
$$;

-- How many of a lead's attempts ended under rule p_key (outcome_counts summed over every
-- outcome that rule governs).
create function public.lead_rule_count(p_counts jsonb, p_rules jsonb, p_key text)
returns integer
language sql immutable set search_path = '' as $$
  select coalesce(pg_catalog.sum((e.value #>> '{}')::integer), 0)::integer
    from pg_catalog.jsonb_each(coalesce(p_counts, '{}'::jsonb)) e
   where public.lead_retry_rule_key(e.key, p_rules) = p_key
$$;

-- Schedules the lead's next try after outcome p_outcome (counted in outcome_counts when
-- p_count): pending with next_attempt_at = app_now() + the rule's delay_minutes while the
-- rule's max (attempts that ended that way), the campaign's max_attempts and the lead's
-- max_attempts all allow it, else failed. With p_callback the retry is a callback to any agent
-- (callback_at instead of next_attempt_at: claimed before new leads). A 'canceled' attempt (the
-- dialer withdrew it) is retried at once, limited only by the attempt maxima. The caller holds
-- the lead's row lock. Returns the lead.
create function public.lead_schedule_retry(p_lead_id bigint, p_outcome text, p_count boolean, p_callback boolean)
returns public.leads
language plpgsql set search_path = '' as $$
declare
  v_lead     public.leads;
  v_campaign public.campaigns;
  v_counts   jsonb;
  v_key      text;
  v_rule     jsonb;
  v_delay    interval;
  v_retry    boolean;
begin
  select * into v_lead from public.leads where id = p_lead_id;
  select * into v_campaign from public.campaigns where id = v_lead.campaign_id;
  v_counts := v_lead.outcome_counts;
  if p_count then
    v_counts := v_counts || pg_catalog.jsonb_build_object(p_outcome, coalesce((v_counts->>p_outcome)::integer, 0) + 1);
  end if;
  if p_outcome = 'canceled' then
    v_delay := interval '0';
    v_retry := true;
  else
    v_key := public.lead_retry_rule_key(p_outcome, v_campaign.retry_rules);
    v_rule := v_campaign.retry_rules->v_key;
    v_delay := pg_catalog.make_interval(mins => coalesce((v_rule->>'delay_minutes')::integer, 0));
    v_retry := v_rule is not null
      and (v_rule->>'max' is null or public.lead_rule_count(v_counts, v_campaign.retry_rules, v_key) < (v_rule->>'max')::integer);
  end if;
  v_retry := v_retry and v_lead.attempts < v_campaign.max_attempts and v_lead.attempts < v_lead.max_attempts;

  update public.leads set
    status            = case when v_retry then 'pending' else 'failed' end,
    outcome           = p_outcome,
    outcome_counts    = v_counts,
    next_attempt_at   = case when v_retry and not p_callback then public.app_now() + v_delay end,
    callback_at       = case when v_retry and p_callback then public.app_now() + v_delay end,
    callback_agent_id = null,
    preview_agent_id  = null,
    updated_at        = public.app_now()
  where id = p_lead_id
  returning * into v_lead;
  return v_lead;
end $$;

-- ---------------------------------------------------------------------------------------
-- The end of a dial attempt.

-- What the attempt p_attempt_id (calls.id) ended as, and what that means for its lead.
-- calls.outcome, when the call flow has not set it: busy / no_answer / failed / canceled from
-- the final status; opted_out when the customer's number was found listed at answer; abandoned
-- when abandoned_at is set; human when the customer reached an agent (connected_at, or the
-- agent was busy on the call); machine_voicemail when AMD said the message ended
-- (machine_end_*) and the campaign leaves voicemails; machine for any other machine_* or fax;
-- hangup when answered and none of those.
-- Then the lead, once per call (calls.lead_outcome_at), and only while it is 'dialing' on
-- this very attempt (its latest call) with no disposition given for it: opted out meanwhile →
-- opted_out; human → done with outcome 'connected' (the agent's disposition replaces it);
-- abandoned with abandon_treatment 'callback' → a callback after the abandoned rule's delay;
-- anything else → lead_schedule_retry. Returns {applied, outcome, lead: {id, status, outcome,
-- changed}} or {applied: false, reason: unknown_call | not_final | already_applied | not_a_dialer_call}.
create function public.lead_attempt_ended(p_attempt_id bigint)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_call     public.calls;
  v_lead     public.leads;
  v_campaign public.campaigns;
  v_outcome  text;
  v_answered text;
  v_human    boolean;
  v_changed  boolean := false;
begin
  select * into v_call from public.calls where id = p_attempt_id for update;
  if v_call.id is null then
    return pg_catalog.jsonb_build_object('applied', false, 'reason', 'unknown_call');
  end if;
  if public.call_status_rank(v_call.status) < 4 then
    return pg_catalog.jsonb_build_object('applied', false, 'reason', 'not_final');
  end if;
  if v_call.campaign_id is null and v_call.lead_id is null then
    return pg_catalog.jsonb_build_object('applied', false, 'reason', 'not_a_dialer_call');
  end if;
  if v_call.lead_outcome_at is not null then
    return pg_catalog.jsonb_build_object('applied', false, 'reason', 'already_applied', 'outcome', v_call.outcome);
  end if;

  v_human := v_call.connected_at is not null
    or (v_call.call_sid is not null and exists (
          select 1 from public.agent_status_history h where h.call_sid = v_call.call_sid and h.status = 'busy'));
  v_outcome := v_call.outcome;
  if v_outcome is null then
    -- Status callbacks of an AMD call carry AnsweredBy even when the AMD webhook was missed.
    v_answered := coalesce(v_call.answered_by, (
      select e.params->>'AnsweredBy' from public.call_events e
       where e.call_sid = v_call.call_sid and e.params ? 'AnsweredBy'
       order by e.id desc limit 1));
    select * into v_campaign from public.campaigns where id = v_call.campaign_id;
    v_outcome := case
      when v_call.status = 'busy' then 'busy'
      when v_call.status = 'no-answer' then 'no_answer'
      when v_call.status = 'failed' then 'failed'
      when v_call.status = 'canceled' then 'canceled'
      when v_call.opted_out then 'opted_out'
      when v_call.abandoned_at is not null then 'abandoned'
      when v_human then 'human'
      when v_answered in ('machine_end_beep', 'machine_end_silence', 'machine_end_other')
           and v_campaign.amd_machine = 'voicemail' then 'machine_voicemail'
      when v_answered like 'machine%' or v_answered = 'fax' then 'machine'
      else 'hangup' end;
  end if;
  update public.calls set outcome = v_outcome, lead_outcome_at = public.app_now(), updated_at = public.app_now()
   where id = v_call.id;

  if v_call.lead_id is not null then
    select * into v_lead from public.leads where id = v_call.lead_id for update;
  end if;
  if v_lead.id is not null
     and v_lead.status = 'dialing'
     and not exists (select 1 from public.calls c where c.lead_id = v_lead.id and c.id > v_call.id)
     and not (v_call.call_sid is not null and exists (select 1 from public.call_dispositions d where d.call_sid = v_call.call_sid)) then
    v_changed := true;
    select * into v_campaign from public.campaigns where id = v_lead.campaign_id;
    if v_outcome = 'opted_out' or exists (select 1 from public.opt_outs o where o.phone_number = v_lead.phone_number) then
      update public.leads set status = 'opted_out', outcome = 'opted_out', next_attempt_at = null, callback_at = null,
             callback_agent_id = null, preview_agent_id = null, last_call_sid = coalesce(v_call.call_sid, last_call_sid),
             updated_at = public.app_now()
       where id = v_lead.id returning * into v_lead;
    elsif v_human then
      update public.leads set status = 'done', outcome = 'connected', next_attempt_at = null, callback_at = null,
             callback_agent_id = null, preview_agent_id = null, last_call_sid = coalesce(v_call.call_sid, last_call_sid),
             updated_at = public.app_now()
       where id = v_lead.id returning * into v_lead;
    else
      v_lead := public.lead_schedule_retry(v_lead.id, v_outcome, true,
                  v_outcome = 'abandoned' and v_campaign.abandon_treatment = 'callback');
      update public.leads set last_call_sid = coalesce(v_call.call_sid, last_call_sid) where id = v_lead.id;
    end if;
  end if;

  return pg_catalog.jsonb_build_object('applied', true, 'outcome', v_outcome,
    'lead', case when v_lead.id is null then null else pg_catalog.jsonb_build_object(
      'id', v_lead.id, 'status', v_lead.status, 'outcome', v_lead.outcome, 'changed', v_changed) end);
end $$;

-- lead_attempt_ended for the call p_call_sid (its status callback's CallSid).
create function public.lead_call_ended(p_call_sid text)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_id bigint;
begin
  select c.id into v_id from public.calls c where c.call_sid = p_call_sid;
  if v_id is null then
    return pg_catalog.jsonb_build_object('applied', false, 'reason', 'unknown_call');
  end if;
  return public.lead_attempt_ended(v_id);
end $$;

-- Attach Twilio's CallSid to a dial attempt (see 20261125120000_dial_attempts_and_opt_out_lock.sql).
-- A lead's attempt is counted once, when the lead goes to 'dialing' (claim_leads, or the
-- agent's preview dial); attaching the CallSid only records it as the lead's last call.
create or replace function public.attach_call_sid(p_attempt_id bigint, p_call_sid public.call_sid, p_account_sid text default null)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_lead_id bigint;
  v_attached boolean;
begin
  update public.calls
     set call_sid = p_call_sid, account_sid = coalesce(account_sid, p_account_sid), updated_at = public.app_now()
   where id = p_attempt_id and call_sid is null and end_reason is distinct from 'twilio_refused'
     and not exists (select 1 from public.calls o where o.call_sid = p_call_sid)
  returning lead_id into v_lead_id;
  v_attached := found;
  if v_attached and v_lead_id is not null then
    update public.leads set last_call_sid = p_call_sid
     where id = v_lead_id and last_call_sid is distinct from p_call_sid;
  end if;
  return pg_catalog.jsonb_build_object(
    'attached', v_attached or exists (select 1 from public.calls where id = p_attempt_id and call_sid = p_call_sid));
end;
$$;

-- A call status callback (see apply_call_event), and what a final status means for agents and
-- leads: a customer leg that ended releases its agent (wrap-up, or back to available with a
-- missed call when it was still an offer); a shift leg that ended leaves its agent without a
-- room; a dialer call that ended gets its outcome and moves its lead (lead_call_ended).
-- p_event.wrap_up_seconds is the deployment's WRAP_UP_SECONDS. One round trip per callback.
create or replace function public.apply_call_status(p_event jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_result jsonb;
  v_agent  jsonb;
  v_lead   jsonb;
begin
  v_result := public.apply_call_event(p_event);
  if public.call_status_rank(p_event->>'call_status') >= 4 then
    v_agent := coalesce(
      public.agent_customer_left(p_event->>'call_sid', (p_event->>'wrap_up_seconds')::integer),
      public.agent_shift_ended(p_event->>'call_sid'));
    v_lead := public.lead_call_ended(p_event->>'call_sid');
  end if;
  return v_result || pg_catalog.jsonb_build_object('agent', v_agent, 'lead', v_lead);
end;
$$;

-- ---------------------------------------------------------------------------------------
-- Dispositions.

-- The disposition an agent gives a call they were on (calls.agent_id): one per call, a
-- correction replaces it. Another agent's call, or an unknown one, is DA404.
-- The list that applies is the campaign's (campaigns.dispositions, of the call's or its lead's
-- campaign), else p_dispositions (the deployment's DISPOSITION_CODES with their outcomes, from
-- TypeScript), each [{code, label?, outcome}]; with neither, any code is taken as outcome done.
-- Refused, with nothing written, as {refused: <reason>, codes: [the list's codes]}:
--   unknown_code        the code is not in the list
--   callback_required   a callback outcome without callback_at after app_now()
--   callback_in_past    callback_at more than a minute before app_now()
--   callback_too_far    callback_at more than 366 days after app_now()
-- Then: the wrap-up of this call ends (available, source agent); a call with a lead that is
-- the lead's latest call (and not opted out) sets the lead by the code's outcome:
--   done      status done, outcome = code          invalid  status invalid (wrong number)
--   retry     lead_schedule_retry under the code's rule (else no_answer's)
--   callback  pending, callback_at, callback_agent_id = this agent (dialed by them first)
--   opt_out   opt_out_add(number, source 'agent') and status opted_out
-- opt_out lists the customer's number even for a call without a lead. Returns the disposition
-- row plus lead {id, status, outcome, callback_at} (null without a lead) and outcome.
drop function public.agent_set_disposition(bigint, uuid, text, text, text, timestamptz);
create function public.agent_set_disposition(
  p_agent_id bigint, p_user_id uuid, p_call_sid text, p_code text, p_notes text, p_callback_at timestamptz,
  p_dispositions jsonb default null
) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_call     public.calls;
  v_lead     public.leads;
  v_campaign public.campaigns;
  v_list     jsonb;
  v_entry    jsonb;
  v_outcome  text;
  v_customer text;
  v_prev     text;
  v_row      public.call_dispositions;
  v_agent    public.agents;
  v_now      timestamptz := public.app_now();
begin
  select * into v_call from public.calls c where c.call_sid = p_call_sid and c.agent_id = p_agent_id;
  if v_call.id is null then
    raise exception 'call % not found for agent %', p_call_sid, p_agent_id using errcode = 'DA404';
  end if;
  select * into v_lead from public.leads l where l.id = v_call.lead_id;
  select * into v_campaign from public.campaigns k where k.id = coalesce(v_call.campaign_id, v_lead.campaign_id);
  v_list := coalesce(v_campaign.dispositions, p_dispositions);

  if v_list is null then
    v_outcome := 'done';
  else
    select e.value into v_entry from pg_catalog.jsonb_array_elements(v_list) e where e.value->>'code' = p_code limit 1;
    if v_entry is null then
      return pg_catalog.jsonb_build_object('refused', 'unknown_code',
        'codes', (select coalesce(pg_catalog.jsonb_agg(e.value->'code'), '[]'::jsonb) from pg_catalog.jsonb_array_elements(v_list) e));
    end if;
    v_outcome := coalesce(v_entry->>'outcome', 'done');
    if v_outcome not in ('done', 'retry', 'callback', 'opt_out', 'invalid') then
      v_outcome := 'done';
    end if;
  end if;
  if p_callback_at is not null and p_callback_at < v_now - interval '1 minute' then
    return pg_catalog.jsonb_build_object('refused', 'callback_in_past');
  end if;
  if p_callback_at is not null and p_callback_at > v_now + interval '366 days' then
    return pg_catalog.jsonb_build_object('refused', 'callback_too_far');
  end if;
  if v_outcome = 'callback' and (p_callback_at is null or p_callback_at <= v_now) then
    return pg_catalog.jsonb_build_object('refused', 'callback_required');
  end if;

  v_customer := case when v_call.direction = 'inbound' then v_call.from_number else v_call.to_number end;
  if v_outcome = 'opt_out' and v_customer ~ '^\+[1-9][0-9]{7,14}$' then
    -- opt_out_add takes the number's lock; taken before any row lock, in the order every dialing path uses.
    perform public.opt_out_add(v_customer::public.e164, 'agent_disposition', 'agent', p_user_id::text);
  end if;

  select d.code into v_prev from public.call_dispositions d where d.call_sid = p_call_sid;
  insert into public.call_dispositions as d (call_sid, agent_id, user_id, code, notes, callback_at)
  values (p_call_sid, p_agent_id, p_user_id, p_code, nullif(p_notes, ''), p_callback_at)
  on conflict (call_sid) do update set
    agent_id = excluded.agent_id, user_id = excluded.user_id, code = excluded.code,
    notes = excluded.notes, callback_at = excluded.callback_at, updated_at = public.app_now()
  returning d.* into v_row;

  -- The disposition ends this call's wrap-up.
  select * into v_agent from public.agents a where a.id = p_agent_id for update;
  if v_agent.status = 'wrap_up' and v_agent.current_call_sid = p_call_sid then
    perform public.agent_transition(p_agent_id, 'available', null, 'agent', p_user_id);
  end if;

  if v_lead.id is not null then
    select * into v_lead from public.leads l where l.id = v_lead.id for update;
    if v_lead.status <> 'opted_out'
       and not exists (select 1 from public.calls c where c.lead_id = v_lead.id and c.id > v_call.id) then
      if v_outcome = 'opt_out' then
        update public.leads set status = 'opted_out', outcome = p_code, next_attempt_at = null, callback_at = null,
               callback_agent_id = null, preview_agent_id = null, updated_at = public.app_now()
         where id = v_lead.id returning * into v_lead;
      elsif v_outcome = 'callback' then
        update public.leads set status = 'pending', outcome = p_code, next_attempt_at = null, callback_at = p_callback_at,
               callback_agent_id = p_agent_id, preview_agent_id = null, updated_at = public.app_now()
         where id = v_lead.id returning * into v_lead;
      elsif v_outcome = 'retry' then
        v_lead := public.lead_schedule_retry(v_lead.id, p_code, v_prev is distinct from p_code, false);
      else
        update public.leads set status = case when v_outcome = 'invalid' then 'invalid' else 'done' end,
               outcome = p_code, next_attempt_at = null, callback_at = null, callback_agent_id = null,
               preview_agent_id = null, updated_at = public.app_now()
         where id = v_lead.id returning * into v_lead;
      end if;
    end if;
  end if;

  return pg_catalog.jsonb_build_object(
    'call_sid', v_row.call_sid, 'code', v_row.code, 'notes', v_row.notes, 'callback_at', v_row.callback_at,
    'created_at', v_row.created_at, 'updated_at', v_row.updated_at, 'outcome', v_outcome,
    'lead', case when v_lead.id is null then null else pg_catalog.jsonb_build_object(
      'id', v_lead.id, 'status', v_lead.status, 'outcome', v_lead.outcome, 'callback_at', v_lead.callback_at) end);
end $$;

-- ---------------------------------------------------------------------------------------
-- Preview mode.

-- The lead shown to agent p_agent_id (status previewing), as the page shows it, or null.
create function public.agent_preview_lead(p_agent_id bigint)
returns jsonb
language sql stable set search_path = '' as $$
  select pg_catalog.jsonb_build_object(
           'id', l.id, 'name', l.name, 'phone_number', l.phone_number, 'external_id', l.external_id,
           'fields', l.data, 'attempts', l.attempts, 'outcome', l.outcome, 'callback_at', l.callback_at,
           'campaign_id', l.campaign_id)
    from public.leads l
   where l.preview_agent_id = p_agent_id and l.status = 'previewing'
   order by l.id
   limit 1
$$;

-- What /api/agent/preview needs in one read: the agent (status, campaign), the campaign's
-- settings (mode, status, calling-window columns), the admin holidays that apply to it
-- ({day, uf}), app_now() in ms, and the lead already previewed by the agent. Null for an
-- unknown or inactive agent.
create function public.agent_preview_context(p_agent_id bigint)
returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_agent    public.agents;
  v_campaign public.campaigns;
begin
  select * into v_agent from public.agents a where a.id = p_agent_id and a.is_active;
  if v_agent.id is null then
    return null;
  end if;
  select * into v_campaign from public.campaigns k where k.id = v_agent.campaign_id;
  return pg_catalog.jsonb_build_object(
    'agent', pg_catalog.jsonb_build_object('id', v_agent.id, 'status', v_agent.status, 'campaign_id', v_agent.campaign_id),
    'campaign', case when v_campaign.id is null then null else pg_catalog.jsonb_build_object(
      'id', v_campaign.id, 'name', v_campaign.name, 'mode', v_campaign.mode, 'status', v_campaign.status,
      'window_profile', v_campaign.window_profile,
      'weekday_start', pg_catalog.to_char(v_campaign.weekday_start, 'HH24:MI'),
      'weekday_end', pg_catalog.to_char(v_campaign.weekday_end, 'HH24:MI'),
      'saturday_start', pg_catalog.to_char(v_campaign.saturday_start, 'HH24:MI'),
      'saturday_end', pg_catalog.to_char(v_campaign.saturday_end, 'HH24:MI'),
      'allow_sunday', v_campaign.allow_sunday,
      'sunday_start', pg_catalog.to_char(v_campaign.sunday_start, 'HH24:MI'),
      'sunday_end', pg_catalog.to_char(v_campaign.sunday_end, 'HH24:MI'),
      'skip_holidays', v_campaign.skip_holidays) end,
    'holidays', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('day', pg_catalog.to_char(h.day, 'YYYY-MM-DD'), 'uf', h.uf) order by h.day)
        from public.calling_holidays h
       where (h.campaign_id is null or h.campaign_id = v_campaign.id)
         and h.day between (public.app_now() at time zone 'America/Sao_Paulo')::date - 1
                       and (public.app_now() at time zone 'America/Sao_Paulo')::date + 1), '[]'::jsonb),
    'now_ms', pg_catalog.floor(extract(epoch from public.app_now()) * 1000)::bigint,
    'preview', public.agent_preview_lead(v_agent.id));
end $$;

-- The agent asked for a lead (p_requested: the claim found none, so the pacer serves the
-- request when one becomes available) or got one (preview_requested_at cleared).
create function public.agent_preview_requested(p_agent_id bigint, p_requested boolean)
returns void
language sql set search_path = '' as $$
  update public.agents set preview_requested_at = case when p_requested then coalesce(preview_requested_at, public.app_now()) end
   where id = p_agent_id
$$;

-- The agent dials the lead they preview: previewing by this agent, in a running preview
-- campaign → dialing, attempts + 1, last_attempt_at. Returns {ok: true, lead_id, to,
-- campaign_id} or {ok: false, reason: not_previewing | campaign_not_running}; nothing is
-- written on a refusal.
create function public.agent_preview_dial(p_agent_id bigint, p_lead_id bigint)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_lead     public.leads;
  v_campaign public.campaigns;
begin
  select * into v_lead from public.leads l
   where l.id = p_lead_id and l.status = 'previewing' and l.preview_agent_id = p_agent_id
   for update;
  if v_lead.id is null then
    return pg_catalog.jsonb_build_object('ok', false, 'reason', 'not_previewing');
  end if;
  select * into v_campaign from public.campaigns k where k.id = v_lead.campaign_id;
  if v_campaign.status <> 'active' or v_campaign.mode <> 'preview' then
    return pg_catalog.jsonb_build_object('ok', false, 'reason', 'campaign_not_running');
  end if;
  update public.leads set status = 'dialing', attempts = attempts + 1, last_attempt_at = public.app_now(),
         updated_at = public.app_now()
   where id = v_lead.id;
  return pg_catalog.jsonb_build_object('ok', true, 'lead_id', v_lead.id, 'to', v_lead.phone_number, 'campaign_id', v_lead.campaign_id);
end $$;

-- A preview dial that never became a call (no dial attempt recorded): the lead goes back to
-- the agent's card (attempts given back), or to opted_out when the number is listed, or to
-- invalid when it is not a number Twilio can call. Only a lead still dialing for this agent
-- with no call recorded since moves.
create function public.agent_preview_undial(p_agent_id bigint, p_lead_id bigint, p_reason text)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_lead public.leads;
begin
  select * into v_lead from public.leads l
   where l.id = p_lead_id and l.status = 'dialing' and l.preview_agent_id = p_agent_id
   for update;
  if v_lead.id is null or exists (select 1 from public.calls c where c.lead_id = v_lead.id and c.created_at >= v_lead.last_attempt_at) then
    return null;
  end if;
  update public.leads set
    status     = case p_reason when 'opted_out' then 'opted_out' when 'invalid_number' then 'invalid' else 'previewing' end,
    outcome    = case p_reason when 'opted_out' then 'opted_out' when 'invalid_number' then 'invalid_number' else outcome end,
    preview_agent_id = case when p_reason in ('opted_out', 'invalid_number') then null else preview_agent_id end,
    attempts   = greatest(attempts - 1, 0),
    updated_at = public.app_now()
  where id = v_lead.id
  returning * into v_lead;
  return pg_catalog.jsonb_build_object('id', v_lead.id, 'status', v_lead.status);
end $$;

-- The agent skips the lead they preview: back to pending, not offered again before
-- p_delay_minutes (a due callback is moved by the same delay). Null when the agent previews
-- no such lead.
create function public.agent_preview_skip(p_agent_id bigint, p_lead_id bigint, p_delay_minutes integer default 30)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_lead public.leads;
  v_at   timestamptz := public.app_now() + pg_catalog.make_interval(mins => greatest(coalesce(p_delay_minutes, 30), 0));
begin
  update public.leads l set
    status           = 'pending',
    preview_agent_id = null,
    next_attempt_at  = v_at,
    callback_at      = case when l.callback_at is not null and l.callback_at < v_at then v_at else l.callback_at end,
    updated_at       = public.app_now()
  where l.id = p_lead_id and l.status = 'previewing' and l.preview_agent_id = p_agent_id
  returning l.* into v_lead;
  if v_lead.id is null then
    return null;
  end if;
  return pg_catalog.jsonb_build_object('id', v_lead.id, 'status', v_lead.status, 'next_attempt_at', v_lead.next_attempt_at);
end $$;

-- Leads previewed by agents who are no longer working (offline) go back to pending, as they
-- were. Returns how many.
create function public.preview_release_stale()
returns integer
language plpgsql set search_path = '' as $$
declare
  v_count integer;
begin
  update public.leads l set status = 'pending', preview_agent_id = null, updated_at = public.app_now()
    from public.agents a
   where l.status = 'previewing' and a.id = l.preview_agent_id and (a.status = 'offline' or not a.is_active);
  get diagnostics v_count = row_count;
  return v_count;
end $$;

-- ---------------------------------------------------------------------------------------
-- The agent page's poll (see 20261126090200_agent_state.sql), plus the campaign side:
--   campaign  the agent's campaign {id, name, mode, status, dispositions, whisper_template}
--   preview   the lead the agent previews (agent_preview_lead)
--   call.lead.campaign carries mode, whisper_template and dispositions; call.lead carries
--   phone_number, outcome and callback_at; call carries outcome, live_at and connected_at.
-- Previewed leads of agents gone offline are released (preview_release_stale).
create or replace function public.agent_poll(p_token_hash text, p_idle_seconds integer, p_presence_seconds integer)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_session  jsonb;
  v_agent    public.agents;
  v_call     public.calls;
  v_customer text;
  v_lead_id  bigint;
  v_call_obj jsonb;
  v_offer    jsonb;
  v_now      timestamptz := public.app_now();
begin
  -- The same check as every other /api call (it also slides the session's last_seen_at).
  v_session := public.auth_session(p_token_hash, p_idle_seconds);
  if v_session is null then
    return pg_catalog.jsonb_build_object('error', 'session_expired');
  end if;
  if v_session #>> '{user,role}' is distinct from 'agent' or v_session #>> '{user,agent_id}' is null then
    return pg_catalog.jsonb_build_object('error', 'forbidden_role');
  end if;

  update public.agents a set last_seen_at = v_now
   where a.id = (v_session #>> '{user,agent_id}')::bigint and a.is_active
  returning a.* into v_agent;
  if v_agent.id is null then
    return pg_catalog.jsonb_build_object('error', 'forbidden_role');
  end if;
  if v_agent.status = 'wrap_up' and v_agent.wrap_up_until is not null and v_agent.wrap_up_until <= v_now then
    v_agent := public.agent_transition(v_agent.id, 'available', null, 'timer', null);
  end if;
  perform public.agents_expire_presence(p_presence_seconds);
  perform public.preview_release_stale();

  -- The customer the agent is reserved for, talking to, or wrapping up.
  if v_agent.current_call_sid is not null and v_agent.status in ('reserved', 'busy', 'wrap_up') then
    select * into v_call from public.calls c where c.call_sid = v_agent.current_call_sid;
  end if;
  if v_call.id is not null then
    v_customer := case when v_call.direction = 'inbound' then v_call.from_number else v_call.to_number end;
    v_lead_id := coalesce(v_call.lead_id,
      (select l.id from public.leads l where l.phone_number = v_customer order by l.created_at desc limit 1));
    v_call_obj := pg_catalog.jsonb_build_object(
      'call_sid', v_call.call_sid,
      'direction', v_call.direction,
      'customer', v_customer,
      'status', v_call.status,
      'started_at', coalesce(v_call.started_at, v_call.created_at),
      'answered_at', v_call.answered_at,
      'ended_at', v_call.ended_at,
      'outcome', v_call.outcome,
      'live_at', v_call.live_at,
      'connected_at', v_call.connected_at,
      'lead', (select pg_catalog.jsonb_build_object(
                 'id', l.id, 'name', l.name, 'external_id', l.external_id, 'fields', l.data,
                 'phone_number', l.phone_number, 'outcome', l.outcome, 'callback_at', l.callback_at,
                 'campaign', case when k.id is null then null
                                  else pg_catalog.jsonb_build_object('id', k.id, 'name', k.name, 'kind', k.kind,
                                         'mode', k.mode, 'whisper_template', k.whisper_template,
                                         'dispositions', k.dispositions) end)
                 from public.leads l left join public.campaigns k on k.id = l.campaign_id
                where l.id = v_lead_id),
      'disposition', (select pg_catalog.jsonb_build_object('code', d.code, 'notes', d.notes, 'callback_at', d.callback_at)
                        from public.call_dispositions d where d.call_sid = v_call.call_sid),
      'history', coalesce((
        select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'call_sid', h.call_sid, 'at', h.at, 'direction', h.direction, 'status', h.status,
                 'duration', h.duration, 'agent', h.agent_name,
                 'disposition', h.code, 'notes', h.notes) order by h.at desc)
          from (select c.call_sid, coalesce(c.started_at, c.created_at) as at, c.direction, c.status,
                       c.duration, a.name as agent_name, d.code, d.notes
                  from public.calls c
                  left join public.call_dispositions d on d.call_sid = c.call_sid
                  left join public.agents a on a.id = c.agent_id
                 where (case when c.direction = 'inbound' then c.from_number else c.to_number end) = v_customer
                   and c.call_sid is distinct from v_call.call_sid
                   and c.call_sid is not null
                 order by c.created_at desc
                 limit 10) h), '[]'::jsonb));
    if v_agent.status = 'reserved' and v_call.direction = 'inbound' then
      v_offer := pg_catalog.jsonb_build_object('call_sid', v_call.call_sid, 'from', v_call.from_number, 'since', v_agent.status_changed_at);
    end if;
  end if;

  return pg_catalog.jsonb_build_object(
    'agent', public.agent_view(v_agent, p_presence_seconds),
    'offer', v_offer,
    'call', v_call_obj,
    'campaign', (select pg_catalog.jsonb_build_object('id', k.id, 'name', k.name, 'kind', k.kind, 'mode', k.mode,
                          'status', k.status, 'whisper_template', k.whisper_template, 'dispositions', k.dispositions)
                   from public.campaigns k where k.id = v_agent.campaign_id),
    'preview', public.agent_preview_lead(v_agent.id),
    -- Inbound customers for this agent still on the line, neither the current call nor ever
    -- connected to the agent (the per-agent queue, later the service queue).
    'waiting', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'call_sid', w.call_sid, 'from', w.from_number, 'since', w.since,
               'wait_seconds', pg_catalog.floor(extract(epoch from v_now - w.since))::integer) order by w.since)
        from (select c.call_sid, c.from_number, coalesce(c.started_at, c.created_at) as since
                from public.calls c
               where c.agent_id = v_agent.id and c.direction = 'inbound'
                 and c.created_at > v_now - interval '2 hours'
                 and c.status in ('queued', 'initiated', 'ringing', 'in-progress') and c.ended_at is null
                 and c.call_sid is distinct from v_agent.current_call_sid
                 and not exists (select 1 from public.agent_status_history h
                                  where h.call_sid = c.call_sid and h.agent_id = v_agent.id and h.status = 'busy')
               order by c.created_at
               limit 20) w), '[]'::jsonb),
    -- Messages left on the agent's voicemail (Record verb recordings of calls to the agent).
    'voicemails', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'recording_sid', v.recording_sid, 'call_sid', v.call_sid, 'from', v.from_number,
               'at', v.created_at, 'duration', v.duration, 'stored', v.storage_status) order by v.created_at desc)
        from (select r.recording_sid, r.call_sid, c.from_number, r.created_at, r.duration, r.storage_status
                from public.calls c join public.recordings r on r.call_sid = c.call_sid
               where c.agent_id = v_agent.id and c.direction = 'inbound'
                 and c.created_at > v_now - interval '7 days'
                 and r.source = 'RecordVerb' and r.status = 'completed'
               order by r.created_at desc
               limit 20) v), '[]'::jsonb),
    -- Inbound calls to the agent that ended without ever being connected to the agent.
    'missed', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'call_sid', m.call_sid, 'from', m.from_number, 'at', m.at, 'status', m.status,
               'voicemail', m.voicemail) order by m.at desc)
        from (select c.call_sid, c.from_number, coalesce(c.started_at, c.created_at) as at, c.status,
                     exists (select 1 from public.recordings r where r.call_sid = c.call_sid and r.source = 'RecordVerb') as voicemail
                from public.calls c
               where c.agent_id = v_agent.id and c.direction = 'inbound'
                 and c.created_at > v_now - interval '7 days'
                 and (c.ended_at is not null or public.call_status_rank(c.status) >= 4)
                 and not exists (select 1 from public.agent_status_history h
                                  where h.call_sid = c.call_sid and h.agent_id = v_agent.id and h.status = 'busy')
               order by c.created_at desc
               limit 20) m), '[]'::jsonb),
    'server_time', v_now);
end $$;

revoke execute on function
  public.lead_retry_rule_key(text, jsonb), public.lead_rule_count(jsonb, jsonb, text),
  public.lead_schedule_retry(bigint, text, boolean, boolean), public.lead_attempt_ended(bigint),
  public.lead_call_ended(text), public.apply_call_status(jsonb),
  public.agent_set_disposition(bigint, uuid, text, text, text, timestamptz, jsonb),
  public.agent_preview_lead(bigint), public.agent_preview_context(bigint),
  public.agent_preview_requested(bigint, boolean), public.agent_preview_dial(bigint, bigint),
  public.agent_preview_undial(bigint, bigint, text), public.agent_preview_skip(bigint, bigint, integer),
  public.preview_release_stale(), public.agent_poll(text, integer, integer)
  from public, anon, authenticated;
grant execute on function
  public.lead_retry_rule_key(text, jsonb), public.lead_rule_count(jsonb, jsonb, text),
  public.lead_schedule_retry(bigint, text, boolean, boolean), public.lead_attempt_ended(bigint),
  public.lead_call_ended(text), public.apply_call_status(jsonb),
  public.agent_set_disposition(bigint, uuid, text, text, text, timestamptz, jsonb),
  public.agent_preview_lead(bigint), public.agent_preview_context(bigint),
  public.agent_preview_requested(bigint, boolean), public.agent_preview_dial(bigint, bigint),
  public.agent_preview_undial(bigint, bigint, text), public.agent_preview_skip(bigint, bigint, integer),
  public.preview_release_stale(), public.agent_poll(text, integer, integer)
  to service_role;
