/**
 * The Anatel settings the SQL functions are given, the pacer's short-call guard (pure), and
 * the causes the pages label being the ones the monitor's SQL produces.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { anatelSettings, GUARD_CACHE_SECONDS, GUARD_STALE_SECONDS, guardLimit, guardSettings, SHORT_CALL_CAUSES, type GuardState } from '../../src/lib/domain/anatel';
import { loadConfig } from '../../src/lib/runtime/config';
import type { AgentActivity } from '../../src/lib/domain/pacing';

const base = { SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SERVICE_ROLE_KEY: 'k'.repeat(40), PUBLIC_BASE_URL: 'https://discador.example' };

describe('anatelSettings / guardSettings', () => {
  it('defaults: 6 s, 100,000 calls, 85 %, near at 80 %, the guard on (slow)', () => {
    const config = loadConfig(base);
    expect(anatelSettings(config)).toEqual({ short_call_seconds: 6, anatel_daily_calls: 100000, anatel_short_percent: 85, anatel_near_percent: 80 });
    expect(guardSettings(config)).toEqual({ ...anatelSettings(config), cache_seconds: GUARD_CACHE_SECONDS, stale_seconds: GUARD_STALE_SECONDS, compute: true });
    // A round with a time budget only reads the kept figures.
    expect(guardSettings(config, false)).toMatchObject({ compute: false });
  });

  it('from configuration; SHORT_CALL_GUARD=off gives the pacer no settings', () => {
    const config = loadConfig({ ...base, SHORT_CALL_SECONDS: '3', ANATEL_DAILY_CALLS: '50000', ANATEL_SHORT_PERCENT: '90', ANATEL_NEAR_PERCENT: '75', SHORT_CALL_GUARD: 'off' });
    expect(anatelSettings(config)).toEqual({ short_call_seconds: 3, anatel_daily_calls: 50000, anatel_short_percent: 90, anatel_near_percent: 75 });
    expect(guardSettings(config)).toBeNull();
  });

  it('refuses bad values', () => {
    expect(() => loadConfig({ ...base, SHORT_CALL_GUARD: 'stop' })).toThrow(/SHORT_CALL_GUARD/);
    expect(() => loadConfig({ ...base, ANATEL_SHORT_PERCENT: '0' })).toThrow(/ANATEL_SHORT_PERCENT/);
    expect(() => loadConfig({ ...base, ANATEL_NEAR_PERCENT: '101' })).toThrow(/ANATEL_NEAR_PERCENT/);
    expect(() => loadConfig({ ...base, ANATEL_DAILY_CALLS: '0' })).toThrow(/ANATEL_DAILY_CALLS/);
  });
});

describe('guardLimit', () => {
  const state = (near: boolean, over = false): GuardState => ({
    calls_today: 90000, short_today: 70000, short_ratio: 0.7778, calls_last_hour: 9000, short_last_hour: 7000,
    projected_calls: 120000, projected_short: 95000, projected_ratio: 0.7917, reached: false, near, over,
    computed_at: '2026-11-26T12:00:00Z', near_caller_ids: [],
  });
  const snap = (activities: AgentActivity[], ringing = 0, detecting = 0, waiting = 0, connected = 0) => ({
    agents: activities.map((activity) => ({ activity, sinceMs: 0 })),
    calls: { ringing, detecting, waiting, connected },
  });

  it('not near, or no state (guard off): no limit', () => {
    expect(guardLimit(snap(['available', 'available']), 6, state(false))).toBeNull();
    expect(guardLimit(snap(['available', 'available']), 6, null)).toBeNull();
    expect(guardLimit(snap(['available', 'available']), 6, undefined)).toBeNull();
  });

  it('near: 1:1, lines in flight without an agent count against the available agents', () => {
    expect(guardLimit(snap(['available', 'available', 'available', 'talking', 'paused']), 7, state(true))).toMatchObject({ dial: 3 });
    // Ringing, detecting and waiting calls are on their way to the available agents; connected ones have theirs.
    expect(guardLimit(snap(['available', 'available', 'available', 'talking'], 1, 1, 0, 5), 7, state(true))).toMatchObject({ dial: 1 });
    expect(guardLimit(snap(['available'], 1, 0, 1), 3, state(true))).toMatchObject({ dial: 0 });
    const limited = guardLimit(snap(['available', 'available']), 6, state(true, true))!;
    expect(limited.explanation).toBe(
      "Short-call guard: the day is projected at 120000 call(s), 79.2 % short (over Anatel's thresholds); dialing 1:1: 2 available agent(s), 0 call(s) in flight, 2 dial(s) instead of 6.",
    );
  });

  it('near: a call left queued past the ring timeout (a failed create, a lost callback) holds no agent', () => {
    const nowMs = 1_000_000_000;
    const stuck = { ...snap(['available', 'available', 'available'], 3), nowMs, ringingSinceMs: [nowMs - 5_000, nowMs - 60_000, nowMs - 300_000] };
    // Ring timeout 25 s: ringing for 5 s counts; 60 s and 300 s (past 25 + 30 s) do not.
    expect(guardLimit(stuck, 6, state(true), 25)).toMatchObject({ dial: 2 });
    expect(guardLimit(stuck, 6, state(true), 25)!.explanation).toMatch(/1 call\(s\) in flight, 2 dial\(s\) instead of 6/);
    // Without the ring timeout, every ringing call counts.
    expect(guardLimit(stuck, 6, state(true))).toMatchObject({ dial: 0 });
  });

  it('near, but the round already dials no more than 1:1: no limit', () => {
    expect(guardLimit(snap(['available', 'available', 'available']), 3, state(true))).toBeNull();
    expect(guardLimit(snap(['available', 'available', 'available'], 1), 2, state(true))).toBeNull();
    expect(guardLimit(snap(['talking']), 0, state(true))).toBeNull();
  });
});

describe('SHORT_CALL_CAUSES', () => {
  it('names exactly the causes the monitor SQL produces', () => {
    const migration = readFileSync(join(__dirname, '../../supabase/migrations/20261130090000_anatel.sql'), 'utf8');
    const body = migration.slice(migration.indexOf('with counted as ('), migration.indexOf('grouped as ('));
    const produced = [...body.matchAll(/(?:then|else) '([a-z_]+)'/g)].map((m) => m[1]).sort();
    expect(produced).toEqual(Object.keys(SHORT_CALL_CAUSES).sort());
  });
});
