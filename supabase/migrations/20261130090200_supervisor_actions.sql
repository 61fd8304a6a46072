-- Supervisor actions: listen / whisper / barge on an agent's call (the supervisor joins the
-- agent's room as a conference participant), a campaign paused, resumed or re-paced live, an
-- agent forced to paused or offline, and the log of every such action (refused ones too).
--
-- The supervisor's leg in a room is known by its monitor row (participant label
-- `supervisor-<monitor id>`, and its CallSid once Twilio gave it), so the room's callbacks and
-- its own call-status callbacks are applied to the monitor row only: it is never a customer,
-- never starts a recording, never ends the room, never moves the agent or the pacer.

-- Every supervisor action, newest last: who (user, e-mail, role, address), when, what, on what,
-- and how it ended ('ok' or the refusal's stable code).
create table public.supervisor_actions (
  id         bigint generated always as identity primary key,
  at         timestamptz not null default public.app_now(),
  user_id    uuid references public.users (id) on delete set null,
  user_email text not null check (pg_catalog.length(user_email) between 1 and 320),
  role       text not null check (role in ('admin', 'supervisor', 'agent')),
  address    text check (pg_catalog.length(address) <= 64),
  action     text not null check (action in ('monitor_start', 'monitor_mode', 'monitor_stop', 'agent_status', 'campaign')),
  target     text not null check (pg_catalog.length(target) <= 200),
  detail     jsonb not null default '{}'::jsonb,
  result     text not null check (result ~ '^[a-z_]{1,40}$')
);
alter table public.supervisor_actions enable row level security;
create index supervisor_actions_at_idx on public.supervisor_actions (at desc, id desc);
create index supervisor_actions_user_idx on public.supervisor_actions (user_id);

-- A supervisor's leg in an agent's room, from the request to its end.
create table public.supervisor_monitors (
  id                   bigint generated always as identity primary key,
  user_id              uuid not null references public.users (id) on delete cascade,
  agent_id             bigint not null references public.agents (id) on delete cascade,
  -- The customer's call the supervisor asked for, and the agent's leg in the room (the one a
  -- whisper coaches).
  call_sid             public.call_sid not null,
  coached_call_sid     public.call_sid not null,
  conference_sid       text not null check (conference_sid ~ '^CF[0-9a-f]{32}$'),
  mode                 text not null check (mode in ('listen', 'whisper', 'barge')),
  -- Where the supervisor's audio goes: client:supervisor-<user id> (the browser) or an E.164 phone.
  endpoint             text not null check (pg_catalog.length(endpoint) <= 200),
  participant_call_sid public.call_sid unique,
  status               text not null default 'dialing' check (status in ('dialing', 'joined', 'ended')),
  created_at           timestamptz not null default public.app_now(),
  joined_at            timestamptz,
  ended_at             timestamptz,
  end_reason           text
);
alter table public.supervisor_monitors enable row level security;
create index supervisor_monitors_user_idx on public.supervisor_monitors (user_id);
create index supervisor_monitors_agent_idx on public.supervisor_monitors (agent_id);
create index supervisor_monitors_live_call_idx on public.supervisor_monitors (call_sid) where status <> 'ended';
create index supervisor_monitors_live_room_idx on public.supervisor_monitors (conference_sid) where status <> 'ended';

-- A supervisor's browser registers the Voice SDK identity supervisor-<user id>: no agent's
-- softphone may take that prefix, or it would ring for (and could answer) a supervisor's leg.
alter table public.agents add constraint agents_client_identity_not_supervisor
  check (client_identity !~ '^supervisor-');

-- Writes one log row. p_actor: {user_id, email, role, address}. A session without the role
-- (forbidden_role) refused again for the same action within a minute adds to the last row's
-- `repeats` (and `last_at`) instead of writing another, so a script hammering the endpoints with
-- an agent's session cannot push the real actions out of the log's view.
create function public.supervisor_log(p_actor jsonb, p_action text, p_target text, p_detail jsonb, p_result text)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_id bigint;
begin
  if p_result = 'forbidden_role' then
    update public.supervisor_actions a
       set detail = a.detail || pg_catalog.jsonb_build_object(
             'repeats', coalesce((a.detail->>'repeats')::integer, 1) + 1, 'last_at', public.app_now())
     where a.id = (select b.id from public.supervisor_actions b
                    where b.user_id = (p_actor->>'user_id')::uuid and b.action = p_action and b.result = p_result
                      and b.at > public.app_now() - interval '1 minute'
                    order by b.at desc, b.id desc limit 1)
    returning a.id into v_id;
    if v_id is not null then
      return v_id;
    end if;
  end if;
  insert into public.supervisor_actions (at, user_id, user_email, role, address, action, target, detail, result)
  values (public.app_now(), (p_actor->>'user_id')::uuid, p_actor->>'email', p_actor->>'role',
          nullif(p_actor->>'address', ''), p_action, pg_catalog.left(coalesce(p_target, ''), 200),
          coalesce(p_detail, '{}'::jsonb), p_result)
  returning id into v_id;
  return v_id;
end;
$$;

-- A monitor as the API answers it.
create function public.supervisor_monitor_json(m public.supervisor_monitors)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'monitor_id', m.id, 'call_sid', m.call_sid, 'agent_id', m.agent_id, 'mode', m.mode,
    'status', m.status, 'endpoint', m.endpoint, 'participant_call_sid', m.participant_call_sid);
