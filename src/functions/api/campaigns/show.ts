/** GET|POST /api/campaigns/show {campaign_id} — a campaign's settings, agents, usable caller IDs, lead counts and holidays ahead (supervisors, admins). */
import type { CampaignShow } from '../../../lib/domain/campaigns';
import { campaignFunction, campaignIdOf, unwrapCampaign } from '../../../lib/domain/campaigns-api';

export const handler = campaignFunction({}, async ({ db }, fields) =>
  unwrapCampaign(await db.rpc<CampaignShow>('campaign_show', { p_campaign_id: campaignIdOf(fields), p_name: null })),
);
