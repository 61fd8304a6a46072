/**
 * The agent's call controls with a scripted database and Twilio client: which refusals come
 * before anything reaches Twilio, and what happens when Twilio says the call is gone. The
 * same controls against the real stack and emulator: tests/flow/agent-calls.test.ts.
 */
import type twilio from 'twilio';
import { answerOffer, clickToCall, hangUpCustomer, holdCustomer, type AgentCallContext } from '../../src/lib/domain/agent-calls';
import { loadConfig } from '../../src/lib/runtime/config';
import type { Db } from '../../src/lib/runtime/db';
import { HttpError } from '../../src/lib/runtime/http';

const config = loadConfig({ SUPABASE_URL: 'http://127.0.0.1:9', SUPABASE_SERVICE_ROLE_KEY: 'k'.repeat(40), DOMAIN_NAME: 'x.twil.io' });
const SID = 'CA' + 'a'.repeat(32);

/** A database whose functions answer from `answers`, recording every call. */
function fakeDb(answers: Record<string, unknown>) {
  const calls: [string, Record<string, unknown>][] = [];
  const db: Db = {
    rpc: async <T>(fn: string, args: Record<string, unknown>) => {
      calls.push([fn, args]);
      return { data: (answers[fn] ?? null) as T, error: null };
    },
  } as unknown as Db;
  return { db, calls };
}

/** A Twilio client that records requests; `fail` makes them throw a REST error with that status. */
function fakeTwilio(fail?: number) {
  const requests: string[] = [];
  const outcome = async (what: string) => {
    requests.push(what);
    if (fail) throw Object.assign(new Error('refused'), { status: fail, code: 20404 });
    return {};
  };
  const client = {
    calls: Object.assign((sid: string) => ({ update: (p: object) => outcome(`update ${sid} ${JSON.stringify(p)}`) }), {
      create: (p: object) => outcome(`create ${JSON.stringify(p)}`),
    }),
    conferences: Object.assign(
      (sid: string) => ({ participants: (call: string) => ({ update: (p: object) => outcome(`hold ${sid} ${call} ${JSON.stringify(p)}`) }) }),
      { list: async () => [] },
    ),
  } as unknown as twilio.Twilio;
  return { client, requests };
}

const ctx = (over: Partial<AgentCallContext> = {}): AgentCallContext => ({
  agent_id: 7, status: 'available', current_call_sid: null, shift_call_sid: 'CA' + 'b'.repeat(32), room_conference_sid: 'CF' + 'c'.repeat(32), own_number: '+551130001000', ...over,
});

async function refusal(p: Promise<unknown>): Promise<[number, string]> {
  try {
    await p;
  } catch (e) {
    if (e instanceof HttpError) return [e.status, e.code];
    throw e;
  }
  throw new Error('not refused');
}