$$;

-- A refusal: logged, answered as {error, message} (nothing else changed).
create function public.supervisor_refuse(p_actor jsonb, p_action text, p_target text, p_detail jsonb, p_code text, p_message text)
returns jsonb
language plpgsql
set search_path = ''
as $$
begin
  perform public.supervisor_log(p_actor, p_action, p_target, p_detail, p_code);
  return pg_catalog.jsonb_build_object('error', p_code, 'message', p_message);
end;
$$;

-- Before any Twilio request: checks that the call is live with an agent in their room and
-- records the monitor ('dialing'). Refusals (logged): not_found (no such call), call_ended,
-- no_agent (nobody is talking to the customer in a room). Answers the monitor and what the
-- Participants create request needs: the room's ConferenceSid, the agent's leg (to coach), and
-- a number of the account to call from.
create function public.supervisor_monitor_begin(p_actor jsonb, p_call_sid text, p_mode text, p_endpoint text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call   public.calls;
  v_agent  public.agents;
  v_m      public.supervisor_monitors;
  v_target text := 'call:' || coalesce(p_call_sid, '');
  v_detail jsonb := pg_catalog.jsonb_build_object('mode', p_mode, 'endpoint', p_endpoint);
begin
  select * into v_call from public.calls c where c.call_sid = p_call_sid;
  if v_call.id is null then
    return public.supervisor_refuse(p_actor, 'monitor_start', v_target, v_detail, 'not_found', 'no such call');
  end if;
  if public.call_is_over(p_call_sid) then
    return public.supervisor_refuse(p_actor, 'monitor_start', v_target, v_detail, 'call_ended', 'the call has ended');
  end if;
  -- The agent talking to this customer in their room (the customer joined: busy).
  select * into v_agent from public.agents a
   where a.current_call_sid = p_call_sid and a.status = 'busy'
     and a.shift_call_sid is not null and a.room_conference_sid is not null
   limit 1;
  if v_agent.id is null then
    return public.supervisor_refuse(p_actor, 'monitor_start', v_target, v_detail, 'no_agent', 'no agent is talking to this customer in a room');
  end if;
  -- A phone of the supervisor's: never a number of the account (the leg would ring the dialer's
  -- own inbound line and become a customer), never an opted-out number (never dialed).
  if p_endpoint not like 'client:%' then
    if exists (select 1 from public.phone_numbers n where n.phone_number::text = p_endpoint) then
      return public.supervisor_refuse(p_actor, 'monitor_start', v_target, v_detail, 'to_own_number', 'to is a number of this account; give the supervisor''s own phone');
    end if;
    if exists (select 1 from public.opt_outs o where o.phone_number::text = p_endpoint) then
      return public.supervisor_refuse(p_actor, 'monitor_start', v_target, v_detail, 'to_opted_out', 'to is on the opt-out list and is never dialed');
    end if;
  end if;
  insert into public.supervisor_monitors (user_id, agent_id, call_sid, coached_call_sid, conference_sid, mode, endpoint, created_at)
  values ((p_actor->>'user_id')::uuid, v_agent.id, p_call_sid, v_agent.shift_call_sid, v_agent.room_conference_sid,
          p_mode, p_endpoint, public.app_now())
  returning * into v_m;
  return pg_catalog.jsonb_build_object(
    'monitor', public.supervisor_monitor_json(v_m),
    'conference_sid', v_m.conference_sid,
    'coached_call_sid', v_m.coached_call_sid,
    'from', case when v_call.direction = 'inbound' then v_call.to_number
                 else coalesce(v_call.caller_id, v_call.from_number) end);
