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

describe('<Conference> attributes', () => {
  test('waitUrl is fetched while the conference waits (a waitUrl document may use Play, Say, Pause, Redirect); Twilio default music without one; waitUrl="" is silence; the last leave ends it', async () => {
    r.app.route('/wait', () => vr().say('aguarde'));
    r.emu.addParty({ number: AGENT, hangupAfter: 6 });
    const agent = await agentCall({ waitUrl: '/wait', waitMethod: 'GET', startConferenceOnEnter: true, endConferenceOnExit: false });
    await until('wait document', () => r.app.to('/wait').length > 0);
    expect(r.app.to('/wait')[0]).toMatchObject({ method: 'GET', params: expect.objectContaining({ CallSid: agent }) });
    await until('wait ran', () => verbs(r.emu, agent).includes('Say:aguarde'));
    await r.emu.waitForCall(agent);
    expect(conf()).toMatchObject({ status: 'completed', reasonEnded: 'last-participant-left' });
    // No waitUrl: Twilio's default hold music, not fetched. waitUrl="": nothing.
    r.app.route('/inbound', () => room({ startConferenceOnEnter: false }));
    const a = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await inRoom(a);
    await until('default music', () => r.emu.playing(a) === 'wait:https://twimlets.com/holdmusic?Bucket=com.twilio.music.classical');
    r.app.route('/inbound', () => room({ waitUrl: '' }));
    const b = await r.emu.placeInboundCall({ from: SUPERVISOR, to: r.number });
    await inRoom(b);
    // b starts the conference (startConferenceOnEnter defaults to true): nobody plays music any more
    await until('start', () => conf()?.status === 'in-progress' && r.emu.playing(a) === null);
    expect(r.emu.playing(b)).toBeNull();
    expect(r.emu.hears(a)).toEqual(new Set([b]));
    await r.client.conferences(conf()?.sid as string).update({ status: 'completed' });
    await r.emu.waitUntilIdle();
  });

  test('a waitUrl document with <Dial> is refused: the participant leaves and the Dial action gets DialCallStatus=failed', async () => {
    r.app.route('/wait', () => vr().dial('+5511911112222').toString());
    r.app.route('/action', () => vr().say('falhou'));
    r.app.route('/inbound', () => room({ waitUrl: '/wait' }, { action: '/action' }));
    const a = await r.emu.placeInboundCall({ from: AGENT, to: r.number });
    await r.emu.waitForCall(a);
    expect(r.app.to('/action')[0]?.params.DialCallStatus).toBe('failed');
    expect(verbs(r.emu, a)).toContain('Say:falhou');
    expect(r.emu.timeline(a).some((e) => e.errorCode === 12100 && /not allowed in a conference/.test(e.text))).toBe(true);
  });

  test('nobody hears anybody until a startConferenceOnEnter participant joins; muted participants are heard by nobody', async () => {
    r.app.route('/inbound', () => room({ startConferenceOnEnter: false, waitUrl: '' }));
    const a = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await inRoom(a);
    const b = await r.emu.placeInboundCall({ from: SUPERVISOR, to: r.number });
    await inRoom(b);
    expect(conf()?.status).toBe('init');
    expect(r.emu.hears(a)).toEqual(new Set());
    r.app.route('/inbound', () => room({ muted: true }));
    const m = await r.emu.placeInboundCall({ from: AGENT, to: r.number });
    await inRoom(m);
    await until('start', () => conf()?.status === 'in-progress');
    expect(r.emu.hears(a)).toEqual(new Set([b]));
    expect(r.emu.hears(b)).toEqual(new Set([a]));
    expect(r.emu.hears(m)).toEqual(new Set([a, b]));
    expect(r.emu.timeline(m).some((e) => e.type === 'conference' && e.text.includes('hears'))).toBe(true);
    await r.client.conferences(conf()?.sid as string).update({ status: 'completed' });
    await r.emu.waitUntilIdle();
  });

  test.each([
    ['true', true, true],
    ['false', false, false],
    ['onEnter', true, false],
    ['onExit', false, true],
  ] as const)('beep=%s: beep to the others on enter %s, on exit %s', async (beep, onEnter, onExit) => {
    r.emu.addParty({ number: CUSTOMER, hangupAfter: 4 });
    const agent = await agentCall({ waitUrl: '', endConferenceOnExit: false });
    await customerCall({ beep });
    await until('customer gone', () => conf()?.participants.length === 1);
    const beeps = r.emu.timeline(agent).filter((e) => e.type === 'conference' && e.text.startsWith('beep'));
    expect(beeps.map((e) => /joined/.test(e.text) ? 'enter' : 'exit')).toEqual([...(onEnter ? ['enter'] : []), ...(onExit ? ['exit'] : [])]);
    await r.client.conferences(conf()?.sid as string).update({ status: 'completed' });
    await r.emu.waitUntilIdle();
  });

  test('maxParticipants: one more caller gets error 16020 and goes on after <Dial> (action with DialCallStatus=failed)', async () => {
    r.app.route('/action', () => vr().say('cheia'));
    const agent = await agentCall({ maxParticipants: 2, waitUrl: '' });
    await customerCall();
    r.app.route('/inbound', () => room({}, { action: '/action' }));
    const third = await r.emu.placeInboundCall({ from: SUPERVISOR, to: r.number });
    await r.emu.waitForCall(third);
    expect(r.emu.timeline(third).some((e) => e.errorCode === 16020)).toBe(true);
    expect(r.app.to('/action').map((q) => q.params.DialCallStatus)).toEqual(['failed']);
    expect(conf()?.participants).toHaveLength(2);
    expect(conf()?.participants).toContain(agent);
    await r.client.conferences(conf()?.sid as string).update({ status: 'completed' });
    await r.emu.waitUntilIdle();
  });

  test('participantLabel: fetch/update/delete by label; a label in use gets 16025 and the call goes on after <Dial>; an invalid one 16023', async () => {
    const agent = await agentCall({ participantLabel: 'agent', waitUrl: '' });
    const cf = conf()?.sid as string;
    const byLabel = await r.client.conferences(cf).participants('agent').fetch();
    expect(byLabel).toMatchObject({ callSid: agent, label: 'agent', status: 'connected', startConferenceOnEnter: true, endConferenceOnExit: true });
    r.app.route('/inbound', () => room({ participantLabel: 'agent' }));
    const dup = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(dup);
    expect(r.emu.timeline(dup).some((e) => e.errorCode === 16025)).toBe(true);
    expect(verbs(r.emu, dup).slice(-1)).toEqual(['Say:after']);
    r.app.route('/inbound', () => room({ participantLabel: `CA${'a'.repeat(32)}` }));
    const bad = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await r.emu.waitForCall(bad);
    expect(r.emu.timeline(bad).some((e) => e.errorCode === 16023)).toBe(true);
    await r.client.conferences(cf).participants('agent').remove();
    await r.emu.waitForCall(agent);
    // removed (kicked): its call went on after <Dial>; it was the last one, so the conference ended
    expect(verbs(r.emu, agent).slice(-1)).toEqual(['Say:after']);
    expect(conf()).toMatchObject({ status: 'completed', reasonEnded: 'participant-with-end-conference-on-exit-kicked' });
  });

  test('coach: heard only by the participant it coaches, hears everybody; a coach SID not in the conference fails with 13240', async () => {
    const agent = await agentCall({ waitUrl: '' });
    const customer = await customerCall();
    await until('start', () => conf()?.status === 'in-progress');
    r.app.route('/inbound', () => room({ coach: agent }));
    const sup = await r.emu.placeInboundCall({ from: SUPERVISOR, to: r.number });
    await inRoom(sup);
    expect(r.emu.hears(agent)).toEqual(new Set([customer, sup]));
    expect(r.emu.hears(customer)).toEqual(new Set([agent]));
    expect(r.emu.hears(sup)).toEqual(new Set([agent, customer]));
    const p = await r.client.conferences(conf()?.sid as string).participants(sup).fetch();
    expect(p).toMatchObject({ coaching: true, callSidToCoach: agent });
    r.app.route('/inbound', () => room({ coach: `CA${'0'.repeat(32)}` }));
    const lost = await r.emu.placeInboundCall({ from: '+5511966665555', to: r.number });
    await r.emu.waitForCall(lost);
    expect(r.emu.timeline(lost).some((e) => e.errorCode === 13240)).toBe(true);
    await r.client.conferences(conf()?.sid as string).update({ status: 'completed' });
    await r.emu.waitUntilIdle();
  });

  test('record="record-from-start": one mono Conference recording from the start to the end, with recordingStatusCallback', async () => {
    r.emu.addParty({ number: CUSTOMER, hangupAfter: 5 });
    const agent = await agentCall({ waitUrl: '', record: 'record-from-start', recordingStatusCallback: '/rec', recordingStatusCallbackEvent: 'in-progress completed' });
    const customer = await customerCall();
    await r.emu.waitForCall(customer);
    await r.client.conferences(conf()?.sid as string).update({ status: 'completed' });
    await r.emu.waitForCall(agent);
    await r.emu.waitUntilIdle();
    const recs = r.emu.recordings().filter((x) => x.source === 'Conference');
    expect(recs).toHaveLength(1);
    const cf = conf()?.sid as string;
    expect(recs[0]).toMatchObject({ conferenceSid: cf, channels: 1, status: 'completed' });
    const cbs = r.app.to('/rec').map((q) => q.params);
    expect(cbs.map((p) => p.RecordingStatus)).toEqual(['in-progress', 'completed']);
    expect(cbs[1]).toMatchObject({ ConferenceSid: cf, RecordingSid: recs[0]?.sid, RecordingSource: 'Conference', RecordingChannels: '1', AccountSid: r.emu.accountSid });
    expect(cbs[1]?.CallSid).toBeUndefined();
    const listed = await r.client.conferences(cf).recordings.list();
    expect(listed.map((x) => x.sid)).toEqual([recs[0]?.sid]);
    expect(listed[0]?.conferenceSid).toBe(cf);
  });

  test('<Dial> around <Conference>: action after leaving, hangupOnStar leaves the room, timeLimit; record on Dial records the participant leg', async () => {
    r.app.route('/left', () => vr().say('saiu'));
    r.emu.addParty({ number: CUSTOMER, digits: [{ at: 4, digits: '*' }] });
    const agent = await agentCall({ waitUrl: '', endConferenceOnExit: false }, { timeLimit: 12, action: '/left' });
    r.app.route('/cust', () => room({}, { hangupOnStar: true, action: '/left', record: 'record-from-answer-dual' }));
    const c = await r.client.calls.create({ to: CUSTOMER, from: r.number, url: `${r.app.url}/cust` });
    await r.emu.waitForCall(c.sid);
    await r.emu.waitForCall(agent);
    const actions = r.app.to('/left');
    expect(actions.map((q) => q.params.CallSid)).toEqual([c.sid, agent]);
    expect(actions[0]?.params).toMatchObject({ DialCallStatus: 'completed' });
    expect(Number(actions[0]?.params.DialCallDuration)).toBeGreaterThanOrEqual(2);
    expect(actions[0]?.params.RecordingSid).toMatch(/^RE/);
    expect(r.emu.recordings().find((x) => x.sid === actions[0]?.params.RecordingSid)).toMatchObject({ source: 'DialVerb', channels: 2, callSid: c.sid });
    expect(Number(actions[1]?.params.DialCallDuration)).toBeGreaterThanOrEqual(11);
    expect(verbs(r.emu, agent).slice(-1)).toEqual(['Say:saiu']);
  });

  test('statusCallback settings come from the first participant; a conference name is reused only after the previous room completed', async () => {
    r.emu.addParty({ number: AGENT, hangupAfter: 3 });
    const agent = await agentCall({ waitUrl: '', statusCallback: '/conf', statusCallbackEvent: 'join' });
    const first = conf()?.sid;
    await r.emu.waitForCall(agent);
    r.app.route('/inbound', () => room({ statusCallback: '/other', statusCallbackEvent: 'join leave', waitUrl: '' }));
    r.emu.addParty({ number: CUSTOMER, hangupAfter: 2 });
    const c1 = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
    await inRoom(c1);
    const second = conf()?.sid;
    expect(second).not.toBe(first);
    r.app.route('/inbound', () => room({ statusCallback: '/third', statusCallbackEvent: 'join leave start end', waitUrl: '' }));
    const c2 = await r.emu.placeInboundCall({ from: SUPERVISOR, to: r.number });
    await inRoom(c2);
    await r.emu.waitForCall(c1);
    await r.client.conferences(second as string).update({ status: 'completed' });
    await r.emu.waitUntilIdle();
    expect(events('/conf').map((p) => p.StatusCallbackEvent)).toEqual(['participant-join']);
    expect(events('/other').map((p) => `${p.StatusCallbackEvent}:${p.CallSid}`)).toEqual([
      `participant-join:${c1}`, `participant-join:${c2}`, `participant-leave:${c1}`, `participant-leave:${c2}`,
    ]);
    expect(r.app.to('/third')).toHaveLength(0);
    expect(events('/other')[3]?.ReasonParticipantLeft).toBe('conference_ended_via_api');
  });
});
