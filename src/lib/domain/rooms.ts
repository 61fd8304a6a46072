/**
 * An agent's room: the conference `agent-<id>` where the agent's shift leg waits all shift and
 * each customer joins, and the queue of the same name where an offered customer waits for the
 * agent to answer. The TwiML of every leg that enters or waits for a room is built here.
 */
import twilio from 'twilio';
import { urlFor, type Config } from '../runtime/config';
import { MESSAGES } from './messages';
import { addVoicemail, say } from './twiml';
import { within } from '../runtime/deadline';

type VoiceResponse = twilio.twiml.VoiceResponse;

const ROOM_PREFIX = 'agent-';

/** The conference (and offer queue) name of an agent's room. */
export function roomName(agentId: number): string {
  return `${ROOM_PREFIX}${agentId}`;
}

/** The agent id of a room name, or null when the name is not an agent's room. */
export function agentIdOfRoom(name: string | undefined): number | null {
  const m = name === undefined ? null : /^agent-([1-9][0-9]{0,15})$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** The conference events discador follows in a room (Twilio's statusCallbackEvent values). */
export const ROOM_EVENTS = ['start', 'end', 'join', 'leave', 'hold'] as const;

/** The room's conference callbacks: joins and leaves move the agent between busy and wrap-up. */
function roomCallbacks(config: Config) {
  return {
    statusCallback: urlFor(config, '/webhooks/conference'),
    statusCallbackMethod: 'POST',
    statusCallbackEvent: [...ROOM_EVENTS],
  };
}

/**
 * The agent's shift leg: opens the room (startConferenceOnEnter) and closes it when the agent
 * leaves (endConferenceOnExit), no beep. The first participant's callback settings are the
 * conference's, so they are set here.
 */
export function addShiftLeg(twiml: VoiceResponse, config: Config, agentId: number): void {
  const dial = twiml.dial();
  dial.conference(
    { startConferenceOnEnter: true, endConferenceOnExit: true, beep: 'false', waitUrl: '', participantLabel: 'agent', ...roomCallbacks(config) },
    roomName(agentId),
  );
}

/** A customer's participant label in a room: unique per call, so two customers never collide. */
export function customerLabel(callSid: string): string {
  return `customer-${callSid}`;
}

/** The customer's Dial action: what happens when the room ends while the customer is still on the line. */
export function roomEndedUrl(config: Config, agentId: number): string {
  return urlFor(config, `/voice/connect?agent=${agentId}&step=room-ended`);
}

/**
 * A customer joins the agent's room. Their leaving does not end the room (the agent stays for
 * the next call); the conference has already started with the agent in it. The Dial verb's
 * action is requested when the customer's conference ends (Twilio continues with the action's
 * TwiML after the Dial verb ends, twilio.com/docs/voice/twiml/dial#action): when the agent's leg
 * dropped (endConferenceOnExit) the customer is still on the line and hears an apology and the
 * agent's voicemail; when the customer was hung up, nothing more is said.
 */
export function addCustomerToRoom(twiml: VoiceResponse, config: Config, agentId: number, callSid: string): void {
  const dial = twiml.dial({ action: roomEndedUrl(config, agentId), method: 'POST' });
  dial.conference(
    { startConferenceOnEnter: true, endConferenceOnExit: false, beep: 'false', participantLabel: customerLabel(callSid), ...roomCallbacks(config) },
    roomName(agentId),
  );
}

/** The URL of the offer's wait document (`<Enqueue waitUrl>`) and, with step=result, its action. */
export function offerWaitUrl(config: Config, agentId: number, step?: 'result'): string {
  const q = new URLSearchParams({ agent: String(agentId) });
  if (step) q.set('step', step);
  return urlFor(config, `/voice/agent-wait?${q.toString()}`);
}

/**
 * An offered customer waits in the agent's queue while the agent's page rings. The agent
 * answering redirects the call (REST) into the room; otherwise the wait document gives up
 * after AGENT_RING_TIMEOUT and the action sends the customer to voicemail.
 */
export function addOffer(twiml: VoiceResponse, config: Config, agentId: number): void {
  twiml.enqueue(
    { waitUrl: offerWaitUrl(config, agentId), waitUrlMethod: 'POST', action: offerWaitUrl(config, agentId, 'result'), method: 'POST' },
    roomName(agentId),
  );
}

/** The ringback asset: Brazil's ring tone (425 Hz, 1 s on, 4 s off), one cycle. */
export const RINGBACK_ASSET = '/ringback.wav';
/** Length of one ringback cycle, seconds. */
export const RINGBACK_CYCLE_SECONDS = 5;

/**
 * What an offered customer hears while waiting, given the seconds already waited (Twilio's
 * QueueTime): one ringback cycle per document, so Twilio fetches the wait URL again every
 * cycle ("the waitUrl TwiML is fetched again when it ends", twilio.com/docs/voice/twiml/enqueue)
 * and each fetch may retry marking the offer answerable; the last cycle before
 * AGENT_RING_TIMEOUT ends with `<Leave>` (the Enqueue action takes over), and a fetch at or
 * after the timeout leaves at once.
 */
export function offerWaitTwiml(config: Config, waitedSeconds: number): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  const remaining = config.AGENT_RING_TIMEOUT - Math.max(0, waitedSeconds);
  if (remaining > 0) twiml.play(urlFor(config, RINGBACK_ASSET));
  if (remaining <= RINGBACK_CYCLE_SECONDS) twiml.leave();
  return twiml;
}

/** What an offer's end (Twilio's QueueResult) means. */
export type OfferEnd = 'voicemail' | 'hangup' | 'done';

/**
 * The Enqueue action's QueueResult: the wait gave up or failed → voicemail; the caller hung up
 * → nothing to say; bridged or redirected (the agent answered) → nothing here either.
 */
export function offerEnd(queueResult: string | undefined): OfferEnd {
  switch (queueResult) {
    case 'bridged':
    case 'bridging-in-process':
    case 'redirected':
    case 'redirected-from-bridged':
      return 'done';
    case 'hangup':
      return 'hangup';
    default:
      return 'voicemail';
  }
}

/**
 * The customer's Dial action after the room: a customer still on the line (CallStatus
 * in-progress: the agent's leg dropped and ended the room) hears an apology and may leave a
 * message for the agent (the recording is the agent's voicemail when agentId is given); a customer whose call is over (they hung up, or the agent hung them up
 * through the API) gets nothing more.
 */
export function roomEndedTwiml(config: Config, callStatus: string | undefined, agentId?: number): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  if (callStatus !== 'in-progress') return twiml;
  say(twiml, config, MESSAGES.agentDropped);
  addVoicemail(twiml, config, agentId === undefined ? {} : { agentId });
  return twiml;
}

