/**
 * POST /api/agent/status {status, reason?} — the agent chooses available, paused (with a
 * reason from AGENT_PAUSE_REASONS) or offline. Reserved or busy agents are refused with 409
 * agent_busy (a reserved agent may still go offline). Answers {agent}.
 */
import { statusRequestProblem, unwrapAgent, type AgentStatusResponse, type AgentView } from '../../../lib/domain/agents';
import { ApiError, apiFunction } from '../../../lib/runtime/api';
import { pauseReasons } from '../../../lib/runtime/config';
import { text } from '../../../lib/runtime/validate';

export const handler = apiFunction(
  { roles: ['agent'], body: { status: text({ max: 40 }), reason: text({ max: 200 }).optional() } },
  async ({ config, db, session, body }): Promise<AgentStatusResponse> => {
    const allowed = pauseReasons(config);
    const problem = statusRequestProblem(body.status, body.reason, allowed);
    if (problem) throw new ApiError(400, 'bad_request', problem);
    const agent = unwrapAgent(
      await db.rpc<AgentView>('agent_set_status', {
        p_agent_id: session!.user.agent_id,
        p_status: body.status,
        p_reason: body.reason?.trim() || null,
        p_by: session!.user.id,
        p_allowed_reasons: allowed,
        p_presence_seconds: config.AGENT_PRESENCE_SECONDS,
      }),
    );
    return { agent };
  },
);
