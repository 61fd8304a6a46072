/**
 * The database goes down mid-operation (Postgres stopped for real): every voice function
 * still answers useful TwiML within a few seconds, status callbacks say 503, and once the
 * database is back the same requests are applied again. Runs its own stack.
 */
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { newCallSid, newMobile, signedPost, voiceRequest } from '../helpers/twilio';
import { find, parseTwiml, verbNames } from '../helpers/twiml';
import { sql } from '../helpers/db';

jest.setTimeout(90000);
let stack: StackProcess;
const post = (path: string, params: Record<string, string>) => signedPost(`${stack.env.FUNCTIONS_BASE_URL}${path}`, params, stack.env.TWILIO_AUTH_TOKEN);
const call = (over: Record<string, string> = {}) =>
  voiceRequest({ CallSid: newCallSid(), From: newMobile(), To: '+551130001000', ...over }, stack.env.TWILIO_ACCOUNT_SID);

/** Sends a request and returns its status, body and how long it took. */
async function timed(path: string, params: Record<string, string>) {
  const t = Date.now();
  const res = await post(path, params);
  return { status: res.status, body: await res.text(), ms: Date.now() - t };
}

beforeAll(async () => {
  stack = await startStackProcess(['--no-emulator']);
});
afterAll(async () => stack?.stop());

describe('with the database stopped', () => {
  beforeAll(async () => {
    // Sanity: the route works while the database is up.
    expect((await post('/voice/inbound', call())).status).toBe(200);
    await stack.control('db:stop');
  });

  it('inbound: disclaimer then the fallback number, fast, never a 5xx', async () => {
    const r = await timed('/voice/inbound', call());
    expect(r.status).toBe(200);
    expect(r.ms).toBeLessThan(5000);
    const twiml = parseTwiml(r.body);
    expect(verbNames(twiml)).toEqual(['Play', 'Dial']);
    expect(find(twiml, 'Number')!.text).toBe('+5511955550000');
  });

  it('outbound: disclaimer with the opt-out offer, then the fallback number', async () => {
    const r = await timed('/voice/outbound', call({ Direction: 'outbound-api', CallStatus: 'in-progress' }));
    expect(r.status).toBe(200);
    expect(r.ms).toBeLessThan(5000);
    expect(verbNames(parseTwiml(r.body))).toEqual(['Gather', 'Dial']);
  });

  it('opt-out key: the customer is told it could not be registered', async () => {
    const r = await timed('/voice/opt-out', call({ Direction: 'outbound-api', CallStatus: 'in-progress', Digits: '9' }));
    expect(r.status).toBe(200);
    expect(verbNames(parseTwiml(r.body))).toEqual(['Say', 'Hangup']);
  });

  it('voicemail still records', async () => {
    const r = await timed('/voice/voicemail', call({ DialCallStatus: 'no-answer' }));
    expect(verbNames(parseTwiml(r.body))).toEqual(['Say', 'Record']);
  });

  it('call-status answers 503 quickly', async () => {
    const r = await timed('/webhooks/call-status', call({ CallStatus: 'completed', CallDuration: '12' }));
    expect(r.status).toBe(503);
    expect(r.ms).toBeLessThan(5000);
  });

  it('after the database is back, the same callback is applied', async () => {
    const params = call({ CallStatus: 'completed', CallDuration: '12' });
    expect((await post('/webhooks/call-status', params)).status).toBe(503);
    await stack.control('db:start');
    // PostgREST reconnects on its own; retry as Twilio's debugger-driven replays would.
    let status = 0;
    for (let i = 0; i < 40 && status !== 204; i++) {
      status = (await post('/webhooks/call-status', params)).status;
      if (status !== 204) await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe(204);
    const rows = await sql('select status, duration from calls where call_sid = $1', [params['CallSid']], stack.env.DATABASE_URL);
    expect(rows).toEqual([{ status: 'completed', duration: 12 }]);
  });
});

