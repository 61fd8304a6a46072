import { rigPerTest, vr, verbs, type Rig } from './helpers';

const AGENT = '+5511988887777';
const CUSTOMER = '+5511999990001';
const SUPERVISOR = '+5511977776666';
const ROOM = 'agent-42';
let r: Rig;

rigPerTest(() => r, (x) => (r = x));

/** Polls (real time) until `fn` gives a value. */
async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 15000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 5));
  }
}

/** The conference named `name` (latest), once it exists. */
const conf = (name = ROOM) => [...r.emu.conferences()].reverse().find((c) => c.friendlyName === name);
/** Resolves when `sid` is a participant of the active room. */
const inRoom = (sid: string, name = ROOM) => until(`${sid} in ${name}`, () => conf(name)?.participants.includes(sid) && conf(name));
/** Conference status callbacks the app received, as their parameters. */
const events = (path = '/conf') => r.app.to(path).map((q) => q.params);

/** TwiML that puts a call into ROOM with the given Conference attributes, then says "after". */
function room(attrs: Record<string, unknown> = {}, dial: Record<string, unknown> = {}) {
  const t = vr();
  t.dial(dial).conference(attrs as never, ROOM);
  t.say('after');
  return t.toString();
}

async function agentCall(attrs: Record<string, unknown> = {}, dial: Record<string, unknown> = {}) {
  r.app.route('/inbound', () => room({ startConferenceOnEnter: true, endConferenceOnExit: true, beep: false, ...attrs }, dial));
  const sid = await r.emu.placeInboundCall({ from: AGENT, to: r.number });
  await inRoom(sid);
  return sid;
}

async function customerCall(attrs: Record<string, unknown> = {}, to = CUSTOMER) {
  const c = await r.client.calls.create({ to, from: r.number, twiml: room({ beep: false, ...attrs }) });
  await inRoom(c.sid);
  return c.sid;
}

describe('<Dial><Conference> lifecycle', () => {
  test('init with one participant, in-progress when a second joins, ends when the endConferenceOnExit participant leaves; the other goes on after <Dial>', async () => {
    r.emu.addParty({ number: AGENT, hangupAfter: 10 });
    const cb = { statusCallback: `${r.app.url}/conf`, statusCallbackEvent: 'start end join leave' };
    const agent = await agentCall({ ...cb, waitUrl: '' });
    expect(conf()?.status).toBe('init');
    expect(r.emu.hears(agent)).toEqual(new Set());
    const customer = await customerCall({ endConferenceOnExit: false });
    await until('start', () => conf()?.status === 'in-progress');
    expect(r.emu.hears(agent)).toEqual(new Set([customer]));
    expect(r.emu.hears(customer)).toEqual(new Set([agent]));
    await r.emu.waitForCall(customer);
    await r.emu.waitForCall(agent);
    const c = conf();
    expect(c).toMatchObject({ status: 'completed', reasonEnded: 'participant-with-end-conference-on-exit-left', callSidEnding: agent, participants: [] });
    // the customer left the ended conference and ran the verb after <Dial>
    expect(verbs(r.emu, customer).slice(-1)).toEqual(['Say:after']);
    expect(verbs(r.emu, agent)).not.toContain('Say:after');
    const ev = events();
    expect(ev.map((p) => `${p.StatusCallbackEvent}:${p.CallSid ?? ''}`)).toEqual([
      `participant-join:${agent}`, `participant-join:${customer}`, 'conference-start:', `participant-leave:${agent}`, `participant-leave:${customer}`, 'conference-end:',
    ]);
    expect(ev.map((p) => p.SequenceNumber)).toEqual(['1', '2', '3', '4', '5', '6']);
    for (const p of ev) {
      expect(p).toMatchObject({ AccountSid: r.emu.accountSid, ConferenceSid: c?.sid, FriendlyName: ROOM });
      expect(p.Timestamp).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    }
    expect(ev[0]).toEqual({
      AccountSid: r.emu.accountSid, ConferenceSid: c?.sid, FriendlyName: ROOM, SequenceNumber: '1', Timestamp: ev[0]?.Timestamp,
      StatusCallbackEvent: 'participant-join', CallSid: agent, Muted: 'false', Hold: 'false', Coaching: 'false', EndConferenceOnExit: 'true', StartConferenceOnEnter: 'true',
    });
    expect(ev[3]).toMatchObject({ ParticipantCallStatus: 'completed', ReasonParticipantLeft: 'participant_hung_up' });
    expect(ev[4]).toMatchObject({ ParticipantCallStatus: 'in-progress', ReasonParticipantLeft: 'moderator_ended_conference' });
    expect(ev[5]).toMatchObject({ ReasonConferenceEnded: 'participant-with-end-conference-on-exit-left', CallSidEndingConference: agent });
    expect(ev[2]?.CallSid).toBeUndefined();
  });
});
