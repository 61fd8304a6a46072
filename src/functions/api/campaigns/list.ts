/** GET|POST /api/campaigns/list — every campaign with its status, agents and lead counts (supervisors, admins). Answers {campaigns}. */
import type { CampaignListItem } from '../../../lib/domain/campaigns';
import { campaignFunction, unwrapCampaign } from '../../../lib/domain/campaigns-api';

export const handler = campaignFunction({}, async ({ db }) => ({ campaigns: unwrapCampaign(await db.rpc<CampaignListItem[]>('campaign_list', {})) }));
