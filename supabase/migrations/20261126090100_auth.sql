-- Sign-in and sessions: the SQL functions /api/login, /api/logout, every /api session check
-- and `npm run agents` call. Passwords are hashed and verified in TypeScript (node:crypto
-- scrypt); the database stores the hash and decides everything else in one statement or
-- transaction per call.
--
-- Lockout. Every sign-in attempt is counted as a failure *before* its password is checked
-- (auth_login_prepare), on two keys: 'user:<lower e-mail>' (known or not, so an unknown
-- e-mail is throttled exactly like a known one) and 'addr:<source address>' when the front
-- gave one. A success (auth_login_finish) removes the account key and gives the address key
-- its attempt back. Counting first means parallel guesses cannot slip past the lock while
-- their hashes are being checked. From the `free`-th failure on, each failure locks the key
-- for 2^(failures - free) seconds — 1 s after the 5th, 2 s after the 6th, 4 s, 8 s … — capped
-- at p_max_delay (900 s = 15 min); an attempt while locked is refused without being counted
-- and without a password check. `free` is 5 for an account (p_free) and 20 for an address
-- (p_free_address): a whole office behind one NAT shares an address, and its typos must not
-- lock everyone out. A key with no failure for p_reset_seconds (an hour) starts again from
-- zero: a person who mistyped is not locked out for the day, while an attacker gets about 17
-- guesses per account in the first hour (5 free, then waits of 1 s … 1024 s) and 4 an hour after.

create function public.auth_normal_email(p_email text) returns text
language sql immutable set search_path = '' as $$
  select pg_catalog.lower(pg_catalog.btrim(p_email))
$$;

-- The public shape of a user (what /api answers and sessions carry).
create function public.auth_user_json(p_user public.users) returns jsonb
language sql stable set search_path = '' as $$
  select pg_catalog.jsonb_build_object(
    'id', p_user.id, 'email', p_user.email, 'name', p_user.name,
    'role', p_user.role, 'agent_id', p_user.agent_id)
$$;

-- Locked → {locked: true, retry_after: seconds}; else the attempt is counted and the answer is
-- {locked: false, user_id, password_hash} (both null for an unknown e-mail: the caller then
-- checks the password against a dummy hash, so both cases take as long).
create function public.auth_login_prepare(
  p_email text, p_address text, p_free integer default 5, p_free_address integer default 20,
  p_max_delay integer default 900, p_reset_seconds integer default 3600
) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_keys text[] := array['user:' || public.auth_normal_email(p_email)];
  v_locked timestamptz;
  v_user public.users;
begin
  if p_address is not null and p_address <> '' then
    v_keys := v_keys || ('addr:' || p_address);
  end if;
  -- One row per key, locked for this transaction (concurrent attempts on a key queue here).
  insert into public.login_throttle (key) select k from pg_catalog.unnest(v_keys) k
    on conflict (key) do nothing;
  perform 1 from public.login_throttle t where t.key = any (v_keys) order by t.key for update;
  -- A key without a failure for p_reset_seconds starts again.
  update public.login_throttle t set failures = 0, locked_until = null
   where t.key = any (v_keys) and t.last_failure_at < pg_catalog.now() - pg_catalog.make_interval(secs => p_reset_seconds);
  select max(t.locked_until) into v_locked
    from public.login_throttle t where t.key = any (v_keys) and t.locked_until > pg_catalog.now();
  if v_locked is not null then
    return pg_catalog.jsonb_build_object('locked', true,
      'retry_after', greatest(1, pg_catalog.ceil(extract(epoch from v_locked - pg_catalog.now()))::integer));
  end if;
  update public.login_throttle t set
    failures        = t.failures + 1,
    last_failure_at = pg_catalog.now(),
    locked_until    = case when t.failures + 1 >= f.v_free
                           then pg_catalog.now() + pg_catalog.make_interval(secs =>
                                  least(p_max_delay, pg_catalog.power(2, least(t.failures + 1 - f.v_free, 30))))
                      end
   from (select k.key, case when k.key like 'addr:%' then p_free_address else p_free end as v_free
           from pg_catalog.unnest(v_keys) as k(key)) f
   where t.key = f.key;
  select * into v_user from public.users u where pg_catalog.lower(u.email) = public.auth_normal_email(p_email);
  return pg_catalog.jsonb_build_object('locked', false, 'user_id', v_user.id, 'password_hash', v_user.password_hash);
