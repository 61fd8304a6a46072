/**
 * Caller IDs under concurrency. Two real transactions on the stack's Postgres are
 * interleaved on purpose (A picks and holds its transaction open, B picks while A is open,
 * then A commits), so what is proven does not depend on scheduling luck; then 20 dialers at
 * once through the REST gateway; local presence (São Paulo customers get São Paulo numbers
 * first). Also: a caller ID named explicitly keeps its daily cap and never takes an agent's
 * dedicated number.
 * This file runs its own stack so the number pool is its alone.
 */
import type { Client } from 'pg';
import { loadConfig } from '../../src/lib/runtime/config';
import { createDb, type Db } from '../../src/lib/runtime/db';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';
import { placeCall } from '../../src/lib/domain/dialer';
import { session, sql as sqlAt, waitUntilBlocked } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { newMobile } from '../helpers/twilio';

jest.setTimeout(60000);
const POOL = ['+551130002000', '+551130002001', '+552130002002']; // supabase/seed.sql
const ANA_DID = '+551130001000'; // dedicated to Ana (supabase/seed.sql)

let stack: StackProcess;
let db: Db;
const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, stack.env.DATABASE_URL);

type Decision = { allowed: boolean; caller_id?: string; reason?: string; attempt_id?: number };

/** Sets each pool number's cap and today's count, oldest use first in POOL order. */
async function setPool(numbers: { cap: number; used: number }[]): Promise<void> {
  await sql(`update phone_numbers set is_active = false where assigned_agent_id is null and phone_number <> all($1)`, [POOL]);
  for (const [i, n] of numbers.entries()) {
    await sql(
      `update phone_numbers set is_active = true, daily_cap = $2, calls_today = $3,
              calls_today_date = (now() at time zone 'America/Sao_Paulo')::date,
              last_used_at = now() - interval '1 hour' * (10 - $4::int)
        where phone_number = $1`,
      [POOL[i], n.cap, n.used, i],
    );
  }
}

const pick = (c: Client, to = newMobile(), callerId: string | null = null) =>
  c.query<{ d: Decision }>(`select public.start_dial_attempt($1, $2) as d`, [to, callerId]).then((r) => r.rows[0]!.d);

beforeAll(async () => {
  stack = await startStackProcess();
  db = createDb({ url: stack.env.SUPABASE_URL, serviceRoleKey: stack.env.SUPABASE_SERVICE_ROLE_KEY, timeoutMs: 10000 });
});
afterAll(async () => stack?.stop());

