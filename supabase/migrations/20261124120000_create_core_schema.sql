-- discador core schema: who works (agents, users), what we dial from (phone_numbers),
-- what we dial (campaigns, leads), and what happened (calls, call_events, recordings).
--
-- Conventions
-- * Phones are E.164 text (domain e164). A call's From/To may also be a Twilio Client or
--   SIP address or an anonymous caller, so those columns use the wider call_party domain.
-- * Times are timestamptz, money is numeric.
-- * RLS is enabled on every table and no policy is granted: the browser never talks to
--   PostgREST directly (it goes through the /api functions, which use the service role,
--   and service_role bypasses RLS). A table without a policy is closed to anon/authenticated.
-- * Every write the application makes goes through a SQL function (supabase.rpc), one round
--   trip, atomic; see the later migrations.

create domain public.e164 as text
  check (value ~ '^\+[1-9][0-9]{7,14}$');

create domain public.call_party as text
  check (value ~ '^\+[1-9][0-9]{7,14}$'
      or value ~ '^(client|sip):.+'
      or value in ('anonymous', 'Anonymous', 'unknown', 'restricted'));

create domain public.call_sid as text
  check (value ~ '^CA[0-9a-f]{32}$');

-- Agents: the people who take calls. An agent may have a personal phone (follow-me target)
-- and a browser softphone identity; their dedicated DID is phone_numbers.assigned_agent_id.
create table public.agents (
  id                bigint generated always as identity primary key,
  name              text not null check (length(trim(name)) > 0),
  email             text unique check (email ~ '^[^@\s]+@[^@\s]+$'),
  extension         text check (extension ~ '^[0-9]{2,6}$'),
  phone_number      public.e164,
  client_identity   text unique check (client_identity ~ '^[A-Za-z0-9_.-]{1,120}$'),
  status            text not null default 'offline'
                      check (status in ('offline', 'available', 'reserved', 'busy', 'wrap_up', 'paused')),
  status_changed_at timestamptz not null default now(),
  is_active         boolean not null default true,
  created_at        timestamptz not null default now()
);
alter table public.agents enable row level security;
create index agents_available_idx on public.agents (status_changed_at) where status = 'available' and is_active;

-- Users: logins for the dashboard and the agent page (roles decide what they see).
create table public.users (
  id            uuid primary key default gen_random_uuid(),
  email         text not null unique check (email ~ '^[^@\s]+@[^@\s]+$'),
  name          text not null,
  role          text not null default 'agent' check (role in ('admin', 'supervisor', 'agent')),
  agent_id      bigint unique references public.agents (id) on delete set null,
  password_hash text,
  is_active     boolean not null default true,
  created_at    timestamptz not null default now(),
  check (role <> 'agent' or agent_id is not null)
);
alter table public.users enable row level security;

-- The number pool: every Twilio number the account owns, used as caller ID for campaigns
-- (rotation capped per number per day) or dedicated to one agent.
create table public.phone_numbers (
  id                bigint generated always as identity primary key,
  phone_number      public.e164 not null unique,
  twilio_sid        text unique check (twilio_sid ~ '^PN[0-9a-f]{32}$'),
  account_sid       text check (account_sid ~ '^AC[0-9a-f]{32}$'),
  friendly_name     text,
  number_type       text check (number_type in ('local', 'mobile', 'toll_free')),
  assigned_agent_id bigint references public.agents (id) on delete set null,
  is_active         boolean not null default true,
  daily_cap         integer not null default 150 check (daily_cap > 0),
  calls_today       integer not null default 0 check (calls_today >= 0),
  calls_today_date  date,
  call_count        bigint not null default 0 check (call_count >= 0),
  last_used_at      timestamptz,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now()
);
alter table public.phone_numbers enable row level security;
create index phone_numbers_rotation_idx on public.phone_numbers (last_used_at nulls first)
  where is_active and assigned_agent_id is null;
create index phone_numbers_agent_idx on public.phone_numbers (assigned_agent_id);

-- Campaigns: a list of leads dialed under one pacing mode and one calling window.
-- Calling rules are configuration (defaults: São Paulo collection law 15.426/2014).
create table public.campaigns (
  id                 bigint generated always as identity primary key,
  name               text not null unique,
  kind               text not null default 'collections' check (kind in ('collections', 'sales')),
  mode               text not null default 'power' check (mode in ('preview', 'power', 'predictive')),
  dial_ratio         numeric(4, 2) not null default 1 check (dial_ratio >= 1 and dial_ratio <= 10),
  max_lines          integer not null default 20 check (max_lines > 0),
  abandon_cap        numeric(5, 4) not null default 0.03 check (abandon_cap >= 0 and abandon_cap <= 1),
  calls_per_second   numeric(5, 2) not null default 1 check (calls_per_second > 0),
  weekday_start      time not null default '08:00',
  weekday_end        time not null default '20:00',
  saturday_start     time default '08:00',
  saturday_end       time default '14:00',
  allow_sunday       boolean not null default false,
  status             text not null default 'draft' check (status in ('draft', 'active', 'paused', 'finished')),
  created_at         timestamptz not null default now()
);
alter table public.campaigns enable row level security;

