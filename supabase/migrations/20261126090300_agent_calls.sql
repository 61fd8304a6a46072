-- An agent's calls: the shift leg waiting in the agent's room (conference agent-<id>), a call
-- to the agent's own number offered to them while they are routable, the customer joining and
-- leaving the room, and click-to-call from the agent's own number.
--
-- State an agent goes through on a call, always through agent_transition (history kept):
--   available --(offer: customer waits in the agent's queue)--> reserved
--   reserved  --(agent answers)--> busy            reserved --(customer gone / ring timeout)--> available (+ missed call)
--   any       --(customer joins the room)--> busy  busy --(customer leaves)--> wrap_up (available when no wrap-up time)
-- The shift leg ending clears shift_call_sid, and an available agent becomes offline.
-- Room and status callbacks are applied in any order, repeated: a join after the call ended or
-- after its leave, a shift leg's join, or any participant who is not the agent's customer never
-- makes the agent busy (apply_conference_event, agent_room_legs).

-- The agent's room as Twilio named it (ConferenceSid, from the conference callbacks): what the
-- Participants API needs to hold or release the customer.
alter table public.agents add column room_conference_sid text check (room_conference_sid ~ '^CF[0-9a-f]{32}$');

-- Every leg seen in an agent's room (conference callbacks): its label, when it joined and when
-- it left, with Twilio's SequenceNumber of each event. Room callbacks arrive in any order and
-- repeated; this is what tells a late join (the leg already left) from a real one, and which
-- shift leg (label 'agent') is still in the room when another one ends.
create table public.agent_room_legs (
  agent_id   bigint not null references public.agents (id) on delete cascade,
  call_sid   public.call_sid not null,
  label      text,
  joined_at  timestamptz,
  joined_seq integer,
  left_at    timestamptz,
  left_seq   integer,
  primary key (agent_id, call_sid)
);
alter table public.agent_room_legs enable row level security;

-- True while the leg is in the room as far as its callbacks tell: it joined and has not left
-- since (a leave numbered before the join is an earlier stay).
create function public.agent_room_leg_present(p_leg public.agent_room_legs)
returns boolean
language sql immutable set search_path = '' as $$
  select p_leg.joined_at is not null
     and (p_leg.left_at is null
          or (p_leg.joined_seq is not null and p_leg.left_seq is not null and p_leg.joined_seq > p_leg.left_seq))
$$;

-- True when the call has ended (a final status is recorded).
create function public.call_is_over(p_call_sid text)
returns boolean
language sql stable set search_path = '' as $$
  select exists (select 1 from public.calls c
                  where c.call_sid = p_call_sid
                    and (c.ended_at is not null or public.call_status_rank(c.status) >= 4))
$$;

-- The dial attempt (calls.id) a click-to-call reserved the agent for, before Twilio gave the
-- call its CallSid: the reservation is taken in the same transaction as the attempt, so two
-- clicks never place two calls for one agent.
alter table public.agents add column reserved_attempt_id bigint;

-- The softphone's shift leg reached /voice/agent-session. Returns the agent (id, name,
-- client_identity, status) with shift_call_sid set, or null when the identity names no active
-- agent with an enabled agent login. A newer leg replaces an older one.
create or replace function public.agent_shift_started(p_agent_identity text, p_call_sid public.call_sid)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent public.agents;
begin
  update public.agents a set shift_call_sid = p_call_sid
   where a.client_identity = p_agent_identity and a.is_active
     and exists (select 1 from public.users u
                  where u.agent_id = a.id and u.role = 'agent' and u.is_active and u.disabled_at is null)
  returning a.* into v_agent;
  if v_agent.id is null then
    return null;
  end if;
  return pg_catalog.jsonb_build_object('id', v_agent.id, 'name', v_agent.name,
    'client_identity', v_agent.client_identity, 'status', v_agent.status);
end;
$$;

