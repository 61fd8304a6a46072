/**
 * The database goes away mid-operation, two ways: frozen (SIGSTOP on the postmaster and its
 * backends: the process is alive, connections and queries hang, as a stalled database does)
 * and stopped (connections refused). Every voice URL still answers useful TwiML well within
 * Twilio's 15 s, status callbacks say 503 within their deadline, and once the database is
 * back the same requests work again. Runs its own stacks.
 *
 * The deadlines proved here: DB_TIMEOUT_MS (each database request gives up after 2.5 s by
 * default) and the handler's own deadline (a voice flow answers its fallback after 6 s even
 * when the database timeout is longer). Removing either makes a test below fail.
 */
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { newCallSid, newMobile, signedPost, voiceRequest } from '../helpers/twilio';
import { find, parseTwiml, verbNames } from '../helpers/twiml';
import { sql } from '../helpers/db';
import { MESSAGES } from '../../src/lib/domain/messages';

jest.setTimeout(120000);
const ANA_DID = '+551130001000'; // supabase/seed.sql: Ana's dedicated number
const FALLBACK = '+5511955550000'; // the stack's FALLBACK_NUMBER
/** Default DB_TIMEOUT_MS (src/lib/runtime/config.ts). */
const DB_TIMEOUT_MS = 2500;
/** The handler's voice deadline (src/lib/runtime/handler.ts). */
const VOICE_DEADLINE_MS = 6000;

/** Sends a signed request to one of the stack's functions; returns status, body and how long it took. */
async function timed(stack: StackProcess, path: string, params: Record<string, string>) {
  const t = Date.now();
  const res = await signedPost(`${stack.env.FUNCTIONS_BASE_URL}${path}`, params, stack.env.TWILIO_AUTH_TOKEN);
  return { status: res.status, body: await res.text(), ms: Date.now() - t };
}
const callOf = (stack: StackProcess, over: Record<string, string> = {}) =>
  voiceRequest({ CallSid: newCallSid(), From: newMobile(), To: ANA_DID, ...over }, stack.env.TWILIO_ACCOUNT_SID);
const outboundOf = (stack: StackProcess, over: Record<string, string> = {}) =>
  callOf(stack, { From: '+551130002000', To: newMobile(), Direction: 'outbound-api', CallStatus: 'in-progress', ...over });

describe('with Postgres frozen (SIGSTOP): connections hang instead of failing', () => {
  let stack: StackProcess;
  beforeAll(async () => {
    stack = await startStackProcess(['--no-emulator']);
    // Sanity, and warm PostgREST's pool so live connections exist to hang.
    const up = await timed(stack, '/voice/inbound', callOf(stack));
    expect(verbNames(parseTwiml(up.body))).toEqual(['Play', 'Dial']);
    expect(find(parseTwiml(up.body), 'Client')!.text).toBe('ana');
    await stack.freezeDb();
  });
  afterAll(async () => stack?.stop());

  it('voice URLs answer useful fallback TwiML and call-status a 503, each within DB_TIMEOUT_MS plus overhead', async () => {
    const customer = newMobile();
    const [inbound, outbound, optOut, status] = await Promise.all([
      timed(stack, '/voice/inbound', callOf(stack)),
      timed(stack, '/voice/outbound', outboundOf(stack)),
      timed(stack, '/voice/opt-out', outboundOf(stack, { To: customer, Digits: '9' })),
      timed(stack, '/webhooks/call-status', callOf(stack, { CallStatus: 'completed', CallDuration: '12' })),
    ]);
    // Well under the handler's deadlines (6 s voice, 8 s webhooks): the database timeout fired.
    const bound = DB_TIMEOUT_MS + 2000;
    expect({ inbound: inbound.ms < bound, outbound: outbound.ms < bound, optOut: optOut.ms < bound, status: status.ms < bound }).toEqual({
      inbound: true,
      outbound: true,
      optOut: true,
      status: true,
    });
    // And not suspiciously fast: the functions really waited on the hung database.
    expect(Math.min(inbound.ms, outbound.ms, optOut.ms, status.ms)).toBeGreaterThanOrEqual(DB_TIMEOUT_MS - 100);

    expect(inbound.status).toBe(200);
    const inTwiml = parseTwiml(inbound.body);
    expect(verbNames(inTwiml)).toEqual(['Play', 'Dial']);
    expect(find(inTwiml, 'Number')!.text).toBe(FALLBACK);

    expect(outbound.status).toBe(200);
    const outTwiml = parseTwiml(outbound.body);
    // The opt-out list cannot be read: the customer hears an apology and is connected to nobody.
    expect(verbNames(outTwiml)).toEqual(['Say', 'Hangup']);
    expect(find(outTwiml, 'Say')!.text).toBe(MESSAGES.outboundUnverified);

    expect(optOut.status).toBe(200);
    const optTwiml = parseTwiml(optOut.body);
    expect(verbNames(optTwiml)).toEqual(['Say', 'Pause', 'Redirect']);
    expect(optTwiml.children[2]!.text).toBe(`${stack.env.FUNCTIONS_BASE_URL}/voice/opt-out?attempt=2&Digits=9`);

    expect(status.status).toBe(503);
    expect(JSON.parse(status.body)).toEqual({ error: 'database_unavailable' });
  });

  it('after SIGCONT everything works again: routing from the database, callbacks and opt-outs applied', async () => {
    await stack.thawDb();
    const inbound = await timed(stack, '/voice/inbound', callOf(stack));
    expect(inbound.ms).toBeLessThan(DB_TIMEOUT_MS);
    expect(find(parseTwiml(inbound.body), 'Client')!.text).toBe('ana'); // Ana's devices, not the fallback

    const completed = callOf(stack, { CallStatus: 'completed', CallDuration: '12' });
    expect((await timed(stack, '/webhooks/call-status', completed)).status).toBe(204);
    expect(await sql('select status, duration from calls where call_sid = $1', [completed['CallSid']], stack.env.DATABASE_URL)).toEqual([
      { status: 'completed', duration: 12 },
    ]);

    const customer = newMobile();
    const pressed = outboundOf(stack, { To: customer, Digits: '9' });
    const opt = await timed(stack, '/voice/opt-out', pressed);
    expect(verbNames(parseTwiml(opt.body))).toEqual(['Say', 'Hangup']);
    expect(await sql('select source, created_by from opt_outs where phone_number = $1', [customer], stack.env.DATABASE_URL)).toEqual([
      { source: 'ivr', created_by: pressed['CallSid'] },
    ]);
  });
});

