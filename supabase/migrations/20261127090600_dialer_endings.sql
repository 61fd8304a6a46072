-- Every way a dial attempt ends runs the same tail: the agent reserved for or busy with it is
-- released, and its lead learns the outcome (lead_attempt_ended). A status callback did this
-- already (apply_call_status); now the reconciler (reconcile_call, resolve_dial_attempt's
-- never_placed), a refusal by Twilio (fail_dial_attempt; the pacer's release_dial_attempt keeps
-- its meaning) and a fast final callback that beats
-- the reservation's CallSid (agent_customer_left, agent_reserve_outbound) do too, and
-- dialer_sweep finds what was still missed (leads left dialing, agents left reserved).
--
-- Lock order, everywhere a call and an agent are both locked: the customer number's opt-out
-- advisory lock (when taken), then the call's row, then the agent's row, then the lead's row.
-- apply_conference_event (redefined here) and agent_customer_joined lock the call's row
-- before the agent's, as apply_call_status does (apply_call_event, then agent_customer_left).
--
-- Time is read only through public.app_now().

-- The customer leg p_call_sid is no longer with its agent (see 20261126090300_agent_calls.sql).
-- Besides the agent whose current call it is, an agent still 'reserved' for its dial attempt
-- (reserved_attempt_id = the call's id, CallSid not learnt yet: the final callback beat
-- agent_reserve_outbound) is released too: available again, reservation cleared.
create or replace function public.agent_customer_left(p_call_sid text, p_wrap_up_seconds integer default 30, p_offer_only boolean default false)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_attempt bigint;
  v_agent   public.agents;
  v_result  jsonb;
begin
  select c.id into v_attempt from public.calls c where c.call_sid = p_call_sid;
  for v_agent in
    select a.* from public.agents a
     where (a.current_call_sid = p_call_sid and a.status in ('reserved', 'busy')
            and (a.status = 'reserved' or not coalesce(p_offer_only, false)))
        or (v_attempt is not null and a.status = 'reserved' and a.reserved_attempt_id = v_attempt
            and (a.current_call_sid is null or a.current_call_sid = p_call_sid))
     order by a.id
     for update
  loop
    if v_agent.status = 'reserved' then
      update public.agents set reserved_attempt_id = null
       where id = v_agent.id and reserved_attempt_id is not distinct from v_attempt and v_attempt is not null;
      v_agent := public.agent_transition(v_agent.id, 'available', null, 'system', null);
    elsif coalesce(p_wrap_up_seconds, 30) <= 0 then
      v_agent := public.agent_transition(v_agent.id, 'available', null, 'system', null);
    else
      v_agent := public.agent_transition(v_agent.id, 'wrap_up', null, 'system', null, p_call_sid, coalesce(p_wrap_up_seconds, 30));
    end if;
    v_result := pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status,
      'wrap_up_until', v_agent.wrap_up_until);
  end loop;
  return v_result;
end;
$$;

-- The tail of an ended dial attempt p_attempt_id (calls.id), whatever ended it: its agent
-- (agent_customer_left for its CallSid; a shift leg's end; without a CallSid, the agent
-- reserved for the attempt) and its lead (lead_attempt_ended). The caller holds the call's
-- row lock. Returns {agent, lead}; both null for a call that is not over.
create function public.dial_attempt_ended(p_attempt_id bigint, p_wrap_up_seconds integer default 30)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call  public.calls;
  v_agent jsonb;
  v_row   public.agents;
