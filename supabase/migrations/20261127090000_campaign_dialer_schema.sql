-- The outbound dialer's tables and columns: campaign settings, lead state, caller-ID rotation,
-- calling-window holidays, per-call dialer facts (AMD, live answer, connect, abandon),
-- recordings' channel map, the pacer's lease and decision log, and one clock for every
-- SQL function (app_now). The functions that use them come in the next migrations.

-- ---------------------------------------------------------------------------------------
-- The clock. Every SQL function reads the time through public.app_now(): now() in
-- production (app_clock is empty), and an accelerated virtual clock when a simulation puts a
-- row in app_clock (the campaign-day simulator runs Postgres, the functions and the Twilio
-- emulator on the same virtual time). Nothing in the product writes app_clock.
create table public.app_clock (
  id         boolean primary key default true check (id),
  virtual_at timestamptz not null,
  real_at    timestamptz not null,
  speed      double precision not null check (speed > 0 and speed <= 10000)
);
alter table public.app_clock enable row level security;
comment on table public.app_clock is
  'Simulation only: when a row exists, app_now() = virtual_at + (clock_timestamp() - real_at) * speed. Empty in production.';

create function public.app_now() returns timestamptz
language sql stable
set search_path = ''
as $$
  select coalesce(
    (select c.virtual_at + (pg_catalog.clock_timestamp() - c.real_at) * c.speed from public.app_clock c where c.id),
    pg_catalog.now())
$$;
revoke execute on function public.app_now() from public, anon, authenticated;
grant execute on function public.app_now() to service_role;

-- Every existing function and column default reads the clock through app_now() from here on
-- (function bodies are rewritten in place; their signatures, grants and comments stay).
do $$
declare
  r   record;
  def text;
begin
  for r in
    select p.oid from pg_catalog.pg_proc p
     where p.pronamespace = 'public'::regnamespace and p.proname <> 'app_now'
       and p.prokind = 'f' and p.prosrc ~ '(^|[^a-z_.])now\(\)|pg_catalog\.now\(\)'
  loop
    def := pg_catalog.pg_get_functiondef(r.oid);
    def := pg_catalog.replace(def, 'pg_catalog.now()', 'public.app_now()');
    def := pg_catalog.regexp_replace(def, '(^|[^a-z_.])now\(\)', '\1public.app_now()', 'g');
    execute def;
  end loop;
  for r in
    select c.table_name, c.column_name from information_schema.columns c
     where c.table_schema = 'public' and c.column_default in ('now()', 'CURRENT_TIMESTAMP')
  loop
    execute pg_catalog.format('alter table public.%I alter column %I set default public.app_now()', r.table_name, r.column_name);
  end loop;
end $$;

-- ---------------------------------------------------------------------------------------
-- Campaign settings. status 'active' = running (the pacer dials it).
alter table public.campaigns
  add column pacing_behaviour   text not null default 'ADAPT_TAPERED'
                                  check (pacing_behaviour in ('ADAPT_HARD_LIMIT', 'ADAPT_TAPERED', 'ADAPT_AVERAGE')),
  add column window_profile     text not null default 'collections_sp'
                                  check (window_profile in ('collections_sp', 'custom')),
  add column sunday_start       time,
  add column sunday_end         time,
  add column skip_holidays      boolean not null default true,
  add column retry_rules        jsonb not null default
    '{"busy": {"delay_minutes": 30, "max": 3}, "no_answer": {"delay_minutes": 120, "max": 3},
      "machine": {"delay_minutes": 240, "max": 2}, "failed": {"delay_minutes": 60, "max": 2},
      "abandoned": {"delay_minutes": 10, "max": 3}}'::jsonb,
  add column max_attempts       integer not null default 6 check (max_attempts between 1 and 50),
  add column caller_id_strategy text not null default 'round_robin'
                                  check (caller_id_strategy in ('round_robin', 'random', 'least_used')),
  add column local_presence     boolean not null default true,
  add column amd_machine        text not null default 'hangup' check (amd_machine in ('hangup', 'voicemail')),
  add column amd_unknown        text not null default 'connect' check (amd_unknown in ('connect', 'hangup')),
  add column voicemail_audio    text check (voicemail_audio ~ '^/[A-Za-z0-9._/-]{1,200}$'),
  add column voicemail_text     text check (length(voicemail_text) between 1 and 1000),
  add column amd_human_accuracy numeric(4, 3) not null default 0.96 check (amd_human_accuracy > 0 and amd_human_accuracy <= 1),
  add column whisper_template   text check (length(whisper_template) <= 500),
  add column dispositions       jsonb,
  add column abandon_treatment  text not null default 'callback' check (abandon_treatment in ('callback', 'queue', 'hangup')),
  add column company_name       text check (length(trim(company_name)) between 1 and 80),
  add column disclaimer_seconds numeric(5, 2) not null default 10 check (disclaimer_seconds >= 0 and disclaimer_seconds <= 120),
  add column ring_timeout       integer not null default 28 check (ring_timeout between 5 and 60),
  add column tick_lease_until   timestamptz,
  add column tick_lease_owner   uuid,
  add column started_at         timestamptz,
  add column updated_at         timestamptz not null default public.app_now();
comment on column public.campaigns.calls_per_second is 'The campaign''s share of the account''s CPS (calls per second it may place).';
comment on column public.campaigns.dispositions is
  'Null: the deployment''s DISPOSITION_CODES. Else [{code, label, outcome: done|retry|callback|opt_out}].';