end;
$$;

-- After Participants create: its CallSid on success (logged ok); on Twilio's refusal the
-- monitor ends (logged with p_result, e.g. twilio_error; p_result room_gone, the room had ended,
-- is logged and answered as call_ended when the call is over, else no_agent). A customer who is
-- no longer the agent's live call (left the room, or the call ended, while Twilio was asked:
-- whichever of the room's and the call's callbacks came first) ends the monitor too, logged
-- call_ended and answered with call_over: the caller takes the supervisor out of the room again.
create function public.supervisor_monitor_started(p_actor jsonb, p_monitor_id bigint, p_participant_call_sid text, p_result text, p_detail jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_m    public.supervisor_monitors;
  v_over boolean := false;
begin
  select * into v_m from public.supervisor_monitors m where m.id = p_monitor_id for update;
  if p_result = 'room_gone' then
    p_result := case when public.call_is_over(v_m.call_sid) then 'call_ended' else 'no_agent' end;
  end if;
  if p_result = 'ok' and (v_m.status = 'ended' or not public.supervisor_monitor_call_live(v_m)) then
    v_over := true;
    update public.supervisor_monitors m
       set participant_call_sid = p_participant_call_sid, status = 'ended', ended_at = coalesce(m.ended_at, public.app_now()),
           end_reason = coalesce(m.end_reason, 'call_ended')
     where m.id = p_monitor_id returning * into v_m;
    p_result := 'call_ended';
  elsif p_result = 'ok' then
    update public.supervisor_monitors m set participant_call_sid = p_participant_call_sid
     where m.id = p_monitor_id returning * into v_m;
  else
    update public.supervisor_monitors m set status = 'ended', ended_at = public.app_now(), end_reason = p_result
     where m.id = p_monitor_id returning * into v_m;
  end if;
  perform public.supervisor_log(p_actor, 'monitor_start', 'call:' || v_m.call_sid,
    pg_catalog.jsonb_build_object('monitor_id', v_m.id, 'agent_id', v_m.agent_id, 'mode', v_m.mode, 'endpoint', v_m.endpoint,
                                  'participant_call_sid', v_m.participant_call_sid) || coalesce(p_detail, '{}'::jsonb),
    p_result);
  return pg_catalog.jsonb_build_object('monitor', public.supervisor_monitor_json(v_m), 'call_over', v_over, 'result', p_result);
end;
$$;

-- Before a mode change or a stop: the monitor and what the Twilio request needs. Refusals
-- (logged): not_found; for a mode change also monitor_ended (the leg is gone) and call_ended
-- (the customer left: there is no call to listen to). A stop of an ended monitor answers
-- {done: true} (logged ok): nothing to remove.
create function public.supervisor_monitor_check(p_actor jsonb, p_monitor_id bigint, p_action text, p_mode text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_m      public.supervisor_monitors;
  v_target text := 'monitor:' || coalesce(p_monitor_id::text, '');
  v_detail jsonb := case when p_mode is null then '{}'::jsonb else pg_catalog.jsonb_build_object('mode', p_mode) end;
begin
  select * into v_m from public.supervisor_monitors m where m.id = p_monitor_id;
  if v_m.id is null then
    return public.supervisor_refuse(p_actor, p_action, v_target, v_detail, 'not_found', 'no such monitor');
  end if;
  v_detail := v_detail || pg_catalog.jsonb_build_object('call_sid', v_m.call_sid, 'agent_id', v_m.agent_id);
  if p_action = 'monitor_stop' then
    if v_m.status = 'ended' then
      perform public.supervisor_log(p_actor, p_action, v_target, v_detail || '{"already_ended": true}'::jsonb, 'ok');
      return pg_catalog.jsonb_build_object('done', true, 'monitor', public.supervisor_monitor_json(v_m));
    end if;
  else
    if v_m.status = 'ended' then
      return public.supervisor_refuse(p_actor, p_action, v_target, v_detail, 'monitor_ended', 'this monitoring has ended');
    end if;
    if public.call_is_over(v_m.call_sid) then
      return public.supervisor_refuse(p_actor, p_action, v_target, v_detail, 'call_ended', 'the call has ended');
    end if;
  end if;
  return pg_catalog.jsonb_build_object(
    'monitor', public.supervisor_monitor_json(v_m), 'conference_sid', v_m.conference_sid,
    'coached_call_sid', v_m.coached_call_sid, 'participant_call_sid', v_m.participant_call_sid);
end;
$$;

-- After the Twilio request of a mode change (p_mode) or a stop: records the new mode or the end
-- when p_result is 'ok', and logs the action with p_result.
create function public.supervisor_monitor_done(p_actor jsonb, p_monitor_id bigint, p_action text, p_mode text, p_result text, p_detail jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_m    public.supervisor_monitors;
  v_from text;
begin
  select m.mode into v_from from public.supervisor_monitors m where m.id = p_monitor_id;
  if p_result = 'ok' and p_action = 'monitor_mode' then
    update public.supervisor_monitors m set mode = p_mode where m.id = p_monitor_id returning * into v_m;
  elsif p_result = 'ok' and p_action = 'monitor_stop' then
    update public.supervisor_monitors m
       set status = 'ended', ended_at = coalesce(m.ended_at, public.app_now()), end_reason = coalesce(m.end_reason, 'stopped')
     where m.id = p_monitor_id returning * into v_m;
  else
    select * into v_m from public.supervisor_monitors m where m.id = p_monitor_id;
  end if;
  perform public.supervisor_log(p_actor, p_action, 'monitor:' || p_monitor_id,
    pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('call_sid', v_m.call_sid, 'agent_id', v_m.agent_id,
      'from_mode', case when p_action = 'monitor_mode' then v_from end, 'mode', p_mode)) || coalesce(p_detail, '{}'::jsonb),
    p_result);
  return pg_catalog.jsonb_build_object('monitor', public.supervisor_monitor_json(v_m));
end;
$$;

-- The monitor a room callback or a call-status callback is about: by participant label
-- `supervisor-<id>` or by the leg's CallSid. The id is read from the label before the query, never
-- inside it: SQL does not evaluate an OR's or AND's parts in order, and a plan that probes the
-- primary key computes its key whatever a regex beside it says (the label `agent` or
-- `customer-CA…` cast to bigint would then fail every room callback once the table is big enough
-- for an index plan).
create function public.supervisor_monitor_of(p_label text, p_call_sid text)
returns public.supervisor_monitors
language plpgsql
stable
set search_path = ''
as $$
declare
  v_id bigint := case when p_label ~ '^supervisor-[1-9][0-9]{0,17}$' then pg_catalog.substr(p_label, 12)::bigint end;
  v_m  public.supervisor_monitors;
begin
  select m.* into v_m from public.supervisor_monitors m
   where m.id = v_id or m.participant_call_sid = p_call_sid
   limit 1;
  return v_m;
end;
$$;

-- Whether a monitor's customer is still the live call of its agent (busy on it, the call not
-- over). Once not, the supervisor has nothing to listen to and must leave the room before the
-- agent's next customer joins it.
create function public.supervisor_monitor_call_live(m public.supervisor_monitors)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (select 1 from public.agents a
                  where a.id = m.agent_id and a.status = 'busy' and a.current_call_sid = m.call_sid
                    and a.room_conference_sid = m.conference_sid)
     and not public.call_is_over(m.call_sid);
$$;

-- Every callback of an agent's room (/webhooks/conference), in one round trip: a supervisor's
-- leg (label supervisor-<id>, or a monitor's CallSid) only moves its monitor row (joined, ended)
-- and nothing else; any other event goes to apply_conference_event unchanged.
--
-- A supervisor never stays in the room without the customer they came for, whatever order
-- Twilio's callbacks arrive in (the room's and the calls' own callbacks come on separate
-- webhooks, in no guaranteed order, and are not retried). Supervisors to take out are answered
-- in `remove` ({monitor_id, conference_sid, participant}: a CallSid or the label
-- supervisor-<id>, which also reaches a leg still ringing), and the webhook deletes them:
--  * a supervisor leg joining a monitor that has ended, or whose customer is no longer the
--    agent's live call (the customer left while Twilio was adding the supervisor): the monitor
--    ends (call_ended) and the leg is removed;
--  * any other participant event of the room: every live monitor of the room whose customer is
--    no longer the agent's live call (the customer's leave, the agent's next customer joining
--    after a lost leave or a failed removal), and every live monitor of a customer who leaves.
create function public.supervisor_conference_event(p_event jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_event text := p_event->>'event';
  v_sid   text := p_event->>'call_sid';
  v_conf  text := p_event->>'conference_sid';
  v_m     public.supervisor_monitors;
  v_out   jsonb;
  v_gone  boolean;
begin
  if v_sid is not null and v_event like 'participant-%' then
    v_m := public.supervisor_monitor_of(nullif(p_event->>'label', ''), v_sid);
    if v_m.id is not null then
      if v_event = 'participant-join' then
        v_gone := v_m.status = 'ended' or not public.supervisor_monitor_call_live(v_m);
        update public.supervisor_monitors m
           set status = case when v_gone then 'ended' else 'joined' end,
               ended_at = case when v_gone then coalesce(m.ended_at, public.app_now()) end,
               end_reason = case when v_gone then coalesce(m.end_reason, 'call_ended') end,
               joined_at = coalesce(m.joined_at, public.app_now()),
               participant_call_sid = coalesce(m.participant_call_sid, v_sid)
         where m.id = v_m.id;
        if v_gone then
          return pg_catalog.jsonb_build_object('applied', true, 'supervisor', true, 'monitor_id', v_m.id,
            'remove', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
              'monitor_id', v_m.id, 'conference_sid', coalesce(v_conf, v_m.conference_sid), 'participant', v_sid)));
        end if;
      elsif v_event = 'participant-leave' then
        update public.supervisor_monitors m
           set status = 'ended', ended_at = coalesce(m.ended_at, public.app_now()),
               end_reason = coalesce(m.end_reason, 'left'), participant_call_sid = coalesce(m.participant_call_sid, v_sid)
         where m.id = v_m.id;
      end if;
      return pg_catalog.jsonb_build_object('applied', true, 'supervisor', true, 'monitor_id', v_m.id);
    end if;
  end if;
  v_out := public.apply_conference_event(p_event);
  if v_event like 'participant-%' and v_sid is not null then
    v_out := v_out || pg_catalog.jsonb_build_object('remove', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'monitor_id', m.id, 'conference_sid', m.conference_sid, 'participant', 'supervisor-' || m.id) order by m.id)
        from public.supervisor_monitors m
       where m.status <> 'ended'
         and ((v_event = 'participant-leave' and m.call_sid = v_sid)
              or (m.conference_sid = v_conf and not public.supervisor_monitor_call_live(m)))), '[]'::jsonb));
  end if;
  return v_out;
