/**
 * GET /api/agent/state — the agent page's poll (every few seconds), in one database round
 * trip: the session check, the presence heartbeat, an expired wrap-up ended, stale agents
 * swept, and the agent's state (offer, current call with lead and history, waiting
 * customers, voicemails, missed calls). The polls double as a heartbeat of the pacer: a
 * poll starts a pacing round for the agent's running campaign at most every
 * TICK_POLL_MIN_SECONDS (one poll of the whole team wins); its failure never fails the poll.
 */
import type twilio from 'twilio';
import { pollResult, type AgentStateResponse, type PollAnswer } from '../../../lib/domain/agents';
import { dispatchForAgent, eventDeps, tickForAgent } from '../../../lib/domain/dialer/tick';
import { apiFunction } from '../../../lib/runtime/api';
import { unwrap } from '../../../lib/runtime/db';
import { twilioClientOptions } from '../../../lib/runtime/twilio-client';

export const handler = apiFunction(
  { roles: ['agent'], session: 'token-only' },
  async ({ config, db, tokenHash, context }): Promise<AgentStateResponse> => {
    const state = pollResult(
      unwrap(
        await db.rpc<PollAnswer>('agent_poll', {
          p_token_hash: tokenHash,
          p_idle_seconds: config.SESSION_IDLE_MINUTES * 60,
          p_presence_seconds: config.AGENT_PRESENCE_SECONDS,
        }),
      ),
    );
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const deps = eventDeps(db, config, () => context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio);
    // agent_view names the agent's campaign; an inbound-only agent (null) has no round to start,
    // but may take a caller waiting in a service queue (e.g. their wrap-up just ended).
    if ((state.agent as { campaign_id?: number | null }).campaign_id !== null) await tickForAgent(deps, 'poll', state.agent.id, config.TICK_POLL_MIN_SECONDS);
    else await dispatchForAgent(deps, state.agent.id);
    return state;
  },
);