begin
  select * into v_call from public.calls c where c.id = p_attempt_id for update;
  if v_call.id is null or (public.call_status_rank(v_call.status) < 4 and v_call.ended_at is null) then
    return pg_catalog.jsonb_build_object('agent', null, 'lead', null);
  end if;
  if v_call.call_sid is not null then
    v_agent := coalesce(public.agent_customer_left(v_call.call_sid, p_wrap_up_seconds),
                        public.agent_shift_ended(v_call.call_sid));
  else
    for v_row in
      select a.* from public.agents a
       where a.status = 'reserved' and a.reserved_attempt_id = v_call.id and a.current_call_sid is null
       order by a.id for update
    loop
      update public.agents set reserved_attempt_id = null where id = v_row.id;
      v_row := public.agent_transition(v_row.id, 'available', null, 'system', null);
      v_agent := pg_catalog.jsonb_build_object('agent_id', v_row.id, 'status', v_row.status);
    end loop;
  end if;
  return pg_catalog.jsonb_build_object('agent', v_agent, 'lead', public.lead_attempt_ended(v_call.id));
end;
$$;

-- agent_transition (see 20261126090000_agents_identity_presence.sql), with one change: the
-- moment of the change is never before the start of the status it ends. app_now() is the
-- transaction's start, and a transaction that waited for the agent's row (the lock order
-- above) may have started before the one it waited for wrote the current status.
create or replace function public.agent_transition(
  p_agent_id bigint, p_status text, p_reason text, p_source text, p_by uuid,
  p_call_sid text default null, p_wrap_up_seconds integer default null
) returns public.agents
language plpgsql set search_path = '' as $$
declare
  v_agent public.agents;
  v_at    timestamptz;
begin
  update public.agents a set
    status            = p_status,
    status_changed_at = public.app_now(),
    pause_reason      = case when p_status = 'paused' then p_reason end,
    wrap_up_until     = case when p_status = 'wrap_up' and p_wrap_up_seconds is not null
                             then public.app_now() + pg_catalog.make_interval(secs => p_wrap_up_seconds) end,
    current_call_sid  = case when p_status in ('reserved', 'busy', 'wrap_up')
                             then coalesce(p_call_sid, a.current_call_sid) end
  where a.id = p_agent_id
  returning a.* into v_agent;
  if v_agent.id is null then
    return null;
  end if;
  select greatest(public.app_now(), pg_catalog.max(h.started_at)) into v_at
    from public.agent_status_history h where h.agent_id = p_agent_id and h.ended_at is null;
  update public.agent_status_history set ended_at = v_at
    where agent_id = p_agent_id and ended_at is null;
  insert into public.agent_status_history (agent_id, status, reason, source, changed_by, call_sid, started_at)
    values (p_agent_id, p_status, p_reason, p_source, p_by, v_agent.current_call_sid, v_at);
  return v_agent;
end $$;

