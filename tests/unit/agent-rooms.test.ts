/**
 * The TwiML of the agent's room and offers, parsed: the shift leg, a customer joining, the
 * offer's queue and its wait document, and the handlers that need no database (the wait
 * document; the others with the database down answer their safe route).
 */
import twilio from 'twilio';
import { handler as agentSession, clientIdentity } from '../../src/functions/voice/agent-session.protected';
import { handler as agentWait } from '../../src/functions/voice/agent-wait.protected';
import { handler as connect } from '../../src/functions/voice/connect.protected';
import { handler as inbound } from '../../src/functions/voice/inbound.protected';
import { handler as conference } from '../../src/functions/webhooks/conference.protected';
import { MESSAGES } from '../../src/lib/domain/messages';
import {
  addCustomerToRoom, addOffer, addShiftLeg, agentIdOfRoom, customerRecordingParams, offerEnd, offerWaitTwiml, roomEndedTwiml, roomName,
} from '../../src/lib/domain/rooms';
import { inboundRoute } from '../../src/lib/domain/routing';
import { loadConfig } from '../../src/lib/runtime/config';
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';
import { find, parseTwiml, verbNames, type TwimlNode } from '../helpers/twiml';

const base = 'https://discador-1234-dev.twil.io';
const config = loadConfig({ SUPABASE_URL: 'http://127.0.0.1:9', SUPABASE_SERVICE_ROLE_KEY: 'k'.repeat(40), DOMAIN_NAME: 'discador-1234-dev.twil.io' });
const build = (f: (t: twilio.twiml.VoiceResponse) => void) => {
  const t = new twilio.twiml.VoiceResponse();
  f(t);
  return parseTwiml(t.toString());
};
const call = {
  CallSid: 'CA' + '2'.repeat(32),
  AccountSid: 'AC0000000000000000000000000000d15c',
  From: '+5511987654321',
  To: '+551130001000',
  CallStatus: 'in-progress',
  Direction: 'inbound',
};

beforeAll(installRuntimeGlobals);
beforeEach(() => jest.spyOn(console, 'error').mockImplementation(() => undefined));
afterEach(() => jest.restoreAllMocks());

describe('room names', () => {
  it('agent-<id> both ways; anything else is not a room', () => {
    expect(roomName(42)).toBe('agent-42');
    expect(agentIdOfRoom('agent-42')).toBe(42);
    for (const n of ['agent-0', 'agent-', 'agent-4a', 'Agent-4', 'queue-4', undefined]) expect(agentIdOfRoom(n)).toBeNull();
  });
});

describe('the shift leg', () => {
  it('opens the room, closes it on leaving, no beep, silence while alone, callbacks for start end join leave hold', () => {
    const twiml = build((t) => addShiftLeg(t, config, 7));
    expect(verbNames(twiml)).toEqual(['Dial']);
    const conf = find(twiml, 'Conference')!;
    expect(conf.text).toBe('agent-7');
    expect(conf.attrs).toEqual({
      startConferenceOnEnter: 'true',
      endConferenceOnExit: 'true',
      beep: 'false',
      waitUrl: '',
      participantLabel: 'agent',
      statusCallback: `${base}/webhooks/conference`,
      statusCallbackMethod: 'POST',
      statusCallbackEvent: 'start end join leave hold',
    });
  });

  it('reads the identity of a client: caller only', () => {
    expect(clientIdentity('client:ana')).toBe('ana');
    expect(clientIdentity('client:ana.souza_2')).toBe('ana.souza_2');
    for (const f of ['+5511987654321', 'client:', 'sip:ana@x', 'client:a b', undefined]) expect(clientIdentity(f)).toBeNull();
  });
});

