-- Listening to recordings and LGPD requests (the data subject's export and erasure).
--
-- Listening: recording_listen checks a session, decides whether its user may hear a
-- recording and logs the access, in one call; recording_access_log keeps who heard what,
-- when and from where (also the recordings an LGPD export packed).
--
-- LGPD: everything discador holds about a phone number is found through lgpd_sources, ONE
-- list of the places that can hold it (a table, what to export from it, how to erase it).
-- A new table holding phones is covered by adding one row there. lgpd_subject reads them
-- all, lgpd_export reads and logs, lgpd_erase_begin / lgpd_erase erase in two steps around
-- the deletion of the media (S3 objects, Twilio copies), which the operator's tool does
-- between them (scripts/lgpd.ts; docs/recordings-access.md says why in this order).

-- ---------------------------------------------------------------------------------------
-- Audit lines

-- One line per LGPD request. The phone is kept as its SHA-256 (hex of the E.164 text): it
-- answers "was this number erased, when, by whom" without keeping the number beside the
-- erasure (the opt-out entry keeps it in clear anyway, so the number stays undialed).
create table public.lgpd_requests (
  id           bigint generated always as identity primary key,
  kind         text not null check (kind in ('export', 'erase')),
  phone_sha256 text not null check (phone_sha256 ~ '^[0-9a-f]{64}$'),
  actor        text not null check (length(actor) between 1 and 200),
  status       text not null check (status in ('started', 'done')),
  started_at   timestamptz not null default public.app_now(),
  finished_at  timestamptz,
  counts       jsonb not null default '{}'::jsonb
);
alter table public.lgpd_requests enable row level security;
create index lgpd_requests_phone_idx on public.lgpd_requests (phone_sha256, started_at desc);

-- Every access to a recording's audio: a user playing it (purpose 'listen', outcome granted or
-- forbidden) or an LGPD export packing it (purpose 'lgpd_export', actor = who ran the export).
create table public.recording_access_log (
  id            bigint generated always as identity primary key,
  recording_id  bigint references public.recordings (id) on delete set null,
  recording_sid text,
  user_id       uuid references public.users (id) on delete set null,
  user_email    text,
  user_role     text,
  actor         text check (length(actor) between 1 and 200),
  purpose       text not null check (purpose in ('listen', 'lgpd_export')),
  outcome       text not null check (outcome in ('granted', 'forbidden')),
  address       text check (length(address) <= 64),
  at            timestamptz not null default public.app_now()
);
alter table public.recording_access_log enable row level security;
create index recording_access_log_recording_idx on public.recording_access_log (recording_id, at desc);
create index recording_access_log_user_idx on public.recording_access_log (user_id, at desc);

-- ---------------------------------------------------------------------------------------
-- Listening

-- Content type of a recording's audio by its key's extension.
create function public.recording_content_type(p_key text) returns text
language sql immutable set search_path = '' as $$
  select case when p_key ~* '\.mp3$' then 'audio/mpeg' else 'audio/wav' end
$$;

