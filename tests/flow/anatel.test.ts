/**
 * The Anatel short-call monitor (short_call_monitor) against the flow stack's database: calls
 * of every kind from this suite's own caller IDs, counted and classified as hand-computed and
 * as independent SQL over the tables gives; the threshold's edge (6 s short, 7 s not) and its
 * configuration; what is not a call (attempts Twilio refused or never placed, calls still in
 * progress, yesterday's, inbound); the projection's arithmetic and flags; the account's figure
 * against independent SQL in the same statement (other suites add calls in parallel); bad
 * settings refused; the board (/api/board) showing it. Then the pacer's short-call guard:
 * a power campaign dials 1:1 while the account is near small thresholds, and the same round
 * with the guard off, or not near, dials as before.
 */
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import type twilio from 'twilio';
import { ROLLING_WINDOWS, type RoundBegin } from '../../src/lib/domain/dialer/snapshot';
import { runTick } from '../../src/lib/domain/dialer/tick';
import { loadConfig } from '../../src/lib/runtime/config';
import { callApi } from '../helpers/api-client';
import { env, session, sql, testDb } from '../helpers/db';
import { newCallSid, newMobile } from '../helpers/twilio';

/* eslint-disable @typescript-eslint/no-explicit-any */

const tag = randomBytes(4).toString('hex');
/** This suite's caller IDs: the classified calls, the threshold edges, the guard's short calls. */
const mine = { kinds: newMobile('31'), edge: newMobile('41'), guard: newMobile('51'), midnight: newMobile('61') };
let campaignId: number;
/** Seconds ago every "today" call was created: inside today and inside the last hour. */
let agoS = 120;

async function call(callerId: string, over: Record<string, unknown> = {}): Promise<void> {
  const cols: Record<string, unknown> = {
    call_sid: newCallSid(), direction: 'outbound-api', caller_id: callerId, campaign_id: campaignId,
    to_number: newMobile('11'), status: 'completed', ...over,
  };
  const createdAgo = (cols['created_ago'] as number | undefined) ?? agoS;
  delete cols['created_ago'];
  const keys = Object.keys(cols);
  await sql(
    `insert into calls (${keys.join(', ')}, created_at) values (${keys.map((_, i) => `$${i + 1}`).join(', ')}, now() - $${keys.length + 1} * interval '1 second')`,
    [...Object.values(cols), createdAgo],
  );
}

const monitor = async (settings: Record<string, unknown> = {}, at = 'now()') =>
  (await sql<{ m: any }>(`select short_call_monitor(${at}, $1) as m`, [JSON.stringify(settings)]))[0]!.m;
const figuresOf = (m: any, callerId: string) => m.caller_ids.find((c: any) => c.caller_id === callerId);

