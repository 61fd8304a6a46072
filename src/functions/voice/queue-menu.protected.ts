/**
 * /voice/queue-menu?queue=<name> — the menu after the max wait (on_max_wait 'both'): the
 * callback key schedules the callback (a lead of the queue's callback campaign, due now) and
 * confirms it; anything else is the queue's voicemail. Database down: the voicemail.
 */
import twilio from 'twilio';
import { DEFAULT_QUEUE, leaveTwiml, QUEUE_NAME, type LeaveDecision } from '../../lib/domain/queue';
import { addVoicemail } from '../../lib/domain/twiml';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { gatherParams, parseParams } from '../../lib/runtime/params';

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const p = parseParams(gatherParams, params);
    const d = unwrap(await db.rpc<LeaveDecision>('queue_menu_choice', { p_call_sid: p.CallSid, p_digits: (p.Digits ?? '').slice(0, 1) }));
    return leaveTwiml(config, { ...d, queue: d.queue ?? (QUEUE_NAME.test(params['queue'] ?? '') ? params['queue']! : DEFAULT_QUEUE) });
  },
  (config, params) => {
    const twiml = new twilio.twiml.VoiceResponse();
    if (!config) return twiml;
    addVoicemail(twiml, config, { queue: params['queue'] && QUEUE_NAME.test(params['queue']) ? params['queue'] : DEFAULT_QUEUE });
    return twiml;
  },
);
