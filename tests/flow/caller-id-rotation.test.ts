/**
 * Caller-ID rotation on real Postgres. The picks run on a scratch database of the stack's
 * server (the pool and the virtual clock are this file's alone): 1,000 concurrent picks per
 * strategy from 20 connections (0 duplicates within a round, usage spread ≤ 1, no refusal
 * while a number has capacity, caps never exceeded), local presence (same DDD, then same
 * state, then any), spam-flagged numbers out of rotation, the cool-down and the São Paulo day
 * that resets caps (on app_clock), start_dial_attempt on top of the pick. The numbers CLI's
 * rotation commands run against the stack's own database through the REST gateway.
 */
import { Client } from 'pg';
import type { Env, Io } from '../../scripts/lib/cli';
import { run as numbers } from '../../scripts/numbers';
import { env, sql as sqlShared } from '../helpers/db';
import { concurrentPicks, freshPool, pickStats, scratchDatabase } from '../bench/caller-id';

jest.setTimeout(180_000);

let scratch: { url: string; drop(): Promise<void> };
let db: Client;
const q = async <T = Record<string, unknown>>(text: string, params: unknown[] = []) => (await db.query(text, params)).rows as T[];
const pick = async (strategy: string | null, ddd: number | null, campaign: number | null = null) =>
  (await q<{ phone_number: string | null }>('select phone_number from public.caller_id_pick($1, $2::smallint, $3)', [strategy, ddd, campaign]))[0]!.phone_number;
/** Puts the database on a virtual clock at `iso` (real speed). */
const clockAt = async (iso: string) => {
  await q('delete from public.app_clock');
  await q('insert into public.app_clock (virtual_at, real_at, speed) values ($1, clock_timestamp(), 1)', [iso]);
};

beforeAll(async () => {
  scratch = await scratchDatabase(env('DATABASE_URL'), 'rotation_test');
  db = new Client({ connectionString: scratch.url });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await scratch?.drop();
});
beforeEach(async () => {
  await q('delete from public.app_clock');
});

describe.each(['round_robin', 'least_used', 'random'])('1,000 concurrent picks (20 connections × 50), strategy %s', (strategy) => {
  it('30 numbers, all eligible: 0 duplicates within a round, usage spread ≤ 1, no refusal', async () => {
    const pool = await freshPool(scratch.url, 30);
    const { picks, seconds } = await concurrentPicks(scratch.url, { clients: 20, perClient: 50, strategy });
    const s = pickStats(picks, pool.length);
    console.log(`${strategy}: 1000 picks in ${seconds.toFixed(2)} s = ${Math.round(1000 / seconds)} picks/s, ${s.rounds} rounds, ${s.roundsWithDuplicates} with a duplicate, spread ${s.spread}, refused ${s.refused}`);
    expect(s.refused).toBe(0);
    expect(s.roundsWithDuplicates).toBe(0);
    expect(s.rounds).toBe(34);
    expect(s.spread).toBeLessThanOrEqual(1);
    expect(new Set(s.perNumber.keys())).toEqual(new Set(pool));
    // What the database recorded is what the pickers saw.
    const rows = await q<{ calls_today: number; call_count: string }>('select calls_today, call_count from public.phone_numbers');
    expect(rows.reduce((n, r) => n + r.calls_today, 0)).toBe(1000);
    expect(Math.max(...rows.map((r) => r.calls_today)) - Math.min(...rows.map((r) => r.calls_today))).toBeLessThanOrEqual(1);
  });

  it('caps adding up to exactly 1,000: every pick served, every number at its cap, the next pick refused', async () => {
    // 40 numbers with caps 5..43, the last 64 (sum 1,000).
    const caps = Array.from({ length: 40 }, (_, i) => 5 + i + (i === 39 ? 20 : 0));
    expect(caps.reduce((a, b) => a + b, 0)).toBe(1000);
    await freshPool(scratch.url, 40, { cap: (i) => caps[i]! });
    const { picks } = await concurrentPicks(scratch.url, { clients: 20, perClient: 50, strategy });
    expect(picks.filter((p) => p.phone === null)).toHaveLength(0);
    expect(await q('select phone_number, calls_today, daily_cap from public.phone_numbers where calls_today <> daily_cap')).toEqual([]);
    expect(await pick(strategy, null)).toBeNull();
  });

  it('capacity 600 for 1,000 picks: exactly 600 served, 400 refused, no cap exceeded', async () => {
    await freshPool(scratch.url, 30, { cap: () => 20 });
    const { picks } = await concurrentPicks(scratch.url, { clients: 20, perClient: 50, strategy, ddd: 21 });
    expect(picks.filter((p) => p.phone !== null)).toHaveLength(600);
    expect(Math.max(...picks.map((p) => p.callsToday ?? 0))).toBe(20);
    expect(await q('select phone_number from public.phone_numbers where calls_today > daily_cap')).toEqual([]);
  });
});

