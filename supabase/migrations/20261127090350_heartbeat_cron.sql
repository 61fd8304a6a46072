-- The pacer's heartbeat in production: Supabase Cron (pg_cron) runs public.pacer_heartbeat()
-- every few seconds, which POSTs /api/tick through pg_net with the HMAC header the function
-- checks (X-Discador-Tick: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t)>, computed with
-- pgcrypto's hmac). docs/pacer-live.md says how to turn it on.
--
-- Where it reads what it needs:
--   the URL      public.pacer_heartbeat_settings.tick_url (one row; e.g.
--                https://<service>.twil.io/api/tick);
--   the secret   Supabase Vault, the secret named 'discador_tick_secret' (vault.decrypted_secrets),
--                else pacer_heartbeat_settings.tick_secret (a database without Vault).
-- The job is scheduled here only where both pg_cron and pg_net are installed (nothing happens
-- elsewhere, e.g. the local stack, whose own interval posts /api/tick); installed later, the job
-- is scheduled with `select public.pacer_heartbeat_schedule(5);`. Every extension object is
-- reached through dynamic SQL, so these functions exist (and fail with a clear error when
-- called) on a database without the extensions.

create table public.pacer_heartbeat_settings (
  id          boolean primary key default true check (id),
  tick_url    text not null check (tick_url ~ '^https?://[^\s]+/api/tick$'),
  tick_secret text check (length(tick_secret) >= 32),
  timeout_ms  integer not null default 9000 check (timeout_ms between 1000 and 60000),
  updated_at  timestamptz not null default public.app_now()
);
alter table public.pacer_heartbeat_settings enable row level security;
comment on table public.pacer_heartbeat_settings is
  'Where the pg_cron heartbeat posts /api/tick. The HMAC secret belongs in Vault (name discador_tick_secret); tick_secret only where Vault is absent.';

-- The schema an extension is installed in, or null.
create or replace function public.extension_schema(p_name text)
returns text
language sql stable
set search_path = ''
as $$
  select n.nspname::text from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
   where e.extname = p_name
$$;

-- The heartbeat's request: {url, headers} with the HMAC of the current Unix second, or null
-- when no URL is configured. Needs pgcrypto and a secret; errors name what is missing.
create or replace function public.pacer_heartbeat_request()
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_settings public.pacer_heartbeat_settings;
  v_secret   text;
  v_crypto   text := public.extension_schema('pgcrypto');
  v_t        text;
  v_sig      text;
begin
  select * into v_settings from public.pacer_heartbeat_settings s where s.id;
  if v_settings.tick_url is null then
    return null;
  end if;
  if v_crypto is null then
    raise exception 'pgcrypto is not installed' using errcode = '55000';
  end if;
  if public.extension_schema('supabase_vault') is not null then
    execute 'select s.decrypted_secret from vault.decrypted_secrets s where s.name = $1 limit 1'
      into v_secret using 'discador_tick_secret';
  end if;
  v_secret := coalesce(v_secret, v_settings.tick_secret);
  if v_secret is null or pg_catalog.length(v_secret) < 32 then
    raise exception 'no tick secret: put it in Vault as discador_tick_secret (32+ characters)' using errcode = '55000';
  end if;
  -- The wall clock, not app_now(): the function checks t against its own real clock.
  v_t := pg_catalog.floor(extract(epoch from pg_catalog.clock_timestamp()))::bigint::text;
  execute pg_catalog.format('select pg_catalog.encode(%I.hmac($1, $2, %L), %L)', v_crypto, 'sha256', 'hex')
    into v_sig using v_t, v_secret;
  return pg_catalog.jsonb_build_object(
    'url', v_settings.tick_url,
    'timeout_ms', v_settings.timeout_ms,
    'headers', pg_catalog.jsonb_build_object('Content-Type', 'application/json', 'X-Discador-Tick', 't=' || v_t || ',v1=' || v_sig));
end;
$$;

-- One heartbeat: POST /api/tick through pg_net (pacer_heartbeat_request). Returns pg_net's
-- request id, or null when no URL is configured.
create or replace function public.pacer_heartbeat()
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
    using v_request->>'url', '{}'::jsonb, v_request->'headers', (v_request->>'timeout_ms')::integer;
  return v_id;
end;
$$;

-- Schedules (or reschedules) the heartbeat job 'discador-pacer-heartbeat' every p_seconds
-- (1-59; pg_cron's sub-minute schedules). Returns the job id. Refused without pg_cron and pg_net.
create or replace function public.pacer_heartbeat_schedule(p_seconds integer default 5)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_cron text := public.extension_schema('pg_cron');
  v_id   bigint;
begin
  if p_seconds is null or p_seconds < 1 or p_seconds > 59 then
    raise exception 'p_seconds must be between 1 and 59' using errcode = '22023';
  end if;
  if v_cron is null or public.extension_schema('pg_net') is null then
    raise exception 'the heartbeat needs pg_cron and pg_net installed' using errcode = '55000';
  end if;
  execute 'select cron.schedule($1, $2, $3)' into v_id
    using 'discador-pacer-heartbeat', p_seconds || ' seconds', 'select public.pacer_heartbeat()';
  return v_id;
end;
$$;

revoke all on table public.pacer_heartbeat_settings from public, anon, authenticated;
revoke execute on function public.extension_schema(text) from public, anon, authenticated;
grant execute on function public.extension_schema(text) to service_role;
revoke execute on function public.pacer_heartbeat_request() from public, anon, authenticated;
grant execute on function public.pacer_heartbeat_request() to service_role;
revoke execute on function public.pacer_heartbeat() from public, anon, authenticated;
grant execute on function public.pacer_heartbeat() to service_role;
revoke execute on function public.pacer_heartbeat_schedule(integer) from public, anon, authenticated;
grant execute on function public.pacer_heartbeat_schedule(integer) to service_role;

do $$
begin
  if public.extension_schema('pg_cron') is not null and public.extension_schema('pg_net') is not null then
    if public.extension_schema('pgcrypto') is null then
      -- Supabase keeps extensions in the schema named extensions.
      if exists (select 1 from pg_catalog.pg_namespace where nspname = 'extensions') then
        create extension if not exists pgcrypto with schema extensions;
      else
        create extension if not exists pgcrypto;
      end if;
    end if;
    perform public.pacer_heartbeat_schedule(5);
  else
    raise notice 'pg_cron and pg_net are not both installed: the pacer heartbeat is not scheduled (see docs/pacer-live.md)';
  end if;
end $$;