describe('a customer joining the room', () => {
  it('joins agent-<id> without ending it on leaving, no beep, labelled by its own CallSid', () => {
    const twiml = build((t) => addCustomerToRoom(t, config, 7, call.CallSid));
    const conf = find(twiml, 'Conference')!;
    expect(conf.text).toBe('agent-7');
    expect(conf.attrs).toMatchObject({ startConferenceOnEnter: 'true', endConferenceOnExit: 'false', beep: 'false', participantLabel: `customer-${call.CallSid}` });
  });

  it("the room's end leads to /voice/connect?step=room-ended (the Dial's action)", () => {
    const twiml = build((t) => addCustomerToRoom(t, config, 7, call.CallSid));
    expect(verbNames(twiml)).toEqual(['Dial']);
    expect(twiml.children[0]!.attrs).toEqual({ action: `${base}/voice/connect?agent=7&step=room-ended`, method: 'POST' });
  });

  it('the room ended under a customer still on the line: an apology, then the voicemail', () => {
    const twiml = parseTwiml(roomEndedTwiml(config, 'in-progress').toString());
    expect(verbNames(twiml)).toEqual(['Say', 'Say', 'Record']);
    expect(twiml.children[0]!.text).toBe(MESSAGES.agentDropped);
    expect(find(twiml, 'Record')!.attrs['action']).toBe(`${base}/voice/voicemail`);
  });

  it.each(['completed', 'busy', 'no-answer', undefined])('the room ended with the call %s (hung up, by either side): nothing more is said', (status) => {
    expect(verbNames(parseTwiml(roomEndedTwiml(config, status).toString()))).toEqual([]);
  });

  it('/voice/connect?step=room-ended answers without the database', async () => {
    const res = await invoke(connect, makeContext(), { ...call, agent: '7', step: 'room-ended' });
    expect(verbNames(parseTwiml(res.body))).toEqual(['Say', 'Say', 'Record']);
    const done = await invoke(connect, makeContext(), { ...call, CallStatus: 'completed', agent: '7', step: 'room-ended' });
    expect(verbNames(parseTwiml(done.body))).toEqual([]);
  });

  it('is recorded dual-channel with the recording webhook', () => {
    expect(customerRecordingParams(config)).toEqual({
      recordingChannels: 'dual',
      recordingTrack: 'both',
      recordingStatusCallback: `${base}/webhooks/recording`,
      recordingStatusCallbackMethod: 'POST',
      recordingStatusCallbackEvent: ['in-progress', 'completed', 'absent'],
    });
  });
});

describe('an offer', () => {
  it('the caller waits in the queue agent-<id>, with the wait document and its result as action', () => {
    const twiml = build((t) => addOffer(t, config, 7));
    expect(verbNames(twiml)).toEqual(['Enqueue']);
    const enqueue = twiml.children[0]!;
    expect(enqueue.text).toBe('agent-7');
    expect(enqueue.attrs).toEqual({
      waitUrl: `${base}/voice/agent-wait?agent=7`,
      waitUrlMethod: 'POST',
      action: `${base}/voice/agent-wait?agent=7&step=result`,
      method: 'POST',
    });
  });

  it('an inbound route "offer" plays the disclaimer then enqueues', async () => {
    expect(inboundRoute({ opted_out: false, route: 'offer', agent: { id: 7, name: 'A', phone_number: null, client_identity: 'a', status: 'reserved' } }, config)).toEqual({ kind: 'offer', agentId: 7 });
    expect(inboundRoute({ opted_out: false, route: 'voicemail', agent: { id: 7, name: 'A', phone_number: '+5511990000001', client_identity: 'a', status: 'busy' } }, config)).toEqual({ kind: 'voicemail', agentId: 7 });
    expect(inboundRoute({ opted_out: false, route: 'ring', agent: { id: 7, name: 'A', phone_number: '+5511990000001', client_identity: null, status: 'offline' } }, config)).toMatchObject({ kind: 'dial' });
  });

  it.each([0, 3, 14])('after %i s of waiting (ring timeout 20 s) one ringback cycle, then the wait document is fetched again', (waited) => {
    const twiml = parseTwiml(offerWaitTwiml(config, waited).toString());
    expect(verbNames(twiml)).toEqual(['Play']);
    expect(twiml.children[0]!.text).toBe(`${base}/ringback.wav`);
    expect(twiml.children[0]!.attrs['loop']).toBeUndefined();
  });

  it.each([15, 17, 19])('after %i s the last cycle, then the caller leaves', (waited) => {
    const twiml = parseTwiml(offerWaitTwiml(config, waited).toString());
    expect(verbNames(twiml)).toEqual(['Play', 'Leave']);
  });

  it.each([20, 21, 600])('after %i s the caller leaves at once', (waited) => {
    expect(verbNames(parseTwiml(offerWaitTwiml(config, waited).toString()))).toEqual(['Leave']);
  });

  it('the queue result: given up or failed → voicemail; hung up → nothing said; answered → nothing here', () => {
    for (const r of ['leave', 'error', 'system-error', 'queue-full', undefined]) expect(offerEnd(r)).toBe('voicemail');
    expect(offerEnd('hangup')).toBe('hangup');
    for (const r of ['bridged', 'bridging-in-process', 'redirected', 'redirected-from-bridged']) expect(offerEnd(r)).toBe('done');
  });
});

