-- Caller-ID pick, minimal: the least recently used pool number (active, not dedicated to an
-- agent, not spam-flagged, under its daily cap for São Paulo's day, past its cool-down),
-- preferring the lead's DDD. Serialized on the pool's advisory lock so concurrent picks never
-- exceed a cap. Usage (calls_today, call_count, last_used_at) is spent at the pick.
create or replace function public.caller_id_pick(p_strategy text, p_ddd smallint, p_campaign_id bigint default null)
returns public.phone_numbers
language plpgsql
set search_path = ''
as $$
declare
  v_now    timestamptz := public.app_now();
  v_today  date := (public.app_now() at time zone 'America/Sao_Paulo')::date;
  v_number public.phone_numbers;
begin
  if p_strategy is null or p_strategy not in ('round_robin', 'random', 'least_used') then
    raise exception 'unknown caller-ID strategy %', p_strategy using errcode = '22023';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('discador.caller_id_pool'), 0);
  select * into v_number from public.phone_numbers n
   where n.is_active and n.assigned_agent_id is null and n.spam_flagged_at is null
     and (n.calls_today_date is distinct from v_today or n.calls_today < n.daily_cap)
     and (n.last_used_at is null or n.last_used_at <= v_now - pg_catalog.make_interval(secs => n.cooldown_seconds))
   order by (p_ddd is not null and n.ddd = p_ddd) desc, n.last_used_at nulls first, n.id
   limit 1
   for update;
  if v_number.id is null then
    return v_number;
  end if;
  update public.phone_numbers set
    calls_today      = case when calls_today_date = v_today then calls_today + 1 else 1 end,
    calls_today_date = v_today,
    call_count       = call_count + 1,
    last_used_at     = v_now,
    updated_at       = v_now
  where id = v_number.id
  returning * into v_number;
  return v_number;
end;
$$;
revoke execute on function public.caller_id_pick(text, smallint, bigint) from public, anon, authenticated;
grant execute on function public.caller_id_pick(text, smallint, bigint) to service_role;
