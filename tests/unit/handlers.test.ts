import { MESSAGES } from '../../src/lib/domain/messages';
/**
 * Handlers called as the runtime calls them, with the database unreachable (a closed port):
 * what the caller hears then, and how malformed requests are refused before any write.
 * The same flows with a live database are covered in tests/flow.
 */
import { handler as inbound } from '../../src/functions/voice/inbound.protected';
import { handler as outbound } from '../../src/functions/voice/outbound.protected';
import { handler as optOut } from '../../src/functions/voice/opt-out.protected';
import { handler as voicemail } from '../../src/functions/voice/voicemail.protected';
import { handler as callStatus } from '../../src/functions/webhooks/call-status.protected';
import { voiceFunction } from '../../src/lib/runtime/handler';
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';
import { find, parseTwiml, verbNames } from '../helpers/twiml';

/** A test title's view of a value: long ones as their first characters and length. */
const short = (v: string) => (v.length > 40 ? `"${v.slice(0, 12)}…" (${v.length} characters)` : JSON.stringify(v));

beforeAll(installRuntimeGlobals);
// Failures are logged for Twilio's console; keep the test output readable.
beforeEach(() => jest.spyOn(console, 'error').mockImplementation(() => undefined));
afterEach(() => jest.restoreAllMocks());
const base = 'https://discador-1234-dev.twil.io';
const call = {
  CallSid: 'CA' + '1'.repeat(32),
  AccountSid: 'AC0000000000000000000000000000d15c',
  From: '+5511987654321',
  To: '+551130001000',
  CallStatus: 'ringing',
  Direction: 'inbound',
};

describe('voice flows with the database down', () => {
  it('inbound: disclaimer MP3, then the fallback number, then voicemail', async () => {
    const started = Date.now();
    const res = await invoke(inbound, makeContext({ FALLBACK_NUMBER: '+5511955550000' }), call);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.status).toBe(200);
    expect(res.headers['Content-Type']).toContain('text/xml');
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Play', 'Dial']);
    expect(twiml.children[0]!.text).toBe(`${base}/disclaimer.mp3`);
    const dial = twiml.children[1]!;
    expect(dial.attrs).toMatchObject({ action: `${base}/voice/voicemail`, timeout: '20', answerOnBridge: 'true' });
    expect(verbNames(dial)).toEqual(['Number']);
    expect(dial.children[0]!.text).toBe('+5511955550000');
  });

  it('inbound without a fallback number: disclaimer then voicemail', async () => {
    const res = await invoke(inbound, makeContext({ FALLBACK_NUMBER: undefined }), call);
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Play', 'Say', 'Record']);
    expect(twiml.children[2]!.attrs).toMatchObject({ action: `${base}/voice/voicemail`, maxLength: '120', playBeep: 'true' });
  });

  it('says DISCLAIMER_TEXT in pt-BR with Polly.Camila when DISCLAIMER_MODE=say', async () => {
    const res = await invoke(inbound, makeContext({ DISCLAIMER_MODE: 'say', DISCLAIMER_TEXT: 'Ligação gravada.' }), call);
    const say = parseTwiml(res.body).children[0]!;
    expect(say).toMatchObject({ name: 'Say', text: 'Ligação gravada.', attrs: { language: 'pt-BR', voice: 'Polly.Camila' } });
  });

  it('outbound: the opt-out list cannot be read, so nobody is connected: an apology, then hang up', async () => {
    const res = await invoke(outbound, makeContext({ FALLBACK_NUMBER: '+5511955550000' }), { ...call, Direction: 'outbound-api', CallStatus: 'in-progress' });
    expect(res.status).toBe(200);
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
    expect(find(twiml, 'Say')!.text).toBe(MESSAGES.outboundUnverified);
    expect(find(twiml, 'Dial')).toBeUndefined();
  });

  it('opt-out key with the database down: tells the customer it was not registered (last attempt), never silence', async () => {
    const res = await invoke(optOut, makeContext(), { ...call, Direction: 'outbound-api', Digits: '9', attempt: '3' });
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
    expect(twiml.children[0]!.text).toContain('Não conseguimos registrar');
  });

  it('another key goes on to the agent without the database', async () => {
    const res = await invoke(optOut, makeContext(), { ...call, Direction: 'outbound-api', Digits: '1' });
    const twiml = parseTwiml(res.body);
    expect(twiml.children[0]).toMatchObject({ name: 'Redirect', text: `${base}/voice/outbound?step=connect`, attrs: { method: 'POST' } });
  });

  it('voicemail needs no database', async () => {
    const unanswered = parseTwiml((await invoke(voicemail, makeContext(), { ...call, DialCallStatus: 'no-answer' })).body);
    expect(verbNames(unanswered)).toEqual(['Say', 'Record']);
    const bridged = parseTwiml((await invoke(voicemail, makeContext(), { ...call, DialCallStatus: 'completed' })).body);
    expect(verbNames(bridged)).toEqual(['Hangup']);
    const recorded = parseTwiml((await invoke(voicemail, makeContext(), { ...call, RecordingUrl: 'https://api.twilio.com/x', RecordingDuration: '12' })).body);
    expect(verbNames(recorded)).toEqual(['Say', 'Hangup']);
  });

  it('call-status answers 503 so the loss shows in the debugger', async () => {
    const res = await invoke(callStatus, makeContext(), { ...call, CallStatus: 'completed', CallDuration: '10' });
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ error: 'database_unavailable' });
  });
});