-- May the user (role, agent id) hear the recording? Supervisors and admins: any. An agent:
-- recordings of calls they handled (the recording's agent, the call's agent, or the agent of
-- the call it is a leg of), their own voicemails, and the voicemails of a service queue
-- they serve (left for the queue's team; those have no agent): every agent when the queue
-- names none (service_queues.agent_ids null, or no settings row), else only those named.
create function public.recording_permitted(p_role text, p_agent_id bigint, p_recording public.recordings) returns boolean
language sql stable set search_path = '' as $$
  select case
    when p_role in ('supervisor', 'admin') then true
    when p_role <> 'agent' or p_agent_id is null then false
    when p_recording.agent_id = p_agent_id then true
    when p_recording.kind = 'voicemail' and p_recording.agent_id is null and p_recording.queue_name is not null
      then not exists (select 1 from public.service_queues q
                        where q.name = p_recording.queue_name and q.agent_ids is not null
                          and not (p_agent_id = any (q.agent_ids)))
    else exists (
      select 1 from public.calls c
       where c.call_sid = p_recording.call_sid
         and (c.agent_id = p_agent_id
              or exists (select 1 from public.calls p where p.call_sid = c.parent_call_sid and p.agent_id = p_agent_id)))
  end
$$;

-- One round trip for /api/recordings/listen: the session (auth_session: null when it is not
-- live), the recording, the permission, the log line. Answers
--   null                                   the session is not live (nothing logged)
--   {refused: 'not_found'}                 no such recording (nothing logged)
--   {refused: 'forbidden'}                 not this user's recording (logged, outcome forbidden)
--   {refused: 'erased'}                    its audio was deleted (retention or LGPD) or is being erased
--   {refused: 'not_stored'}                the S3 copy is not verified yet (audio only in Twilio)
--   {granted: {recording_id, recording_sid, bucket, key, content_type, access_id}}
-- A refusal other than forbidden logs nothing: no audio was reached and the id says nothing.
create function public.recording_listen(p_token_hash text, p_idle_seconds integer, p_recording_id bigint, p_address text default null)
returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_session jsonb := public.auth_session(p_token_hash, p_idle_seconds);
  v_rec public.recordings;
  v_role text;
  v_access bigint;
begin
  if v_session is null then
    return null;
  end if;
  v_role := v_session #>> '{user,role}';
  select * into v_rec from public.recordings r where r.id = p_recording_id;
  if v_rec.id is null then
    return pg_catalog.jsonb_build_object('refused', 'not_found');
  end if;
  if not public.recording_permitted(v_role, (v_session #>> '{user,agent_id}')::bigint, v_rec) then
    insert into public.recording_access_log (recording_id, recording_sid, user_id, user_email, user_role, purpose, outcome, address)
    values (v_rec.id, v_rec.recording_sid, (v_session #>> '{user,id}')::uuid, v_session #>> '{user,email}', v_role, 'listen', 'forbidden',
            pg_catalog.left(p_address, 64));
    return pg_catalog.jsonb_build_object('refused', 'forbidden');
  end if;
  if v_rec.s3_deleted_at is not null or v_rec.s3_deleted_reason is not null then
    return pg_catalog.jsonb_build_object('refused', 'erased');
  end if;
  if v_rec.storage_status not in ('verified', 'deleted_from_twilio') or v_rec.s3_bucket is null or v_rec.s3_key is null or v_rec.sha256 is null then
    return pg_catalog.jsonb_build_object('refused', 'not_stored');
  end if;
  insert into public.recording_access_log (recording_id, recording_sid, user_id, user_email, user_role, purpose, outcome, address)
  values (v_rec.id, v_rec.recording_sid, (v_session #>> '{user,id}')::uuid, v_session #>> '{user,email}', v_role, 'listen', 'granted',
          pg_catalog.left(p_address, 64))
  returning id into v_access;
  return pg_catalog.jsonb_build_object('granted', pg_catalog.jsonb_build_object(
    'recording_id', v_rec.id, 'recording_sid', v_rec.recording_sid, 'bucket', v_rec.s3_bucket, 'key', v_rec.s3_key,
    'content_type', public.recording_content_type(v_rec.s3_key), 'access_id', v_access));
end $$;

-- ---------------------------------------------------------------------------------------
-- LGPD: where a phone can be

-- A regular expression that finds the phone in free text in the ways people write it:
-- "+5511987654321", "5511987654321", "11987654321", "(11) 98765-4321", "+55 11 98765 4321",
-- "011 98765-4321"; for a Brazilian mobile (area code, 9, eight digits) also the spelling
-- from before the ninth digit ("(11) 8765-4321", "1187654321"); never inside a longer run of
-- digits. A number without its area code ("98765-4321") does not identify it and is not
-- matched. Between two digits the pattern allows only [ \t\n\r().-]: the sources'
-- prefilter removes exactly these (a character added here must be removed there too).
create function public.lgpd_phone_pattern(p_phone public.e164) returns text
language sql immutable set search_path = '' as $$
  select '(?<![0-9])'
         || case when p_phone ~ '^\+55[1-9][0-9]9[0-9]{8}$'
                 then '(\+?[ \t\n\r]*55[ \t\n\r.()-]{0,3})?\(?0?'
                      || pg_catalog.substr(p_phone, 4, 1) || '[ \t\n\r().-]{0,3}' || pg_catalog.substr(p_phone, 5, 1) || '[ \t\n\r().-]{0,3}'
                      || '(?:9[ \t\n\r().-]{0,3})?'
                      || pg_catalog.array_to_string(pg_catalog.regexp_split_to_array(pg_catalog.substr(p_phone, 7), ''), '[ \t\n\r().-]{0,3}')
                 when p_phone like '+55%'
                 then '(\+?[ \t\n\r]*55[ \t\n\r.()-]{0,3})?\(?0?' || pg_catalog.array_to_string(pg_catalog.regexp_split_to_array(pg_catalog.substr(p_phone, 4), ''), '[ \t\n\r().-]{0,3}')
                 else '\+?' || pg_catalog.array_to_string(pg_catalog.regexp_split_to_array(pg_catalog.substr(p_phone, 2), ''), '[ \t\n\r().-]{0,3}')
            end
         || '(?![0-9])'
$$;

-- A JSON value with every string's mention of the phone (lgpd_phone_pattern) replaced by 'erased'.
create function public.lgpd_scrub(p_value jsonb, p_pattern text) returns jsonb
language plpgsql immutable set search_path = '' as $$
begin
  return case pg_catalog.jsonb_typeof(p_value)
    when 'string' then pg_catalog.to_jsonb(pg_catalog.regexp_replace(p_value #>> '{}', p_pattern, 'erased', 'g'))
    when 'object' then coalesce((select pg_catalog.jsonb_object_agg(e.key, public.lgpd_scrub(e.value, p_pattern)) from pg_catalog.jsonb_each(p_value) e), '{}'::jsonb)
    when 'array' then coalesce((select pg_catalog.jsonb_agg(public.lgpd_scrub(a.value, p_pattern) order by a.n)
                                  from pg_catalog.jsonb_array_elements(p_value) with ordinality a(value, n)), '[]'::jsonb)
    else p_value
  end;
end $$;

-- Twilio's webhook parameters that describe a caller or callee besides the number itself
-- (place derived from the number, CNAM name): dropped from the subject's call events.
create function public.lgpd_party_keys() returns text[]
language sql immutable set search_path = '' as $$
  select array['FromCity', 'FromState', 'FromZip', 'FromCountry', 'ToCity', 'ToState', 'ToZip', 'ToCountry',
               'CallerCity', 'CallerState', 'CallerZip', 'CallerCountry', 'CalledCity', 'CalledState', 'CalledZip', 'CalledCountry',
               'CallerName', 'ForwardedFrom']
$$;

-- THE list of places that hold a phone. Each row: `select_sql` returns one jsonb per row
-- held (the export), `erase_sql` deletes or anonymises them (null: kept). Both run with
--   $1  the phone (E.164 text)
--   $2  ids of the subject's calls (bigint[]: calls from or to the phone, and their child legs)
--   $3  lgpd_phone_pattern of the phone (mentions in free text and JSON)
-- A mention test is written
--   case when strpos(replace(…replace(x, ' ', '')…, E'\r', ''), right($1, 8)) > 0 then x ~ $3 else false end
-- with one replace per character lgpd_phone_pattern allows between digits ( -.()\t\n\r):
-- without them every spelling the pattern matches has the last eight digits side by side
-- (the area code and a ninth digit come before them), and that plain substring test skips
-- almost every row before the (much slower) regular expression runs. Nested replace() is
-- several times faster than one translate(); the case keeps the planner from running the
-- regular expression first (it orders plain AND conditions by estimated cost).
-- Erasure runs in `position` order, inside lgpd_erase's transaction; calls come last
-- (the other rows find the subject through them). Adding a table = adding a row.
create table public.lgpd_sources (
  name        text primary key check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  position    integer not null unique,
  select_sql  text not null,
  erase_sql   text,
  note        text not null
);
alter table public.lgpd_sources enable row level security;

insert into public.lgpd_sources (name, position, note, select_sql, erase_sql) values
('call_events', 10,
 'Webhook log of the subject''s calls, and any event whose parameters mention the phone: numbers replaced by "erased", place and caller-name parameters dropped; the rows stay (timings and statuses feed the reports).',
 $q$select pg_catalog.to_jsonb(e) from public.calls c join public.call_events e on e.call_sid = c.call_sid where c.id = any($2)
    union all
    select pg_catalog.to_jsonb(e) from public.call_events e
     where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(e.params::text, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then e.params::text ~ $3 else false end) and not exists (select 1 from public.calls c where c.call_sid = e.call_sid and c.id = any($2))$q$,
 $q$update public.call_events e
       set params = public.lgpd_scrub(case when exists (select 1 from public.calls c where c.call_sid = e.call_sid and c.id = any($2))
                                           then e.params - public.lgpd_party_keys() else e.params end, $3)
     where e.call_sid in (select c.call_sid from public.calls c where c.id = any($2) and c.call_sid is not null)
        or (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(e.params::text, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then e.params::text ~ $3 else false end)$q$),
('call_dispositions', 20,
 'Outcomes agents gave the subject''s calls: the code stays (reports), the notes go; a mention of the phone in other notes is replaced.',
 $q$select pg_catalog.to_jsonb(d) from public.calls c join public.call_dispositions d on d.call_sid = c.call_sid where c.id = any($2)
    union all
    select pg_catalog.to_jsonb(d) from public.call_dispositions d
     where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(d.notes, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then d.notes ~ $3 else false end) and not exists (select 1 from public.calls c where c.call_sid = d.call_sid and c.id = any($2))$q$,
 $q$update public.call_dispositions d
       set notes = case when d.call_sid in (select c.call_sid from public.calls c where c.id = any($2) and c.call_sid is not null)
                        then null else pg_catalog.regexp_replace(d.notes, $3, 'erased', 'g') end
     where d.notes is not null
       and (d.call_sid in (select c.call_sid from public.calls c where c.id = any($2) and c.call_sid is not null) or (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(d.notes, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then d.notes ~ $3 else false end))$q$),
('recordings', 30,
 'Recordings of the subject''s calls and their voicemails, with where the audio is (S3 bucket and key, Twilio RecordingSid). The audio is deleted by the operator''s tool before lgpd_erase (which checks it); the row stays, marked deleted (reason lgpd_erase), without transcription or Twilio URL. A transcription of another call that mentions the phone is exported (marked mention_only: its audio is not the subject''s and is not handed out) and the mention replaced.',
 $q$select pg_catalog.to_jsonb(r) from public.calls c join public.recordings r on r.call_sid = c.call_sid where c.id = any($2)
    union all
    select pg_catalog.to_jsonb(r) || pg_catalog.jsonb_build_object('mention_only', true) from public.recordings r
     where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(r.transcription, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then r.transcription ~ $3 else false end)
       and not exists (select 1 from public.calls c where c.call_sid = r.call_sid and c.id = any($2))$q$,
 $q$with own as (
      update public.recordings r
         set s3_deleted_at = coalesce(r.s3_deleted_at, public.app_now()), s3_deleted_reason = coalesce(r.s3_deleted_reason, 'lgpd_erase'),
             transcription = null, transcription_status = null, twilio_url = null, external_url = null, updated_at = public.app_now()
       where r.call_sid in (select c.call_sid from public.calls c where c.id = any($2) and c.call_sid is not null)
      returning r.id),
    -- the transfer job forgets where it wrote (the tool deleted it; the job never runs again)
    transfers as (
      update public.recording_transfers t set s3_key = null, upload_id = null, parts = '[]'::jsonb, updated_at = public.app_now()
       where t.recording_id in (select o.id from own o) and (t.s3_key is not null or t.upload_id is not null)
      returning 1),
    scrubbed as (
      update public.recordings r set transcription = pg_catalog.regexp_replace(r.transcription, $3, 'erased', 'g'), updated_at = public.app_now()
       where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(r.transcription, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then r.transcription ~ $3 else false end)
         and not exists (select 1 from public.calls c where c.call_sid = r.call_sid and c.id = any($2))
      returning 1)
    select (select pg_catalog.count(*) from own) + (select pg_catalog.count(*) from scrubbed)$q$),
('inbound_messages', 40,
 'SMS and WhatsApp messages from (or to) the phone: deleted; a mention of the phone in another message is replaced.',
 $q$select pg_catalog.to_jsonb(m) from public.inbound_messages m where m.from_number = $1 or m.to_number = $1 or (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(m.body, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then m.body ~ $3 else false end)$q$,
 $q$with gone as (delete from public.inbound_messages m where m.from_number = $1 or m.to_number = $1 returning 1),
         scrubbed as (update public.inbound_messages m set body = pg_catalog.regexp_replace(m.body, $3, 'erased', 'g')
                       where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(m.body, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then m.body ~ $3 else false end) and m.from_number <> $1 and m.to_number <> $1 returning 1)
    select (select pg_catalog.count(*) from gone) + (select pg_catalog.count(*) from scrubbed)$q$),
('leads', 50,
 'Leads with the phone, their fields (data) included: deleted (the calls keep their counts, lead_id becomes null); a mention of the phone in another lead''s fields is replaced.',
 $q$select pg_catalog.to_jsonb(l) || pg_catalog.jsonb_build_object('campaign_name', (select k.name from public.campaigns k where k.id = l.campaign_id))
      from public.leads l where l.phone_number = $1 or (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(l.data::text, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then l.data::text ~ $3 else false end)$q$,
 $q$with gone as (delete from public.leads l where l.phone_number = $1 returning 1),
         scrubbed as (update public.leads l set data = public.lgpd_scrub(l.data, $3), updated_at = public.app_now()
                       where (case when pg_catalog.strpos(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(l.data::text, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), E'\t', ''), E'\n', ''), E'\r', ''), pg_catalog.right($1, 8)) > 0 then l.data::text ~ $3 else false end) and l.phone_number <> $1 returning 1)
    select (select pg_catalog.count(*) from gone) + (select pg_catalog.count(*) from scrubbed)$q$),
('opt_outs', 60,
 'The opt-out (suppression) entry: kept, so the number stays undialed; lgpd_erase adds one when there is none.',
 $q$select pg_catalog.to_jsonb(o) from public.opt_outs o where o.phone_number = $1$q$,
 null),
('recording_access_log', 70,
 'Who listened to the subject''s recordings and when: kept (an audit of the staff; it holds no phone).',
 $q$select pg_catalog.to_jsonb(a) from public.calls c join public.recordings r on r.call_sid = c.call_sid
      join public.recording_access_log a on a.recording_id = r.id where c.id = any($2)$q$,
 null),
('lgpd_requests', 80,
 'Earlier exports and erasures of the phone: kept (the audit lines; they hold its SHA-256, not the number).',
 $q$select pg_catalog.to_jsonb(q) from public.lgpd_requests q
     where q.phone_sha256 = pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to($1, 'UTF8')), 'hex')$q$,
 null),
('calls', 90,
 'Calls from or to the phone (dial attempts included) and their child legs: the phone becomes "erased" in from_number / to_number; the rows stay for the campaign reports (counts, durations, abandons). The account''s own numbers (caller_id, an agent''s number) are not the subject and stay.',
 $q$select pg_catalog.to_jsonb(c) from public.calls c where c.id = any($2)$q$,
 $q$update public.calls c
       set from_number = case when c.from_number = $1 then 'erased' else c.from_number end,
           to_number = case when c.to_number = $1 then 'erased' else c.to_number end,
           updated_at = public.app_now()
     where c.id = any($2) and (c.from_number = $1 or c.to_number = $1)$q$);

-- Ids of the subject's calls: from or to the phone (also attempts never placed), plus the
-- legs whose parent is one of them (the agent's or a forwarded leg heard the subject).
create function public.lgpd_subject_calls(p_phone public.e164) returns bigint[]
language sql stable set search_path = '' as $$
  with own as (
    select c.id, c.call_sid from public.calls c where c.from_number = p_phone
    union
    select c.id, c.call_sid from public.calls c where c.to_number = p_phone
  )
  select coalesce(pg_catalog.array_agg(x.id order by x.id), '{}')
    from (select own.id from own
          union
          select k.id from public.calls k where k.parent_call_sid in (select own.call_sid from own where own.call_sid is not null)) x
$$;

-- Refuses a number that is the account's own (a number in phone_numbers, an agent's phone,
-- an agent's follow-me mobile): its calls are every customer's calls to it, not a data
-- subject's.
create function public.lgpd_check_subject(p_phone public.e164) returns void
language plpgsql stable set search_path = '' as $$
begin
  if exists (select 1 from public.phone_numbers n where n.phone_number = p_phone) then
    raise exception 'lgpd: % is one of the account''s own numbers (phone_numbers), not a data subject''s', p_phone
      using errcode = '22023';
  end if;
  if exists (select 1 from public.agents a where a.phone_number = p_phone) then
    raise exception 'lgpd: % is an agent''s phone; remove it from the agent first', p_phone
      using errcode = '22023';
  end if;
  if exists (select 1 from public.agent_follow_me f where f.mobile_number = p_phone) then
    raise exception 'lgpd: % is an agent''s follow-me mobile; remove it from the agent''s follow-me first', p_phone
      using errcode = '22023';
  end if;
end $$;

-- Everything held about the phone: {phone, at, <source name>: [rows…], counts: {<source>: n}}.
-- Reads only.
create function public.lgpd_subject(p_phone public.e164) returns jsonb
language plpgsql stable set search_path = '' as $$
declare
  v_calls bigint[];
  v_pattern text := public.lgpd_phone_pattern(p_phone);
  v_src record;
  v_rows jsonb;
  v_out jsonb;
  v_counts jsonb := '{}'::jsonb;
begin
  perform public.lgpd_check_subject(p_phone);
  v_calls := public.lgpd_subject_calls(p_phone);
  v_out := pg_catalog.jsonb_build_object('phone', p_phone, 'at', public.app_now());
  for v_src in select s.name, s.select_sql from public.lgpd_sources s order by s.position loop
    execute pg_catalog.format('select coalesce(pg_catalog.jsonb_agg(x.j), ''[]''::jsonb) from (%s) x(j)', v_src.select_sql)
      into v_rows using p_phone::text, v_calls, v_pattern;
    v_out := v_out || pg_catalog.jsonb_build_object(v_src.name, v_rows);
    v_counts := v_counts || pg_catalog.jsonb_build_object(v_src.name, pg_catalog.jsonb_array_length(v_rows));
  end loop;
  return v_out || pg_catalog.jsonb_build_object('counts', v_counts);
end $$;

-- The export, step 1 of 2: lgpd_subject, plus its audit line (lgpd_requests, kind export,
-- status started: the data left the database, the files may never be written). The tool
-- writes the files, then calls lgpd_export_done.
create function public.lgpd_export(p_phone public.e164, p_actor text) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_doc jsonb := public.lgpd_subject(p_phone);
  v_request bigint;
begin
  insert into public.lgpd_requests (kind, phone_sha256, actor, status, counts)
  values ('export', pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_phone::text, 'UTF8')), 'hex'), p_actor, 'started',
          v_doc -> 'counts')
  returning id into v_request;
  return v_doc || pg_catalog.jsonb_build_object('request_id', v_request);
end $$;

-- The export, step 2 of 2, once both files are in place: closes the audit line (done) and
-- writes one recording_access_log line (purpose lgpd_export) per recording whose audio the
-- zip holds (p_recording_ids). A request that is not an open export is refused.
-- Answers {request_id, recordings_logged}.
create function public.lgpd_export_done(p_request_id bigint, p_recording_ids bigint[] default '{}') returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_req public.lgpd_requests;
  v_logged bigint;
begin
  update public.lgpd_requests q set status = 'done', finished_at = public.app_now()
   where q.id = p_request_id and q.kind = 'export' and q.status = 'started'
  returning q.* into v_req;
  if v_req.id is null then
    raise exception 'lgpd: % is not an export request in progress', p_request_id using errcode = '22023';
  end if;
  insert into public.recording_access_log (recording_id, recording_sid, actor, purpose, outcome)
  select r.id, r.recording_sid, v_req.actor, 'lgpd_export', 'granted'
    from public.recordings r where r.id = any(coalesce(p_recording_ids, '{}'))
   order by r.id;
  get diagnostics v_logged = row_count;
  return pg_catalog.jsonb_build_object('request_id', v_req.id, 'recordings_logged', v_logged);
end $$;

-- Erasure, step 1 of 2: adds the opt-out entry (under the opt-out lock, so no dial of the
-- number is claimed from here on, also if the run stops before step 2), opens (or reopens)
-- the erase request and marks the subject's recordings as being erased (s3_deleted_reason
-- 'lgpd_erase' with s3_deleted_at still null: listening refuses them, and the transfer job
-- must skip them, docs/recordings-access.md). Answers the media the tool
-- must delete before step 2: {request_id, calls: [{call_sid, account_sid}], recordings: [{id,
-- recording_sid, s3_bucket, s3_key, upload_id, transfer_state, storage_status, external_url,
-- s3_deleted_at, account_sid}]}.
create function public.lgpd_erase_begin(p_phone public.e164, p_actor text) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_hash text := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_phone::text, 'UTF8')), 'hex');
  v_calls bigint[];
  v_request bigint;
  v_recordings jsonb;
  v_added boolean;
