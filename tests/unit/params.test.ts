/** The webhook and configuration validators: what each accepts, refuses, and reports. */
import { ConfigError, configSchema, loadConfig } from '../../src/lib/runtime/config';
import { BadRequest } from '../../src/lib/runtime/http';
import { actionParams, gatherParams, MAX_PARTY_LENGTH, parseParams, statusCallbackParams, webhookParams, voiceParams } from '../../src/lib/runtime/params';
import { int, parseRfc2822, parseShape, rfc2822Date, text } from '../../src/lib/runtime/validate';

const sid = 'CA' + 'a'.repeat(32);
const call = { CallSid: sid, AccountSid: 'AC' + 'b'.repeat(32), From: '+5511987654321', To: '+551130001000', CallStatus: 'ringing', Direction: 'inbound' };

beforeEach(() => jest.spyOn(console, 'warn').mockImplementation(() => undefined));
afterEach(() => jest.restoreAllMocks());

describe('voiceParams (lenient)', () => {
  it.each(['ANONYMOUS', 'Anonymous', 'anonymous', 'RESTRICTED', 'UNAVAILABLE', 'UNKNOWN', '+266696687', 'Operadora XYZ', 'client:agent7', 'sip:a@b.example'])(
    'keeps From %p exactly as sent',
    (from) => {
      expect(parseParams(voiceParams, { ...call, From: from })).toMatchObject({ From: from, CallSid: sid });
    },
  );

  it('leaves out (and logs) what it cannot use, and keeps the rest', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    const p = parseParams(voiceParams, { ...call, AccountSid: 'ACnope', From: '', To: 'x'.repeat(MAX_PARTY_LENGTH + 1), Direction: 'sideways', ParentCallSid: 'CA1' });
    expect(p).toEqual({ CallSid: sid, CallStatus: 'ringing' });
    const logged = String(warn.mock.calls[0]![0]);
    expect(logged).toContain(`call ${sid}`);
    for (const name of ['AccountSid', 'From', 'To', 'Direction', 'ParentCallSid']) expect(logged).toContain(name);
  });

  it("an unknown or missing CallStatus counts as 'ringing'", () => {
    expect(parseParams(voiceParams, { ...call, CallStatus: 'answered' }).CallStatus).toBe('ringing');
    expect(parseParams(voiceParams, { ...call, CallStatus: undefined }).CallStatus).toBe('ringing');
  });

  it('a missing or malformed CallSid is the one thing it refuses (BadRequest)', () => {
    expect(() => parseParams(voiceParams, { ...call, CallSid: undefined })).toThrow(new BadRequest('invalid webhook parameters: missing CallSid'));
    expect(() => parseParams(voiceParams, { ...call, CallSid: 'CA123' })).toThrow(/CallSid must be CA followed by 32 hex characters/);
  });

  it('action callbacks can do without a CallSid; Gather digits that are not keys count as none', () => {
    expect(parseParams(actionParams, { ...call, CallSid: 'x' })).not.toHaveProperty('CallSid');
    expect(parseParams(gatherParams, { ...call, Digits: '9' }).Digits).toBe('9');
    expect(parseParams(gatherParams, { ...call, Digits: '' }).Digits).toBe('');
    expect(parseParams(gatherParams, { ...call, Digits: '9; drop' })).not.toHaveProperty('Digits');
  });

  it('ignores the runtime request object and non-string values', () => {
    expect(parseParams(voiceParams, { ...call, request: { headers: {} }, From: 42 })).not.toHaveProperty('From');
  });
});

describe('statusCallbackParams (strict)', () => {
  const status = { ...call, CallStatus: 'completed' };
  const refuse = (over: Record<string, string | undefined>) => () => parseParams(statusCallbackParams, { ...status, ...over });

  it('parses numbers and turns the RFC 2822 Timestamp into ISO 8601', () => {
    expect(parseParams(statusCallbackParams, { ...status, SequenceNumber: '3', CallDuration: '0061', Timestamp: 'Wed, 25 Nov 2026 19:22:40 -0300' })).toMatchObject({
      SequenceNumber: 3,
      CallDuration: 61,
      Timestamp: '2026-11-25T22:22:40.000Z',
    });
  });

  it('names every refused parameter at once', () => {
    expect(refuse({ SequenceNumber: '1' + '0'.repeat(300), CallDuration: '86401', Timestamp: '2001' })).toThrow(
      /SequenceNumber must be a whole number from 0 to 10000; CallDuration must be a whole number from 0 to 86400; Timestamp must be an RFC 2822 date/,
    );
  });

  it('the bounds themselves are accepted', () => {
    expect(() => parseParams(statusCallbackParams, { ...status, SequenceNumber: '10000', CallDuration: '86400', Timestamp: 'Tue, 01 Jan 2008 00:00:00 +0000' })).not.toThrow();
    expect(refuse({ Timestamp: 'Mon, 31 Dec 2007 23:59:59 +0000' })).toThrow(/Timestamp must not be before 2008-01-01/);
  });

  it('never refuses a callback over its From or To: withheld kept, unusable left out (the row already has them)', () => {
    expect(parseParams(statusCallbackParams, { ...status, From: 'RESTRICTED' }).From).toBe('RESTRICTED');
    for (const From of ['', 'x'.repeat(257)]) {
      const parsed = parseParams(statusCallbackParams, { ...status, From, To: '' });
      expect({ From: parsed.From, To: parsed.To }).toEqual({ From: undefined, To: undefined });
    }
  });

  it('drops NUL characters, which Postgres cannot store, from every parameter', () => {
    expect(webhookParams({ From: 'ANON\u0000YMOUS', Digits: '9' })).toEqual({ From: 'ANONYMOUS', Digits: '9' });
  });
});