-- The reconciler's view of a call (see 20261125140000_reconcile_calls.sql), plus the tail of
-- a final status it applies (dial_attempt_ended): a call whose final callback was lost still
-- releases its agent and moves its lead. p_call.wrap_up_seconds: the deployment's
-- WRAP_UP_SECONDS (30 when absent).
create or replace function public.reconcile_call(p_call jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_sid      text := p_call->>'call_sid';
  v_status   text := p_call->>'status';
  v_found    boolean := coalesce((p_call->>'found')::boolean, true);
  v_before   public.calls;
  v_after    public.calls;
  v_terminal boolean;
  v_base     jsonb;
  v_tail     jsonb;
begin
  if v_sid is null or v_sid !~ '^CA[0-9a-f]{32}$' then
    raise exception 'call_sid must be CA followed by 32 hex characters' using errcode = '22023';
  end if;
  select * into v_before from public.calls c where c.call_sid = v_sid for update;
  if v_before.id is null then
    raise exception 'no call % in the database', v_sid using errcode = '22023';
  end if;
  if v_found and public.call_status_rank(v_status) < 0 then
    raise exception 'unknown call status %', v_status using errcode = '22023';
  end if;
  v_terminal := v_found and public.call_status_rank(v_status) >= 4;

  if v_terminal then
    v_base := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
      'call_sid', v_sid, 'account_sid', p_call->>'account_sid', 'direction', p_call->>'direction',
      'from', p_call->>'from', 'to', p_call->>'to', 'parent_call_sid', p_call->>'parent_call_sid',
      'kind', 'reconcile', 'params', coalesce(p_call->'resource', '{}'::jsonb)));
    if p_call->>'start_time' is not null then
      perform public.apply_call_event(v_base || pg_catalog.jsonb_build_object(
        'call_status', 'initiated', 'event_at', p_call->>'start_time', 'dedupe_key', 'reconcile:start'));
    end if;
    perform public.apply_call_event(v_base || pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
      'call_status', v_status, 'event_at', coalesce(p_call->>'end_time', public.app_now()::text),
      'call_duration', (p_call->>'duration')::integer, 'answered_by', p_call->>'answered_by',
      'dedupe_key', 'reconcile:' || v_status)));
    v_tail := public.dial_attempt_ended(v_before.id, coalesce((p_call->>'wrap_up_seconds')::integer, 30));
  end if;

  update public.calls c set reconciled_at = public.app_now() where c.call_sid = v_sid returning * into v_after;
  return pg_catalog.jsonb_build_object(
    'call_sid', v_sid, 'status_before', v_before.status, 'status', v_after.status,
    'duration', v_after.duration, 'changed',
    (v_before.status, v_before.duration, v_before.ended_at, v_before.answered_at, v_before.started_at)
      is distinct from (v_after.status, v_after.duration, v_after.ended_at, v_after.answered_at, v_after.started_at),
    'agent', v_tail->'agent', 'lead', v_tail->'lead');
end;
$$;

