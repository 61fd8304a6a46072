/**
 * POST /api/agent/disposition {call_sid, code, notes?, callback_at?} — the outcome of a call
 * the agent was on; a second one for the same call replaces the first. The list that applies
 * is the call's campaign's (campaigns.dispositions), else DISPOSITION_CODES with their default
 * outcomes (lib/domain/outcomes). It ends the agent's wrap-up of that call and sets the lead:
 * done, retry, a callback to this agent at callback_at, opted out (the number joins the
 * opt-out list), or invalid. Answers {disposition}; refusals change nothing: 404 not_found (not
 * this agent's call), 400 bad_request (code not in the list, a callback without a future
 * callback_at, callback_at not a date-time with a zone, in the past or beyond a year).
 * Then a pacing round for the agent's campaign runs, before the answer (its failure never
 * fails the request).
 */
import type twilio from 'twilio';
import { eventDeps, tickForAgent } from '../../../lib/domain/dialer/tick';
import { MAX_DISPOSITION_NOTES, parseCallbackAt, unwrapAgent, type AgentDispositionResponse } from '../../../lib/domain/agents';
import { deploymentDispositions, dispositionRefusal, type DispositionRefusal } from '../../../lib/domain/outcomes';
import { ApiError, apiFunction } from '../../../lib/runtime/api';
import { twilioClientOptions } from '../../../lib/runtime/twilio-client';
import { text } from '../../../lib/runtime/validate';

type Answer = AgentDispositionResponse['disposition'] | { refused: DispositionRefusal; codes?: string[] };

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
    let callbackAt: string | null = null;
    if (body.callback_at !== undefined) {
      // Only the form and the calendar are checked here (the date itself stands for "now"):
      // past and too far are judged by the database against its own clock.
      const parsed = parseCallbackAt(body.callback_at, Date.parse(body.callback_at));
      if (!parsed.ok) throw new ApiError(400, 'bad_request', `callback_at ${parsed.problem}`);
      callbackAt = parsed.value;
    }
    const answer = unwrapAgent(
      await db.rpc<Answer>('agent_set_disposition', {
        p_agent_id: session!.user.agent_id,
        p_user_id: session!.user.id,
        p_call_sid: body.call_sid,
        p_code: body.code,
        p_notes: body.notes?.trim() || null,
        p_callback_at: callbackAt,
        p_dispositions: deploymentDispositions(config).map(({ code, outcome }) => ({ code, outcome })),
      }),
    );
    if ('refused' in answer) throw dispositionRefusal(answer.refused, answer.codes ?? []);
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const deps = eventDeps(db, config, () => context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio);
    await tickForAgent(deps, 'wrap_up', session!.user.agent_id);
    return { disposition: answer };
  },
);
