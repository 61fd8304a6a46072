/**
 * POST /api/campaigns/status {campaign_id, action: pause|resume} — stops or starts dialing a
 * campaign. Starting is refused with 409 campaign_without_agents (no active agent assigned)
 * or campaign_without_numbers (no usable caller ID in the pool). Answers {campaign,
 * previous_status, changed}.
 */
import { z } from 'zod';
import type { CampaignRow } from '../../../lib/domain/campaigns';
import { campaignFunction, campaignId, parseWith, unwrapCampaign } from '../../../lib/domain/campaigns-api';

const body = z.strictObject({ campaign_id: campaignId, action: z.enum(['pause', 'resume']) });

export const handler = campaignFunction({}, async ({ db }, fields) => {
  const b = parseWith(body, fields);
  return unwrapCampaign(
    await db.rpc<{ campaign: CampaignRow; previous_status: string; changed: boolean }>('campaign_set_status', {
      p_campaign_id: b.campaign_id,
      p_status: b.action === 'resume' ? 'active' : 'paused',
    }),
  );
});
