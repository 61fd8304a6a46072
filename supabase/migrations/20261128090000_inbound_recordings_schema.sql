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

-- Text messages (SMS and WhatsApp) received on the account's numbers: opt-out words are
-- listed (kind 'opt_out'), anything else is a message for the team (kind 'message', shown on
-- the agent page of the number's agent, or to everyone when nobody owns the number).
create table public.inbound_messages (
  id           bigint generated always as identity primary key,
  message_sid  text not null unique check (message_sid ~ '^(SM|MM)[0-9a-f]{32}$'),
  channel      text not null check (channel in ('sms', 'whatsapp')),
  from_number  public.e164 not null,
  to_number    public.e164 not null,
  body         text not null check (length(body) <= 1600),
  kind         text not null check (kind in ('opt_out', 'message')),
  agent_id     bigint references public.agents (id) on delete set null,
  read_at      timestamptz,
  received_at  timestamptz not null default public.app_now()
);
alter table public.inbound_messages enable row level security;
create index inbound_messages_from_idx on public.inbound_messages (from_number);
create index inbound_messages_agent_idx on public.inbound_messages (agent_id, received_at desc);
