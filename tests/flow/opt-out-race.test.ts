/**
 * Opt-outs raced against dials through the whole stack: real PostgREST, the Twilio emulator
 * (at a low CPS, so calls wait in its queue while their number opts out), twilio-run behind
 * the signature front and /voice/outbound. For each of RACES numbers, opt_out_add and
 * placeCall start together (the opt-out a few random milliseconds late, so it lands before
 * the attempt, between the attempt and Twilio's create, or while the call is queued) and
 * the customer answers. No opted-out number may reach an agent: no <Dial> in any timeline,
 * no child leg, and every placed call's row says it was stopped at answer.
 * This file runs its own stack so the number pool and the emulator's CPS are its alone.
 */
import type { Client } from 'pg';
import type twilio from 'twilio';
import { LOCAL } from '../../stack/defaults';
import { loadConfig } from '../../src/lib/runtime/config';
import { createDb } from '../../src/lib/runtime/db';
import { MESSAGES } from '../../src/lib/domain/messages';
import { placeCall, type PlaceCallResult } from '../../src/lib/domain/dialer';
import { session, sql as sqlAt, waitUntilBlocked } from '../helpers/db';
import { startEmulatedStack, type EmulatedStack } from '../helpers/emulated-stack';
import { newCallSid, newMobile } from '../helpers/twilio';

jest.setTimeout(120000);
const RACES = 300;
const WAVE = 30;
const POOL = ['+551130002000', '+551130002001', '+552130002002']; // supabase/seed.sql
const AGENT_PHONE = '+5511990000077';

let s: EmulatedStack;
const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, s.stack.env.DATABASE_URL);

beforeAll(async () => {
  s = await startEmulatedStack({ speed: 50 });
  for (const n of POOL) s.emulator.addNumber({ phoneNumber: n });
  // 2 calls per virtual second: at speed 50 a wave of 30 calls waits up to 15 virtual seconds in the queue.
  s.emulator.configureAccount(LOCAL.accountSid, { cps: 2 });
  s.emulator.addParty({ number: AGENT_PHONE, answerAfter: 1, talkSeconds: 5 });
  await sql(`update phone_numbers set daily_cap = 10000, calls_today = 0`);
});
afterAll(async () => s?.stop());

interface Race {
  to: string;
  ackAt?: number;
  /** The emulator's virtual time when opt_out_add returned. */
  ackVirtual?: number;
  createSentAt?: number;
  result?: PlaceCallResult;
}

