/**
 * The guards around putting a customer into an agent's room, through the emulator, the
 * functions and the database: click-to-call reserves the agent before the call is placed (a
 * second click is refused, an agent who is not there is refused), the connect step puts the
 * customer in the room only when the agent is reserved for that call and still there (else an
 * apology and the agent's voicemail), the room ending under the customer (the agent's leg
 * dropped) leads to an apology and voicemail while a hang-up from the API says nothing more,
 * an offer stays answerable when marking it waiting failed once, and an answer Twilio could not
 * carry out puts the agent back on the offer.
 */
import { randomBytes } from 'node:crypto';
import { answerOffer } from '../../src/lib/domain/agent-calls';
import { MESSAGES } from '../../src/lib/domain/messages';
import { loadConfig } from '../../src/lib/runtime/config';
import { createDb } from '../../src/lib/runtime/db';
import { HttpError } from '../../src/lib/runtime/http';
import { agentRoomStack, type RoomAgent } from '../helpers/agent-room-stack';
import type { EmulatedStack } from '../helpers/emulated-stack';
import { newMobile } from '../helpers/twilio';

jest.setTimeout(120000);
let s: EmulatedStack;
// The TwiML App's stand-in: a number whose voice URL is /voice/agent-session, called from client:<identity>.
const SESSION_NUMBER = '+551130009991';

const { sql, fb, agentWithLogin, until, agentRow, statusIs, startShift, api } = agentRoomStack({ speed: 5, sessionNumber: SESSION_NUMBER, didPrefix: '+5511300096' }, (x) => (s = x));
type Agent = RoomAgent;

const room = (agent: Agent) => s.emulator.conferences().find((c) => c.friendlyName === `agent-${agent.id}`);
const hearsEachOther = (a: string, b: string) => s.emulator.hears(a).has(b) && s.emulator.hears(b).has(a);
const verbs = (sid: string) => s.emulator.timeline(sid).filter((e) => e.type === 'verb').map((e) => e.verb);
/** What the call was told (the Say verbs' text), in order. */
const said = (sid: string) =>
  s.emulator
    .timeline(sid)
    .filter((e) => e.type === 'verb' && e.verb === 'Say')
    .map((e) => e.content ?? e.text);

