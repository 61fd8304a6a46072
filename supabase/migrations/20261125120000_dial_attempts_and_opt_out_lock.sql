-- An opt-out is never reached, wherever the call is.
--
-- * A dial attempt is recorded before any request reaches Twilio: a calls row without a
--   CallSid yet (campaign, lead, agent, caller ID, destination). Its id travels in the answer
--   and status callback URLs, so the webhooks find it even if attaching the CallSid after
--   Twilio accepted the call never happened.
-- * Opting a number out and deciding to dial or connect that number serialize on one
--   transaction-scoped advisory lock keyed on the E.164 number: once opt_out_add has
--   returned, no later attempt passes and no later answer is connected.
-- * The decision to connect is taken again when the customer answers: a number that opted
--   out while its call waited in Twilio's queue or rang is told goodbye and never bridged;
--   the row says why (end_reason = 'opted_out_after_dial').
-- * The caller ID's daily count is spent when the attempt is recorded and given back when
--   Twilio refuses the call, so only calls actually placed count.
-- * Pool picks serialize on one advisory lock instead of skipping locked numbers, so a
--   dialer is never refused while a number still has capacity (SKIP LOCKED skipped numbers
--   that were only locked for an instant), and the daily cap stays exact.

alter table public.calls alter column call_sid drop not null;
alter table public.calls
  add column end_reason text check (end_reason in ('opted_out_after_dial', 'twilio_refused')),
  add column error_code integer;
comment on column public.calls.call_sid is
  'Null while a dial attempt waits for Twilio to accept it (or after Twilio refused it).';
comment on column public.calls.end_reason is
  'Why discador ended or never placed the call: opted_out_after_dial, twilio_refused.';
create index calls_pending_attempts_idx on public.calls (created_at) where call_sid is null and end_reason is null;

-- The advisory lock key of a phone number (64-bit hash; a collision only serializes two
-- unrelated numbers). Every path that lists a number or decides to dial/connect it takes it.
create or replace function public.opt_out_lock_key(p_phone text) returns bigint
language sql immutable parallel safe
set search_path = ''
as $$
  select pg_catalog.hashtextextended('discador.opt_out:' || p_phone, 0);
$$;

-- Add one number; adding it again keeps the first entry. Returns whether it was new.
create or replace function public.opt_out_add(
  p_phone public.e164, p_reason text default null, p_source text default 'manual', p_created_by text default null
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_added boolean;
begin
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(p_phone));
  insert into public.opt_outs (phone_number, reason, source, created_by)
  values (p_phone, p_reason, coalesce(p_source, 'manual'), p_created_by)
  on conflict (phone_number) do nothing;
  get diagnostics v_added = row_count;
  return pg_catalog.jsonb_build_object('phone_number', p_phone, 'added', v_added);
end;
$$;

-- Import many numbers at once (rows of {phone_number, reason}); already-listed numbers are
-- counted, not duplicated. The numbers are locked in sorted order (two imports never
-- deadlock). Callers validate and normalise first and report bad lines.
create or replace function public.opt_out_import(p_rows jsonb, p_source text default 'import', p_created_by text default null)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_total integer;
  v_added integer;
begin
  if pg_catalog.jsonb_typeof(p_rows) <> 'array' then
    raise exception 'p_rows must be a JSON array' using errcode = '22023';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(x.phone_number))
     from (select distinct e.value->>'phone_number' as phone_number
             from pg_catalog.jsonb_array_elements(p_rows) as e(value)
            where e.value->>'phone_number' is not null
            order by 1) x;
  with rows as (
    -- A number repeated in the input keeps its first occurrence's reason.
    select distinct on (e.value->>'phone_number') (e.value->>'phone_number')::public.e164 as phone_number,
           e.value->>'reason' as reason
      from pg_catalog.jsonb_array_elements(p_rows) with ordinality as e(value, n)
     order by e.value->>'phone_number', e.n
  ), ins as (
    insert into public.opt_outs (phone_number, reason, source, created_by)
    select phone_number, reason, coalesce(p_source, 'import'), p_created_by from rows
    on conflict (phone_number) do nothing
    returning 1
  )
  select (select pg_catalog.count(*) from rows), (select pg_catalog.count(*) from ins) into v_total, v_added;
  return pg_catalog.jsonb_build_object('received', pg_catalog.jsonb_array_length(p_rows), 'distinct', v_total,
                                       'added', v_added, 'already_listed', v_total - v_added);
