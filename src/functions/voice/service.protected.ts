/**
 * /voice/service — the VoiceUrl of a service number (`numbers set-service`). The caller hears
 * the recording disclaimer, then waits in the number's service queue (/voice/queue: straight
 * to a free agent's room when nobody waits longer, else the queue). Opted-out callers get
 * OPT_OUT_INBOUND, as on /voice/inbound: continue (served as anyone), message, or reject.
 * Database down: disclaimer, then the fallback number, else the default queue's voicemail.
 */
import twilio from 'twilio';
import { voiceEvent } from '../../lib/domain/call-events';
import { MESSAGES } from '../../lib/domain/messages';
import { DEFAULT_QUEUE, QUEUE_NAME, queueUrl } from '../../lib/domain/queue';
import { addDial, addDisclaimer, addVoicemail, say, unavailableTwiml } from '../../lib/domain/twiml';
import type { Config } from '../../lib/runtime/config';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { parseParams, voiceParams } from '../../lib/runtime/params';

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const call = parseParams(voiceParams, params);
    const start = unwrap(await db.rpc<{ opted_out: boolean; queue: string }>('service_call_start', { p_event: voiceEvent(call, params) }));
    const twiml = new twilio.twiml.VoiceResponse();
    if (start.opted_out && config.OPT_OUT_INBOUND === 'reject') {
      twiml.reject({ reason: 'rejected' });
      return twiml;
    }
    if (start.opted_out && config.OPT_OUT_INBOUND === 'message') {
      say(twiml, config, MESSAGES.inboundOptedOut);
      twiml.hangup();
      return twiml;
    }
    addDisclaimer(twiml, config);
    // The queue entry is made after the disclaimer, so a hand-over never cuts it short.
    twiml.redirect({ method: 'POST' }, queueUrl(config, QUEUE_NAME.test(start.queue) ? start.queue : DEFAULT_QUEUE));
    return twiml;
  },
  (config: Config | null) => {
    if (!config) return unavailableTwiml(null);
    const twiml = new twilio.twiml.VoiceResponse();
    addDisclaimer(twiml, config);
    if (config.FALLBACK_NUMBER) addDial(twiml, config, { kind: 'number', number: config.FALLBACK_NUMBER }, '/voice/voicemail');
    else addVoicemail(twiml, config, { queue: DEFAULT_QUEUE });
    return twiml;
  },
);
