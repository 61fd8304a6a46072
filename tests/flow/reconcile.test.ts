/**
 * Nothing lost when the database is away, through the Twilio emulator and a stack of this
 * file's own:
 * - `numbers point` gives a number a VoiceFallbackUrl that answers without the database and a
 *   StatusCallback with the retry fragment; a VoiceUrl that fails lands on the fallback.
 * - A call completes while Postgres is stopped: its status callbacks get 503 and the row is
 *   left live. Once the database is back, `npm run reconcile` reads the Call resource and
 *   makes the row terminal with Twilio's duration; a second run changes nothing.
 * - Dial attempts that never got a CallSid: one whose call exists at Twilio is attached and
 *   reconciled; one with no call is marked never_placed and gives the caller ID's daily count
 *   back; younger than the threshold both are left alone; a dry run and a second run write
 *   nothing.
 */
import { run as numbers } from '../../scripts/numbers';
import { run as reconcile } from '../../scripts/reconcile';
import { startEmulator, type Emulator } from '../../emulator';
import { LOCAL } from '../../stack/defaults';
import { loadConfig } from '../../src/lib/runtime/config';
import { createDb } from '../../src/lib/runtime/db';
import { placeCall } from '../../src/lib/domain/dialer';
import { STATUS_CALLBACK_OVERRIDES } from '../../src/lib/domain/callback-urls';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';
import { sql as sqlAt } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { newMobile } from '../helpers/twilio';

jest.setTimeout(120000);
const POOL = ['+551130002000', '+551130002001', '+552130002002']; // supabase/seed.sql
const SPARE = '+551130009000'; // a number of the account that only `numbers point` configures
let emulator: Emulator;
let stack: StackProcess;

const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, stack.env.DATABASE_URL);
const cliEnv = () => ({
  TWILIO_ACCOUNT_SID: stack.env.TWILIO_ACCOUNT_SID,
  TWILIO_AUTH_TOKEN: stack.env.TWILIO_AUTH_TOKEN,
  TWILIO_API_BASE_URL: emulator.url,
  FUNCTIONS_BASE_URL: stack.env.FUNCTIONS_BASE_URL,
  SUPABASE_URL: stack.env.SUPABASE_URL,
  SUPABASE_SERVICE_ROLE_KEY: stack.env.SUPABASE_SERVICE_ROLE_KEY,
});
async function cli(run: typeof numbers, argv: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { ...cliEnv(), ...env }, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err, json: () => JSON.parse(out.join('\n')) };
}
const deps = () => {
  const config = loadConfig({
    SUPABASE_URL: stack.env.SUPABASE_URL,
    SUPABASE_SERVICE_ROLE_KEY: stack.env.SUPABASE_SERVICE_ROLE_KEY,
    PUBLIC_BASE_URL: stack.env.FUNCTIONS_BASE_URL,
  });
  return { config, db: createDb({ url: config.SUPABASE_URL, serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY }), twilio: createTwilioClient(LOCAL.accountSid, LOCAL.authToken, emulator.url) };
};

/** Polls fn every 50 ms until it returns something other than undefined. */
async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  emulator = await startEmulator({ speed: 5, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
  stack = await startStackProcess(['--twilio-url', emulator.url]);
  for (const n of [...POOL, SPARE]) emulator.addNumber({ phoneNumber: n });
});
afterAll(async () => {
  await stack?.stop();
  await emulator?.stop();
});

describe('numbers point', () => {
  it('sets VoiceUrl, VoiceFallbackUrl, a StatusCallback with the retry fragment and the SmsUrl on the number', async () => {
    const r = await cli(numbers, ['point', SPARE, '--json']);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: [] });
    const [n] = await deps().twilio.incomingPhoneNumbers.list({ phoneNumber: SPARE });
    const base = stack.env.FUNCTIONS_BASE_URL;
    expect([n!.voiceUrl, n!.voiceMethod, n!.voiceFallbackUrl, n!.voiceFallbackMethod, n!.statusCallback, n!.statusCallbackMethod, n!.smsUrl, n!.smsMethod]).toEqual([
      `${base}/voice/inbound`,
      'POST',
      `${base}/voice/fallback`,
      'POST',
      `${base}/webhooks/call-status#${STATUS_CALLBACK_OVERRIDES}`,
      'POST',
      `${base}/webhooks/sms`,
      'POST',
    ]);
  });

  it('a VoiceUrl that times out sends the caller to /voice/fallback: disclaimer, then the fallback number', async () => {
    emulator.addFault({ kind: 'timeout', purpose: 'voice', url: '/voice/inbound', times: 1 });
    emulator.addParty({ number: '+5511955550000', answerAfter: 1, talkSeconds: 5 });
    const sid = await emulator.placeInboundCall({ from: newMobile(), to: SPARE, party: { hangupAfter: 40 } });
    await emulator.waitForCall(sid);
    const hooks = emulator
      .webhooks()
      .filter((w) => w.callSid === sid && (w.purpose === 'voice' || w.purpose === 'fallback'))
      .map((w) => [w.purpose, w.url.replace(stack.env.FUNCTIONS_BASE_URL, ''), w.status, w.errorCode]);
    expect(hooks).toEqual(
      expect.arrayContaining([
        ['voice', '/voice/inbound', 0, 11200], // Twilio's read timeout
        ['fallback', '/voice/fallback', 200, undefined],
      ]),
    );
    const fallbackParams = emulator.webhooks().find((w) => w.purpose === 'fallback' && w.callSid === sid)!.params;
    expect(fallbackParams['CallSid']).toBe(sid);
    const verbs = emulator.timeline(sid).filter((e) => e.type === 'verb').map((e) => [e.verb, e.content ?? '']);
    expect(verbs[0]).toEqual(['Play', `${stack.env.FUNCTIONS_BASE_URL}/disclaimer.mp3`]);
    expect(verbs.map((v) => v[0])).toContain('Dial');
  });
});