end;
$$;

-- The customer pressed the opt-out key during a call: list the number and mark the call.
-- The stored reason is a code; what the caller hears lives in src/lib/domain/messages.ts.
create or replace function public.opt_out_from_call(p_call_sid public.call_sid, p_phone public.e164, p_source text default 'ivr')
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_result jsonb;
begin
  v_result := public.opt_out_add(p_phone, 'in_call_key', p_source, p_call_sid);
  update public.calls set opted_out = true, updated_at = pg_catalog.now() where call_sid = p_call_sid;
  return v_result;
end;
$$;

-- Attach Twilio's CallSid to a dial attempt. Idempotent, and safe from both sides: placeCall
-- after Calls create answered, and every webhook that carries the attempt id.
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
     set call_sid = p_call_sid, account_sid = coalesce(account_sid, p_account_sid), updated_at = pg_catalog.now()
   where id = p_attempt_id and call_sid is null and end_reason is distinct from 'twilio_refused'
     and not exists (select 1 from public.calls o where o.call_sid = p_call_sid)
  returning lead_id into v_lead_id;
  v_attached := found;
  if v_attached and v_lead_id is not null then
    update public.leads set last_call_sid = p_call_sid, attempts = attempts + 1, status = 'dialing'
     where id = v_lead_id and last_call_sid is distinct from p_call_sid;
  end if;
  return pg_catalog.jsonb_build_object(
    'attached', v_attached or exists (select 1 from public.calls where id = p_attempt_id and call_sid = p_call_sid));
end;
$$;