describe('validator pieces', () => {
  it('int refuses before parsing when there are more digits than the bound has', () => {
    const f = int(0, 100);
    expect(parseShape({ n: f }, { n: '0000000000000000000000000100' })).toMatchObject({ ok: true, value: { n: 100 } });
    expect(parseShape({ n: f }, { n: '9'.repeat(1000) })).toMatchObject({ ok: false, problems: ['n must be a whole number from 0 to 100'] });
    expect(parseShape({ n: f }, { n: ' 5' })).toMatchObject({ ok: false });
  });

  it.each([
    ['Wed, 25 Nov 2026 19:22:40 +0000', '2026-11-25T19:22:40.000Z'],
    ['25 Nov 2026 19:22:40 GMT', '2026-11-25T19:22:40.000Z'],
    ['Wed, 25 Nov 2026 19:22 UT', '2026-11-25T19:22:00.000Z'],
    ['Sun, 29 Feb 2032 00:00:00 +0130', '2032-02-28T22:30:00.000Z'],
  ])('parseRfc2822(%p) = %s', (s, iso) => expect(parseRfc2822(s)?.toISOString()).toBe(iso));

  it.each(['2001', '2026-11-25T19:22:40Z', 'Wed, 29 Feb 2026 00:00:00 +0000', 'Wed, 25 Nov 2026 19:60:00 +0000', 'Wed, 25 Nov 2026 19:22:40 +9900', 'Wed, 25 Nov 2026 19:22:40 PST', ''])(
    'parseRfc2822 refuses %p',
    (s) => expect(parseRfc2822(s)).toBeNull(),
  );

  it('the future bound follows the clock, not the time the module loaded', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const f = { t: rfc2822Date({ notBefore: new Date('2008-01-01'), maxAheadMs: 3600_000, now: () => now }) };
    expect(parseShape(f, { t: 'Thu, 01 Jan 2026 02:00:00 +0000' }).ok).toBe(false);
    now += 2 * 3600_000;
    expect(parseShape(f, { t: 'Thu, 01 Jan 2026 02:00:00 +0000' }).ok).toBe(true);
  });

  it('text bounds its length', () => {
    expect(parseShape({ s: text({ max: 3 }) }, { s: 'abcd' })).toMatchObject({ ok: false, problems: ['s must have at most 3 characters'] });
  });
});

describe('loadConfig', () => {
  const env = { SUPABASE_URL: 'http://127.0.0.1:54321', SUPABASE_SERVICE_ROLE_KEY: 'k'.repeat(40), DOMAIN_NAME: 'x.twil.io' };

  it('applies the defaults and derives baseUrl', () => {
    expect(loadConfig(env)).toMatchObject({
      DB_TIMEOUT_MS: 2500, DISCLAIMER_MODE: 'play', DISCLAIMER_AUDIO: '/disclaimer.mp3', TTS_VOICE: 'Polly.Camila', TTS_LANGUAGE: 'pt-BR',
      OPT_OUT_INBOUND: 'continue', OPT_OUT_KEY: '9', AGENT_RING_TIMEOUT: 20, VOICEMAIL_MAX_LENGTH: 120, baseUrl: 'https://x.twil.io',
    });
    expect(loadConfig({ ...env, PUBLIC_BASE_URL: 'http://localhost:3000/', DB_TIMEOUT_MS: '800', FALLBACK_NUMBER: '' })).toMatchObject({
      baseUrl: 'http://localhost:3000', DB_TIMEOUT_MS: 800,
    });
  });

  it.each([
    [{ SUPABASE_URL: 'not a url' }, 'SUPABASE_URL must be an http(s) URL'],
    [{ SUPABASE_URL: 'ftp://host' }, 'SUPABASE_URL must be an http(s) URL'],
    [{ SUPABASE_SERVICE_ROLE_KEY: 'short' }, 'SUPABASE_SERVICE_ROLE_KEY must have at least 20 characters'],
    [{ DB_TIMEOUT_MS: '50' }, 'DB_TIMEOUT_MS must be a whole number from 200 to 8000'],
    [{ DISCLAIMER_MODE: 'sing' }, 'DISCLAIMER_MODE must be one of play, say'],
    [{ DISCLAIMER_AUDIO: 'disclaimer.mp3' }, 'DISCLAIMER_AUDIO must start with /'],
    [{ OPT_OUT_KEY: '99' }, 'OPT_OUT_KEY must be one keypad key'],
    [{ FALLBACK_NUMBER: '11 99999-9999' }, 'FALLBACK_NUMBER must be an E.164 number'],
    [{ SUPABASE_URL: undefined }, 'missing SUPABASE_URL'],
  ])('refuses %o', (over, message) => {
    expect(() => loadConfig({ ...env, ...over })).toThrow(ConfigError);
    expect(() => loadConfig({ ...env, ...over })).toThrow(message);
  });

  it('needs PUBLIC_BASE_URL or DOMAIN_NAME', () => {
    expect(() => loadConfig({ ...env, DOMAIN_NAME: undefined })).toThrow('PUBLIC_BASE_URL or DOMAIN_NAME is required');
  });

  it('lists every variable it reads', () => {
    expect(Object.keys(configSchema.shape)).toContain('FALLBACK_NUMBER');
  });
});
