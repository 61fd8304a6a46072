-- Follow-me: where a call to an agent's own number goes when the agent cannot take it from the
-- page. The chain is the softphone (only for an agent without a shift leg: a browser already on
-- a shift call would answer busy), then the agent's mobile with screening, then the agent's
-- voicemail or a service queue. Each hop rings for its own number of seconds.
-- Also: voicemail transcriptions that arrive before their recording's row.

-- Per-agent settings. An agent without a row follows the defaults; mobile_number null means
-- the agent's own phone (agents.phone_number).
create table public.agent_follow_me (
  agent_id          bigint primary key references public.agents (id) on delete cascade,
  mobile_number     public.e164,
  softphone_seconds integer not null default 20 check (softphone_seconds between 10 and 120),
  mobile_seconds    integer not null default 25 check (mobile_seconds between 10 and 120),
  final_hop         text not null default 'voicemail' check (final_hop in ('voicemail', 'queue')),
  queue_name        text check (queue_name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
  updated_at        timestamptz not null default public.app_now(),
  check ((final_hop = 'queue') = (queue_name is not null))
);
alter table public.agent_follow_me enable row level security;

-- Who an inbound call is about. calls.agent_id is the agent who took the call (the page's
-- offer, a follow-me hop answered, a service queue's agent): reports, recordings and listening
-- go by it. The number's owner is kept apart so that a follow-me call handed to the queue and
-- answered there by another agent is that agent's call, while the owner still sees it among
-- their missed calls when nobody took it. follow_me_answered_at: a follow-me hop (the
-- softphone, or the mobile after pressing 1) was answered: the owner talked to the caller.
alter table public.calls
  add column owner_agent_id       bigint references public.agents (id) on delete set null,
  add column follow_me_answered_at timestamptz;
create index calls_owner_agent_inbound_idx on public.calls (owner_agent_id, created_at)
  where direction = 'inbound' and owner_agent_id is not null;

-- An inbound call's row notes the owner of the number called (an active agent on an active
-- number) as it is inserted, whichever request creates it (/voice/inbound or a status callback).
create function public.calls_owner_agent() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.direction = 'inbound' and new.owner_agent_id is null and new.to_number is not null then
    select a.id into new.owner_agent_id
      from public.phone_numbers n join public.agents a on a.id = n.assigned_agent_id
     where n.phone_number = new.to_number and n.is_active and a.is_active;
  end if;
  return new;
end;
$$;

create trigger calls_owner_agent
  before insert on public.calls
  for each row execute function public.calls_owner_agent();

-- The chain of an agent, as /voice/inbound and /voice/follow-me read it:
-- {agent_id, agent_name, hops: [{kind: 'softphone', client, seconds} | {kind: 'mobile', number, seconds}],
--  final: {kind: 'voicemail'} | {kind: 'queue', queue}}.
create function public.follow_me_chain(p_agent public.agents) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  v_set    public.agent_follow_me;
  v_hops   jsonb := '[]'::jsonb;
  v_mobile text;
begin
  select * into v_set from public.agent_follow_me f where f.agent_id = p_agent.id;
  if p_agent.client_identity is not null and p_agent.shift_call_sid is null then
    v_hops := v_hops || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'kind', 'softphone', 'client', p_agent.client_identity, 'seconds', coalesce(v_set.softphone_seconds, 20)));
  end if;
  v_mobile := coalesce(v_set.mobile_number, p_agent.phone_number);
  if v_mobile is not null then
    v_hops := v_hops || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'kind', 'mobile', 'number', v_mobile, 'seconds', coalesce(v_set.mobile_seconds, 25)));
  end if;
  return pg_catalog.jsonb_build_object(
    'agent_id', p_agent.id, 'agent_name', p_agent.name, 'hops', v_hops,
    'final', case when v_set.final_hop = 'queue'
                  then pg_catalog.jsonb_build_object('kind', 'queue', 'queue', v_set.queue_name)
                  else pg_catalog.jsonb_build_object('kind', 'voicemail') end);