it(`0 of ${RACES} opted-out numbers reach an agent, whether the opt-out lands before the dial, before Twilio's create, or while the call is queued`, async () => {
  const config = loadConfig({
    SUPABASE_URL: s.stack.env.SUPABASE_URL,
    SUPABASE_SERVICE_ROLE_KEY: s.stack.env.SUPABASE_SERVICE_ROLE_KEY,
    PUBLIC_BASE_URL: s.stack.env.FUNCTIONS_BASE_URL,
    // discador's own CPS gate (start_dial_attempt) set wide open: this race is about Twilio's
    // CPS queue, where calls created before the opt-out wait.
    ACCOUNT_CPS: '100',
  });
  const db = createDb({ url: config.SUPABASE_URL, serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY, timeoutMs: 20000 });
  const [agent] = await sql<{ id: string }>(`insert into agents (name, phone_number, status) values ('Race agent', $1, 'available') returning id`, [AGENT_PHONE]);
  const agentId = Number(agent!.id);

  const races: Race[] = Array.from({ length: RACES }, () => ({ to: newMobile() }));
  for (const r of races) s.emulator.addParty({ number: r.to, answerAfter: 45 });
  // The real client, with the moment each create request leaves noted.
  const sentAt = new Map<string, number>();
  const timedTwilio = {
    calls: {
      create: (opts: { to: string }) => {
        sentAt.set(opts.to, Date.now());
        return s.twilio.calls.create(opts as Parameters<typeof s.twilio.calls.create>[0]);
      },
    },
  } as unknown as twilio.Twilio;

  const started = Date.now();
  for (let i = 0; i < races.length; i += WAVE) {
    await Promise.all(
      races.slice(i, i + WAVE).flatMap((r) => [
        (async () => {
          await new Promise((ok) => setTimeout(ok, Math.random() * 40));
          const { error } = await db.rpc('opt_out_add', { p_phone: r.to, p_source: 'api' });
          if (error) throw new Error(`opt_out_add ${r.to}: ${error.message}`);
          r.ackAt = Date.now();
          r.ackVirtual = s.emulator.clock.elapsed();
        })(),
        (async () => {
          r.result = await placeCall({ db, twilio: timedTwilio, config }, { to: r.to, agentId });
          r.createSentAt = sentAt.get(r.to);
        })(),
      ]),
    );
  }
  const placed = races.filter((r) => r.result?.placed);
  await s.emulator.waitUntilIdle({ timeoutMs: 90000 });
  const seconds = (Date.now() - started) / 1000;

  // A call whose connect decision (the ?step=connect webhook after the disclaimer) left before
  // its opt-out was acknowledged may be connected: the customer opted out after being put
  // through, there was nothing to stop yet. Every other placed call must be stopped, at the
  // answer or after the disclaimer.
  const connectSentAt = new Map<string, number>();
  for (const w of s.emulator.webhooks()) {
    if (w.purpose === 'voice' && w.callSid && w.url.includes('step=connect') && !connectSentAt.has(w.callSid)) connectSentAt.set(w.callSid, w.sentAt);
  }
  const sidOf = (r: Race) => (r.result as { callSid: string }).callSid;
  const answeredFirst = placed.filter((r) => (connectSentAt.get(sidOf(r)) ?? Infinity) < r.ackVirtual!);
  const mustStop = placed.filter((r) => !answeredFirst.includes(r)).map(sidOf);
  const sids = placed.map(sidOf);

  // Nobody reached an agent after opting out: no <Dial> in the timeline, no child leg.
  const dials = mustStop.filter((sid) => s.emulator.timeline(sid, { children: true }).some((e) => e.type === 'verb' && e.verb === 'Dial'));
  const childLegs = s.emulator.calls().filter((c) => c.parentCallSid && mustStop.includes(c.parentCallSid));
  expect({ dials, childLegs }).toEqual({ dials: [], childLegs: [] });

  // Each of them was answered and stopped there, and its row says so.
  const rows = await sql<{ call_sid: string; end_reason: string | null; opted_out: boolean; status: string; has_children: boolean }>(
    `select c.call_sid, c.end_reason, c.opted_out, c.status,
            exists (select 1 from calls k where k.parent_call_sid = c.call_sid) as has_children
       from calls c where c.call_sid = any($1)`,
    [mustStop],
  );
  expect(rows).toHaveLength(mustStop.length);
  const wrong = rows.filter((r) => r.end_reason !== 'opted_out_after_dial' || !r.opted_out || r.status !== 'completed' || r.has_children);
  expect(wrong).toEqual([]);
  for (const sid of mustStop) {
    const said = s.emulator.timeline(sid).filter((e) => e.type === 'verb').map((e) => [e.verb, e.verb === 'Say' ? e.content : '']);
    expect({ sid, said: said.filter((v) => v[0] === 'Say').slice(-1) }).toEqual({ sid, said: [['Say', MESSAGES.outboundOptedOut]] });
    expect(said.map((v) => v[0])).not.toContain('Dial');
  }

  // Every race ended in exactly one of the two outcomes, and every number is on the list.
  const refused = races.filter((r) => r.result && !r.result.placed);
  expect(refused.every((r) => !r.result!.placed && r.result!.reason === 'opted_out')).toBe(true);
  expect(refused.length + placed.length).toBe(RACES);
  expect(await sql(`select count(*)::int as n from opt_outs where phone_number = any($1)`, [races.map((r) => r.to)])).toEqual([{ n: RACES }]);

  const createdAfterAck = placed.filter((r) => r.createSentAt! > r.ackAt!).length;
  const stoppedAtAnswer = (await sql<{ n: number }>(`select count(*)::int as n from calls where call_sid = any($1) and end_reason = 'opted_out_after_dial'`, [sids]))[0]!.n;
  const queuedAtCps = sids.filter((sid) => s.emulator.timeline(sid).some((e) => e.type === 'note' && /CPS slot/.test(e.text))).length;
  console.log(
    `opt-out race: ${RACES} numbers in ${seconds.toFixed(1)} s; refused at dial (opt-out first): ${refused.length}; ` +
      `placed (attempt first): ${placed.length}, of which created at Twilio after the opt-out was acknowledged: ${createdAfterAck}, ` +
      `waited in the CPS queue: ${queuedAtCps}; stopped at answer: ${stoppedAtAnswer}; connected before the opt-out was acknowledged: ${answeredFirst.length}; ` +
      `connected to an agent after the opt-out: ${dials.length}`,
  );
  // The race must really exercise both paths, the CPS queue included (dial attempts serialize
  // on the account's CPS lock, so the opt-out wins a little more often than half the time).
  expect(mustStop.length).toBeGreaterThan(RACES / 4);
  expect(refused.length).toBeGreaterThan(0);
  expect(queuedAtCps).toBeGreaterThan(0);
});

