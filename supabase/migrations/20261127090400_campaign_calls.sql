-- A campaign call from answer to agent: the async AMD result (live person, machine, unknown),
-- the agent reserved for a live answer (the whisper's moment), the connect step at the end of
-- the disclaimer (the agent's room, a short wait, or the abandon), the voicemail drop, the
-- whisper's data, and the recording callback with its channel map.
--
-- Times come from public.app_now() (a simulation runs the database on a virtual clock).
-- Codes only: what people hear is pt-BR in src/lib/domain/messages.ts.

-- What the dialer decided about a campaign call, kept on the call:
--   amd_action         what the AMD result led to: whisper (an agent was reserved and hears
--                      the lead's context), wait (live, no agent free yet), hangup, voicemail,
--                      none (the call was over or already decided)
--   reserved_agent_id  the agent reserved for this customer (kept after the call)
--   reserved_at        when; reserved_by: 'amd' (with the whisper) or 'connect' (reserved at the
--                      end of the disclaimer: no time for a whisper)
alter table public.calls
  add column amd_action        text check (amd_action in ('whisper', 'wait', 'hangup', 'voicemail', 'none')),
  add column reserved_agent_id bigint references public.agents (id) on delete set null,
  add column reserved_at       timestamptz,
  add column reserved_by       text check (reserved_by in ('amd', 'connect'));

-- The calls row of a webhook: the dial attempt named in our own URL (?attempt=) when it is
-- this CallSid's (or not attached yet), else the row of the CallSid. Null when neither: a
-- webhook for a call discador never placed.
create function public.campaign_call_of(p_call_sid text, p_attempt_id bigint)
returns public.calls
language sql stable
set search_path = ''
as $$
  select c.* from public.calls c
   where (p_attempt_id is not null and c.id = p_attempt_id and (c.call_sid is null or c.call_sid = p_call_sid))
      or (p_call_sid is not null and c.call_sid = p_call_sid)
   order by (c.call_sid = p_call_sid) desc nulls last
   limit 1
$$;

-- Reserves an agent of the call's campaign for this customer, atomically: the lead's
-- callback agent first when routable and working this campaign, else the routable agent of
-- the campaign available the longest. Agents another transaction is reserving are skipped.
-- The agent goes to 'reserved' with current_call_sid = the call (agent_transition keeps the
-- history); the call records who, when and how (p_by: 'amd' with a whisper, 'connect'
-- without). Null when nobody can take it.
create function public.campaign_reserve_agent(p_call public.calls, p_presence_seconds integer, p_by text)
returns public.agents
language plpgsql
set search_path = ''
as $$
declare
  v_agent public.agents;
begin
  select a.* into v_agent
    from public.leads l join public.agents a on a.id = l.callback_agent_id
   where l.id = p_call.lead_id and a.campaign_id = p_call.campaign_id
     and public.agent_is_routable(a, p_presence_seconds)
   for update of a skip locked;
  if v_agent.id is null then
    select a.* into v_agent from public.agents a
     where a.campaign_id = p_call.campaign_id and a.status = 'available' and a.is_active
       and public.agent_is_routable(a, p_presence_seconds)
     order by a.status_changed_at, a.id
     limit 1
     for update skip locked;
  end if;
  if v_agent.id is null then
    return null;
  end if;
  v_agent := public.agent_transition(v_agent.id, 'reserved', null, 'system', null, p_call.call_sid);
  update public.calls
     set reserved_agent_id = v_agent.id, reserved_at = public.app_now(), reserved_by = p_by, updated_at = public.app_now()
   where id = p_call.id;
  return v_agent;
end;
$$;

-- The agent reserved for (or already busy with) customer p_call_sid, locked; null when none.
create function public.campaign_agent_for_call(p_call_sid text)
returns public.agents
language sql
set search_path = ''
as $$
  select a.* from public.agents a
   where a.current_call_sid = p_call_sid and a.status in ('reserved', 'busy')
   order by a.id
   limit 1
   for update
$$;

-- What the whisper and the agent page need about a call's lead: name, fields, the campaign's
-- name and whisper template.
create function public.campaign_whisper_data(p_call public.calls)
returns jsonb
language sql stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'name', l.name, 'fields', coalesce(l.data, '{}'::jsonb),
    'campaign_name', k.name, 'template', k.whisper_template)
    from public.campaigns k left join public.leads l on l.id = p_call.lead_id
   where k.id = p_call.campaign_id
$$;

-- The async AMD callback of a campaign call (/webhooks/amd). p_event: call_sid, attempt_id,
-- account_sid, answered_by, amd_ms (MachineDetectionDuration), presence_seconds, params.
-- Idempotent: the first result is kept (answered_by, amd_ms, amd_at, a call_events row of
-- kind 'amd'); a repeat answers {action: 'none', duplicate: true}. Decides:
--   unknown call or attempt      {action: 'none', reason: 'unknown_call'}, nothing written
--   not a campaign call          answered_by recorded, {action: 'none', reason: 'not_campaign'}
--   call already over            {action: 'none', reason: 'call_over'}: nobody is reserved
--   number opted out             {action: 'hangup', reason: 'opted_out'} (outcome opted_out)
--   human, or unknown with campaigns.amd_unknown = 'connect'
--                                live_at; an agent reserved (campaign_reserve_agent) →
--                                {action: 'whisper', agent: {id, room_conference_sid}, whisper:
--                                {name, fields, campaign_name, template}}; nobody free →
--                                {action: 'wait'}; already connected, abandoned or reserved
--                                at the connect step → {action: 'none'}
--   machine_end_* with amd_machine = 'voicemail'
--                                {action: 'voicemail'} (outcome machine_voicemail)
--   any other machine, fax, or unknown with amd_unknown = 'hangup'
--                                {action: 'hangup'} (outcome machine)
-- A machine result for a customer already put through to an agent changes nothing.
create function public.campaign_amd_result(p_event jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call     public.calls;
  v_campaign public.campaigns;
  v_agent    public.agents;
  v_answered text := p_event->>'answered_by';
  v_action   text;
  v_reason   text;
  v_outcome  text;
  v_live     boolean;
begin
  v_call := public.campaign_call_of(p_event->>'call_sid', (p_event->>'attempt_id')::bigint);
  if v_call.id is null then
    return pg_catalog.jsonb_build_object('action', 'none', 'reason', 'unknown_call');
  end if;
  -- The customer's number first (same order as opt_out_add: number, then call row).
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(v_call.to_number));
  select * into v_call from public.calls c where c.id = v_call.id for update;
  if v_call.amd_at is not null then
    return pg_catalog.jsonb_build_object('action', 'none', 'reason', 'duplicate', 'duplicate', true,
      'previous', v_call.amd_action);
  end if;
  perform public.apply_call_event(pg_catalog.jsonb_build_object(
    'call_sid', p_event->>'call_sid', 'account_sid', p_event->>'account_sid', 'attempt_id', v_call.id,
    'kind', 'amd', 'dedupe_key', 'amd', 'answered_by', v_answered, 'params', coalesce(p_event->'params', '{}'::jsonb)));
  select * into v_call from public.calls c where c.id = v_call.id;
  update public.calls
     set amd_ms = (p_event->>'amd_ms')::integer, amd_at = public.app_now(), updated_at = public.app_now()
   where id = v_call.id
  returning * into v_call;

  if v_call.campaign_id is null then
    return pg_catalog.jsonb_build_object('action', 'none', 'reason', 'not_campaign');
  end if;
  select * into v_campaign from public.campaigns k where k.id = v_call.campaign_id;

  if public.call_is_over(v_call.call_sid) then
    v_action := 'none';
    v_reason := 'call_over';
  elsif exists (select 1 from public.opt_outs o where o.phone_number = v_call.to_number) then
    v_action := 'hangup';
    v_reason := 'opted_out';
    v_outcome := 'opted_out';
    update public.calls set opted_out = true, end_reason = coalesce(end_reason, 'opted_out_after_dial') where id = v_call.id;
  elsif v_call.connected_at is not null or v_call.abandoned_at is not null then
    -- The connect step already decided (AMD came back after the grace).
    v_action := 'none';
    v_reason := 'already_decided';
  else
    v_live := v_answered = 'human' or (coalesce(v_answered, 'unknown') = 'unknown' and v_campaign.amd_unknown = 'connect');
    if v_live then
      update public.calls set live_at = coalesce(live_at, public.app_now()) where id = v_call.id returning * into v_call;
      if exists (select 1 from public.agents a where a.current_call_sid = v_call.call_sid and a.status in ('reserved', 'busy')) then
        v_action := 'none';
        v_reason := 'already_reserved';
      else
        v_agent := public.campaign_reserve_agent(v_call, coalesce((p_event->>'presence_seconds')::integer, 20), 'amd');
        v_action := case when v_agent.id is null then 'wait' else 'whisper' end;
      end if;
    elsif v_answered in ('machine_end_beep', 'machine_end_silence', 'machine_end_other') and v_campaign.amd_machine = 'voicemail' then
      v_action := 'voicemail';
      v_outcome := 'machine_voicemail';
    else
      v_action := 'hangup';
      v_reason := case when coalesce(v_answered, 'unknown') = 'unknown' then 'unknown' else 'machine' end;
      v_outcome := 'machine';
    end if;
  end if;

  update public.calls
     set amd_action = v_action, outcome = coalesce(outcome, v_outcome), updated_at = public.app_now()
   where id = v_call.id;

  return pg_catalog.jsonb_build_object(
    'action', v_action, 'reason', v_reason, 'call_sid', v_call.call_sid, 'attempt_id', v_call.id,
    'campaign_id', v_call.campaign_id, 'lead_id', v_call.lead_id, 'answered_by', v_answered,
    'agent', case when v_agent.id is null then null else pg_catalog.jsonb_build_object(
      'id', v_agent.id, 'room_conference_sid', v_agent.room_conference_sid, 'shift_call_sid', v_agent.shift_call_sid) end,
    'whisper', case when v_agent.id is null then null else public.campaign_whisper_data(v_call) end);
end;
$$;

-- The customer reached the end of the disclaimer (/voice/outbound?step=connect) on a campaign
-- call. p_event: the voice event (call_sid, attempt_id, …), presence_seconds, grace_seconds
-- (ABANDON_GRACE_SECONDS). Records disclaimer_ended_at on the first request (the grace counts
-- from it) and answers:
--   {action: 'not_campaign', answer: start_outbound_answer(...)}  a call of no campaign: the
--        click-to-call path decides, as before, in this same round trip
--   {action: 'hangup', reason: 'opted_out'}       the number opted out (an agent reserved for
--        the call is released)
--   {action: 'hangup'|'voicemail', reason: 'machine'}  AMD found a machine (being handled)
--   {action: 'room', agent_id, reserved_by}       the agent reserved for this call (or one free
--        now: reserved_by 'connect', no whisper) can take the customer in the room now
--   {action: 'wait', waited_ms}                   within the grace: AMD not back yet, or live
--        with no agent free; the customer hears a short hold and comes back
--   {action: 'abandon', treatment, company_name}  live (or unknown taken as live), past the
--        grace, nobody free: abandoned_at, outcome 'abandoned'
--   {action: 'hangup', reason: 'unknown'}         AMD never came back, campaign hangs up on unknown
create function public.campaign_connect_step(p_event jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call     public.calls;
  v_campaign public.campaigns;
  v_agent    public.agents;
  v_presence integer := coalesce((p_event->>'presence_seconds')::integer, 20);
  v_grace    numeric := coalesce((p_event->>'grace_seconds')::numeric, 2);
  v_now      timestamptz := public.app_now();
  v_in_grace boolean;
begin
  v_call := public.campaign_call_of(p_event->>'call_sid', (p_event->>'attempt_id')::bigint);
  if v_call.id is null or v_call.campaign_id is null then
    return pg_catalog.jsonb_build_object('action', 'not_campaign',
      'answer', public.start_outbound_answer(p_event || '{"connect_step": true}'::jsonb));
  end if;
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(v_call.to_number));
  perform public.apply_call_event(p_event || pg_catalog.jsonb_build_object(
    'kind', 'voice', 'dedupe_key', 'voice:connect', 'attempt_id', v_call.id));
  select * into v_call from public.calls c where c.id = v_call.id for update;
  select * into v_campaign from public.campaigns k where k.id = v_call.campaign_id;
  update public.calls set disclaimer_ended_at = coalesce(disclaimer_ended_at, v_now), updated_at = v_now
   where id = v_call.id
  returning * into v_call;
  v_agent := public.campaign_agent_for_call(v_call.call_sid);

  if exists (select 1 from public.opt_outs o where o.phone_number = v_call.to_number) then
    update public.calls
       set opted_out = true, end_reason = coalesce(end_reason, 'opted_out_after_dial'), outcome = coalesce(outcome, 'opted_out')
     where id = v_call.id;
    if v_agent.id is not null and v_agent.status = 'reserved' then
      perform public.agent_transition(v_agent.id, 'available', null, 'system', null);
    end if;
    return pg_catalog.jsonb_build_object('action', 'hangup', 'reason', 'opted_out');
  end if;
  if v_call.amd_action in ('hangup', 'voicemail') then
    return pg_catalog.jsonb_build_object('action', v_call.amd_action, 'reason', 'machine');
  end if;
  if v_call.abandoned_at is not null then
    return pg_catalog.jsonb_build_object('action', 'abandon', 'treatment', v_campaign.abandon_treatment,
      'company_name', v_campaign.company_name);
  end if;

  -- The agent reserved for this customer, still in the room and present: in it goes.
  if v_agent.id is not null then
    if public.agent_room_takes(v_agent, v_call.call_sid, v_call.id, v_presence) then
      return pg_catalog.jsonb_build_object('action', 'room', 'agent_id', v_agent.id, 'reserved_by', v_call.reserved_by);
    end if;
    -- Gone meanwhile (shift leg over, page silent): released; another agent may take the customer.
    if v_agent.status = 'reserved' then
      perform public.agent_transition(v_agent.id, 'available', null, 'system', null);
    end if;
  end if;

  v_in_grace := v_now < v_call.disclaimer_ended_at + pg_catalog.make_interval(secs => v_grace::double precision);
  if v_call.live_at is null then
    if v_call.amd_at is null and v_in_grace then
      return pg_catalog.jsonb_build_object('action', 'wait', 'reason', 'amd_pending',
        'waited_ms', (extract(epoch from v_now - v_call.disclaimer_ended_at) * 1000)::integer);
    end if;
    -- AMD never came back (or said nothing usable): the campaign's rule for unknown.
    if v_campaign.amd_unknown <> 'connect' then
      update public.calls set amd_action = coalesce(amd_action, 'hangup') where id = v_call.id;
      return pg_catalog.jsonb_build_object('action', 'hangup', 'reason', 'unknown');
    end if;
    update public.calls set live_at = v_now where id = v_call.id returning * into v_call;
  end if;

  v_agent := public.campaign_reserve_agent(v_call, v_presence, 'connect');
  if v_agent.id is not null and public.agent_room_takes(v_agent, v_call.call_sid, v_call.id, v_presence) then
    return pg_catalog.jsonb_build_object('action', 'room', 'agent_id', v_agent.id, 'reserved_by', 'connect');
  end if;
  if v_in_grace then
    return pg_catalog.jsonb_build_object('action', 'wait', 'reason', 'no_agent',
      'waited_ms', (extract(epoch from v_now - v_call.disclaimer_ended_at) * 1000)::integer);
  end if;
  update public.calls
     set abandoned_at = v_now, outcome = coalesce(outcome, 'abandoned'), updated_at = v_now
   where id = v_call.id;
  return pg_catalog.jsonb_build_object('action', 'abandon', 'treatment', v_campaign.abandon_treatment,
    'company_name', v_campaign.company_name);
end;
$$;

-- /voice/whisper?call=<CallSid>: the lead's context for the agent reserved for that call
-- (campaign_whisper_data), or null when the call is unknown or of no campaign.
create function public.campaign_whisper(p_call_sid text)
returns jsonb
language sql stable
set search_path = ''
as $$
  select public.campaign_whisper_data(c) from public.calls c
   where c.call_sid = p_call_sid and c.campaign_id is not null
$$;

-- /voice/voicemail-drop?attempt=<id>: what the campaign leaves on an answering machine
-- ({audio, text, company_name}), the request logged (call_events, kind voice). Null when the
-- call is unknown or of no campaign.
create function public.campaign_voicemail_drop(p_event jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call public.calls;
  v_campaign public.campaigns;
begin
  v_call := public.campaign_call_of(p_event->>'call_sid', (p_event->>'attempt_id')::bigint);
  if v_call.id is null or v_call.campaign_id is null then
    return null;
  end if;
  perform public.apply_call_event(p_event || pg_catalog.jsonb_build_object(
    'kind', 'voice', 'dedupe_key', 'voice:voicemail-drop', 'attempt_id', v_call.id));
  update public.calls set outcome = coalesce(outcome, 'machine_voicemail'), updated_at = public.app_now() where id = v_call.id;
  select * into v_campaign from public.campaigns k where k.id = v_call.campaign_id;
  return pg_catalog.jsonb_build_object('audio', v_campaign.voicemail_audio, 'text', v_campaign.voicemail_text,
    'company_name', v_campaign.company_name);
end;
$$;

-- agent_customer_joined (agent_calls migration), plus: a campaign customer joining the room is
-- connected (calls.connected_at, outcome human) — the end of the customer's wait that the
-- silence figure measures from disclaimer_ended_at.
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
  update public.calls set agent_id = p_agent_id, updated_at = public.app_now()
   where call_sid = p_call_sid and agent_id is null;
  update public.calls
     set connected_at = coalesce(connected_at, public.app_now()), outcome = coalesce(outcome, 'human'), updated_at = public.app_now()
   where call_sid = p_call_sid and campaign_id is not null and connected_at is null;
  return pg_catalog.jsonb_build_object('agent_id', v_agent.id, 'status', v_agent.status);
end;
$$;

-- A recording status callback (/webhooks/recording). p_event: recording_sid, call_sid, status
-- (in-progress | completed | absent | failed), duration, channels, url, source, track,
-- started_at, error_code, params. Upserts the recordings row: idempotent, the status only
-- moves forward (in-progress → completed | absent | failed; a final status is kept), the
-- duration and URL kept once known; the call's agent and campaign; kind 'voicemail' for a
-- <Record> verb's recording. Channel map of a 2-channel recording (see docs/campaign-calls.md):
-- a call's own recording (Calls Recordings API, Dial, Calls create Record) puts the recorded
-- leg — the customer — on channel 1 and what it hears — the agent — on channel 2; a
-- conference recording puts its first participant (the agent's shift leg) on channel 1 and
-- everyone else on channel 2. A recording of a call discador does not know is not stored:
-- {applied: false, reason: 'unknown_call'}.
create function public.recording_status(p_event jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call     public.calls;
  v_status   text := p_event->>'status';
  v_source   text := p_event->>'source';
  v_channels smallint := (p_event->>'channels')::smallint;
  v_agent    bigint;
  v_customer smallint;
  v_row      public.recordings;
begin
  if v_status is null or v_status not in ('in-progress', 'completed', 'absent', 'failed') then
    raise exception 'unknown recording status %', v_status using errcode = '22023';
  end if;
  select * into v_call from public.calls c where c.call_sid = p_event->>'call_sid';
  if v_call.id is null then
    return pg_catalog.jsonb_build_object('applied', false, 'reason', 'unknown_call');
  end if;
  v_agent := coalesce(v_call.agent_id, v_call.reserved_agent_id,
    (select a.id from public.agents a where a.current_call_sid = v_call.call_sid order by a.id limit 1));
  if v_channels = 2 then
    v_customer := case when v_source in ('Conference', 'StartConferenceRecordingAPI') then 2 else 1 end;
  end if;

  insert into public.call_events as e (call_sid, kind, dedupe_key, call_status, event_at, params)
  values (v_call.call_sid, 'recording', 'recording:' || (p_event->>'recording_sid') || ':' || v_status, null,
          public.app_now(), coalesce(p_event->'params', '{}'::jsonb))
  on conflict (call_sid, dedupe_key) do update
    set received_count = e.received_count + 1, last_received_at = public.app_now();

  insert into public.recordings as r (recording_sid, call_sid, source, channels, duration, status, twilio_url,
    kind, agent_id, campaign_id, agent_channel, customer_channel, started_at, error_code)
  values (p_event->>'recording_sid', v_call.call_sid, v_source, v_channels,
    case when v_status = 'completed' then (p_event->>'duration')::integer end, v_status, p_event->>'url',
    case when v_source = 'RecordVerb' then 'voicemail' else 'call' end, v_agent, v_call.campaign_id,
    case when v_customer is not null then 3 - v_customer end, v_customer,
    (p_event->>'started_at')::timestamptz, nullif((p_event->>'error_code')::integer, 0))
  on conflict (recording_sid) do update set
    status           = case when r.status = 'in-progress' then excluded.status else r.status end,
    duration         = coalesce(r.duration, excluded.duration),
    twilio_url       = coalesce(r.twilio_url, excluded.twilio_url),
    source           = coalesce(r.source, excluded.source),
    channels         = coalesce(r.channels, excluded.channels),
    agent_channel    = coalesce(r.agent_channel, excluded.agent_channel),
    customer_channel = coalesce(r.customer_channel, excluded.customer_channel),
    agent_id         = coalesce(r.agent_id, excluded.agent_id),
    campaign_id      = coalesce(r.campaign_id, excluded.campaign_id),
    started_at       = coalesce(r.started_at, excluded.started_at),
    error_code       = coalesce(r.error_code, excluded.error_code),
    updated_at       = public.app_now()
  returning r.* into v_row;
  return pg_catalog.jsonb_build_object('applied', true, 'recording_sid', v_row.recording_sid, 'status', v_row.status,
    'agent_channel', v_row.agent_channel, 'customer_channel', v_row.customer_channel);
end;
$$;

revoke execute on function
  public.campaign_call_of(text, bigint), public.campaign_reserve_agent(public.calls, integer, text),
  public.campaign_agent_for_call(text), public.campaign_whisper_data(public.calls),
  public.campaign_amd_result(jsonb), public.campaign_connect_step(jsonb), public.campaign_whisper(text),
  public.campaign_voicemail_drop(jsonb), public.agent_customer_joined(bigint, public.call_sid),
  public.recording_status(jsonb)
  from public, anon, authenticated;
grant execute on function
  public.campaign_call_of(text, bigint), public.campaign_reserve_agent(public.calls, integer, text),
  public.campaign_agent_for_call(text), public.campaign_whisper_data(public.calls),
  public.campaign_amd_result(jsonb), public.campaign_connect_step(jsonb), public.campaign_whisper(text),
  public.campaign_voicemail_drop(jsonb), public.agent_customer_joined(bigint, public.call_sid),
  public.recording_status(jsonb)
  to service_role;