end $$;

-- Called only when the password matched p_password_hash (the hash auth_login_prepare gave).
-- Refuses (null) a disabled user, or one whose password changed since (the attempt then stays
-- counted). Otherwise: the account key is cleared and the address key gets its attempt back,
-- the hash is replaced by p_new_hash when given (re-hash with current parameters), and a
-- session is opened. Returns {session_id, expires_at, user}.
create function public.auth_login_finish(
  p_user_id uuid, p_password_hash text, p_address text, p_token_hash text,
  p_max_seconds integer, p_user_agent text, p_new_hash text default null, p_free_address integer default 20
) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_user public.users;
  v_session public.sessions;
begin
  select * into v_user from public.users u where u.id = p_user_id for update;
  if v_user.id is null or not v_user.is_active or v_user.disabled_at is not null
     or v_user.password_hash is distinct from p_password_hash then
    return null;
  end if;
  delete from public.login_throttle t where t.key = 'user:' || public.auth_normal_email(v_user.email);
  if p_address is not null and p_address <> '' then
    update public.login_throttle t set
      failures     = greatest(t.failures - 1, 0),
      locked_until = case when t.failures - 1 >= p_free_address then t.locked_until end
     where t.key = 'addr:' || p_address;
  end if;
  if p_new_hash is not null then
    update public.users u set password_hash = p_new_hash where u.id = v_user.id returning * into v_user;
  end if;
  insert into public.sessions (user_id, token_hash, expires_at, address, user_agent)
    values (v_user.id, p_token_hash, pg_catalog.now() + pg_catalog.make_interval(secs => p_max_seconds),
            nullif(p_address, ''), pg_catalog.left(p_user_agent, 512))
    returning * into v_session;
  return pg_catalog.jsonb_build_object('session_id', v_session.id, 'expires_at', v_session.expires_at,
                                       'user', public.auth_user_json(v_user));
end $$;

-- The live session of a token hash, or null: revoked, past its absolute expiry, idle longer
-- than p_idle_seconds, or its user disabled. A live session's last_seen_at moves to now
-- (the idle window slides). Returns {session_id, expires_at, user}. Other SQL functions that
-- check the session inside their own round trip call this.
create function public.auth_session(p_token_hash text, p_idle_seconds integer) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_session public.sessions;
  v_user public.users;
begin
  update public.sessions s set last_seen_at = pg_catalog.now()
    from public.users u
   where s.token_hash = p_token_hash
     and s.revoked_at is null
     and s.expires_at > pg_catalog.now()
     and s.last_seen_at > pg_catalog.now() - pg_catalog.make_interval(secs => p_idle_seconds)
     and u.id = s.user_id and u.is_active and u.disabled_at is null
  returning s.* into v_session;
  if v_session.id is null then
    return null;
  end if;
  select * into v_user from public.users u where u.id = v_session.user_id;
  return pg_catalog.jsonb_build_object('session_id', v_session.id, 'expires_at', v_session.expires_at,
                                       'user', public.auth_user_json(v_user));
end $$;

-- What GET /api/me shows, with the session check in the same round trip: null when the
-- session is not live; else {user, agent} (agent null unless the user is an agent). The
-- agent's phone_number is the number dedicated to them (phone_numbers.assigned_agent_id),
-- mobile_number the agents row's own phone.
create function public.auth_me(p_token_hash text, p_idle_seconds integer) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_session jsonb := public.auth_session(p_token_hash, p_idle_seconds);
  v_agent jsonb;
