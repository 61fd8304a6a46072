/**
 * Whole calls through the Twilio emulator, the functions and the database: an inbound call
 * to a number configured by `npm run numbers -- point`, and outbound calls placed by
 * placeCall (opt-out refusal, caller-ID rotation, the opt-out key, the daily cap under
 * concurrency). This file runs its own stack so the number pool is its alone.
 */
import { run as numbers } from '../../scripts/numbers';
import { loadConfig } from '../../src/lib/runtime/config';
import { createDb } from '../../src/lib/runtime/db';
import { placeCall } from '../../src/lib/domain/dialer';
import { sql as sqlAt } from '../helpers/db';
import { startEmulatedStack, type EmulatedStack } from '../helpers/emulated-stack';
import { newCallSid, newMobile, signedPost, voiceRequest } from '../helpers/twilio';
import { find, parseTwiml, verbNames } from '../helpers/twiml';
import { MESSAGES } from '../../src/lib/domain/messages';
import type { Db } from '../../src/lib/runtime/db';

jest.setTimeout(60000);
let s: EmulatedStack;
const POOL = ['+551130002000', '+551130002001', '+552130002002']; // supabase/seed.sql
const ANA_DID = '+551130001000';
const ANA_PHONE = '+5511990000001';

const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, s.stack.env.DATABASE_URL);
const deps = () => {
  const config = loadConfig({
    SUPABASE_URL: s.stack.env.SUPABASE_URL,
    SUPABASE_SERVICE_ROLE_KEY: s.stack.env.SUPABASE_SERVICE_ROLE_KEY,
    PUBLIC_BASE_URL: s.stack.env.FUNCTIONS_BASE_URL,
  });
  const db = createDb({ url: config.SUPABASE_URL, serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY });
  return { config, db, twilio: s.twilio };
};

beforeAll(async () => {
  s = await startEmulatedStack({ speed: 50 });
  for (const n of [...POOL, ANA_DID]) s.emulator.addNumber({ phoneNumber: n });
});
afterAll(async () => s?.stop());

describe('inbound call to a number pointed by the numbers script', () => {
  it('hears the disclaimer, reaches the agent who owns the number, and leaves its rows', async () => {
    const out: string[] = [];
    const code = await numbers(['point', ANA_DID], {
      TWILIO_ACCOUNT_SID: s.stack.env.TWILIO_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: s.stack.env.TWILIO_AUTH_TOKEN,
      TWILIO_API_BASE_URL: s.emulator.url,
      FUNCTIONS_BASE_URL: s.stack.env.FUNCTIONS_BASE_URL,
    }, { out: (l) => out.push(l), err: (l) => out.push(l) });
    expect({ code, out }).toMatchObject({ code: 0 });

    const customer = newMobile('21');
    s.emulator.addParty({ number: ANA_PHONE, answerAfter: 2, gather: ['1'], talkSeconds: 30 }); // follow-me screening: presses 1
    s.emulator.addParty({ number: 'client:ana', outcome: 'no-answer' });
    const sid = await s.emulator.placeInboundCall({ from: customer, to: ANA_DID });
    await s.emulator.waitForCall(sid);

    const timeline = s.emulator.timeline(sid);
    const verbs = timeline.filter((e) => e.type === 'verb').map((e) => [e.verb, e.content ?? '']);
    expect(verbs[0]).toEqual(['Play', `${s.stack.env.FUNCTIONS_BASE_URL}/disclaimer.mp3`]);
    expect(verbs.map((v) => v[0])).toContain('Dial');
    const webhooks = timeline.filter((e) => e.type === 'webhook').map((e) => [e.url?.replace(s.stack.env.FUNCTIONS_BASE_URL, ''), e.httpStatus]);
    expect(webhooks).toEqual(expect.arrayContaining([['/voice/inbound', 200], [expect.stringMatching(/^\/voice\/follow-me\?agent=\d+&hop=mobile$/), 200]]));

    const [call] = await sql('select direction, from_number, to_number, status, agent_id is not null as has_agent, answered_at is not null as answered, duration from calls where call_sid = $1', [sid]);
    expect(call).toMatchObject({ direction: 'inbound', from_number: customer, to_number: ANA_DID, status: 'completed', has_agent: true, answered: true });
    expect(Number(call!['duration'])).toBeGreaterThanOrEqual(30);
    const kinds = await sql<{ kind: string; call_status: string }>('select kind, call_status from call_events where call_sid = $1 order by event_at, id', [sid]);
    expect(kinds[0]).toEqual({ kind: 'voice', call_status: 'ringing' });
    expect(kinds.filter((k) => k.kind === 'status').map((k) => k.call_status)).toContain('completed');
  });
});

