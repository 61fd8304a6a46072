-- Text messages (SMS and WhatsApp) received on the account's numbers, and what the agent page
-- shows of them and of voicemails.
--
-- receive_inbound_message stores one message and, for an opt-out word, lists the sender on the
-- opt-out list in the same transaction, exactly as every other opt-out path does: opt_out_add
-- takes the number's advisory lock (opt_out_lock_key) before anything else, so once this
-- returns no later dial or connect of that number passes; the opt_outs row carries source
-- 'sms' or 'whatsapp' (already allowed by opt_outs_source_check) and the message's SID as
-- created_by; the insert trigger marks the number's pending leads opted_out, and this also
-- releases leads an agent was previewing. The same MessageSid again (Twilio retries a webhook
-- that did not answer in time) changes nothing and answers what the first one stored.
-- A message that is not an opt-out is for the agent the receiving number is assigned to, or
-- for the team (agent_id null) when nobody owns the number.

-- The agent page counts unread messages on every poll.
create index inbound_messages_unread_idx on public.inbound_messages (agent_id) where read_at is null and kind = 'message';

create function public.receive_inbound_message(
  p_message_sid text, p_channel text, p_from public.e164, p_to public.e164, p_body text, p_kind text
) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_row   public.inbound_messages;
  v_added boolean := false;
  v_agent bigint;
begin
  if p_kind not in ('opt_out', 'message') then
    raise exception 'kind must be opt_out or message, not %', p_kind using errcode = '22023';
  end if;
  select * into v_row from public.inbound_messages m where m.message_sid = p_message_sid;
  if v_row.id is not null then
    return pg_catalog.jsonb_build_object('id', v_row.id, 'kind', v_row.kind, 'agent_id', v_row.agent_id,
      'duplicate', true, 'listed', v_row.kind = 'opt_out');
  end if;

  if p_kind = 'opt_out' then
    -- The number's lock first, before any row lock, in the order every dialing path uses.
    v_added := (public.opt_out_add(p_from, 'message_word', p_channel, p_message_sid)->>'added')::boolean;
    update public.leads set status = 'opted_out', preview_agent_id = null, updated_at = public.app_now()
     where phone_number = p_from and status = 'previewing';
  end if;

  select a.id into v_agent
    from public.phone_numbers n join public.agents a on a.id = n.assigned_agent_id
   where n.phone_number = p_to and a.is_active;

  insert into public.inbound_messages as m (message_sid, channel, from_number, to_number, body, kind, agent_id, received_at)
  values (p_message_sid, p_channel, p_from, p_to, p_body, p_kind, v_agent, public.app_now())
  on conflict (message_sid) do nothing
  returning m.* into v_row;
  if v_row.id is null then
    -- A concurrent retry of the same message stored it first.
    select * into v_row from public.inbound_messages m where m.message_sid = p_message_sid;
    return pg_catalog.jsonb_build_object('id', v_row.id, 'kind', v_row.kind, 'agent_id', v_row.agent_id,
      'duplicate', true, 'listed', v_row.kind = 'opt_out');
  end if;
  return pg_catalog.jsonb_build_object('id', v_row.id, 'kind', v_row.kind, 'agent_id', v_row.agent_id,
    'duplicate', false, 'listed', p_kind = 'opt_out', 'newly_listed', v_added);
end $$;

-- The agent marks a message read: their own or the team's (agent_id null), of kind message.
-- Reading it again keeps the first read_at. Answers {id, read_at}, or null when the message
-- does not exist or is another agent's (nothing is written).
create function public.agent_message_read(p_agent_id bigint, p_message_id bigint)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_row public.inbound_messages;
begin
  update public.inbound_messages m set read_at = coalesce(m.read_at, public.app_now())
   where m.id = p_message_id and m.kind = 'message' and (m.agent_id = p_agent_id or m.agent_id is null)
  returning m.* into v_row;
  if v_row.id is null then
    return null;
  end if;
  return pg_catalog.jsonb_build_object('id', v_row.id, 'read_at', v_row.read_at);
end $$;

