-- Calling windows and caller-ID rotation in SQL: the state and UTC offset of every DDD (the
-- same table as DDD_REGIONS in src/lib/domain/calling-window.ts; a flow test keeps them
-- equal), the caller-ID pick every dial goes through (strategy, local presence, daily cap,
-- cool-down, spam-labelled numbers out of rotation), start_dial_attempt on top of it, and the
-- admin's per-number settings (numbers CLI).

-- ---------------------------------------------------------------------------------------
-- DDD → state and UTC offset (Brazil keeps no daylight saving since 2019).
create table public.ddd_regions (
  ddd              smallint primary key check (ddd between 11 and 99),
  uf               text not null check (uf ~ '^[A-Z]{2}$'),
  utc_offset_hours smallint not null check (utc_offset_hours in (-3, -4, -5)),
  -- Other offsets the DDD spans: 81 also covers Fernando de Noronha (UTC-2), 97 towns on
  -- Acre time (UTC-5); such a DDD is open only when the window is open at every one.
  other_offsets    smallint[] not null default '{}' check (other_offsets <@ array[-2, -3, -4, -5]::smallint[])
);
alter table public.ddd_regions enable row level security;
revoke all on public.ddd_regions from anon, authenticated;
comment on table public.ddd_regions is
  'State (UF) and fixed UTC offset of each Brazilian area code; equal to DDD_REGIONS in src/lib/domain/calling-window.ts.';

insert into public.ddd_regions (ddd, uf, utc_offset_hours)
select d.ddd, r.uf,
       case when d.ddd = 68 then -5 when d.ddd in (65, 66, 67, 69, 92, 95, 97) then -4 else -3 end
  from (values
    ('SP', array[11, 12, 13, 14, 15, 16, 17, 18, 19]), ('RJ', array[21, 22, 24]), ('ES', array[27, 28]),
    ('MG', array[31, 32, 33, 34, 35, 37, 38]), ('PR', array[41, 42, 43, 44, 45, 46]), ('SC', array[47, 48, 49]),
    ('RS', array[51, 53, 54, 55]), ('DF', array[61]), ('GO', array[62, 64]), ('TO', array[63]),
    ('MT', array[65, 66]), ('MS', array[67]), ('AC', array[68]), ('RO', array[69]),
    ('BA', array[71, 73, 74, 75, 77]), ('SE', array[79]), ('PE', array[81, 87]), ('AL', array[82]),
    ('PB', array[83]), ('RN', array[84]), ('CE', array[85, 88]), ('PI', array[86, 89]),
    ('PA', array[91, 93, 94]), ('AM', array[92, 97]), ('RR', array[95]), ('AP', array[96]), ('MA', array[98, 99])
  ) as r(uf, ddds)
  cross join lateral pg_catalog.unnest(r.ddds) as d(ddd);
update public.ddd_regions set other_offsets = '{-2}' where ddd = 81;
update public.ddd_regions set other_offsets = '{-5}' where ddd = 97;

-- Pool numbers by local presence.
create index phone_numbers_pool_ddd_idx on public.phone_numbers (ddd)
  where is_active and assigned_agent_id is null and spam_flagged_at is null;

