-- The Anatel short-call monitor (docs/anatel.md) and the pacer's short-call guard.
--
-- Anatel blocks, for 15 days, a caller that places >= 100,000 calls in a day of which >= 85 %
-- last at most 6 s (answered or not, voicemail included; ../shared/reference/brazil.md). The
-- thresholds are configuration (src/lib/domain/anatel.ts, anatelSettings → p_settings).
--
-- What counts as a call: a call the account ORIGINATED from one of its numbers and Twilio
-- placed: a calls row with a caller ID (the pool number picked for it: campaign dials, preview
-- and click-to-call dials; only the account's own outbound-api attempts get one), a CallSid,
-- a final status, and not refused by Twilio or found never placed (end_reason twilio_refused /
-- never_placed: their pick was given back). Inbound calls are not the account's calls; agents'
-- softphone legs and follow-me hops carry no caller ID and are not counted. "Today" is São
-- Paulo's day by the call's creation. A call is counted once it ended (its duration is only
-- known then): the same rows as the board's caller_ids figures (ended_today, short_today).
--
-- Short: duration (Twilio's, seconds from answer to end; none for a call never answered) of at
-- most short_call_seconds; a call never answered (no-answer, busy, failed, canceled) is short.

-- Why a short call was short: the setting (or the customer) that fed it; first match wins
-- (the CASE in short_call_monitor):
--   busy, failed           the line answered busy / the call failed (lead list quality, retry_rules)
--   no_answer              rang out: campaigns.ring_timeout (Twilio's Timeout)
--   canceled               given up while ringing (the call was canceled)
--   opted_out              the number turned out opted out and the call was hung up
--   abandoned              a live answer nobody took within the grace (dial_ratio / mode / abandon_cap)
--   short_talk             the customer talked to an agent (or a dial without a campaign, a
--                          click-to-call, was answered) and it was short
--   voicemail_drop         a machine got a message (campaigns.amd_machine = 'voicemail')
--   amd_hangup             AMD found a machine or fax and the call was hung up (amd_machine = 'hangup')
--   amd_unknown_hangup     AMD could not tell and the campaign hangs up on unknown (amd_unknown = 'hangup')
--   disclaimer_hangup      a live answer hung up during the disclaimer (disclaimer_seconds)
--   waiting_hangup         a live answer hung up after the disclaimer, before an agent (within the grace)
--   answered_hangup        answered and hung up before AMD decided anything

-- The short-call figures for São Paulo's day of p_now (docs/anatel.md):
--   {short_call_seconds, daily_calls_threshold, short_percent_threshold, near_percent,
--    day_start, calling_ends_at, seconds_left, rate_window_seconds,
--    account: figures, caller_ids: [figures + caller_id], campaigns: [per campaign: calls,
--    short, causes and the settings that feed them]}
-- figures = {calls_today, short_today, short_ratio, calls_last_hour, short_last_hour,
--            projected_calls, projected_short, projected_ratio, reached, near, over, causes}.
-- Projection: today's count plus the pace (the last hour's calls, from no earlier than midnight
-- and than the earlier of today's window opening and today's first call, over at least
-- min_pace_seconds) times the calling time left today: until the latest end of today's window among the campaigns that
-- may still dial (active or paused), on São Paulo's clock; none → nothing more is projected.
-- over: the projection reaches both thresholds (calls >= daily, ratio >= short %); near: it
-- reaches near_percent of both; reached: today's own figures already meet both.
-- p_settings: short_call_seconds (1-60, default 6), anatel_daily_calls (>= 1, default
-- 100000), anatel_short_percent (0-100, default 85), anatel_near_percent (above 0, at most
-- 100, default 80), min_pace_seconds (1-3600, default 900);
-- a bad value raises 22023.
-- work_mem: the planner reckons the grouping by cause an expression could make tens of
-- thousands of groups and, under the default 4 MB, sorts the day's calls (about 3x slower at
-- 100,000 calls); there are a few hundred at most (caller IDs x campaigns x 13 causes), and
-- with room for its estimate it hashes them.
create or replace function public.short_call_monitor(p_now timestamptz, p_settings jsonb)
returns jsonb
language plpgsql stable
set search_path = ''
set work_mem = '16MB'
as $$
declare
  v_settings  jsonb := coalesce(p_settings, '{}'::jsonb);
  v_short_s   integer;
  v_daily     bigint;
  v_pct       numeric;
  v_near      numeric;
  v_now       timestamptz := coalesce(p_now, public.app_now());
  v_local     timestamp := v_now at time zone 'America/Sao_Paulo';
  v_day_start timestamptz := pg_catalog.date_trunc('day', v_local) at time zone 'America/Sao_Paulo';
  v_day_end   timestamptz := (pg_catalog.date_trunc('day', v_local) + interval '1 day') at time zone 'America/Sao_Paulo';
  v_local_day date := v_local::date;
  v_dow       integer := extract(isodow from v_local)::integer;
  v_min_pace_s float8;
  v_opens_at  timestamptz;
  v_first_at  timestamptz;
  v_from      timestamptz;
  v_window_s  float8;
  v_ends_at   timestamptz;
  v_left_s    float8;
  v_result    jsonb;
begin
  begin
    v_short_s := coalesce((v_settings->>'short_call_seconds')::integer, 6);
    v_daily   := coalesce((v_settings->>'anatel_daily_calls')::bigint, 100000);
    v_pct     := coalesce((v_settings->>'anatel_short_percent')::numeric, 85);
    v_near    := coalesce((v_settings->>'anatel_near_percent')::numeric, 80);
    v_min_pace_s := coalesce((v_settings->>'min_pace_seconds')::float8, 900);
  exception when invalid_text_representation or numeric_value_out_of_range then
    raise exception 'short_call_monitor: p_settings values must be numbers: %', v_settings using errcode = '22023';
  end;
  if v_short_s not between 1 and 60 then
    raise exception 'short_call_monitor: short_call_seconds must be 1-60, got %', v_short_s using errcode = '22023';
  end if;
  if v_daily < 1 then
    raise exception 'short_call_monitor: anatel_daily_calls must be at least 1, got %', v_daily using errcode = '22023';
  end if;
  if v_pct < 0 or v_pct > 100 then
    raise exception 'short_call_monitor: anatel_short_percent must be 0-100, got %', v_pct using errcode = '22023';
  end if;
  if v_near <= 0 or v_near > 100 then
    raise exception 'short_call_monitor: anatel_near_percent must be in (0, 100], got %', v_near using errcode = '22023';
  end if;
  if not (v_min_pace_s between 1 and 3600) then
    raise exception 'short_call_monitor: min_pace_seconds must be 1-3600, got %', v_min_pace_s using errcode = '22023';
  end if;

  -- The calling window today: from the earliest opening to the latest end of today's window
  -- among the campaigns that may still dial (active or paused; collections_sp: 08:00-20:00 on
  -- weekdays, 08:00-14:00 on Saturdays, never on Sundays; custom: its columns, a day closed when
  -- its start or end is missing or the start is not before the end, as calling-window.ts
  -- reads them), on São Paulo's clock (local date + time, then to an instant), within the day.
  select pg_catalog.min((v_local_day + w.opens) at time zone 'America/Sao_Paulo'),
         pg_catalog.max((v_local_day + w.ends) at time zone 'America/Sao_Paulo')
    into v_opens_at, v_ends_at
    from public.campaigns k
    cross join lateral (select case when k.window_profile = 'collections_sp' then
                                      case when v_dow <= 6 then time '08:00' end
                                    when v_dow <= 5 then k.weekday_start
                                    when v_dow = 6 then k.saturday_start
                                    when k.allow_sunday then k.sunday_start end as opens,
                               case when k.window_profile = 'collections_sp' then
                                      case when v_dow <= 5 then time '20:00' when v_dow = 6 then time '14:00' end
                                    when v_dow <= 5 then k.weekday_end
                                    when v_dow = 6 then k.saturday_end
                                    when k.allow_sunday then k.sunday_end end as ends) w
   where k.status in ('active', 'paused') and w.opens is not null and w.ends is not null and w.opens < w.ends;
  v_ends_at := least(greatest(coalesce(v_ends_at, v_now), v_now), v_day_end);
  v_left_s := extract(epoch from v_ends_at - v_now)::float8;

  -- The pace: the calls of the last hour while calling was going on today (not before
  -- midnight, nor before today's window opened or today's first call, whichever came first),
  -- per second of at least min_pace_seconds: a pace measured over a few seconds (just after
  -- midnight, or just after the window opened) is not projected over the whole day.
  select pg_catalog.min(c.created_at) into v_first_at from public.calls c
   where c.created_at >= v_day_start and c.created_at < v_day_end and c.caller_id is not null and c.call_sid is not null;
  v_from := least(greatest(v_now - interval '1 hour', v_day_start,
                           coalesce(least(v_opens_at, v_first_at), v_day_start)), v_now);
  v_window_s := greatest(extract(epoch from v_now - v_from)::float8, v_min_pace_s);

  with counted as (
    select c.caller_id, c.campaign_id,
           c.created_at >= v_from as recent,
           case when coalesce(c.duration, 0) > v_short_s then null
                when c.status = 'busy' then 'busy'
                when c.status = 'failed' then 'failed'
                when c.status = 'no-answer' then 'no_answer'
                when c.status = 'canceled' then 'canceled'
                when c.opted_out or c.outcome = 'opted_out' then 'opted_out'
                when c.abandoned_at is not null or c.outcome = 'abandoned' then 'abandoned'
                when c.connected_at is not null or c.outcome = 'human' or c.campaign_id is null then 'short_talk'
                when c.amd_action = 'voicemail' or c.outcome = 'machine_voicemail' then 'voicemail_drop'
                when c.answered_by like 'machine%' or c.answered_by = 'fax' or c.outcome = 'machine' then 'amd_hangup'
                when c.amd_action = 'hangup' then 'amd_unknown_hangup'
                when c.live_at is not null and c.disclaimer_ended_at is null then 'disclaimer_hangup'
                when c.live_at is not null then 'waiting_hangup'
                else 'answered_hangup' end as cause
      from public.calls c
     where c.caller_id is not null and c.call_sid is not null
       and c.created_at >= v_day_start and c.created_at < v_day_end
       and c.status in ('completed', 'no-answer', 'busy', 'failed', 'canceled')
       and c.end_reason is distinct from 'twilio_refused' and c.end_reason is distinct from 'never_placed'
  ),
  -- One pass over today's calls, grouped by raw columns (a hash of a few hundred groups at
  -- most); everything below works on these groups. cause is null for a call that was not short.
  grouped as (
    select k.caller_id::text as caller_id, k.campaign_id, k.cause,
           pg_catalog.count(*)::bigint as calls,
           (pg_catalog.count(*) filter (where k.cause is not null))::bigint as short,
           (pg_catalog.count(*) filter (where k.recent))::bigint as calls_hour,
           (pg_catalog.count(*) filter (where k.recent and k.cause is not null))::bigint as short_hour
      from counted k group by k.caller_id, k.campaign_id, k.cause
  ),
  -- The causes per caller ID and per campaign: one grouping each, joined below (a lookup per
  -- caller ID into the groups would cost caller IDs x groups).
  caller_causes as materialized (
    select x.caller_id, pg_catalog.jsonb_object_agg(x.cause, x.n) as causes
      from (select g.caller_id, g.cause, pg_catalog.sum(g.short)::bigint as n from grouped g
             where g.cause is not null group by g.caller_id, g.cause) x
     group by x.caller_id
  ),
  campaign_causes as materialized (
    select x.campaign_id, pg_catalog.jsonb_object_agg(x.cause, x.n) as causes
      from (select g.campaign_id, g.cause, pg_catalog.sum(g.short)::bigint as n from grouped g
             where g.cause is not null group by g.campaign_id, g.cause) x
     group by x.campaign_id
  ),
  by_caller as (
    select s.caller_id, s.calls, s.short, s.calls_hour, s.short_hour, coalesce(cc.causes, '{}'::jsonb) as causes
      from (select g.caller_id, pg_catalog.sum(g.calls)::bigint as calls, pg_catalog.sum(g.short)::bigint as short,
                   pg_catalog.sum(g.calls_hour)::bigint as calls_hour, pg_catalog.sum(g.short_hour)::bigint as short_hour
              from grouped g group by g.caller_id) s
      left join caller_causes cc on cc.caller_id = s.caller_id
  ),
  numbers as (
    select b.caller_id, b.calls, b.short, b.calls_hour, b.short_hour, b.causes from by_caller b
    union all
    select n.phone_number::text, 0, 0, 0, 0, '{}'::jsonb from public.phone_numbers n
     where n.is_active and not exists (select 1 from by_caller b where b.caller_id = n.phone_number::text)
  ),
  account as (
    select coalesce(pg_catalog.sum(g.calls), 0)::bigint as calls, coalesce(pg_catalog.sum(g.short), 0)::bigint as short,
           coalesce(pg_catalog.sum(g.calls_hour), 0)::bigint as calls_hour, coalesce(pg_catalog.sum(g.short_hour), 0)::bigint as short_hour,
           (select coalesce(pg_catalog.jsonb_object_agg(x.cause, x.n), '{}'::jsonb)
              from (select g2.cause, pg_catalog.sum(g2.short)::bigint as n from grouped g2
                     where g2.cause is not null group by g2.cause) x) as causes
      from grouped g
  ),
  by_campaign as (
    select s.campaign_id, s.calls, s.short, coalesce(cc.causes, '{}'::jsonb) as causes
      from (select g.campaign_id, pg_catalog.sum(g.calls)::bigint as calls, pg_catalog.sum(g.short)::bigint as short
              from grouped g group by g.campaign_id) s
      left join campaign_causes cc on cc.campaign_id is not distinct from s.campaign_id
  )
  select pg_catalog.jsonb_build_object(
           'short_call_seconds', v_short_s,
           'daily_calls_threshold', v_daily,
           'short_percent_threshold', v_pct,
           'near_percent', v_near,
           'day_start', v_day_start,
           'calling_ends_at', v_ends_at,
           'seconds_left', pg_catalog.round(v_left_s::numeric, 3),
           'rate_window_seconds', pg_catalog.round(v_window_s::numeric, 3),
           'account', (select public.short_call_figures(a.calls, a.short, a.calls_hour, a.short_hour, v_window_s, v_left_s, v_daily, v_pct, v_near, a.causes)
                         from account a),
           'caller_ids', coalesce((select pg_catalog.jsonb_agg(
                             public.short_call_figures(n.calls, n.short, n.calls_hour, n.short_hour, v_window_s, v_left_s, v_daily, v_pct, v_near, n.causes)
                               || pg_catalog.jsonb_build_object('caller_id', n.caller_id)
                             order by n.caller_id) from numbers n), '[]'::jsonb),
           'campaigns', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                             'campaign_id', b.campaign_id, 'name', k.name, 'calls_today', b.calls, 'short_today', b.short,
                             'short_ratio', case when b.calls > 0 then pg_catalog.round(b.short::numeric / b.calls, 4) end,
                             'causes', b.causes,
                             'settings', case when k.id is not null then pg_catalog.jsonb_build_object(
                               'mode', k.mode, 'dial_ratio', k.dial_ratio, 'ring_timeout', k.ring_timeout,
                               'amd_machine', k.amd_machine, 'amd_unknown', k.amd_unknown,
                               'disclaimer_seconds', k.disclaimer_seconds, 'abandon_cap', k.abandon_cap) end)
                             order by b.short desc, b.campaign_id nulls last)
                           from by_campaign b left join public.campaigns k on k.id = b.campaign_id), '[]'::jsonb))
    into v_result;
  return v_result;