-- Upsert the calls row from one event (jsonb with call_sid, call_status, event_at, ...) and
-- log the event in call_events. Returns the merged call and whether the event was new.
-- attempt_id (a dial attempt's id from our own URLs) attaches the CallSid first; agent_id and
-- opted_out are facts a voice webhook may already know (inbound routing), merged like the rest.
create or replace function public.apply_call_event(p_event jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_sid       text := p_event->>'call_sid';
  v_kind      text := coalesce(p_event->>'kind', 'status');
  v_status    text := p_event->>'call_status';
  v_at        timestamptz := coalesce((p_event->>'event_at')::timestamptz, pg_catalog.now());
  v_seq       integer := (p_event->>'sequence_number')::integer;
  v_duration  integer := (p_event->>'call_duration')::integer;
  v_answered  text := p_event->>'answered_by';
  v_attempt   bigint := (p_event->>'attempt_id')::bigint;
  v_terminal  boolean;
  v_key       text;
  v_count     integer;
  v_call      public.calls;
begin
  if v_sid is null then
    raise exception 'call_sid is required' using errcode = '22023';
  end if;
  if v_kind = 'amd' then
    v_status := coalesce(v_status, 'in-progress');  -- an AMD verdict means someone answered
  end if;
  if public.call_status_rank(v_status) < 0 then
    raise exception 'unknown call status %', v_status using errcode = '22023';
  end if;
  if v_attempt is not null then
    perform public.attach_call_sid(v_attempt, v_sid, p_event->>'account_sid');
  end if;
  v_terminal := public.call_status_rank(v_status) >= 4;
  v_key := coalesce(p_event->>'dedupe_key', v_kind || ':' || v_status || ':' || coalesce(v_seq::text, '-'));

  insert into public.calls as c (
    call_sid, parent_call_sid, account_sid, direction, from_number, to_number, status,
    answered_by, started_at, answered_at, ended_at, duration, last_sequence, agent_id, opted_out)
  values (
    v_sid, p_event->>'parent_call_sid', p_event->>'account_sid', p_event->>'direction',
    p_event->>'from', p_event->>'to', v_status, v_answered,
    v_at,
    case when v_status = 'in-progress' then v_at
         when v_status = 'completed' and v_duration > 0 then v_at - pg_catalog.make_interval(secs => v_duration) end,
    case when v_terminal then v_at end,
    v_duration, v_seq, (p_event->>'agent_id')::bigint, coalesce((p_event->>'opted_out')::boolean, false))
  on conflict (call_sid) do update set
    parent_call_sid = coalesce(c.parent_call_sid, excluded.parent_call_sid),
    account_sid     = coalesce(c.account_sid, excluded.account_sid),
    direction       = coalesce(c.direction, excluded.direction),
    from_number     = coalesce(c.from_number, excluded.from_number),
    to_number       = coalesce(c.to_number, excluded.to_number),
    status          = case when public.call_status_rank(excluded.status) > public.call_status_rank(c.status)
                           then excluded.status else c.status end,
    answered_by     = coalesce(c.answered_by, excluded.answered_by),
    started_at      = least(c.started_at, excluded.started_at),
    answered_at     = least(c.answered_at, excluded.answered_at),
    ended_at        = least(c.ended_at, excluded.ended_at),
    duration        = greatest(c.duration, excluded.duration),
    last_sequence   = greatest(c.last_sequence, excluded.last_sequence),
    agent_id        = coalesce(c.agent_id, excluded.agent_id),
    opted_out       = c.opted_out or excluded.opted_out,
    updated_at      = pg_catalog.now()
  returning * into v_call;

  insert into public.call_events as e (call_sid, kind, dedupe_key, call_status, sequence_number, event_at, params)
  values (v_sid, v_kind, v_key, p_event->>'call_status', v_seq, v_at, coalesce(p_event->'params', '{}'::jsonb))
  on conflict (call_sid, dedupe_key) do update
    set received_count = e.received_count + 1, last_received_at = pg_catalog.now()
  returning received_count into v_count;

  return pg_catalog.jsonb_build_object(
    'call_sid', v_call.call_sid, 'status', v_call.status, 'answered_at', v_call.answered_at,
    'ended_at', v_call.ended_at, 'duration', v_call.duration, 'answered_by', v_call.answered_by,
    'agent_id', v_call.agent_id, 'campaign_id', v_call.campaign_id, 'end_reason', v_call.end_reason,
    'duplicate', v_count > 1);
end;
$$;

-- An inbound call reached /voice/inbound: record it (one upsert carrying the agent and the
-- opt-out flag), and answer in the same round trip whether the caller opted out and which
-- agent owns the dialed number (if any).
create or replace function public.start_inbound_call(p_event jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_opted_out boolean;
  v_agent     public.agents;
begin
  select exists (select 1 from public.opt_outs o where o.phone_number = p_event->>'from') into v_opted_out;
  select a.* into v_agent
    from public.phone_numbers n join public.agents a on a.id = n.assigned_agent_id
   where n.phone_number = p_event->>'to' and n.is_active and a.is_active;

  perform public.apply_call_event(p_event || pg_catalog.jsonb_build_object(
    'kind', 'voice', 'dedupe_key', 'voice:inbound', 'agent_id', v_agent.id, 'opted_out', v_opted_out));

  return pg_catalog.jsonb_build_object(
    'opted_out', v_opted_out,
    'agent', case when v_agent.id is null then null else pg_catalog.jsonb_build_object(
      'id', v_agent.id, 'name', v_agent.name, 'phone_number', v_agent.phone_number,
      'client_identity', v_agent.client_identity, 'status', v_agent.status) end);
end;
$$;

-- Before dialing: refuse opted-out numbers, pick the caller ID and record the dial attempt,
-- in one round trip. Returns {allowed, attempt_id, caller_id} or {allowed: false, reason}.
-- With p_caller_id the number must be an active pool number, not dedicated to an agent and
-- under its daily cap; otherwise the least recently used such number is taken. The day is
-- Brasília's.
create or replace function public.start_dial_attempt(
  p_to public.e164, p_caller_id public.e164 default null,
  p_agent_id bigint default null, p_campaign_id bigint default null, p_lead_id bigint default null
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_today  date := (pg_catalog.now() at time zone 'America/Sao_Paulo')::date;
  v_number public.phone_numbers;
  v_id     bigint;
begin
  -- Serializes with opt_out_add on this number: an opt-out acknowledged before this point is
  -- seen below; one that comes later waits for this attempt and is caught at answer.
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(p_to));
  if exists (select 1 from public.opt_outs where phone_number = p_to) then
    return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'opted_out');
  end if;

  if p_caller_id is not null then
    select * into v_number from public.phone_numbers n where n.phone_number = p_caller_id for update;
    if v_number.id is null or not v_number.is_active then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'caller_id_not_in_pool');
    elsif v_number.assigned_agent_id is not null then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'caller_id_dedicated_to_agent');
    elsif v_number.calls_today_date = v_today and v_number.calls_today >= v_number.daily_cap then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'caller_id_at_daily_cap');
    end if;
  else
    -- One pick at a time (a few hundred microseconds each): the least recently used number
    -- under its cap as committed by the previous pick, so no dialer is refused while a number
    -- has capacity and the cap is never exceeded.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('discador.caller_id_pool'), 0);
    select * into v_number from public.phone_numbers n
     where n.is_active and n.assigned_agent_id is null
       and (n.calls_today_date is distinct from v_today or n.calls_today < n.daily_cap)
     order by n.last_used_at nulls first, n.id
     limit 1
     for update;
    if v_number.id is null then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'no_caller_id_available');
    end if;
  end if;

  update public.phone_numbers set
    calls_today      = case when calls_today_date = v_today then calls_today + 1 else 1 end,
    calls_today_date = v_today,
    call_count       = call_count + 1,
    -- The moment of the pick, not of the transaction start: picks are serialized, so
    -- last_used_at follows their order even when a transaction waited for the lock.
    last_used_at     = pg_catalog.clock_timestamp(),
    updated_at       = pg_catalog.now()
  where id = v_number.id;

  insert into public.calls (direction, from_number, to_number, caller_id, agent_id, campaign_id, lead_id, status)
  values ('outbound-api', v_number.phone_number, p_to, v_number.phone_number, p_agent_id, p_campaign_id, p_lead_id, 'queued')
  returning id into v_id;

  return pg_catalog.jsonb_build_object('allowed', true, 'attempt_id', v_id, 'caller_id', v_number.phone_number);
