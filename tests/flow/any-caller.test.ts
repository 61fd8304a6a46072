/**
 * Withheld and alphanumeric caller IDs through the real stack (front, functions, PostgREST,
 * Postgres): the caller is served and the call recorded as Twilio sent it. Status callbacks
 * carrying values that cannot be true are refused and write nothing.
 */
import { env, sql } from '../helpers/db';
import { newCallSid, signedPost, voiceRequest } from '../helpers/twilio';
import { find, parseTwiml, verbNames } from '../helpers/twiml';

/** A test title's view of a value: long ones as their first characters and length. */
const short = (v: string) => (v.length > 40 ? `"${v.slice(0, 12)}…" (${v.length} characters)` : JSON.stringify(v));

const base = () => env('FUNCTIONS_BASE_URL');
const post = (path: string, p: Record<string, string>) => signedPost(`${base()}${path}`, p, env('TWILIO_AUTH_TOKEN'));
const nobodysNumber = () => `+5511301${String(Math.floor(Math.random() * 1e5)).padStart(5, '0')}`;

// What Twilio passes through for a withheld caller (changelog 2022-11-16), in the casings seen,
// its anonymous number, and an alpha string a carrier may supply.
const WITHHELD = ['ANONYMOUS', 'Anonymous', 'anonymous', 'RESTRICTED', 'UNAVAILABLE', 'UNKNOWN', 'unknown', '+266696687', 'CONFIDENCIAL'];

describe('inbound from a withheld or alphanumeric caller ID', () => {
  it.each(WITHHELD)('%p hears the disclaimer, gets a route, and the call is recorded as sent', async (from) => {
    const p = voiceRequest({ CallSid: newCallSid(), From: from, Caller: from, To: nobodysNumber() }, env('TWILIO_ACCOUNT_SID'));
    const res = await post('/voice/inbound', p);
    expect(res.status).toBe(200);
    const twiml = parseTwiml(await res.text());
    expect(verbNames(twiml)).toEqual(['Play', 'Dial']);
    expect(twiml.children[0]!.text).toBe(`${base()}/disclaimer.mp3`);
    expect(find(twiml, 'Number')!.text).toBe('+5511955550000');
    const rows = await sql('select direction, from_number, to_number, status, opted_out from calls where call_sid = $1', [p['CallSid']]);
    expect(rows).toEqual([{ direction: 'inbound', from_number: from, to_number: p['To'], status: 'ringing', opted_out: false }]);
  });

  it("the call's status callbacks are applied too", async () => {
    const p = voiceRequest({ CallSid: newCallSid(), From: 'Anonymous', To: nobodysNumber() }, env('TWILIO_ACCOUNT_SID'));
    expect((await post('/voice/inbound', p)).status).toBe(200);
    const done = { ...p, CallStatus: 'completed', CallDuration: '42', SequenceNumber: '2', Timestamp: new Date().toUTCString() };
    expect((await post('/webhooks/call-status', done)).status).toBe(204);
    expect(await sql('select status, duration, from_number from calls where call_sid = $1', [p['CallSid']])).toEqual([
      { status: 'completed', duration: 42, from_number: 'Anonymous' },
    ]);
  });

  it.each([
    ['empty', ''],
    ['longer than any caller ID', 'x'.repeat(300)],
    ['with a NUL character', 'ANON\u0000YMOUS'],
  ])('a caller %s is served, and its status callbacks land too (never a 4xx Twilio would not retry)', async (_label, from) => {
    const p = voiceRequest({ CallSid: newCallSid(), From: from, To: nobodysNumber() }, env('TWILIO_ACCOUNT_SID'));
    const voice = await post('/voice/inbound', p);
    expect(voice.status).toBe(200);
    expect(verbNames(parseTwiml(await voice.text()))).toEqual(['Play', 'Dial']);
    const done = { ...p, CallStatus: 'completed', CallDuration: '7', SequenceNumber: '2', Timestamp: new Date().toUTCString() };
    const res = await post('/webhooks/call-status', done);
    const body = await res.text();
    expect({ status: res.status, body }).toEqual({ status: 204, body: '' });
    expect(await sql('select status, duration from calls where call_sid = $1', [p['CallSid']])).toEqual([{ status: 'completed', duration: 7 }]);
  });

  it('a request without a usable CallSid still gets the disclaimer and a route', async () => {
    const p = voiceRequest({ CallSid: 'CA-not-a-sid', From: 'Anonymous', To: nobodysNumber() }, env('TWILIO_ACCOUNT_SID'));
    const res = await post('/voice/inbound', p);
    expect(res.status).toBe(200);
    expect(verbNames(parseTwiml(await res.text()))).toEqual(['Play', 'Dial']);
    expect(await sql('select count(*)::int as n from calls where call_sid = $1', [p['CallSid']])).toEqual([{ n: 0 }]);
  });
});

describe('status callbacks with impossible values', () => {
  it.each([
    ['SequenceNumber', '9'.repeat(300)],
    ['SequenceNumber', '2147483648'],
    ['CallDuration', '9'.repeat(300)],
    ['CallDuration', '86401'],
    ['Timestamp', '2001'],
    ['Timestamp', 'Sat, 13 Sep 275760 00:00:00 GMT'],
    ['Timestamp', new Date(Date.now() + 7 * 24 * 3600 * 1000).toUTCString()],
  ].map(([n, v]) => [n!, short(v!), v!] as const))('%s=%s is refused with 400 naming it, and nothing is written', async (name, _label, value) => {
    const sid = newCallSid();
    const p = {
      ...voiceRequest({ CallSid: sid, From: '+551130001000', To: '+5511987654321' }, env('TWILIO_ACCOUNT_SID')),
      Direction: 'outbound-api', CallStatus: 'completed', SequenceNumber: '3', CallDuration: '10', Timestamp: new Date().toUTCString(),
      [name]: value,
    };
    const res = await post('/webhooks/call-status', p);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain(name);
    expect(await sql('select (select count(*) from calls where call_sid = $1)::int as calls, (select count(*) from call_events where call_sid = $1)::int as events', [sid])).toEqual([
      { calls: 0, events: 0 },
    ]);
  });
});