end;
$$;

-- The supervisor leg's own call-status callback (/webhooks/call-status?monitor=<id>): a final
-- status ends the monitor. Nothing else is written: the leg is not a call of the dialer.
create function public.supervisor_call_status(p_monitor_id bigint, p_call_sid text, p_status text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_m public.supervisor_monitors;
begin
  select * into v_m from public.supervisor_monitors m where m.id = p_monitor_id
     and (m.participant_call_sid is null or m.participant_call_sid = p_call_sid);
  if v_m.id is null then
    return pg_catalog.jsonb_build_object('applied', false, 'reason', 'unknown_monitor');
  end if;
  if p_status in ('completed', 'busy', 'no-answer', 'failed', 'canceled') then
    update public.supervisor_monitors m
       set status = 'ended', ended_at = coalesce(m.ended_at, public.app_now()),
           end_reason = coalesce(m.end_reason, p_status), participant_call_sid = coalesce(m.participant_call_sid, p_call_sid)
     where m.id = v_m.id;
  else
    update public.supervisor_monitors m set participant_call_sid = coalesce(m.participant_call_sid, p_call_sid) where m.id = v_m.id;
  end if;
  return pg_catalog.jsonb_build_object('applied', true, 'monitor_id', v_m.id);
end;
$$;

-- Forces an agent to paused (with a reason) or offline, through agent_transition with source
-- 'supervisor' (history keeps who). An agent reserved for or talking to a customer is refused
-- (agent_busy), as the agent's own choice is: nothing cuts a live call. Refusals (logged):
-- not_found, agent_busy. The same status and reason again writes nothing but the log. Offline
-- answers the agent's shift leg in `hang_up`: the caller hangs it up, so the room closes (the
-- leg's end then finds the agent offline already and changes nothing more).
create function public.supervisor_agent_status(p_actor jsonb, p_agent_id bigint, p_status text, p_reason text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent  public.agents;
  v_reason text := case when p_status = 'paused' then nullif(pg_catalog.btrim(p_reason), '') end;
  v_target text := 'agent:' || coalesce(p_agent_id::text, '');
  v_detail jsonb := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('status', p_status, 'reason', v_reason));
  v_before text;
begin
  if p_status is null or p_status not in ('paused', 'offline') or (p_status = 'paused' and v_reason is null) then
    return public.supervisor_refuse(p_actor, 'agent_status', v_target, v_detail, 'bad_request', 'status must be paused (with a reason) or offline');
  end if;
  select * into v_agent from public.agents a where a.id = p_agent_id and a.is_active for update;
  if v_agent.id is null then
    return public.supervisor_refuse(p_actor, 'agent_status', v_target, v_detail, 'not_found', 'no such agent');
  end if;
  v_before := v_agent.status;
  v_detail := v_detail || pg_catalog.jsonb_build_object('from_status', v_before);
  if v_agent.status in ('busy', 'reserved') then
    return public.supervisor_refuse(p_actor, 'agent_status', v_target,
      v_detail || pg_catalog.jsonb_build_object('call_sid', v_agent.current_call_sid), 'agent_busy',
      'the agent is on a call; try again when it ends');
  end if;
  if not (v_agent.status = p_status and v_agent.pause_reason is not distinct from v_reason) then
    v_agent := public.agent_transition(v_agent.id, p_status, v_reason, 'supervisor', (p_actor->>'user_id')::uuid);
  end if;
  perform public.supervisor_log(p_actor, 'agent_status', v_target,
    v_detail || pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('shift_call_sid', case when p_status = 'offline' then v_agent.shift_call_sid end)), 'ok');
  return pg_catalog.jsonb_build_object('agent', pg_catalog.jsonb_build_object(
    'id', v_agent.id, 'status', v_agent.status, 'pause_reason', v_agent.pause_reason),
    'hang_up', case when p_status = 'offline' then v_agent.shift_call_sid end);
