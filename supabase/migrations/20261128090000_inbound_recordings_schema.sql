-- Recordings beyond calls: whose voicemail a message is (an agent's or a service queue's),
-- its transcription where the account has one, and when its S3 copy was deleted (retention or
-- an LGPD erasure). The transfer job, the queue, follow-me, SMS and LGPD migrations after this
-- one build on these columns.
alter table public.recordings
  add column queue_name           text check (queue_name ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
  add column transcription        text check (length(transcription) <= 20000),
  add column transcription_status text check (transcription_status in ('in-progress', 'completed', 'failed')),
  add column s3_deleted_at        timestamptz,
  add column s3_deleted_reason    text check (s3_deleted_reason in ('retention', 'lgpd_erase'));

create index recordings_voicemail_agent_idx on public.recordings (agent_id, created_at desc) where kind = 'voicemail';
create index recordings_voicemail_queue_idx on public.recordings (queue_name, created_at desc) where kind = 'voicemail';
