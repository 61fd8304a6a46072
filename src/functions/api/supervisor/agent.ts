/**
 * POST /api/supervisor/agent {agent_id, status: paused|offline, reason?} — forces an agent to
 * paused (reason: free text up to 60 characters; default "Pausado pelo supervisor") or offline,
 * through agent_transition with source 'supervisor'. The agent's page shows it on its next
 * poll; the agent may choose again afterwards. Offline also hangs up the agent's shift leg, so
 * the room closes (the page connects a new one when the agent goes available again). An agent
 * reserved for or talking to a customer is refused 409 agent_busy (nothing cuts a live call;
 * the supervisor tries again after it). Answers {agent: {id, status, pause_reason}}. 404
 * not_found. Logged.
 */
import type twilio from 'twilio';
import { DEFAULT_SUPERVISOR_PAUSE_REASON, isGone, positiveId, rawField, rpc, rpcOrRefuse, supervisorFunction, twilioFailure } from '../../../lib/domain/supervisor';
import { HttpError } from '../../../lib/runtime/http';
import { twilioClientOptions } from '../../../lib/runtime/twilio-client';
import { oneOf, text } from '../../../lib/runtime/validate';


const body = {
  agent_id: positiveId(),
  status: oneOf(['paused', 'offline'] as const),
  reason: text({ min: 1, max: 60 }).optional(),
};

export const handler = supervisorFunction(
  { action: 'agent_status', body, targetOf: (e) => `agent:${rawField(e, 'agent_id')}` },
  async ({ config, context, db, body: b, actor }) => {
    const reason = b.status === 'paused' ? (b.reason?.trim() || DEFAULT_SUPERVISOR_PAUSE_REASON) : null;
    if (b.status === 'offline' && b.reason !== undefined) throw new HttpError(400, 'bad_request', 'invalid body: a reason is only given with paused');
    const out = await rpcOrRefuse<{ agent: { id: number; status: string; pause_reason: string | null }; hang_up: string | null }>(db, 'supervisor_agent_status', {
      p_actor: actor, p_agent_id: b.agent_id, p_status: b.status, p_reason: reason,
    });
    if (out.hang_up) {
      // Offline closes the agent's room: the shift leg is hung up (Calls update Status=completed).
      // The agent is offline already; a failure is logged and the leg ends with the page.
      // The runtime types name an older twilio package; the object is this project's twilio client.
      const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
      await client.calls(out.hang_up).update({ status: 'completed' }).catch((e: unknown) => {
        if (!isGone(e)) console.error(`[discador] shift leg ${out.hang_up} of agent ${b.agent_id} not hung up: ${twilioFailure(e).message}`);
      });
    }
    return { agent: out.agent };
  },
);