beforeAll(async () => {
  const [day] = await sql<{ since: number }>(
    `select extract(epoch from now() - (date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo'))::int as since`,
  );
  agoS = Math.max(1, Math.min(day!.since - 10, 120));
  const [k] = await sql<{ id: string }>(
    `insert into campaigns (name, mode, status, amd_machine, amd_unknown, ring_timeout, disclaimer_seconds) values ($1, 'predictive', 'paused', 'hangup', 'hangup', 22, 8) returning id`,
    [`Anatel ${tag}`],
  );
  campaignId = Number(k!.id);
  for (const n of Object.values(mine)) await sql(`insert into phone_numbers (phone_number, daily_cap) values ($1, 1000)`, [n]);

  const n = mine.kinds;
  // Counted, not short.
  await call(n, { duration: 120, answered_by: 'human', live_at: new Date(), disclaimer_ended_at: new Date(), connected_at: new Date(), outcome: 'human' });
  await call(n, { duration: 45, answered_by: 'machine_end_beep', amd_action: 'voicemail', outcome: 'machine_voicemail' });
  // Counted, short: one of each cause.
  await call(n, { status: 'busy' });
  await call(n, { status: 'failed' });
  await call(n, { status: 'no-answer', duration: 0 });
  await call(n, { status: 'no-answer' });
  await call(n, { status: 'canceled' });
  await call(n, { duration: 3, opted_out: true, end_reason: 'opted_out_after_dial', outcome: 'opted_out' });
  await call(n, { duration: 5, live_at: new Date(), disclaimer_ended_at: new Date(), abandoned_at: new Date(), outcome: 'abandoned' });
  await call(n, { duration: 4, live_at: new Date(), disclaimer_ended_at: new Date(), connected_at: new Date(), outcome: 'human' });
  await call(n, { duration: 2, campaign_id: null }); // a click-to-call answered and hung up
  await call(n, { duration: 5, answered_by: 'machine_end_beep', amd_action: 'voicemail', outcome: 'machine_voicemail' });
  await call(n, { duration: 4, answered_by: 'machine_start', amd_action: 'hangup', outcome: 'machine' });
  await call(n, { duration: 1, answered_by: 'fax', amd_action: 'hangup' });
  await call(n, { duration: 2, answered_by: 'unknown', amd_action: 'hangup' });
  await call(n, { duration: 3, answered_by: 'human', live_at: new Date() });
  await call(n, { duration: 6, answered_by: 'human', live_at: new Date(), disclaimer_ended_at: new Date() });
  await call(n, { duration: 1 });
  // Not calls: refused / never placed attempts, calls not over, yesterday's, inbound.
  await call(n, { call_sid: null, status: 'failed', end_reason: 'twilio_refused', error_code: 21211 });
  await call(n, { call_sid: null, status: 'failed', end_reason: 'never_placed' });
  await call(n, { status: 'failed', end_reason: 'twilio_refused' });
  await call(n, { status: 'in-progress', duration: null });
  await call(n, { status: 'ringing' });
  await call(n, { status: 'no-answer', created_ago: day!.since + 60 });
  await call(n, { direction: 'inbound', caller_id: null, from_number: newMobile('11'), to_number: n, duration: 2 });

  // The edge: 6 s is short, 7 s is not (with the default 6).
  for (const d of [0, 5, 6, 6, 7, 8, 30]) await call(mine.edge, { duration: d, answered_by: 'human', connected_at: new Date() });
});