end;
$$;

-- One set of figures: today's counts, the last hour's, the projection to the end of the
-- calling day (count + last hour's pace x seconds left, rounded), the ratios, and the flags.
create or replace function public.short_call_figures(
  p_calls bigint, p_short bigint, p_calls_hour bigint, p_short_hour bigint, p_window_s float8, p_left_s float8,
  p_daily bigint, p_pct numeric, p_near numeric, p_causes jsonb
) returns jsonb
language sql immutable parallel safe
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
           'calls_today', p_calls, 'short_today', p_short,
           'short_ratio', case when p_calls > 0 then pg_catalog.round(p_short::numeric / p_calls, 4) end,
           'calls_last_hour', p_calls_hour, 'short_last_hour', p_short_hour,
           'projected_calls', pc, 'projected_short', ps,
           'projected_ratio', case when pc > 0 then pg_catalog.round(ps::numeric / pc, 4) end,
           'reached', p_calls >= p_daily and p_calls > 0 and p_short * 100 >= p_pct * p_calls,
           'near', pc * 100 >= p_near * p_daily and pc > 0 and ps * 100 * 100 >= p_near * p_pct * pc,
           'over', pc >= p_daily and pc > 0 and ps * 100 >= p_pct * pc,
           'causes', coalesce(p_causes, '{}'::jsonb))
    from (select p_calls + pg_catalog.round(p_calls_hour * p_left_s / p_window_s)::bigint as pc,
                 p_short + pg_catalog.round(p_short_hour * p_left_s / p_window_s)::bigint as ps) p
