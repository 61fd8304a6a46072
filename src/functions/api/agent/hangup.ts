/**
 * POST /api/agent/hangup {call_sid} — ends the agent's current customer call (the shift leg
 * stays in the room). 409 conflict when call_sid is not the call the agent is on.
 */
import type twilio from 'twilio';
import { hangUpCustomer } from '../../../lib/domain/agent-calls';
import { apiFunction } from '../../../lib/runtime/api';
import { twilioClientOptions } from '../../../lib/runtime/twilio-client';
import { text } from '../../../lib/runtime/validate';

const callSid = () => text({ pattern: /^CA[0-9a-f]{32}$/, message: 'must be CA followed by 32 hex characters' });

export const handler = apiFunction({ roles: ['agent'], body: { call_sid: callSid() } }, async ({ config, db, session, body, context }) => {
  // The runtime types name an older twilio package; the object is this project's twilio client.
  const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
  return hangUpCustomer({ config, db, twilio: client }, session!.user.agent_id!, body.call_sid);
});
