-- Every recording safe in S3: the transfer job of each completed recording (download from
-- Twilio, SHA-256, upload, read back and compare, then delete from Twilio), its lease so two
-- workers never move the same recording, its backoff, its multipart progress (so a run cut by
-- the Functions' 10 s limit resumes), retention, and the recording callback that arms it.
--
-- recordings.storage_status (what everyone else reads):
--   pending              completed in Twilio, no copy yet (or the job waits for its next attempt)
--   copying              an upload has started (multipart parts may be in S3)
--   verified             the S3 object was read back and its SHA-256 equals the bytes Twilio served
--   deleted_from_twilio  verified, and then deleted from Twilio
--   failed               the job gave up for good (last_error says why); the recording is still in Twilio
--   external             Twilio stored it in the account's own bucket (Voice Recording external
--                        storage): external_url says where; discador neither copies nor deletes it

alter table public.recordings drop constraint recordings_storage_status_check;
alter table public.recordings add constraint recordings_storage_status_check
  check (storage_status in ('pending', 'copying', 'verified', 'deleted_from_twilio', 'failed', 'external'));
alter table public.recordings
  add column verified_at       timestamptz,
  add column twilio_deleted_at timestamptz,
  add column external_url      text check (length(external_url) <= 2000);

create table public.recording_transfers (
  recording_id    bigint primary key references public.recordings (id) on delete cascade,
  recording_sid   text not null unique check (recording_sid ~ '^RE[0-9a-f]{32}$'),
  -- pending → uploading → uploaded → verified → done; or external / failed (final)
  state           text not null default 'pending'
                    check (state in ('pending', 'uploading', 'uploaded', 'verified', 'done', 'external', 'failed')),
  attempts        integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default public.app_now(),
  last_error      text check (length(last_error) <= 2000),
  last_error_at   timestamptz,
  -- the lease: a worker owns the job until claimed_until
  claimed_by      text check (length(claimed_by) <= 100),
  claimed_until   timestamptz,
  -- where the copy goes and what is already there
  s3_bucket       text,
  s3_key          text,
  upload_id       text check (length(upload_id) <= 1024),
  part_size       integer check (part_size > 0),
  -- [{n, etag, sha256 (hex of Twilio's bytes of that part), size}], in order
  parts           jsonb not null default '[]'::jsonb check (jsonb_typeof(parts) = 'array'),
  size_bytes      bigint check (size_bytes >= 0),
  -- the media's total size as Twilio served it (saved on the first download): a resumed upload
  -- whose saved parts cover it completes without asking Twilio again; the read-back requires it
  media_size      bigint check (media_size >= 0),
  sha256          text check (sha256 ~ '^[0-9a-f]{64}$'),
  -- the read-back's progress while state = 'uploaded', so a read-back longer than a run
  -- resumes: {etag (the object read), parts (how many parts matched, in order), hash (the
  -- whole object's SHA-256 running state after them)}; cleared whenever the parts change
  readback        jsonb check (readback is null or jsonb_typeof(readback) = 'object'),
  verified_at     timestamptz,
  twilio_deleted_at timestamptz,
  created_at      timestamptz not null default public.app_now(),
  updated_at      timestamptz not null default public.app_now()
);
alter table public.recording_transfers enable row level security;
create index recording_transfers_due_idx on public.recording_transfers (next_attempt_at)
  where state not in ('done', 'external', 'failed');
comment on table public.recording_transfers is
  'The S3 transfer job of each completed recording: state, lease, backoff, multipart progress. docs/recordings.md.';

-- The job and what the worker needs of its recording (one JSON object).
create function public.recording_job_json(p_job public.recording_transfers)
returns jsonb
language sql stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'recording_sid', p_job.recording_sid, 'state', p_job.state, 'attempts', p_job.attempts,
    'claimed_by', p_job.claimed_by, 'claimed_until', p_job.claimed_until,
    's3_bucket', p_job.s3_bucket, 's3_key', p_job.s3_key, 'upload_id', p_job.upload_id, 'part_size', p_job.part_size,
    'parts', p_job.parts, 'size_bytes', p_job.size_bytes, 'media_size', p_job.media_size, 'sha256', p_job.sha256,
    'readback', p_job.readback, 'last_error', p_job.last_error,
    'verified_s_ago', pg_catalog.date_part('epoch', public.app_now() - p_job.verified_at)::bigint,
    'transcription_status', r.transcription_status,
    'call_sid', r.call_sid, 'twilio_url', r.twilio_url, 'channels', r.channels, 'duration', r.duration,
    'started_at', coalesce(r.started_at, r.created_at), 'kind', r.kind, 'agent_id', r.agent_id,
    'campaign_id', r.campaign_id, 'queue_name', r.queue_name, 'agent_channel', r.agent_channel,
    'customer_channel', r.customer_channel)
    from public.recordings r where r.id = p_job.recording_id
$$;

-- A recording status callback (/webhooks/recording). p_event: recording_sid, call_sid, status
-- (in-progress | completed | absent | failed), duration, channels, url, source, track,
-- started_at, error_code, params; and from the callback URL's query: kind ('voicemail'),
-- agent_id, queue (whose voicemail it is). Upserts the recordings row: idempotent, the status
-- only moves forward (in-progress → completed | absent | failed; a final status is kept), the
-- duration and URL kept once known; the call's agent and campaign; kind 'voicemail' for a
-- <Record> verb's recording or one the URL names so. Channel map of a 2-channel recording (see
-- docs/campaign-calls.md): a call's own recording puts the recorded leg — the customer — on
-- channel 1 and what it hears — the agent — on channel 2; a conference recording puts its
-- first participant (the agent's shift leg) on channel 1 and everyone else on channel 2.
-- A completed recording arms its S3 transfer job (recording_transfers, due now; once).
-- A recording of a call discador does not know is not stored: {applied: false, reason: 'unknown_call'}.
create or replace function public.recording_status(p_event jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_call     public.calls;
  v_status   text := p_event->>'status';
  v_source   text := p_event->>'source';
  v_channels smallint := (p_event->>'channels')::smallint;
  v_kind     text := p_event->>'kind';
  v_queue    text := p_event->>'queue';
  v_agent    bigint;
  v_customer smallint;
  v_row      public.recordings;
  v_armed    boolean := false;
begin
  if v_status is null or v_status not in ('in-progress', 'completed', 'absent', 'failed') then
    raise exception 'unknown recording status %', v_status using errcode = '22023';
  end if;
  if v_kind is not null and v_kind not in ('voicemail', 'call') then
    raise exception 'unknown recording kind %', v_kind using errcode = '22023';
  end if;
  if v_queue is not null and v_queue !~ '^[a-z0-9][a-z0-9_-]{0,39}$' then
    raise exception 'malformed queue name %', v_queue using errcode = '22023';
  end if;
  select * into v_call from public.calls c where c.call_sid = p_event->>'call_sid';
  if v_call.id is null then
    return pg_catalog.jsonb_build_object('applied', false, 'reason', 'unknown_call');
  end if;
  -- The voicemail's owner named by the URL, when that agent exists; a queue's voicemail (the
  -- URL names a queue and no agent) belongs to the team: no agent. Else the call's agent.
  select a.id into v_agent from public.agents a where a.id = (p_event->>'agent_id')::bigint;
  if v_agent is null and (v_queue is null or p_event->>'agent_id' is not null) then
    v_agent := coalesce(v_call.agent_id, v_call.reserved_agent_id,
      (select a.id from public.agents a where a.current_call_sid = v_call.call_sid order by a.id limit 1));
  end if;
  if v_channels = 2 then
    v_customer := case when v_source in ('Conference', 'StartConferenceRecordingAPI') then 2 else 1 end;
  end if;
  v_kind := coalesce(v_kind, case when v_source = 'RecordVerb' then 'voicemail' else 'call' end);

  insert into public.call_events as e (call_sid, kind, dedupe_key, call_status, event_at, params)
  values (v_call.call_sid, 'recording', 'recording:' || (p_event->>'recording_sid') || ':' || v_status, null,
          public.app_now(), coalesce(p_event->'params', '{}'::jsonb))
  on conflict (call_sid, dedupe_key) do update
    set received_count = e.received_count + 1, last_received_at = public.app_now();

  insert into public.recordings as r (recording_sid, call_sid, source, channels, duration, status, twilio_url,
    kind, agent_id, campaign_id, queue_name, agent_channel, customer_channel, started_at, error_code)
  values (p_event->>'recording_sid', v_call.call_sid, v_source, v_channels,
    case when v_status = 'completed' then (p_event->>'duration')::integer end, v_status, p_event->>'url',
    v_kind, v_agent, v_call.campaign_id, v_queue,
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
    kind             = case when excluded.kind = 'voicemail' then 'voicemail' else r.kind end,
    agent_id         = coalesce(r.agent_id, excluded.agent_id),
    campaign_id      = coalesce(r.campaign_id, excluded.campaign_id),
    queue_name       = coalesce(r.queue_name, excluded.queue_name),
    started_at       = coalesce(r.started_at, excluded.started_at),
    error_code       = coalesce(r.error_code, excluded.error_code),
    updated_at       = public.app_now()
  returning r.* into v_row;

  if v_row.status = 'completed' then
    insert into public.recording_transfers (recording_id, recording_sid)
    values (v_row.id, v_row.recording_sid)
    on conflict (recording_id) do nothing;
    v_armed := found;
  end if;
  return pg_catalog.jsonb_build_object('applied', true, 'recording_sid', v_row.recording_sid, 'status', v_row.status,
    'kind', v_row.kind, 'agent_channel', v_row.agent_channel, 'customer_channel', v_row.customer_channel,
    'transfer', v_row.status = 'completed', 'armed', v_armed);
end;
$$;

-- Claims due transfer jobs for p_worker for p_lease_seconds (at most p_limit; one recording
-- when p_recording_sid is given). A job is due when not final, its next attempt has come, and
-- no other worker's lease is running. Row locks skip jobs another claim is taking right now.
create function public.recording_jobs_claim(p_worker text, p_limit integer default 5,
  p_lease_seconds integer default 30, p_recording_sid text default null)
returns setof jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_job public.recording_transfers;
begin
  if p_worker is null or p_worker !~ '^[A-Za-z0-9_.:-]{1,100}$' then
    raise exception 'malformed worker id' using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds < 1 or p_lease_seconds > 3600 then
    raise exception 'p_lease_seconds must be between 1 and 3600' using errcode = '22023';
  end if;
  for v_job in
    with due as (
      select t.recording_id from public.recording_transfers t
       where t.state not in ('done', 'external', 'failed')
         and (p_recording_sid is null or t.recording_sid = p_recording_sid)
         and (p_recording_sid is not null or t.next_attempt_at <= public.app_now())
         and (t.claimed_until is null or t.claimed_until <= public.app_now())
         -- an erased recording (LGPD) is never copied again
         and not exists (select 1 from public.recordings r where r.id = t.recording_id and r.s3_deleted_reason is not null)
       order by t.next_attempt_at, t.recording_id
       limit greatest(1, least(coalesce(p_limit, 5), 100))
       for update skip locked)
    update public.recording_transfers t
       set claimed_by = p_worker, claimed_until = public.app_now() + pg_catalog.make_interval(secs => p_lease_seconds),
           updated_at = public.app_now()
      from due where t.recording_id = due.recording_id
    returning t.*
  loop
    return next public.recording_job_json(v_job);
  end loop;
end;
$$;

-- Saves a claimed job's progress (p_patch: state, s3_bucket, s3_key, upload_id, part_size,
-- parts, size_bytes, media_size, sha256, readback, external_url) while p_worker still holds the lease, and extends
-- the lease by p_extend_seconds. The recordings row follows: copying while uploading, and the
-- verified copy's bucket, key, size and SHA-256; 'done' (deleted from Twilio) only after
-- 'verified'. The read-back's progress (readback) is cleared whenever the parts are
-- saved or the job goes back to pending / uploading: it never outlives the copy it was
-- made of. Returns false, nothing written, when the lease is lost (expired or taken);
-- raises DC001 when the recording was erased meanwhile (the worker removes what it wrote).
create function public.recording_job_save(p_sid text, p_worker text, p_patch jsonb, p_extend_seconds integer default 30)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_job   public.recording_transfers;
  v_state text := coalesce(p_patch->>'state', '');
begin
  select * into v_job from public.recording_transfers t where t.recording_sid = p_sid for update;
  if v_job.recording_id is null or v_job.claimed_by is distinct from p_worker or v_job.claimed_until <= public.app_now() then
    return false;
  end if;
  if exists (select 1 from public.recordings r where r.id = v_job.recording_id and r.s3_deleted_reason is not null) then
    raise exception 'recording % is erased: no copy may be kept', p_sid using errcode = 'DC001';
  end if;
  if v_state = 'done' and v_job.state not in ('verified', 'done') then
    raise exception 'recording % is not verified: it may not leave Twilio', p_sid using errcode = '55000';
  end if;
  if v_state = 'verified' and (coalesce(p_patch->>'sha256', v_job.sha256) is null
      or coalesce(p_patch->>'s3_key', v_job.s3_key) is null or coalesce(p_patch->>'s3_bucket', v_job.s3_bucket) is null) then
    raise exception 'a verified copy needs its bucket, key and SHA-256' using errcode = '22023';
  end if;
  update public.recording_transfers t set
    state         = coalesce(nullif(v_state, ''), t.state),
    s3_bucket     = coalesce(p_patch->>'s3_bucket', t.s3_bucket),
    s3_key        = coalesce(p_patch->>'s3_key', t.s3_key),
    upload_id     = case when p_patch ? 'upload_id' then p_patch->>'upload_id' else t.upload_id end,
    part_size     = coalesce((p_patch->>'part_size')::integer, t.part_size),
    parts         = coalesce(p_patch->'parts', t.parts),
    size_bytes    = case when p_patch ? 'size_bytes' then (p_patch->>'size_bytes')::bigint else t.size_bytes end,
    media_size    = case when p_patch ? 'media_size' then (p_patch->>'media_size')::bigint else t.media_size end,
    sha256        = coalesce(p_patch->>'sha256', t.sha256),
    readback      = case when p_patch ? 'parts' or v_state in ('pending', 'uploading') then null
                         when p_patch ? 'readback' then nullif(p_patch->'readback', 'null'::jsonb)
                         else t.readback end,
    verified_at   = case when v_state = 'verified' then public.app_now() else t.verified_at end,
    twilio_deleted_at = case when v_state = 'done' then public.app_now() else t.twilio_deleted_at end,
    claimed_until = public.app_now() + pg_catalog.make_interval(secs => greatest(1, least(coalesce(p_extend_seconds, 30), 3600))),
    updated_at    = public.app_now()
  where t.recording_id = v_job.recording_id
  returning t.* into v_job;
  update public.recordings r set
    storage_status = case v_state
      when 'pending' then 'pending' when 'uploading' then 'copying' when 'uploaded' then 'copying' when 'verified' then 'verified'
      when 'done' then 'deleted_from_twilio' when 'external' then 'external' else r.storage_status end,
    s3_bucket  = case when v_state in ('verified', 'done') then v_job.s3_bucket else r.s3_bucket end,
    s3_key     = case when v_state in ('verified', 'done') then v_job.s3_key else r.s3_key end,
    sha256     = case when v_state in ('verified', 'done') then v_job.sha256 else r.sha256 end,
    size_bytes = case when v_state in ('verified', 'done') then v_job.size_bytes else r.size_bytes end,
    verified_at = case when v_state = 'verified' then v_job.verified_at else r.verified_at end,
    twilio_deleted_at = case when v_state = 'done' then v_job.twilio_deleted_at else r.twilio_deleted_at end,
    external_url = case when v_state = 'external' then p_patch->>'external_url' else r.external_url end,
    updated_at = public.app_now()
  where r.id = v_job.recording_id and v_state <> '';
  if v_state in ('done', 'external') then
    update public.recording_transfers t set claimed_by = null, claimed_until = null where t.recording_id = v_job.recording_id;
  end if;
  return true;
end;
$$;

-- Ends p_worker's claim on a job. p_error null: the run stopped in good order (out of time):
-- due again at once, attempts unchanged. With p_error: attempts + 1, last_error kept, next
-- attempt in p_retry_seconds (the caller's backoff); p_permanent: the job gives up for good
-- (state failed, recordings.storage_status failed; the recording stays in Twilio).
-- Returns false when the lease was already lost.
create function public.recording_job_release(p_sid text, p_worker text, p_error text default null,
  p_retry_seconds integer default 0, p_permanent boolean default false)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  v_job public.recording_transfers;
begin
  update public.recording_transfers t set
    claimed_by = null, claimed_until = null,
    attempts = t.attempts + case when p_error is null then 0 else 1 end,
    last_error = coalesce(pg_catalog.left(p_error, 2000), t.last_error),
    last_error_at = case when p_error is null then t.last_error_at else public.app_now() end,
    next_attempt_at = public.app_now() + pg_catalog.make_interval(secs => greatest(0, least(coalesce(p_retry_seconds, 0), 86400))),
    state = case when p_permanent then 'failed' else t.state end,
    updated_at = public.app_now()
  where t.recording_sid = p_sid and t.claimed_by = p_worker
  returning t.* into v_job;
  if v_job.recording_id is null then
    return false;
  end if;
  if p_permanent then
    update public.recordings r set storage_status = 'failed', updated_at = public.app_now()
     where r.id = v_job.recording_id and r.s3_deleted_reason is null;
  end if;
  return true;
end;
$$;

-- Recordings whose S3 copy is older than the retention (never below 90 days), oldest first:
-- [{recording_sid, s3_bucket, s3_key}] for the heartbeat to delete from S3.
create function public.recordings_retention_due(p_days integer, p_limit integer default 50)
returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('recording_sid', x.recording_sid,
           's3_bucket', x.s3_bucket, 's3_key', x.s3_key) order by x.at), '[]'::jsonb)
    from (select r.recording_sid, r.s3_bucket, r.s3_key, coalesce(r.started_at, r.created_at) as at
            from public.recordings r
           where r.storage_status in ('verified', 'deleted_from_twilio') and r.s3_deleted_at is null
             and r.s3_key is not null
             and coalesce(r.started_at, r.created_at)
                 < public.app_now() - pg_catalog.make_interval(days => greatest(90, coalesce(p_days, 1826)))
           order by 4 limit greatest(1, least(coalesce(p_limit, 50), 1000))) x
$$;

-- Marks a recording's S3 copy as deleted (p_reason 'retention' or 'lgpd_erase'); the row stays.
create function public.recording_s3_deleted(p_sid text, p_reason text)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  if p_reason is null or p_reason not in ('retention', 'lgpd_erase') then
    raise exception 'unknown deletion reason %', p_reason using errcode = '22023';
  end if;
  update public.recordings r set s3_deleted_at = public.app_now(), s3_deleted_reason = p_reason, updated_at = public.app_now()
   where r.recording_sid = p_sid and r.s3_deleted_at is null;
  return found;
end;
$$;

-- The jobs heartbeat in production: pg_cron posts /api/jobs (next to /api/tick, same HMAC
-- header, same settings row: the URL is tick_url with /api/tick replaced by /api/jobs).
create function public.recording_jobs_heartbeat()
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_net     text := public.extension_schema('pg_net');
  v_request jsonb;
  v_id      bigint;
begin
  if v_net is null then
    raise exception 'pg_net is not installed' using errcode = '55000';
  end if;
  v_request := public.pacer_heartbeat_request();
  if v_request is null then
    return null;
  end if;
  execute pg_catalog.format('select %I.http_post(url => $1, body => $2, headers => $3, timeout_milliseconds => $4)', v_net)
    into v_id
    using pg_catalog.regexp_replace(v_request->>'url', '/api/tick$', '/api/jobs'), '{}'::jsonb, v_request->'headers',
          (v_request->>'timeout_ms')::integer;
  return v_id;
end;
$$;

-- Schedules (or reschedules) 'discador-recording-jobs' every p_seconds (1-59). Refused without pg_cron and pg_net.
create function public.recording_jobs_schedule(p_seconds integer default 15)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_id bigint;
begin
  if p_seconds is null or p_seconds < 1 or p_seconds > 59 then
    raise exception 'p_seconds must be between 1 and 59' using errcode = '22023';
  end if;
  if public.extension_schema('pg_cron') is null or public.extension_schema('pg_net') is null then
    raise exception 'the jobs heartbeat needs pg_cron and pg_net installed' using errcode = '55000';
  end if;
  execute 'select cron.schedule($1, $2, $3)' into v_id
    using 'discador-recording-jobs', p_seconds || ' seconds', 'select public.recording_jobs_heartbeat()';
  return v_id;
end;
$$;

revoke execute on function
  public.recording_job_json(public.recording_transfers), public.recording_jobs_claim(text, integer, integer, text),
  public.recording_job_save(text, text, jsonb, integer), public.recording_job_release(text, text, text, integer, boolean),
  public.recordings_retention_due(integer, integer), public.recording_s3_deleted(text, text),
  public.recording_jobs_heartbeat(), public.recording_jobs_schedule(integer)
  from public, anon, authenticated;
grant execute on function
  public.recording_job_json(public.recording_transfers), public.recording_jobs_claim(text, integer, integer, text),
  public.recording_job_save(text, text, jsonb, integer), public.recording_job_release(text, text, text, integer, boolean),
  public.recordings_retention_due(integer, integer), public.recording_s3_deleted(text, text),
  public.recording_jobs_heartbeat(), public.recording_jobs_schedule(integer)
  to service_role;
revoke all on table public.recording_transfers from public, anon, authenticated;

do $$
begin
  if public.extension_schema('pg_cron') is not null and public.extension_schema('pg_net') is not null then
    perform public.recording_jobs_schedule(15);
  else
    raise notice 'pg_cron and pg_net are not both installed: the recording jobs heartbeat is not scheduled (see docs/recordings.md)';
  end if;
end $$;