-- ---------------------------------------------------------------------------------------
-- The caller-ID pick.
--   p_strategy  round_robin: least recently used first;
--               least_used:  fewest calls today (São Paulo's date), then least recently used;
--               random:      uniformly at random among the numbers with the fewest calls today
--                            (a shuffled rotation: no number comes back before every eligible
--                            number had its turn, in an order nobody can predict);
--               null: the campaign's caller_id_strategy (round_robin without a campaign).
--   p_ddd       the lead's area code: a pool number of that DDD first, then of its state, then
--               any (ignored when the campaign has local_presence off).
-- Eligible: active, not dedicated to an agent, not spam-flagged, under its daily cap for São
-- Paulo's day, past its cool-down since the last use. The pick records the use (calls_today,
-- calls_today_date, call_count, last_used_at) before returning the row; a row of nulls when no
-- number is eligible. One pick at a time (advisory lock held to the end of the transaction),
-- so concurrent dialers see each other's uses: caps are never exceeded and a rotation never
-- hands a number twice before the others.
-- last_used_at is app_now(), or a microsecond after the pool's latest use when a transaction
-- that started earlier got the lock later: the rotation order is the order of the picks.
create or replace function public.caller_id_pick(p_strategy text, p_ddd smallint, p_campaign_id bigint default null)
returns public.phone_numbers
language plpgsql
set search_path = ''
as $$
declare
  v_now      timestamptz := public.app_now();
  v_today    date := (v_now at time zone 'America/Sao_Paulo')::date;
  v_strategy text := p_strategy;
  v_ddd      smallint := p_ddd;
  v_uf       text;
  v_local    boolean;
  v_camp     text;
  v_id       bigint;
  v_stamp    timestamptz;
  v_number   public.phone_numbers;
begin
  if p_campaign_id is not null then
    select c.caller_id_strategy, c.local_presence into v_camp, v_local from public.campaigns c where c.id = p_campaign_id;
    if not found then
      raise exception 'caller_id_pick: no campaign %', p_campaign_id using errcode = '22023';
    end if;
    v_strategy := coalesce(v_strategy, v_camp);
    if not v_local then v_ddd := null; end if;
  end if;
  v_strategy := coalesce(v_strategy, 'round_robin');
  if v_strategy not in ('round_robin', 'least_used', 'random') then
    raise exception 'caller_id_pick: unknown strategy % (round_robin, least_used or random)', v_strategy using errcode = '22023';
  end if;
  if v_ddd is not null then
    select r.uf into v_uf from public.ddd_regions r where r.ddd = v_ddd;
  end if;

  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('discador.caller_id_pool'), 0);
  select n.id into v_id
    from public.phone_numbers n
    left join public.ddd_regions r on r.ddd = n.ddd
   where n.is_active and n.assigned_agent_id is null and n.spam_flagged_at is null
     and (n.calls_today_date is distinct from v_today or n.calls_today < n.daily_cap)
     and (n.last_used_at is null or n.cooldown_seconds = 0
          or n.last_used_at <= v_now - pg_catalog.make_interval(secs => n.cooldown_seconds))
   order by
     case when v_ddd is null or n.ddd = v_ddd then 0 when r.uf = v_uf then 1 else 2 end,
     case when v_strategy in ('least_used', 'random') and n.calls_today_date = v_today then n.calls_today else 0 end,
     case when v_strategy = 'random' then pg_catalog.random() end,
     n.last_used_at nulls first, n.id
   limit 1;
  if v_id is null then
    return null;
  end if;

  select pg_catalog.max(n.last_used_at) into v_stamp from public.phone_numbers n;
  update public.phone_numbers n set
    calls_today      = case when n.calls_today_date = v_today then n.calls_today + 1 else 1 end,
    calls_today_date = v_today,
    call_count       = n.call_count + 1,
    last_used_at     = greatest(v_now, v_stamp + interval '1 microsecond'),
    updated_at       = v_now
  where n.id = v_id
  returning n.* into v_number;
  return v_number;
end;
$$;
revoke execute on function public.caller_id_pick(text, smallint, bigint) from public, anon, authenticated;
grant execute on function public.caller_id_pick(text, smallint, bigint) to service_role;