begin
  perform public.lgpd_check_subject(p_phone);
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(p_phone));
  v_added := (public.opt_out_add(p_phone, 'LGPD erasure request', 'manual', p_actor) ->> 'added')::boolean;
  v_calls := public.lgpd_subject_calls(p_phone);
  select q.id into v_request from public.lgpd_requests q
   where q.kind = 'erase' and q.phone_sha256 = v_hash and q.status = 'started' order by q.id desc limit 1;
  if v_request is null then
    insert into public.lgpd_requests (kind, phone_sha256, actor, status) values ('erase', v_hash, p_actor, 'started')
    returning id into v_request;
  end if;
  -- Remembered for the closing counts (step 2 finds the entry already there).
  if v_added then
    update public.lgpd_requests q set counts = q.counts || '{"opt_out_added": true}'::jsonb where q.id = v_request;
  end if;
  with marked as (
    update public.recordings r set s3_deleted_reason = 'lgpd_erase', updated_at = public.app_now()
     where r.call_sid in (select c.call_sid from public.calls c where c.id = any(v_calls) and c.call_sid is not null)
       and r.s3_deleted_reason is null
    returning r.id
  )
  -- The S3 bytes are wherever the transfer job put them: the recording's verified key, or
  -- the job's key (a whole object not yet verified, parts of a multipart upload under
  -- upload_id, or a key chosen before the upload started).
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', r.id, 'recording_sid', r.recording_sid,
                                                                  's3_bucket', coalesce(r.s3_bucket, t.s3_bucket),
                                                                  's3_key', coalesce(r.s3_key, t.s3_key), 'upload_id', t.upload_id,
                                                                  'transfer_state', t.state,
                                                                  'storage_status', r.storage_status, 'external_url', r.external_url,
                                                                  's3_deleted_at', r.s3_deleted_at,
                                                                  'account_sid', (select c.account_sid from public.calls c where c.call_sid = r.call_sid))
                                                order by r.id), '[]'::jsonb)
    into v_recordings
    from public.recordings r
    left join public.recording_transfers t on t.recording_id = r.id
   where r.call_sid in (select c.call_sid from public.calls c where c.id = any(v_calls) and c.call_sid is not null)
      or r.id in (select m.id from marked m);
  return pg_catalog.jsonb_build_object(
    'request_id', v_request,
    'calls', (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('call_sid', c.call_sid, 'account_sid', c.account_sid) order by c.id), '[]'::jsonb)
                    from public.calls c where c.id = any(v_calls) and c.call_sid is not null),
    'recordings', v_recordings);