-- The shift leg p_call_sid ended (its conference leave or its final status callback). Only the
-- agent's current shift leg counts: an older leg (a reloaded page) or one that never got into
-- the room (a second tab refused by the room) ending changes nothing. When another shift leg of
-- the agent is still in the room it becomes the shift; otherwise the agent has no room any
-- more and an available agent becomes offline. Idempotent; null when no agent had that
-- current shift leg.
create or replace function public.agent_shift_ended(p_call_sid text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent public.agents;
  v_other text;
begin
  select * into v_agent from public.agents a where a.shift_call_sid = p_call_sid for update;
  if v_agent.id is null then
    return null;
  end if;
  select l.call_sid into v_other from public.agent_room_legs l
   where l.agent_id = v_agent.id and l.label = 'agent' and l.call_sid <> p_call_sid
     and public.agent_room_leg_present(l) and not public.call_is_over(l.call_sid)
   order by l.joined_at desc
   limit 1;
  if v_other is not null then
    update public.agents set shift_call_sid = v_other where id = v_agent.id returning * into v_agent;
    return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status, 'shift_call_sid', v_other);
  end if;
  update public.agents set shift_call_sid = null, room_conference_sid = null
   where id = v_agent.id
  returning * into v_agent;
  if v_agent.status = 'available' then
    v_agent := public.agent_transition(v_agent.id, 'offline', null, 'system', null);
  end if;
  return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status);
end;
$$;

-- The customer leg p_call_sid is no longer with its agent (hung up, left the room, went to
-- voicemail). The agent whose current call it is: reserved (an offer never answered) →
-- available (the call, never connected to the agent, is one of the agent's missed calls:
-- see agent_poll); busy → wrap_up for p_wrap_up_seconds
-- (available when 0). Anything else (already in wrap-up, another call) is left alone, so
-- repeated and reordered callbacks change nothing twice. With p_offer_only, only an offer is
-- released (an offer that ended while the agent was answering it is the agent's to finish).
-- Null when no agent was on it.
create or replace function public.agent_customer_left(p_call_sid text, p_wrap_up_seconds integer default 30, p_offer_only boolean default false)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent public.agents;
begin
  select a.* into v_agent from public.agents a
   where a.current_call_sid = p_call_sid and a.status in ('reserved', 'busy')
     and (a.status = 'reserved' or not coalesce(p_offer_only, false))
   for update;
  if v_agent.id is null then
    return null;
  end if;
  if v_agent.status = 'reserved' then
    v_agent := public.agent_transition(v_agent.id, 'available', null, 'system', null);
  elsif coalesce(p_wrap_up_seconds, 30) <= 0 then
    v_agent := public.agent_transition(v_agent.id, 'available', null, 'system', null);
  else
    v_agent := public.agent_transition(v_agent.id, 'wrap_up', null, 'system', null, p_call_sid, coalesce(p_wrap_up_seconds, 30));
  end if;
  return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status,
    'wrap_up_until', v_agent.wrap_up_until);
end;
$$;

-- A customer leg joined agent p_agent_id's room (conference callback): the agent is busy on
-- it and the call is theirs. Nothing happens when the call has already ended, when the leg has
-- already left the room (a join delivered late), or when the agent is reserved for or busy
-- with another call that is still live (a late join never takes the agent off their call).
-- Idempotent.
create or replace function public.agent_customer_joined(p_agent_id bigint, p_call_sid public.call_sid)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent public.agents;
  v_leg   public.agent_room_legs;
begin
  select * into v_agent from public.agents where id = p_agent_id for update;
  if v_agent.id is null then
    return null;
  end if;
  select * into v_leg from public.agent_room_legs l where l.agent_id = p_agent_id and l.call_sid = p_call_sid;
  if public.call_is_over(p_call_sid)
     or (v_leg.call_sid is not null and not public.agent_room_leg_present(v_leg))
     or p_call_sid = v_agent.shift_call_sid
     or (v_agent.status in ('reserved', 'busy') and v_agent.current_call_sid is distinct from p_call_sid
         and v_agent.current_call_sid is not null and not public.call_is_over(v_agent.current_call_sid)) then
    return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status, 'ignored', true);
  end if;
  if not (v_agent.status = 'busy' and v_agent.current_call_sid = p_call_sid) then
    v_agent := public.agent_transition(v_agent.id, 'busy', null, 'system', null, p_call_sid);
  end if;
  update public.calls set agent_id = p_agent_id, updated_at = pg_catalog.now()
   where call_sid = p_call_sid and agent_id is null;
  return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status);