describe('with a database timeout longer than the voice deadline (DB_TIMEOUT_MS=8000), frozen', () => {
  let stack: StackProcess;
  beforeAll(async () => {
    stack = await startStackProcess(['--no-emulator', '--functions-env', 'DB_TIMEOUT_MS=8000']);
    expect((await timed(stack, '/voice/inbound', callOf(stack))).status).toBe(200);
    await stack.freezeDb();
  });
  afterAll(async () => stack?.stop());

  it("the handler's deadline answers the fallback before the database timeout would", async () => {
    const [inbound, outbound] = await Promise.all([timed(stack, '/voice/inbound', callOf(stack)), timed(stack, '/voice/outbound', outboundOf(stack))]);
    for (const r of [inbound, outbound]) {
      expect(r.status).toBe(200);
      expect(r.ms).toBeGreaterThanOrEqual(VOICE_DEADLINE_MS - 100);
      expect(r.ms).toBeLessThan(8000 - 300); // before DB_TIMEOUT_MS: the handler's deadline fired
    }
    expect(find(parseTwiml(inbound.body), 'Number')!.text).toBe(FALLBACK);
    expect(verbNames(parseTwiml(outbound.body))).toEqual(['Say', 'Hangup']);
  });
});

describe('with the database stopped (connections refused)', () => {
  let stack: StackProcess;
  beforeAll(async () => {
    stack = await startStackProcess(['--no-emulator']);
    expect((await timed(stack, '/voice/inbound', callOf(stack))).status).toBe(200);
    await stack.control('db:stop');
  });
  afterAll(async () => stack?.stop());

  it('inbound: disclaimer then the fallback number, fast, never a 5xx', async () => {
    const r = await timed(stack, '/voice/inbound', callOf(stack));
    expect(r.status).toBe(200);
    expect(r.ms).toBeLessThan(5000);
    const twiml = parseTwiml(r.body);
    expect(verbNames(twiml)).toEqual(['Play', 'Dial']);
    expect(find(twiml, 'Number')!.text).toBe(FALLBACK);
  });

  it('outbound: the opt-out list cannot be read, so an apology and no Dial to anyone', async () => {
    const r = await timed(stack, '/voice/outbound', outboundOf(stack));
    expect(r.status).toBe(200);
    expect(r.ms).toBeLessThan(5000);
    expect(verbNames(parseTwiml(r.body))).toEqual(['Say', 'Hangup']);
  });

  it('opt-out key: retried in the call, then the customer is told it could not be registered', async () => {
    const first = await timed(stack, '/voice/opt-out', outboundOf(stack, { Digits: '9' }));
    expect(first.status).toBe(200);
    expect(verbNames(parseTwiml(first.body))).toEqual(['Say', 'Pause', 'Redirect']);
    const last = await timed(stack, '/voice/opt-out', outboundOf(stack, { Digits: '9', attempt: '3' }));
    expect(verbNames(parseTwiml(last.body))).toEqual(['Say', 'Hangup']);
    expect(parseTwiml(last.body).children[0]!.text).toContain('Não conseguimos registrar');
  });

  it('voicemail and the number fallback still work', async () => {
    const vm = await timed(stack, '/voice/voicemail', callOf(stack, { DialCallStatus: 'no-answer' }));
    expect(verbNames(parseTwiml(vm.body))).toEqual(['Say', 'Record']);
    const fb = await timed(stack, '/voice/fallback', callOf(stack, { ErrorCode: '11200', ErrorUrl: `${stack.env.FUNCTIONS_BASE_URL}/voice/inbound` }));
    expect(fb.status).toBe(200);
    expect(verbNames(parseTwiml(fb.body))).toEqual(['Play', 'Dial']);
  });

  it('call-status answers 503 quickly; after the database is back the same callback is applied', async () => {
    const params = callOf(stack, { CallStatus: 'completed', CallDuration: '12' });
    const r = await timed(stack, '/webhooks/call-status', params);
    expect(r.status).toBe(503);
    expect(r.ms).toBeLessThan(5000);
    await stack.control('db:start');
    // PostgREST reconnects on its own; retry as Twilio's connection-override retries would.
    let status = 0;
    for (let i = 0; i < 40 && status !== 204; i++) {
      status = (await timed(stack, '/webhooks/call-status', params)).status;
      if (status !== 204) await new Promise((res) => setTimeout(res, 500));
    }
    expect(status).toBe(204);
    const rows = await sql('select status, duration from calls where call_sid = $1', [params['CallSid']], stack.env.DATABASE_URL);
    expect(rows).toEqual([{ status: 'completed', duration: 12 }]);
  });
});