$$;


revoke execute on function public.short_call_figures(bigint, bigint, bigint, bigint, float8, float8, bigint, numeric, numeric, jsonb) from public, anon, authenticated;
grant execute on function public.short_call_figures(bigint, bigint, bigint, bigint, float8, float8, bigint, numeric, numeric, jsonb) to service_role;

-- ---------------------------------------------------------------------------------------
-- The monitor's answer, shared: computing it reads the whole day's calls (about 0.2-0.3 s at
-- 100,000 calls over 600 caller IDs and 10 campaigns, tests/bench/anatel.sql), while the
-- board polls every few seconds per open page and the pacer's rounds run many times a second.
-- One row per set of thresholds keeps the last answer (monitor) and the guard's state derived
-- from it (state), for cache_seconds (the projection moves over minutes).
create table if not exists public.short_call_guard_cache (
  settings    jsonb primary key,
  computed_at timestamptz not null,
  state       jsonb not null,
  monitor     jsonb not null
);
alter table public.short_call_guard_cache enable row level security;
comment on table public.short_call_guard_cache is
  'The short-call monitor''s last answer per set of Anatel thresholds and the guard''s state from it (short_call_cached), kept a few seconds.';

-- The kept answer (a short_call_guard_cache row) for p_settings' thresholds at p_now,
-- recomputed when older than cache_seconds (0-300, default 10; 0: always recomputed) or of
-- another day. Single-flight: one transaction per set of thresholds recomputes (a try-lock
-- on the thresholds' key, on every path, also when no row is kept yet); the others take the
-- kept row as long as it is of the same day and at most stale_seconds old (cache_seconds-3600,
-- default 60), else null (unknown), without waiting. compute = false (a round with a time
-- budget): never recomputes, only reads (the same rule: the kept row or null).
create or replace function public.short_call_cached(p_now timestamptz, p_settings jsonb)
returns public.short_call_guard_cache
language plpgsql
set search_path = ''
as $$
declare
  v_settings jsonb := coalesce(p_settings, '{}'::jsonb);
  v_now      timestamptz := coalesce(p_now, public.app_now());
  v_key      jsonb;
  v_cache_s  numeric;
  v_stale_s  numeric;
  v_compute  boolean;
  v_row      public.short_call_guard_cache;
  v_usable   boolean;
  v_day      date := (v_now at time zone 'America/Sao_Paulo')::date;
  v_monitor  jsonb;
begin
  begin
    v_cache_s := coalesce((v_settings->>'cache_seconds')::numeric, 10);
    v_stale_s := coalesce((v_settings->>'stale_seconds')::numeric, greatest(v_cache_s, 60));
    v_compute := coalesce((v_settings->>'compute')::boolean, true);
  exception when invalid_text_representation then
    raise exception 'short_call_cached: cache_seconds and stale_seconds must be numbers, compute a boolean' using errcode = '22023';
  end;
  if v_cache_s < 0 or v_cache_s > 300 then
    raise exception 'short_call_cached: cache_seconds must be 0-300, got %', v_cache_s using errcode = '22023';
  end if;
  if v_stale_s < v_cache_s or v_stale_s > 3600 then
    raise exception 'short_call_cached: stale_seconds must be cache_seconds-3600, got %', v_stale_s using errcode = '22023';
  end if;
  -- The key: the thresholds only (defaults filled in), whoever asks (board, rounds).
  v_key := pg_catalog.jsonb_build_object(
    'short_call_seconds', coalesce(v_settings->'short_call_seconds', '6'::jsonb),
    'anatel_daily_calls', coalesce(v_settings->'anatel_daily_calls', '100000'::jsonb),
    'anatel_short_percent', coalesce(v_settings->'anatel_short_percent', '85'::jsonb),
    'anatel_near_percent', coalesce(v_settings->'anatel_near_percent', '80'::jsonb),
    'min_pace_seconds', coalesce(v_settings->'min_pace_seconds', '900'::jsonb));

  select * into v_row from public.short_call_guard_cache g where g.settings = v_key;
  v_usable := found and (v_row.computed_at at time zone 'America/Sao_Paulo')::date = v_day
              and v_row.computed_at <= v_now and v_row.computed_at > v_now - pg_catalog.make_interval(secs => v_stale_s::float8);
  if v_usable and v_row.computed_at > v_now - pg_catalog.make_interval(secs => v_cache_s::float8) then
    return v_row;
  end if;
  if not v_compute then
    return case when v_usable then v_row end;
  end if;
  if v_cache_s > 0 then
    if not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('discador.short_call_cached'), pg_catalog.hashtext(v_key::text)) then
      return case when v_usable then v_row end;
    end if;
    -- Another transaction may have recomputed between the read above and the lock.
    select * into v_row from public.short_call_guard_cache g where g.settings = v_key;
    if found and (v_row.computed_at at time zone 'America/Sao_Paulo')::date = v_day and v_row.computed_at <= v_now
       and v_row.computed_at > v_now - pg_catalog.make_interval(secs => v_cache_s::float8) then
      return v_row;
    end if;
  end if;
  v_monitor := public.short_call_monitor(v_now, v_key);
  v_row.settings := v_key;
  v_row.computed_at := v_now;
  v_row.monitor := v_monitor;
  v_row.state := (v_monitor->'account') - 'causes' || pg_catalog.jsonb_build_object(
    'computed_at', v_now,
    'near_caller_ids', coalesce((select pg_catalog.jsonb_agg(n->>'caller_id' order by n->>'caller_id')
                                   from pg_catalog.jsonb_array_elements(v_monitor->'caller_ids') n
                                  where (n->>'near')::boolean or (n->>'over')::boolean), '[]'::jsonb));
  insert into public.short_call_guard_cache as g (settings, computed_at, state, monitor)
  values (v_row.settings, v_row.computed_at, v_row.state, v_row.monitor)
  on conflict (settings) do update set computed_at = excluded.computed_at, state = excluded.state, monitor = excluded.monitor;
  return v_row;
