-- An agent's side of the working day: the status an agent chooses, presence (the page's poll
-- is the heartbeat), the state snapshot the agent page polls (one round trip), and the
-- disposition an agent gives each call.
--
-- Refusals use SQLSTATEs of their own class 'DA' (PostgREST answers them with 400, so the
-- functions read the code, never the message):
--   DA400  the request breaks a rule (a status an agent may not choose, a pause reason not
--          in the list, a reason given for a status other than paused)
--   DA404  the agent or the call is not there for this agent
--   DA409  the agent is reserved for or talking to a customer and cannot change status

-- Per-customer history on the screen pop: a customer's number is the caller on inbound calls
-- and the callee otherwise.
create index calls_customer_idx on public.calls
  ((case when direction = 'inbound' then from_number else to_number end), created_at);
-- Per-agent lists of inbound calls (waiting, missed, voicemails), newest first.
create index calls_agent_inbound_idx on public.calls (agent_id, created_at) where direction = 'inbound';
-- "Was this call ever connected to the agent": a busy history row naming the call.
create index agent_status_history_call_idx on public.agent_status_history (call_sid) where call_sid is not null;

-- True when routing may send a customer to this agent now: available, active, their page
-- polled within p_presence_seconds, and their softphone's shift leg in the room. Routing
-- checks this itself and never relies on the presence sweep having run.
create function public.agent_is_routable(p_agent public.agents, p_presence_seconds integer)
returns boolean
language sql stable set search_path = '' as $$
  select p_agent.status = 'available'
     and p_agent.is_active
     and p_agent.shift_call_sid is not null
     and p_agent.last_seen_at is not null
     and p_agent.last_seen_at > pg_catalog.now() - pg_catalog.make_interval(secs => p_presence_seconds)
$$;

-- Agents whose page stopped polling (available, paused or in wrap-up, no poll within
-- p_seconds) go offline with source 'presence'. An agent who never polled counts from the
-- moment their status last changed. Agents reserved for or talking to a customer are left to
-- the call flows. Rows another transaction holds are skipped (the next sweep takes them).
-- Returns how many agents were moved.
create function public.agents_expire_presence(p_seconds integer)
returns integer
language plpgsql set search_path = '' as $$
declare
  v_id    bigint;
  v_count integer := 0;
begin
  for v_id in
    select a.id from public.agents a
     where a.status in ('available', 'paused', 'wrap_up')
       and coalesce(a.last_seen_at, a.status_changed_at) < pg_catalog.now() - pg_catalog.make_interval(secs => p_seconds)
     for update skip locked
  loop
    perform public.agent_transition(v_id, 'offline', null, 'presence', null);
    v_count := v_count + 1;
  end loop;
  return v_count;
end $$;

-- The agent as the page shows it.
create function public.agent_view(p_agent public.agents, p_presence_seconds integer)
returns jsonb
language sql stable set search_path = '' as $$
  select pg_catalog.jsonb_build_object(
    'id', p_agent.id,
    'name', p_agent.name,
    'status', p_agent.status,
    'status_since', p_agent.status_changed_at,
    'pause_reason', p_agent.pause_reason,
    'wrap_up_until', p_agent.wrap_up_until,
    'current_call_sid', p_agent.current_call_sid,
    'shift_connected', p_agent.shift_call_sid is not null,
    'last_seen_at', p_agent.last_seen_at,
    'routable', public.agent_is_routable(p_agent, p_presence_seconds))
$$;

-- An agent chooses a status: available, paused (with a reason from p_allowed_reasons when
-- that list is given) or offline. From wrap_up, paused, available or offline any of them may
-- be chosen; a reserved agent may only go offline: the offer is dropped, and when it was a
-- customer waiting in the agent's queue (an inbound offer) the answer names that call as
-- released_offer so the caller can be sent to the agent's voicemail at once (the offer's own
-- ring timeout does it otherwise); a busy agent (a customer connected) may choose nothing.
-- Choosing the status and reason one already has writes nothing. Choosing is a sign of
-- presence: it touches last_seen_at. Returns agent_view (presence window p_presence_seconds),
-- plus released_offer when an offer was dropped.
create function public.agent_set_status(
  p_agent_id bigint, p_status text, p_reason text, p_by uuid,
  p_allowed_reasons text[] default null, p_presence_seconds integer default 20
) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_agent    public.agents;
  v_reason   text := nullif(pg_catalog.btrim(p_reason), '');
  v_released text;