end $$;

-- Erasure, step 2 of 2, in one transaction: every lgpd_sources row's erase_sql in order,
-- the opt-out entry added when there is none (step 1 adds it; this keeps a direct call
-- safe), and the audit line
-- closed with the counts. p_media_deleted: ids of the subject's recordings whose audio the
-- tool has deleted (S3, every version, and Twilio); a recording whose audio may still exist
-- and is not in it stops the erasure with nothing changed (run the tool again). A recording
-- in the account's own storage (external_url, set by Twilio's external storage) cannot be
-- deleted by discador: the erasure refuses unless p_external_deleted says the operator
-- deleted those objects by hand.
-- Answers {request_id, counts: {<source>: rows, opt_out_added: bool}}.
create function public.lgpd_erase(p_phone public.e164, p_actor text, p_media_deleted bigint[] default '{}',
  p_external_deleted boolean default false) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_hash text := pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(p_phone::text, 'UTF8')), 'hex');
  v_calls bigint[];
  v_pattern text := public.lgpd_phone_pattern(p_phone);
  v_src record;
  v_n bigint;
  v_counts jsonb := '{}'::jsonb;
  v_missing text;
  v_request bigint;
  v_added boolean;
  v_begun_added boolean;
begin
  perform public.lgpd_check_subject(p_phone);
  -- The opt-out lock: no dial of this number is claimed while it is erased, and the entry
  -- exists before anything else changes.
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(p_phone));
  v_calls := public.lgpd_subject_calls(p_phone);
  select pg_catalog.string_agg(r.recording_sid, ', ' order by r.id) into v_missing
    from public.recordings r
   where r.call_sid in (select c.call_sid from public.calls c where c.id = any(v_calls) and c.call_sid is not null)
     and r.s3_deleted_at is null
     and not (r.id = any(coalesce(p_media_deleted, '{}')));
  if v_missing is not null then
    raise exception 'lgpd: the audio of recordings % was not deleted yet; nothing was erased', v_missing
      using errcode = '55000';
  end if;
  if not coalesce(p_external_deleted, false) then
    select pg_catalog.string_agg(r.external_url, ' ' order by r.id) into v_missing
      from public.recordings r
     where r.call_sid in (select c.call_sid from public.calls c where c.id = any(v_calls) and c.call_sid is not null)
       and r.external_url is not null;
    if v_missing is not null then
      raise exception 'lgpd: recordings in the account''s own storage must be deleted by hand first: %; nothing was erased', v_missing
        using errcode = '55000';
    end if;
  end if;
  v_added := (public.opt_out_add(p_phone, 'LGPD erasure request', 'manual', p_actor) ->> 'added')::boolean;
  for v_src in select s.name, s.erase_sql from public.lgpd_sources s where s.erase_sql is not null order by s.position loop
    if v_src.erase_sql ~* '^\s*(with|select)\M' then
      execute v_src.erase_sql into v_n using p_phone::text, v_calls, v_pattern;
    else
      execute v_src.erase_sql using p_phone::text, v_calls, v_pattern;
      get diagnostics v_n = row_count;
    end if;
    v_counts := v_counts || pg_catalog.jsonb_build_object(v_src.name, coalesce(v_n, 0));
  end loop;
  select q.id, (q.counts ->> 'opt_out_added')::boolean into v_request, v_begun_added
    from public.lgpd_requests q
   where q.kind = 'erase' and q.phone_sha256 = v_hash and q.status = 'started' order by q.id desc limit 1;
  v_added := v_added or coalesce(v_begun_added, false);
  v_counts := v_counts || pg_catalog.jsonb_build_object('opt_out_added', v_added);
  update public.lgpd_requests q set status = 'done', finished_at = public.app_now(), counts = v_counts, actor = p_actor
   where q.id = v_request
  returning q.id into v_request;
  if v_request is null then
    insert into public.lgpd_requests (kind, phone_sha256, actor, status, finished_at, counts)
    values ('erase', v_hash, p_actor, 'done', public.app_now(), v_counts)
    returning id into v_request;
  end if;
  return pg_catalog.jsonb_build_object('request_id', v_request, 'counts', v_counts);
end $$;