end;
$$;
revoke execute on function public.short_call_cached(timestamptz, jsonb) from public, anon, authenticated;
grant execute on function public.short_call_cached(timestamptz, jsonb) to service_role;

-- The pacer's short-call guard (SHORT_CALL_GUARD=slow, docs/anatel.md): the account's figures
-- (short_call_monitor's account, without causes) plus computed_at and near_caller_ids (the
-- caller IDs near or over), from short_call_cached (p_settings: the thresholds, cache_seconds,
-- stale_seconds, compute); null when unknown (nothing usable kept and not recomputed here).
create or replace function public.short_call_guard(p_now timestamptz, p_settings jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
begin
  return (public.short_call_cached(p_now, p_settings)).state;
end;
$$;
revoke execute on function public.short_call_guard(timestamptz, jsonb) from public, anon, authenticated;
grant execute on function public.short_call_guard(timestamptz, jsonb) to service_role;

-- The board's part: the kept monitor answer (at most 10 s old, recomputed by one poll at a time;
-- null when another transaction is recomputing and nothing usable is kept).
create or replace function public.board_anatel(p_now timestamptz, p_day_start timestamptz, p_settings jsonb)
returns jsonb language plpgsql set search_path = '' as $$
begin
  return (public.short_call_cached(p_now, pg_catalog.jsonb_build_object('cache_seconds', 10) || coalesce(p_settings, '{}'::jsonb))).monitor;