-- ---------------------------------------------------------------------------------------
-- start_dial_attempt (same signature): the pool number comes from caller_id_pick (round
-- robin, local presence for the destination's DDD); a caller ID named explicitly is refused
-- when spam-flagged ('caller_id_spam_flagged'). The agent is checked (and its row locked)
-- before any caller ID, so that a refusal spends no count and the lock order is always agent
-- row, then the pool lock or the named number's row.
create or replace function public.start_dial_attempt(
  p_to public.e164, p_caller_id public.e164 default null,
  p_agent_id bigint default null, p_campaign_id bigint default null, p_lead_id bigint default null,
  p_reserve_agent boolean default false, p_presence_seconds integer default 20
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_now    timestamptz := public.app_now();
  v_today  date := (v_now at time zone 'America/Sao_Paulo')::date;
  v_number public.phone_numbers;
  v_agent  public.agents;
  v_id     bigint;
begin
  -- Serializes with opt_out_add on this number: an opt-out acknowledged before this point is
  -- seen below; one that comes later waits for this attempt and is caught at answer.
  perform pg_catalog.pg_advisory_xact_lock(public.opt_out_lock_key(p_to));
  if exists (select 1 from public.opt_outs where phone_number = p_to) then
    return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'opted_out');
  end if;

  -- The agent first: every path locks the agent row before any number (the pool lock or a
  -- named number's row), so two attempts for one agent never wait on each other in a cycle.
  if coalesce(p_reserve_agent, false) then
    select * into v_agent from public.agents a where a.id = p_agent_id for update;
    -- Free to call (available, or choosing to call from wrap-up or a pause), with the shift leg
    -- in the room and the page polling: the customer will find the agent there.
    if v_agent.id is null or not v_agent.is_active or v_agent.status not in ('available', 'wrap_up', 'paused')
       or v_agent.shift_call_sid is null
       or exists (select 1 from public.calls c where c.call_sid = v_agent.shift_call_sid and public.call_status_rank(c.status) >= 4)
       or v_agent.last_seen_at is null
       or v_agent.last_seen_at <= v_now - pg_catalog.make_interval(secs => coalesce(p_presence_seconds, 20)) then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'agent_busy');
    end if;
  end if;

  if p_caller_id is not null then
    select * into v_number from public.phone_numbers n where n.phone_number = p_caller_id for update;
    if v_number.id is null or not v_number.is_active then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'caller_id_not_in_pool');
    elsif v_number.assigned_agent_id is not null and v_number.assigned_agent_id is distinct from p_agent_id then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'caller_id_dedicated_to_agent');
    elsif v_number.spam_flagged_at is not null then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'caller_id_spam_flagged');
    elsif v_number.calls_today_date = v_today and v_number.calls_today >= v_number.daily_cap then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'caller_id_at_daily_cap');
    end if;
    update public.phone_numbers set
      calls_today      = case when calls_today_date = v_today then calls_today + 1 else 1 end,
      calls_today_date = v_today,
      call_count       = call_count + 1,
      last_used_at     = v_now,
      updated_at       = v_now
    where id = v_number.id;
  else
    -- A campaign's call follows the campaign's strategy (caller_id_pick reads it for null).
    v_number := public.caller_id_pick(case when p_campaign_id is null then 'round_robin' end,
      case when p_to like '+55%' then pg_catalog.substr(p_to, 4, 2)::smallint end, p_campaign_id);
    if v_number.id is null then
      return pg_catalog.jsonb_build_object('allowed', false, 'reason', 'no_caller_id_available');
    end if;
  end if;

  insert into public.calls (direction, from_number, to_number, caller_id, agent_id, campaign_id, lead_id, status)
  values ('outbound-api', v_number.phone_number, p_to, v_number.phone_number, p_agent_id, p_campaign_id, p_lead_id, 'queued')
  returning id into v_id;

  if v_agent.id is not null then
    -- Reserved for this attempt alone: the call of a wrap-up just left is not carried over
    -- (the CallSid comes with agent_reserve_outbound or the answer webhook).
    update public.agents set reserved_attempt_id = v_id, current_call_sid = null where id = v_agent.id;
    perform public.agent_transition(v_agent.id, 'reserved', null, 'system', null);
  end if;

  return pg_catalog.jsonb_build_object('allowed', true, 'attempt_id', v_id, 'caller_id', v_number.phone_number);
end;
$$;
revoke execute on function public.start_dial_attempt(public.e164, public.e164, bigint, bigint, bigint, boolean, integer)
  from public, anon, authenticated;
