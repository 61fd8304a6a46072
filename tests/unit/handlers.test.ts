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
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';
import { find, parseTwiml, verbNames } from '../helpers/twiml';

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

  it('outbound: disclaimer inside a Gather for the opt-out key, then the fallback number', async () => {
    const res = await invoke(outbound, makeContext({ FALLBACK_NUMBER: '+5511955550000' }), { ...call, Direction: 'outbound-api', CallStatus: 'in-progress' });
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Gather', 'Dial']);
    const gather = twiml.children[0]!;
    expect(gather.attrs).toMatchObject({ numDigits: '1', action: `${base}/voice/opt-out`, actionOnEmptyResult: 'false' });
    expect(verbNames(gather)).toEqual(['Play', 'Say']);
    expect(gather.children[1]!.text).toContain('digite 9');
    expect(find(twiml, 'Number')!.text).toBe('+5511955550000');
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

describe('bad input', () => {
  it.each([
    [{ ...call, CallSid: undefined }, 'missing CallSid'],
    [{ ...call, CallSid: 'CA123' }, 'CallSid must be CA followed by 32 hex characters'],
    [{ ...call, From: '11 9999' }, 'From must be an E.164 number'],
    [{ ...call, CallStatus: 'answered' }, 'CallStatus'],
    [{ ...call, AccountSid: undefined, To: undefined }, 'missing AccountSid; missing To'],
  ])('inbound refuses %o with 400', async (event, reason) => {
    const res = await invoke(inbound, makeContext(), event as Record<string, unknown>);
    expect(res.status).toBe(400);
    const body = JSON.parse(res.body) as { error: string; message: string };
    expect(body.error).toBe('invalid_parameters');
    expect(body.message).toContain(reason);
  });

  it('call-status refuses a bad Timestamp, SequenceNumber or CallDuration', async () => {
    for (const [k, v] of [['Timestamp', 'yesterday'], ['SequenceNumber', '-1'], ['CallDuration', 'ten']] as const) {
      const res = await invoke(callStatus, makeContext(), { ...call, [k]: v });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).message).toContain(k);
    }
  });

  it('a broken configuration still answers TwiML (and names nothing secret)', async () => {
    const res = await invoke(inbound, makeContext({ SUPABASE_URL: 'not a url' }), call);
    expect(res.status).toBe(200);
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
    expect(twiml.children[0]!.attrs).toMatchObject({ language: 'pt-BR' });
  });
});
