/**
 * /voice/queue?queue=<name>[&agent=<id>][&source=campaign] — the caller enters service queue
 * <name> (unknown or absent: geral) without hearing the disclaimer again: a Redirect target
 * after /voice/service, an agent's follow-me (`agent` = whose follow-me sent them) or a
 * campaign's abandon treatment 'queue' (`source=campaign`). An opted-out caller not served
 * under OPT_OUT_INBOUND, or a customer discador dialed who is now on the list (whatever
 * OPT_OUT_INBOUND says), hears why and the call ends. When nobody waits longer and a serving
 * agent is free, that agent is reserved, hears the whisper, and the caller goes to
 * /voice/queue-connect (the room); else `<Enqueue>` with the wait document and its action.
 * Database down: the queue's voicemail.
 */
import twilio from 'twilio';
import { voiceEvent } from '../../lib/domain/call-events';
import { startWhisper } from '../../lib/domain/campaign-calls';
import { MESSAGES } from '../../lib/domain/messages';
import { addEnqueue, connectUrl, DEFAULT_QUEUE, QUEUE_NAME, queueWhisperUrl, waitSettings, type QueueSettings } from '../../lib/domain/queue';
import { addVoicemail, sayAndHangUp, unavailableTwiml } from '../../lib/domain/twiml';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { parseParams, voiceParams } from '../../lib/runtime/params';
import { twilioClientOptions } from '../../lib/runtime/twilio-client';
import { int, oneOf, text } from '../../lib/runtime/validate';

const queueParams = {
  ...voiceParams,
  queue: text({ pattern: QUEUE_NAME }).orElse(DEFAULT_QUEUE),
  agent: int(1, Number.MAX_SAFE_INTEGER).orElse(undefined),
  source: oneOf(['campaign', 'direct'] as const).orElse(undefined),
};

interface EnterAnswer {
  opted_out: boolean;
  direction?: string;
  entry_id?: number;
  queue: QueueSettings;
  seconds_per_caller: number | null;
  position: number;
  waited_seconds: number;
  agent: { id: number; room_conference_sid: string | null; shift_call_sid: string | null } | null;
}

export const handler = voiceFunction(
  async ({ config, params, db, context }) => {
    const p = parseParams(queueParams, params);
    const source = p.source ?? (p.agent !== undefined ? 'follow_me' : 'service');
    const event = {
      ...voiceEvent(p, params),
      presence_seconds: config.AGENT_PRESENCE_SECONDS,
      opt_out_inbound: config.OPT_OUT_INBOUND,
      source,
      via_agent_id: p.agent ?? null,
    };
    const entered = unwrap(await db.rpc<EnterAnswer>('queue_enter', { p_event: event, p_queue: p.queue }));
    if (entered.opted_out && entered.entry_id === undefined) {
      return sayAndHangUp(config, entered.direction && entered.direction !== 'inbound' ? MESSAGES.outboundOptedOut : MESSAGES.inboundOptedOut);
    }
    const twiml = new twilio.twiml.VoiceResponse();
    if (entered.agent) {
      // The runtime types name an older twilio package; the object is this project's twilio client.
      const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
      await startWhisper(client, config, entered.agent, p.CallSid, queueWhisperUrl(config, entered.queue.name, entered.waited_seconds));
      twiml.redirect({ method: 'POST' }, connectUrl(config, entered.queue.name, entered.agent.id));
      return twiml;
    }
    // A caller back in the queue keeps their place: what they waited and who was ahead go to the wait document.
    addEnqueue(twiml, config, waitSettings(entered.queue, entered.seconds_per_caller, { waited: entered.waited_seconds, ahead: entered.position - 1 }));
    return twiml;
  },
  (config, params) => {
    if (!config) return unavailableTwiml(null);
    const twiml = new twilio.twiml.VoiceResponse();
    const queue = params['queue'] && QUEUE_NAME.test(params['queue']) ? params['queue'] : DEFAULT_QUEUE;
    addVoicemail(twiml, config, { queue });
    return twiml;
  },
);