/**
 * The same three races, interleaved on purpose with two real transactions: A holds its
 * transaction open, B starts while A is open and must wait for it (seen in pg_locks), then A
 * commits. Without the per-number lock B would not wait and would decide on stale data.
 */
describe('opt-outs and dial decisions serialize on the number', () => {
  const answerEvent = (sid: string, to: string, attemptId: number) => ({
    call_sid: sid, account_sid: LOCAL.accountSid, call_status: 'in-progress', direction: 'outbound-api',
    from: '+551130002000', to, attempt_id: attemptId, params: {},
  });
  let a: Client;
  let b: Client;
  let bPid: number;
  beforeEach(async () => {
    a = (await session(s.stack.env.DATABASE_URL)).client;
    ({ client: b, pid: bPid } = await session(s.stack.env.DATABASE_URL));
  });
  afterEach(async () => {
    await a.end();
    await b.end();
  });

  it('an opt-out not yet committed makes a dial wait, and the dial is then refused', async () => {
    const to = newMobile();
    await a.query('begin');
    await a.query(`select opt_out_add($1)`, [to]);
    const dial = b.query<{ d: { allowed: boolean; reason?: string } }>(`select start_dial_attempt($1) as d`, [to]);
    await waitUntilBlocked(bPid, s.stack.env.DATABASE_URL);
    await a.query('commit');
    expect((await dial).rows[0]!.d).toEqual({ allowed: false, reason: 'opted_out' });
    expect(await sql(`select count(*)::int as n from calls where to_number = $1`, [to])).toEqual([{ n: 0 }]);
  });

  it('a dial attempt not yet committed makes the opt-out wait; the call is then stopped at answer', async () => {
    const to = newMobile();
    await a.query('begin');
    const attempt = (await a.query<{ d: { allowed: boolean; attempt_id: number } }>(`select start_dial_attempt($1) as d`, [to])).rows[0]!.d;
    expect(attempt.allowed).toBe(true);
    const optOut = b.query(`select opt_out_add($1)`, [to]);
    await waitUntilBlocked(bPid, s.stack.env.DATABASE_URL);
    await a.query('commit');
    await optOut;
    const sid = newCallSid();
    const decision = (await a.query<{ d: unknown }>(`select start_outbound_answer($1) as d`, [answerEvent(sid, to, attempt.attempt_id)])).rows[0]!.d;
    expect(decision).toEqual({ connect: false, reason: 'opted_out_after_dial' });
    expect(await sql(`select id::int, call_sid, end_reason, opted_out from calls where to_number = $1`, [to])).toEqual([
      { id: attempt.attempt_id, call_sid: sid, end_reason: 'opted_out_after_dial', opted_out: true },
    ]);
  });

  it('an opt-out not yet committed makes the answer wait, and the answer then does not connect', async () => {
    const to = newMobile();
    const attempt = (await sql<{ d: { attempt_id: number } }>(`select start_dial_attempt($1) as d`, [to]))[0]!.d;
    await a.query('begin');
    await a.query(`select opt_out_add($1)`, [to]);
    const answer = b.query<{ d: unknown }>(`select start_outbound_answer($1) as d`, [answerEvent(newCallSid(), to, attempt.attempt_id)]);
    await waitUntilBlocked(bPid, s.stack.env.DATABASE_URL);
    await a.query('commit');
    expect((await answer).rows[0]!.d).toEqual({ connect: false, reason: 'opted_out_after_dial' });
  });
});