describe('handlers without a database', () => {
  it('the wait document needs none: one ringback cycle (then fetched again), from the QueueTime Twilio sends', async () => {
    const res = await invoke(agentWait, makeContext(), { ...call, agent: '7', QueueTime: '12', QueueSid: 'QU' + '1'.repeat(32) });
    const twiml = parseTwiml(res.body);
    expect(res.status).toBe(200);
    expect(verbNames(twiml)).toEqual(['Play']);
    const last = parseTwiml((await invoke(agentWait, makeContext(), { ...call, agent: '7', QueueTime: '16', QueueSid: 'QU' + '1'.repeat(32) })).body);
    expect(verbNames(last)).toEqual(['Play', 'Leave']);
  });

  it('the queue result takes a message even when the offer cannot be released', async () => {
    const res = await invoke(agentWait, makeContext(), { ...call, agent: '7', step: 'result', QueueResult: 'leave' });
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Say', 'Record']);
    expect(twiml.children[0]!.text).toBe(MESSAGES.voicemail);
  });

  it('the shift leg is refused (said, then hang up) when it cannot be tied to an agent', async () => {
    const twiml = parseTwiml((await invoke(agentSession, makeContext(), { ...call, From: 'client:ana', To: '' })).body);
    expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
    expect(find(twiml, 'Conference')).toBeUndefined();
  });

  it('connect never joins a room unverified: inbound leaves a message, a dialer call hears an apology', async () => {
    const inboundTwiml = parseTwiml((await invoke(connect, makeContext(), { ...call, agent: '7' })).body);
    expect(verbNames(inboundTwiml)).toEqual(['Say', 'Record']);
    const outboundTwiml = parseTwiml((await invoke(connect, makeContext(), { ...call, Direction: 'outbound-api', agent: '7' })).body);
    expect(verbNames(outboundTwiml)).toEqual(['Say', 'Hangup']);
    expect(outboundTwiml.children[0]!.text).toBe(MESSAGES.outboundUnverified);
    for (const t of [inboundTwiml, outboundTwiml]) expect(find(t, 'Conference')).toBeUndefined();
  });

  it('an inbound call is never enqueued without the database (nobody was reserved)', async () => {
    const twiml: TwimlNode = parseTwiml((await invoke(inbound, makeContext(), call)).body);
    expect(find(twiml, 'Enqueue')).toBeUndefined();
  });

  it('a conference callback without its parameters is refused with 400, and 503 when the database is away', async () => {
    expect((await invoke(conference, makeContext(), { StatusCallbackEvent: 'participant-join' })).status).toBe(400);
    const ok = { ConferenceSid: 'CF' + '3'.repeat(32), FriendlyName: 'agent-7', StatusCallbackEvent: 'participant-join', CallSid: call.CallSid };
    expect((await invoke(conference, makeContext(), ok)).status).toBe(503);
  });
});
