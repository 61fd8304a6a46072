/**
 * POST /api/agent/call {to} — click-to-call: the agent calls a customer from their own number
 * through the one dialing path (the opt-out list refuses before anything reaches Twilio); the
 * answered customer hears the disclaimer and joins the agent's room. Answers
 * {call_sid, attempt_id, status}; 409 opted_out (no call placed), 409 agent_busy, 409 conflict
 * (no own number), 400 bad_request (not a phone number).
 */
import type twilio from 'twilio';
import { clickToCall } from '../../../lib/domain/agent-calls';
import { apiFunction } from '../../../lib/runtime/api';
import { twilioClientOptions } from '../../../lib/runtime/twilio-client';
import { text } from '../../../lib/runtime/validate';

export const handler = apiFunction({ roles: ['agent'], body: { to: text({ max: 40 }) } }, async ({ config, db, session, body, context }) => {
  // The runtime types name an older twilio package; the object is this project's twilio client.
  const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
  return clickToCall({ config, db, twilio: client }, session!.user.agent_id!, body.to);
});