grant execute on function public.start_dial_attempt(public.e164, public.e164, bigint, bigint, bigint, boolean, integer)
  to service_role;

-- ---------------------------------------------------------------------------------------
-- An admin's settings of one number (numbers CLI): p_settings may hold
--   spam (true: out of rotation since now, with spam_note; false: back in rotation),
--   spam_note, daily_cap (1..100000), cooldown_seconds (0..86400).
-- Returns the number's rotation settings, or {"error": "not_in_pool" | "invalid_settings"}
-- with nothing changed.
create or replace function public.caller_id_configure(p_phone_number text, p_settings jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_number public.phone_numbers;
  v_cap    integer;
  v_cool   integer;
  v_note   text;
begin
  if p_settings is null or pg_catalog.jsonb_typeof(p_settings) <> 'object'
     or exists (select 1 from pg_catalog.jsonb_object_keys(p_settings) k where k not in ('spam', 'spam_note', 'daily_cap', 'cooldown_seconds'))
     or coalesce(pg_catalog.jsonb_typeof(p_settings -> 'spam'), 'boolean') <> 'boolean'
     or coalesce(pg_catalog.jsonb_typeof(p_settings -> 'spam_note'), 'null') not in ('string', 'null')
     or coalesce(pg_catalog.length(p_settings ->> 'spam_note'), 0) > 200
     or (p_settings ->> 'daily_cap') !~ '^[0-9]{1,6}$'
     or (p_settings ->> 'cooldown_seconds') !~ '^[0-9]{1,5}$'
     or pg_catalog.jsonb_typeof(p_settings -> 'daily_cap') <> 'number'
     or pg_catalog.jsonb_typeof(p_settings -> 'cooldown_seconds') <> 'number' then
    return pg_catalog.jsonb_build_object('error', 'invalid_settings');
  end if;
  -- Digits only from here: the casts cannot fail.
  if (p_settings ->> 'daily_cap')::integer not between 1 and 100000 or (p_settings ->> 'cooldown_seconds')::integer > 86400 then
    return pg_catalog.jsonb_build_object('error', 'invalid_settings');
  end if;
  select * into v_number from public.phone_numbers n where n.phone_number = p_phone_number for update;
  if v_number.id is null then
    return pg_catalog.jsonb_build_object('error', 'not_in_pool');
  end if;
  v_cap  := coalesce((p_settings ->> 'daily_cap')::integer, v_number.daily_cap);
  v_cool := coalesce((p_settings ->> 'cooldown_seconds')::integer, v_number.cooldown_seconds);
  v_note := case when p_settings ? 'spam_note' then nullif(pg_catalog.btrim(p_settings ->> 'spam_note'), '') else v_number.spam_note end;
  update public.phone_numbers n set
    daily_cap        = v_cap,
    cooldown_seconds = v_cool,
    spam_flagged_at  = case when not (p_settings ? 'spam') then n.spam_flagged_at
                            when (p_settings ->> 'spam')::boolean then coalesce(n.spam_flagged_at, public.app_now())
                            else null end,
    spam_note        = case when p_settings ? 'spam' and not (p_settings ->> 'spam')::boolean then null else v_note end,
    updated_at       = public.app_now()
  where n.id = v_number.id
  returning n.* into v_number;
  return pg_catalog.jsonb_build_object(
    'phone_number', v_number.phone_number, 'ddd', v_number.ddd, 'is_active', v_number.is_active,
    'dedicated_to_agent', v_number.assigned_agent_id is not null,
    'daily_cap', v_number.daily_cap, 'cooldown_seconds', v_number.cooldown_seconds,
    'spam_flagged_at', v_number.spam_flagged_at, 'spam_note', v_number.spam_note,
    'calls_today', case when v_number.calls_today_date = (public.app_now() at time zone 'America/Sao_Paulo')::date then v_number.calls_today else 0 end);
end;
$$;
revoke execute on function public.caller_id_configure(text, jsonb) from public, anon, authenticated;
grant execute on function public.caller_id_configure(text, jsonb) to service_role;