describe('short_call_monitor', () => {
  it("counts and classifies one caller ID's calls as computed by hand", async () => {
    const m = await monitor();
    const f = figuresOf(m, mine.kinds);
    expect(f).toMatchObject({ calls_today: 18, short_today: 16, short_ratio: Number((16 / 18).toFixed(4)), calls_last_hour: 18, short_last_hour: 16 });
    expect(f.causes).toEqual({
      busy: 1, failed: 1, no_answer: 2, canceled: 1, opted_out: 1, abandoned: 1, short_talk: 2, voicemail_drop: 1,
      amd_hangup: 2, amd_unknown_hangup: 1, disclaimer_hangup: 1, waiting_hangup: 1, answered_hangup: 1,
    });
    // The same rows the board's caller-ID figures count.
    const [board] = await sql<{ ended: number; short: number }>(
      `select count(*)::int as ended, (count(*) filter (where coalesce(duration, 0) <= 6))::int as short from calls c
        where c.caller_id = $1 and c.created_at >= date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo'
          and c.status in ('completed', 'no-answer', 'busy', 'failed', 'canceled') and c.call_sid is not null
          and c.end_reason is distinct from 'twilio_refused' and c.end_reason is distinct from 'never_placed'`,
      [mine.kinds],
    );
    expect([f.calls_today, f.short_today]).toEqual([board!.ended, board!.short]);
    // The campaign's part (these calls but the click-to-call, and the seven of the edge) names
    // the settings that feed its short calls.
    const k = m.campaigns.find((c: any) => c.campaign_id === campaignId);
    expect(k).toMatchObject({ name: `Anatel ${tag}`, calls_today: 17 + 7, short_today: 15 + 4 });
    expect(k.settings).toMatchObject({ mode: 'predictive', ring_timeout: 22, amd_machine: 'hangup', amd_unknown: 'hangup', disclaimer_seconds: 8 });
    expect(k.causes).toMatchObject({ short_talk: 1 + 4, amd_hangup: 2, no_answer: 2 });
  });

  it('6 s is short and 7 s is not; the threshold is the setting', async () => {
    expect(figuresOf(await monitor(), mine.edge)).toMatchObject({ calls_today: 7, short_today: 4 });
    expect(figuresOf(await monitor({ short_call_seconds: 7 }), mine.edge)).toMatchObject({ calls_today: 7, short_today: 5 });
    expect(figuresOf(await monitor({ short_call_seconds: 5 }), mine.edge)).toMatchObject({ calls_today: 7, short_today: 2 });
    expect(figuresOf(await monitor({ short_call_seconds: 3 }), mine.edge).short_today).toBe(1);
    expect((await monitor({ short_call_seconds: 7 })).short_call_seconds).toBe(7);
  });

  it("the account is the sum of its caller IDs and equals independent SQL in the same snapshot", async () => {
    const [r] = await sql<{ m: any; calls: number; short: number; hour: number }>(
      `select short_call_monitor(now(), '{}') as m,
              (select count(*)::int from calls c where c.caller_id is not null and c.call_sid is not null
                  and c.created_at >= date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo'
                  and c.status in ('completed', 'no-answer', 'busy', 'failed', 'canceled')
                  and coalesce(c.end_reason, '') not in ('twilio_refused', 'never_placed')) as calls,
              (select count(*)::int from calls c where c.caller_id is not null and c.call_sid is not null and coalesce(c.duration, 0) <= 6
                  and c.created_at >= date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo'
                  and c.status in ('completed', 'no-answer', 'busy', 'failed', 'canceled')
                  and coalesce(c.end_reason, '') not in ('twilio_refused', 'never_placed')) as short`,
    );
    const m = r!.m;
    expect(m.account.calls_today).toBe(r!.calls);
    expect(m.account.short_today).toBe(r!.short);
    const sum = (k: string) => m.caller_ids.reduce((s: number, c: any) => s + Number(c[k]), 0);
    expect(m.account.calls_today).toBe(sum('calls_today'));
    expect(m.account.short_today).toBe(sum('short_today'));
    expect(m.account.calls_last_hour).toBe(sum('calls_last_hour'));
    const causes = Object.values(m.account.causes as Record<string, number>).reduce((s, n) => s + n, 0);
    expect(causes).toBe(m.account.short_today);
    expect(m.account.calls_today).toBeGreaterThanOrEqual(25);
  });

  it('projects the day: count + last hour x time left, with the flags', async () => {
    const m = await monitor({ anatel_daily_calls: 1000, anatel_short_percent: 85, anatel_near_percent: 80 });
    const f = figuresOf(m, mine.kinds);
    const left = Number(m.seconds_left);
    const window = Number(m.rate_window_seconds);
    expect(window).toBeGreaterThan(0);
    expect(window).toBeLessThanOrEqual(3600);
    expect(f.projected_calls).toBe(18 + Math.round((18 * left) / window));
    expect(f.projected_short).toBe(16 + Math.round((16 * left) / window));
    // calling_ends_at: the latest window end today of the campaigns that may still dial; with a
    // paused campaign open until 24:00 it is the end of São Paulo's day, a fixed instant.
    await sql(
      `insert into campaigns (name, status, mode, window_profile, weekday_start, weekday_end, saturday_start, saturday_end, allow_sunday, sunday_start, sunday_end)
       values ($1, 'paused', 'power', 'custom', '00:00', '24:00', '00:00', '24:00', true, '00:00', '24:00')`,
      [`Anatel dia todo ${tag}`],
    );
    const [r] = await sql<{ m: any; end: string }>(
      `select short_call_monitor(now(), '{}') as m,
              (date_trunc('day', now() at time zone 'America/Sao_Paulo') + interval '1 day') at time zone 'America/Sao_Paulo' as end`,
    );
    expect(new Date(r!.m.calling_ends_at).getTime()).toBe(new Date(r!.end).getTime());
  });

  it('the projection and its flags (short_call_figures): edges of near, over and reached', async () => {
    const figures = async (a: number[]) =>
      (await sql<{ f: any }>(`select short_call_figures($1, $2, $3, $4, $5, $6, $7, $8, $9, '{}') as f`, a))[0]!.f;
    // 100 calls (90 short) so far; the last hour 60 (50 short); two hours left → 220 / 190.
    const f = await figures([100, 90, 60, 50, 3600, 7200, 300, 85, 80]);
    expect(f).toMatchObject({ projected_calls: 220, projected_short: 190, projected_ratio: 0.8636, near: false, over: false, reached: false });
    // near: 220 >= 80 % of 275 (220) and 86.4 % >= 80 % of 85 % (68 %).
    expect(await figures([100, 90, 60, 50, 3600, 7200, 275, 85, 80])).toMatchObject({ near: true, over: false });
    expect(await figures([100, 90, 60, 50, 3600, 7200, 276, 85, 80])).toMatchObject({ near: false });
    // over: 220 >= 220 and 190 / 220 >= 86.36 %.
    expect(await figures([100, 90, 60, 50, 3600, 7200, 220, 86, 80])).toMatchObject({ near: true, over: true });
    expect(await figures([100, 90, 60, 50, 3600, 7200, 220, 87, 80])).toMatchObject({ over: false });
    // The ratio side of near: 68 % exactly is near, under it is not.
    expect(await figures([100, 68, 0, 0, 3600, 7200, 100, 85, 80])).toMatchObject({ projected_calls: 100, near: true, over: false });
    expect(await figures([100, 67, 0, 0, 3600, 7200, 100, 85, 80])).toMatchObject({ near: false });
    // reached: today's own figures meet both thresholds (100 calls, 85 % short).
    expect(await figures([100, 85, 0, 0, 3600, 0, 100, 85, 80])).toMatchObject({ reached: true, over: true, short_ratio: 0.85 });
    // Nothing left of the day: the projection is the count; a pace over 30 min in the day's first half hour.
    expect(await figures([10, 5, 10, 5, 1800, 0, 100, 85, 80])).toMatchObject({ projected_calls: 10, projected_short: 5 });
    expect(await figures([10, 5, 10, 5, 1800, 1800, 100, 85, 80])).toMatchObject({ projected_calls: 20, projected_short: 10 });
    expect(await figures([0, 0, 0, 0, 3600, 3600, 100, 85, 80])).toMatchObject({ short_ratio: null, projected_ratio: null, near: false, over: false, reached: false });
  });

  it('refuses bad settings with a clear error', async () => {
    for (const [settings, message] of [
      [{ short_call_seconds: 0 }, /short_call_seconds must be 1-60/],
      [{ short_call_seconds: 'six' }, /must be numbers/],
      [{ anatel_daily_calls: 0 }, /anatel_daily_calls must be at least 1/],
      [{ anatel_short_percent: 101 }, /anatel_short_percent must be 0-100/],
      [{ anatel_near_percent: 0 }, /anatel_near_percent must be in \(0, 100\]/],
    ] as const) {
      await expect(monitor(settings as Record<string, unknown>)).rejects.toThrow(message);
    }
  });
});