describe('two dialers, one number with capacity, interleaved on purpose', () => {
  it('B waits for the number A holds and gets it instead of being refused; the cap stays exact', async () => {
    await setPool([{ cap: 2, used: 0 }, { cap: 5, used: 5 }, { cap: 5, used: 5 }]); // only POOL[0] has room, for 2 calls
    const { client: a } = await session(stack.env.DATABASE_URL);
    const { client: b, pid: bPid } = await session(stack.env.DATABASE_URL);
    try {
      await a.query('begin');
      expect(await pick(a)).toMatchObject({ allowed: true, caller_id: POOL[0] }); // A holds POOL[0], not committed
      const bPick = pick(b);
      await waitUntilBlocked(bPid, stack.env.DATABASE_URL); // B is inside start_dial_attempt while A's transaction is open
      await a.query('commit');
      expect(await bPick).toMatchObject({ allowed: true, caller_id: POOL[0] });
      expect(await pick(a)).toEqual({ allowed: false, reason: 'no_caller_id_available' }); // cap of 2 reached
      expect(await sql(`select calls_today from phone_numbers where phone_number = $1`, [POOL[0]])).toEqual([{ calls_today: 2 }]);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('an explicitly named caller ID held by A at cap - 1: B waits, then is refused with caller_id_at_daily_cap', async () => {
    await setPool([{ cap: 3, used: 2 }, { cap: 5, used: 0 }, { cap: 5, used: 0 }]);
    const { client: a } = await session(stack.env.DATABASE_URL);
    const { client: b, pid: bPid } = await session(stack.env.DATABASE_URL);
    try {
      await a.query('begin');
      expect(await pick(a, newMobile(), POOL[0]!)).toMatchObject({ allowed: true, caller_id: POOL[0] });
      const bPick = pick(b, newMobile(), POOL[0]!);
      await waitUntilBlocked(bPid, stack.env.DATABASE_URL);
      await a.query('commit');
      expect(await bPick).toEqual({ allowed: false, reason: 'caller_id_at_daily_cap' });
      expect(await sql(`select calls_today from phone_numbers where phone_number = $1`, [POOL[0]])).toEqual([{ calls_today: 3 }]);
    } finally {
      await a.end();
      await b.end();
    }
  });
});

describe('20 concurrent dialers through the REST gateway, 3 pool numbers', () => {
  it('refuses nobody while a number has capacity, rotates least-recently-used first, and never exceeds a cap', async () => {
    await setPool([{ cap: 10, used: 0 }, { cap: 10, used: 0 }, { cap: 10, used: 0 }]); // 30 calls of capacity
    // Customers in Bahia: no pool number shares their DDD or state, so every number is as local as the others.
    const round = () =>
      Promise.all(Array.from({ length: 20 }, () => db.rpc<Decision>('start_dial_attempt', { p_to: newMobile('71') }).then((r) => {
        if (r.error) throw new Error(r.error.message);
        return r.data;
      })));
    const first = await round();
    const firstRefused = first.filter((d) => !d.allowed).length;
    const perNumber = POOL.map((n) => first.filter((d) => d.caller_id === n).length);
    expect(firstRefused).toBe(0);
    expect(perNumber.sort()).toEqual([6, 7, 7]); // strict rotation: no number picked twice before the others

    const second = await round(); // 10 calls of capacity left for 20 dialers
    const secondAllowed = second.filter((d) => d.allowed).length;
    expect(secondAllowed).toBe(10);
    expect(second.filter((d) => !d.allowed).every((d) => d.reason === 'no_caller_id_available')).toBe(true);
    const counts = await sql<{ calls_today: number; daily_cap: number }>(`select calls_today, daily_cap from phone_numbers where phone_number = any($1)`, [POOL]);
    expect(counts.every((c) => c.calls_today === c.daily_cap)).toBe(true);
    console.log(
      `caller IDs, 20 concurrent dialers, 3 numbers: round 1 (30 calls of capacity) ${20 - firstRefused}/20 allowed, ${firstRefused} refused, ` +
        `per number ${perNumber.join('/')}; round 2 (10 left) ${secondAllowed} allowed, ${20 - secondAllowed} refused; cap exceeded: 0`,
    );
  });
});

describe('local presence through the REST gateway', () => {
  it('customers in São Paulo get the São Paulo numbers until their caps, then the Rio number', async () => {
    await setPool([{ cap: 5, used: 0 }, { cap: 5, used: 0 }, { cap: 5, used: 0 }]);
    const picks = await Promise.all(Array.from({ length: 12 }, () => db.rpc<Decision>('start_dial_attempt', { p_to: newMobile('11') }).then((r) => r.data!)));
    const perNumber = POOL.map((n) => picks.filter((d) => d.caller_id === n).length);
    expect(perNumber).toEqual([5, 5, 2]);
  });
});

describe('a caller ID named explicitly', () => {
  const deps = () => {
    const config = loadConfig({
      SUPABASE_URL: stack.env.SUPABASE_URL,
      SUPABASE_SERVICE_ROLE_KEY: stack.env.SUPABASE_SERVICE_ROLE_KEY,
      PUBLIC_BASE_URL: stack.env.FUNCTIONS_BASE_URL,
    });
    return { config, db, twilio: createTwilioClient(stack.env.TWILIO_ACCOUNT_SID, stack.env.TWILIO_AUTH_TOKEN, stack.env.TWILIO_API_BASE_URL) };
  };
  const attempts = () => sql<{ n: number }>(`select count(*)::int as n from calls`).then((r) => r[0]!.n);

  it('never takes an agent\'s dedicated number', async () => {
    const before = await attempts();
    const r = await placeCall(deps(), { to: newMobile(), callerId: ANA_DID });
    expect(r).toMatchObject({ placed: false, reason: 'caller_id_dedicated_to_agent' });
    expect(await attempts()).toBe(before);
  });

  it('respects its daily cap', async () => {
    await setPool([{ cap: 4, used: 4 }, { cap: 5, used: 0 }, { cap: 5, used: 0 }]);
    const r = await placeCall(deps(), { to: newMobile(), callerId: POOL[0]! });
    expect(r).toMatchObject({ placed: false, reason: 'caller_id_at_daily_cap' });
    if (!r.placed) expect(r.detail).toContain(POOL[0]);
    expect(await sql(`select calls_today from phone_numbers where phone_number = $1`, [POOL[0]])).toEqual([{ calls_today: 4 }]);
  });

  it('must be an active number of the pool', async () => {
    await sql(`update phone_numbers set is_active = false where phone_number = $1`, [POOL[2]]);
    expect(await placeCall(deps(), { to: newMobile(), callerId: POOL[2]! })).toMatchObject({ placed: false, reason: 'caller_id_not_in_pool' });
    expect(await placeCall(deps(), { to: newMobile(), callerId: '+551130009999' })).toMatchObject({ placed: false, reason: 'caller_id_not_in_pool' });
  });
});
