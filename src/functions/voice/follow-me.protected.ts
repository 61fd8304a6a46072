/**
 * /voice/follow-me?agent=<id>&hop=softphone|mobile — the Dial action of a follow-me hop
 * (docs/follow-me.md). The hop's outcome (DialCallStatus: answered, no-answer, busy, failed,
 * canceled) is logged on the caller's call in one round trip that also reads the agent's chain;
 * an answered hop ends the call (the caller and the agent have talked), a caller who hung up
 * gets nothing more, any other outcome moves to the next hop: the mobile with screening, then
 * the agent's voicemail or the service queue.
 * Database down: the agent's voicemail (the chain cannot be read; a message is never lost).
 */
import twilio from 'twilio';
import { voiceEvent } from '../../lib/domain/call-events';
import { addFollowMeStep, HOP_KINDS, hopOutcome, type FollowMeChain } from '../../lib/domain/follow-me';
import { addVoicemail, unavailableTwiml } from '../../lib/domain/twiml';
import { unwrap } from '../../lib/runtime/db';
import { voiceFunction } from '../../lib/runtime/handler';
import { parseParams, voiceParams } from '../../lib/runtime/params';
import { int, oneOf, text } from '../../lib/runtime/validate';

const hopParams = {
  ...voiceParams,
  agent: int(1, Number.MAX_SAFE_INTEGER),
  hop: oneOf(HOP_KINDS),
  DialCallStatus: text({ max: 40 }).orElse(undefined),
};

/** The caller is gone (hung up while a hop rang): nothing more to say. */
function callerGone(callStatus: string | undefined): boolean {
  return callStatus === 'completed' || callStatus === 'canceled' || callStatus === 'busy' || callStatus === 'no-answer' || callStatus === 'failed';
}

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const p = parseParams(hopParams, params);
    const outcome = hopOutcome(p.DialCallStatus);
    const r = unwrap(
      await db.rpc<{ chain: FollowMeChain | null }>('follow_me_hop_ended', {
        p_event: voiceEvent(p, params),
        p_agent_id: p.agent,
        p_hop: p.hop,
        p_outcome: outcome,
      }),
    );
    const twiml = new twilio.twiml.VoiceResponse();
    if (outcome === 'answered') {
      twiml.hangup();
      return twiml;
    }
    if (callerGone(p.CallStatus)) return twiml;
    if (r.chain) addFollowMeStep(twiml, config, r.chain, p.hop);
    else addVoicemail(twiml, config, { agentId: p.agent });
    return twiml;
  },
  (config, params) => {
    if (!config) return unavailableTwiml(null);
    const twiml = new twilio.twiml.VoiceResponse();
    if (hopOutcome(params['DialCallStatus']) === 'answered') {
      twiml.hangup();
      return twiml;
    }
    const agent = /^[1-9][0-9]{0,15}$/.test(params['agent'] ?? '') ? Number(params['agent']) : undefined;
    addVoicemail(twiml, config, agent === undefined ? {} : { agentId: agent });
    return twiml;
  },
);
