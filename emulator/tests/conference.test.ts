import { rig, rigPerTest, vr, verbs, type Rig } from './helpers';

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

describe('an agent room across customers', () => {
  test('the room stays in-progress when a customer leaves: the agent alone hears silence, the next customer is heard at once', async () => {
    r.emu.addParty({ number: CUSTOMER, hangupAfter: 3 });
    r.emu.addParty({ number: SUPERVISOR, hangupAfter: 3 });
    r.app.route('/agent-wait', () => vr().pause({ length: 1 }));
    const agent = await agentCall({ waitUrl: '/agent-wait', statusCallback: '/conf', statusCallbackEvent: 'start end join leave' });
    const first = await customerCall();
    await until('start', () => conf()?.status === 'in-progress');
    await r.emu.waitForCall(first);
    expect(conf()).toMatchObject({ status: 'in-progress', participants: [agent] });
    expect(r.emu.hears(agent)).toEqual(new Set());
    expect(r.emu.playing(agent)).toBeNull();
    const second = await customerCall({}, SUPERVISOR);
    expect(r.emu.hears(agent)).toEqual(new Set([second]));
    await r.emu.waitForCall(second);
    await r.client.calls(agent).update({ status: 'completed' });
    await r.emu.waitForCall(agent);
    expect(events().map((e) => e.StatusCallbackEvent)).toEqual([
      'participant-join', 'participant-join', 'conference-start', 'participant-leave', 'participant-join', 'participant-leave', 'participant-leave', 'conference-end',
    ]);
    expect(events().filter((e) => e.StatusCallbackEvent === 'conference-start')).toHaveLength(1);
    expect(r.app.to('/agent-wait')).toHaveLength(1); // only while the agent waited for the first customer
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

const ALL_EVENTS = 'start end join leave mute hold modify speaker announcement';

describe('Conferences and Participants REST resources', () => {
  test('Participants create dials a new leg (client: too) that joins when answered; list, fetch by CallSid or label, list filters', async () => {
    const agent = await agentCall({ waitUrl: '', statusCallback: '/conf', statusCallbackEvent: ALL_EVENTS });
    const cf = conf()?.sid as string;
    r.emu.addParty({ number: 'client:ana', answerAfter: 2 });
    const p = await r.client.conferences(cf).participants.create({
      from: r.number, to: 'client:ana', label: 'supervisor', muted: true, beep: 'false', statusCallback: `${r.app.url}/call-status`,
      statusCallbackEvent: ['ringing', 'answered', 'completed'], earlyMedia: true, endConferenceOnExit: false,
    });
    expect(p).toMatchObject({ conferenceSid: cf, label: 'supervisor', muted: true, hold: false, coaching: false, status: 'queued', endConferenceOnExit: false });
    expect(p.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(p.queueTime).toBe('0');
    const ringing = await r.client.conferences(cf).participants('supervisor').fetch();
    expect(['queued', 'connecting', 'ringing']).toContain(ringing.status);
    await inRoom(p.callSid);
    const call = await r.client.calls(p.callSid).fetch();
    expect(call).toMatchObject({ to: 'client:ana', from: r.number, direction: 'outbound-api', status: 'in-progress' });
    expect((await r.client.conferences(cf).participants(p.callSid).fetch()).status).toBe('connected');
    expect((await r.client.conferences(cf).participants.list()).map((x) => x.callSid)).toEqual([agent, p.callSid]);
    expect((await r.client.conferences(cf).participants.list({ muted: true })).map((x) => x.callSid)).toEqual([p.callSid]);
    expect(await r.client.conferences(cf).participants.list({ hold: true })).toEqual([]);
    expect(r.emu.hears(agent)).toEqual(new Set()); // the supervisor is muted, and alone with the agent the room has started
    expect(r.emu.hears(p.callSid)).toEqual(new Set([agent]));
    expect((await r.client.conferences.list({ friendlyName: ROOM, status: 'in-progress' })).map((c) => c.sid)).toEqual([cf]);
    expect(await r.client.conferences.list({ status: 'completed' })).toEqual([]);
    const today = new Date(r.emu.clock.now()).toISOString().slice(0, 10);
    expect((await r.client.conferences.list({ dateCreated: new Date(`${today}T00:00:00Z`) })).map((c) => c.sid)).toEqual([cf]);
    const fetched = await r.client.conferences(cf).fetch();
    expect(fetched).toMatchObject({ sid: cf, friendlyName: ROOM, status: 'in-progress', accountSid: r.emu.accountSid, reasonConferenceEnded: null });
    expect(r.app.to('/call-status').map((q) => q.params.CallStatus)).toEqual(['ringing', 'in-progress']);
    await r.client.conferences(cf).update({ status: 'completed' });
    await r.emu.waitUntilIdle();
    // the API participant has no TwiML after its conference: its call ends; the agent goes on after <Dial>
    expect((await r.client.calls(p.callSid).fetch()).status).toBe('completed');
    expect(verbs(r.emu, agent).slice(-1)).toEqual(['Say:after']);
    expect(await r.client.conferences(cf).fetch()).toMatchObject({ status: 'completed', reasonConferenceEnded: 'conference-ended-via-api', callSidEndingConference: null });
    expect(await r.client.conferences(cf).participants.list()).toEqual([]);
    expect(events().map((e) => e.StatusCallbackEvent)).toEqual([
      'participant-join', 'participant-join', 'conference-start', 'participant-leave', 'participant-leave', 'conference-end',
    ]);
    expect(events()[1]).toMatchObject({ CallSid: p.callSid, ParticipantLabel: 'supervisor', Muted: 'true', EndConferenceOnExit: 'false' });
    expect(events()[5]).toMatchObject({ ReasonConferenceEnded: 'conference-ended-via-api' });
    expect(events()[5]?.CallSidEndingConference).toBeUndefined();
  });

  test('Participants create by FriendlyName creates the conference with the ConferenceStatusCallback settings; a participant who never answers leaves with participant_add_failed', async () => {
    r.emu.addParty({ number: CUSTOMER, outcome: 'no-answer' });
    const p = await r.client.conferences('sala-nova').participants.create({
      from: r.number, to: CUSTOMER, timeout: 5, conferenceStatusCallback: `${r.app.url}/conf`, conferenceStatusCallbackEvent: ['join', 'leave', 'end'],
    });
    const c = conf('sala-nova');
    expect(c).toMatchObject({ sid: p.conferenceSid, status: 'init', participants: [] });
    await r.emu.waitForCall(p.callSid);
    await r.emu.waitUntilIdle();
    expect((await r.client.calls(p.callSid).fetch()).status).toBe('no-answer');
    expect(events().map((e) => e.StatusCallbackEvent)).toEqual(['participant-leave', 'conference-end']);
    expect(events()[0]).toMatchObject({ CallSid: p.callSid, ParticipantCallStatus: 'no-answer', ReasonParticipantLeft: 'participant_add_failed' });
    expect(conf('sala-nova')).toMatchObject({ status: 'completed', reasonEnded: 'last-participant-left' });
  });

  test('who hears whom: coaching (whisper), barge, listen (muted), hold with HoldUrl, unhold; mute/hold/modify events', async () => {
    r.app.route('/hold', () => vr().play('/music.wav'));
    r.app.route('/music.wav', async () => ({ status: 200, body: (await import('../audio')).synthWav(60, 1), contentType: 'audio/wav' }));
    const agent = await agentCall({ waitUrl: '', statusCallback: '/conf', statusCallbackEvent: 'mute hold modify' });
    const customer = await customerCall();
    const cf = conf()?.sid as string;
    const sup = await r.client.conferences(cf).participants.create({ from: r.number, to: SUPERVISOR, coaching: true, callSidToCoach: agent, beep: 'false' });
    await inRoom(sup.callSid);
    const S = sup.callSid;
    const matrix = () => [agent, customer, S].map((x) => [...r.emu.hears(x)].sort());
    const sorted = (...x: string[]) => x.sort();
    // whisper: only the agent hears the supervisor
    expect(matrix()).toEqual([sorted(customer, S), [agent], sorted(agent, customer)]);
    // barge
    await r.client.conferences(cf).participants(S).update({ coaching: false });
    expect(matrix()).toEqual([sorted(customer, S), sorted(agent, S), sorted(agent, customer)]);
    // listen only
    await r.client.conferences(cf).participants(S).update({ muted: true });
    expect(matrix()).toEqual([[customer], [agent], sorted(agent, customer)]);
    // the customer on hold hears the hold document and nobody; nobody hears them
    await r.client.conferences(cf).participants(customer).update({ hold: true, holdUrl: `${r.app.url}/hold`, holdMethod: 'POST' });
    expect(matrix()).toEqual([[], [], [agent]]);
    await until('hold music', () => r.emu.playing(customer) === `hold:${r.app.url}/hold`);
    await until('hold document', () => verbs(r.emu, customer).includes(`Play:${r.app.url}/music.wav`));
    expect(r.app.to('/hold')[0]?.method).toBe('POST');
    expect((await r.client.conferences(cf).participants.list({ hold: true })).map((x) => x.callSid)).toEqual([customer]);
    await r.client.conferences(cf).participants(customer).update({ hold: false });
    expect(matrix()).toEqual([[customer], [agent], sorted(agent, customer)]);
    await until('music stops', () => r.emu.playing(customer) === null);
    // the supervisor whispers again, now to the customer
    await r.client.conferences(cf).participants(S).update({ muted: false, coaching: true, callSidToCoach: customer });
    expect(matrix()).toEqual([[customer], sorted(agent, S), sorted(agent, customer)]);
    await r.client.conferences(cf).update({ status: 'completed' });
    await r.emu.waitUntilIdle();
    expect(events().map((e) => `${e.StatusCallbackEvent}:${e.CallSid}`)).toEqual([
      `participant-modify:${S}`, `participant-mute:${S}`, `participant-hold:${customer}`, `participant-unhold:${customer}`,
      `participant-unmute:${S}`, `participant-modify:${S}`,
    ]);
    expect(events()[0]).toMatchObject({ Coaching: 'false' });
    expect(events()[5]).toMatchObject({ Coaching: 'true', Muted: 'false' });
  });

  test('update EndConferenceOnExit and BeepOnExit (participant-modify); hold without HoldUrl plays the default music', async () => {
    r.emu.addParty({ number: CUSTOMER, hangupAfter: 6 });
    const agent = await agentCall({ waitUrl: '', endConferenceOnExit: false, statusCallback: '/conf', statusCallbackEvent: 'modify hold end' });
    const customer = await customerCall({ beep: true });
    const cf = conf()?.sid as string;
    const updated = await r.client.conferences(cf).participants(customer).update({ endConferenceOnExit: true, beepOnExit: false, hold: true });
    expect(updated).toMatchObject({ endConferenceOnExit: true, hold: true });
    expect(r.emu.playing(customer)).toBe('hold:https://twimlets.com/holdmusic?Bucket=com.twilio.music.classical');
    expect(r.emu.hears(agent)).toEqual(new Set());
    await r.emu.waitForCall(customer);
    await r.emu.waitForCall(agent);
    expect(conf()).toMatchObject({ status: 'completed', reasonEnded: 'participant-with-end-conference-on-exit-left', callSidEnding: customer });
    expect(r.emu.timeline(agent).filter((e) => e.type === 'conference' && e.text.startsWith('beep')).map((e) => e.text)).toEqual([`beep (${customer} joined)`]);
    expect(events().map((e) => e.StatusCallbackEvent)).toEqual(['participant-hold', 'participant-modify', 'conference-end']);
    expect(events()[1]).toMatchObject({ CallSid: customer, EndConferenceOnExit: 'true', Hold: 'true' });
    expect(verbs(r.emu, agent).slice(-1)).toEqual(['Say:after']);
  });

  test('AnnounceUrl on a participant plays only to that participant (announcement-end); on the conference, to everyone', async () => {
    r.app.route('/announce', () => vr().say('sua ligação está sendo gravada'));
    r.app.route('/all', () => vr().say('a sala vai fechar'));
    const agent = await agentCall({ waitUrl: '', statusCallback: '/conf', statusCallbackEvent: 'announcement' });
    const customer = await customerCall();
    const cf = conf()?.sid as string;
    await r.client.conferences(cf).participants(customer).update({ announceUrl: `${r.app.url}/announce` });
    await until('customer announcement', () => r.emu.playing(customer) === `announcement:${r.app.url}/announce`);
    expect(r.emu.playing(agent)).toBeNull();
    expect(r.emu.hears(customer)).toEqual(new Set([agent]));
    await until('announcement-end', () => events().length === 1);
    expect(events()[0]).toMatchObject({ StatusCallbackEvent: 'announcement-end', AnnounceUrl: `${r.app.url}/announce`, CallSid: customer });
    expect(verbs(r.emu, customer)).toContain('Say:sua ligação está sendo gravada');
    expect(verbs(r.emu, agent)).not.toContain('Say:sua ligação está sendo gravada');
    expect(r.app.to('/announce')[0]?.params.CallSid).toBe(customer);
    await r.client.conferences(cf).update({ announceUrl: `${r.app.url}/all`, announceMethod: 'GET' });
    await until('conference announcement-end', () => events().length === 2);
    expect(r.app.to('/all')).toHaveLength(1);
    expect(r.app.to('/all')[0]).toMatchObject({ method: 'GET', params: expect.objectContaining({ ConferenceSid: cf }) });
    expect(events()[1]).toMatchObject({ StatusCallbackEvent: 'announcement-end', AnnounceUrl: `${r.app.url}/all` });
    expect(events()[1]?.CallSid).toBeUndefined();
    expect(verbs(r.emu, agent)).toContain('Say:a sala vai fechar');
    expect(verbs(r.emu, customer)).toContain('Say:a sala vai fechar');
    await r.client.conferences(cf).update({ status: 'completed' });
    await r.emu.waitUntilIdle();
  });

  test('Calls update redirects a participant out of the conference (participant_updated_via_api); the agent alone keeps the room', async () => {
    r.app.route('/elsewhere', () => vr().say('transferido'));
    const agent = await agentCall({ waitUrl: '', statusCallback: '/conf', statusCallbackEvent: 'leave' });
    const customer = await customerCall();
    await r.client.calls(customer).update({ url: `${r.app.url}/elsewhere` });
    await r.emu.waitForCall(customer);
    expect(verbs(r.emu, customer).slice(-1)).toEqual(['Say:transferido']);
    expect(events()[0]).toMatchObject({ StatusCallbackEvent: 'participant-leave', CallSid: customer, ReasonParticipantLeft: 'participant_updated_via_api', ParticipantCallStatus: 'in-progress' });
    expect(conf()).toMatchObject({ status: 'in-progress', participants: [agent] });
    expect(r.emu.hears(agent)).toEqual(new Set());
    await r.client.conferences(conf()?.sid as string).update({ status: 'completed' });
    await r.emu.waitUntilIdle();
  });

  test('bad requests change nothing: contract, label, coach target, ended or unknown conference, unknown participant, caller ID', async () => {
    const agent = await agentCall({ waitUrl: '', participantLabel: 'agent' });
    const cf = conf()?.sid as string;
    const P = r.client.conferences(cf).participants;
    const base = { from: r.number, to: CUSTOMER };
    await expect(P.create({ ...base, label: 'agent' })).rejects.toMatchObject({ status: 400, code: 16026 });
    await expect(P.create({ ...base, label: 'a/b' })).rejects.toMatchObject({ status: 400, code: 16024 });
    await expect(P.create({ ...base, coaching: true })).rejects.toMatchObject({ status: 400, code: 16028 });
    await expect(P.create({ ...base, callSidToCoach: `CA${'1'.repeat(32)}` })).rejects.toMatchObject({ status: 400, code: 16028 });
    await expect(P.create({ ...base, from: '+551130009999' })).rejects.toMatchObject({ status: 400, code: 21210 });
    await expect(P.create({ ...base, to: '12345' })).rejects.toMatchObject({ status: 400, code: 21211 });
    await expect(P.create({ ...base, maxParticipants: 300 })).rejects.toMatchObject({ status: 400 });
    await expect(P('nobody').fetch()).rejects.toMatchObject({ status: 404, code: 20404 });
    await expect(P(agent).update({ coaching: true, callSidToCoach: agent })).rejects.toMatchObject({ status: 400, code: 16028 });
    await expect(r.client.conferences(`CF${'0'.repeat(32)}`).fetch()).rejects.toMatchObject({ status: 404 });
    expect(r.emu.calls()).toHaveLength(1);
    expect(conf()?.participants).toEqual([agent]);
    expect((await P(agent).fetch()).coaching).toBe(false);
    // the contract: an unknown parameter, a bad enum, a malformed SID
    const raw = async (method: string, path: string, form?: Record<string, string>) => {
      const res = await fetch(`${r.emu.url}/2010-04-01/Accounts/${r.emu.accountSid}${path}`, {
        method, body: form ? new URLSearchParams(form).toString() : undefined,
        headers: { Authorization: 'Basic ' + Buffer.from(`${r.emu.accountSid}:${r.emu.authToken}`).toString('base64'), 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
    };
    expect(await raw('POST', `/Conferences/${cf}/Participants/${agent}.json`, { Volume: '3' })).toMatchObject({ status: 400, json: { code: 20001 } });
    expect(await raw('POST', `/Conferences/${cf}.json`, { Status: 'in-progress' })).toMatchObject({ status: 400, json: { code: 20001 } });
    expect(await raw('GET', '/Conferences/room-1.json')).toMatchObject({ status: 400, json: { code: 20001 } });
    expect(await raw('GET', '/Conferences.json?Status=done')).toMatchObject({ status: 400, json: { code: 20001 } });
    expect(r.emu.contractViolations().map((v) => v.operation)).toEqual(['UpdateParticipant', 'UpdateConference', 'FetchConference', 'ListConference']);
    await r.client.conferences(cf).update({ status: 'completed' });
    await r.emu.waitUntilIdle();
    await expect(P.create(base)).rejects.toMatchObject({ status: 404, code: 20404 });
    await expect(r.client.conferences(cf).update({ announceUrl: `${r.app.url}/x` })).rejects.toMatchObject({ status: 400 });
    await expect(P(agent).fetch()).rejects.toMatchObject({ status: 404 });
    expect(r.emu.calls()).toHaveLength(1);
    // the violations above were on purpose: the per-test check runs on a fresh rig
    await r.close();
    r = await rig();
  });
});
