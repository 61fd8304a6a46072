/**
 * /voice/agent-session — the TwiML App's voice URL: the agent page's softphone calls it
 * (`device.connect()`, From=client:<identity>) to start the shift leg. The leg is recorded as
 * the agent's shift (agents.shift_call_sid) and waits in the agent's room, the conference
 * agent-<id>, where customers join it. An identity that is not an enabled agent hears why and
 * the leg ends.
 */
import { voiceFunction } from '../../lib/runtime/handler';
import { MESSAGES } from '../../lib/domain/messages';
import { unwrap } from '../../lib/runtime/db';
import { addShiftLeg, refuseLeg } from '../../lib/domain/rooms';
import { parseParams, voiceParams } from '../../lib/runtime/params';
import twilio from 'twilio';

/** The softphone identity of a `client:<identity>` party, else null. */
export function clientIdentity(from: string | undefined): string | null {
  const m = from === undefined ? null : /^client:([A-Za-z0-9_.-]{1,120})$/.exec(from);
  return m ? m[1]! : null;
}

export const handler = voiceFunction(
  async ({ config, params, db }) => {
    const call = parseParams(voiceParams, params);
    const identity = clientIdentity(call.From);
    if (!identity) return refuseLeg(config, MESSAGES.agentSessionRefused);
    const agent = unwrap(await db.rpc<{ id: number } | null>('agent_shift_started', { p_agent_identity: identity, p_call_sid: call.CallSid }));
    if (!agent) return refuseLeg(config, MESSAGES.agentSessionRefused);
    const twiml = new twilio.twiml.VoiceResponse();
    addShiftLeg(twiml, config, agent.id);
    return twiml;
  },
  // Without the database the leg cannot be tied to an agent, and no customer could be routed to it.
  (config) => refuseLeg(config, MESSAGES.unavailable),
);