-- A dial attempt without a CallSid, resolved against Twilio's list (see
-- 20261125150000_reconcile_dial_attempts.sql); an attempt that was never placed also runs the
-- tail (dial_attempt_ended): its agent is released and its lead learns the failed attempt.
create or replace function public.resolve_dial_attempt(
  p_attempt_id bigint, p_call_sids text[], p_account_sid text default null, p_dry_run boolean default false
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call public.calls;
  v_free text[];
  v_tail jsonb;
begin
  if p_call_sids is null then
    raise exception 'p_call_sids is required (an empty array when Twilio lists no call)' using errcode = '22023';
  end if;
  if exists (select 1 from pg_catalog.unnest(p_call_sids) s where s is null or s !~ '^CA[0-9a-f]{32}$') then
    raise exception 'every CallSid must be CA followed by 32 hex characters' using errcode = '22023';
  end if;
  select * into v_call from public.calls c where c.id = p_attempt_id for update;
  if v_call.id is null then
    raise exception 'no dial attempt %', p_attempt_id using errcode = '22023';
  end if;
  if v_call.call_sid is not null or v_call.end_reason is not null then
    return pg_catalog.jsonb_build_object('outcome', 'unchanged', 'call_sid', v_call.call_sid, 'end_reason', v_call.end_reason);
  end if;

  select coalesce(pg_catalog.array_agg(distinct s order by s), '{}') into v_free
    from pg_catalog.unnest(p_call_sids) s
   where not exists (select 1 from public.calls o where o.call_sid = s);

  if pg_catalog.cardinality(v_free) = 1 then
    if not p_dry_run then
      perform public.attach_call_sid(p_attempt_id, v_free[1], p_account_sid);
    end if;
    return pg_catalog.jsonb_build_object('outcome', 'attached', 'call_sid', v_free[1]);
  elsif pg_catalog.cardinality(v_free) > 1 then
    return pg_catalog.jsonb_build_object('outcome', 'ambiguous', 'call_sids', pg_catalog.to_jsonb(v_free));
  end if;

  if not p_dry_run then
    update public.calls
       set status = 'failed', end_reason = 'never_placed',
           ended_at = public.app_now(), updated_at = public.app_now()
     where id = p_attempt_id;
    update public.phone_numbers
       set calls_today = greatest(calls_today - 1, 0), call_count = greatest(call_count - 1, 0), updated_at = public.app_now()
     where phone_number = v_call.caller_id
       and calls_today_date = (v_call.created_at at time zone 'America/Sao_Paulo')::date;
    v_tail := public.dial_attempt_ended(p_attempt_id);
  end if;
  return pg_catalog.jsonb_build_object('outcome', 'never_placed', 'agent', v_tail->'agent', 'lead', v_tail->'lead');
end;
$$;

-- The attempt p_attempt_id, never given a CallSid, as Twilio refused it: failed with Twilio's
-- code, the caller ID's daily count given back, and the agent reserved for it available again.
-- The row as failed, or a null row when it was not a pending attempt (idempotent).
create function public.dial_attempt_refused(p_attempt_id bigint, p_error_code integer)
returns public.calls
language plpgsql
set search_path = ''
as $$
declare
  v_call public.calls;
  v_row  public.agents;
begin
  update public.calls
     set status = 'failed', end_reason = 'twilio_refused', error_code = p_error_code,
         ended_at = public.app_now(), updated_at = public.app_now()
   where id = p_attempt_id and call_sid is null and end_reason is null
  returning * into v_call;
  if v_call.id is null then
    return v_call;
  end if;
  update public.phone_numbers
     set calls_today = greatest(calls_today - 1, 0), call_count = greatest(call_count - 1, 0), updated_at = public.app_now()
   where phone_number = v_call.caller_id
     and calls_today_date = (v_call.created_at at time zone 'America/Sao_Paulo')::date;
  for v_row in
    select a.* from public.agents a
     where a.status = 'reserved' and a.reserved_attempt_id = v_call.id and a.current_call_sid is null
     order by a.id for update
  loop
    update public.agents set reserved_attempt_id = null where id = v_row.id;
    perform public.agent_transition(v_row.id, 'available', null, 'system', null);
  end loop;
  return v_call;
end;
$$;

-- Twilio refused to create the call of attempt p_attempt_id (see
-- 20261125120000_dial_attempts_and_opt_out_lock.sql): dial_attempt_refused, then the tail
-- (dial_attempt_ended): the lead learns a failed attempt under its retry rules (a preview
-- dial, click-to-call). The pacer's own refusals go through release_dial_attempt instead.
create or replace function public.fail_dial_attempt(p_attempt_id bigint, p_error_code integer default null)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call public.calls;
  v_tail jsonb;
begin
  v_call := public.dial_attempt_refused(p_attempt_id, p_error_code);
  if v_call.id is null then
    return pg_catalog.jsonb_build_object('failed', false);
  end if;
  v_tail := public.dial_attempt_ended(v_call.id);
  return pg_catalog.jsonb_build_object('failed', true, 'agent', v_tail->'agent', 'lead', v_tail->'lead');
end;
$$;

-- A pacer dial attempt Twilio refused (see 20261127090300_pacer.sql), same answer: the attempt
-- failed (dial_attempt_refused) and the lead pending again with its attempt not counted, so a
-- later round dials it; then the call's outcome is recorded (lead_attempt_ended, which leaves
-- a lead no longer dialing alone), so neither the sweep nor a late callback moves the lead
-- again. Idempotent: a lead no longer dialing this attempt is left alone.
create or replace function public.release_dial_attempt(p_attempt_id bigint, p_error_code integer default null)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_failed public.calls;
  v_call   public.calls;
  v_lead   integer := 0;
begin
  v_failed := public.dial_attempt_refused(p_attempt_id, p_error_code);
  select * into v_call from public.calls c where c.id = p_attempt_id;
  if v_call.id is null then
    return pg_catalog.jsonb_build_object('failed', false, 'released', false);
  end if;
  if v_failed.id is not null then
    update public.leads l
       set status = 'pending', attempts = greatest(l.attempts - 1, 0), updated_at = public.app_now()
     where l.id = v_call.lead_id and l.status = 'dialing'
       and not exists (select 1 from public.calls o where o.lead_id = l.id and o.id > v_call.id);
    get diagnostics v_lead = row_count;
    perform public.lead_attempt_ended(v_call.id);
  end if;
  return pg_catalog.jsonb_build_object('failed', v_failed.id is not null, 'released', v_lead > 0);