/** The withheld and alphanumeric caller IDs Twilio passes through in From (changelog 2022-11-16). */
export const WITHHELD_CALLERS = ['ANONYMOUS', 'Anonymous', 'anonymous', 'RESTRICTED', 'restricted', 'UNAVAILABLE', 'UNKNOWN', 'unknown', '+266696687', 'Operadora XYZ', 'sip:anon@example.com'];

describe('voice flows serve any caller', () => {
  const fallbackRoute = (body: string) => {
    const twiml = parseTwiml(body);
    expect(verbNames(twiml)).toEqual(['Play', 'Dial']);
    expect(find(twiml, 'Number')!.text).toBe('+5511955550000');
  };
  const ctx = () => makeContext({ FALLBACK_NUMBER: '+5511955550000' });

  it.each(WITHHELD_CALLERS)('inbound from %p: disclaimer and a route, never an error', async (from) => {
    const res = await invoke(inbound, ctx(), { ...call, From: from, Caller: from });
    expect(res.status).toBe(200);
    fallbackRoute(res.body);
  });

  it.each([
    ['no From, To or AccountSid', { ...call, From: undefined, To: undefined, AccountSid: undefined }],
    ['an empty From', { ...call, From: '' }],
    ['a From of 10 000 characters', { ...call, From: 'x'.repeat(10_000) }],
    ['an unknown CallStatus and Direction', { ...call, CallStatus: 'answered', Direction: 'sideways' }],
    ['no CallSid', { ...call, CallSid: undefined }],
    ['a malformed CallSid', { ...call, CallSid: 'CA123' }],
    ['a CallSid with SQL in it', { ...call, CallSid: "CA'; drop table calls; --" }],
  ])('inbound with %s still gets the disclaimer and a route (200)', async (_what, event) => {
    const res = await invoke(inbound, ctx(), event as Record<string, unknown>);
    expect(res.status).toBe(200);
    fallbackRoute(res.body);
  });

  it('outbound answer with a malformed CallSid: the opt-out list cannot be checked, so an apology and no Dial', async () => {
    const res = await invoke(outbound, ctx(), { ...call, CallSid: 'nope', To: 'Anonymous', Direction: 'outbound-api', CallStatus: 'in-progress' });
    expect(res.status).toBe(200);
    expect(verbNames(parseTwiml(res.body))).toEqual(['Say', 'Hangup']);
  });

  it('the opt-out key from a withheld number: told it could not be registered, never an error', async () => {
    const res = await invoke(optOut, ctx(), { ...call, From: 'Anonymous', Digits: '9' });
    expect(res.status).toBe(200);
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
    expect(find(twiml, 'Say')!.text).toBe(MESSAGES.optOutNoNumber);
  });

  it('voicemail with unusable parameters still records', async () => {
    const res = await invoke(voicemail, ctx(), { CallSid: 'x', DialCallStatus: 'no-answer' });
    expect(res.status).toBe(200);
    expect(verbNames(parseTwiml(res.body))).toEqual(['Say', 'Record']);
  });

  it('unusable parameters are logged for the console', async () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    await invoke(inbound, ctx(), { ...call, From: '', Direction: 'sideways' });
    expect(warn.mock.calls.map((c) => String(c[0])).join('\n')).toMatch(/unusable parameters ignored: missing From|From must not be empty/);
    expect(warn.mock.calls.map((c) => String(c[0])).join('\n')).toContain('Direction must be one of');
  });

  it('a fallback that throws still answers 200 TwiML (the generic message in pt-BR)', async () => {
    const broken = voiceFunction(
      () => Promise.reject(new Error('flow failed')),
      () => {
        throw new Error('fallback failed too');
      },
    );
    const res = await invoke(broken, ctx(), call);
    expect(res.status).toBe(200);
    expect(res.headers['Content-Type']).toContain('text/xml');
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
    expect(twiml.children[0]).toMatchObject({ text: expect.stringContaining('No momento não conseguimos'), attrs: { language: 'pt-BR', voice: 'Polly.Camila' } });
  });

  it('a broken configuration still answers TwiML (and names nothing secret)', async () => {
    const res = await invoke(inbound, makeContext({ SUPABASE_URL: 'not a url' }), call);
    expect(res.status).toBe(200);
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
    expect(twiml.children[0]!.attrs).toMatchObject({ language: 'pt-BR' });
  });
});

