/**
 * /voice/queue-connect?queue=<name>&agent=<id> — where a queued caller handed to agent <id>
 * is redirected: into the agent's room. queue_connect checks the opt-out list again under the
 * number's lock and that the room takes this call (start_connect: the agent reserved for it,
 * shift leg live, page polling). Connected: the entry is answered, the customer leg's
 * dual-channel recording starts (as every agent call), a short "um momento" lets the agent's
 * whisper finish, and the customer joins the room. An inbound caller on the opt-out list is
 * connected only under OPT_OUT_INBOUND=continue; a dialer customer who opted out meanwhile is
 * told goodbye. No room (the agent vanished): back to the queue, in the same place.
 * Database down: the list cannot be read, so nobody is connected: the queue's voicemail.
 */
import twilio from 'twilio';
import { voiceEvent } from '../../lib/domain/call-events';
import { MESSAGES } from '../../lib/domain/messages';
import { DEFAULT_QUEUE, QUEUE_MESSAGES, QUEUE_NAME, queueUrl } from '../../lib/domain/queue';
import { addCustomerToRoom, startCustomerRecording } from '../../lib/domain/rooms';
import { addVoicemail, say, sayAndHangUp, unavailableTwiml } from '../../lib/domain/twiml';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { parseParams, voiceParams } from '../../lib/runtime/params';
import { twilioClientOptions } from '../../lib/runtime/twilio-client';
import { int, text } from '../../lib/runtime/validate';

const connectParams = { ...voiceParams, agent: int(1, Number.MAX_SAFE_INTEGER), queue: text({ pattern: QUEUE_NAME }).orElse(DEFAULT_QUEUE) };

type ConnectAnswer =
  | { connect: true; direction: string | null; opted_out: boolean; agent: { id: number }; queue: string | null }
  | { connect: false; reason: 'opted_out_after_dial' | 'no_room'; direction?: string | null; queue: string | null; requeue: boolean };

export const handler = voiceFunction(
  async ({ config, params, db, context }) => {
    const p = parseParams(connectParams, params);
    const event = { ...voiceEvent(p, params), presence_seconds: config.AGENT_PRESENCE_SECONDS, opt_out_inbound: config.OPT_OUT_INBOUND };
    const d = unwrap(await db.rpc<ConnectAnswer>('queue_connect', { p_event: event, p_agent_id: p.agent }));
    const queue = d.queue ?? p.queue;
    if (!d.connect) {
      if (d.reason === 'opted_out_after_dial') return sayAndHangUp(config, MESSAGES.outboundOptedOut);
      const twiml = new twilio.twiml.VoiceResponse();
      if (d.requeue) {
        say(twiml, config, QUEUE_MESSAGES.pleaseHold);
        twiml.redirect({ method: 'POST' }, queueUrl(config, queue));
      } else addVoicemail(twiml, config, { queue });
      return twiml;
    }
    if (d.opted_out && config.OPT_OUT_INBOUND !== 'continue') return sayAndHangUp(config, MESSAGES.inboundOptedOut);
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
    await startCustomerRecording(client, config, p.CallSid);
    const twiml = new twilio.twiml.VoiceResponse();
    say(twiml, config, QUEUE_MESSAGES.connecting);
    addCustomerToRoom(twiml, config, d.agent.id, p.CallSid);
    return twiml;
  },
  (config, params) => {
    if (params['Direction'] !== undefined && params['Direction'] !== 'inbound') return sayAndHangUp(config, MESSAGES.outboundUnverified);
    if (!config) return unavailableTwiml(null);
    const twiml = new twilio.twiml.VoiceResponse();
    addVoicemail(twiml, config, { queue: params['queue'] && QUEUE_NAME.test(params['queue']) ? params['queue'] : DEFAULT_QUEUE });
    return twiml;
  },
);
