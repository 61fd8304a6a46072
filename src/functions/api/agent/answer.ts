/**
 * POST /api/agent/answer {call_sid} — the agent takes the customer offered to them: the
 * customer leaves the agent's queue for the agent's room. 409 offer_gone when the offer is not
 * this agent's or is over (timed out, the customer hung up).
 */
import type twilio from 'twilio';
import { answerOffer } from '../../../lib/domain/agent-calls';
import { apiFunction } from '../../../lib/runtime/api';
import { twilioClientOptions } from '../../../lib/runtime/twilio-client';
import { text } from '../../../lib/runtime/validate';

const callSid = () => text({ pattern: /^CA[0-9a-f]{32}$/, message: 'must be CA followed by 32 hex characters' });

export const handler = apiFunction({ roles: ['agent'], body: { call_sid: callSid() } }, async ({ config, db, session, body, context }) => {
  // The runtime types name an older twilio package; the object is this project's twilio client.
  const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
  return answerOffer({ config, db, twilio: client }, session!.user.agent_id!, body.call_sid);
});