-- ---------------------------------------------------------------------------------------
-- The agent page's poll (see 20261127090500_lead_outcomes.sql), with:
--   voicemails  each {recording_id, recording_sid, call_sid, from_number, at, duration,
--               transcription, stored (S3 copy verified), queue_name}: the agent's voicemail
--               recordings, the service queues' (the team's), and older Record verb
--               recordings of calls to the agent; the last 7 days, newest first, at most 20
--   messages    each {id, channel, from_number, to_number, body, at, read_at, for_team}
--   messages_unread  how many of the agent's and the team's messages are unread
create or replace function public.agent_poll(p_token_hash text, p_idle_seconds integer, p_presence_seconds integer)
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
  v_now      timestamptz := public.app_now();
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
  perform public.preview_release_stale();

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
      'outcome', v_call.outcome,
      'live_at', v_call.live_at,
      'connected_at', v_call.connected_at,
      'lead', (select pg_catalog.jsonb_build_object(
                 'id', l.id, 'name', l.name, 'external_id', l.external_id, 'fields', l.data,
                 'phone_number', l.phone_number, 'outcome', l.outcome, 'callback_at', l.callback_at,
                 'campaign', case when k.id is null then null
                                  else pg_catalog.jsonb_build_object('id', k.id, 'name', k.name, 'kind', k.kind,
                                         'mode', k.mode, 'whisper_template', k.whisper_template,
                                         'dispositions', k.dispositions) end)
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
    'campaign', (select pg_catalog.jsonb_build_object('id', k.id, 'name', k.name, 'kind', k.kind, 'mode', k.mode,
                          'status', k.status, 'whisper_template', k.whisper_template, 'dispositions', k.dispositions)
                   from public.campaigns k where k.id = v_agent.campaign_id),
    'preview', public.agent_preview_lead(v_agent.id),
    -- Inbound customers for this agent (the agent taking the call, or the owner of the number
    -- called) still on the line, neither the current call nor ever talking to anyone: no
    -- agent was ever busy with it (a queue's agent included) and no follow-me hop was answered.
    'waiting', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'call_sid', w.call_sid, 'from', w.from_number, 'since', w.since,
               'wait_seconds', pg_catalog.floor(extract(epoch from v_now - w.since))::integer) order by w.since)
        from (select c.call_sid, c.from_number, coalesce(c.started_at, c.created_at) as since
                from public.calls c
               where (c.agent_id = v_agent.id or c.owner_agent_id = v_agent.id) and c.direction = 'inbound'
                 and c.created_at > v_now - interval '2 hours'
                 and c.status in ('queued', 'initiated', 'ringing', 'in-progress') and c.ended_at is null
                 and c.call_sid is distinct from v_agent.current_call_sid
                 and c.follow_me_answered_at is null
                 and not exists (select 1 from public.agent_status_history h
                                  where h.call_sid = c.call_sid and h.status = 'busy')
               order by c.created_at
               limit 20) w), '[]'::jsonb),
    -- Messages left on the agent's voicemail and on the service queues' the agent serves: the
    -- recordings of kind voicemail, and, for rows written before recordings carried their
    -- owner, the Record verb recordings of inbound calls to the agent. stored: the S3 copy is
    -- verified and not deleted since.
    'voicemails', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'recording_id', v.id, 'recording_sid', v.recording_sid, 'call_sid', v.call_sid,
               'from_number', v.from_number, 'at', v.created_at, 'duration', v.duration,
               'transcription', v.transcription, 'stored', v.stored, 'queue_name', v.queue_name)
               order by v.created_at desc, v.id desc)
        from (select r.id, r.recording_sid, r.call_sid, c.from_number, r.created_at, r.duration, r.transcription,
                     (r.storage_status in ('verified', 'deleted_from_twilio') and r.s3_bucket is not null
                      and r.s3_key is not null and r.sha256 is not null and r.s3_deleted_at is null) as stored,
                     r.queue_name
                from (-- each branch reads its own index: the agent's, the queues', the agent's calls
                      select r1.* from public.recordings r1
                       where r1.kind = 'voicemail' and r1.agent_id = v_agent.id and r1.created_at > v_now - interval '7 days'
                      union all
                      select r2.* from public.recordings r2
                       where r2.kind = 'voicemail' and r2.agent_id is null and r2.queue_name is not null
                         and r2.created_at > v_now - interval '7 days'
                         -- only the queues the agent serves (recording_permitted's rule)
                         and not exists (select 1 from public.service_queues q
                                          where q.name = r2.queue_name and q.agent_ids is not null
                                            and not (v_agent.id = any (q.agent_ids)))
                      union all
                      select r3.* from public.calls c3 join public.recordings r3 on r3.call_sid = c3.call_sid
                       where c3.agent_id = v_agent.id and c3.direction = 'inbound' and c3.created_at > v_now - interval '7 days'
                         and r3.agent_id is null and r3.queue_name is null and r3.source = 'RecordVerb') r
                join public.calls c on c.call_sid = r.call_sid
               where r.status = 'completed'
               order by r.created_at desc, r.id desc
               limit 20) v), '[]'::jsonb),
    -- Text messages for the agent (their number's) or for the team (a number nobody owns):
    -- unread first, then newest; at most 20. Opt-out words are handled, not shown.
    'messages', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', m.id, 'channel', m.channel, 'from_number', m.from_number, 'to_number', m.to_number,
               'body', m.body, 'at', m.received_at, 'read_at', m.read_at, 'for_team', m.agent_id is null)
               order by (m.read_at is null) desc, m.received_at desc, m.id desc)
        from (select i.* from public.inbound_messages i
               where i.kind = 'message' and (i.agent_id = v_agent.id or i.agent_id is null)
                 and (i.read_at is null or i.received_at > v_now - interval '7 days')
               order by (i.read_at is null) desc, i.received_at desc, i.id desc
               limit 20) m), '[]'::jsonb),
    'messages_unread', (select pg_catalog.count(*)::integer from public.inbound_messages i
                         where i.kind = 'message' and (i.agent_id = v_agent.id or i.agent_id is null) and i.read_at is null),
    -- Inbound calls to the agent (taking it, or owning the number called) that ended without
    -- anyone talking to the caller: no agent ever busy with it, no follow-me hop answered.
    'missed', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'call_sid', m.call_sid, 'from', m.from_number, 'at', m.at, 'status', m.status,
               'voicemail', m.voicemail) order by m.at desc)
        from (select c.call_sid, c.from_number, coalesce(c.started_at, c.created_at) as at, c.status,
                     -- a message the caller left that the agent's voicemail list shows (the same rule):
                     -- completed, and the agent's own, or a queue's the agent serves
                     exists (select 1 from public.recordings r
                              where r.call_sid = c.call_sid and r.status = 'completed'
                                and ((r.kind = 'voicemail' and r.agent_id = v_agent.id)
                                  or (r.kind = 'voicemail' and r.agent_id is null and r.queue_name is not null
                                      and not exists (select 1 from public.service_queues q
                                                       where q.name = r.queue_name and q.agent_ids is not null
                                                         and not (v_agent.id = any (q.agent_ids))))
                                  or (c.agent_id = v_agent.id and r.agent_id is null and r.queue_name is null
                                      and r.source = 'RecordVerb'))) as voicemail
                from public.calls c
               where (c.agent_id = v_agent.id or c.owner_agent_id = v_agent.id) and c.direction = 'inbound'
                 and c.created_at > v_now - interval '7 days'
                 and (c.ended_at is not null or public.call_status_rank(c.status) >= 4)
                 and c.follow_me_answered_at is null
                 and not exists (select 1 from public.agent_status_history h
                                  where h.call_sid = c.call_sid and h.status = 'busy')
               order by c.created_at desc
               limit 20) m), '[]'::jsonb),
    'server_time', v_now);
end $$;

revoke execute on function
  public.receive_inbound_message(text, text, public.e164, public.e164, text, text),
  public.agent_message_read(bigint, bigint),
  public.agent_poll(text, integer, integer)
  from public, anon, authenticated;
grant execute on function
  public.receive_inbound_message(text, text, public.e164, public.e164, text, text),
  public.agent_message_read(bigint, bigint),
  public.agent_poll(text, integer, integer)
  to service_role;