describe('reconciliation after status callbacks were lost', () => {
  it('makes the row terminal with the duration Twilio reports, and a second run changes nothing', async () => {
    const customer = newMobile();
    emulator.addParty({ number: customer, answerAfter: 1, hangupAfter: 40 });
    emulator.addParty({ number: '+5511955550000', answerAfter: 1 });
    const placed = await placeCall(deps(), { to: customer });
    if (!placed.placed) throw new Error(placed.detail);
    const sid = placed.callSid;

    // The call was connected from the database (after the disclaimer); then the database goes away mid-call.
    await until('the answer URL', () =>
      emulator.timeline(sid).some((e) => e.type === 'webhook' && e.url?.includes('step=connect') && e.httpStatus === 200) ? true : undefined,
    );
    await stack.control('db:stop');
    const ended = await emulator.waitForCall(sid, undefined, { timeoutMs: 60000 });
    expect(ended.status).toBe('completed');
    expect(ended.durationS).toBeGreaterThanOrEqual(35);

    const completedCallbacks = emulator.webhooks().filter((w) => w.callSid === sid && w.purpose === 'status' && w.params['CallStatus'] === 'completed');
    expect(completedCallbacks.length).toBeGreaterThanOrEqual(1);
    for (const w of completedCallbacks) expect(w.status).toBe(503);

    await stack.control('db:start');
    const db = deps().db;
    await until('PostgREST to reconnect', async () => ((await db.rpc('reconcile_candidates', { p_older_than_seconds: 0, p_limit: 1 })).error ? undefined : true));
    const [stuck] = await sql<{ status: string }>('select status from calls where call_sid = $1', [sid]);
    expect(stuck!.status).toBe('in-progress'); // what the database believed

    // A dry run reads Twilio and writes nothing.
    const dry = await cli(reconcile, ['--dry-run', '--json', '--older-than', '0']);
    expect(dry.code).toBe(0);
    expect(dry.json().items.find((i: { call_sid: string }) => i.call_sid === sid)).toEqual({ call_sid: sid, status_before: 'in-progress', twilio_status: 'completed', outcome: 'would_apply' });
    expect((await sql<{ status: string }>('select status from calls where call_sid = $1', [sid]))[0]!.status).toBe('in-progress');

    const first = await cli(reconcile, ['--json', '--older-than', '0']);
    expect({ code: first.code, err: first.err }).toEqual({ code: 0, err: [] });
    const report = first.json();
    expect(report.items.find((i: { call_sid: string }) => i.call_sid === sid)).toEqual({
      call_sid: sid,
      status_before: 'in-progress',
      twilio_status: 'completed',
      outcome: 'applied',
      status_after: 'completed',
      duration: ended.durationS,
    });
    const resource = await deps().twilio.calls(sid).fetch();
    const [row] = await sql<Record<string, unknown>>(
      'select status, duration, ended_at, answered_at, started_at from calls where call_sid = $1',
      [sid],
    );
    expect(row).toMatchObject({ status: 'completed', duration: ended.durationS });
    expect(Number(resource.duration)).toBe(ended.durationS);
    expect((row!['ended_at'] as Date).getTime()).toBe(resource.endTime.getTime());
    expect((row!['answered_at'] as Date).getTime()).toBeLessThanOrEqual((row!['ended_at'] as Date).getTime());
    expect((row!['started_at'] as Date).getTime()).toBeLessThanOrEqual((row!['answered_at'] as Date).getTime());
    const events = await sql<{ kind: string; call_status: string }>(`select kind, call_status from call_events where call_sid = $1 and kind = 'reconcile' order by id`, [sid]);
    expect(events).toEqual([
      { kind: 'reconcile', call_status: 'initiated' },
      { kind: 'reconcile', call_status: 'completed' },
    ]);

    const before = await sql('select * from calls where call_sid = $1', [sid]);
    const eventsBefore = await sql('select * from call_events where call_sid = $1 order by id', [sid]);
    const second = await cli(reconcile, ['--json', '--older-than', '0']);
    expect(second.code).toBe(0);
    expect(second.json().items.map((i: { call_sid: string }) => i.call_sid)).not.toContain(sid);
    expect(await sql('select * from calls where call_sid = $1', [sid])).toEqual(before);
    expect(await sql('select * from call_events where call_sid = $1 order by id', [sid])).toEqual(eventsBefore);
  });

  it('refuses bad options with a usage error and changes nothing', async () => {
    const r = await cli(reconcile, ['--older-than', '-5']);
    expect(r.code).toBe(2);
    const limit = await cli(reconcile, ['--limit', '501', '--json']);
    expect(limit.code).toBe(2);
    const attempts = await cli(reconcile, ['--attempts-older-than', '1.5', '--json']);
    expect(attempts.code).toBe(2);
    expect(attempts.err.join('\n')).toContain('--attempts-older-than must be a whole number of seconds');
  });
});