begin
  if p_status is null or p_status not in ('available', 'paused', 'offline') then
    raise exception 'status % cannot be chosen by an agent', p_status using errcode = 'DA400';
  end if;
  if p_status = 'paused' then
    if v_reason is null then
      raise exception 'paused needs a reason' using errcode = 'DA400';
    end if;
    if p_allowed_reasons is not null and not (v_reason = any (p_allowed_reasons)) then
      raise exception 'pause reason is not in the configured list' using errcode = 'DA400';
    end if;
  elsif v_reason is not null then
    raise exception 'a reason is only given with paused' using errcode = 'DA400';
  end if;

  select * into v_agent from public.agents a where a.id = p_agent_id and a.is_active for update;
  if v_agent.id is null then
    raise exception 'agent % not found', p_agent_id using errcode = 'DA404';
  end if;
  if v_agent.status = 'busy' or (v_agent.status = 'reserved' and p_status <> 'offline') then
    raise exception 'agent is % with call %', v_agent.status, v_agent.current_call_sid using errcode = 'DA409';
  end if;

  if v_agent.status = 'reserved' then
    select c.call_sid into v_released from public.calls c
     where c.call_sid = v_agent.current_call_sid and c.direction = 'inbound';
  end if;

  if v_agent.status = p_status and v_agent.pause_reason is not distinct from v_reason then
    update public.agents set last_seen_at = pg_catalog.now() where id = p_agent_id returning * into v_agent;
  else
    update public.agents set last_seen_at = pg_catalog.now() where id = p_agent_id;
    v_agent := public.agent_transition(p_agent_id, p_status, v_reason, 'agent', p_by);
  end if;
  if v_released is not null then
    return public.agent_view(v_agent, p_presence_seconds) || pg_catalog.jsonb_build_object('released_offer', v_released);
  end if;
  return public.agent_view(v_agent, p_presence_seconds);
end $$;

-- The agent page's poll, in one round trip: checks the session with auth_session (not
-- revoked, before its absolute expiry, used within p_idle_seconds, its user active) and that
-- the user is an agent, touches the session and the agent's last_seen_at (the presence heartbeat), ends an
-- expired wrap-up (available, source 'timer'), sweeps stale agents, and returns what the
-- page shows:
--   {agent, offer, call, waiting, voicemails, missed, server_time}
-- or {error: 'session_expired' | 'forbidden_role'} when the session does not allow it
-- (nothing else is written then; an unknown token is session_expired, as for every /api call).
create function public.agent_poll(p_token_hash text, p_idle_seconds integer, p_presence_seconds integer)
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
  v_now      timestamptz := pg_catalog.now();
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
      'lead', (select pg_catalog.jsonb_build_object(
                 'id', l.id, 'name', l.name, 'external_id', l.external_id, 'fields', l.data,
                 'campaign', case when k.id is null then null
                                  else pg_catalog.jsonb_build_object('id', k.id, 'name', k.name, 'kind', k.kind) end)
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

-- The disposition an agent gives a call they were on (calls.agent_id): one per call, a
-- correction replaces it. Another agent's call, or an unknown one, is DA404. Returns the row.
create function public.agent_set_disposition(
  p_agent_id bigint, p_user_id uuid, p_call_sid text, p_code text, p_notes text, p_callback_at timestamptz
) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_row public.call_dispositions;
begin
  if not exists (select 1 from public.calls c where c.call_sid = p_call_sid and c.agent_id = p_agent_id) then
    raise exception 'call % not found for agent %', p_call_sid, p_agent_id using errcode = 'DA404';
  end if;
  insert into public.call_dispositions as d (call_sid, agent_id, user_id, code, notes, callback_at)
  values (p_call_sid, p_agent_id, p_user_id, p_code, nullif(p_notes, ''), p_callback_at)
  on conflict (call_sid) do update set
    agent_id = excluded.agent_id, user_id = excluded.user_id, code = excluded.code,
    notes = excluded.notes, callback_at = excluded.callback_at, updated_at = pg_catalog.now()
  returning d.* into v_row;
  return pg_catalog.jsonb_build_object(
    'call_sid', v_row.call_sid, 'code', v_row.code, 'notes', v_row.notes, 'callback_at', v_row.callback_at,
    'created_at', v_row.created_at, 'updated_at', v_row.updated_at);
end $$;

-- The agent's softphone identity (agents.client_identity; null when none is set), for the
-- softphone's access token. An inactive or unknown agent is DA404.
create function public.agent_client_identity(p_agent_id bigint)
returns text
language plpgsql stable set search_path = '' as $$
declare
  v_agent public.agents;
begin
  select * into v_agent from public.agents a where a.id = p_agent_id and a.is_active;
  if v_agent.id is null then
    raise exception 'agent % not found', p_agent_id using errcode = 'DA404';
  end if;
  return v_agent.client_identity;
end $$;
