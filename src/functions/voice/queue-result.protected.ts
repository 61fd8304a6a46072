/**
 * /voice/queue-result?queue=<name> — the Enqueue action of a service queue: the caller left
 * the wait, and Twilio's QueueResult says how (queue_leave): hangup → abandoned in the queue
 * (nothing to say); redirected/bridged → handed to an agent (nothing here); leave → the key
 * the caller pressed (the queue's voicemail, or the callback confirmation) or the max wait
 * (the queue's on_max_wait: voicemail, callback, or a menu of both); error → voicemail.
 * Database down: the queue's voicemail, unless the caller hung up or was handed over.
 */
import twilio from 'twilio';
import { DEFAULT_QUEUE, leaveTwiml, QUEUE_NAME, type LeaveDecision } from '../../lib/domain/queue';
import { addVoicemail } from '../../lib/domain/twiml';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { actionParams, parseParams } from '../../lib/runtime/params';
import { text } from '../../lib/runtime/validate';

const resultParams = { ...actionParams, QueueResult: text({ max: 40 }).orElse('error') };
const NOTHING_TO_DO = new Set(['hangup', 'bridged', 'bridging-in-process', 'redirected', 'redirected-from-bridged']);

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const p = parseParams(resultParams, params);
    if (!p.CallSid) throw new Error('Enqueue action without a CallSid');
    const d = unwrap(
      await db.rpc<LeaveDecision & { callback_key?: string; voicemail_key?: string }>('queue_leave', { p_call_sid: p.CallSid, p_result: p.QueueResult }),
    );
    return leaveTwiml(config, d, { cb: d.callback_key ?? '1', vm: d.voicemail_key ?? '2' });
  },
  (config, params) => {
    const twiml = new twilio.twiml.VoiceResponse();
    if (!config || NOTHING_TO_DO.has(params['QueueResult'] ?? '')) return twiml;
    const queue = params['queue'] && QUEUE_NAME.test(params['queue']) ? params['queue'] : DEFAULT_QUEUE;
    addVoicemail(twiml, config, { queue });
    return twiml;
  },
);
