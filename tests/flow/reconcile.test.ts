/**
 * Nothing lost when the database is away, through the Twilio emulator and a stack of this
 * file's own:
 * - `numbers point` gives a number a VoiceFallbackUrl that answers without the database and a
 *   StatusCallback with the retry fragment; a VoiceUrl that fails lands on the fallback.
 * - A call completes while Postgres is stopped: its status callbacks get 503 and the row is
 *   left live. Once the database is back, `npm run reconcile` reads the Call resource and
 *   makes the row terminal with Twilio's duration; a second run changes nothing.
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
async function cli(run: typeof numbers, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, cliEnv(), { out: (l) => out.push(l), err: (l) => err.push(l) });
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
  it('sets VoiceUrl, VoiceFallbackUrl and a StatusCallback with the retry fragment on the number', async () => {
    const r = await cli(numbers, ['point', SPARE, '--json']);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: [] });
    const [n] = await deps().twilio.incomingPhoneNumbers.list({ phoneNumber: SPARE });
    const base = stack.env.FUNCTIONS_BASE_URL;
    expect([n!.voiceUrl, n!.voiceMethod, n!.voiceFallbackUrl, n!.voiceFallbackMethod, n!.statusCallback, n!.statusCallbackMethod, n!.smsUrl]).toEqual([
      `${base}/voice/inbound`,
      'POST',
      `${base}/voice/fallback`,
      'POST',
      `${base}/webhooks/call-status#${STATUS_CALLBACK_OVERRIDES}`,
      'POST',
      '',
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
  });
});
