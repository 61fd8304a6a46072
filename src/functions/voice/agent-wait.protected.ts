/**
 * /voice/agent-wait?agent=<id> — an offered customer's wait in the agent's queue.
 * As the `<Enqueue waitUrl>`: marks the customer as waiting (from then on the agent's answer
 * may move them: never during the disclaimer), then ringback until AGENT_RING_TIMEOUT (Twilio's
 * QueueTime) and `<Leave>`; without the database the ringback plays all the same. As the Enqueue action (`&step=result`): the wait gave up
 * (QueueResult leave/error) → the offer is released (the agent is available again and the
 * call counts as missed) and the caller leaves a voicemail; the caller hung up → the offer is
 * released; the agent answered (the call was redirected into the room) → nothing.
 */
import twilio from 'twilio';
import { voiceEvent } from '../../lib/domain/call-events';
import { voiceFunction } from '../../lib/runtime/handler';
import { unwrap } from '../../lib/runtime/db';
import { addVoicemail } from '../../lib/domain/twiml';
import { offerEnd, offerWaitTwiml } from '../../lib/domain/rooms';
import { parseParams, voiceParams } from '../../lib/runtime/params';
import { int, oneOf, text } from '../../lib/runtime/validate';

const waitParams = {
  ...voiceParams,
  agent: int(1, Number.MAX_SAFE_INTEGER).orElse(undefined),
  QueueTime: int(0, 86_400).orElse(0),
  QueueResult: text({ max: 40 }).orElse(undefined),
  step: oneOf(['result'] as const).orElse(undefined),
};

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const p = parseParams(waitParams, params);
    if (p.step !== 'result') {
      // The answer may now move the customer (never while the disclaimer plays). The ringback
      // does not depend on it: a database blip must not send a waiting customer away.
      const waiting = await db.rpc('agent_offer_waiting', { p_event: { ...voiceEvent(p, params), call_status: 'in-progress' } }).catch((e: unknown) => ({
        error: { message: e instanceof Error ? e.message : String(e) },
      }));
      if (waiting.error) console.error(`[discador] offer of call ${p.CallSid} not marked waiting: ${waiting.error.message}`);
      return offerWaitTwiml(config, p.QueueTime);
    }
    const end = offerEnd(p.QueueResult);
    const twiml = new twilio.twiml.VoiceResponse();
    if (end === 'done') return twiml;
    unwrap(await db.rpc('agent_customer_left', { p_call_sid: p.CallSid, p_wrap_up_seconds: config.WRAP_UP_SECONDS, p_offer_only: true }));
    if (end === 'voicemail') addVoicemail(twiml, config, p.agent === undefined ? {} : { agentId: p.agent });
    return twiml;
  },
  // The wait document needs no database; the action without it still takes the message (the
  // call's final status callback releases the agent).
  (config, params) => {
    const twiml = new twilio.twiml.VoiceResponse();
    const agent = /^[1-9][0-9]{0,15}$/.test(params['agent'] ?? '') ? Number(params['agent']) : undefined;
    if (params['step'] !== 'result') twiml.leave();
    else if (config && offerEnd(params['QueueResult']) === 'voicemail') addVoicemail(twiml, config, agent === undefined ? {} : { agentId: agent });
    return twiml;
  },
);
