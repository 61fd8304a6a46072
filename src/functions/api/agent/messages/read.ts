/**
 * POST /api/agent/messages/read {id} — the agent marks a text message read: one sent to their
 * number, or to a number nobody owns (the team's). Reading it again keeps the first time.
 * Answers {id, read_at}; 404 not_found (no such message, an opt-out, or another agent's), and
 * nothing is written.
 */
import { apiFunction, NotFound } from '../../../../lib/runtime/api';
import { unwrap } from '../../../../lib/runtime/db';
import { text } from '../../../../lib/runtime/validate';
import type { AgentMessageReadResponse } from '../../../../lib/domain/agents';

export const handler = apiFunction(
  { roles: ['agent'], body: { id: text({ pattern: /^[1-9][0-9]{0,17}$/, message: 'must be a message id (digits)' }) } },
  async ({ db, session, body }): Promise<AgentMessageReadResponse> => {
    const read = unwrap(await db.rpc<AgentMessageReadResponse | null>('agent_message_read', { p_agent_id: session!.user.agent_id, p_message_id: body.id }));
    if (!read) throw new NotFound('no such message for this agent');
    return read;
  },
);