end;
$$;

-- Pauses, resumes and re-paces a campaign in one transaction, through the campaign functions
-- (campaign_update for the settings, campaign_set_status for the status): their checks and
-- refusals apply unchanged, and a refusal of either undoes both. The pacer reads the campaign
-- on its next round. Refusals are logged with their code and answered as {error, sqlstate,
-- message} (the campaign API's codes).
create function public.supervisor_campaign(p_actor jsonb, p_campaign_id bigint, p_status text, p_settings jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_before public.campaigns;
  v_after  jsonb;
  v_target text := 'campaign:' || coalesce(p_campaign_id::text, '');
  v_detail jsonb := pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('status', p_status)) || coalesce(p_settings, '{}'::jsonb);
  v_code   text;
  v_msg    text;
  v_state  text;
begin
  select * into v_before from public.campaigns c where c.id = p_campaign_id;
  if v_before.id is not null then
    v_detail := v_detail || pg_catalog.jsonb_build_object('from', pg_catalog.jsonb_build_object(
      'status', v_before.status, 'mode', v_before.mode, 'dial_ratio', v_before.dial_ratio));
  end if;
  begin
    if p_settings is not null and p_settings <> '{}'::jsonb then
      v_after := public.campaign_update(p_campaign_id, p_settings);
    end if;
    if p_status is not null then
      v_after := public.campaign_set_status(p_campaign_id, p_status)->'campaign';
    end if;
  exception when sqlstate 'DC400' or sqlstate 'DC404' or sqlstate 'DC409' then
    get stacked diagnostics v_msg = message_text, v_state = returned_sqlstate;
    v_code := pg_catalog.substring(v_msg, '^([a-z_]+)');
    perform public.supervisor_log(p_actor, 'campaign', v_target, v_detail, coalesce(v_code, 'refused'));
    return pg_catalog.jsonb_build_object('error', coalesce(v_code, 'refused'), 'sqlstate', v_state, 'message', v_msg);
  end;
  perform public.supervisor_log(p_actor, 'campaign', v_target, v_detail, 'ok');
  return pg_catalog.jsonb_build_object('campaign', pg_catalog.jsonb_build_object(
    'id', (v_after->>'id')::bigint, 'status', v_after->>'status', 'mode', v_after->>'mode',
    'dial_ratio', (v_after->>'dial_ratio')::numeric));
end;
$$;

-- The log, newest first.
create function public.supervisor_actions_list(p_limit integer)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object('actions', coalesce(pg_catalog.jsonb_agg(x.j order by x.at desc, x.id desc), '[]'::jsonb))
    from (select a.id, a.at, pg_catalog.jsonb_build_object(
                   'id', a.id, 'at', a.at, 'user_id', a.user_id, 'user_email', a.user_email, 'role', a.role,
                   'address', a.address, 'action', a.action, 'target', a.target, 'detail', a.detail, 'result', a.result) as j
            from public.supervisor_actions a
           order by a.at desc, a.id desc
           limit greatest(1, least(coalesce(p_limit, 50), 500))) x;
$$;

-- The heartbeat's sweep (/api/jobs): the room's callbacks take a supervisor out once their
-- customer is gone, but Twilio does not retry those callbacks and a removal can fail. The
-- heartbeat asks for every such monitor past a grace period, deletes its participant (by its
-- label, which also reaches a leg still ringing) and marks the ones gone from the room.
-- Live monitors (dialing or joined) created more than p_grace_seconds ago whose customer is no
-- longer the agent's live call: [{monitor_id, conference_sid, participant}], oldest first, at
-- most p_limit.
create function public.supervisor_monitors_stale(p_grace_seconds integer, p_limit integer)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'monitor_id', x.id, 'conference_sid', x.conference_sid, 'participant', 'supervisor-' || x.id) order by x.id), '[]'::jsonb)
    from (select m.id, m.conference_sid
            from public.supervisor_monitors m
           where m.status <> 'ended'
             and m.created_at < public.app_now() - pg_catalog.make_interval(secs => greatest(coalesce(p_grace_seconds, 10), 0))
             and not public.supervisor_monitor_call_live(m)
           order by m.id
           limit greatest(1, least(coalesce(p_limit, 20), 100))) x;