end;
$$;

-- A call Twilio accepted: the reservation start_dial_attempt took for attempt p_attempt_id
-- learns the CallSid (see 20261126090300_agent_calls.sql). When the call is already over (its
-- final callback came first) the agent is not left reserved: the reservation is released and
-- the answer is {agent_id, status: 'available', released: true}. Null when the agent is no
-- longer reserved for that attempt. Locks the call's row, then the agent's.
create or replace function public.agent_reserve_outbound(p_agent_id bigint, p_call_sid public.call_sid, p_attempt_id bigint)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call  public.calls;
  v_agent public.agents;
begin
  select * into v_call from public.calls c where c.id = p_attempt_id for update;
  select * into v_agent from public.agents a
   where a.id = p_agent_id and a.status = 'reserved' and a.reserved_attempt_id = p_attempt_id
     and (a.current_call_sid is null or a.current_call_sid = p_call_sid)
   for update;
  if v_agent.id is null then
    return null;
  end if;
  if v_call.id is null or v_call.ended_at is not null or public.call_status_rank(v_call.status) >= 4
     or public.call_is_over(p_call_sid) then
    update public.agents set reserved_attempt_id = null where id = v_agent.id;
    v_agent := public.agent_transition(v_agent.id, 'available', null, 'system', null);
    return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status, 'released', true);
  end if;
  update public.agents set current_call_sid = p_call_sid where id = v_agent.id returning * into v_agent;
  return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status);
end;
$$;

