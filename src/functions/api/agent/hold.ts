/**
 * POST /api/agent/hold {call_sid, hold} — holds (hold music) or releases the customer in the
 * agent's room. 409 conflict when call_sid is not the customer in the agent's room.
 */
import type twilio from 'twilio';
import { holdCustomer } from '../../../lib/domain/agent-calls';
import { apiFunction, bool } from '../../../lib/runtime/api';
import { twilioClientOptions } from '../../../lib/runtime/twilio-client';
import { text } from '../../../lib/runtime/validate';

const callSid = () => text({ pattern: /^CA[0-9a-f]{32}$/, message: 'must be CA followed by 32 hex characters' });

export const handler = apiFunction({ roles: ['agent'], body: { call_sid: callSid(), hold: bool() } }, async ({ config, db, session, body, context }) => {
  // The runtime types name an older twilio package; the object is this project's twilio client.
  const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
  return holdCustomer({ config, db, twilio: client }, session!.user.agent_id!, body.call_sid, body.hold);
});
