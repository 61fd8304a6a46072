/**
 * POST /api/supervisor/agent {agent_id, status: paused|offline, reason?} — forces an agent to
 * paused (reason: free text up to 60 characters; default "Pausado pelo supervisor") or offline,
 * through agent_transition with source 'supervisor'. The agent's page shows it on its next
 * poll; the agent may choose again afterwards. An agent reserved for or talking to a customer is
 * refused 409 agent_busy (nothing cuts a live call; the supervisor tries again after it). Answers
 * {agent: {id, status, pause_reason}}. 404 not_found. Logged.
 */
import { DEFAULT_SUPERVISOR_PAUSE_REASON, positiveId, rawField, rpc, rpcOrRefuse, supervisorFunction } from '../../../lib/domain/supervisor';
import { HttpError } from '../../../lib/runtime/http';
import { oneOf, text } from '../../../lib/runtime/validate';


const body = {
  agent_id: positiveId(),
  status: oneOf(['paused', 'offline'] as const),
  reason: text({ min: 1, max: 60 }).optional(),
};

export const handler = supervisorFunction(
  { action: 'agent_status', body, targetOf: (e) => `agent:${rawField(e, 'agent_id')}` },
  async ({ db, body: b, actor }) => {
    const reason = b.status === 'paused' ? (b.reason?.trim() || DEFAULT_SUPERVISOR_PAUSE_REASON) : null;
    if (b.status === 'offline' && b.reason !== undefined) throw new HttpError(400, 'bad_request', 'invalid body: a reason is only given with paused');
    return await rpcOrRefuse<{ agent: { id: number; status: string; pause_reason: string | null } }>(db, 'supervisor_agent_status', {
      p_actor: actor, p_agent_id: b.agent_id, p_status: b.status, p_reason: reason,
    });
  },
);
