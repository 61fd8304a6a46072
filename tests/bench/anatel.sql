-- The Anatel short-call monitor and the pacer's guard at 100,000 calls today (docs/anatel.md):
--   npm run build && npx tsx stack/start.ts --ephemeral --json --no-emulator --no-build   (prints DATABASE_URL)
--   psql "$DATABASE_URL" -f tests/bench/anatel.sql
-- Seeds (into that throw-away database) 100,000 calls today over 60 caller IDs, every kind of
-- ending, and 700,000 of earlier days, then times short_call_monitor and pacer_round_begin
-- with the guard off, recomputing, and kept. Today's calls are spread over the day's first 50
-- minutes: run it after 01:00 São Paulo time.
\set ON_ERROR_STOP on
insert into campaigns (name, status, mode) values ('anatel perf', 'paused', 'predictive') returning id as cid \gset
insert into campaigns (name, status, mode) values ('anatel guard perf', 'active', 'power') returning id as gid \gset
insert into phone_numbers (phone_number, daily_cap) select '+55' || d || '3100' || lpad(i::text, 4, '0'), 100000
  from unnest(array[11,21,31,41,51,61,71,81,91,92,68,65]) d, generate_series(1, 5) i on conflict do nothing;
insert into calls (call_sid, direction, campaign_id, caller_id, to_number, status, created_at, duration, answered_by, amd_action, live_at, disclaimer_ended_at, connected_at, abandoned_at)
  select 'CA' || md5('anatel' || d || '-' || i || '-' || :cid), 'outbound-api', :cid,
         '+55' || (array[11,21,31,41,51,61,71,81,91,92,68,65])[1 + i % 12] || '3100' || lpad((1 + i % 5)::text, 4, '0'), '+5511999999999',
         (array['completed','no-answer','busy','failed','completed','completed','completed','no-answer'])[1 + i % 8],
         greatest(date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo', now() - interval '10 hours')
           - d * interval '1 day' + (i * interval '0.029 second'),
         case when i % 8 in (0, 4, 5, 6) then (i % 40) end,
         case when i % 8 = 4 then 'machine_end_beep' when i % 8 in (0, 5, 6) then 'human' end,
         case when i % 8 = 4 then 'hangup' end,
         case when i % 8 in (0, 5, 6) then now() end, case when i % 8 in (0, 6) then now() end,
         case when i % 8 = 6 then now() end, case when i % 80 = 5 then now() end
    from generate_series(1, 100000) i, generate_series(0, 1) d;
insert into calls (call_sid, direction, campaign_id, caller_id, to_number, status, created_at, duration)
  select 'CA' || md5('anatel-old' || d || '-' || i || '-' || :cid), 'outbound-api', :cid, '+551131000001', '+5511999999999', 'completed',
         now() - (d + 2) * interval '1 day' + i * interval '0.5 second', i % 30
    from generate_series(1, 100000) i, generate_series(0, 5) d;
vacuum analyze calls;
select count(*) as calls_today from calls where created_at >= date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo';

\set w '{"answer_rate_dials":500,"ring_time_dials":500,"answer_time_answers":300,"machine_rate_answers":300,"amd_time_answers":300,"talk_samples":200,"wrap_up_samples":200}'
\set recompute '{"short_call_seconds":6,"anatel_daily_calls":100000,"anatel_short_percent":85,"anatel_near_percent":80,"cache_seconds":0}'
\set kept '{"short_call_seconds":6,"anatel_daily_calls":100000,"anatel_short_percent":85,"anatel_near_percent":80,"cache_seconds":300}'
\timing on
\echo short_call_monitor
select length(short_call_monitor(now(), '{}')::text);
select length(short_call_monitor(now(), '{}')::text);
select length(short_call_monitor(now(), '{}')::text);
-- A lease of a millisecond: each call leases the campaign again.
\echo pacer_round_begin, guard off
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w')::text);
\echo pacer_round_begin, guard on, recomputed
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'recompute')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'recompute')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'recompute')::text);
\echo pacer_round_begin, guard on, kept
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'kept')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'kept')::text);
select length(pacer_round_begin('00000000-0000-0000-0000-00000000a7e1', :gid, 0.001, 20, :'w', :'kept')::text);
\timing off
select pacer_round_end('00000000-0000-0000-0000-00000000a7e1', '[]');
