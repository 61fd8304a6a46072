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
 * A campaign call (placed by the pacer with async AMD) takes its connect step from
 * campaign_connect_step instead: the agent the AMD result reserved (who heard the whisper) or
 * one free now gets the customer in their room, recorded dual-channel; a live customer nobody
 * can take yet hears a short hold and comes back, until ABANDON_GRACE_SECONDS after the
 * disclaimer's end, then is abandoned (a short message naming the company); a machine being
 * handled is hung up (or left at the voicemail drop). See docs/campaign-calls.md.
 *
 * Database down: the opt-out list cannot be read, so the call is not connected to anyone
 * (we placed it; connecting a number that may have opted out is the one thing that must not
 * happen). The customer hears a short apology instead of silence, and the call ends.
 */
import twilio from 'twilio';
import { ATTEMPT_PARAM, attemptId, voiceEvent } from '../../lib/domain/call-events';
import { urlFor, type Config } from '../../lib/runtime/config';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction, type FlowInput } from '../../lib/runtime/handler';
import { MESSAGES } from '../../lib/domain/messages';
import { agentTarget, type RoutedAgent } from '../../lib/domain/routing';
import { addCustomerToRoom, startCustomerRecording } from '../../lib/domain/rooms';
import { abandonTwiml, holdTwiml, voicemailDropUrl, type ConnectStep } from '../../lib/domain/campaign-calls';
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

/** The customer joins the agent's room, their leg recorded dual-channel first. */
async function intoRoom(config: Config, context: FlowInput['context'], agentId: number, callSid: string): Promise<twilio.twiml.VoiceResponse> {
  // The runtime types name an older twilio package; the object is this project's twilio client.
  const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
  await startCustomerRecording(client, config, callSid);
  const twiml = new twilio.twiml.VoiceResponse();
  addCustomerToRoom(twiml, config, agentId, callSid);
  return twiml;
}

/** A campaign call's connect step, as campaign_connect_step decided it. */
async function campaignStep(
  config: Config,
  context: FlowInput['context'],
  params: Record<string, string>,
  callSid: string,
  step: Exclude<ConnectStep, { action: 'not_campaign' }>,
): Promise<twilio.twiml.VoiceResponse> {
  switch (step.action) {
    case 'room':
      return intoRoom(config, context, step.agent_id, callSid);
    case 'wait':
      return holdTwiml(config, attemptId(params)?.toString());
    case 'abandon':
      return abandonTwiml(config, step);
    case 'voicemail': {
      // AMD sent the call to the voicemail drop; should this request still be answered, it goes there too.
      const attempt = attemptId(params);
      const twiml = new twilio.twiml.VoiceResponse();
      if (attempt) twiml.redirect({ method: 'POST' }, voicemailDropUrl(config, attempt));
      else twiml.hangup();
      return twiml;
    }
    default: {
      if (step.reason === 'opted_out') return sayAndHangUp(config, MESSAGES.outboundOptedOut);
      const twiml = new twilio.twiml.VoiceResponse();
      twiml.hangup();
      return twiml;
    }
  }
}

/** The click-to-call (and agent-less) path after the disclaimer, as start_outbound_answer decided it. */
async function answerStep(config: Config, context: FlowInput['context'], callSid: string, decision: AnswerDecision): Promise<twilio.twiml.VoiceResponse> {
  if (!decision.connect) return sayAndHangUp(config, MESSAGES.outboundOptedOut);
  if (decision.agent?.room_unavailable) {
    // The agent's room cannot take this customer now (the agent left, or is on another
    // customer): an apology and the agent's voicemail, never an empty room.
    const twiml = new twilio.twiml.VoiceResponse();
    say(twiml, config, MESSAGES.agentGone);
    addVoicemail(twiml, config);
    return twiml;
  }
  if (decision.agent?.has_room) return intoRoom(config, context, decision.agent.id, callSid);
  return connect(config, agentTarget(decision.agent));
}

export const handler = voiceFunction(
  async ({ config, params, db, context }) => {
    const call = parseParams(voiceParams, params);
    if (params['step'] !== 'connect') {
      const decision = unwrap(await db.rpc<AnswerDecision>('start_outbound_answer', { p_event: voiceEvent(call, params) }));
      if (!decision.connect) return sayAndHangUp(config, MESSAGES.outboundOptedOut);
      return disclaimer(config, params);
    }
    const event = { ...voiceEvent(call, params), connect_step: true, presence_seconds: config.AGENT_PRESENCE_SECONDS, grace_seconds: config.ABANDON_GRACE_SECONDS };
    const step = unwrap(await db.rpc<ConnectStep>('campaign_connect_step', { p_event: event }));
    if (step.action === 'not_campaign') return answerStep(config, context, call.CallSid, step.answer as AnswerDecision);
    return campaignStep(config, context, params, call.CallSid, step);
  },
  (config) => sayAndHangUp(config, MESSAGES.outboundUnverified),
);
