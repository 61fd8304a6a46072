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
  check ((left_at is null) = (result is null))
);
alter table public.queue_entries enable row level security;
create unique index queue_entries_open_call_idx on public.queue_entries (call_sid) where left_at is null;
create index queue_entries_waiting_idx on public.queue_entries (entered_at, id) where left_at is null and agent_id is null;
create index queue_entries_queue_day_idx on public.queue_entries (queue_name, entered_at);
create index queue_entries_from_idx on public.queue_entries (from_number);
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

-- The queue's recent pace: seconds per caller answered over the last hour (from the first of
-- them to now), when at least two were answered; else null (no estimate of our own).
create function public.queue_seconds_per_caller(p_queue text)
returns integer
language sql stable set search_path = '' as $$
  select case when pg_catalog.count(*) >= 2
              then greatest(1, public.queue_seconds(pg_catalog.min(e.answered_at), public.app_now()) / pg_catalog.count(*))::integer end
    from public.queue_entries e
   where e.queue_name = p_queue and e.result = 'answered' and e.answered_at > public.app_now() - interval '1 hour'
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
-- 'continue') gets {opted_out: true} and no entry. A caller already in the queue (a hand-over
-- that failed brought them back) keeps their entry and place. When nobody in the queue waits
-- longer and a serving agent is free, that agent is reserved at once: {agent: {id,
-- room_conference_sid}}; the caller goes straight to the room. Answers {opted_out, entry_id,
-- queue: queue_json, position, waited_seconds, agent}.
create function public.queue_enter(p_event jsonb, p_queue text)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_q        public.service_queues;
  v_sid      text := p_event->>'call_sid';
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
  perform 1 from public.calls c where c.call_sid = v_sid for update;
  perform public.apply_call_event(p_event || pg_catalog.jsonb_build_object('kind', 'voice', 'dedupe_key', 'voice:queue'));
  v_opted := exists (select 1 from public.opt_outs o where o.phone_number = v_customer);
  if v_opted and coalesce(p_event->>'opt_out_inbound', 'continue') <> 'continue' then
    return pg_catalog.jsonb_build_object('opted_out', true, 'queue', public.queue_json(v_q));
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
    'opted_out', v_opted, 'entry_id', v_entry.id, 'queue', public.queue_json(v_q),
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
-- shift_call_sid}} or null when there is nothing to hand out.
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

  for v_entry in
    select * from public.queue_entries e
     where e.left_at is null and e.agent_id is null
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
  if (v_answer->>'connect')::boolean then
    if (v_answer->>'opted_out')::boolean and coalesce(p_event->>'opt_out_inbound', 'continue') <> 'continue' then
      perform public.agent_transition(a.id, 'available', null, 'system', null)
         from public.agents a where a.id = p_agent_id and a.status = 'reserved' and a.current_call_sid = v_sid;
      update public.queue_entries set left_at = v_now, result = 'opted_out', waited_seconds = public.queue_seconds(entered_at, v_now)
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
-- (offered only with a callback campaign) or voicemail key is noted as the caller's choice;
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
  v_choice := case when p_digits = v_q.callback_key and v_q.callback_campaign_id is not null then 'callback'
                   when p_digits = v_q.voicemail_key then 'voicemail' end;
  if v_choice is not null and v_entry.agent_id is null then
    update public.queue_entries set choice = v_choice where id = v_entry.id;
  end if;
  return pg_catalog.jsonb_build_object('choice', case when v_entry.agent_id is null then v_choice end, 'queue', v_entry.queue_name);
end $$;

-- Schedules the callback of a queue entry: the caller's number becomes a lead of the queue's
-- callback campaign, pending with callback_at now and a high priority (an existing lead of that
-- number in the campaign is made due again, unless it is being dialed, previewed or opted
-- out). Null when the queue has no callback campaign or the number cannot be called back.
create function public.queue_schedule_callback(p_entry public.queue_entries)
returns bigint
language plpgsql set search_path = '' as $$
declare
  v_q    public.service_queues;
  v_lead bigint;
  v_now  timestamptz := public.app_now();
begin
  select * into v_q from public.service_queues q where q.name = p_entry.queue_name;
  if v_q.callback_campaign_id is null or p_entry.from_number is null or p_entry.from_number !~ '^\+[1-9][0-9]{7,14}$' then
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
--                                queue's on_max_wait (voicemail, callback, both = a menu)
--   bridged/redirected/…         a hand-over moved them: nothing here
--   anything else (error, system-error, queue-full)  result error, then voicemail
-- Answers {action: 'none'|'voicemail'|'callback'|'menu', queue, lead_id, result, callback_key,
-- voicemail_key}. A repeat
-- for an entry already ended answers what it did then.
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
    return pg_catalog.jsonb_build_object('action', 'none', 'queue', v_entry.queue_name, 'result', v_entry.result,
      'lead_id', v_entry.callback_lead_id);
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
    v_action := case when v_q.on_max_wait = 'both' and v_q.callback_campaign_id is not null then 'menu'
                     when v_q.on_max_wait = 'callback' and v_q.callback_campaign_id is not null then 'callback'
                     else 'voicemail' end;
  else
    v_result := 'error';
    v_action := 'voicemail';
  end if;
  if v_action = 'callback' then
    v_lead := public.queue_schedule_callback(v_entry);
    if v_lead is null then
      v_action := 'voicemail';
    end if;
  end if;
  update public.queue_entries
     set left_at = v_now, result = v_result, waited_seconds = public.queue_seconds(entered_at, v_now),
         agent_id = null, callback_lead_id = v_lead
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

revoke execute on function
  public.queue_json(public.service_queues), public.queue_served_by(public.service_queues, bigint),
  public.queue_seconds(timestamptz, timestamptz),
  public.queue_reserve_agent(public.service_queues, text, bigint, integer), public.queue_enter(jsonb, text),
  public.queue_assign(bigint, integer, integer), public.queue_assign_failed(bigint, boolean),
  public.queue_connect(jsonb, bigint), public.queue_key(text, text), public.queue_schedule_callback(public.queue_entries),
  public.queue_leave(text, text), public.queue_menu_choice(text, text), public.queue_sweep(),
  public.queue_stats(timestamptz, timestamptz, text), public.queue_set(jsonb), public.queue_list(),
  public.phone_number_set_service(text, text), public.phone_number_service_queue(text),
  public.queue_seconds_per_caller(text), public.service_call_start(jsonb)
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
  public.queue_seconds_per_caller(text), public.service_call_start(jsonb)
  to service_role;
