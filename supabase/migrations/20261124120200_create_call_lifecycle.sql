-- The life of a call in the database: placing an outbound call (opt-out check and caller ID
-- in one round trip), taking an inbound call, and applying Twilio's callbacks.
--
-- Callbacks arrive out of order and may repeat. apply_call_event folds each one into the
-- calls row with commutative, idempotent operations only (max of a status rank, least of
-- timestamps, greatest of durations, coalesce of facts that never change), so any order and
-- any duplication of a call's callbacks ends in the same row.

-- Forward order of call statuses; a call never moves to a lower rank. Terminal statuses
-- outrank every live one; among them the order only makes the merge deterministic.
create or replace function public.call_status_rank(p_status text) returns integer
language sql immutable parallel safe
as $$
  select case p_status
    when 'queued' then 0 when 'initiated' then 1 when 'ringing' then 2 when 'in-progress' then 3
    when 'canceled' then 4 when 'no-answer' then 5 when 'busy' then 6 when 'failed' then 7
    when 'completed' then 8 else -1 end;
$$;

-- Upsert the calls row from one event (jsonb with call_sid, call_status, event_at, ...) and
-- log the event in call_events. Returns the merged call and whether the event was new.
create or replace function public.apply_call_event(p_event jsonb) returns jsonb
language plpgsql
as $$
declare
  v_sid       text := p_event->>'call_sid';
  v_kind      text := coalesce(p_event->>'kind', 'status');
  v_status    text := p_event->>'call_status';
  v_at        timestamptz := coalesce((p_event->>'event_at')::timestamptz, now());
  v_seq       integer := (p_event->>'sequence_number')::integer;
  v_duration  integer := (p_event->>'call_duration')::integer;
  v_answered  text := p_event->>'answered_by';
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
  v_terminal := public.call_status_rank(v_status) >= 4;
  v_key := coalesce(p_event->>'dedupe_key', v_kind || ':' || v_status || ':' || coalesce(v_seq::text, '-'));

  insert into public.calls as c (
    call_sid, parent_call_sid, account_sid, direction, from_number, to_number, status,
    answered_by, started_at, answered_at, ended_at, duration, last_sequence)
  values (
    v_sid, p_event->>'parent_call_sid', p_event->>'account_sid', p_event->>'direction',
    p_event->>'from', p_event->>'to', v_status, v_answered,
    v_at,
    case when v_status = 'in-progress' then v_at
         when v_status = 'completed' and v_duration > 0 then v_at - make_interval(secs => v_duration) end,
    case when v_terminal then v_at end,
    v_duration, v_seq)
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
    updated_at      = now()
  returning * into v_call;

  insert into public.call_events as e (call_sid, kind, dedupe_key, call_status, sequence_number, event_at, params)
  values (v_sid, v_kind, v_key, p_event->>'call_status', v_seq, v_at, coalesce(p_event->'params', '{}'::jsonb))
  on conflict (call_sid, dedupe_key) do update
    set received_count = e.received_count + 1, last_received_at = now()
  returning received_count into v_count;

  return jsonb_build_object(
    'call_sid', v_call.call_sid, 'status', v_call.status, 'answered_at', v_call.answered_at,
    'ended_at', v_call.ended_at, 'duration', v_call.duration, 'answered_by', v_call.answered_by,
    'agent_id', v_call.agent_id, 'campaign_id', v_call.campaign_id, 'duplicate', v_count > 1);
end;
$$;

-- An inbound call reached /voice/inbound: record it, and answer in the same round trip
-- whether the caller opted out and which agent owns the dialed number (if any).
create or replace function public.start_inbound_call(p_event jsonb) returns jsonb
language plpgsql
as $$
declare
  v_from      text := p_event->>'from';
  v_to        text := p_event->>'to';
  v_opted_out boolean;
  v_agent     public.agents;
begin
  select exists (select 1 from public.opt_outs o where o.phone_number = v_from) into v_opted_out;
  select a.* into v_agent
    from public.phone_numbers n join public.agents a on a.id = n.assigned_agent_id
   where n.phone_number = v_to and n.is_active and a.is_active;

  perform public.apply_call_event(p_event || jsonb_build_object('kind', 'voice', 'dedupe_key', 'voice:inbound'));
  update public.calls set agent_id = coalesce(agent_id, v_agent.id), opted_out = v_opted_out
   where call_sid = p_event->>'call_sid';

  return jsonb_build_object(
    'opted_out', v_opted_out,
    'agent', case when v_agent.id is null then null else jsonb_build_object(
      'id', v_agent.id, 'name', v_agent.name, 'phone_number', v_agent.phone_number,
      'client_identity', v_agent.client_identity, 'status', v_agent.status) end);
end;
$$;

-- A dialer call was answered (/voice/outbound): record it and return its agent, if any.
create or replace function public.start_outbound_answer(p_event jsonb) returns jsonb
language plpgsql
as $$
declare
  v_agent public.agents;