describe('placeCall', () => {
  it('refuses an opted-out number before any request reaches Twilio', async () => {
    const customer = newMobile();
    expect((await deps().db.rpc('opt_out_add', { p_phone: customer, p_source: 'manual' })).error).toBeNull();
    const before = s.emulator.calls().length;
    const r = await placeCall(deps(), { to: customer.replace('+55', '0') });
    expect(r).toEqual({ placed: false, reason: 'opted_out', detail: `${customer} is on the opt-out list` });
    expect(s.emulator.calls().length).toBe(before);
    expect(await s.twilio.calls.list({ to: customer })).toEqual([]);
  });

  it('refuses a malformed number with the reason', async () => {
    const r = await placeCall(deps(), { to: '(11) 1234-5678' });
    expect(r).toMatchObject({ placed: false, reason: 'invalid_number' });
    if (!r.placed) expect(r.detail).toContain('not a valid Brazilian number');
  });

  it('connects an answered call to its agent after the disclaimer and records it to the end', async () => {
    const customer = newMobile();
    s.emulator.addParty({ number: customer, answerAfter: 4, talkSeconds: 45 });
    s.emulator.addParty({ number: ANA_PHONE, answerAfter: 1 });
    const [agent] = await sql<{ id: string }>(`select id from agents where client_identity = 'ana'`);
    await sql(`update agents set client_identity = null where id = $1`, [agent!.id]); // phone only for this call
    const r = await placeCall(deps(), { to: customer, agentId: Number(agent!.id) });
    expect(r.placed).toBe(true);
    if (!r.placed) return;
    expect(POOL).toContain(r.callerId);
    await s.emulator.waitForCall(r.callSid);

    const verbs = s.emulator.timeline(r.callSid).filter((e) => e.type === 'verb' && !/timed out|finished/.test(e.text)).map((e) => e.verb);
    expect(verbs.slice(0, 5)).toEqual(['Gather', 'Play', 'Say', 'Redirect', 'Dial']);
    const [call] = await sql('select status, caller_id, agent_id, direction, answered_at is not null as answered, duration from calls where call_sid = $1', [r.callSid]);
    expect(call).toMatchObject({ status: 'completed', caller_id: r.callerId, agent_id: agent!.id, direction: 'outbound-api', answered: true });
    expect(Number(call!['duration'])).toBeGreaterThanOrEqual(45);
  });

  it('the opt-out key lists the number and no later call reaches Twilio', async () => {
    const customer = newMobile();
    s.emulator.addParty({ number: customer, answerAfter: 2, digits: [{ at: 3, digits: '9' }] });
    const r = await placeCall(deps(), { to: customer });
    if (!r.placed) throw new Error(r.detail);
    await s.emulator.waitForCall(r.callSid);
    expect(await sql('select source, created_by from opt_outs where phone_number = $1', [customer])).toEqual([{ source: 'ivr', created_by: r.callSid }]);
    expect(await sql('select opted_out from calls where call_sid = $1', [r.callSid])).toEqual([{ opted_out: true }]);
    const again = await placeCall(deps(), { to: customer });
    expect(again).toMatchObject({ placed: false, reason: 'opted_out' });
  });

  it('rotates caller IDs least-recently-used first', async () => {
    await sql(`update phone_numbers set last_used_at = now() - interval '1 day' * (id % 7), calls_today = 0`);
    const expectedOrder = (await sql<{ phone_number: string }>(
      `select phone_number from phone_numbers where is_active and assigned_agent_id is null order by last_used_at nulls first, id`,
    )).map((r) => r.phone_number);
    const used: string[] = [];
    for (let i = 0; i < POOL.length + 1; i++) {
      const customer = newMobile('71'); // Bahia: no pool number there, so local presence leaves plain rotation
      s.emulator.addParty({ number: customer, outcome: 'no-answer' });
      const r = await placeCall(deps(), { to: customer });
      if (!r.placed) throw new Error(r.detail);
      used.push(r.callerId);
    }
    expect(used).toEqual([...expectedOrder, expectedOrder[0]]);
  });

  it('never hands out a number past its daily cap, even to concurrent dialers', async () => {
    await sql(`update phone_numbers set daily_cap = 2, calls_today = 0, calls_today_date = null`);
    const db = deps().db;
    const results = await Promise.all(
      Array.from({ length: 20 }, () => db.rpc<{ allowed: boolean; caller_id?: string; reason?: string }>('start_dial_attempt', { p_to: newMobile() })),
    );
    const allowed = results.filter((r) => r.data?.allowed).map((r) => r.data!.caller_id!);
    expect(allowed.length).toBe(POOL.length * 2);
    for (const n of POOL) expect(allowed.filter((a) => a === n).length).toBe(2);
    expect(results.filter((r) => r.data && !r.data.allowed).every((r) => r.data!.reason === 'no_caller_id_available')).toBe(true);
    expect(await sql(`select phone_number, calls_today from phone_numbers where calls_today > daily_cap`)).toEqual([]);
  });

  it('a call Twilio refuses leaves its attempt failed with Twilio\'s code, and the caller ID\'s daily count is given back', async () => {
    const unowned = '+551130002999'; // in the pool, but not a number of the Twilio account
    await sql(`insert into phone_numbers (phone_number, friendly_name, daily_cap) values ($1, 'Not at Twilio', 150)`, [unowned]);
    await sql(`update phone_numbers set daily_cap = 150, last_used_at = null, calls_today = 3, calls_today_date = (now() at time zone 'America/Sao_Paulo')::date where phone_number = $1`, [unowned]);
    try {
      const customer = newMobile();
      const r = await placeCall(deps(), { to: customer });
      expect(r).toMatchObject({ placed: false, reason: 'twilio_refused' });
      if (r.placed) return;
      expect(r.twilioCode).toBeGreaterThan(20000);
      expect(await sql('select id::int, call_sid, status, end_reason, error_code, caller_id from calls where to_number = $1', [customer])).toEqual([
        { id: r.attemptId, call_sid: null, status: 'failed', end_reason: 'twilio_refused', error_code: r.twilioCode, caller_id: unowned },
      ]);
      expect(await sql('select calls_today from phone_numbers where phone_number = $1', [unowned])).toEqual([{ calls_today: 3 }]);
    } finally {
      await sql(`update phone_numbers set is_active = false where phone_number = $1`, [unowned]);
    }
  });

  it('a call Twilio accepted keeps its row even when attaching the CallSid fails: the webhooks attach it', async () => {
    await sql(`update phone_numbers set daily_cap = 150, calls_today = 0`);
    const customer = newMobile();
    s.emulator.addParty({ number: customer, answerAfter: 2, talkSeconds: 10 });
    s.emulator.addParty({ number: ANA_PHONE, answerAfter: 1 });
    const [agent] = await sql<{ id: string }>(`select id from agents where phone_number = $1`, [ANA_PHONE]);
    const real = deps();
    // The database fails exactly once, right after Twilio accepted the call.
    const failingAttach: Db = {
      client: real.db.client,
      rpc: (fn, args) => (fn === 'attach_call_sid' ? Promise.resolve({ data: null, error: { code: 'DB_UNAVAILABLE', message: 'simulated outage' } }) : real.db.rpc(fn, args)),
    };
    const r = await placeCall({ ...real, db: failingAttach }, { to: customer, agentId: Number(agent!.id) });
    expect(r.placed).toBe(true);
    if (!r.placed) return;
    await s.emulator.waitForCall(r.callSid);
    expect(await sql('select id::int, call_sid, status, agent_id::int, caller_id from calls where to_number = $1', [customer])).toEqual([
      { id: r.attemptId, call_sid: r.callSid, status: 'completed', agent_id: Number(agent!.id), caller_id: r.callerId },
    ]);
  });

  it('?step=connect checks the opt-out list again: connected before the opt-out, a goodbye and no <Dial> after it', async () => {
    await sql(`update phone_numbers set daily_cap = 150, calls_today = 0`);
    const customer = newMobile();
    const [agent] = await sql<{ id: string }>(`select id from agents where phone_number = $1`, [ANA_PHONE]);
    const attempt = unwrapData(await deps().db.rpc<{ attempt_id: number; caller_id: string }>('start_dial_attempt', { p_to: customer, p_agent_id: Number(agent!.id) }));
    const sid = newCallSid();
    const url = `${s.stack.env.FUNCTIONS_BASE_URL}/voice/outbound?step=connect`;
    const params = voiceRequest({ CallSid: sid, From: attempt.caller_id, To: customer, Direction: 'outbound-api', CallStatus: 'in-progress' }, s.stack.env.TWILIO_ACCOUNT_SID);
    expect(unwrapData(await deps().db.rpc('attach_call_sid', { p_attempt_id: attempt.attempt_id, p_call_sid: sid }))).toEqual({ attached: true });

    const before = await signedPost(url, params, s.stack.env.TWILIO_AUTH_TOKEN);
    expect(before.status).toBe(200);
    expect(verbNames(parseTwiml(await before.text()))).toEqual(['Dial']);

    expect((await deps().db.rpc('opt_out_add', { p_phone: customer })).error).toBeNull();
    const after = await signedPost(url, params, s.stack.env.TWILIO_AUTH_TOKEN);
    expect(after.status).toBe(200);
    const twiml = parseTwiml(await after.text());
    expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
    expect(find(twiml, 'Say')?.text).toBe(MESSAGES.outboundOptedOut);
    expect(await sql('select end_reason, opted_out from calls where call_sid = $1', [sid])).toEqual([{ end_reason: 'opted_out_after_dial', opted_out: true }]);
  });

  it('an opt-out made while the customer hears the disclaimer (by any channel) is honoured: no <Dial> after it', async () => {
    await sql(`update phone_numbers set daily_cap = 150, calls_today = 0`);
    const customer = newMobile();
    const [agent] = await sql<{ id: string }>(`select id from agents where phone_number = $1`, [ANA_PHONE]);
    s.emulator.addParty({ number: customer, answerAfter: 1, hangupAfter: 120 });
    const r = await placeCall(deps(), { to: customer, agentId: Number(agent!.id) });
    if (!r.placed) throw new Error(r.detail);
    // The answer URL was served (disclaimer playing); the number is listed now, from outside the call.
    const served = () => s.emulator.webhooks().some((w) => w.callSid === r.callSid && w.url.includes('/voice/outbound?') && !w.url.includes('step=connect') && w.status === 200);
    for (let i = 0; i < 500 && !served(); i++) await new Promise((ok) => setTimeout(ok, 10));
    expect(served()).toBe(true);
    expect((await deps().db.rpc('opt_out_add', { p_phone: customer, p_source: 'api' })).error).toBeNull();
    await s.emulator.waitForCall(r.callSid);
    const verbs = s.emulator.timeline(r.callSid, { children: true }).filter((e) => e.type === 'verb').map((e) => e.verb);
    expect(verbs).not.toContain('Dial');
    const said = s.emulator.timeline(r.callSid).filter((e) => e.type === 'verb' && e.verb === 'Say').map((e) => e.content);
    expect(said[said.length - 1]).toBe(MESSAGES.outboundOptedOut);
    expect(await sql('select end_reason, opted_out from calls where call_sid = $1', [r.callSid])).toEqual([{ end_reason: 'opted_out_after_dial', opted_out: true }]);
  });

  it('an answer URL that fails sends Twilio to /voice/fallback, which connects a dialer call to nobody', async () => {
    await sql(`update phone_numbers set daily_cap = 150, calls_today = 0`);
    const customer = newMobile();
    s.emulator.addParty({ number: customer, answerAfter: 1, hangupAfter: 60 });
    s.emulator.addFault({ kind: 'timeout', url: '/voice/outbound', purpose: 'voice', times: 1 });
    try {
      const r = await placeCall(deps(), { to: customer });
      if (!r.placed) throw new Error(r.detail);
      await s.emulator.waitForCall(r.callSid);
      const timeline = s.emulator.timeline(r.callSid);
      const hooks = s.emulator.webhooks().filter((w) => w.callSid === r.callSid && w.url.includes('/voice/'));
      expect(hooks.map((w) => w.url.replace(s.stack.env.FUNCTIONS_BASE_URL, '').replace(/\?.*$/, ''))).toEqual(['/voice/outbound', '/voice/fallback']);
      const verbs = timeline.filter((e) => e.type === 'verb').map((e) => [e.verb, e.content ?? '']);
      expect(verbs.map(([v]) => v)).not.toContain('Dial');
      expect(verbs).toContainEqual(['Say', MESSAGES.outboundUnverified]);
    } finally {
      s.emulator.clearFaults();
    }
  });
});

function unwrapData<T>(r: { data: T | null; error: { message: string } | null }): T {
  if (r.error) throw new Error(r.error.message);
  return r.data as T;
}