describe('click-to-call', () => {
  it.each([
    [{ status: 'busy' }, [409, 'agent_busy']],
    [{ status: 'reserved' }, [409, 'agent_busy']],
    [{ own_number: null }, [409, 'conflict']],
  ] as const)('%j: refused before any dial attempt or Twilio request', async (over, expected) => {
    const { db, calls } = fakeDb({ agent_call_context: ctx(over) });
    const tw = fakeTwilio();
    expect(await refusal(clickToCall({ db, twilio: tw.client, config }, 7, '+5511987654321'))).toEqual(expected);
    expect(calls.map((c) => c[0])).toEqual(['agent_call_context']);
    expect(tw.requests).toEqual([]);
  });

  it.each([
    ['a number abroad', '+14155550123'],
    ['a premium-rate line', '0900 123 4567'],
    ['something that is not a phone number', 'client:bruno'],
  ])('%s: 400 bad_request, no dial attempt, nothing asked of Twilio', async (_what, to) => {
    const { db, calls } = fakeDb({ agent_call_context: ctx(), start_dial_attempt: { allowed: true, attempt_id: 1 } });
    const tw = fakeTwilio();
    expect(await refusal(clickToCall({ db, twilio: tw.client, config }, 7, to))).toEqual([400, 'bad_request']);
    expect(calls.map((c) => c[0])).toEqual(['agent_call_context']);
    expect(tw.requests).toEqual([]);
  });

  it('an opted-out number: 409 opted_out, nothing asked of Twilio', async () => {
    const { db, calls } = fakeDb({ agent_call_context: ctx(), start_dial_attempt: { allowed: false, reason: 'opted_out' } });
    const tw = fakeTwilio();
    expect(await refusal(clickToCall({ db, twilio: tw.client, config }, 7, '+5511987654321'))).toEqual([409, 'opted_out']);
    expect(calls.find((c) => c[0] === 'start_dial_attempt')![1]).toMatchObject({ p_to: '+5511987654321', p_caller_id: '+551130001000', p_agent_id: 7 });
    expect(tw.requests).toEqual([]);
  });

  it("a second full of the account's calls (cps_limit): retried for about a second, then 429 cps_limit, Twilio never asked", async () => {
    const { db, calls } = fakeDb({ agent_call_context: ctx(), start_dial_attempt: { allowed: false, reason: 'cps_limit' } });
    const tw = fakeTwilio();
    const started = Date.now();
    expect(await refusal(clickToCall({ db, twilio: tw.client, config }, 7, '+5511987654321'))).toEqual([429, 'cps_limit']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    const attempts = calls.filter((c) => c[0] === 'start_dial_attempt');
    expect(attempts.length).toBeGreaterThan(2);
    expect(attempts[0]![1]).toMatchObject({ p_account_cps: config.ACCOUNT_CPS });
    expect(tw.requests).toEqual([]);
  });
});

describe('answer', () => {
  it('an offer that is not this agent\'s: 409 offer_gone, the customer is not touched', async () => {
    const { db } = fakeDb({ agent_answer_offer: { ok: false, reason: 'offer_gone' } });
    const tw = fakeTwilio();
    expect(await refusal(answerOffer({ db, twilio: tw.client, config }, 7, SID))).toEqual([409, 'offer_gone']);
    expect(tw.requests).toEqual([]);
  });

  it('redirects the customer to /voice/connect for this agent', async () => {
    const { db } = fakeDb({ agent_answer_offer: { ok: true } });
    const tw = fakeTwilio();
    expect(await answerOffer({ db, twilio: tw.client, config }, 7, SID)).toEqual({ ok: true });
    expect(tw.requests).toEqual([`update ${SID} {"url":"https://x.twil.io/voice/connect?agent=7","method":"POST"}`]);
  });

  it('Twilio says the call is gone: the agent is released (no wrap-up) and the answer is 409 offer_gone', async () => {
    const { db, calls } = fakeDb({ agent_answer_offer: { ok: true } });
    expect(await refusal(answerOffer({ db, twilio: fakeTwilio(404).client, config }, 7, SID))).toEqual([409, 'offer_gone']);
    expect(calls.at(-1)).toEqual(['agent_customer_left', { p_call_sid: SID, p_wrap_up_seconds: 0 }]);
  });
});

describe('hang up and hold', () => {
  it('only the call the agent is on', async () => {
    const { db } = fakeDb({ agent_call_context: ctx({ status: 'busy', current_call_sid: 'CA' + 'd'.repeat(32) }) });
    const tw = fakeTwilio();
    expect(await refusal(hangUpCustomer({ db, twilio: tw.client, config }, 7, SID))).toEqual([409, 'conflict']);
    expect(await refusal(holdCustomer({ db, twilio: tw.client, config }, 7, SID, true))).toEqual([409, 'conflict']);
    expect(tw.requests).toEqual([]);
  });

  it('hang up completes the customer call; one Twilio already ended counts as done', async () => {
    const { db } = fakeDb({ agent_call_context: ctx({ status: 'busy', current_call_sid: SID }) });
    const tw = fakeTwilio();
    expect(await hangUpCustomer({ db, twilio: tw.client, config }, 7, SID)).toEqual({ ok: true });
    expect(tw.requests).toEqual([`update ${SID} {"status":"completed"}`]);
    expect(await hangUpCustomer({ db, twilio: fakeTwilio(404).client, config }, 7, SID)).toEqual({ ok: true });
  });

  it('hold puts the customer participant of the room on hold with the hold music', async () => {
    const room = 'CF' + 'c'.repeat(32);
    const { db } = fakeDb({ agent_call_context: ctx({ status: 'busy', current_call_sid: SID }) });
    const tw = fakeTwilio();
    await holdCustomer({ db, twilio: tw.client, config }, 7, SID, true);
    await holdCustomer({ db, twilio: tw.client, config }, 7, SID, false);
    expect(tw.requests).toEqual([
      `hold ${room} ${SID} {"hold":true,"holdUrl":"https://x.twil.io/hold-music.mp3","holdMethod":"GET"}`,
      `hold ${room} ${SID} {"hold":false}`,
    ]);
  });
});
