/**
 * POST /api/agent/disposition {call_sid, code, notes?, callback_at?} — the outcome of a call
 * the agent was on (code from DISPOSITION_CODES); a second one for the same call replaces
 * the first. Answers {disposition}; a call that was not this agent's is 404 not_found. A
 * disposition may end the agent's wrap-up: a pacing round for the agent's campaign runs before
 * the answer (its failure never fails the request).
 */
import type twilio from 'twilio';
import { eventDeps, tickForAgent } from '../../../lib/domain/dialer/tick';
import { MAX_DISPOSITION_NOTES, parseCallbackAt, unwrapAgent, type AgentDispositionResponse } from '../../../lib/domain/agents';
import { ApiError, apiFunction } from '../../../lib/runtime/api';
import { dispositionCodes } from '../../../lib/runtime/config';
import { twilioClientOptions } from '../../../lib/runtime/twilio-client';
import { text } from '../../../lib/runtime/validate';

export const handler = apiFunction(
  {
    roles: ['agent'],
    body: {
      call_sid: text({ pattern: /^CA[0-9a-f]{32}$/, message: 'must be CA followed by 32 hex characters' }),
      code: text({ max: 40 }),
      notes: text({ min: 0, max: MAX_DISPOSITION_NOTES }).optional(),
      callback_at: text({ max: 40 }).optional(),
    },
  },
  async ({ config, db, session, body, context }): Promise<AgentDispositionResponse> => {
    const codes = dispositionCodes(config);
    if (!codes.includes(body.code)) throw new ApiError(400, 'bad_request', `code must be one of ${codes.join(', ')}`);
    let callbackAt: string | null = null;
    if (body.callback_at !== undefined) {
      const parsed = parseCallbackAt(body.callback_at);
      if (!parsed.ok) throw new ApiError(400, 'bad_request', `callback_at ${parsed.problem}`);
      callbackAt = parsed.value;
    }
    const disposition = unwrapAgent(
      await db.rpc<AgentDispositionResponse['disposition']>('agent_set_disposition', {
        p_agent_id: session!.user.agent_id,
        p_user_id: session!.user.id,
        p_call_sid: body.call_sid,
        p_code: body.code,
        p_notes: body.notes?.trim() || null,
        p_callback_at: callbackAt,
      }),
    );
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const deps = eventDeps(db, config, () => context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio);
    await tickForAgent(deps, 'wrap_up', session!.user.agent_id);
    return { disposition };
  },
);
