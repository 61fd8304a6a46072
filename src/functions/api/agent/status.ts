/**
 * POST /api/agent/status {status, reason?} — the agent chooses available, paused (with a
 * reason from AGENT_PAUSE_REASONS) or offline. Reserved or busy agents are refused with 409
 * agent_busy, except that a reserved agent may go offline: the offer is dropped and a customer
 * waiting in the agent's queue is sent to the agent's voicemail at once (Calls update Url, as
 * the answer moves them to the room); a caller handed over from a service queue goes back to
 * that queue in their place instead (queue_release_offer), never to this agent's voicemail. Should that request fail, the offer's ring timeout still
 * takes them to voicemail. Answers {agent}. A status change moves the agent's campaign's
 * capacity: a pacing round for it runs before the answer (its failure never fails the request).
 */
import type twilio from 'twilio';
import { dispatchForAgent, eventDeps, tickForAgent } from '../../../lib/domain/dialer/tick';
import { queueUrl } from '../../../lib/domain/queue';
import { statusRequestProblem, unwrapAgent, type AgentStatusResponse, type AgentView } from '../../../lib/domain/agents';
import { ApiError, apiFunction } from '../../../lib/runtime/api';
import { pauseReasons, urlFor } from '../../../lib/runtime/config';
import { twilioClientOptions } from '../../../lib/runtime/twilio-client';
import { text } from '../../../lib/runtime/validate';

export const handler = apiFunction(
  { roles: ['agent'], body: { status: text({ max: 40 }), reason: text({ max: 200 }).optional() } },
  async ({ config, db, session, body, context }): Promise<AgentStatusResponse> => {
    const allowed = pauseReasons(config);
    const problem = statusRequestProblem(body.status, body.reason, allowed);
    if (problem) throw new ApiError(400, 'bad_request', problem);
    const { released_offer: released, ...agent } = unwrapAgent(
      await db.rpc<AgentView & { released_offer?: string }>('agent_set_status', {
        p_agent_id: session!.user.agent_id,
        p_status: body.status,
        p_reason: body.reason?.trim() || null,
        p_by: session!.user.id,
        p_allowed_reasons: allowed,
        p_presence_seconds: config.AGENT_PRESENCE_SECONDS,
      }),
    );
    if (released) {
      // The runtime types name an older twilio package; the object is this project's twilio client.
      const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
      try {
        // A service-queue caller goes back to their queue, in their place; anyone else to the agent's voicemail.
        const requeued = await db.rpc<{ queue: string } | null>('queue_release_offer', { p_call_sid: released });
        if (requeued.error) console.error(`[discador] offered call ${released} not checked against the queue: ${requeued.error.message}`);
        const url = requeued.data?.queue
          ? queueUrl(config, requeued.data.queue)
          : urlFor(config, `/voice/voicemail?agent=${session!.user.agent_id}`);
        await client.calls(released).update({ url, method: 'POST' });
      } catch (e) {
        console.error(`[discador] offered call ${released} not sent to voicemail: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const deps = eventDeps(db, config, () => context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio);
    // agent_view names the agent's campaign; an inbound-only agent (null) has no round to start,
    // but may take a caller waiting in a service queue.
    if ((agent as { campaign_id?: number | null }).campaign_id !== null) await tickForAgent(deps, 'agent_status', agent.id);
    else await dispatchForAgent(deps, agent.id);
    return { agent };
  },
);
