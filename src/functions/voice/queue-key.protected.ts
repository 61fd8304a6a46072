/**
 * /voice/queue-key — the wait document's Gather action: a key pressed while waiting. The
 * queue's callback key (when it offers callbacks) or voicemail key is noted as the caller's
 * choice and the caller leaves the queue (`<Leave>`: the Enqueue action carries it out); any
 * other key, or a caller already being handed to an agent, keeps waiting (an empty document:
 * Twilio fetches the wait URL again). Runs in the wait's context, so only wait verbs.
 * Database down: the caller leaves for the queue's voicemail (the action's own fallback).
 */
import twilio from 'twilio';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { gatherParams, parseParams } from '../../lib/runtime/params';

export const handler = voiceFunction(
  async ({ params, db }) => {
    const p = parseParams(gatherParams, params);
    const twiml = new twilio.twiml.VoiceResponse();
    const digits = (p.Digits ?? '').slice(0, 1);
    if (!/^[0-9]$/.test(digits)) return twiml;
    const key = unwrap(await db.rpc<{ choice: 'callback' | 'voicemail' | null }>('queue_key', { p_call_sid: p.CallSid, p_digits: digits }));
    if (key.choice) twiml.leave();
    return twiml;
  },
  () => {
    const twiml = new twilio.twiml.VoiceResponse();
    twiml.leave();
    return twiml;
  },
);