-- Leads: the people a campaign calls. One phone per lead per campaign.
create table public.leads (
  id              bigint generated always as identity primary key,
  campaign_id     bigint not null references public.campaigns (id) on delete cascade,
  phone_number    public.e164 not null,
  name            text,
  external_id     text,
  data            jsonb not null default '{}'::jsonb,
  status          text not null default 'pending'
                    check (status in ('pending', 'dialing', 'done', 'failed', 'opted_out', 'invalid')),
  attempts        integer not null default 0 check (attempts >= 0),
  max_attempts    integer not null default 3 check (max_attempts > 0),
  next_attempt_at timestamptz,
  last_call_sid   public.call_sid,
  created_at      timestamptz not null default now(),
  unique (campaign_id, phone_number)
);
alter table public.leads enable row level security;
create index leads_claim_idx on public.leads (campaign_id, next_attempt_at nulls first) where status = 'pending';
create index leads_phone_idx on public.leads (phone_number);

-- Calls: one row per call leg Twilio knows, kept current by the webhooks.
-- status only moves forward (see call_status_rank in the call events migration).
create table public.calls (
  id              bigint generated always as identity primary key,
  call_sid        public.call_sid not null unique,
  parent_call_sid public.call_sid,
  account_sid     text check (account_sid ~ '^AC[0-9a-f]{32}$'),
  direction       text check (direction in ('inbound', 'outbound-api', 'outbound-dial',
                                            'trunking-originating', 'trunking-terminating')),
  from_number     public.call_party,
  to_number       public.call_party,
  caller_id       public.e164,
  agent_id        bigint references public.agents (id) on delete set null,
  campaign_id     bigint references public.campaigns (id) on delete set null,
  lead_id         bigint references public.leads (id) on delete set null,
  status          text not null default 'queued'
                    check (status in ('queued', 'initiated', 'ringing', 'in-progress',
                                      'canceled', 'no-answer', 'busy', 'failed', 'completed')),
  answered_by     text check (answered_by in ('human', 'machine_start', 'machine_end_beep',
                                              'machine_end_silence', 'machine_end_other', 'fax', 'unknown')),
  opted_out       boolean not null default false,
  started_at      timestamptz,
  answered_at     timestamptz,
  ended_at        timestamptz,
  duration        integer check (duration >= 0),
  cost            numeric(10, 4),
  cost_unit       text,
  last_sequence   integer,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
alter table public.calls enable row level security;
create index calls_agent_idx on public.calls (agent_id);
create index calls_campaign_idx on public.calls (campaign_id, created_at);
create index calls_created_idx on public.calls (created_at);
create index calls_live_idx on public.calls (status)
  where status in ('queued', 'initiated', 'ringing', 'in-progress');

-- call_events: every webhook as received (append-only; a repeat of the same event bumps
-- received_count instead of adding a row, so the log shows duplicates without double counting).
create table public.call_events (
  id                bigint generated always as identity primary key,
  call_sid          public.call_sid not null references public.calls (call_sid) on delete cascade,
  kind              text not null check (kind in ('status', 'amd', 'voice', 'dial', 'queue', 'recording')),
  dedupe_key        text not null,
  call_status       text,
  sequence_number   integer,
  event_at          timestamptz not null,
  params            jsonb not null,
  received_count    integer not null default 1,
  first_received_at timestamptz not null default now(),
  last_received_at  timestamptz not null default now(),
  unique (call_sid, dedupe_key)
);
alter table public.call_events enable row level security;
create index call_events_call_idx on public.call_events (call_sid, event_at);

-- Recordings: one row per Twilio recording, tracking its copy into our S3 bucket.
-- A recording is deleted from Twilio only after its S3 copy is verified (storage_status).
create table public.recordings (
  id              bigint generated always as identity primary key,
  recording_sid   text not null unique check (recording_sid ~ '^RE[0-9a-f]{32}$'),
  call_sid        public.call_sid not null references public.calls (call_sid) on delete cascade,
  source          text,
  channels        smallint check (channels in (1, 2)),
  duration        integer check (duration >= 0),
  status          text not null check (status in ('in-progress', 'completed', 'absent', 'failed')),
  twilio_url      text,
  s3_bucket       text,
  s3_key          text,
  size_bytes      bigint,
  sha256          text check (sha256 ~ '^[0-9a-f]{64}$'),
  storage_status  text not null default 'pending'
                    check (storage_status in ('pending', 'copying', 'verified', 'deleted_from_twilio', 'failed')),
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now()
);
alter table public.recordings enable row level security;
create index recordings_call_idx on public.recordings (call_sid);
create index recordings_pending_idx on public.recordings (created_at) where storage_status in ('pending', 'copying', 'failed');
