/**
 * /voice/connect?agent=<id> — puts a customer into agent <id>'s room: where the agent's answer
 * (POST /api/agent/answer) redirects an offered customer. The opt-out list is checked again
 * under the number's lock first: a call discador placed to a number that opted out meanwhile
 * is told goodbye and never connected; an inbound caller on the list is served only under
 * OPT_OUT_INBOUND=continue. The customer leg is recorded dual-channel (see
 * customerRecordingParams), then joins the room. Only when the agent is busy with (or reserved
 * for) this call, their shift leg is live and their page polls (AGENT_PRESENCE_SECONDS);
 * otherwise an apology and the agent's voicemail, never an empty room. With `&step=room-ended`
 * (the customer's Dial action): the room ended under a customer still on the line (the
 * agent's leg dropped) → apology and voicemail; a customer already hung up → nothing.
 *
 * Database down: the list cannot be read, so nobody is connected; an inbound caller leaves a
 * message, a dialer call hears an apology.
 */
import twilio from 'twilio';
import { voiceEvent } from '../../lib/domain/call-events';
import { MESSAGES } from '../../lib/domain/messages';
import { addCustomerToRoom, roomEndedTwiml, startCustomerRecording } from '../../lib/domain/rooms';
import { addVoicemail, say, sayAndHangUp, unavailableTwiml } from '../../lib/domain/twiml';
import type { Config } from '../../lib/runtime/config';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { parseParams, voiceParams } from '../../lib/runtime/params';
import { twilioClientOptions } from '../../lib/runtime/twilio-client';
import { int, oneOf } from '../../lib/runtime/validate';

/** What start_connect decides. */
type ConnectDecision =
  | { connect: true; direction: string | null; opted_out: boolean; agent: { id: number; has_room: true } }
  | { connect: false; reason: 'opted_out_after_dial' | 'no_room'; direction?: string | null };

const connectParams = { ...voiceParams, agent: int(1, Number.MAX_SAFE_INTEGER), step: oneOf(['room-ended'] as const).orElse(undefined) };

function agentGone(config: Config, agentId: number): twilio.twiml.VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  say(twiml, config, MESSAGES.agentGone);
  addVoicemail(twiml, config, { agentId });
  return twiml;
}

export const handler = voiceFunction(
  async ({ config, params, db, context }) => {
    const p = parseParams(connectParams, params);
    // The customer's room ended (their Dial action): the agent's state follows from the
    // conference and status callbacks; here only what the customer hears next.
    if (p.step === 'room-ended') return roomEndedTwiml(config, p.CallStatus, p.agent);
    const event = { ...voiceEvent(p, params), presence_seconds: config.AGENT_PRESENCE_SECONDS };
    const decision = unwrap(await db.rpc<ConnectDecision>('start_connect', { p_event: event, p_agent_id: p.agent }));
    if (!decision.connect) {
      return decision.reason === 'opted_out_after_dial' ? sayAndHangUp(config, MESSAGES.outboundOptedOut) : agentGone(config, p.agent);
    }
    if (decision.opted_out && config.OPT_OUT_INBOUND !== 'continue') return sayAndHangUp(config, MESSAGES.inboundOptedOut);
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
    await startCustomerRecording(client, config, p.CallSid);
    const twiml = new twilio.twiml.VoiceResponse();
    addCustomerToRoom(twiml, config, decision.agent.id, p.CallSid);
    return twiml;
  },
  (config, params) => {
    const agent = /^[1-9][0-9]{0,15}$/.test(params['agent'] ?? '') ? Number(params['agent']) : undefined;
    if (config && params['step'] === 'room-ended') return roomEndedTwiml(config, params['CallStatus'], agent);
    if (params['Direction'] !== undefined && params['Direction'] !== 'inbound') return sayAndHangUp(config, MESSAGES.outboundUnverified);
    if (!config) return unavailableTwiml(null);
    const twiml = new twilio.twiml.VoiceResponse();
    addVoicemail(twiml, config, agent === undefined ? {} : { agentId: agent });
    return twiml;
  },
);