end;
$$;

-- pacer_round_begin (20261127090300_pacer.sql) with one more argument: p_anatel, the Anatel
-- settings when the guard is on (null: off, nothing read). Its answer gains `anatel`: the
-- guard's state (short_call_guard) when p_anatel is given, else null. Everything else is as
-- before; still one round trip per round.
drop function if exists public.pacer_round_begin(uuid, bigint, numeric, integer, jsonb);
create or replace function public.pacer_round_begin(
  p_owner uuid, p_campaign_id bigint, p_lease_seconds numeric, p_presence_seconds integer, p_windows jsonb,
  p_anatel jsonb default null
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_now      timestamptz := public.app_now();
  v_key      text;
  v_dials    integer;
  v_rounds   jsonb := '[]'::jsonb;
  v_campaign public.campaigns;
  v_anatel   jsonb;
begin
  if p_owner is null then
    raise exception 'p_owner is required' using errcode = '22023';
  end if;
  if p_lease_seconds is null or p_lease_seconds <= 0 or p_lease_seconds > 600 then
    raise exception 'p_lease_seconds must be in (0, 600]' using errcode = '22023';
  end if;
  if p_presence_seconds is null or p_presence_seconds <= 0 then
    raise exception 'p_presence_seconds must be positive' using errcode = '22023';
  end if;
  foreach v_key in array array['answer_rate_dials', 'ring_time_dials', 'answer_time_answers', 'machine_rate_answers',
                               'amd_time_answers', 'talk_samples', 'wrap_up_samples'] loop
    if pg_catalog.jsonb_typeof(p_windows->v_key) is distinct from 'number' or (p_windows->>v_key)::numeric < 1 then
      raise exception 'p_windows.% must be a positive number', v_key using errcode = '22023';
    end if;
  end loop;
  if p_anatel is not null and pg_catalog.jsonb_typeof(p_anatel) <> 'object' then
    raise exception 'p_anatel must be a JSON object (the Anatel settings) or null' using errcode = '22023';
  end if;

  -- The guard's state first, before any campaign row is locked by the leases below (a
  -- recomputation reads the whole day's calls; rounds with a time budget pass compute = false
  -- and only read the kept state).
  if p_anatel is not null then
    v_anatel := public.short_call_guard(v_now, p_anatel);
  end if;

  select (pg_catalog.count(*))::integer into v_dials from public.calls c
   where c.created_at > v_now - interval '1 second' and c.direction = 'outbound-api';

  for v_campaign in
    with free as (
      select c.id from public.campaigns c
       where c.status = 'active' and (p_campaign_id is null or c.id = p_campaign_id)
         and (c.tick_lease_until is null or c.tick_lease_until <= v_now)
       order by c.id
       for update skip locked
    )
    update public.campaigns c
       set tick_lease_owner = p_owner,
           tick_lease_until = v_now + pg_catalog.make_interval(secs => p_lease_seconds::float8),
           tick_last_at = v_now
      from free where c.id = free.id
    returning c.*
  loop
    v_rounds := v_rounds || pg_catalog.jsonb_build_array(public.pacer_snapshot(v_campaign, p_presence_seconds, p_windows, v_dials));
  end loop;
  return pg_catalog.jsonb_build_object('now_ms', (extract(epoch from v_now) * 1000)::bigint, 'dials_last_second', v_dials,
                                       'rounds', v_rounds, 'anatel', v_anatel);
end;
$$;
revoke execute on function public.pacer_round_begin(uuid, bigint, numeric, integer, jsonb, jsonb) from public, anon, authenticated;
grant execute on function public.pacer_round_begin(uuid, bigint, numeric, integer, jsonb, jsonb) to service_role;
