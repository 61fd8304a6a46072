/**
 * POST /api/agent/preview {action, lead_id?} — preview mode, for an agent whose campaign
 * (agents.campaign_id) dials in preview mode:
 *   next  → {lead}: the lead on the agent's card (claimed for them alone when they have none;
 *           null when no lead can be called now)
 *   dial  → {call_sid, attempt_id, lead_id}: calls the lead on the card, the agent reserved
 *   skip  → {skipped}: the lead goes back to pending, not offered again for a while
 * lead_id, when given, must be the lead on the card. Refusals change nothing: 409
 * not_preview_campaign, campaign_not_running, agent_busy, opted_out, conflict (no such lead on
 * the card, no caller ID); 502 twilio_refused.
 */
import type twilio from 'twilio';
import { previewDial, previewNext, previewSkip } from '../../../lib/domain/outcomes';
import { apiFunction } from '../../../lib/runtime/api';
import { twilioClientOptions } from '../../../lib/runtime/twilio-client';
import { oneOf, text } from '../../../lib/runtime/validate';

export const handler = apiFunction(
  {
    roles: ['agent'],
    body: {
      action: oneOf(['next', 'dial', 'skip'] as const),
      lead_id: text({ pattern: /^[1-9][0-9]{0,17}$/, message: 'must be a lead id' }).optional(),
    },
  },
  async ({ config, db, session, body, context }) => {
    const agentId = session!.user.agent_id!;
    const leadId = body.lead_id === undefined ? undefined : Number(body.lead_id);
    switch (body.action) {
      case 'next':
        return previewNext({ db, config }, agentId);
      case 'skip':
        return previewSkip({ db, config }, agentId, leadId);
      case 'dial': {
        // The runtime types name an older twilio package; the object is this project's twilio client.
        const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
        return previewDial({ db, config, twilio: client }, agentId, leadId);
      }
    }
  },
);
