-- The Anatel short-call monitor and the pacer's guard at 100,000 calls today (docs/anatel.md):
--   npm run build && npx tsx stack/start.ts --ephemeral --json --no-emulator --no-build --no-demo   (prints DATABASE_URL)
--   psql "$DATABASE_URL" -f tests/bench/anatel.sql
-- Seeds (into that throw-away database) 100,000 calls today over 600 caller IDs (a few hundred
-- calls each: a day's cap per number) and 10 campaigns, every caller ID dialing for every
-- campaign, every kind of ending, plus 600,000 calls of earlier days; then times
-- short_call_monitor, the board's part (kept / recomputed) and pacer_round_begin with the
-- guard off, recomputing, kept, and only reading (a round with a time budget). Today's calls
-- are spread over the 50 minutes before now (within the day): run it after 01:00 São Paulo time.
\set ON_ERROR_STOP on
insert into campaigns (name, status, mode) select 'anatel perf ' || g, 'paused', 'predictive' from generate_series(1, 10) g;
insert into campaigns (name, status, mode) values ('anatel guard perf', 'active', 'power') returning id as gid \gset
select pg_catalog.array_agg(id order by id) as cids from campaigns where name like 'anatel perf %' \gset
insert into phone_numbers (phone_number, daily_cap) select '+55' || d || '3200' || lpad(i::text, 4, '0'), 300
  from unnest(array[11,21,31,41,51,61,71,81,91,92,68,65]) d, generate_series(1, 50) i on conflict do nothing;
create temp table bench_numbers as
  select row_number() over (order by phone_number) - 1 as k, phone_number from phone_numbers where phone_number like '+55__3200____';
insert into calls (call_sid, direction, campaign_id, caller_id, to_number, status, created_at, duration, answered_by, amd_action, live_at, disclaimer_ended_at, connected_at, abandoned_at)
  select 'CA' || md5('anatel' || i || '-' || :gid), 'outbound-api', (:'cids'::bigint[])[1 + (i / 7) % 10], n.phone_number, '+5511999999999',
         (array['completed','no-answer','busy','failed','completed','completed','completed','no-answer'])[1 + i % 8],
         greatest(date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo', now() - interval '50 minutes')
           + (i * interval '0.029 second'),
         case when i % 8 in (0, 4, 5, 6) then (i % 40) end,
         case when i % 8 = 4 then 'machine_end_beep' when i % 8 in (0, 5, 6) then 'human' end,
         case when i % 8 = 4 then 'hangup' end,
         case when i % 8 in (0, 5, 6) then now() end, case when i % 8 in (0, 6) then now() end,
         case when i % 8 = 6 then now() end, case when i % 80 = 5 then now() end
    from generate_series(1, 100000) i join bench_numbers n on n.k = i % 600;
insert into calls (call_sid, direction, campaign_id, caller_id, to_number, status, created_at, duration)
  select 'CA' || md5('anatel-old' || d || '-' || i || '-' || :gid), 'outbound-api', (:'cids'::bigint[])[1], '+551132000001', '+5511999999999', 'completed',
         now() - (d + 1) * interval '1 day' + i * interval '0.5 second', i % 30
    from generate_series(1, 100000) i, generate_series(0, 5) d;
vacuum analyze calls;
select count(*) as calls_today, count(distinct caller_id) as caller_ids, count(distinct campaign_id) as campaigns
  from calls where created_at >= date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo';

\set w '{"answer_rate_dials":500,"ring_time_dials":500,"answer_time_answers":300,"machine_rate_answers":300,"amd_time_answers":300,"talk_samples":200,"wrap_up_samples":200}'
\set recompute '{"short_call_seconds":6,"anatel_daily_calls":100000,"anatel_short_percent":85,"anatel_near_percent":80,"cache_seconds":0}'
\set kept '{"short_call_seconds":6,"anatel_daily_calls":100000,"anatel_short_percent":85,"anatel_near_percent":80,"cache_seconds":300}'
\set readonly '{"short_call_seconds":6,"anatel_daily_calls":100000,"anatel_short_percent":85,"anatel_near_percent":80,"cache_seconds":10,"stale_seconds":300,"compute":false}'
\timing on
\echo short_call_monitor
select length(short_call_monitor(now(), '{}')::text);
select length(short_call_monitor(now(), '{}')::text);
select length(short_call_monitor(now(), '{}')::text);
\echo board_anatel, recomputed (the first poll after 10 s)
delete from short_call_guard_cache;
select length(board_anatel(now(), now(), '{"short_call_seconds":6}')::text);
\echo board_anatel, kept (every other poll)
select length(board_anatel(now(), now(), '{"short_call_seconds":6}')::text);
select length(board_anatel(now(), now(), '{"short_call_seconds":6}')::text);
-- A lease of a millisecond: each call leases the campaign again.
\echo pacer_round_begin, guard off
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w')::text);
\echo pacer_round_begin, guard on, recomputed (the heartbeat, at most once per 10 s)
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'recompute')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'recompute')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'recompute')::text);
\echo pacer_round_begin, guard on, kept
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'kept')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'kept')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'kept')::text);
\echo pacer_round_begin, guard on, a round with a time budget (reads only, never recomputes)
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'readonly')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'readonly')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'readonly')::text);
\timing off
select pacer_round_end('00000000-0000-0000-0000-00000000a7e1', '[]');
