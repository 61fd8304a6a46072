/**
 * POST /api/campaigns/status {campaign_id, action: pause|resume} — stops or starts dialing a
 * campaign. Starting is refused with 409 campaign_without_agents (no active agent assigned)
 * or campaign_without_numbers (no usable caller ID in the pool). Answers {campaign,
 * previous_status, changed}.
 */
import type { CampaignRow } from '../../../lib/domain/campaigns';
import { campaignFunction, campaignIdOf, unwrapCampaign } from '../../../lib/domain/campaigns-api';
import { HttpError } from '../../../lib/runtime/http';

export const handler = campaignFunction({}, async ({ db }, fields) => {
  const id = campaignIdOf(fields);
  const action = fields['action'];
  if (action !== 'pause' && action !== 'resume') throw new HttpError(400, 'bad_request', 'invalid body: action must be pause or resume');
  return unwrapCampaign(
    await db.rpc<{ campaign: CampaignRow; previous_status: string; changed: boolean }>('campaign_set_status', {
      p_campaign_id: id,
      p_status: action === 'resume' ? 'active' : 'paused',
    }),
  );
});