describe('click-to-call reserves the agent before the call is placed', () => {
  it('two clicks at once: one call placed, the other refused 409 agent_busy; the customer joins with a label of their own', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const c1 = newMobile();
    const c2 = newMobile();
    s.emulator.addParty({ number: c1, answerAfter: 2, talkSeconds: 40 });
    s.emulator.addParty({ number: c2, answerAfter: 2, talkSeconds: 40 });
    const answers = await Promise.all([api('/api/agent/call', agent.token, { to: c1 }), api('/api/agent/call', agent.token, { to: c2 })]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    const refused = answers.find((a) => a.status === 409)!;
    expect(refused.json['error']).toBe('agent_busy');
    const sid = answers.find((a) => a.status === 200)!.json['call_sid'] as string;
    // Only the placed call has a dial attempt; the agent is reserved for it.
    expect(await sql('select count(*)::int as n from calls where agent_id = $1', [agent.id])).toEqual([{ n: 1 }]);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'reserved', current_call_sid: sid });
    await until('customer in the room', async () => (hearsEachOther(sid, shift) ? true : undefined), 30000);
    const joined = await until('participant-join callback', async () =>
      s.emulator.webhooks().find((w) => w.url.startsWith(`${fb()}/webhooks/conference`) && w.params['StatusCallbackEvent'] === 'participant-join' && w.params['CallSid'] === sid),
    );
    expect(joined.params['ParticipantLabel']).toBe(`customer-${sid}`);
    await statusIs(agent.id, 'busy');
    // A click while busy is refused too, before anything is placed.
    const busy = await api('/api/agent/call', agent.token, { to: newMobile() });
    expect([busy.status, busy.json['error']]).toEqual([409, 'agent_busy']);
    expect(await api('/api/agent/hangup', agent.token, { call_sid: sid })).toEqual({ status: 200, json: { ok: true } });
    await s.emulator.waitForCall(sid);
    // Hung up from the API: nothing more is said after the room.
    const v = verbs(sid);
    expect(v.slice(v.lastIndexOf('Dial') + 1)).toEqual([]);
  });

  it('from wrap-up: the reservation is for the new call alone, and the customer joins the room', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const previous = 'CA' + randomBytes(16).toString('hex');
    await sql(`select agent_transition($1, 'wrap_up', null, 'system', null, $2, 30)`, [agent.id, previous]);
    const customer = newMobile();
    s.emulator.addParty({ number: customer, answerAfter: 1, talkSeconds: 40 });
    const placed = await api('/api/agent/call', agent.token, { to: customer });
    expect(placed.status).toBe(200);
    const sid = placed.json['call_sid'] as string;
    expect(await agentRow(agent.id)).toMatchObject({ status: 'reserved', current_call_sid: sid });
    const [reservedRow] = await sql<{ call_sid: string | null }>(`select call_sid from agent_status_history where agent_id = $1 and status = 'reserved' order by id desc limit 1`, [agent.id]);
    expect(reservedRow!.call_sid).not.toBe(previous);
    await until('customer in the room', async () => (hearsEachOther(sid, shift) ? true : undefined), 30000);
    expect(await api('/api/agent/hangup', agent.token, { call_sid: sid })).toEqual({ status: 200, json: { ok: true } });
    await s.emulator.waitForCall(sid);
  });

  it('an offline agent, even with the softphone in the room, is refused 409 agent_busy', async () => {
    const agent = await agentWithLogin();
    await startShift(agent);
    await sql(`select agent_transition($1, 'offline', null, 'agent', null)`, [agent.id]);
    const r = await api('/api/agent/call', agent.token, { to: newMobile() });
    expect([r.status, r.json['error']]).toEqual([409, 'agent_busy']);
    expect(await sql('select count(*)::int as n from calls where agent_id = $1', [agent.id])).toEqual([{ n: 0 }]);
  });

  it('an agent whose page went silent (stale shift leg) is refused 409 agent_busy and nothing is placed', async () => {
    const agent = await agentWithLogin();
    await sql(`update agents set shift_call_sid = $2, last_seen_at = now() - interval '5 minutes' where id = $1`, [agent.id, 'CA' + randomBytes(16).toString('hex')]);
    await sql(`select agent_transition($1, 'available', null, 'agent', null)`, [agent.id]);
    const customer = newMobile();
    s.emulator.addParty({ number: customer, answerAfter: 1, talkSeconds: 20 });
    const before = s.emulator.calls().length;
    const r = await api('/api/agent/call', agent.token, { to: customer });
    expect([r.status, r.json['error']]).toEqual([409, 'agent_busy']);
    expect(s.emulator.calls().length).toBe(before);
    expect(await sql('select count(*)::int as n from calls where to_number = $1', [customer])).toEqual([{ n: 0 }]);
    expect((await agentRow(agent.id)).status).toBe('available');
  });
});

describe('the connect step', () => {
  it('the agent left before the customer answered: apology and voicemail, never the empty room; the reservation is released', async () => {
    const agent = await agentWithLogin();
    await startShift(agent);
    const customer = newMobile();
    s.emulator.addParty({ number: customer, answerAfter: 2, talkSeconds: 40, record: { speakSeconds: 2, then: 'hangup' } });
    const placed = await api('/api/agent/call', agent.token, { to: customer });
    expect(placed.status).toBe(200);
    const sid = placed.json['call_sid'] as string;
    // The page stops polling while the customer's phone rings.
    await sql(`update agents set last_seen_at = now() - interval '5 minutes' where id = $1`, [agent.id]);
    await s.emulator.waitForCall(sid);
    expect(verbs(sid)).not.toContain('Dial');
    expect(verbs(sid)).toContain('Record');
    expect(said(sid).some((t) => t.includes(MESSAGES.agentGone))).toBe(true);
    expect(room(agent)?.participants ?? []).not.toContain(sid);
    expect((await agentRow(agent.id)).status).toBe('available');
  });

  it('a dialer call for an agent who is on another customer goes to voicemail, not into that room', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const other = 'CA' + randomBytes(16).toString('hex');
    await sql(`select agent_transition($1, 'busy', null, 'agent', null, $2)`, [agent.id, other]);
    const customer = newMobile();
    s.emulator.addParty({ number: customer, answerAfter: 1, talkSeconds: 40, record: { speakSeconds: 2, then: 'hangup' } });
    // The dialing path without a reservation (as a campaign call naming the agent).
    const { placeCall } = await import('../../src/lib/domain/dialer');
    const config = loadConfig({ SUPABASE_URL: s.stack.env.SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: s.stack.env.SUPABASE_SERVICE_ROLE_KEY, PUBLIC_BASE_URL: fb() });
    const db = createDb({ url: config.SUPABASE_URL, serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY });
    const r = await placeCall({ config, db, twilio: s.twilio }, { to: customer, callerId: agent.did, agentId: agent.id });
    if (!r.placed) throw new Error(r.detail);
    await s.emulator.waitForCall(r.callSid);
    expect(verbs(r.callSid)).toContain('Record');
    expect(room(agent)?.participants).toEqual([shift]);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'busy', current_call_sid: other });
  });
});