comment on column public.campaigns.retry_rules is
  'Per automatic outcome (busy, no_answer, machine, failed, abandoned): {delay_minutes, max}.';

-- Which campaign an agent works (null: inbound only). The pacer counts these agents.
alter table public.agents
  add column campaign_id          bigint references public.campaigns (id) on delete set null,
  add column preview_requested_at timestamptz;
create index agents_campaign_idx on public.agents (campaign_id) where campaign_id is not null;

-- Lead state. ddd: the area code of a Brazilian number (its local time and state);
-- status 'dialing' while a call is out; 'previewing' while shown to an agent in preview mode.
alter table public.leads drop constraint leads_status_check;
alter table public.leads add constraint leads_status_check
  check (status in ('pending', 'previewing', 'dialing', 'done', 'failed', 'opted_out', 'invalid'));
alter table public.leads
  add column ddd               smallint generated always as (
                                 case when phone_number like '+55%' then pg_catalog.substr(phone_number, 4, 2)::smallint end) stored,
  add column priority          integer not null default 0,
  add column outcome           text check (outcome ~ '^[a-z0-9_]{1,40}$'),
  add column outcome_counts    jsonb not null default '{}'::jsonb,
  add column callback_at       timestamptz,
  add column callback_agent_id bigint references public.agents (id) on delete set null,
  add column preview_agent_id  bigint references public.agents (id) on delete set null,
  add column last_attempt_at   timestamptz,
  add column import_line       integer,
  add column updated_at        timestamptz not null default public.app_now();
create index leads_due_idx on public.leads (campaign_id, status, coalesce(callback_at, next_attempt_at) nulls first, priority desc, id);

-- Caller-ID rotation: local presence by DDD, a cool-down between uses, spam-labelled numbers
-- out of rotation.
alter table public.phone_numbers
  add column ddd              smallint generated always as (
                                case when phone_number like '+55%' then pg_catalog.substr(phone_number, 4, 2)::smallint end) stored,
  add column cooldown_seconds integer not null default 0 check (cooldown_seconds between 0 and 86400),
  add column spam_flagged_at  timestamptz,
  add column spam_note        text check (length(spam_note) <= 200);

-- Dates a lead is not called beyond the package's national and state holidays: municipal
-- holidays, company days off. uf null = everywhere; campaign_id null = every campaign.
create table public.calling_holidays (
  id          bigint generated always as identity primary key,
  day         date not null,
  uf          text check (uf ~ '^[A-Z]{2}$'),
  campaign_id bigint references public.campaigns (id) on delete cascade,
  name        text not null check (length(trim(name)) between 1 and 100),
  created_at  timestamptz not null default public.app_now(),
  unique nulls not distinct (day, uf, campaign_id)
);
alter table public.calling_holidays enable row level security;

-- Per-call dialer facts (set by the AMD, answer, connect and conference webhooks).
--   amd_ms         MachineDetectionDuration;  amd_at when the AMD result arrived
--   live_at        the call was taken as a live person (AMD human, or unknown → connect)
--   disclaimer_ended_at  the customer reached the connect step
--   connected_at   the customer joined the agent's room
--   abandoned_at   a live answer not connected within the grace after the disclaimer
--   outcome        human (talked to an agent), abandoned, machine, machine_voicemail,
--                  busy, no_answer, failed, canceled, opted_out, hangup (customer hung up
--                  before anything happened)
alter table public.calls
  add column amd_ms              integer check (amd_ms >= 0),
  add column amd_at              timestamptz,
  add column live_at             timestamptz,
  add column disclaimer_ended_at timestamptz,
  add column connected_at        timestamptz,
  add column abandoned_at        timestamptz,
  add column outcome             text check (outcome in ('human', 'abandoned', 'machine', 'machine_voicemail',
                                   'busy', 'no_answer', 'failed', 'canceled', 'opted_out', 'hangup'));
create index calls_campaign_live_idx on public.calls (campaign_id)
  where campaign_id is not null and status in ('queued', 'initiated', 'ringing', 'in-progress');

-- Recordings: which channel is the agent (dual-channel), and what the recording is of.
alter table public.recordings
  add column agent_channel    smallint check (agent_channel in (1, 2)),
  add column customer_channel smallint check (customer_channel in (1, 2)),
  add column kind             text not null default 'call' check (kind in ('call', 'voicemail')),
  add column agent_id         bigint references public.agents (id) on delete set null,
  add column campaign_id      bigint references public.campaigns (id) on delete set null,
  add column started_at       timestamptz,
  add column error_code       integer;

-- The pacer's decisions, one row per round that looked at a campaign (for the dashboard and
-- the simulator's comparison).
create table public.pacer_rounds (
  id          bigint generated always as identity primary key,
  campaign_id bigint not null references public.campaigns (id) on delete cascade,
  decided_at  timestamptz not null default public.app_now(),
  trigger     text not null check (trigger ~ '^[a-z_]{1,30}$'),
  wanted      integer not null check (wanted >= 0),
  claimed     integer not null check (claimed >= 0),
  placed      integer not null default 0 check (placed >= 0),
  reason      text not null,
  explanation text
);
alter table public.pacer_rounds enable row level security;
create index pacer_rounds_campaign_idx on public.pacer_rounds (campaign_id, decided_at);