end;
$$;

-- An inbound call reached /voice/inbound: record it (one upsert carrying the agent and the
-- opt-out flag) and answer in the same round trip whether the caller opted out and where the
-- call goes: 'offer' (the owner of the number is reserved for this call and rings on the page),
-- 'follow-me' (the owner cannot take it now: the chain, in `follow_me`), 'queue' (a service
-- number nobody owns: its callers wait in the service queue named in `queue`, whatever
-- VoiceUrl Twilio was given), 'none' (nobody owns the number).
create or replace function public.start_inbound_call(p_event jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_opted_out boolean;
  v_agent     public.agents;
  v_route     text := 'none';
  v_queue     text;
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
    else
      v_route := 'follow-me';
    end if;
  else
    select n.service_queue into v_queue from public.phone_numbers n
     where n.phone_number = p_event->>'to' and n.is_active and n.service_queue is not null;
    if v_queue is not null then
      v_route := 'queue';
    end if;
  end if;

  -- The agent takes the call only when it is offered to them; otherwise agent_id waits for
  -- whoever answers (a follow-me hop, a queue's agent). The owner is noted by calls_owner_agent
  -- as the row is inserted.
  perform public.apply_call_event(p_event || pg_catalog.jsonb_build_object(
    'kind', 'voice', 'dedupe_key', 'voice:inbound', 'opted_out', v_opted_out,
    'agent_id', case when v_route = 'offer' then v_agent.id end));

  return pg_catalog.jsonb_build_object(
    'opted_out', v_opted_out,
    'route', v_route,
    'queue', v_queue,
    'agent', case when v_agent.id is null then null else pg_catalog.jsonb_build_object(
      'id', v_agent.id, 'name', v_agent.name, 'phone_number', v_agent.phone_number,
      'client_identity', v_agent.client_identity, 'status', v_agent.status) end,
    'follow_me', case when v_route = 'follow-me' then public.follow_me_chain(v_agent) end);
end;
$$;

-- A follow-me hop was answered by the agent (the mobile pressed 1, or a hop's Dial ended
-- answered): the call is the agent's unless another agent already took it, and so is a
-- recording of the talk whose callback came first (the softphone's Dial action may follow it).
create function public.follow_me_answered(p_call_sid text, p_agent_id bigint) returns void
language plpgsql
set search_path = ''
as $$
declare
  v_agent bigint;
begin
  update public.calls c
     set follow_me_answered_at = coalesce(c.follow_me_answered_at, public.app_now()),
         agent_id = coalesce(c.agent_id, p_agent_id),
         updated_at = public.app_now()
   where c.call_sid = p_call_sid
  returning c.agent_id into v_agent;
  if v_agent is not null then
    update public.recordings r set agent_id = v_agent
     where r.call_sid = p_call_sid and r.kind = 'call' and r.agent_id is null;
  end if;
end;
$$;

-- One hop of a follow-me chain ended (its Dial action): the outcome is logged on the caller's
-- call as a 'dial' event (dedupe per hop, so Twilio's retry counts once), and the agent's chain
-- is returned for the next hop. p_event: the caller's voice event (call_sid, call_status,
-- params); p_hop: 'softphone' | 'mobile'; p_outcome: answered | no-answer | busy | failed | canceled.
-- Returns {chain, duplicate}; chain is null when the agent no longer exists or is inactive.
create function public.follow_me_hop_ended(p_event jsonb, p_agent_id bigint, p_hop text, p_outcome text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent  public.agents;
  v_result jsonb;
begin
  if p_hop not in ('softphone', 'mobile') then
    raise exception 'unknown follow-me hop %', p_hop using errcode = '22023';
  end if;
  if p_outcome not in ('answered', 'no-answer', 'busy', 'failed', 'canceled') then
    raise exception 'unknown follow-me outcome %', p_outcome using errcode = '22023';
  end if;
  v_result := public.apply_call_event(p_event || pg_catalog.jsonb_build_object(
    'kind', 'dial', 'dedupe_key', 'dial:follow-me:' || p_hop,
    'params', coalesce(p_event->'params', '{}'::jsonb)
              || pg_catalog.jsonb_build_object('follow_me_hop', p_hop, 'follow_me_outcome', p_outcome, 'agent_id', p_agent_id::text)));
  if p_outcome = 'answered' then
    perform public.follow_me_answered(p_event->>'call_sid', p_agent_id);
  end if;
  select * into v_agent from public.agents a where a.id = p_agent_id and a.is_active;
  return pg_catalog.jsonb_build_object(
    'chain', case when v_agent.id is null then null else public.follow_me_chain(v_agent) end,
    'duplicate', coalesce((v_result->>'duplicate')::boolean, false));
end;
$$;

-- The mobile's screening: the agent's name for the whisper, and (p_key not null) the key the
-- mobile pressed, logged on the caller's call (p_parent_call_sid) as a 'dial' event
-- 'dial:follow-me:screen'. Returns {agent_name, accepted}.
create function public.follow_me_screen(p_agent_id bigint, p_parent_call_sid text, p_key text default null)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_name text;
  v_call public.calls;
begin
  select a.name into v_name from public.agents a where a.id = p_agent_id;
  if p_key is not null and p_parent_call_sid is not null then
    select * into v_call from public.calls c where c.call_sid = p_parent_call_sid;
    if v_call.id is not null then
      insert into public.call_events as e (call_sid, kind, dedupe_key, call_status, event_at, params)
      values (p_parent_call_sid, 'dial', 'dial:follow-me:screen', v_call.status, public.app_now(),
              pg_catalog.jsonb_build_object('follow_me_hop', 'mobile', 'screen_key', p_key,
                                            'screen_accepted', p_key = '1', 'agent_id', p_agent_id::text))
      on conflict (call_sid, dedupe_key) do update
        set received_count = e.received_count + 1, last_received_at = public.app_now();
      if p_key = '1' then
        perform public.follow_me_answered(p_parent_call_sid, p_agent_id);
      end if;
    end if;
  end if;
  return pg_catalog.jsonb_build_object('agent_name', v_name, 'accepted', p_key = '1');
end;
$$;

-- Sets an agent's follow-me (the agents CLI). p_agent: an agent id, or a user's e-mail.
-- The mobile must not be one of the account's own numbers (the call would come back to
-- /voice/inbound). Null arguments keep the current value; p_mobile '' clears it (the agent's
-- own phone is used). Returns {agent_id, settings, changed}.
create function public.follow_me_set(
  p_agent text, p_mobile text default null, p_softphone_seconds integer default null,
  p_mobile_seconds integer default null, p_final_hop text default null, p_queue_name text default null
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_agent_id bigint;
  v_before   public.agent_follow_me;
  v_after    public.agent_follow_me;
begin
  if p_agent ~ '^[1-9][0-9]{0,17}$' then
    select a.id into v_agent_id from public.agents a where a.id = p_agent::bigint;
  else
    select u.agent_id into v_agent_id from public.users u where pg_catalog.lower(u.email) = pg_catalog.lower(pg_catalog.btrim(p_agent));
    if v_agent_id is null then
      select a.id into v_agent_id from public.agents a where pg_catalog.lower(a.email) = pg_catalog.lower(pg_catalog.btrim(p_agent));
    end if;
  end if;
  if v_agent_id is null then
    raise exception 'no agent %', p_agent using errcode = 'P0002';
  end if;
  if nullif(p_mobile, '') is not null and exists (select 1 from public.phone_numbers n where n.phone_number = p_mobile) then
    raise exception 'number % is one of the account''s own numbers, not a mobile', p_mobile using errcode = '22023';
  end if;
  if p_final_hop is not null and p_final_hop not in ('voicemail', 'queue') then
    raise exception 'final hop must be voicemail or queue, not %', p_final_hop using errcode = '22023';
  end if;
  -- A queue that does not exist would drop the callers in the default queue: refused.
  if coalesce(p_final_hop, 'voicemail') = 'queue' and p_queue_name is not null
     and not exists (select 1 from public.service_queues q where q.name = p_queue_name) then
    raise exception 'no service queue % (see npm run queues -- list)', p_queue_name using errcode = '22023';
  end if;

  select * into v_before from public.agent_follow_me f where f.agent_id = v_agent_id for update;
  insert into public.agent_follow_me as f (agent_id, mobile_number, softphone_seconds, mobile_seconds, final_hop, queue_name, updated_at)
  values (v_agent_id, nullif(p_mobile, ''), coalesce(p_softphone_seconds, 20), coalesce(p_mobile_seconds, 25),
          coalesce(p_final_hop, 'voicemail'), case when coalesce(p_final_hop, 'voicemail') = 'queue' then p_queue_name end,
          public.app_now())
  on conflict (agent_id) do update set
    mobile_number     = case when p_mobile is null then f.mobile_number else nullif(p_mobile, '') end,
    softphone_seconds = coalesce(p_softphone_seconds, f.softphone_seconds),
    mobile_seconds    = coalesce(p_mobile_seconds, f.mobile_seconds),
    final_hop         = coalesce(p_final_hop, f.final_hop),
    queue_name        = case when coalesce(p_final_hop, f.final_hop) = 'queue' then coalesce(p_queue_name, f.queue_name) end,
    updated_at        = public.app_now()
  returning * into v_after;

  return pg_catalog.jsonb_build_object(
    'agent_id', v_agent_id,
    'settings', pg_catalog.jsonb_build_object(
      'mobile_number', v_after.mobile_number, 'softphone_seconds', v_after.softphone_seconds,
      'mobile_seconds', v_after.mobile_seconds, 'final_hop', v_after.final_hop, 'queue_name', v_after.queue_name),
    'chain', (select public.follow_me_chain(a) from public.agents a where a.id = v_agent_id),
    'changed', v_before.agent_id is null
               or (v_before.mobile_number, v_before.softphone_seconds, v_before.mobile_seconds, v_before.final_hop, v_before.queue_name)
                  is distinct from
                  (v_after.mobile_number, v_after.softphone_seconds, v_after.mobile_seconds, v_after.final_hop, v_after.queue_name));
end;
$$;

-- Voicemail transcriptions (Twilio's transcribeCallback) may arrive before the recording's row
-- exists (the recording callback is a separate request): they wait here, and the row takes
-- them when it is inserted.
create table public.pending_transcriptions (
  recording_sid text primary key check (recording_sid ~ '^RE[0-9a-f]{32}$'),
  call_sid      text,
  status        text not null check (status in ('in-progress', 'completed', 'failed')),
  transcription text,
  received_at   timestamptz not null default public.app_now()
);
alter table public.pending_transcriptions enable row level security;

-- The advisory lock key of a recording's transcription (see recording_transcription).
create function public.recording_transcription_lock_key(p_recording_sid text) returns bigint
language sql immutable
set search_path = ''
as $$ select pg_catalog.hashtextextended('recording_transcription:' || p_recording_sid, 0) $$;

-- Stores a transcription on its recording, or keeps it until the recording's row exists.
-- A completed transcription is never replaced by a later in-progress/failed one. A recording
-- erased at the data subject's request (s3_deleted_reason 'lgpd_erase') takes no text again
-- (a late or retried callback) and nothing is kept for it.
-- The recording's advisory lock (recording_transcription_lock_key), also taken by the insert
-- trigger below, orders this against an uncommitted insert of the recording: whichever
-- commits second sees the other's row.
-- Returns {stored: 'recording' | 'pending' | 'refused', recording_id}.
create function public.recording_transcription(p_recording_sid text, p_call_sid text, p_status text, p_text text)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_id bigint;
begin
  if p_recording_sid is null or p_recording_sid !~ '^RE[0-9a-f]{32}$' then
    raise exception 'not a recording sid: %', p_recording_sid using errcode = '22023';
  end if;
  if p_status not in ('in-progress', 'completed', 'failed') then
    raise exception 'unknown transcription status %', p_status using errcode = '22023';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(public.recording_transcription_lock_key(p_recording_sid));
  select r.id into v_id from public.recordings r
   where r.recording_sid = p_recording_sid and r.s3_deleted_reason = 'lgpd_erase';
  if v_id is not null then
    return pg_catalog.jsonb_build_object('stored', 'refused', 'recording_id', v_id);
  end if;
  update public.recordings r
     set transcription = case when p_status = 'completed' then p_text else r.transcription end,
         transcription_status = p_status
   where r.recording_sid = p_recording_sid
     and r.transcription_status is distinct from 'completed'
  returning r.id into v_id;
  if v_id is null then
    select r.id into v_id from public.recordings r where r.recording_sid = p_recording_sid;
  end if;
  if v_id is not null then
    delete from public.pending_transcriptions t where t.recording_sid = p_recording_sid;
    return pg_catalog.jsonb_build_object('stored', 'recording', 'recording_id', v_id);
  end if;
  insert into public.pending_transcriptions as t (recording_sid, call_sid, status, transcription)
  values (p_recording_sid, p_call_sid, p_status, case when p_status = 'completed' then p_text end)
  on conflict (recording_sid) do update
    set status = excluded.status, transcription = excluded.transcription, received_at = public.app_now()
    where t.status <> 'completed';
  return pg_catalog.jsonb_build_object('stored', 'pending', 'recording_id', null);
end;
$$;

-- A new recordings row takes a transcription that arrived before it.
create function public.recordings_take_pending_transcription() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_pending public.pending_transcriptions;
begin
  perform pg_catalog.pg_advisory_xact_lock(public.recording_transcription_lock_key(new.recording_sid));
  delete from public.pending_transcriptions t where t.recording_sid = new.recording_sid returning * into v_pending;
  if v_pending.recording_sid is not null and new.transcription_status is distinct from 'completed' then
    new.transcription := v_pending.transcription;
    new.transcription_status := v_pending.status;
  end if;
  return new;
end;
$$;

create trigger recordings_take_pending_transcription
  before insert on public.recordings
  for each row execute function public.recordings_take_pending_transcription();

-- A voicemail that names no owner (agent or queue) belongs to the call's agent, else to the
-- owner of the number called (nobody took the call: the follow-me chain ran out).
create function public.recordings_voicemail_owner() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.agent_id is null and new.queue_name is null and new.kind = 'voicemail' then
    select coalesce(c.agent_id, c.owner_agent_id) into new.agent_id
      from public.calls c where c.call_sid = new.call_sid and c.direction = 'inbound';
  end if;
  return new;
end;
$$;

create trigger recordings_voicemail_owner
  before insert on public.recordings
  for each row execute function public.recordings_voicemail_owner();

revoke execute on function
  public.follow_me_chain(public.agents), public.follow_me_hop_ended(jsonb, bigint, text, text),
  public.follow_me_answered(text, bigint), public.follow_me_screen(bigint, text, text),
  public.follow_me_set(text, text, integer, integer, text, text),
  public.recording_transcription(text, text, text, text), public.recordings_take_pending_transcription(),
  public.recording_transcription_lock_key(text), public.recordings_voicemail_owner(), public.calls_owner_agent()
  from public, anon, authenticated;
grant execute on function
  public.follow_me_chain(public.agents), public.follow_me_hop_ended(jsonb, bigint, text, text),
  public.follow_me_answered(text, bigint), public.follow_me_screen(bigint, text, text),
  public.follow_me_set(text, text, integer, integer, text, text),
  public.recording_transcription(text, text, text, text)
  to service_role;
