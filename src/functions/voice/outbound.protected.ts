/**
 * /voice/outbound — answer URL of every call the dialer places (`?attempt=<id>` names the
 * dial attempt recorded before the call was created). The decision to connect is taken
 * again here: a number that opted out after the call was placed hears a short goodbye and
 * the call ends, never bridged to anyone. Otherwise the customer hears the disclaimer with
 * the opt-out offer (a key press goes to /voice/opt-out), then comes back with
 * `?step=connect` (also where another key leads), which checks the list once more and only
 * then connects the call's agent, else the fallback number. An agent with a room (a shift
 * leg from the agent page) gets the customer in the room, recorded dual-channel, with no ring,
 * only when it is reserved for this very call and still there (shift leg live, page polling),
 * else the customer hears an apology and the agent's voicemail;
 * an agent without one has their devices rung as before.
 *
 * Database down: the opt-out list cannot be read, so the call is not connected to anyone
 * (we placed it; connecting a number that may have opted out is the one thing that must not
 * happen). The customer hears a short apology instead of silence, and the call ends.
 */
import twilio from 'twilio';
import { ATTEMPT_PARAM, voiceEvent } from '../../lib/domain/call-events';
import { urlFor, type Config } from '../../lib/runtime/config';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { MESSAGES } from '../../lib/domain/messages';
import { agentTarget, type RoutedAgent } from '../../lib/domain/routing';
import { addCustomerToRoom, startCustomerRecording } from '../../lib/domain/rooms';
import { addDial, addDisclaimer, addVoicemail, say, sayAndHangUp, type DialTarget } from '../../lib/domain/twiml';
import { twilioClientOptions } from '../../lib/runtime/twilio-client';
import { parseParams, voiceParams } from '../../lib/runtime/params';

/** What start_outbound_answer decides. */
type AnswerDecision =
  | { connect: true; agent: (RoutedAgent & { has_room?: boolean; room_unavailable?: boolean }) | null }
  | { connect: false; reason: string };

/**
 * The disclaimer with the opt-out offer, then back here with ?step=connect: the decision to
 * connect is taken again after the disclaimer, so an opt-out that arrives while the customer
 * listens to it (by any channel) is honoured. Never a Dial verb right after a disclaimer.
 */
function disclaimer(config: Config, params: Record<string, string>): twilio.twiml.VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  const gather = twiml.gather({ numDigits: 1, timeout: 1, action: urlFor(config, '/voice/opt-out'), actionOnEmptyResult: false });
  addDisclaimer(gather, config);
  say(gather, config, MESSAGES.optOutOffer(config.OPT_OUT_KEY));
  const next = new URLSearchParams({ step: 'connect' });
  if (params[ATTEMPT_PARAM]) next.set(ATTEMPT_PARAM, params[ATTEMPT_PARAM]);
  twiml.redirect({ method: 'POST' }, urlFor(config, `/voice/outbound?${next.toString()}`));
  return twiml;
}

/** Connects the customer to the call's agent, else the fallback number, else an apology. */
function connect(config: Config, target: DialTarget | null): twilio.twiml.VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  const to = target ?? (config.FALLBACK_NUMBER ? ({ kind: 'number', number: config.FALLBACK_NUMBER } as const) : null);
  if (to) addDial(twiml, config, to, '/voice/voicemail');
  else {
    say(twiml, config, MESSAGES.unavailable);
    twiml.hangup();
  }
  return twiml;
}

export const handler = voiceFunction(
  async ({ config, params, db, context }) => {
    const call = parseParams(voiceParams, params);
    const connectStep = params['step'] === 'connect';
    const event = { ...voiceEvent(call, params), ...(connectStep ? { connect_step: true, presence_seconds: config.AGENT_PRESENCE_SECONDS } : {}) };
    const decision = unwrap(await db.rpc<AnswerDecision>('start_outbound_answer', { p_event: event }));
    if (!decision.connect) return sayAndHangUp(config, MESSAGES.outboundOptedOut);
    if (!connectStep) return disclaimer(config, params);
    if (decision.agent?.room_unavailable) {
      // The agent's room cannot take this customer now (the agent left, or is on another
      // customer): an apology and the agent's voicemail, never an empty room.
      const twiml = new twilio.twiml.VoiceResponse();
      say(twiml, config, MESSAGES.agentGone);
      addVoicemail(twiml, config);
      return twiml;
    }
    if (decision.agent?.has_room) {
      // The runtime types name an older twilio package; the object is this project's twilio client.
      const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
      await startCustomerRecording(client, config, call.CallSid);
      const twiml = new twilio.twiml.VoiceResponse();
      addCustomerToRoom(twiml, config, decision.agent.id, call.CallSid);
      return twiml;
    }
    return connect(config, agentTarget(decision.agent));
  },
  (config) => sayAndHangUp(config, MESSAGES.outboundUnverified),
);
