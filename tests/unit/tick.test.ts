/**
 * The pacer heartbeat's credential (HMAC over a timestamp), /api/tick's refusals before any
 * round runs, and the pure pieces of a round (snapshot → decidePacing inputs, the campaign's
 * CPS share, today's shift for ADAPT_TAPERED).
 */
import { handler as tick } from '../../src/functions/api/tick';
import { parseTickHeader, tickHeader, tickSignature, verifyTick } from '../../src/lib/domain/dialer/tick-auth';
import { campaignCpsRoom, pacingSnapshot, shiftOfDay, type RoundSnapshot } from '../../src/lib/domain/dialer/snapshot';
import { COLLECTIONS_SP } from '../../src/lib/domain/calling-window';
import { installRuntimeGlobals, makeContext, type Answer } from '../helpers/function-context';

const SECRET = 'a'.repeat(40);

beforeAll(() => installRuntimeGlobals());

/** Runs /api/tick with the given headers and body (the runtime merges the body into event). */
function callTick(env: Record<string, string | undefined>, headers: Record<string, string>, body: Record<string, unknown> = {}, onTwilio?: () => never): Promise<Answer> {
  const context = { ...makeContext(env), ...(onTwilio ? { getTwilioClient: onTwilio } : {}) };
  return new Promise((resolve, reject) => {
    tick(context as never, { ...body, request: { headers, cookies: {} } } as never, (err: unknown, res?: unknown) => {
      if (err) return reject(err instanceof Error ? err : new Error(String(err)));
      const r = res as { statusCode: number; headers: Record<string, string>; body: unknown };
      resolve({ status: r.statusCode, headers: r.headers, body: typeof r.body === 'string' ? r.body : JSON.stringify(r.body) });
    });
  });
}

describe('tick credential', () => {
  const now = Date.UTC(2026, 10, 27, 12, 0, 0);

  it('accepts its own header within ±60 s and refuses beyond', () => {
    const h = parseTickHeader(tickHeader(SECRET, now));
    expect(verifyTick(SECRET, h, now)).toEqual({ ok: true });
    expect(verifyTick(SECRET, h, now + 59_000)).toEqual({ ok: true });
    expect(verifyTick(SECRET, h, now - 59_000)).toEqual({ ok: true });
    expect(verifyTick(SECRET, h, now + 61_000)).toEqual({ ok: false, why: 'stale' });
    expect(verifyTick(SECRET, h, now - 61_000)).toEqual({ ok: false, why: 'stale' });
  });

  it('refuses another secret, a changed timestamp, malformed and missing credentials', () => {
    const t = String(Math.floor(now / 1000));
    expect(verifyTick(SECRET, { t, v1: tickSignature('b'.repeat(40), t) }, now)).toEqual({ ok: false, why: 'bad_signature' });
    expect(verifyTick(SECRET, { t: String(Number(t) + 1), v1: tickSignature(SECRET, t) }, now)).toEqual({ ok: false, why: 'bad_signature' });
    expect(verifyTick(SECRET, { t, v1: 'zz' }, now)).toEqual({ ok: false, why: 'malformed' });
    expect(verifyTick(SECRET, { t: '-5', v1: tickSignature(SECRET, '-5') }, now)).toEqual({ ok: false, why: 'malformed' });
    expect(verifyTick(SECRET, null, now)).toEqual({ ok: false, why: 'missing' });
    expect(parseTickHeader('t=1,v2=abc')).toBeNull();
    expect(parseTickHeader(` v1=${'a'.repeat(64)} , t=12 `)).toEqual({ t: '12', v1: 'a'.repeat(64) });
  });

  it('is HMAC-SHA256 of the decimal timestamp, hex (what pgcrypto hmac(t, secret, sha256) gives)', () => {
    // Independent value: HMAC-SHA256 with key "key" of "The quick brown fox jumps over the lazy dog".
    expect(tickSignature('key', 'The quick brown fox jumps over the lazy dog')).toBe('f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8');
  });
});

describe('/api/tick refusals (nothing runs, no database, no Twilio)', () => {
  const twilioNeverUsed = (): never => {
    throw new Error('Twilio must not be reached');
  };

  it('503 tick_not_configured without TICK_SECRET', async () => {
    const r = await callTick({ TICK_SECRET: undefined }, { 'x-discador-tick': tickHeader(SECRET) }, {}, twilioNeverUsed);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body)).toMatchObject({ error: 'tick_not_configured' });
  });

  it.each([
    ['a bad signature', { 'x-discador-tick': tickHeader('c'.repeat(40)) }, {}, 'tick_bad_signature'],
    ['an old timestamp', { 'x-discador-tick': tickHeader(SECRET, Date.now() - 120_000) }, {}, 'tick_stale'],
    ['a malformed header', { 'x-discador-tick': 'hello' }, {}, 'tick_malformed'],
    ['a body with t only', {}, { t: String(Math.floor(Date.now() / 1000)) }, 'tick_malformed'],
    ['a bad body signature', {}, { t: String(Math.floor(Date.now() / 1000)), v1: 'd'.repeat(64) }, 'tick_bad_signature'],
    ['nothing at all', {}, {}, 'unauthenticated'],
  ])('401 for %s', async (_what, headers, body, code) => {
    const r = await callTick({ TICK_SECRET: SECRET }, headers as Record<string, string>, body, twilioNeverUsed);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body)).toMatchObject({ error: code });
  });
});

describe('round inputs', () => {
  const snap = (over: Partial<RoundSnapshot> = {}): RoundSnapshot => ({
    campaign_id: 7,
    now_ms: 1_000_000,
    lease_until_ms: 1_005_000,
    campaign: { calls_per_second: '2.00' } as RoundSnapshot['campaign'],
    agents: [
      { id: 1, activity: 'available', since_ms: 900_000 },
      { id: 2, activity: 'talking', since_ms: 950_000 },
    ],
    agents_unroutable: 0,
    calls: { ringing: 1, detecting: 2, waiting: 3, connected: 4 },
    ringing_since_ms: [990_000],
    dials_last_second: 1,
    campaign_dials_last_second: 1,
    preview_requests: 0,
    preview_agents: [],
    stats: { sampleDials: 10 } as RoundSnapshot['stats'],
    holidays: [],
    ...over,
  });

  it('maps the database snapshot onto decidePacing’s', () => {
    expect(pacingSnapshot(snap())).toMatchObject({
      nowMs: 1_000_000,
      agents: [{ activity: 'available', sinceMs: 900_000 }, { activity: 'talking', sinceMs: 950_000 }],
      calls: { ringing: 1, detecting: 2, waiting: 3, connected: 4 },
      dialsLastSecond: 1,
      ringingSinceMs: [990_000],
      stats: { sampleDials: 10 },
    });
  });

  it('leaves the campaign its own CPS share minus what it dialed this second', () => {
    expect(campaignCpsRoom(snap())).toBe(1);
    expect(campaignCpsRoom(snap({ campaign_dials_last_second: 5 }))).toBe(0);
  });

  it("gives today's shift on São Paulo's clock (a Saturday: 08-14 local = 11-17 UTC)", () => {
    const saturdayNoonUtc = Date.UTC(2026, 10, 28, 12, 0, 0);
    expect(shiftOfDay(COLLECTIONS_SP, saturdayNoonUtc)).toEqual({ shiftStartMs: Date.UTC(2026, 10, 28, 11), shiftEndMs: Date.UTC(2026, 10, 28, 17) });
    expect(shiftOfDay(COLLECTIONS_SP, Date.UTC(2026, 10, 29, 15))).toBeUndefined(); // Sunday
  });
});
