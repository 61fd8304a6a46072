/**
 * GET /api/agent/state — the agent page's poll (every few seconds), in one database round
 * trip: the session check, the presence heartbeat, an expired wrap-up ended, stale agents
 * swept, and the agent's state (offer, current call with lead and history, waiting
 * customers, voicemails, missed calls).
 */
import { pollResult, type AgentStateResponse, type PollAnswer } from '../../../lib/domain/agents';
import { apiFunction } from '../../../lib/runtime/api';
import { unwrap } from '../../../lib/runtime/db';

export const handler = apiFunction(
  { roles: ['agent'], session: 'token-only' },
  async ({ config, db, tokenHash }): Promise<AgentStateResponse> =>
    pollResult(
      unwrap(
        await db.rpc<PollAnswer>('agent_poll', {
          p_token_hash: tokenHash,
          p_idle_seconds: config.SESSION_IDLE_MINUTES * 60,
          p_presence_seconds: config.AGENT_PRESENCE_SECONDS,
        }),
      ),
    ),
);