describe('local presence', () => {
  const SP_11 = ['+551130000001', '+551130000002'];
  const SP_13 = ['+551330000003', '+551330000004'];
  const RJ = '+552130000005';
  const MG = '+553130000006';
  async function pool(cap: (n: string) => number) {
    await q('delete from public.phone_numbers');
    for (const n of [...SP_11, ...SP_13, RJ, MG]) await q('insert into public.phone_numbers (phone_number, daily_cap) values ($1, $2)', [n, cap(n)]);
  }

  it.each(['round_robin', 'least_used', 'random'])('%s: the lead\'s DDD first, then its state, then any', async (strategy) => {
    await pool((n) => (n === RJ || n === MG ? 100 : 1));
    const got = [];
    for (let i = 0; i < 6; i++) got.push(await pick(strategy, 11));
    expect(new Set(got.slice(0, 2))).toEqual(new Set(SP_11));
    expect(new Set(got.slice(2, 4))).toEqual(new Set(SP_13));
    expect(new Set(got.slice(4, 6))).toEqual(new Set([RJ, MG]));
  });

  it('a DDD without a number of its own uses its state\'s; a foreign or unknown DDD rotates over all', async () => {
    await pool(() => 100);
    const sp = [];
    for (let i = 0; i < 8; i++) sp.push(await pick('round_robin', 12));
    expect(sp.every((n) => [...SP_11, ...SP_13].includes(n!))).toBe(true);
    const any = [];
    for (let i = 0; i < 6; i++) any.push(await pick('round_robin', 20));
    expect(new Set(any).size).toBe(6);
  });

  it('a campaign with local presence off ignores the DDD; a null strategy takes the campaign\'s', async () => {
    await pool(() => 100);
    const [c] = await q<{ id: string }>(`insert into public.campaigns (name, local_presence, caller_id_strategy) values ('rotation-no-local', false, 'least_used') returning id`);
    await q(`update public.phone_numbers set calls_today = 5, calls_today_date = (public.app_now() at time zone 'America/Sao_Paulo')::date where phone_number <> $1`, [MG]);
    expect(await pick(null, 21, Number(c!.id))).toBe(MG); // least used, not the RJ number
    expect(await pick('round_robin', 21, null)).toBe(RJ);
    await expect(pick('fastest', 21)).rejects.toThrow(/unknown strategy fastest/);
    await expect(pick(null, 21, 999_999)).rejects.toThrow(/no campaign 999999/);
  });
});

describe('numbers out of rotation', () => {
  it('a spam-flagged number is never picked until unflagged, and refused when asked for by name', async () => {
    const pool = await freshPool(scratch.url, 5);
    const flagged = pool[2]!;
    expect(await q(`select public.caller_id_configure($1, '{"spam": true, "spam_note": "labelled by an app"}') ->> 'spam_note' as note`, [flagged])).toEqual([{ note: 'labelled by an app' }]);
    const got = [];
    for (let i = 0; i < 40; i++) got.push(await pick('round_robin', null));
    expect(got).not.toContain(flagged);
    expect(new Set(got).size).toBe(4);
    const refused = (await q<{ d: { allowed: boolean; reason: string } }>('select public.start_dial_attempt($1, $2) as d', ['+5511987650001', flagged]))[0]!.d;
    expect(refused).toEqual({ allowed: false, reason: 'caller_id_spam_flagged' });
    await q(`select public.caller_id_configure($1, '{"spam": false}')`, [flagged]);
    expect(await pick('round_robin', null)).toBe(flagged); // never used: least recently used
    expect(await q('select spam_flagged_at, spam_note from public.phone_numbers where phone_number = $1', [flagged])).toEqual([{ spam_flagged_at: null, spam_note: null }]);
  });

  it('an inactive number or an agent\'s dedicated number is never picked', async () => {
    const pool = await freshPool(scratch.url, 3);
    await q('update public.phone_numbers set is_active = false where phone_number = $1', [pool[0]]);
    const [agent] = await q<{ id: string }>(`insert into public.agents (name) values ('Rotation Agent') returning id`);
    await q('update public.phone_numbers set assigned_agent_id = $2 where phone_number = $1', [pool[1], agent!.id]);
    for (let i = 0; i < 5; i++) expect(await pick('least_used', null)).toBe(pool[2]);
  });

  it('the cool-down keeps a number out until it has passed', async () => {
    const [only] = await freshPool(scratch.url, 1, { cooldown: 60 });
    await clockAt('2026-12-01T13:00:00Z');
    expect(await pick('round_robin', 11)).toBe(only);
    expect(await pick('round_robin', 11)).toBeNull();
    await clockAt('2026-12-01T13:00:58Z');
    expect(await pick('round_robin', 11)).toBeNull();
    await clockAt('2026-12-01T13:01:01Z');
    expect(await pick('round_robin', 11)).toBe(only);
  });

  it('the next São Paulo day (03:00 UTC, not 00:00 UTC) resets the daily caps', async () => {
    const [only] = await freshPool(scratch.url, 1, { cap: () => 2 });
    await clockAt('2026-11-30T23:59:00Z'); // 20:59 on 30 November in São Paulo
    expect([await pick('round_robin', null), await pick('round_robin', null), await pick('round_robin', null)]).toEqual([only, only, null]);
    await clockAt('2026-12-01T00:01:00Z'); // a new UTC day, still 30 November in São Paulo
    expect(await pick('round_robin', null)).toBeNull();
    await clockAt('2026-12-01T02:59:59Z');
    expect(await pick('round_robin', null)).toBeNull();
    await clockAt('2026-12-01T03:00:01Z'); // 00:00:01 on 1 December in São Paulo
    expect(await pick('round_robin', null)).toBe(only);
    expect(await q(`select calls_today, calls_today_date::text as day, call_count::int as total from public.phone_numbers`)).toEqual([{ calls_today: 1, day: '2026-12-01', total: 3 }]);
  });
});