describe('reconciliation of dial attempts that never got a CallSid', () => {
  // An emulator whose clock is the wall clock (speed 1), as Twilio's is: the attempts are
  // matched to calls by the time they were created. It holds the same account and numbers.
  let wall: Emulator;
  beforeAll(async () => {
    wall = await startEmulator({ speed: 1, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
    for (const n of POOL) wall.addNumber({ phoneNumber: n });
  });
  afterAll(async () => {
    await wall?.stop();
  });

  type AttemptRow = { id: string; call_sid: string | null; status: string; end_reason: string | null; duration: number | null; ended_at: Date | null };
  const attemptRow = async (id: number) =>
    (await sql<AttemptRow>('select id::text, call_sid, status, end_reason, duration, ended_at from calls where id = $1', [id]))[0]!;
  const countOf = async (phone: string) =>
    (await sql<{ calls_today: number; call_count: number }>('select calls_today, call_count::int as call_count from phone_numbers where phone_number = $1', [phone]))[0]!;
  const items = (r: { json: () => { attempts: { items: { attempt_id: number }[] } } }, ids: number[]) =>
    r.json().attempts.items.filter((i) => ids.includes(i.attempt_id)).sort((a, b) => a.attempt_id - b.attempt_id);

  it('attaches the call Twilio has, marks the attempt without one never_placed and gives its count back; a second run changes nothing', async () => {
    const db = deps().db;
    const callerId = POOL[1]!;
    const placedTo = newMobile();
    const lostTo = newMobile();
    // Two attempts recorded as placeCall records them (each spends the caller ID's daily count),
    // whose CallSid never reached the database.
    const start = async (to: string) => {
      const r = await db.rpc<{ allowed: boolean; attempt_id: number; caller_id: string }>('start_dial_attempt', { p_to: to, p_caller_id: callerId });
      if (r.error || !r.data.allowed) throw new Error(`start_dial_attempt: ${JSON.stringify(r.error ?? r.data)}`);
      return r.data.attempt_id;
    };
    const countBefore = await countOf(callerId);
    const placedId = await start(placedTo);
    const lostId = await start(lostTo);
    expect(await countOf(callerId)).toEqual({ calls_today: countBefore.calls_today + 2, call_count: countBefore.call_count + 2 });

    // Twilio did create the first one (made here straight through the REST API, as placeCall's
    // Calls create would have): a short call that has ended.
    wall.addParty({ number: placedTo, answerAfter: 1, hangupAfter: 2 });
    const twilioWall = createTwilioClient(LOCAL.accountSid, LOCAL.authToken, wall.url);
    const created = await twilioWall.calls.create({ to: placedTo, from: callerId, twiml: '<Response><Say>Olá</Say><Pause length="5"/></Response>' });
    const ended = await wall.waitForCall(created.sid, undefined, { timeoutMs: 30000 });
    expect(ended.status).toBe('completed');
    const snapshot = async () => [await attemptRow(placedId), await attemptRow(lostId), await countOf(callerId)];
    const untouched = await snapshot();
    const env = { TWILIO_API_BASE_URL: wall.url };

    // Younger than the default threshold (10 minutes): left alone.
    const young = await cli(reconcile, ['--json', '--older-than', '86400'], env);
    expect({ code: young.code, err: young.err }).toEqual({ code: 0, err: [] });
    expect(items(young, [placedId, lostId])).toEqual([]);
    expect(await snapshot()).toEqual(untouched);

    // A dry run says what it would do and writes nothing.
    const dry = await cli(reconcile, ['--dry-run', '--json', '--older-than', '86400', '--attempts-older-than', '0'], env);
    expect(dry.code).toBe(0);
    expect(items(dry, [placedId, lostId])).toEqual([
      { attempt_id: placedId, to: placedTo, from: callerId, twilio_calls: [created.sid], outcome: 'would_attach', call_sid: created.sid, twilio_status: 'completed' },
      { attempt_id: lostId, to: lostTo, from: callerId, twilio_calls: [], outcome: 'would_fail' },
    ]);
    expect(await snapshot()).toEqual(untouched);

    const first = await cli(reconcile, ['--json', '--older-than', '86400', '--attempts-older-than', '0'], env);
    expect({ code: first.code, err: first.err }).toEqual({ code: 0, err: [] });
    expect(items(first, [placedId, lostId])).toEqual([
      { attempt_id: placedId, to: placedTo, from: callerId, twilio_calls: [created.sid], outcome: 'attached', call_sid: created.sid, twilio_status: 'completed', status_after: 'completed' },
      { attempt_id: lostId, to: lostTo, from: callerId, twilio_calls: [], outcome: 'never_placed' },
    ]);
    const placedRow = await attemptRow(placedId);
    expect(placedRow).toMatchObject({ call_sid: created.sid, status: 'completed', end_reason: null, duration: ended.durationS });
    const resource = await twilioWall.calls(created.sid).fetch();
    expect(placedRow.ended_at!.getTime()).toBe(resource.endTime.getTime());
    const lostRow = await attemptRow(lostId);
    expect(lostRow).toMatchObject({ call_sid: null, status: 'failed', end_reason: 'never_placed' });
    expect(lostRow.ended_at).toBeInstanceOf(Date);
    // Only the call actually placed keeps its count.
    expect(await countOf(callerId)).toEqual({ calls_today: countBefore.calls_today + 1, call_count: countBefore.call_count + 1 });
    const events = await sql<{ kind: string; call_status: string }>(`select kind, call_status from call_events where call_sid = $1 order by id`, [created.sid]);
    expect(events).toEqual([
      { kind: 'reconcile', call_status: 'initiated' },
      { kind: 'reconcile', call_status: 'completed' },
    ]);

    // A second run changes nothing.
    const settled = await snapshot();
    const eventsBefore = await sql('select * from call_events where call_sid = $1 order by id', [created.sid]);
    const second = await cli(reconcile, ['--json', '--older-than', '86400', '--attempts-older-than', '0'], env);
    expect({ code: second.code, err: second.err }).toEqual({ code: 0, err: [] });
    expect(items(second, [placedId, lostId])).toEqual([]);
    expect(await snapshot()).toEqual(settled);
    expect(await sql('select * from call_events where call_sid = $1 order by id', [created.sid])).toEqual(eventsBefore);
  });

  it('leaves an attempt alone when Twilio cannot be asked, and when several calls match', async () => {
    const db = deps().db;
    const callerId = POOL[2]!;
    const to = newMobile();
    const r = await db.rpc<{ attempt_id: number }>('start_dial_attempt', { p_to: to, p_caller_id: callerId });
    const id = r.data!.attempt_id;
    const before = await attemptRow(id);
    const countBefore = await countOf(callerId);

    // Twilio unreachable: an error for the attempt, exit code 1, nothing written (never "never placed").
    const down = await cli(reconcile, ['--json', '--older-than', '86400', '--attempts-older-than', '0'], { TWILIO_API_BASE_URL: 'http://127.0.0.1:9' });
    expect(down.code).toBe(1);
    expect(items(down, [id])).toEqual([expect.objectContaining({ attempt_id: id, outcome: 'error' })]);
    expect(await attemptRow(id)).toEqual(before);
    expect(await countOf(callerId)).toEqual(countBefore);

    // Two calls between the same numbers around the attempt: which one is it? Left alone.
    wall.addParty({ number: to, answerAfter: 1, hangupAfter: 1 });
    const tw = createTwilioClient(LOCAL.accountSid, LOCAL.authToken, wall.url);
    const a = await tw.calls.create({ to, from: callerId, twiml: '<Response><Say>a</Say></Response>' });
    const b = await tw.calls.create({ to, from: callerId, twiml: '<Response><Say>b</Say></Response>' });
    await wall.waitForCall(a.sid, undefined, { timeoutMs: 30000 });
    await wall.waitForCall(b.sid, undefined, { timeoutMs: 30000 });
    const several = await cli(reconcile, ['--json', '--older-than', '86400', '--attempts-older-than', '0'], { TWILIO_API_BASE_URL: wall.url });
    expect(several.code).toBe(0);
    expect(items(several, [id])).toEqual([{ attempt_id: id, to, from: callerId, twilio_calls: [a.sid, b.sid].sort(), outcome: 'ambiguous' }]);
    expect(await attemptRow(id)).toEqual(before);
    expect(await countOf(callerId)).toEqual(countBefore);
  });
});
