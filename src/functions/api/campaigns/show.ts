/** GET|POST /api/campaigns/show {campaign_id} — a campaign's settings, agents, usable caller IDs, lead counts and holidays ahead (supervisors, admins). */
import { z } from 'zod';
import type { CampaignShow } from '../../../lib/domain/campaigns';
import { campaignFunction, campaignId, parseWith, unwrapCampaign } from '../../../lib/domain/campaigns-api';

const body = z.object({ campaign_id: campaignId });

export const handler = campaignFunction({}, async ({ db }, fields) => {
  const b = parseWith(body, fields);
  return unwrapCampaign(await db.rpc<CampaignShow>('campaign_show', { p_campaign_id: b.campaign_id, p_name: null }));
});