describe('start_dial_attempt picks through caller_id_pick', () => {
  it('local presence for the destination\'s DDD, and a refusal spends no count', async () => {
    await q('delete from public.phone_numbers');
    for (const n of ['+551130000101', '+552130000102', '+557130000103']) await q('insert into public.phone_numbers (phone_number) values ($1)', [n]);
    const dial = async (to: string, over: string = '') =>
      (await q<{ d: { allowed: boolean; caller_id?: string; reason?: string } }>(`select public.start_dial_attempt($1${over}) as d`, [to]))[0]!.d;
    expect(await dial('+5571987650002')).toMatchObject({ allowed: true, caller_id: '+557130000103' });
    expect(await dial('+5521987650003')).toMatchObject({ allowed: true, caller_id: '+552130000102' });
    expect(await dial('+5573987650004')).toMatchObject({ allowed: true, caller_id: '+557130000103' }); // same state (BA)
    const before = await q('select phone_number, calls_today, last_used_at from public.phone_numbers order by id');
    expect(await dial('+5511987650005', ', null, 999999, null, null, true')).toEqual({ allowed: false, reason: 'agent_busy' });
    expect(await q('select phone_number, calls_today, last_used_at from public.phone_numbers order by id')).toEqual(before);
  });
});

describe('numbers CLI: rotation settings on the stack\'s database', () => {
  // An inactive number of this test alone: the shared pool's rotation is untouched.
  const mine = `+55119${String(Date.now()).slice(-8)}`;
  const cli = async (argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
    const cliEnv: Env = { SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY') };
    const code = await numbers(argv, cliEnv, io);
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const row = async () =>
    (await sqlShared<{ daily_cap: number; cooldown_seconds: number; flagged: boolean; spam_note: string | null }>(
      'select daily_cap, cooldown_seconds, spam_flagged_at is not null as flagged, spam_note from phone_numbers where phone_number = $1',
      [mine],
    ))[0];
  beforeAll(() => sqlShared(`insert into phone_numbers (phone_number, is_active, friendly_name) values ($1, false, 'rotation CLI test')`, [mine]));
  afterAll(() => sqlShared('delete from phone_numbers where phone_number = $1', [mine]));

  it('flag-spam with a note, unflag-spam, set-cap, set-cooldown', async () => {
    const flagged = await cli(['flag-spam', mine, '--note', 'rótulo de spam no app X', '--json']);
    expect(flagged.code).toBe(0);
    expect(JSON.parse(flagged.out).number).toMatchObject({ phone_number: mine, spam_note: 'rótulo de spam no app X', is_active: false });
    expect(await row()).toMatchObject({ flagged: true, spam_note: 'rótulo de spam no app X' });
    const unflagged = await cli(['unflag-spam', mine]);
    expect(unflagged.out).toContain(`${mine} back in rotation`);
    expect(await row()).toMatchObject({ flagged: false, spam_note: null });
    expect((await cli(['set-cap', mine, '120'])).out).toContain('daily cap set to 120');
    expect((await cli(['set-cooldown', mine, '45'])).out).toContain('cool-down set to 45 s');
    expect(await row()).toMatchObject({ daily_cap: 120, cooldown_seconds: 45 });
  });

  it('a number not in the pool or a bad value: a clear error, nothing changed', async () => {
    const before = await row();
    const missing = await cli(['set-cap', '+551130009999', '10']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/not in the phone_numbers pool/);
    for (const argv of [['set-cap', mine, '0'], ['set-cap', mine, '1.5'], ['set-cooldown', mine, '-1'], ['set-cooldown', mine, '90000'], ['flag-spam', mine, '--note', ' ']]) {
      const r = await cli(argv);
      expect([argv.join(' '), r.code]).toEqual([argv.join(' '), 2]);
    }
    expect(await row()).toEqual(before);
  });
});