begin
  perform public.apply_call_event(p_event || jsonb_build_object('kind', 'voice', 'dedupe_key', 'voice:answer'));
  select a.* into v_agent
    from public.calls c join public.agents a on a.id = c.agent_id
   where c.call_sid = p_event->>'call_sid' and a.is_active;
  if v_agent.id is null then
    return null;
  end if;
  return jsonb_build_object('id', v_agent.id, 'name', v_agent.name, 'phone_number', v_agent.phone_number,
                            'client_identity', v_agent.client_identity, 'status', v_agent.status);
end;
$$;

-- Before dialing: refuse opted-out numbers and pick the caller ID, in one round trip.
-- With p_caller_id the given number must be an active pool number; otherwise the least
-- recently used unassigned number still under its daily cap is taken (SKIP LOCKED, so
-- concurrent dialers never get the same number at the same instant). The day is Brasília's.
create or replace function public.prepare_outbound_call(p_to public.e164, p_caller_id public.e164 default null)
returns jsonb
language plpgsql
as $$
declare
  v_today date := (now() at time zone 'America/Sao_Paulo')::date;
  v_number public.phone_numbers;
begin
  if exists (select 1 from public.opt_outs where phone_number = p_to) then
    return jsonb_build_object('allowed', false, 'reason', 'opted_out');
  end if;

  select * into v_number from public.phone_numbers n
   where n.is_active
     and (case when p_caller_id is null
               then n.assigned_agent_id is null
                    and (n.calls_today_date is distinct from v_today or n.calls_today < n.daily_cap)
               else n.phone_number = p_caller_id end)
   order by n.last_used_at nulls first, n.id
   limit 1
   for update skip locked;

  if v_number.id is null then
    return jsonb_build_object('allowed', false,
      'reason', case when p_caller_id is null then 'no_caller_id_available' else 'caller_id_not_in_pool' end);
  end if;

  update public.phone_numbers set
    calls_today      = case when calls_today_date = v_today then calls_today + 1 else 1 end,
    calls_today_date = v_today,
    call_count       = call_count + 1,
    last_used_at     = now(),
    updated_at       = now()
  where id = v_number.id;

  return jsonb_build_object('allowed', true, 'caller_id', v_number.phone_number);
end;
$$;

-- After Twilio accepted a call: attach what we know (campaign, lead, agent, caller ID). A
-- status callback may already have created the row; the merge keeps both.
create or replace function public.register_outbound_call(p_call jsonb) returns jsonb
language plpgsql
as $$
declare
  v_call public.calls;
begin
  insert into public.calls as c (call_sid, account_sid, direction, from_number, to_number, caller_id,
                                 agent_id, campaign_id, lead_id, status)
  values (p_call->>'call_sid', p_call->>'account_sid', 'outbound-api', p_call->>'from', p_call->>'to',
          p_call->>'from', (p_call->>'agent_id')::bigint, (p_call->>'campaign_id')::bigint,
          (p_call->>'lead_id')::bigint, coalesce(p_call->>'status', 'queued'))
  on conflict (call_sid) do update set
    account_sid = coalesce(c.account_sid, excluded.account_sid),
    direction   = coalesce(c.direction, excluded.direction),
    from_number = coalesce(c.from_number, excluded.from_number),
    to_number   = coalesce(c.to_number, excluded.to_number),
    caller_id   = coalesce(c.caller_id, excluded.caller_id),
    agent_id    = coalesce(c.agent_id, excluded.agent_id),
    campaign_id = coalesce(c.campaign_id, excluded.campaign_id),
    lead_id     = coalesce(c.lead_id, excluded.lead_id),
    status      = case when public.call_status_rank(excluded.status) > public.call_status_rank(c.status)
                       then excluded.status else c.status end,
    updated_at  = now()
  returning * into v_call;
  if v_call.lead_id is not null then
    update public.leads set last_call_sid = v_call.call_sid, attempts = attempts + 1, status = 'dialing'
     where id = v_call.lead_id and last_call_sid is distinct from v_call.call_sid;
  end if;
  return to_jsonb(v_call);
end;
$$;

-- Apply the customer's opt-out from inside a call (IVR key): list the number and mark the call.
create or replace function public.opt_out_from_call(p_call_sid public.call_sid, p_phone public.e164, p_source text default 'ivr')
returns jsonb
language plpgsql
as $$
declare
  v_result jsonb;
begin
  v_result := public.opt_out_add(p_phone, 'pedido do cliente durante a ligação', p_source, p_call_sid);
  update public.calls set opted_out = true where call_sid = p_call_sid;
  return v_result;
end;
$$;

revoke execute on function public.apply_call_event(jsonb), public.start_inbound_call(jsonb),
                          public.start_outbound_answer(jsonb),
                          public.prepare_outbound_call(public.e164, public.e164),
                          public.register_outbound_call(jsonb),
                          public.opt_out_from_call(public.call_sid, public.e164, text)
  from public, anon, authenticated;
grant execute on function public.apply_call_event(jsonb), public.start_inbound_call(jsonb),
                          public.start_outbound_answer(jsonb),
                          public.prepare_outbound_call(public.e164, public.e164),
                          public.register_outbound_call(jsonb),
                          public.opt_out_from_call(public.call_sid, public.e164, text)
  to service_role;