/** A leg the room cannot take: one sentence, then the call ends. */
export function refuseLeg(config: Config | null, text: string): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  say(twiml, config, text);
  twiml.hangup();
  return twiml;
}

/**
 * How a customer leg in a room is recorded: the call's own recording (Calls Recordings create,
 * "Start a call recording" in Twilio's Call Recording resource) with RecordingChannels=dual,
 * so the customer is on one channel and what they hear (the agent) on the other. Not the
 * conference's recording (`<Conference record>`): that records the whole room, which is the
 * agent's whole shift, and its dual-channel file puts the first participant (the agent) on one
 * channel and everyone else on the other (Twilio changelog 2024-07-09 "Dual-channel Voice
 * Conference Recordings", default since 2025-09-15). Dial record="record-from-answer-dual"
 * records a two-party Dial's parent and child legs; a conference leg has no child leg.
 */
export function customerRecordingParams(config: Config) {
  return {
    recordingChannels: 'dual',
    recordingTrack: 'both',
    recordingStatusCallback: urlFor(config, '/webhooks/recording'),
    recordingStatusCallbackMethod: 'POST',
    recordingStatusCallbackEvent: ['in-progress', 'completed', 'absent'],
  };
}

/**
 * Starts the dual-channel recording of a customer leg that is joining a room. A failure is
 * logged and the customer is still connected: a recording that could not start must not drop
 * the call.
 */
export async function startCustomerRecording(client: twilio.Twilio, config: Config, callSid: string): Promise<boolean> {
  try {
    await within(client.calls(callSid).recordings.create(customerRecordingParams(config)), RECORDING_START_BUDGET_MS);
    return true;
  } catch (e) {
    console.error(`[discador] recording of call ${callSid} not started: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
}

/** Longest wait for Twilio to start a recording inside a voice webhook (its deadline is shared). */
export const RECORDING_START_BUDGET_MS = 2000;
