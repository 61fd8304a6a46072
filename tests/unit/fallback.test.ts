/**
 * /voice/fallback (a number's VoiceFallbackUrl) answers without the database: disclaimer,
 * then FALLBACK_NUMBER, else voicemail; whatever Twilio sends, never an error.
 */
import { handler as fallback } from '../../src/functions/voice/fallback.protected';
import { statusCallbackUrl, STATUS_CALLBACK_OVERRIDES, voiceFallbackUrl } from '../../src/lib/domain/callback-urls';
import { MESSAGES } from '../../src/lib/domain/messages';
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';
import { find, parseTwiml, verbNames } from '../helpers/twiml';

beforeAll(installRuntimeGlobals);
beforeEach(() => jest.spyOn(console, 'error').mockImplementation(() => undefined));
afterEach(() => jest.restoreAllMocks());
const base = 'https://discador-1234-dev.twil.io';
// What Twilio sends to a VoiceFallbackUrl: the call's parameters plus ErrorCode and ErrorUrl.
const failed = {
  CallSid: 'CA' + '2'.repeat(32),
  AccountSid: 'AC0000000000000000000000000000d15c',
  From: '+5511987654321',
  To: '+551130001000',
  CallStatus: 'ringing',
  Direction: 'inbound',
  ErrorCode: '11200',
  ErrorUrl: `${base}/voice/inbound`,
};

describe('/voice/fallback', () => {
  it('plays the disclaimer, then dials FALLBACK_NUMBER with voicemail as the Dial action', async () => {
    // SUPABASE_URL points at a closed port: the answer must not depend on the database.
    const started = Date.now();
    const res = await invoke(fallback, makeContext({ FALLBACK_NUMBER: '+5511955550000' }), failed);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(200);
    expect(res.headers['Content-Type']).toContain('text/xml');
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Play', 'Dial']);
    expect(twiml.children[0]!.text).toBe(`${base}/disclaimer.mp3`);
    expect(twiml.children[1]!.attrs).toMatchObject({ action: `${base}/voice/voicemail`, answerOnBridge: 'true' });
    expect(find(twiml, 'Number')!.text).toBe('+5511955550000');
  });

  it('a dialer call whose answer URL failed is connected to nobody: an apology, then hang up', async () => {
    for (const Direction of ['outbound-api', 'outbound-dial']) {
      const res = await invoke(fallback, makeContext({ FALLBACK_NUMBER: '+5511955550000' }), {
        ...failed, Direction, From: '+551130001000', To: '+5511987654321', ErrorUrl: `${base}/voice/outbound?attempt=7`,
      });
      expect(res.status).toBe(200);
      const twiml = parseTwiml(res.body);
      expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
      expect(find(twiml, 'Say')!.text).toBe(MESSAGES.outboundUnverified);
      expect(find(twiml, 'Dial')).toBeUndefined();
    }
  });

  it('without FALLBACK_NUMBER: disclaimer, then a voicemail prompt and Record', async () => {
    const res = await invoke(fallback, makeContext({ FALLBACK_NUMBER: undefined }), failed);
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Play', 'Say', 'Record']);
    expect(twiml.children[1]!.attrs).toMatchObject({ language: 'pt-BR' });
    expect(twiml.children[2]!.attrs).toMatchObject({ action: `${base}/voice/voicemail`, playBeep: 'true' });
  });

  it('answers TwiML even for parameters it cannot use (no 400 to a caller)', async () => {
    const res = await invoke(fallback, makeContext({ FALLBACK_NUMBER: '+5511955550000' }), { From: 'RESTRICTED', CallSid: 'nonsense' });
    expect(res.status).toBe(200);
    expect(verbNames(parseTwiml(res.body))).toEqual(['Play', 'Dial']);
  });

  it('with a broken configuration: a spoken apology, still 200', async () => {
    const res = await invoke(fallback, makeContext({ SUPABASE_URL: 'not a url' }), failed);
    expect(res.status).toBe(200);
    expect(verbNames(parseTwiml(res.body))).toEqual(['Say', 'Hangup']);
  });
});

describe('callback URLs', () => {
  it('status callbacks carry the retry fragment Twilio reads (retries on 5xx, connect and read failures)', () => {
    expect(statusCallbackUrl({ baseUrl: `${base}/` })).toBe(`${base}/webhooks/call-status#${STATUS_CALLBACK_OVERRIDES}`);
    const fragment = new URLSearchParams(STATUS_CALLBACK_OVERRIDES);
    expect(fragment.get('rp')!.split(',')).toEqual(expect.arrayContaining(['5xx', 'ct', 'rt']));
    expect(fragment.get('rp')!.split(',')).not.toContain('4xx');
    expect(Number(fragment.get('rc'))).toBeGreaterThanOrEqual(1);
    expect(Number(fragment.get('rc'))).toBeLessThanOrEqual(5); // Twilio's maximum
    expect(Number(fragment.get('tt'))).toBeLessThanOrEqual(15000); // Twilio's maximum
    expect(Number(fragment.get('rt'))).toBeLessThanOrEqual(Number(fragment.get('tt')));
  });

  it('the voice fallback URL is /voice/fallback', () => {
    expect(voiceFallbackUrl({ baseUrl: base })).toBe(`${base}/voice/fallback`);
  });
});