end;
$$;

-- Twilio refused to create the call: the attempt is marked failed with Twilio's error code and
-- the caller ID's daily count is given back (only calls actually placed count). Idempotent.
create or replace function public.fail_dial_attempt(p_attempt_id bigint, p_error_code integer default null)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call public.calls;
begin
  update public.calls
     set status = 'failed', end_reason = 'twilio_refused', error_code = p_error_code,
         ended_at = pg_catalog.now(), updated_at = pg_catalog.now()
   where id = p_attempt_id and call_sid is null and end_reason is null
  returning * into v_call;
  if v_call.id is null then
    return pg_catalog.jsonb_build_object('failed', false);
  end if;
  update public.phone_numbers
     set calls_today = greatest(calls_today - 1, 0), call_count = greatest(call_count - 1, 0), updated_at = pg_catalog.now()
   where phone_number = v_call.caller_id
     and calls_today_date = (v_call.created_at at time zone 'America/Sao_Paulo')::date;
  return pg_catalog.jsonb_build_object('failed', true);
end;
$$;

-- A dialer call was answered (/voice/outbound, and again on its ?step=connect): record it,
-- then decide whether to connect. A number that opted out after the call was placed is not
-- connected: {connect: false, reason: 'opted_out_after_dial'}; else {connect: true, agent}.
create or replace function public.start_outbound_answer(p_event jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_attempt  bigint := (p_event->>'attempt_id')::bigint;
  v_customer text;
  v_call     public.calls;
  v_agent    public.agents;
begin
  -- The customer is the attempt's destination (else Twilio's To). Lock it before writing the
  -- call, in the same order as opt_out_from_call (number, then call row).
  select c.to_number into v_customer from public.calls c
   where (v_attempt is not null and c.id = v_attempt) or c.call_sid = p_event->>'call_sid'
   order by (c.call_sid = p_event->>'call_sid') desc nulls last
   limit 1;
  v_customer := coalesce(v_customer, p_event->>'to');
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(v_customer));

  perform public.apply_call_event(p_event || pg_catalog.jsonb_build_object('kind', 'voice', 'dedupe_key', 'voice:answer'));
  select * into v_call from public.calls c where c.call_sid = p_event->>'call_sid';

  if exists (select 1 from public.opt_outs o where o.phone_number = v_customer) then
    update public.calls
       set end_reason = coalesce(end_reason, 'opted_out_after_dial'), opted_out = true, updated_at = pg_catalog.now()
     where id = v_call.id;
    return pg_catalog.jsonb_build_object('connect', false, 'reason', 'opted_out_after_dial');
  end if;

  select a.* into v_agent from public.agents a where a.id = v_call.agent_id and a.is_active;
  return pg_catalog.jsonb_build_object('connect', true, 'agent',
    case when v_agent.id is null then null else pg_catalog.jsonb_build_object(
      'id', v_agent.id, 'name', v_agent.name, 'phone_number', v_agent.phone_number,
      'client_identity', v_agent.client_identity, 'status', v_agent.status) end);
end;
$$;

-- Replaced by start_dial_attempt / attach_call_sid.
drop function public.prepare_outbound_call(public.e164, public.e164);
drop function public.register_outbound_call(jsonb);
