-- Who is there: sign-in (sessions, lockout), an agent's presence and status history, and the
-- disposition an agent gives each call. The SQL functions that use these tables live in the
-- migrations that follow (auth, agent state, agent calls).

-- E-mails compare case-insensitively: one account per address whatever its casing.
alter table public.users drop constraint users_email_key;
create unique index users_email_lower_idx on public.users (lower(email));
alter table public.users
  add column password_changed_at timestamptz,
  add column disabled_at         timestamptz,
  -- scrypt$N$r$p$<salt base64>$<key base64>: the parameters travel with the hash so they
  -- can be raised later (a login re-hashes with the current ones).
  add constraint users_password_hash_format
    check (password_hash is null or password_hash ~ '^scrypt\$[0-9]+\$[0-9]+\$[0-9]+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$');

-- Sessions: the token itself is never stored, only its SHA-256 (hex). A session ends at
-- expires_at (absolute), after idle seconds without use, or when revoked.
create table public.sessions (
  id             uuid primary key default gen_random_uuid(),
  user_id        uuid not null references public.users (id) on delete cascade,
  token_hash     text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
  created_at     timestamptz not null default now(),
  last_seen_at   timestamptz not null default now(),
  expires_at     timestamptz not null,
  revoked_at     timestamptz,
  revoked_reason text check (revoked_reason in ('logout', 'password_changed', 'user_disabled', 'role_changed', 'admin')),
  address        text check (length(address) <= 64),
  user_agent     text check (length(user_agent) <= 512)
);
alter table public.sessions enable row level security;
create index sessions_user_idx on public.sessions (user_id) where revoked_at is null;

-- Failed sign-ins per key ('user:<lower e-mail>' or 'addr:<source address>'): each failure
-- past the free ones doubles the wait before the next attempt is even checked.
create table public.login_throttle (
  key             text primary key check (length(key) <= 330),
  failures        integer not null default 0 check (failures >= 0),
  last_failure_at timestamptz,
  locked_until    timestamptz
);
alter table public.login_throttle enable row level security;

-- Presence: an agent receives calls only while available, signed in and polled recently
-- (last_seen_at). shift_call_sid is the softphone's leg waiting in the agent's room;
-- current_call_sid the customer reserved for or talking to the agent.
alter table public.agents
  add column last_seen_at     timestamptz,
  add column pause_reason     text check (length(trim(pause_reason)) between 1 and 60),
  add column wrap_up_until    timestamptz,
  add column shift_call_sid   public.call_sid,
  add column current_call_sid public.call_sid,
  add constraint agents_pause_reason_only_paused check (pause_reason is null or status = 'paused');

-- Every status an agent was in, from when to when, and who or what moved them.
create table public.agent_status_history (
  id         bigint generated always as identity primary key,
  agent_id   bigint not null references public.agents (id) on delete cascade,
  status     text not null check (status in ('offline', 'available', 'reserved', 'busy', 'wrap_up', 'paused')),
  reason     text,
  source     text not null check (source in ('agent', 'system', 'supervisor', 'timer', 'presence')),
  changed_by uuid references public.users (id) on delete set null,
  call_sid   public.call_sid,
  started_at timestamptz not null default now(),
  ended_at   timestamptz,
  check (ended_at is null or ended_at >= started_at)
);
alter table public.agent_status_history enable row level security;
create unique index agent_status_history_open_idx on public.agent_status_history (agent_id) where ended_at is null;
create index agent_status_history_agent_idx on public.agent_status_history (agent_id, started_at);

-- The outcome an agent records for a call (one per call; a correction replaces it).
create table public.call_dispositions (
  id          bigint generated always as identity primary key,
  call_sid    public.call_sid not null unique references public.calls (call_sid) on delete cascade,
  agent_id    bigint references public.agents (id) on delete set null,
  user_id     uuid references public.users (id) on delete set null,
  code        text not null check (code ~ '^[a-z0-9_]{1,40}$'),
  notes       text check (length(notes) <= 2000),
  callback_at timestamptz,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
alter table public.call_dispositions enable row level security;
create index call_dispositions_agent_idx on public.call_dispositions (agent_id, created_at);

-- Moves an agent to a status and keeps the history: closes the open history row, opens a new
-- one. Sets pause_reason only for paused, wrap_up_until only for wrap_up; leaving a call clears
-- current_call_sid unless p_call_sid names the call the new status is about. Returns the row.
create function public.agent_transition(
  p_agent_id bigint, p_status text, p_reason text, p_source text, p_by uuid,
  p_call_sid text default null, p_wrap_up_seconds integer default null
) returns public.agents
language plpgsql set search_path = '' as $$
declare
  v_agent public.agents;
begin
  update public.agents a set
    status            = p_status,
    status_changed_at = pg_catalog.now(),
    pause_reason      = case when p_status = 'paused' then p_reason end,
    wrap_up_until     = case when p_status = 'wrap_up' and p_wrap_up_seconds is not null
                             then pg_catalog.now() + pg_catalog.make_interval(secs => p_wrap_up_seconds) end,
    current_call_sid  = case when p_status in ('reserved', 'busy', 'wrap_up')
                             then coalesce(p_call_sid, a.current_call_sid) end
  where a.id = p_agent_id
  returning a.* into v_agent;
  if v_agent.id is null then
    return null;
  end if;
  update public.agent_status_history set ended_at = pg_catalog.now()
    where agent_id = p_agent_id and ended_at is null;
  insert into public.agent_status_history (agent_id, status, reason, source, changed_by, call_sid)
    values (p_agent_id, p_status, p_reason, p_source, p_by,
            v_agent.current_call_sid);
  return v_agent;
end $$;