describe('the room ending under the customer', () => {
  it("the agent's leg dropped mid-call: the customer hears an apology and may leave a message", async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const customer = newMobile();
    s.emulator.addParty({ number: customer, answerAfter: 1, talkSeconds: 120, record: { speakSeconds: 2, then: 'hangup' } });
    const placed = await api('/api/agent/call', agent.token, { to: customer });
    const sid = placed.json['call_sid'] as string;
    await until('customer in the room', async () => (hearsEachOther(sid, shift) ? true : undefined), 30000);
    await s.twilio.calls(shift).update({ status: 'completed' });
    await s.emulator.waitForCall(sid);
    const v = verbs(sid);
    expect(v.slice(v.lastIndexOf('Dial') + 1)).toEqual(['Say', 'Say', 'Record']);
    expect(said(sid).some((t) => t.includes(MESSAGES.agentDropped))).toBe(true);
  });
});

describe('an offer', () => {
  it('marking the offer waiting failed once: it is retried on the next ringback cycle and the answer goes through', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    // The first mark of any offer fails (as a database blip would).
    await sql(`create sequence if not exists test_wait_mark_failures`);
    await sql(`create or replace function test_fail_first_wait_mark() returns trigger language plpgsql as $f$
      begin
        if new.dedupe_key = 'queue:agent-wait' then
          if pg_catalog.nextval('public.test_wait_mark_failures') = 1 then
            raise exception 'injected failure';
          end if;
        end if;
        return new;
      end $f$`);
    await sql(`create trigger test_fail_first_wait_mark before insert on call_events for each row execute function test_fail_first_wait_mark()`);
    try {
      const sid = await s.emulator.placeInboundCall({ from: newMobile('21'), to: agent.did, party: { hangupAfter: 45 } });
      await until('offer', async () => ((await agentRow(agent.id)).current_call_sid === sid ? true : undefined));
      // Once the first wait document has been fetched (and its mark failed), the agent answers.
      await until('first wait fetch', async () =>
        s.emulator.webhooks().some((w) => w.url.includes('/voice/agent-wait') && w.params['CallSid'] === sid) ? true : undefined,
      );
      const answered = await api('/api/agent/answer', agent.token, { call_sid: sid });
      expect(answered).toEqual({ status: 200, json: { ok: true } });
      await until('customer and agent hear each other', async () => (hearsEachOther(sid, shift) ? true : undefined));
    } finally {
      await sql(`drop trigger if exists test_fail_first_wait_mark on call_events`);
      await sql(`drop function if exists test_fail_first_wait_mark()`);
      await sql(`drop sequence if exists test_wait_mark_failures`);
    }
  });

  it('an answer Twilio could not carry out (network): 502, the agent reserved again, and a second answer connects', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const sid = await s.emulator.placeInboundCall({ from: newMobile('31'), to: agent.did, party: { hangupAfter: 45 } });
    await until('offer', async () => ((await agentRow(agent.id)).current_call_sid === sid ? true : undefined));
    const config = loadConfig({ SUPABASE_URL: s.stack.env.SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: s.stack.env.SUPABASE_SERVICE_ROLE_KEY, PUBLIC_BASE_URL: fb() });
    const db = createDb({ url: config.SUPABASE_URL, serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY });
    // A Twilio client whose Calls update never reaches Twilio.
    const unreachable = { calls: () => ({ update: () => Promise.reject(new Error('socket hang up')) }) } as unknown as typeof s.twilio;
    const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    let err: unknown;
    try {
      await answerOffer({ config, db, twilio: unreachable }, agent.id, sid);
    } catch (e) {
      err = e;
    } finally {
      spy.mockRestore();
    }
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(502);
    expect(await agentRow(agent.id)).toMatchObject({ status: 'reserved', current_call_sid: sid });
    expect(s.emulator.queues().find((q) => q.friendlyName === `agent-${agent.id}`)?.members.map((m) => m.leg.sid)).toContain(sid);
    const again = await api('/api/agent/answer', agent.token, { call_sid: sid });
    expect(again).toEqual({ status: 200, json: { ok: true } });
    await until('customer and agent hear each other', async () => (hearsEachOther(sid, shift) ? true : undefined));
  });
});
