-- The overflow queue: callers wait in a named service queue when no agent can take them, and
-- the longest-waiting caller goes to the next agent who becomes free (docs/queue.md).
--
-- Who serves a queue: every routable agent (available, page polling, shift leg in the room),
-- whatever campaign they work, unless the queue names its agents (service_queues.agent_ids):
-- then only those. Queue callers take precedence over new campaign dials: the pacer's rounds
-- hand them out before pacing.
--
-- Lock order (as everywhere): the customer number's opt-out advisory lock (when taken), the
-- call's row, the queue entry's row, then the agent's row, then the lead's row.
-- queue_assign takes its own advisory lock (one hand-out at a time) before any row.
--
-- Time is read only through public.app_now().

create table public.service_queues (
  name                   text primary key check (name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
  announce_every_seconds integer not null default 45 check (announce_every_seconds between 15 and 600),
  max_wait_seconds       integer not null default 300 check (max_wait_seconds between 30 and 3600),
  on_max_wait            text not null default 'both' check (on_max_wait in ('voicemail', 'callback', 'both')),
  service_level_seconds  integer not null default 60 check (service_level_seconds between 5 and 3600),
  callback_key           text not null default '1' check (callback_key ~ '^[0-9]$'),
  voicemail_key          text not null default '2' check (voicemail_key ~ '^[0-9]$'),
  hold_music             text not null default '/queue-music.wav' check (hold_music ~ '^/[A-Za-z0-9._/-]{1,200}$'),
  agent_ids              bigint[] check (agent_ids is null or pg_catalog.cardinality(agent_ids) between 1 and 500),
  callback_campaign_id   bigint references public.campaigns (id) on delete set null,
  created_at             timestamptz not null default public.app_now(),
  updated_at             timestamptz not null default public.app_now(),
  check (callback_key <> voicemail_key)
);
alter table public.service_queues enable row level security;
comment on column public.service_queues.agent_ids is 'Null: every routable agent serves the queue. Else only these agents.';
comment on column public.service_queues.callback_campaign_id is
  'Where a callback request becomes a lead (pending, callback_at = the request). Null: no callback offered.';
insert into public.service_queues (name) values ('geral');

-- A service number: its calls go to /voice/service and wait in this queue.
alter table public.phone_numbers
  add column service_queue text references public.service_queues (name) on update cascade on delete set null;

-- One caller's stay in a queue. A caller put back after a hand-over that failed keeps the row
-- (and so their place: entered_at). waited_seconds: entered_at to answered_at (answered) or
-- left_at (any other end).
create table public.queue_entries (
  id               bigint generated always as identity primary key,
  call_sid         public.call_sid not null,
  queue_name       text not null references public.service_queues (name) on update cascade,
  from_number      text check (length(from_number) <= 64),
  source           text not null default 'service' check (source in ('service', 'follow_me', 'campaign', 'direct')),
  via_agent_id     bigint references public.agents (id) on delete set null,
  entered_at       timestamptz not null default public.app_now(),
  agent_id         bigint references public.agents (id) on delete set null,
  assigned_at      timestamptz,
  answered_at      timestamptz,
  left_at          timestamptz,
  result           text check (result in ('answered', 'abandoned', 'voicemail', 'callback', 'timeout', 'error', 'opted_out')),
  waited_seconds   integer check (waited_seconds >= 0),
  choice           text check (choice in ('callback', 'voicemail')),
  callback_lead_id bigint references public.leads (id) on delete set null,
  handovers        integer not null default 0,
  leave_action     text check (leave_action in ('none', 'voicemail', 'callback', 'menu')),
  check ((left_at is null) = (result is null))
);
comment on column public.queue_entries.leave_action is
  'What the Enqueue action answered when the wait ended (a repeated action answers the same).';
alter table public.queue_entries enable row level security;
create unique index queue_entries_open_call_idx on public.queue_entries (call_sid) where left_at is null;
create index queue_entries_waiting_idx on public.queue_entries (entered_at, id) where left_at is null and agent_id is null;
create index queue_entries_queue_day_idx on public.queue_entries (queue_name, entered_at);
create index queue_entries_from_idx on public.queue_entries (from_number);
create index queue_entries_call_idx on public.queue_entries (call_sid);
create index queue_entries_agent_idx on public.queue_entries (agent_id) where left_at is null;

-- A queue as the functions and the CLI see it.
create function public.queue_json(p_q public.service_queues)
returns jsonb
language sql stable set search_path = '' as $$
  select pg_catalog.jsonb_build_object(
    'name', p_q.name, 'announce_every_seconds', p_q.announce_every_seconds, 'max_wait_seconds', p_q.max_wait_seconds,
    'on_max_wait', p_q.on_max_wait, 'service_level_seconds', p_q.service_level_seconds,
    'callback_key', p_q.callback_key, 'voicemail_key', p_q.voicemail_key, 'hold_music', p_q.hold_music,
    'agent_ids', pg_catalog.to_jsonb(p_q.agent_ids),
    'callback_campaign', (select k.name from public.campaigns k where k.id = p_q.callback_campaign_id),
    'callback', p_q.callback_campaign_id is not null)
$$;

-- True when agent p_agent serves queue p_q.
create function public.queue_served_by(p_q public.service_queues, p_agent_id bigint)
returns boolean
language sql stable set search_path = '' as $$
  select p_q.agent_ids is null or p_agent_id = any (p_q.agent_ids)
$$;

-- Seconds from entered_at to t, rounded.
create function public.queue_seconds(p_from timestamptz, p_to timestamptz)
returns integer
language sql immutable set search_path = '' as $$
  select greatest(0, pg_catalog.round(extract(epoch from p_to - p_from)))::integer
$$;

-- Reserves a free agent serving queue p_q for call p_call_sid: routable (agent_is_routable),
-- the one idle longest first; rows another transaction holds are skipped. Null when none.
create function public.queue_reserve_agent(p_q public.service_queues, p_call_sid text, p_agent_id bigint, p_presence_seconds integer)
returns public.agents
language plpgsql set search_path = '' as $$
declare
  v_agent public.agents;
begin
  for v_agent in
    select a.* from public.agents a
     where a.status = 'available' and a.is_active and a.shift_call_sid is not null
       and (p_agent_id is null or a.id = p_agent_id)
       and public.queue_served_by(p_q, a.id)
     order by a.status_changed_at, a.id
     limit 20
     for update skip locked
  loop
    -- Re-read under the lock: routable now (the row may have moved before the lock).
    if public.agent_is_routable(v_agent, p_presence_seconds) then
      return public.agent_transition(v_agent.id, 'reserved', null, 'system', null, p_call_sid);
    end if;
  end loop;
  return null;
end $$;

-- True when a callback of p_number from queue p_q can really happen: the queue has a callback
-- campaign that is active (the pacer dials it), the number is Brazilian with a known DDD (the
-- pacer claims leads by DDD: anything else is never dialed; an anonymous caller has no
-- number) and it is not on the opt-out list.
create function public.queue_callback_possible(p_q public.service_queues, p_number text)
returns boolean
language sql stable set search_path = '' as $$
  select p_q.callback_campaign_id is not null
     and coalesce(p_number ~ '^\+55[1-9][0-9][0-9]{8,9}$', false)
     and exists (select 1 from public.campaigns k where k.id = p_q.callback_campaign_id and k.status = 'active')
     and exists (select 1 from public.ddd_regions r where r.ddd = pg_catalog.substr(p_number, 4, 2)::smallint)
     and not exists (select 1 from public.opt_outs o where o.phone_number = p_number)
$$;

-- The queue's recent pace, seconds per caller: over the last hour, the time during which at
-- least one caller was waiting in the queue (the union of the entries' waits, up to now)
-- divided by the callers answered then, when at least two were; else null (no estimate of our
-- own). Time with nobody waiting is not counted: an idle queue is not a slow one.
create function public.queue_seconds_per_caller(p_queue text)
returns integer
language sql stable set search_path = '' as $$
  with span as (select public.app_now() as t_now, public.app_now() - interval '1 hour' as t_from),
  waits as (
    select pg_catalog.tstzrange(greatest(e.entered_at, span.t_from),
                                greatest(e.entered_at, span.t_from, least(coalesce(e.answered_at, e.left_at, span.t_now), span.t_now))) as r
      from public.queue_entries e, span
     where e.queue_name = p_queue and e.entered_at < span.t_now and coalesce(e.left_at, span.t_now) > span.t_from),
  busy as (
    select coalesce(pg_catalog.sum(extract(epoch from pg_catalog.upper(x) - pg_catalog.lower(x))), 0) as seconds
      from pg_catalog.unnest((select pg_catalog.range_agg(w.r) from waits w)) x),
  answered as (
    select pg_catalog.count(*) as n from public.queue_entries e, span
     where e.queue_name = p_queue and e.result = 'answered' and e.answered_at > span.t_from)
  select case when answered.n >= 2 then greatest(1, pg_catalog.round(busy.seconds / answered.n))::integer end
    from busy, answered
$$;

-- A call to a service number reached /voice/service: the webhook is recorded (calls,
-- call_events) and the answer says whether the caller is on the opt-out list and which queue
-- the number serves ('geral' when the number has none). Answers {opted_out, queue}.
create function public.service_call_start(p_event jsonb)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_opted boolean;
begin
  perform 1 from public.calls c where c.call_sid = p_event->>'call_sid' for update;
  perform public.apply_call_event(p_event || pg_catalog.jsonb_build_object('kind', 'voice', 'dedupe_key', 'voice:service'));
  v_opted := exists (select 1 from public.opt_outs o where o.phone_number = p_event->>'from');
  return pg_catalog.jsonb_build_object('opted_out', v_opted,
    'queue', coalesce(public.phone_number_service_queue(p_event->>'to'), 'geral'));
end $$;

-- A caller enters queue p_queue (unknown or null: 'geral'). p_event: the voice event (call_sid,
-- from, to, direction, …), plus presence_seconds, opt_out_inbound (OPT_OUT_INBOUND), source
-- ('service' | 'follow_me' | 'campaign' | 'direct'), via_agent_id. The webhook is recorded
-- (calls, call_events). An opted-out caller not to be served (opt_out_inbound other than
-- 'continue') gets {opted_out: true} and no entry; a customer of a call discador placed (any
-- direction but inbound) on the list is never served, whatever OPT_OUT_INBOUND says (checked
-- under the number's opt-out lock; the call is marked opted_out_after_dial). A caller already in
-- the queue (a hand-over that failed brought them back) keeps their entry and place (an entry
-- refused this way ends 'opted_out'). When nobody in the queue waits longer and a serving agent
-- is free, that agent is reserved at once: {agent: {id, room_conference_sid}}; the caller goes
-- straight to the room. Answers {opted_out, direction, entry_id, queue: queue_json (its
-- `callback` true only when this caller can be called back: queue_callback_possible),
-- position, waited_seconds (already waited: a caller back in the queue carries it into the
-- wait document), agent}.
create function public.queue_enter(p_event jsonb, p_queue text)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_q        public.service_queues;
  v_sid      text := p_event->>'call_sid';
  v_inbound  boolean := coalesce(p_event->>'direction', 'inbound') = 'inbound';
  v_customer text := case when coalesce(p_event->>'direction', 'inbound') = 'inbound' then p_event->>'from' else p_event->>'to' end;
  v_opted    boolean;
  v_entry    public.queue_entries;
  v_agent    public.agents;
  v_ahead    integer;
  v_now      timestamptz := public.app_now();
begin
  select * into v_q from public.service_queues q where q.name = p_queue;
  if v_q.name is null then
    select * into v_q from public.service_queues q where q.name = 'geral';
  end if;
  if v_q.name is null then
    raise exception 'no service queue % and no queue geral', p_queue using errcode = '22023';
  end if;
  if not v_inbound and v_customer is not null then
    -- A number discador dialed: the list is read under its lock (as start_connect does).
    perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(v_customer));
  end if;
  perform 1 from public.calls c where c.call_sid = v_sid for update;
  perform public.apply_call_event(p_event || pg_catalog.jsonb_build_object('kind', 'voice', 'dedupe_key', 'voice:queue'));
  v_opted := exists (select 1 from public.opt_outs o where o.phone_number = v_customer);
  if v_opted and (not v_inbound or coalesce(p_event->>'opt_out_inbound', 'continue') <> 'continue') then
    if not v_inbound then
      update public.calls
         set end_reason = coalesce(end_reason, 'opted_out_after_dial'), opted_out = true, updated_at = v_now
       where call_sid = v_sid;
    end if;
    select * into v_entry from public.queue_entries e where e.call_sid = v_sid and e.left_at is null for update;
    if v_entry.id is not null then
      perform public.agent_transition(a.id, 'available', null, 'system', null)
         from public.agents a where a.id = v_entry.agent_id and a.status = 'reserved' and a.current_call_sid = v_sid;
      update public.queue_entries set left_at = v_now, result = 'opted_out', agent_id = null, leave_action = 'none',
             waited_seconds = public.queue_seconds(entered_at, v_now)
       where id = v_entry.id;
    end if;
    return pg_catalog.jsonb_build_object('opted_out', true, 'direction', coalesce(p_event->>'direction', 'inbound'),
      'queue', public.queue_json(v_q));
  end if;

  select * into v_entry from public.queue_entries e where e.call_sid = v_sid and e.left_at is null for update;
  if v_entry.id is null then
    insert into public.queue_entries (call_sid, queue_name, from_number, source, via_agent_id, entered_at)
    values (v_sid, v_q.name, v_customer, coalesce(p_event->>'source', 'service'), (p_event->>'via_agent_id')::bigint, v_now)
    returning * into v_entry;
  elsif v_entry.agent_id is not null and v_entry.answered_at is null then
    -- Back from a hand-over that did not connect: the reservation (if any is left) goes.
    perform public.agent_transition(a.id, 'available', null, 'system', null)
       from public.agents a where a.id = v_entry.agent_id and a.status = 'reserved' and a.current_call_sid = v_sid;
    update public.queue_entries set agent_id = null, assigned_at = null where id = v_entry.id returning * into v_entry;
  end if;

  select pg_catalog.count(*) into v_ahead from public.queue_entries e
   where e.queue_name = v_entry.queue_name and e.left_at is null and e.id <> v_entry.id
     and (e.entered_at, e.id) < (v_entry.entered_at, v_entry.id);
  if v_ahead = 0 then
    v_agent := public.queue_reserve_agent(v_q, v_sid, null, coalesce((p_event->>'presence_seconds')::integer, 20));
    if v_agent.id is not null then
      update public.queue_entries set agent_id = v_agent.id, assigned_at = v_now, handovers = handovers + 1
       where id = v_entry.id returning * into v_entry;
    end if;
  end if;
  return pg_catalog.jsonb_build_object(
    'opted_out', v_opted, 'direction', coalesce(p_event->>'direction', 'inbound'), 'entry_id', v_entry.id,
    'queue', public.queue_json(v_q) || pg_catalog.jsonb_build_object('callback', public.queue_callback_possible(v_q, v_customer)),
    'seconds_per_caller', public.queue_seconds_per_caller(v_q.name),
    'position', v_ahead + 1, 'waited_seconds', public.queue_seconds(v_entry.entered_at, v_now),
    'agent', case when v_agent.id is null then null else pg_catalog.jsonb_build_object(
      'id', v_agent.id, 'room_conference_sid', v_agent.room_conference_sid, 'shift_call_sid', v_agent.shift_call_sid) end);
end $$;

-- Hands the longest-waiting caller to a free agent: the oldest entry not assigned whose queue
-- a free routable agent serves (p_agent_id: only that agent), both locked (rows held by
-- another dispatcher are skipped: one caller never gets two agents, one agent never two
-- callers), the agent reserved for the call (agent_transition). Hand-overs that did not
-- connect within p_stale_seconds are undone first (agent released, caller waits again); an
-- entry whose call is over is closed as abandoned, never handed out.
-- Answers {entry_id, call_sid, queue, waited_seconds, agent: {id, room_conference_sid,
-- shift_call_sid}}, or {entry_id, call_sid, queue, opted_out: true, agent: null} for a dialed
-- customer who opted out while waiting (closed, to hang up), or null when there is nothing
-- to hand out.
create function public.queue_assign(p_agent_id bigint default null, p_presence_seconds integer default 20, p_stale_seconds integer default 30)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_entry public.queue_entries;
  v_q     public.service_queues;
  v_agent public.agents;
  v_now   timestamptz := public.app_now();
begin
  if not exists (select 1 from public.queue_entries e where e.left_at is null) then
    return null;
  end if;
  -- One hand-out at a time (each takes milliseconds): with several at once, one holding the
  -- oldest entry could lose the free agent to another holding a younger one, and the
  -- longest-waiting caller would be passed over.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('discador.queue_assign'), 0);
  for v_entry in
    select * from public.queue_entries e
     where e.left_at is null and e.agent_id is not null and e.answered_at is null
       and e.assigned_at < v_now - pg_catalog.make_interval(secs => p_stale_seconds)
     order by e.id
     for update skip locked
  loop
    perform public.agent_transition(a.id, 'available', null, 'system', null)
       from public.agents a where a.id = v_entry.agent_id and a.status = 'reserved' and a.current_call_sid = v_entry.call_sid;
    update public.queue_entries set agent_id = null, assigned_at = null where id = v_entry.id;
  end loop;

  -- Only entries of queues a free routable agent serves (p_agent_id: that agent) are looked at,
  -- so callers of a queue nobody free serves never hide older callers of a served one.
  for v_entry in
    select * from public.queue_entries e
     where e.left_at is null and e.agent_id is null
       and exists (
         select 1 from public.service_queues q join public.agents a on public.queue_served_by(q, a.id)
          where q.name = e.queue_name and a.status = 'available' and a.is_active and a.shift_call_sid is not null
            and (p_agent_id is null or a.id = p_agent_id)
            and public.agent_is_routable(a, p_presence_seconds))
     order by e.entered_at, e.id
     limit 50
     for update skip locked
  loop
    -- A caller whose call is over (the Enqueue action not in yet) is never handed out.
    if public.call_is_over(v_entry.call_sid) then
      update public.queue_entries set left_at = v_now, result = 'abandoned', waited_seconds = public.queue_seconds(entered_at, v_now)
       where id = v_entry.id;
      continue;
    end if;
    -- A customer discador dialed (a campaign's call) who opted out while waiting is never
    -- handed to an agent (the agent would hear the whisper, then be refused at connect): the
    -- entry ends 'opted_out' and the dispatcher ends the call. Inbound callers keep
    -- OPT_OUT_INBOUND, applied when they enter and at connect.
    if exists (select 1 from public.calls c join public.opt_outs o on o.phone_number = c.to_number
                where c.call_sid = v_entry.call_sid and c.direction <> 'inbound') then
      update public.calls
         set end_reason = coalesce(end_reason, 'opted_out_after_dial'), opted_out = true, updated_at = v_now
       where call_sid = v_entry.call_sid;
      update public.queue_entries set left_at = v_now, result = 'opted_out', leave_action = 'none',
             waited_seconds = public.queue_seconds(entered_at, v_now)
       where id = v_entry.id;
      return pg_catalog.jsonb_build_object(
        'entry_id', v_entry.id, 'call_sid', v_entry.call_sid, 'queue', v_entry.queue_name, 'opted_out', true,
        'waited_seconds', public.queue_seconds(v_entry.entered_at, v_now), 'agent', null);
    end if;
    select * into v_q from public.service_queues q where q.name = v_entry.queue_name;
    v_agent := public.queue_reserve_agent(v_q, v_entry.call_sid, p_agent_id, p_presence_seconds);
    if v_agent.id is not null then
      update public.queue_entries set agent_id = v_agent.id, assigned_at = v_now, handovers = handovers + 1
       where id = v_entry.id;
      return pg_catalog.jsonb_build_object(
        'entry_id', v_entry.id, 'call_sid', v_entry.call_sid, 'queue', v_entry.queue_name,
        'waited_seconds', public.queue_seconds(v_entry.entered_at, v_now),
        'agent', pg_catalog.jsonb_build_object('id', v_agent.id, 'room_conference_sid', v_agent.room_conference_sid,
          'shift_call_sid', v_agent.shift_call_sid));
    end if;
    if p_agent_id is not null and not exists (
      select 1 from public.agents a where a.id = p_agent_id and a.status = 'available') then
      return null;
    end if;
  end loop;
  return null;
end $$;

-- A hand-over that could not be carried out (the redirect failed): the agent reserved for it
-- is released; the caller waits again, or, when the call is over (p_caller_gone), the entry
-- ends as abandoned.
create function public.queue_assign_failed(p_entry_id bigint, p_caller_gone boolean)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_entry public.queue_entries;
  v_now   timestamptz := public.app_now();
begin
  select * into v_entry from public.queue_entries e where e.id = p_entry_id for update;
  if v_entry.id is null then
    return null;
  end if;
  perform public.agent_transition(a.id, 'available', null, 'system', null)
     from public.agents a where a.id = v_entry.agent_id and a.status = 'reserved' and a.current_call_sid = v_entry.call_sid;
  if v_entry.left_at is null and v_entry.answered_at is null then
    if p_caller_gone then
      update public.queue_entries set left_at = v_now, result = 'abandoned', waited_seconds = public.queue_seconds(entered_at, v_now)
       where id = v_entry.id returning * into v_entry;
    else
      update public.queue_entries set agent_id = null, assigned_at = null where id = v_entry.id returning * into v_entry;
    end if;
  end if;
  return pg_catalog.jsonb_build_object('entry_id', v_entry.id, 'result', v_entry.result);
end $$;

-- An agent reserved for a queued caller went offline (agent_set_status answered the call as
-- released_offer): when p_call_sid is a queue caller not yet in the room, the caller is put
-- back in the queue in their place (an entry the connect step had closed as answered is opened
-- again: the customer never reached the agent) and the answer names the queue, so the caller
-- is redirected to /voice/queue?queue=<name>, never to that agent's voicemail. Answers
-- {queue} or null (not a queue call, or already in the room or ended otherwise).
create function public.queue_release_offer(p_call_sid text)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_entry public.queue_entries;
  v_call  public.calls;
begin
  select * into v_call from public.calls c where c.call_sid = p_call_sid for update;
  select * into v_entry from public.queue_entries e where e.call_sid = p_call_sid order by e.id desc limit 1 for update;
  if v_entry.id is null or public.call_is_over(p_call_sid) then
    return null;
  end if;
  if v_entry.left_at is null then
    perform public.agent_transition(a.id, 'available', null, 'system', null)
       from public.agents a where a.id = v_entry.agent_id and a.status = 'reserved' and a.current_call_sid = p_call_sid;
    update public.queue_entries set agent_id = null, assigned_at = null where id = v_entry.id;
  elsif v_entry.result = 'answered' and v_call.connected_at is null
        and not exists (select 1 from public.queue_entries e where e.call_sid = p_call_sid and e.left_at is null) then
    update public.queue_entries
       set agent_id = null, assigned_at = null, answered_at = null, left_at = null, result = null, waited_seconds = null,
           leave_action = null
     where id = v_entry.id;
  else
    return null;
  end if;
  return pg_catalog.jsonb_build_object('queue', v_entry.queue_name, 'entry_id', v_entry.id);
end $$;

-- /voice/queue-connect: the caller handed to agent p_agent_id is put in the room. start_connect
-- records the webhook, checks the opt-out list again under the number's lock and that the
-- room takes this call (the agent reserved for it, shift leg live, page polling). Connected:
-- the entry is answered (waited_seconds up to now); an opted-out caller not to be served
-- (p_event.opt_out_inbound) ends 'opted_out'; no room: the agent was released by start_connect
-- and the caller goes back to waiting (requeue: true). A campaign customer answered from the
-- queue is no longer 'abandoned' for their lead (abandoned_at stays: the pacer's abandon rate
-- counts it). Answers start_connect's answer plus queue and requeue.
create function public.queue_connect(p_event jsonb, p_agent_id bigint)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_answer jsonb;
  v_entry  public.queue_entries;
  v_now    timestamptz := public.app_now();
  v_sid    text := p_event->>'call_sid';
begin
  v_answer := public.start_connect(p_event, p_agent_id);
  select * into v_entry from public.queue_entries e where e.call_sid = v_sid and e.left_at is null for update;
  if v_answer->>'reason' = 'opted_out_after_dial' then
    -- A customer discador dialed who opted out while waiting: nobody stays reserved for them
    -- and the entry ends, so it is never handed out again.
    perform public.agent_transition(a.id, 'available', null, 'system', null)
       from public.agents a
      where a.id in (p_agent_id, v_entry.agent_id) and a.status = 'reserved' and a.current_call_sid = v_sid;
    if v_entry.id is not null then
      update public.queue_entries set left_at = v_now, result = 'opted_out', agent_id = null, leave_action = 'none',
             waited_seconds = public.queue_seconds(entered_at, v_now)
       where id = v_entry.id;
    end if;
    return v_answer || pg_catalog.jsonb_build_object('queue', coalesce(v_entry.queue_name, p_event->>'queue'), 'requeue', false);
  end if;
  if (v_answer->>'connect')::boolean then
    if (v_answer->>'opted_out')::boolean and coalesce(p_event->>'opt_out_inbound', 'continue') <> 'continue' then
      perform public.agent_transition(a.id, 'available', null, 'system', null)
         from public.agents a where a.id = p_agent_id and a.status = 'reserved' and a.current_call_sid = v_sid;
      update public.queue_entries set left_at = v_now, result = 'opted_out', leave_action = 'none',
             waited_seconds = public.queue_seconds(entered_at, v_now)
       where id = v_entry.id;
      return v_answer || pg_catalog.jsonb_build_object('queue', v_entry.queue_name, 'requeue', false);
    end if;
    update public.queue_entries
       set agent_id = p_agent_id, answered_at = v_now, left_at = v_now, result = 'answered',
           waited_seconds = public.queue_seconds(entered_at, v_now)
     where id = v_entry.id;
    update public.calls set outcome = 'human', updated_at = v_now
     where call_sid = v_sid and outcome = 'abandoned' and campaign_id is not null;
    return v_answer || pg_catalog.jsonb_build_object('queue', v_entry.queue_name, 'requeue', false);
  end if;
  if v_entry.id is not null then
    update public.queue_entries set agent_id = null, assigned_at = null where id = v_entry.id;
  end if;
  return v_answer || pg_catalog.jsonb_build_object('queue', v_entry.queue_name,
    'requeue', v_entry.id is not null and v_answer->>'reason' = 'no_room');
end $$;

-- A key the waiting caller pressed (the wait document's Gather): the queue's callback key
-- (offered only when this caller can be called back: queue_callback_possible) or voicemail key is noted as the caller's choice;
-- the caller then leaves the queue (<Leave>) and the Enqueue action carries it out. Answers
-- {choice} (null: a key that means nothing; the caller keeps waiting).
create function public.queue_key(p_call_sid text, p_digits text)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_entry  public.queue_entries;
  v_q      public.service_queues;
  v_choice text;
begin
  select * into v_entry from public.queue_entries e where e.call_sid = p_call_sid and e.left_at is null for update;
  if v_entry.id is null then
    return pg_catalog.jsonb_build_object('choice', null);
  end if;
  select * into v_q from public.service_queues q where q.name = v_entry.queue_name;
  v_choice := case when p_digits = v_q.callback_key and public.queue_callback_possible(v_q, v_entry.from_number) then 'callback'
                   when p_digits = v_q.voicemail_key then 'voicemail' end;
  if v_choice is not null and v_entry.agent_id is null then
    update public.queue_entries set choice = v_choice where id = v_entry.id;
  end if;
  return pg_catalog.jsonb_build_object('choice', case when v_entry.agent_id is null then v_choice end, 'queue', v_entry.queue_name);
end $$;

-- Schedules the callback of a queue entry: the caller's number becomes a lead of the queue's
-- callback campaign, pending with callback_at now and a high priority (an existing lead of that
-- number in the campaign is made due again, unless it is being dialed, previewed or opted
-- out). Null when the callback cannot happen (queue_callback_possible: no active callback
-- campaign, a number without a Brazilian DDD or none, a number on the opt-out list).
create function public.queue_schedule_callback(p_entry public.queue_entries)
returns bigint
language plpgsql set search_path = '' as $$
declare
  v_q    public.service_queues;
  v_lead bigint;
  v_now  timestamptz := public.app_now();
begin
  select * into v_q from public.service_queues q where q.name = p_entry.queue_name;
  if not public.queue_callback_possible(v_q, p_entry.from_number) then
    return null;
  end if;
  insert into public.leads as l (campaign_id, phone_number, status, callback_at, priority, data)
  values (v_q.callback_campaign_id, p_entry.from_number, 'pending', v_now, 100,
          pg_catalog.jsonb_build_object('queue', p_entry.queue_name, 'call_sid', p_entry.call_sid))
  on conflict (campaign_id, phone_number) do update
     set status = case when l.status in ('dialing', 'previewing', 'opted_out') then l.status else 'pending' end,
         callback_at = v_now, priority = greatest(l.priority, 100),
         max_attempts = greatest(l.max_attempts, l.attempts + 1), updated_at = v_now
  returning l.id into v_lead;
  return v_lead;
end $$;

-- The Enqueue action: the caller left the queue's wait. p_result is Twilio's QueueResult:
--   hangup                       abandoned in the queue (an agent reserved for them is released)
--   leave                        the caller's key (choice) or the max wait (timeout): then the
--                                queue's on_max_wait (voicemail, callback, both = a menu; the
--                                callback and the menu only when this caller can be called back)
--   bridged/redirected/…         a hand-over moved them: nothing here
--   anything else (error, system-error, queue-full)  result error, then voicemail
-- A callback that cannot happen falls back to voicemail (result 'voicemail').
-- Answers {action: 'none'|'voicemail'|'callback'|'menu', queue, lead_id, result, callback_key,
-- voicemail_key}. A repeat for an entry already ended answers what it answered then
-- (leave_action; for entries another path ended, the action their result implies).
create function public.queue_leave(p_call_sid text, p_result text)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_entry  public.queue_entries;
  v_q      public.service_queues;
  v_now    timestamptz := public.app_now();
  v_action text := 'none';
  v_result text;
  v_lead   bigint;
begin
  select * into v_entry from public.queue_entries e where e.call_sid = p_call_sid and e.left_at is null for update;
  if v_entry.id is null then
    select * into v_entry from public.queue_entries e where e.call_sid = p_call_sid order by e.id desc limit 1;
    select * into v_q from public.service_queues q where q.name = v_entry.queue_name;
    return pg_catalog.jsonb_build_object('action',
        coalesce(v_entry.leave_action, case when v_entry.result in ('voicemail', 'timeout', 'error') then 'voicemail'
                                            when v_entry.result = 'callback' and v_entry.callback_lead_id is not null then 'callback'
                                            when v_entry.result = 'callback' then 'voicemail'
                                            else 'none' end),
      'queue', v_entry.queue_name, 'result', v_entry.result, 'lead_id', v_entry.callback_lead_id,
      'callback_key', v_q.callback_key, 'voicemail_key', v_q.voicemail_key);
  end if;
  select * into v_q from public.service_queues q where q.name = v_entry.queue_name;
  if p_result in ('bridged', 'bridging-in-process', 'redirected', 'redirected-from-bridged') then
    return pg_catalog.jsonb_build_object('action', 'none', 'queue', v_entry.queue_name, 'result', null);
  end if;
  -- Whatever ends the wait ends a hand-over still pending.
  perform public.agent_transition(a.id, 'available', null, 'system', null)
     from public.agents a where a.id = v_entry.agent_id and a.status = 'reserved' and a.current_call_sid = p_call_sid;
  if p_result = 'hangup' then
    v_result := 'abandoned';
  elsif p_result = 'leave' and v_entry.choice is not null then
    v_result := v_entry.choice;
    v_action := v_entry.choice;
  elsif p_result = 'leave' then
    v_result := 'timeout';
    v_action := case when not public.queue_callback_possible(v_q, v_entry.from_number) then 'voicemail'
                     when v_q.on_max_wait = 'both' then 'menu'
                     when v_q.on_max_wait = 'callback' then 'callback'
                     else 'voicemail' end;
  else
    v_result := 'error';
    v_action := 'voicemail';
  end if;
  if v_action = 'callback' then
    v_lead := public.queue_schedule_callback(v_entry);
    if v_lead is null then
      v_action := 'voicemail';
      v_result := 'voicemail';
    end if;
  end if;
  update public.queue_entries
     set left_at = v_now, result = v_result, waited_seconds = public.queue_seconds(entered_at, v_now),
         agent_id = null, callback_lead_id = v_lead, leave_action = v_action
   where id = v_entry.id;
  return pg_catalog.jsonb_build_object('action', v_action, 'queue', v_entry.queue_name, 'result', v_result, 'lead_id', v_lead,
    'callback_key', v_q.callback_key, 'voicemail_key', v_q.voicemail_key);
end $$;

-- The menu after the max wait (on_max_wait 'both'): the callback key schedules the callback
-- (entry's callback_lead_id); anything else (or nothing) is a voicemail. Answers {action:
-- 'callback'|'voicemail', queue, lead_id}.
create function public.queue_menu_choice(p_call_sid text, p_digits text)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_entry public.queue_entries;
  v_q     public.service_queues;
  v_lead  bigint;
begin
  select * into v_entry from public.queue_entries e where e.call_sid = p_call_sid order by e.id desc limit 1 for update;
  if v_entry.id is null then
    return pg_catalog.jsonb_build_object('action', 'voicemail', 'queue', null, 'lead_id', null);
  end if;
  select * into v_q from public.service_queues q where q.name = v_entry.queue_name;
  if p_digits = v_q.callback_key then
    v_lead := coalesce(v_entry.callback_lead_id, public.queue_schedule_callback(v_entry));
    if v_lead is not null then
      update public.queue_entries set callback_lead_id = v_lead, choice = 'callback' where id = v_entry.id;
      return pg_catalog.jsonb_build_object('action', 'callback', 'queue', v_entry.queue_name, 'lead_id', v_lead);
    end if;
  end if;
  update public.queue_entries set choice = 'voicemail' where id = v_entry.id and choice is null;
  return pg_catalog.jsonb_build_object('action', 'voicemail', 'queue', v_entry.queue_name, 'lead_id', null);
end $$;

-- The heartbeat's housekeeping: entries still open whose call is over (the Enqueue action was
-- lost) end as abandoned, and a reservation left for them is released. Returns how many.
create function public.queue_sweep()
returns integer
language plpgsql set search_path = '' as $$
declare
  v_entry public.queue_entries;
  v_count integer := 0;
  v_now   timestamptz := public.app_now();
begin
  for v_entry in
    select e.* from public.queue_entries e join public.calls c on c.call_sid = e.call_sid
     where e.left_at is null and (c.ended_at is not null or public.call_status_rank(c.status) >= 4)
     order by e.id
     limit 1000
     for update of e skip locked
  loop
    perform public.agent_transition(a.id, 'available', null, 'system', null)
       from public.agents a where a.id = v_entry.agent_id and a.status = 'reserved' and a.current_call_sid = v_entry.call_sid;
    update public.queue_entries set left_at = v_now, result = 'abandoned', waited_seconds = public.queue_seconds(entered_at, v_now)
     where id = v_entry.id;
    v_count := v_count + 1;
  end loop;
  return v_count;
end $$;

-- Queue figures per queue and day (America/Sao_Paulo) for entries that entered in
-- [p_from, p_to), p_queue null = every queue: entered, answered, answered within the queue's
-- service_level_seconds, abandoned, voicemail, callback, timeout, opted_out, error, still
-- waiting, average and longest wait (seconds, over ended entries), average wait of answered
-- callers, and service_level = answered within the level / entries that ended (any result but
-- error), null when none ended.
create function public.queue_stats(p_from timestamptz, p_to timestamptz, p_queue text default null)
returns table (
  queue_name text, day date, entered bigint, answered bigint, answered_in_level bigint, abandoned bigint,
  voicemail bigint, callback bigint, timeout bigint, opted_out bigint, error bigint, waiting bigint,
  avg_wait_seconds numeric, max_wait_seconds integer, avg_answer_seconds numeric, service_level numeric
)
language sql stable set search_path = '' as $$
  select e.queue_name,
         (e.entered_at at time zone 'America/Sao_Paulo')::date as day,
         pg_catalog.count(*),
         pg_catalog.count(*) filter (where e.result = 'answered'),
         pg_catalog.count(*) filter (where e.result = 'answered' and e.waited_seconds <= q.service_level_seconds),
         pg_catalog.count(*) filter (where e.result = 'abandoned'),
         pg_catalog.count(*) filter (where e.result = 'voicemail'),
         pg_catalog.count(*) filter (where e.result = 'callback'),
         pg_catalog.count(*) filter (where e.result = 'timeout'),
         pg_catalog.count(*) filter (where e.result = 'opted_out'),
         pg_catalog.count(*) filter (where e.result = 'error'),
         pg_catalog.count(*) filter (where e.left_at is null),
         pg_catalog.round(pg_catalog.avg(e.waited_seconds), 1),
         pg_catalog.max(e.waited_seconds),
         pg_catalog.round(pg_catalog.avg(e.waited_seconds) filter (where e.result = 'answered'), 1),
         pg_catalog.round(
           (pg_catalog.count(*) filter (where e.result = 'answered' and e.waited_seconds <= q.service_level_seconds))::numeric
           / nullif(pg_catalog.count(*) filter (where e.left_at is not null and e.result <> 'error'), 0), 4)
    from public.queue_entries e join public.service_queues q on q.name = e.queue_name
   where e.entered_at >= p_from and e.entered_at < p_to and (p_queue is null or e.queue_name = p_queue)
   group by e.queue_name, 2
   order by 2, 1
$$;

-- Creates or changes a queue (the CLI's `queues set`). p: {name, announce_every_seconds,
-- max_wait_seconds, on_max_wait, service_level_seconds, callback_key, voicemail_key,
-- hold_music, agent_ids (array of agent ids, or null = every agent), callback_campaign (a
-- campaign's name, or null = none)}; absent keys keep their value (defaults for a new queue).
-- Bad values raise 22023/23514 with nothing written. Answers queue_json.
create function public.queue_set(p jsonb)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_q        public.service_queues;
  v_campaign bigint;
  v_agents   bigint[];
  v_missing  bigint[];
begin
  if p->>'name' is null or p->>'name' !~ '^[a-z0-9][a-z0-9_-]{0,39}$' then
    raise exception 'queue name must be 1 to 40 of a-z, 0-9, _ and -, starting with a letter or digit' using errcode = '22023';
  end if;
  insert into public.service_queues (name) values (p->>'name') on conflict (name) do nothing;
  select * into v_q from public.service_queues q where q.name = p->>'name' for update;
  if p ? 'callback_campaign' and p->>'callback_campaign' is not null then
    select k.id into v_campaign from public.campaigns k where k.name = p->>'callback_campaign';
    if v_campaign is null then
      raise exception 'no campaign named %', p->>'callback_campaign' using errcode = '22023';
    end if;
  end if;
  if p ? 'agent_ids' and pg_catalog.jsonb_typeof(p->'agent_ids') = 'array' then
    select pg_catalog.array_agg(distinct x::bigint order by x::bigint) into v_agents from pg_catalog.jsonb_array_elements_text(p->'agent_ids') x;
    select pg_catalog.array_agg(x) into v_missing from pg_catalog.unnest(v_agents) x
     where not exists (select 1 from public.agents a where a.id = x);
    if v_missing is not null then
      raise exception 'no agent with id %', pg_catalog.array_to_string(v_missing, ', ') using errcode = '22023';
    end if;
  end if;
  update public.service_queues q set
    announce_every_seconds = coalesce((p->>'announce_every_seconds')::integer, q.announce_every_seconds),
    max_wait_seconds       = coalesce((p->>'max_wait_seconds')::integer, q.max_wait_seconds),
    on_max_wait            = coalesce(p->>'on_max_wait', q.on_max_wait),
    service_level_seconds  = coalesce((p->>'service_level_seconds')::integer, q.service_level_seconds),
    callback_key           = coalesce(p->>'callback_key', q.callback_key),
    voicemail_key          = coalesce(p->>'voicemail_key', q.voicemail_key),
    hold_music             = coalesce(p->>'hold_music', q.hold_music),
    agent_ids              = case when p ? 'agent_ids' then v_agents else q.agent_ids end,
    callback_campaign_id   = case when p ? 'callback_campaign' then v_campaign else q.callback_campaign_id end,
    updated_at             = public.app_now()
  where q.name = v_q.name
  returning q.* into v_q;
  return public.queue_json(v_q);
end $$;

-- Every queue with its settings, its service numbers and how many callers wait now.
create function public.queue_list()
returns jsonb
language sql stable set search_path = '' as $$
  select coalesce(pg_catalog.jsonb_agg(public.queue_json(q) || pg_catalog.jsonb_build_object(
           'numbers', coalesce((select pg_catalog.jsonb_agg(n.phone_number order by n.phone_number)
                                  from public.phone_numbers n where n.service_queue = q.name), '[]'::jsonb),
           'waiting', (select pg_catalog.count(*) from public.queue_entries e where e.queue_name = q.name and e.left_at is null))
         order by q.name), '[]'::jsonb)
    from public.service_queues q
$$;

-- Makes p_number a service number of queue p_queue (null: no longer a service number).
-- Unknown number or queue: 22023, nothing changed. Answers {phone_number, service_queue}.
create function public.phone_number_set_service(p_number text, p_queue text)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_n public.phone_numbers;
begin
  if p_queue is not null and not exists (select 1 from public.service_queues q where q.name = p_queue) then
    raise exception 'no service queue %', p_queue using errcode = '22023';
  end if;
  update public.phone_numbers n set service_queue = p_queue, updated_at = public.app_now()
   where n.phone_number = p_number returning n.* into v_n;
  if v_n.id is null then
    raise exception 'number % is not in phone_numbers (run numbers sync first)', p_number using errcode = '22023';
  end if;
  return pg_catalog.jsonb_build_object('phone_number', v_n.phone_number, 'service_queue', v_n.service_queue);
end $$;

-- The queue a service number's calls wait in (null: not a service number).
create function public.phone_number_service_queue(p_number text)
returns text
language sql stable set search_path = '' as $$
  select n.service_queue from public.phone_numbers n where n.phone_number = p_number and n.is_active
$$;

-- ---------------------------------------------------------------------------------------
-- pacer_snapshot, as in 20261127090300_pacer.sql with one change: a live call that went to a
-- service queue (a queue_entries row still open, or closed other than answered: the customer
-- is in the queue's voicemail, the menu or the callback confirmation) is not `waiting` for an
-- agent of its campaign. It waits for whoever serves the queue (dispatch hands queue callers
-- out before pacing) or for nobody at all; counting it would hold power and predictive
-- dialing at zero for the whole stay (docs/queue.md, "The pacer").
create or replace function public.pacer_snapshot(
  p_campaign public.campaigns, p_presence_seconds integer, p_windows jsonb, p_dials_last_second integer
) returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_now       timestamptz := public.app_now();
  v_local_now timestamp := public.app_now() at time zone 'America/Sao_Paulo';
  v_day_start timestamptz := pg_catalog.date_trunc('day', public.app_now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo';
  v_hour_ago  timestamptz := public.app_now() - interval '1 hour';
  v_id        bigint := p_campaign.id;
  v_agents    jsonb;
  v_unroutable integer;
  v_preview   jsonb;
  v_calls     record;
  v_dials     record;
  v_answers   record;
  v_amd       record;
  v_talk      record;
  v_wrap      record;
  v_live      record;
  v_holidays  jsonb;
  v_own_dials integer;
  v_held      text[];
begin
  -- Agents of the campaign as the pacer sees them. An available agent counts only when routable
  -- (polled recently, shift leg in the room); offline agents are not logged in. Available agents
  -- waiting for a preview lead, longest waiting first.
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', a.id, 'activity', x.activity,
           'since_ms', (extract(epoch from a.status_changed_at) * 1000)::bigint) order by a.id) filter (where x.activity is not null), '[]'::jsonb),
         (pg_catalog.count(*) filter (where a.status = 'available' and x.activity is null))::integer,
         coalesce(pg_catalog.jsonb_agg(a.id order by a.preview_requested_at, a.id)
                    filter (where x.activity = 'available' and a.preview_requested_at is not null), '[]'::jsonb)
    into v_agents, v_unroutable, v_preview
    from public.agents a
    cross join lateral (select case
        when a.status = 'available' then case when public.agent_is_routable(a, p_presence_seconds) then 'available' end
        when a.status in ('reserved', 'busy') then 'talking'
        when a.status = 'wrap_up' then 'wrapup'
        when a.status = 'paused' then 'paused' end as activity) x
   where a.campaign_id = v_id and a.is_active and a.status <> 'offline';

  -- The calls the campaign's agents are reserved for or talking to (agents.current_call_sid):
  -- a live answer with an agent is connected, not waiting, from the moment of the reservation.
  select coalesce(pg_catalog.array_agg(a.current_call_sid::text), '{}'::text[]) into v_held
    from public.agents a
   where a.campaign_id = v_id and a.status in ('reserved', 'busy') and a.current_call_sid is not null;

  -- Unfinished calls by stage. A call still queued without news after ten minutes is the
  -- reconciler's, not a line in use.
  select (pg_catalog.count(*) filter (where c.status in ('queued', 'initiated', 'ringing')))::integer as ringing,
         (pg_catalog.count(*) filter (where c.status = 'in-progress' and c.amd_at is null and c.live_at is null
                                        and not (c.agent_id is not null or c.connected_at is not null or c.call_sid = any (v_held))))::integer as detecting,
         (pg_catalog.count(*) filter (where c.status = 'in-progress' and c.live_at is not null
                                        and not (c.agent_id is not null or c.connected_at is not null or c.call_sid = any (v_held))
                                        and not exists (select 1 from public.queue_entries e
                                                         where e.call_sid = c.call_sid and e.result is distinct from 'answered')))::integer as waiting,
         (pg_catalog.count(*) filter (where c.status = 'in-progress'
                                        and (c.agent_id is not null or c.connected_at is not null or c.call_sid = any (v_held))))::integer as connected,
         coalesce(pg_catalog.jsonb_agg((extract(epoch from c.created_at) * 1000)::bigint order by c.created_at)
                    filter (where c.status in ('queued', 'initiated', 'ringing')), '[]'::jsonb) as ringing_since
    into v_calls
    from public.calls c
   where c.campaign_id = v_id
     and c.status in ('queued', 'initiated', 'ringing', 'in-progress')
     and c.end_reason is null
     and (c.status = 'in-progress' or c.created_at > v_now - interval '10 minutes');

  -- Finished dials (answered, or ended without an answer), newest first.
  select (pg_catalog.count(*))::integer as n,
         pg_catalog.avg(case when d.answered_at is not null then 1 else 0 end)::float8 as answer_rate
    into v_dials
    from (select c.answered_at from public.calls c
           where c.campaign_id = v_id and c.direction = 'outbound-api' and c.end_reason is distinct from 'twilio_refused'
             and (c.answered_at is not null or c.ended_at is not null)
           order by c.created_at desc
           limit (p_windows->>'answer_rate_dials')::integer) d;
  select coalesce(pg_catalog.avg(extract(epoch from coalesce(d.answered_at, d.ended_at) - d.created_at)), 0)::float8 as ring_time
    into v_answers
    from (select c.answered_at, c.ended_at, c.created_at from public.calls c
           where c.campaign_id = v_id and c.direction = 'outbound-api' and c.end_reason is distinct from 'twilio_refused'
             and (c.answered_at is not null or c.ended_at is not null)
           order by c.created_at desc
           limit (p_windows->>'ring_time_dials')::integer) d;
  select v_answers.ring_time as ring_time,
         coalesce(pg_catalog.avg(extract(epoch from d.answered_at - d.created_at)), 0)::float8 as answer_time,
         coalesce(pg_catalog.stddev_pop(extract(epoch from d.answered_at - d.created_at)), 0)::float8 as answer_time_sd
    into v_answers
    from (select c.answered_at, c.created_at from public.calls c
           where c.campaign_id = v_id and c.direction = 'outbound-api' and c.answered_at is not null
           order by c.created_at desc
           limit (p_windows->>'answer_time_answers')::integer) d;
  -- AMD results: the share not taken as live (machine, or unknown hung up), and AMD's time.
  select coalesce(pg_catalog.avg(case when m.live_at is null then 1 else 0 end), 0)::float8 as machine_rate
    into v_amd
    from (select c.live_at from public.calls c
           where c.campaign_id = v_id and c.amd_at is not null
           order by c.created_at desc
           limit (p_windows->>'machine_rate_answers')::integer) m;
  select v_amd.machine_rate as machine_rate,
         coalesce(pg_catalog.avg(coalesce(m.amd_ms / 1000.0, extract(epoch from m.amd_at - m.answered_at))), 0)::float8 as amd_time
    into v_amd
    from (select c.amd_ms, c.amd_at, c.answered_at from public.calls c
           where c.campaign_id = v_id and c.amd_at is not null
           order by c.created_at desc
           limit (p_windows->>'amd_time_answers')::integer) m;

  -- Talk and wrap-up: the finished busy and wrap-up periods of the campaign's own calls that
  -- went live (newest first), whichever agents took them and wherever they work now.
  select (pg_catalog.count(*))::integer as n,
         coalesce(pg_catalog.avg(t.s), 0)::float8 as mean, coalesce(pg_catalog.stddev_pop(t.s), 0)::float8 as sd
    into v_talk
    from (select extract(epoch from h.ended_at - h.started_at) as s
            from (select c.call_sid from public.calls c
                   where c.campaign_id = v_id and c.live_at is not null and c.call_sid is not null
                   order by c.live_at desc
                   limit (p_windows->>'talk_samples')::integer) c
            join public.agent_status_history h on h.call_sid = c.call_sid
           where h.status = 'busy' and h.ended_at is not null
           order by h.started_at desc
           limit (p_windows->>'talk_samples')::integer) t;
  select (pg_catalog.count(*))::integer as n,
         coalesce(pg_catalog.avg(t.s), 0)::float8 as mean, coalesce(pg_catalog.stddev_pop(t.s), 0)::float8 as sd
    into v_wrap
    from (select extract(epoch from h.ended_at - h.started_at) as s
            from (select c.call_sid from public.calls c
                   where c.campaign_id = v_id and c.live_at is not null and c.call_sid is not null
                   order by c.live_at desc
                   limit (p_windows->>'wrap_up_samples')::integer) c
            join public.agent_status_history h on h.call_sid = c.call_sid
           where h.status = 'wrap_up' and h.ended_at is not null
           order by h.started_at desc
           limit (p_windows->>'wrap_up_samples')::integer) t;

  -- Live and abandoned answers today (São Paulo's day) and in the last hour.
  select (select pg_catalog.count(*) from public.calls c
           where c.campaign_id = v_id and c.live_at >= v_day_start)::integer as live_today,
         (select pg_catalog.count(*) from public.calls c
           where c.campaign_id = v_id and c.live_at >= v_hour_ago)::integer as live_hour,
         (select pg_catalog.count(*) from public.calls c
           where c.campaign_id = v_id and c.abandoned_at >= v_day_start)::integer as abandoned_today,
         (select pg_catalog.count(*) from public.calls c
           where c.campaign_id = v_id and c.abandoned_at >= v_hour_ago)::integer as abandoned_hour
    into v_live;

  -- The campaign's own dial attempts in the last second (its share of the account's CPS).
  select (pg_catalog.count(*))::integer into v_own_dials from public.calls c
   where c.campaign_id = v_id and c.created_at > v_now - interval '1 second';

  -- Dates an admin closed for this campaign or for all, around today (every zone's today).
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('day', h.day, 'uf', h.uf) order by h.day, h.uf), '[]'::jsonb)
    into v_holidays
    from public.calling_holidays h
   where (h.campaign_id = v_id or h.campaign_id is null)
     and h.day between v_local_now::date - 1 and v_local_now::date + 1;

  return pg_catalog.jsonb_build_object(
    'campaign_id', v_id,
    'now_ms', (extract(epoch from v_now) * 1000)::bigint,
    'lease_until_ms', (extract(epoch from p_campaign.tick_lease_until) * 1000)::bigint,
    'campaign', pg_catalog.to_jsonb(p_campaign) - array['tick_lease_owner', 'tick_lease_until', 'tick_last_at'],
    'agents', v_agents,
    'agents_unroutable', v_unroutable,
    'calls', pg_catalog.jsonb_build_object('ringing', v_calls.ringing, 'detecting', v_calls.detecting,
                                           'waiting', v_calls.waiting, 'connected', v_calls.connected),
    'ringing_since_ms', v_calls.ringing_since,
    'dials_last_second', p_dials_last_second,
    'campaign_dials_last_second', v_own_dials,
    'preview_requests', pg_catalog.jsonb_array_length(v_preview),
    'preview_agents', v_preview,
    'stats', pg_catalog.jsonb_build_object(
      'sampleDials', v_dials.n, 'answerRate', coalesce(v_dials.answer_rate, 0),
      'machineRate', v_amd.machine_rate, 'answerTimeS', v_answers.answer_time, 'answerTimeSdS', v_answers.answer_time_sd,
      'ringTimeS', v_answers.ring_time, 'amdTimeS', v_amd.amd_time,
      'talkSamples', v_talk.n, 'talkTimeS', v_talk.mean, 'talkTimeSdS', v_talk.sd,
      'wrapUpTimeS', v_wrap.mean, 'wrapUpTimeSdS', v_wrap.sd,
      'liveToday', v_live.live_today, 'abandonedToday', v_live.abandoned_today,
      'liveLastHour', v_live.live_hour, 'abandonedLastHour', v_live.abandoned_hour),
    'holidays', v_holidays);
end;
$$;

revoke execute on function
  public.queue_json(public.service_queues), public.queue_served_by(public.service_queues, bigint),
  public.queue_seconds(timestamptz, timestamptz),
  public.queue_reserve_agent(public.service_queues, text, bigint, integer), public.queue_enter(jsonb, text),
  public.queue_assign(bigint, integer, integer), public.queue_assign_failed(bigint, boolean),
  public.queue_connect(jsonb, bigint), public.queue_key(text, text), public.queue_schedule_callback(public.queue_entries),
  public.queue_leave(text, text), public.queue_menu_choice(text, text), public.queue_sweep(),
  public.queue_stats(timestamptz, timestamptz, text), public.queue_set(jsonb), public.queue_list(),
  public.phone_number_set_service(text, text), public.phone_number_service_queue(text),
  public.queue_seconds_per_caller(text), public.service_call_start(jsonb),
  public.queue_callback_possible(public.service_queues, text), public.queue_release_offer(text)
  from public, anon, authenticated;
grant execute on function
  public.queue_json(public.service_queues), public.queue_served_by(public.service_queues, bigint),
  public.queue_seconds(timestamptz, timestamptz),
  public.queue_reserve_agent(public.service_queues, text, bigint, integer), public.queue_enter(jsonb, text),
  public.queue_assign(bigint, integer, integer), public.queue_assign_failed(bigint, boolean),
  public.queue_connect(jsonb, bigint), public.queue_key(text, text), public.queue_schedule_callback(public.queue_entries),
  public.queue_leave(text, text), public.queue_menu_choice(text, text), public.queue_sweep(),
  public.queue_stats(timestamptz, timestamptz, text), public.queue_set(jsonb), public.queue_list(),
  public.phone_number_set_service(text, text), public.phone_number_service_queue(text),
  public.queue_seconds_per_caller(text), public.service_call_start(jsonb),
  public.queue_callback_possible(public.service_queues, text), public.queue_release_offer(text)
  to service_role;