begin
  if v_session is null then
    return null;
  end if;
  if v_session #>> '{user,role}' = 'agent' then
    select pg_catalog.jsonb_build_object(
             'id', a.id, 'name', a.name, 'status', a.status, 'pause_reason', a.pause_reason,
             'phone_number', (select n.phone_number from public.phone_numbers n
                               where n.assigned_agent_id = a.id and n.is_active order by n.id limit 1),
             'mobile_number', a.phone_number, 'client_identity', a.client_identity)
      into v_agent
      from public.agents a where a.id = (v_session #>> '{user,agent_id}')::bigint;
  end if;
  return v_session || pg_catalog.jsonb_build_object('agent', v_agent);
end $$;

-- Ends the session of a token hash. True when a live session was revoked.
create function public.auth_logout(p_token_hash text) returns boolean
language plpgsql set search_path = '' as $$
begin
  update public.sessions s set revoked_at = pg_catalog.now(), revoked_reason = 'logout'
   where s.token_hash = p_token_hash and s.revoked_at is null;
  return found;
end $$;

-- Revokes every open session of a user; returns how many.
create function public.auth_revoke_sessions(p_user_id uuid, p_reason text) returns integer
language plpgsql set search_path = '' as $$
declare
  v_count integer;
begin
  update public.sessions s set revoked_at = pg_catalog.now(), revoked_reason = p_reason
   where s.user_id = p_user_id and s.revoked_at is null;
  get diagnostics v_count = row_count;
  return v_count;
end $$;

-- A user by e-mail (any casing), locked for the rest of the transaction; raises
-- no_data_found (P0002) when there is none.
create function public.auth_user_for_update(p_email text) returns public.users
language plpgsql set search_path = '' as $$
declare
  v_user public.users;
begin
  select * into v_user from public.users u
   where pg_catalog.lower(u.email) = public.auth_normal_email(p_email) for update;
  if v_user.id is null then
    raise exception 'no user with e-mail %', p_email using errcode = 'P0002';
  end if;
  return v_user;
end $$;

-- Sets a new password hash and revokes every session ('password_changed').
-- Returns {user, sessions_revoked}.
create function public.auth_set_password(p_email text, p_hash text) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_user public.users := public.auth_user_for_update(p_email);
begin
  update public.users u set password_hash = p_hash, password_changed_at = pg_catalog.now()
   where u.id = v_user.id returning * into v_user;
  -- A forgotten-password reset also lifts the account's lockout.
  delete from public.login_throttle t where t.key = 'user:' || public.auth_normal_email(v_user.email);
  return pg_catalog.jsonb_build_object('user', public.auth_user_json(v_user),
    'sessions_revoked', public.auth_revoke_sessions(v_user.id, 'password_changed'));
end $$;

-- Disables a user: no sign-in, every session revoked ('user_disabled'). An agent's row
-- stops being active and, unless a customer is reserved for or talking to them, goes offline.
-- Returns {user, sessions_revoked, already_disabled}.
create function public.auth_disable_user(p_email text) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_user public.users := public.auth_user_for_update(p_email);
  v_already boolean := not v_user.is_active or v_user.disabled_at is not null;
begin
  update public.users u set is_active = false, disabled_at = coalesce(u.disabled_at, pg_catalog.now())
   where u.id = v_user.id returning * into v_user;
  if v_user.agent_id is not null then
    update public.agents a set is_active = false where a.id = v_user.agent_id;
    perform public.agent_transition(a.id, 'offline', null, 'system', null)
       from public.agents a
      where a.id = v_user.agent_id and a.status in ('available', 'paused', 'wrap_up');
  end if;
  return pg_catalog.jsonb_build_object('user', public.auth_user_json(v_user),
    'sessions_revoked', public.auth_revoke_sessions(v_user.id, 'user_disabled'),
    'already_disabled', v_already);
end $$;

-- Changes a user's role and revokes every session ('role_changed'), so no page keeps the old
-- role's rights. Becoming an agent needs an agents row: the user's own, else one with the
-- same e-mail not linked to another user, else a new one. Returns {user, sessions_revoked, changed}.
create function public.auth_set_role(p_email text, p_role text) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_user public.users := public.auth_user_for_update(p_email);
  v_agent_id bigint := v_user.agent_id;
begin
  if p_role not in ('admin', 'supervisor', 'agent') then
    raise exception 'unknown role %', p_role using errcode = '22023';
  end if;
  if v_user.role = p_role then
    return pg_catalog.jsonb_build_object('user', public.auth_user_json(v_user), 'sessions_revoked', 0, 'changed', false);
  end if;
  if p_role = 'agent' and v_agent_id is null then
    select a.id into v_agent_id from public.agents a
     where pg_catalog.lower(a.email) = pg_catalog.lower(v_user.email)
       and not exists (select 1 from public.users o where o.agent_id = a.id);
    if v_agent_id is null then
      insert into public.agents (name, email) values (v_user.name, v_user.email) returning id into v_agent_id;
    end if;
  end if;
  update public.users u set role = p_role, agent_id = v_agent_id where u.id = v_user.id returning * into v_user;
  return pg_catalog.jsonb_build_object('user', public.auth_user_json(v_user),
    'sessions_revoked', public.auth_revoke_sessions(v_user.id, 'role_changed'), 'changed', true);
end $$;

-- Creates a user (the CLI's `add`). An agent gets an agents row: the one with the same
-- e-mail when it exists and no user has it, else a new one with p_client_identity and
-- p_phone_number (the agent's own phone). Raises unique_violation (23505) when the e-mail
-- is taken. Returns {user, agent_id, agent_created}.
create function public.auth_create_user(
  p_email text, p_name text, p_role text, p_hash text,
  p_client_identity text default null, p_phone_number text default null
) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_email text := pg_catalog.btrim(p_email);
  v_agent_id bigint;
  v_created boolean := false;
  v_user public.users;
begin
  if p_role not in ('admin', 'supervisor', 'agent') then
    raise exception 'unknown role %', p_role using errcode = '22023';
  end if;
  if exists (select 1 from public.users u where pg_catalog.lower(u.email) = pg_catalog.lower(v_email)) then
    raise exception 'a user with e-mail % exists', v_email using errcode = '23505';
  end if;
  if p_role = 'agent' then
    select a.id into v_agent_id from public.agents a
     where pg_catalog.lower(a.email) = pg_catalog.lower(v_email)
       and not exists (select 1 from public.users o where o.agent_id = a.id)
     for update;
    if v_agent_id is null then
      insert into public.agents (name, email, client_identity, phone_number)
        values (p_name, v_email, p_client_identity, p_phone_number::public.e164)
        returning id into v_agent_id;
      v_created := true;
    end if;
  end if;
  insert into public.users (email, name, role, agent_id, password_hash, password_changed_at)
    values (v_email, p_name, p_role, v_agent_id, p_hash, pg_catalog.now())
    returning * into v_user;
  return pg_catalog.jsonb_build_object('user', public.auth_user_json(v_user),
    'agent_id', v_agent_id, 'agent_created', v_created);
end $$;

-- Dedicates a pool number to an agent user (the number stops being a campaign caller ID).
-- Raises P0002 for an unknown user or number, 22023 when the user is not an agent or the
-- number is inactive, 23505 when the number belongs to another agent.
-- Returns {phone_number, agent_id, changed}.
create function public.auth_assign_number(p_email text, p_phone_number text) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_user public.users := public.auth_user_for_update(p_email);
  v_number public.phone_numbers;
begin
  if v_user.role <> 'agent' or v_user.agent_id is null then
    raise exception 'user % is not an agent', v_user.email using errcode = '22023';
  end if;
  select * into v_number from public.phone_numbers n where n.phone_number = p_phone_number for update;
  if v_number.id is null then
    raise exception 'number % is not in the pool', p_phone_number using errcode = 'P0002';
  end if;
  if not v_number.is_active then
    raise exception 'number % is inactive', p_phone_number using errcode = '22023';
  end if;
  if v_number.assigned_agent_id is not null and v_number.assigned_agent_id <> v_user.agent_id then
    raise exception 'number % belongs to agent %', p_phone_number, v_number.assigned_agent_id using errcode = '23505';
  end if;
  update public.phone_numbers n set assigned_agent_id = v_user.agent_id where n.id = v_number.id;
  return pg_catalog.jsonb_build_object('phone_number', v_number.phone_number, 'agent_id', v_user.agent_id,
    'changed', v_number.assigned_agent_id is null);
end $$;

-- Every user with their agent, dedicated numbers, open sessions and lockout (the CLI's `list`).
create function public.auth_list_users() returns jsonb
language sql stable set search_path = '' as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'id', u.id, 'email', u.email, 'name', u.name, 'role', u.role,
           'active', u.is_active and u.disabled_at is null, 'agent_id', u.agent_id,
           'agent_status', a.status, 'client_identity', a.client_identity,
           'numbers', coalesce((select pg_catalog.jsonb_agg(n.phone_number order by n.phone_number)
                                  from public.phone_numbers n where n.assigned_agent_id = u.agent_id), '[]'::jsonb),
           'open_sessions', (select pg_catalog.count(*) from public.sessions s
                              where s.user_id = u.id and s.revoked_at is null and s.expires_at > pg_catalog.now()),
           'locked_until', (select t.locked_until from public.login_throttle t
                             where t.key = 'user:' || pg_catalog.lower(u.email) and t.locked_until > pg_catalog.now()))
           order by u.role, pg_catalog.lower(u.email)), '[]'::jsonb)
    from public.users u left join public.agents a on a.id = u.agent_id
$$;