$$;

-- The monitors the sweep took out of their room (deleted, or already gone: Twilio's 404): ended,
-- reason `swept`, unless something ended them meanwhile. Answers how many it ended.
create function public.supervisor_monitors_swept(p_ids bigint[])
returns integer
language sql
set search_path = ''
as $$
  with ended as (
    update public.supervisor_monitors m
       set status = 'ended', ended_at = public.app_now(), end_reason = 'swept'
     where m.id = any (coalesce(p_ids, '{}'::bigint[])) and m.status <> 'ended'
    returning 1)
  select pg_catalog.count(*)::integer from ended;
$$;

revoke execute on function
  public.supervisor_log(jsonb, text, text, jsonb, text),
  public.supervisor_monitor_json(public.supervisor_monitors),
  public.supervisor_refuse(jsonb, text, text, jsonb, text, text),
  public.supervisor_monitor_begin(jsonb, text, text, text),
  public.supervisor_monitor_started(jsonb, bigint, text, text, jsonb),
  public.supervisor_monitor_check(jsonb, bigint, text, text),
  public.supervisor_monitor_done(jsonb, bigint, text, text, text, jsonb),
  public.supervisor_monitor_of(text, text),
  public.supervisor_monitor_call_live(public.supervisor_monitors),
  public.supervisor_conference_event(jsonb),
  public.supervisor_call_status(bigint, text, text),
  public.supervisor_agent_status(jsonb, bigint, text, text),
  public.supervisor_campaign(jsonb, bigint, text, jsonb),
  public.supervisor_actions_list(integer),
  public.supervisor_monitors_stale(integer, integer),
  public.supervisor_monitors_swept(bigint[])
  from public, anon, authenticated;
grant execute on function
  public.supervisor_log(jsonb, text, text, jsonb, text),
  public.supervisor_monitor_begin(jsonb, text, text, text),
  public.supervisor_monitor_started(jsonb, bigint, text, text, jsonb),
  public.supervisor_monitor_check(jsonb, bigint, text, text),
  public.supervisor_monitor_done(jsonb, bigint, text, text, text, jsonb),
  public.supervisor_conference_event(jsonb),
  public.supervisor_call_status(bigint, text, text),
  public.supervisor_agent_status(jsonb, bigint, text, text),
  public.supervisor_campaign(jsonb, bigint, text, jsonb),
  public.supervisor_actions_list(integer),
  public.supervisor_monitors_stale(integer, integer),
  public.supervisor_monitors_swept(bigint[])
  to service_role;
