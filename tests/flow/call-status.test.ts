/**
 * /webhooks/call-status: any order and any duplication of a call's callbacks, delivered
 * through the real front, functions, PostgREST and Postgres, ends in the same calls row.
 */
import fc from 'fast-check';
import { env, sql } from '../helpers/db';
import { newCallSid, newMobile, signedPost } from '../helpers/twilio';

type Outcome = 'completed' | 'no-answer' | 'busy' | 'failed' | 'canceled';

interface Lifecycle {
  outcome: Outcome;
  ringSeconds: number;
  talkSeconds: number;
}

const T0 = Date.parse('2026-11-24T13:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);

/** The callbacks Twilio sends for one call, in the order it sends them. */
function callbacks(sid: string, from: string, to: string, life: Lifecycle): Record<string, string>[] {
  const common = { CallSid: sid, AccountSid: env('TWILIO_ACCOUNT_SID'), From: from, To: to, Direction: 'outbound-api', ApiVersion: '2010-04-01', CallbackSource: 'call-progress-events' };
  const ev = (seq: number, status: string, s: number, extra: Record<string, string> = {}) => ({
    ...common, CallStatus: status, SequenceNumber: String(seq), Timestamp: at(s).toUTCString(), ...extra,
  });
  const list = [ev(0, 'initiated', 0), ev(1, 'ringing', 1)];
  if (life.outcome === 'completed') {
    const answered = 1 + life.ringSeconds;
    list.push(ev(2, 'in-progress', answered));
    list.push(ev(3, 'completed', answered + life.talkSeconds, { CallDuration: String(life.talkSeconds), Duration: String(Math.ceil(life.talkSeconds / 60)) }));
  } else {
    list.push(ev(2, life.outcome, 1 + life.ringSeconds, { CallDuration: '0' }));
  }
  return list;
}

/** What the row must say once every callback has arrived. */
function expected(life: Lifecycle) {
  const answered = life.outcome === 'completed';
  return {
    status: life.outcome,
    answered_at: answered ? at(1 + life.ringSeconds).toISOString() : null,
    ended_at: at(1 + life.ringSeconds + (answered ? life.talkSeconds : 0)).toISOString(),
    duration: answered ? life.talkSeconds : 0,
    started_at: at(0).toISOString(),
  };
}

async function deliver(events: Record<string, string>[], concurrency: number): Promise<void> {
  const url = `${env('FUNCTIONS_BASE_URL')}/webhooks/call-status`;
  for (let i = 0; i < events.length; i += concurrency) {
    const batch = events.slice(i, i + concurrency);
    const statuses = await Promise.all(batch.map(async (e) => (await signedPost(url, e, env('TWILIO_AUTH_TOKEN'))).status));
    expect(statuses.every((s) => s === 204)).toBe(true);
  }
}

async function row(sid: string) {
  const [r] = await sql<Record<string, unknown>>(
    'select status, answered_at, ended_at, duration, started_at from calls where call_sid = $1',
    [sid],
  );
  if (!r) return null;
  const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : v);
  return { status: r['status'], answered_at: iso(r['answered_at']), ended_at: iso(r['ended_at']), duration: r['duration'], started_at: iso(r['started_at']) };
}

const lifecycle = fc.record({
  outcome: fc.constantFrom<Outcome>('completed', 'completed', 'no-answer', 'busy', 'failed', 'canceled'),
  ringSeconds: fc.integer({ min: 1, max: 40 }),
  talkSeconds: fc.integer({ min: 1, max: 900 }),
});

describe('call status callbacks', () => {
  it('any order and any duplication ends in the same row as in-order delivery', async () => {
    await fc.assert(
      fc.asyncProperty(
        lifecycle,
        fc.array(fc.nat(), { minLength: 0, maxLength: 6 }), // which callbacks are repeated
        fc.infiniteStream(fc.nat()).map((s) => s), // shuffle keys
        fc.integer({ min: 1, max: 4 }), // concurrent deliveries
        async (life, repeats, keys, concurrency) => {
          const from = '+551130002000';
          const to = newMobile();
          const inOrderSid = newCallSid();
          const shuffledSid = newCallSid();

          await deliver(callbacks(inOrderSid, from, to, life), 1);

          const base = callbacks(shuffledSid, from, to, life);
          const withRepeats = [...base, ...repeats.map((i) => base[i % base.length]!)];
          const it = keys[Symbol.iterator]();
          const shuffled = withRepeats.map((e) => ({ e, k: it.next().value as number })).sort((a, b) => a.k - b.k).map((x) => x.e);
          await deliver(shuffled, concurrency);

          const a = await row(inOrderSid);
          const b = await row(shuffledSid);
          expect(a).toEqual(expected(life));
          expect(b).toEqual(a);
          const [log] = await sql<{ distinct_events: number; received: number }>(
            'select count(*)::int as distinct_events, sum(received_count)::int as received from call_events where call_sid = $1',
            [shuffledSid],
          );
          expect(log).toEqual({ distinct_events: base.length, received: withRepeats.length });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a late ringing after completed does not move the call back', async () => {
    const sid = newCallSid();
    const [initiated, ringing, inProgress, completed] = callbacks(sid, '+551130002000', newMobile(), { outcome: 'completed', ringSeconds: 5, talkSeconds: 60 });
    await deliver([completed!, inProgress!, ringing!, initiated!], 1);
    expect(await row(sid)).toMatchObject({ status: 'completed', duration: 60 });
  });

  it('a callback missing CallStatus or with a malformed CallSid gets 400 and writes nothing', async () => {
    const url = `${env('FUNCTIONS_BASE_URL')}/webhooks/call-status`;
    const sid = newCallSid();
    const [good] = callbacks(sid, '+551130002000', newMobile(), { outcome: 'busy', ringSeconds: 3, talkSeconds: 1 });
    const { CallStatus: _omit, ...missing } = good!;
    const r1 = await signedPost(url, missing, env('TWILIO_AUTH_TOKEN'));
    expect(r1.status).toBe(400);
    expect(((await r1.json()) as { message: string }).message).toContain('missing CallStatus');
    const r2 = await signedPost(url, { ...good!, CallSid: 'CA-not-a-sid' }, env('TWILIO_AUTH_TOKEN'));
    expect(r2.status).toBe(400);
    expect(await sql('select count(*)::int as n from call_events where call_sid = $1', [sid])).toEqual([{ n: 0 }]);
    expect(await row(sid)).toBeNull();
  });
});