-- A conference callback of an agent's room (see 20261126090300_agent_calls.sql), unchanged
-- but for the lock order: the participant's call row is locked before the agent's row, as
-- apply_call_status does, so a join and a final status of the same call never deadlock.
create or replace function public.apply_conference_event(p_event jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_name     text := p_event->>'conference_name';
  v_event    text := p_event->>'event';
  v_call_sid text := p_event->>'call_sid';
  v_label    text := nullif(p_event->>'label', '');
  v_seq      integer := (p_event->>'sequence_number')::integer;
  v_agent    public.agents;
  v_leg      public.agent_room_legs;
  v_shift    boolean;
  v_result   jsonb;
begin
  if v_name is null or v_name !~ '^agent-[1-9][0-9]{0,17}$' then
    return pg_catalog.jsonb_build_object('applied', false, 'reason', 'not_an_agent_room');
  end if;
  if v_call_sid is not null then
    perform 1 from public.calls c where c.call_sid = v_call_sid for update;
  end if;
  -- Then the agent row, so the callbacks of one room apply one at a time.
  select * into v_agent from public.agents where id = pg_catalog.substr(v_name, 7)::bigint for update;
  if v_agent.id is null then
    return pg_catalog.jsonb_build_object('applied', false, 'reason', 'unknown_agent');
  end if;

  if v_event in ('participant-join', 'participant-leave') and v_call_sid is not null then
    insert into public.agent_room_legs as l (agent_id, call_sid, label, joined_at, joined_seq, left_at, left_seq)
    values (v_agent.id, v_call_sid, v_label,
            case when v_event = 'participant-join' then public.app_now() end,
            case when v_event = 'participant-join' then v_seq end,
            case when v_event = 'participant-leave' then public.app_now() end,
            case when v_event = 'participant-leave' then v_seq end)
    on conflict (agent_id, call_sid) do update set
      label      = coalesce(l.label, excluded.label),
      joined_at  = coalesce(l.joined_at, excluded.joined_at),
      joined_seq = case when excluded.joined_at is null then l.joined_seq
                        else greatest(l.joined_seq, excluded.joined_seq) end,
      left_at    = coalesce(l.left_at, excluded.left_at),
      left_seq   = case when excluded.left_at is null then l.left_seq
                        else greatest(l.left_seq, excluded.left_seq) end
    returning l.* into v_leg;
    v_shift := coalesce(v_leg.label, '') = 'agent' or v_call_sid = v_agent.shift_call_sid;
  end if;

  if v_event = 'conference-end' then
    update public.agents set room_conference_sid = null
     where id = v_agent.id and room_conference_sid = p_event->>'conference_sid';
  elsif v_event = 'conference-start' then
    update public.agents set room_conference_sid = coalesce(p_event->>'conference_sid', room_conference_sid) where id = v_agent.id;
  elsif v_event = 'participant-join' and v_call_sid is not null then
    if v_shift then
      if v_call_sid = v_agent.shift_call_sid and public.agent_room_leg_present(v_leg) and not public.call_is_over(v_call_sid) then
        update public.agents set room_conference_sid = coalesce(p_event->>'conference_sid', room_conference_sid) where id = v_agent.id;
      end if;
    elsif coalesce(v_leg.label, '') like 'customer%'
          or (v_agent.status in ('reserved', 'busy') and v_agent.current_call_sid = v_call_sid) then
      v_result := public.agent_customer_joined(v_agent.id, v_call_sid);
      if not coalesce((v_result->>'ignored')::boolean, false) then
        update public.agents set room_conference_sid = coalesce(p_event->>'conference_sid', room_conference_sid) where id = v_agent.id;
      end if;
    end if;
  elsif v_event = 'participant-leave' and v_call_sid is not null then
    if v_shift then
      v_result := public.agent_shift_ended(v_call_sid);
    else
      -- Only the agent's own current customer is released (agent_customer_left checks it).
      v_result := public.agent_customer_left(v_call_sid, (p_event->>'wrap_up_seconds')::integer);
    end if;
  end if;
  return pg_catalog.jsonb_build_object('applied', true, 'agent_id', v_agent.id, 'agent', v_result);
end;
$$;

-- An inbound call reached /voice/inbound (see 20261126090300_agent_calls.sql), unchanged but
-- for the lock order: a repeat of the webhook for a call already recorded locks its row before
-- the agent's.
create or replace function public.start_inbound_call(p_event jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_opted_out boolean;
  v_agent     public.agents;
  v_route     text := 'none';
begin
  -- The call's row (a repeated webhook) before the agent's: the lock order of every function.
  perform 1 from public.calls c where c.call_sid = p_event->>'call_sid' for update;
  select exists (select 1 from public.opt_outs o where o.phone_number = p_event->>'from') into v_opted_out;
  select a.* into v_agent
    from public.phone_numbers n join public.agents a on a.id = n.assigned_agent_id
   where n.phone_number = p_event->>'to' and n.is_active and a.is_active
   for update of a;

  if v_agent.id is not null then
    if v_agent.status = 'reserved' and v_agent.current_call_sid = p_event->>'call_sid' then
      v_route := 'offer';
    elsif public.agent_is_routable(v_agent, coalesce((p_event->>'presence_seconds')::integer, 20))
          and (not v_opted_out or coalesce(p_event->>'opt_out_inbound', 'continue') = 'continue') then
      v_agent := public.agent_transition(v_agent.id, 'reserved', null, 'system', null, p_event->>'call_sid');
      v_route := 'offer';
    elsif v_agent.shift_call_sid is not null then
      v_route := 'voicemail';
    else
      v_route := 'ring';
    end if;
  end if;

  perform public.apply_call_event(p_event || pg_catalog.jsonb_build_object(
    'kind', 'voice', 'dedupe_key', 'voice:inbound', 'agent_id', v_agent.id, 'opted_out', v_opted_out));

  return pg_catalog.jsonb_build_object(
    'opted_out', v_opted_out,
    'route', v_route,
    'agent', case when v_agent.id is null then null else pg_catalog.jsonb_build_object(
      'id', v_agent.id, 'name', v_agent.name, 'phone_number', v_agent.phone_number,
      'client_identity', v_agent.client_identity, 'status', v_agent.status) end);
end;
$$;

-- What the heartbeat sweeps up, so that no lost callback leaves a lead or an agent stuck:
--   endings    dialer calls over for more than p_stale_seconds whose end never reached their
--              lead (no lead_outcome_at): the tail runs now (dial_attempt_ended)
--   leads      leads 'dialing' for more than p_stale_seconds (since last_attempt_at) with no
--              live call: no call recorded since the claim → pending again, the attempt given
--              back; the latest call over → its tail, or a retry per its outcome; an attempt
--              never attached to a Twilio call for p_stale_seconds → retried ('canceled', not
--              counted; the dial-attempt reconciler settles the calls row)
--   agents     agents 'reserved' for more than p_stale_seconds for a call that is over
--              (current_call_sid of an ended call, or reserved_attempt_id of an ended attempt
--              with no CallSid learnt) → available
-- Each call is handled under its row lock, then its agent, then its lead. Returns the counts
-- {endings, leads, agents}.
create function public.dialer_sweep(p_stale_seconds integer default 300, p_wrap_up_seconds integer default 30)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_now     timestamptz := public.app_now();
  v_stale   timestamptz := public.app_now() - pg_catalog.make_interval(secs => greatest(coalesce(p_stale_seconds, 300), 0));
  v_id      bigint;
  v_lead    public.leads;
  v_call    public.calls;
  v_agent   public.agents;
  v_endings integer := 0;
  v_leads   integer := 0;
  v_agents  integer := 0;
  v_tail    jsonb;
begin
  -- Ended dialer calls whose lead never heard of it (the last week: older ones are history).
  for v_id in
    select c.id from public.calls c
     where c.lead_id is not null and c.lead_outcome_at is null
       and c.status in ('completed', 'busy', 'no-answer', 'failed', 'canceled')
       and coalesce(c.ended_at, c.updated_at) <= v_stale
       and c.created_at > v_now - interval '7 days'
     order by c.id
     limit 1000
  loop
    v_tail := public.dial_attempt_ended(v_id, p_wrap_up_seconds);
    if coalesce((v_tail #>> '{lead,applied}')::boolean, false) then
      v_endings := v_endings + 1;
    end if;
  end loop;

  -- Leads left dialing with no live call.
  for v_id in
    select l.id from public.leads l
     where l.status = 'dialing' and coalesce(l.last_attempt_at, l.updated_at) <= v_stale
     order by l.id
     limit 1000
  loop
    v_call := null;
    v_tail := null;
    select * into v_call from public.calls c where c.lead_id = v_id order by c.id desc limit 1;
    if v_call.id is not null then
      select * into v_call from public.calls c where c.id = v_call.id for update;
      if v_call.ended_at is not null or public.call_status_rank(v_call.status) >= 4 then
        -- Its tail first (call, agent, then lead: the lock order).
        v_tail := public.dial_attempt_ended(v_call.id, p_wrap_up_seconds);
        select * into v_call from public.calls c where c.id = v_call.id;
      end if;
    end if;
    select * into v_lead from public.leads l where l.id = v_id for update;
    if v_lead.status is distinct from 'dialing' then
      -- The tail moved it.
      if v_tail is not null and coalesce((v_tail #>> '{lead,lead,changed}')::boolean, false) then
        v_leads := v_leads + 1;
      end if;
    elsif v_lead.last_attempt_at > v_stale then
      null;  -- dialed again meanwhile
    elsif v_call.id is null or v_call.created_at < v_lead.last_attempt_at then
      -- Claimed (or taken by a preview dial) but no call was ever recorded.
      update public.leads set status = 'pending', preview_agent_id = null, attempts = greatest(attempts - 1, 0),
             updated_at = v_now
       where id = v_lead.id;
      v_leads := v_leads + 1;
    elsif v_call.ended_at is not null or public.call_status_rank(v_call.status) >= 4 then
      -- Over, but its end could not move the lead (applied before the lead was dialing again).
      perform public.lead_schedule_retry(v_lead.id, coalesce(v_call.outcome, 'failed'), false, false);
      v_leads := v_leads + 1;
    elsif v_call.call_sid is null and v_call.created_at <= v_stale then
      -- Never attached to a Twilio call: retried (the dial-attempt reconciler settles the row).
      perform public.lead_schedule_retry(v_lead.id, 'canceled', false, false);
      v_leads := v_leads + 1;
    end if;
  end loop;

  -- Agents reserved for a call that is over.
  for v_id in
    select a.id from public.agents a
     where a.status = 'reserved' and a.status_changed_at <= v_stale
       and (exists (select 1 from public.calls c where c.call_sid = a.current_call_sid
                     and (c.ended_at is not null or public.call_status_rank(c.status) >= 4))
            or (a.current_call_sid is null and exists (
                  select 1 from public.calls c where c.id = a.reserved_attempt_id
                     and (c.ended_at is not null or public.call_status_rank(c.status) >= 4))))
     order by a.id
  loop
    select * into v_agent from public.agents a where a.id = v_id;
    if v_agent.current_call_sid is not null then
      perform 1 from public.calls c where c.call_sid = v_agent.current_call_sid for update;
    elsif v_agent.reserved_attempt_id is not null then
      perform 1 from public.calls c where c.id = v_agent.reserved_attempt_id for update;
    end if;
    select * into v_agent from public.agents a where a.id = v_id for update;
    continue when v_agent.status <> 'reserved';
    if (v_agent.current_call_sid is not null and public.call_is_over(v_agent.current_call_sid))
       or (v_agent.current_call_sid is null and exists (
             select 1 from public.calls c where c.id = v_agent.reserved_attempt_id
                and (c.ended_at is not null or public.call_status_rank(c.status) >= 4))) then
      update public.agents set reserved_attempt_id = null where id = v_agent.id;
      perform public.agent_transition(v_agent.id, 'available', null, 'system', null);
      v_agents := v_agents + 1;
    end if;
  end loop;

  return pg_catalog.jsonb_build_object('endings', v_endings, 'leads', v_leads, 'agents', v_agents);
end;
$$;

-- The sweep's first query: ended dialer calls not yet applied to their lead.
create index calls_lead_outcome_pending_idx on public.calls (id)
  where lead_id is not null and lead_outcome_at is null;

revoke execute on function
  public.agent_customer_left(text, integer, boolean), public.dial_attempt_ended(bigint, integer),
  public.reconcile_call(jsonb), public.resolve_dial_attempt(bigint, text[], text, boolean),
  public.fail_dial_attempt(bigint, integer), public.agent_reserve_outbound(bigint, public.call_sid, bigint),
  public.apply_conference_event(jsonb), public.dialer_sweep(integer, integer),
  public.dial_attempt_refused(bigint, integer), public.release_dial_attempt(bigint, integer)
  from public, anon, authenticated;
grant execute on function
  public.agent_customer_left(text, integer, boolean), public.dial_attempt_ended(bigint, integer),
  public.reconcile_call(jsonb), public.resolve_dial_attempt(bigint, text[], text, boolean),
  public.fail_dial_attempt(bigint, integer), public.agent_reserve_outbound(bigint, public.call_sid, bigint),
  public.apply_conference_event(jsonb), public.dialer_sweep(integer, integer),
  public.dial_attempt_refused(bigint, integer), public.release_dial_attempt(bigint, integer)
  to service_role;