describe('GET /api/board', () => {
  it("shows the monitor: this suite's caller IDs as the monitor counts them", async () => {
    const token = randomBytes(32).toString('base64url');
    const [u] = await sql<{ id: string }>(`insert into users (email, name, role) values ($1, 'Supervisora Anatel', 'supervisor') returning id`, [`${tag}@anatel.test`]);
    await sql(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '1 hour')`, [u!.id, createHash('sha256').update(token).digest('hex')]);
    // The board reads the kept answer (at most 10 s old): drop what was kept before this suite's calls.
    await sql(`delete from short_call_guard_cache where computed_at < now()`);
    let res = await callApi('/api/board', { token });
    if (res.json.anatel === null) res = await callApi('/api/board', { token }); // another poll was recomputing it
    expect(res.status).toBe(200);
    const a = res.json.anatel;
    expect(a).toMatchObject({ short_call_seconds: 6, daily_calls_threshold: 100000, short_percent_threshold: 85, near_percent: 80 });
    expect(figuresOf(a, mine.kinds)).toMatchObject({ calls_today: 18, short_today: 16, near: false, over: false });
    expect(figuresOf(a, mine.edge)).toMatchObject({ calls_today: 7, short_today: 4 });
    expect(a.account.calls_today).toBeGreaterThanOrEqual(25);
    // The board's own caller-ID figures agree.
    const row = res.json.caller_ids.find((c: any) => c.phone_number === mine.kinds);
    expect([row.ended_today, row.short_today]).toEqual([18, 16]);
  });
});

// ---------------------------------------------------------------------------------------
// The pacer's short-call guard.

function fakeTwilio() {
  const creates: Record<string, unknown>[] = [];
  const client = {
    calls: {
      create: async (p: Record<string, unknown>) => {
        creates.push(p);
        return { sid: newCallSid(), accountSid: env('TWILIO_ACCOUNT_SID') };
      },
    },
  };
  return { creates, client: client as unknown as twilio.Twilio };
}

const config = (over: Record<string, string> = {}) =>
  loadConfig({ SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY'), PUBLIC_BASE_URL: 'https://discador.example', ACCOUNT_CPS: '50', ...over });

/** Small thresholds the account is surely near (this suite alone places 30 short calls today). */
const NEAR = { ANATEL_DAILY_CALLS: '20', ANATEL_SHORT_PERCENT: '1', ANATEL_NEAR_PERCENT: '80' };

/** Campaigns this suite made: paused after each test, or every other suite's pacer rounds would dial their leads. */
const made: number[] = [];
afterEach(async () => {
  await sql(`update campaigns set status = 'paused' where id = any($1::bigint[])`, [made]);
  await sql(`update agents set status = 'offline', shift_call_sid = null where campaign_id = any($1::bigint[])`, [made]);
});

/** A power campaign at ratio 3, open all day, with two available agents and ten leads. */
async function powerCampaign(): Promise<number> {
  const [k] = await sql<{ id: string }>(
    `insert into campaigns (name, status, mode, dial_ratio, calls_per_second, window_profile, weekday_start, weekday_end, saturday_start, saturday_end,
                            allow_sunday, sunday_start, sunday_end, skip_holidays)
     values ($1, 'active', 'power', 3, 50, 'custom', '00:00', '24:00', '00:00', '24:00', true, '00:00', '24:00', false) returning id`,
    [`Anatel guarda ${randomBytes(4).toString('hex')}`],
  );
  const c = Number(k!.id);
  made.push(c);
  for (let i = 0; i < 2; i++) {
    await sql(
      `insert into agents (name, campaign_id, status, status_changed_at, shift_call_sid, last_seen_at) values ($1, $2, 'available', now() - interval '30 seconds', $3, now())`,
      [`Agente ${randomBytes(3).toString('hex')}`, c, newCallSid()],
    );
  }
  for (let i = 0; i < 10; i++) await sql(`insert into leads (campaign_id, phone_number, name) values ($1, $2, $3)`, [c, `+55119${randomInt(10_000_000, 99_999_999)}`, `Lead ${i}`]);
  return c;
}

describe('the pacer with SHORT_CALL_GUARD', () => {
  beforeAll(async () => {
    for (let i = 0; i < 30; i++) await call(mine.guard, { status: 'no-answer' });
  });

  it('slow, near: a power campaign at ratio 3 dials 1:1, logged as short_call_guard', async () => {
    const c = await powerCampaign();
    const tw = fakeTwilio();
    const result = await runTick({ db: testDb(), twilio: tw.client, config: config({ ...NEAR, SHORT_CALL_GUARD: 'slow' }) }, { trigger: 'heartbeat', campaignId: c });
    expect(result.rounds).toEqual([expect.objectContaining({ campaign_id: c, wanted: 6, dial: 2, claimed: 2, placed: 2, reason: 'short_call_guard' })]);
    expect(result.rounds[0]!.explanation).toMatch(/Short-call guard: .* dialing 1:1: 2 available agent\(s\), 0 call\(s\) in flight, 2 dial\(s\) instead of 6\./);
    expect(tw.creates).toHaveLength(2);
    const [logged] = await sql<{ reason: string; wanted: number; placed: number; explanation: string }>(`select reason, wanted, placed, explanation from pacer_rounds where campaign_id = $1`, [c]);
    expect(logged).toMatchObject({ reason: 'short_call_guard', wanted: 6, placed: 2 });
    expect(logged!.explanation).toMatch(/Short-call guard/);
    // A second round: two calls ringing for two agents, nothing more while near.
    const again = await runTick({ db: testDb(), twilio: tw.client, config: config({ ...NEAR, SHORT_CALL_GUARD: 'slow' }) }, { trigger: 'heartbeat', campaignId: c });
    expect(again.rounds[0]).toMatchObject({ dial: 0, placed: 0, reason: 'short_call_guard' });
    expect(tw.creates).toHaveLength(2);
  });

  it('off: the same campaign dials its ratio (3 per available agent)', async () => {
    const c = await powerCampaign();
    const tw = fakeTwilio();
    const result = await runTick({ db: testDb(), twilio: tw.client, config: config({ ...NEAR, SHORT_CALL_GUARD: 'off' }) }, { trigger: 'heartbeat', campaignId: c });
    expect(result.rounds).toEqual([expect.objectContaining({ campaign_id: c, wanted: 6, dial: 6, placed: 6, reason: 'power_ratio' })]);
    expect(tw.creates).toHaveLength(6);
  });

  it('slow, not near (the real thresholds): the ratio too', async () => {
    const c = await powerCampaign();
    const tw = fakeTwilio();
    const result = await runTick({ db: testDb(), twilio: tw.client, config: config({ SHORT_CALL_GUARD: 'slow', ANATEL_DAILY_CALLS: '100000000' }) }, { trigger: 'heartbeat', campaignId: c });
    expect(result.rounds).toEqual([expect.objectContaining({ campaign_id: c, dial: 6, placed: 6, reason: 'power_ratio' })]);
  });

  it('a round with a time budget (started by an event) never recomputes: unguarded until the heartbeat has kept a state, then guarded', async () => {
    const thresholds = { ANATEL_DAILY_CALLS: '24', ANATEL_SHORT_PERCENT: '1', ANATEL_NEAR_PERCENT: '80' };
    const kept = () => sql(`select 1 from short_call_guard_cache where settings->>'anatel_daily_calls' = '24'`);
    const deps = (tw: ReturnType<typeof fakeTwilio>) => ({ db: testDb(), twilio: tw.client, config: config({ ...thresholds, SHORT_CALL_GUARD: 'slow' }) });
    const first = await powerCampaign();
    const tw1 = fakeTwilio();
    const event = await runTick(deps(tw1), { trigger: 'call_ended', campaignId: first, budgetMs: 2500 });
    expect(event.rounds).toEqual([expect.objectContaining({ campaign_id: first, dial: 6, reason: 'power_ratio' })]);
    expect(await kept()).toHaveLength(0);
    const second = await powerCampaign();
    const beat = await runTick(deps(fakeTwilio()), { trigger: 'heartbeat', campaignId: second });
    expect(beat.rounds).toEqual([expect.objectContaining({ campaign_id: second, dial: 2, reason: 'short_call_guard' })]);
    expect(await kept()).toHaveLength(1);
    const third = await powerCampaign();
    const after = await runTick(deps(fakeTwilio()), { trigger: 'call_ended', campaignId: third, budgetMs: 2500 });
    expect(after.rounds).toEqual([expect.objectContaining({ campaign_id: third, dial: 2, reason: 'short_call_guard' })]);
  });

  it("pacer_round_begin: the guard's state with the Anatel settings, none without (one round trip either way)", async () => {
    const c = await powerCampaign();
    const settings = { short_call_seconds: 6, anatel_daily_calls: 21, anatel_short_percent: 1, anatel_near_percent: 80, cache_seconds: 10 };
    const begin = async (anatel: unknown) => {
      const owner = randomUUID();
      const r = await testDb().rpc<RoundBegin>('pacer_round_begin', { p_owner: owner, p_campaign_id: c, p_lease_seconds: 5, p_presence_seconds: 20, p_windows: ROLLING_WINDOWS, p_anatel: anatel });
      await sql(`select pacer_round_end($1, '[]')`, [owner]);
      return r;
    };
    const on = (await begin(settings)).data!;
    expect(on.rounds).toHaveLength(1);
    expect(on.anatel).toMatchObject({ near: true });
    expect(on.anatel!.near_caller_ids).toContain(mine.guard);
    expect(on.anatel!.calls_today).toBeGreaterThanOrEqual(55);
    // Kept for cache_seconds: a call ended since does not show until then.
    await call(mine.guard, { status: 'busy' });
    const kept = (await begin({ ...settings, cache_seconds: 300 })).data!;
    expect(kept.anatel!.computed_at).toBe(on.anatel!.computed_at);
    // cache_seconds 0: always recomputed (no try-lock to lose).
    const [{ at }] = (await sql<{ at: string }>(`select now() as at`)) as [{ at: string }];
    const fresh = (await begin({ ...settings, cache_seconds: 0 })).data!;
    expect(new Date(fresh.anatel!.computed_at).getTime()).toBeGreaterThanOrEqual(new Date(at).getTime());
    // A round with a time budget (compute false) only reads the kept state…
    const read = (await begin({ ...settings, cache_seconds: 0, stale_seconds: 60, compute: false })).data!;
    expect(read.anatel!.computed_at).toBe(fresh.anatel!.computed_at);
    // …and with nothing kept for its thresholds, the state is unknown (null): nothing computed.
    const unknown = (await begin({ ...settings, anatel_daily_calls: 22, compute: false })).data!;
    expect(unknown.anatel).toBeNull();
    expect(await sql(`select 1 from short_call_guard_cache where settings->>'anatel_daily_calls' = '22'`)).toHaveLength(0);
    const off = (await begin(null)).data!;
    expect(off.rounds).toHaveLength(1);
    expect(off.anatel).toBeNull();
    const bad = await begin([1]);
    expect(bad.error?.message).toMatch(/p_anatel must be a JSON object/);
  });
});

describe('the guard recomputes once at a time', () => {
  it('while another transaction recomputes the same thresholds and nothing is kept, a round does not compute too: unknown, at once', async () => {
    const settings = { short_call_seconds: 6, anatel_daily_calls: 23, anatel_short_percent: 1, anatel_near_percent: 80 };
    const key = `jsonb_build_object('short_call_seconds', 6, 'anatel_daily_calls', 23, 'anatel_short_percent', 1, 'anatel_near_percent', 80, 'min_pace_seconds', 900)::text`;
    const { client } = await session();
    try {
      await client.query('begin');
      await client.query(`select pg_advisory_xact_lock(hashtext('discador.short_call_cached'), hashtext(${key}))`);
      const [r] = await sql<{ g: unknown }>(`select short_call_guard(now(), $1) as g`, [settings]);
      expect(r!.g).toBeNull();
      expect(await sql(`select 1 from short_call_guard_cache where settings->>'anatel_daily_calls' = '23'`)).toHaveLength(0);
    } finally {
      await client.query('rollback');
      await client.end();
    }
    const [r] = await sql<{ g: any }>(`select short_call_guard(now(), $1) as g`, [settings]);
    expect(r!.g).toMatchObject({ near: true });
  });
});

describe('the pace right after midnight', () => {
  it('ten short calls in the first 5 s of the day are not projected as a whole day at that pace', async () => {
    // A campaign open all day (its window includes midnight), and tomorrow's first 5 s.
    await sql(
      `insert into campaigns (name, status, mode, window_profile, weekday_start, weekday_end, saturday_start, saturday_end, allow_sunday, sunday_start, sunday_end)
       values ($1, 'paused', 'power', 'custom', '00:00', '24:00', '00:00', '24:00', true, '00:00', '24:00')`,
      [`Anatel meia-noite ${tag}`],
    );
    const [{ midnight }] = (await sql<{ midnight: string }>(
      `select ((date_trunc('day', now() at time zone 'America/Sao_Paulo') + interval '1 day') at time zone 'America/Sao_Paulo') as midnight`,
    )) as [{ midnight: string }];
    const t0 = new Date(midnight).getTime();
    // Tomorrow's calls live only in this transaction (rolled back): committed, they would sit in
    // every "last second" until midnight and fill the account's CPS for every other suite.
    const c = await session();
    let m: any;
    try {
      await c.client.query('begin');
      for (let i = 0; i < 10; i++) {
        await c.client.query(`insert into calls (call_sid, direction, caller_id, campaign_id, to_number, status, created_at) values ($1, 'outbound-api', $2, $3, $4, 'no-answer', $5)`, [
          newCallSid(), mine.midnight, campaignId, newMobile('11'), new Date(t0 + 400 * i).toISOString(),
        ]);
      }
      m = (await c.client.query(`select short_call_monitor($1::timestamptz, '{}') as m`, [new Date(t0 + 5000).toISOString()])).rows[0].m;
    } finally {
      await c.client.query('rollback').catch(() => undefined);
      await c.client.end();
    }
    expect(Number(m.rate_window_seconds)).toBe(900);
    const f = figuresOf(m, mine.midnight);
    expect(f).toMatchObject({ calls_today: 10, short_today: 10, calls_last_hour: 10 });
    // 10 + 10 x 86,395 / 900 = 970 (a 5 s window would have projected 172,800 and 'over').
    expect(f.projected_calls).toBe(10 + Math.round((10 * Number(m.seconds_left)) / 900));
    expect(m.account).toMatchObject({ near: false, over: false });
  });
});