describe('status callbacks validate strictly', () => {
  const status = { ...call, CallStatus: 'completed', Direction: 'outbound-api' };
  const refuse = async (event: Record<string, unknown>, name: string) => {
    const res = await invoke(callStatus, makeContext(), event);
    expect({ name, status: res.status }).toEqual({ name, status: 400 });
    const body = JSON.parse(res.body) as { error: string; message: string };
    expect(body.error).toBe('invalid_parameters');
    expect(body.message).toContain(name);
  };

  it.each([
    ['SequenceNumber', '1' + '0'.repeat(300)], // 1e300: beyond any integer type
    ['SequenceNumber', '2147483648'],
    ['SequenceNumber', '10001'],
    ['SequenceNumber', '-1'],
    ['SequenceNumber', '1.5'],
    ['CallDuration', '9'.repeat(400)],
    ['CallDuration', '86401'],
    ['CallDuration', '1e3'],
    ['CallDuration', 'ten'],
    ['Timestamp', '2001'],
    ['Timestamp', 'yesterday'],
    ['Timestamp', 'Mon, 01 Jan 2001 00:00:00 +0000'],
    ['Timestamp', 'Sat, 13 Sep 275760 00:00:00 GMT'],
    ['Timestamp', '+275760-09-13T00:00:00.000Z'],
    ['Timestamp', new Date(Date.now() + 3 * 24 * 3600 * 1000).toUTCString()],
    ['Timestamp', 'Tue, 31 Feb 2026 10:00:00 +0000'],
    ['Timestamp', 'Wed, 25 Nov 2026 25:00:00 +0000'],
  ].map(([n, v]) => [n!, short(v!), v!] as const))('refuses %s=%s with 400 naming it', async (name, _label, value) => refuse({ ...status, [name]: value }, name));

  it.each([
    ['missing CallSid', { ...status, CallSid: undefined }],
    ['CallSid must be CA followed by 32 hex characters', { ...status, CallSid: 'CA123' }],
    ['CallStatus must be one of', { ...status, CallStatus: 'answered' }],
    ['missing AccountSid', { ...status, AccountSid: undefined, To: undefined }],
  ])('refuses with 400: %s', async (reason, event) => refuse(event as Record<string, unknown>, reason));

  it.each([
    ['Twilio\'s own form', { SequenceNumber: '3', CallDuration: '86400', Timestamp: 'Wed, 25 Nov 2026 19:22:40 +0000' }],
    ['GMT and no day name', { SequenceNumber: '0', CallDuration: '0', Timestamp: '4 Mar 2026 08:00:00 GMT' }],
    ['a withheld caller', { From: 'Anonymous', To: 'RESTRICTED' }],
    ['now', { Timestamp: new Date().toUTCString() }],
  ])('accepts %s (then finds the database down: 503)', async (_what, extra) => {
    const res = await invoke(callStatus, makeContext(), { ...status, ...extra });
    expect(res.status).toBe(503);
  });
});