end;
$$;

-- A call status callback (see apply_call_event), and what a final status means for agents:
-- a customer leg that ended releases its agent (wrap-up, or back to available with a missed
-- call when it was still an offer); a shift leg that ended leaves its agent without a room.
-- p_event.wrap_up_seconds is the deployment's WRAP_UP_SECONDS. One round trip per callback.
create or replace function public.apply_call_status(p_event jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_result jsonb;
  v_agent  jsonb;
begin
  v_result := public.apply_call_event(p_event);
  if public.call_status_rank(p_event->>'call_status') >= 4 then
    v_agent := coalesce(
      public.agent_customer_left(p_event->>'call_sid', (p_event->>'wrap_up_seconds')::integer),
      public.agent_shift_ended(p_event->>'call_sid'));
  end if;
  return v_result || pg_catalog.jsonb_build_object('agent', v_agent);
end;
$$;

-- A conference callback of an agent's room (friendly name agent-<id>). p_event: conference_name,
-- conference_sid, event (Twilio's StatusCallbackEvent), call_sid, label (ParticipantLabel),
-- sequence_number (SequenceNumber), wrap_up_seconds. Every join and leave is kept in
-- agent_room_legs first, so callbacks applied in any order, or twice, end in the same state:
--   a shift leg (label 'agent', or the agent's current shift_call_sid) is never a customer; its
--   join records the room when it is the current shift leg; its leave ends the shift only when
--   it is the current one (agent_shift_ended);
--   any other leg is this agent's customer only when it is the call the agent is reserved for or
--   busy with, or its label starts with 'customer' (anyone else, e.g. a supervisor listening,
--   changes nothing); its join makes the agent busy (agent_customer_joined: not after the call
--   ended or the leg left, never over another live call); its leave starts the wrap-up;
--   conference-end forgets the room. Other events change nothing.
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
  -- The agent row is locked first, so the callbacks of one room apply one at a time.
  select * into v_agent from public.agents where id = pg_catalog.substr(v_name, 7)::bigint for update;
  if v_agent.id is null then
    return pg_catalog.jsonb_build_object('applied', false, 'reason', 'unknown_agent');
  end if;

  if v_event in ('participant-join', 'participant-leave') and v_call_sid is not null then
    insert into public.agent_room_legs as l (agent_id, call_sid, label, joined_at, joined_seq, left_at, left_seq)
    values (v_agent.id, v_call_sid, v_label,
            case when v_event = 'participant-join' then pg_catalog.now() end,
            case when v_event = 'participant-join' then v_seq end,
            case when v_event = 'participant-leave' then pg_catalog.now() end,
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

-- The agent takes the offered customer p_call_sid: reserved for it → busy. Refused with
-- {ok: false, reason: 'offer_gone'} when the agent is not reserved for that call (someone else
-- answered it, it timed out, the customer hung up), and with 'not_waiting_yet' while the
-- customer has not reached the queue (agent_offer_waiting not called yet).
create or replace function public.agent_answer_offer(p_agent_id bigint, p_call_sid text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent public.agents;
begin
  select * into v_agent from public.agents where id = p_agent_id for update;
  if v_agent.id is null or v_agent.status <> 'reserved' or v_agent.current_call_sid is distinct from p_call_sid
     or exists (select 1 from public.calls c where c.call_sid = p_call_sid and public.call_status_rank(c.status) >= 4) then
    return pg_catalog.jsonb_build_object('ok', false, 'reason', 'offer_gone');
  end if;
  -- Until the customer waits in the queue they are still hearing the disclaimer, which an
  -- answer must not cut short.
  if not exists (select 1 from public.call_events e where e.call_sid = p_call_sid and e.dedupe_key = 'queue:agent-wait') then
    return pg_catalog.jsonb_build_object('ok', false, 'reason', 'not_waiting_yet');
  end if;
  v_agent := public.agent_transition(v_agent.id, 'busy', null, 'agent', null, p_call_sid);
  return pg_catalog.jsonb_build_object('ok', true, 'agent_id', v_agent.id, 'status', v_agent.status,
    'call_sid', v_agent.current_call_sid);
end;
$$;

-- The offered customer p_event.call_sid reached the agent's queue (the wait document's first
-- fetch): logged once in call_events (kind queue); from now on the agent may answer.
create or replace function public.agent_offer_waiting(p_event jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
begin
  return public.apply_call_event(p_event || pg_catalog.jsonb_build_object('kind', 'queue', 'dedupe_key', 'queue:agent-wait'));
end;
$$;

-- The agent answered p_call_sid (agent_answer_offer made them busy) but Twilio could not be
-- asked to move the customer (network, 5xx): the customer still waits in the queue, so the
-- agent is put back to reserved for it and may answer again; when the call is already over,
-- the agent is available. Anything else (the customer joined the room meanwhile, another
-- call) is left alone. Should the move have happened after all, the customer's join makes the
-- agent busy again (the agent is reserved for that call).
create or replace function public.agent_answer_failed(p_agent_id bigint, p_call_sid text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent public.agents;
begin
  select * into v_agent from public.agents where id = p_agent_id for update;
  if v_agent.id is null or v_agent.status <> 'busy' or v_agent.current_call_sid is distinct from p_call_sid then
    return null;
  end if;
  if exists (select 1 from public.calls c where c.call_sid = p_call_sid and public.call_status_rank(c.status) >= 4) then
    v_agent := public.agent_transition(v_agent.id, 'available', null, 'system', null);
  else
    v_agent := public.agent_transition(v_agent.id, 'reserved', null, 'system', null, p_call_sid);
  end if;
  return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status);
end;
$$;

-- What the call-control endpoints need about an agent in one read: status, the customer they
-- are on (current_call_sid), the room (shift leg, conference SID) and their own number (the
-- active phone_numbers row assigned to them, if any).
create or replace function public.agent_call_context(p_agent_id bigint)
returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  v_agent  public.agents;
  v_number text;
begin
  select * into v_agent from public.agents where id = p_agent_id and is_active;
  if v_agent.id is null then
    return null;
  end if;
  select n.phone_number into v_number from public.phone_numbers n
   where n.assigned_agent_id = p_agent_id and n.is_active order by n.id limit 1;
  return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status,
    'current_call_sid', v_agent.current_call_sid, 'shift_call_sid', v_agent.shift_call_sid,
    'room_conference_sid', v_agent.room_conference_sid, 'own_number', v_number);
end;
$$;

-- A click-to-call Twilio accepted: the reservation start_dial_attempt took for attempt
-- p_attempt_id gets the call's CallSid (current_call_sid), so the call's callbacks find the
-- agent. The agent stays reserved until the customer joins the room (busy) or the call ends
-- unanswered (available again, not a missed call: the agent placed it). Null when the agent
-- is no longer reserved for that attempt.
create or replace function public.agent_reserve_outbound(p_agent_id bigint, p_call_sid public.call_sid, p_attempt_id bigint)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent public.agents;
begin
  update public.agents a set current_call_sid = p_call_sid
   where a.id = p_agent_id and a.status = 'reserved' and a.reserved_attempt_id = p_attempt_id
     and (a.current_call_sid is null or a.current_call_sid = p_call_sid)
  returning a.* into v_agent;
  if v_agent.id is null then
    return null;
  end if;
  return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status);
end;
$$;

-- A click-to-call that was not placed after all (Twilio refused it, or could not be asked):
-- the agent reserved for attempt p_attempt_id is available again. Idempotent.
create or replace function public.agent_release_outbound(p_agent_id bigint, p_attempt_id bigint)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent public.agents;
begin
  select * into v_agent from public.agents a
   where a.id = p_agent_id and a.status = 'reserved' and a.reserved_attempt_id = p_attempt_id
   for update;
  if v_agent.id is null then
    return null;
  end if;
  update public.agents set reserved_attempt_id = null where id = v_agent.id;
  v_agent := public.agent_transition(v_agent.id, 'available', null, 'system', null);
  return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status);
end;
$$;

-- Whether agent p_agent's room can take customer p_call_sid (of dial attempt p_attempt_id)
-- now: the agent is reserved for (or busy with) that very call, their shift leg is in the room
-- (shift_call_sid set, its call not over) and their page is polling (last_seen_at within
-- p_presence_seconds). Otherwise the customer would wait alone in an empty room, or meet
-- another customer.
create or replace function public.agent_room_takes(p_agent public.agents, p_call_sid text, p_attempt_id bigint, p_presence_seconds integer)
returns boolean
language sql stable
set search_path = ''
as $$
  select p_agent.id is not null and p_agent.is_active
     and p_agent.status in ('reserved', 'busy')
     and (p_agent.current_call_sid = p_call_sid
          or (p_agent.status = 'reserved' and p_agent.current_call_sid is null and p_attempt_id is not null
              and p_agent.reserved_attempt_id = p_attempt_id))
     and p_agent.shift_call_sid is not null
     and not exists (select 1 from public.calls c where c.call_sid = p_agent.shift_call_sid
                      and public.call_status_rank(c.status) >= 4)
     and p_agent.last_seen_at is not null
     and p_agent.last_seen_at > pg_catalog.now() - pg_catalog.make_interval(secs => coalesce(p_presence_seconds, 20))
$$;

-- An inbound call reached /voice/inbound: record it (one upsert carrying the agent and the
-- opt-out flag) and decide its route in the same round trip. Same answer as before (opted_out,
-- agent) plus route:
--   'offer'     the dialed number is an agent's own and the agent can take it now: the agent is
--               reserved for this call (current_call_sid), atomically, so two callers never get
--               the same agent; a retry of the same webhook gets the same offer;
--   'voicemail' the agent works from the agent page (a shift leg in the room) but cannot take
--               it now (on a call, paused, wrap-up, page silent): the agent's voicemail;
--   'ring'      the agent has no shift leg: their devices ring as before (then voicemail);
--   'none'      nobody owns the number.
-- p_event may carry presence_seconds (AGENT_PRESENCE_SECONDS) and opt_out_inbound
-- (OPT_OUT_INBOUND): an opted-out caller is offered only when such callers are served.
create or replace function public.start_inbound_call(p_event jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_opted_out boolean;
  v_agent     public.agents;
  v_route     text := 'none';
begin
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

-- /voice/connect, putting an offered customer into the agent's room: record the webhook and
-- check the opt-out list again under the number's advisory lock (as start_outbound_answer
-- does). Returns {connect: true, direction, opted_out, agent: {id, has_room}} or
-- {connect: false, reason}: 'opted_out_after_dial' for a call discador placed to a number on
-- the list; 'no_room' unless the agent is busy with (or reserved for) this very call with their
-- shift leg in the room and their page polling (agent_room_takes, p_event.presence_seconds):
-- the customer is never put alone in an empty room. An agent left busy with it is released.
create or replace function public.start_connect(p_event jsonb, p_agent_id bigint)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call      public.calls;
  v_customer  text;
  v_opted_out boolean;
  v_agent     public.agents;
begin
  select * into v_call from public.calls c where c.call_sid = p_event->>'call_sid';
  v_customer := case when coalesce(v_call.direction, p_event->>'direction') = 'inbound'
                     then coalesce(v_call.from_number, p_event->>'from')
                     else coalesce(v_call.to_number, p_event->>'to') end;
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(v_customer));
  perform public.apply_call_event(p_event || pg_catalog.jsonb_build_object('kind', 'voice', 'dedupe_key', 'voice:connect'));
  select * into v_call from public.calls c where c.call_sid = p_event->>'call_sid';
  v_opted_out := exists (select 1 from public.opt_outs o where o.phone_number = v_customer);

  if v_opted_out and v_call.direction is distinct from 'inbound' then
    update public.calls
       set end_reason = coalesce(end_reason, 'opted_out_after_dial'), opted_out = true, updated_at = pg_catalog.now()
     where id = v_call.id;
    return pg_catalog.jsonb_build_object('connect', false, 'reason', 'opted_out_after_dial');
  end if;
  select * into v_agent from public.agents a where a.id = p_agent_id for update;
  if not coalesce(public.agent_room_takes(v_agent, p_event->>'call_sid', null, (p_event->>'presence_seconds')::integer), false) then
    -- The agent answered but is gone (shift leg over, page silent): they are not left busy
    -- with a customer who is sent to voicemail.
    if v_agent.status in ('reserved', 'busy') and v_agent.current_call_sid = p_event->>'call_sid' then
      perform public.agent_transition(v_agent.id, 'available', null, 'system', null);
    end if;
    return pg_catalog.jsonb_build_object('connect', false, 'reason', 'no_room', 'direction', v_call.direction);
  end if;
  return pg_catalog.jsonb_build_object('connect', true, 'direction', v_call.direction, 'opted_out', v_opted_out,
    'agent', pg_catalog.jsonb_build_object('id', v_agent.id, 'has_room', true));
end;
$$;

-- start_outbound_answer, plus whether the call's agent has a room (a shift leg, or a
-- reservation for this call): then the customer joins it after the disclaimer instead of
-- ringing the agent's devices. At the connect step (p_event.connect_step) the room must take
-- this call now (agent_room_takes with p_event.presence_seconds: reserved for this CallSid or
-- its attempt, shift leg live, page polling); otherwise agent.room_unavailable is true (the
-- customer hears an apology and the agent's voicemail) and a reservation for the call is
-- released.
create or replace function public.start_outbound_answer(p_event jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_attempt  bigint := (p_event->>'attempt_id')::bigint;
  v_customer text;
  v_call     public.calls;
  v_agent    public.agents;
  v_reserved boolean;
  v_has_room boolean;
  v_room_unavailable boolean := false;
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

  if coalesce((p_event->>'connect_step')::boolean, false) then
    select a.* into v_agent from public.agents a where a.id = v_call.agent_id and a.is_active for update;
  else
    select a.* into v_agent from public.agents a where a.id = v_call.agent_id and a.is_active;
  end if;
  if v_agent.id is null then
    return pg_catalog.jsonb_build_object('connect', true, 'agent', null);
  end if;
  v_reserved := v_agent.status in ('reserved', 'busy')
    and (v_agent.current_call_sid = p_event->>'call_sid'
         or (v_agent.status = 'reserved' and v_agent.current_call_sid is null and v_agent.reserved_attempt_id = v_call.id));
  v_has_room := v_agent.shift_call_sid is not null or v_reserved;
  if coalesce((p_event->>'connect_step')::boolean, false) and v_has_room then
    if public.agent_room_takes(v_agent, p_event->>'call_sid', v_call.id, (p_event->>'presence_seconds')::integer) then
      if v_agent.current_call_sid is null then
        v_agent := public.agent_transition(v_agent.id, 'reserved', null, 'system', null, p_event->>'call_sid');
      end if;
    else
      -- Not the call the agent is waiting for, or the agent is gone: never an empty room or
      -- another customer's room. A reservation for this call is released.
      if v_reserved then
        v_agent := public.agent_transition(v_agent.id, 'available', null, 'system', null);
      end if;
      v_room_unavailable := true;
    end if;
  end if;
  return pg_catalog.jsonb_build_object('connect', true, 'agent', pg_catalog.jsonb_build_object(
      'id', v_agent.id, 'name', v_agent.name, 'phone_number', v_agent.phone_number,
      'client_identity', v_agent.client_identity, 'status', v_agent.status,
      'has_room', v_has_room and not v_room_unavailable, 'room_unavailable', v_room_unavailable));
end;
$$;

-- start_dial_attempt, with two changes: an agent's own number may be the caller ID of that
-- agent's calls (click-to-call leaves from the agent's number; still refused for anyone else),
-- and with p_reserve_agent the agent is reserved for the attempt in the same transaction
-- (click-to-call): refused with reason 'agent_busy' unless the agent is free (available,
-- wrap-up or paused: calling is their own choice; never reserved, busy or offline) with the
-- shift leg in the room and the page polling within p_presence_seconds, so two clicks never
-- place two calls and a customer never calls into an empty room. Refusals change nothing. The new parameters replace the five-argument version.
drop function if exists public.start_dial_attempt(public.e164, public.e164, bigint, bigint, bigint);
create or replace function public.start_dial_attempt(
  p_to public.e164, p_caller_id public.e164 default null,
  p_agent_id bigint default null, p_campaign_id bigint default null, p_lead_id bigint default null,
  p_reserve_agent boolean default false, p_presence_seconds integer default 20
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_today  date := (pg_catalog.now() at time zone 'America/Sao_Paulo')::date;
  v_number public.phone_numbers;
  v_agent  public.agents;
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
    elsif v_number.assigned_agent_id is not null and v_number.assigned_agent_id is distinct from p_agent_id then
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

  if coalesce(p_reserve_agent, false) then
    select * into v_agent from public.agents a where a.id = p_agent_id for update;
    -- Free to call (available, or choosing to call from wrap-up or a pause), with the shift leg
    -- in the room and the page polling: the customer will find the agent there.
    if v_agent.id is null or not v_agent.is_active or v_agent.status not in ('available', 'wrap_up', 'paused')
       or v_agent.shift_call_sid is null
       or exists (select 1 from public.calls c where c.call_sid = v_agent.shift_call_sid and public.call_status_rank(c.status) >= 4)
       or v_agent.last_seen_at is null
       or v_agent.last_seen_at <= pg_catalog.now() - pg_catalog.make_interval(secs => coalesce(p_presence_seconds, 20)) then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'agent_busy');
    end if;
  end if;

  update public.phone_numbers set
    calls_today      = case when calls_today_date = v_today then calls_today + 1 else 1 end,
    calls_today_date = v_today,
    call_count       = call_count + 1,
    last_used_at     = pg_catalog.clock_timestamp(),
    updated_at       = pg_catalog.now()
  where id = v_number.id;

  insert into public.calls (direction, from_number, to_number, caller_id, agent_id, campaign_id, lead_id, status)
  values ('outbound-api', v_number.phone_number, p_to, v_number.phone_number, p_agent_id, p_campaign_id, p_lead_id, 'queued')
  returning id into v_id;

  if v_agent.id is not null then
    -- Reserved for this attempt alone: the call of a wrap-up just left is not carried over
    -- (the CallSid comes with agent_reserve_outbound or the answer webhook).
    update public.agents set reserved_attempt_id = v_id, current_call_sid = null where id = v_agent.id;
    perform public.agent_transition(v_agent.id, 'reserved', null, 'system', null);
  end if;

  return pg_catalog.jsonb_build_object('allowed', true, 'attempt_id', v_id, 'caller_id', v_number.phone_number);
end;
$$;

revoke execute on function
  public.agent_shift_started(text, public.call_sid),
  public.agent_shift_ended(text), public.agent_customer_left(text, integer, boolean),
  public.agent_customer_joined(bigint, public.call_sid), public.apply_call_status(jsonb),
  public.apply_conference_event(jsonb), public.agent_answer_offer(bigint, text),
  public.agent_call_context(bigint), public.agent_reserve_outbound(bigint, public.call_sid, bigint),
  public.start_connect(jsonb, bigint), public.agent_offer_waiting(jsonb)
  from public, anon, authenticated;
grant execute on function
  public.agent_shift_started(text, public.call_sid),
  public.agent_shift_ended(text), public.agent_customer_left(text, integer, boolean),
  public.agent_customer_joined(bigint, public.call_sid), public.apply_call_status(jsonb),
  public.apply_conference_event(jsonb), public.agent_answer_offer(bigint, text),
  public.agent_call_context(bigint), public.agent_reserve_outbound(bigint, public.call_sid, bigint),
  public.start_connect(jsonb, bigint), public.agent_offer_waiting(jsonb)
  to service_role;

revoke execute on function
  public.agent_room_leg_present(public.agent_room_legs), public.call_is_over(text)
  from public, anon, authenticated;
grant execute on function
  public.agent_room_leg_present(public.agent_room_legs), public.call_is_over(text)
  to service_role;

revoke execute on function
  public.agent_release_outbound(bigint, bigint), public.agent_answer_failed(bigint, text),
  public.agent_room_takes(public.agents, text, bigint, integer),
  public.start_dial_attempt(public.e164, public.e164, bigint, bigint, bigint, boolean, integer)
  from public, anon, authenticated;
grant execute on function
  public.agent_release_outbound(bigint, bigint), public.agent_answer_failed(bigint, text),
  public.agent_room_takes(public.agents, text, bigint, integer),
  public.start_dial_attempt(public.e164, public.e164, bigint, bigint, bigint, boolean, integer)
  to service_role;
