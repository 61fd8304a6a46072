/**
 * POST /api/campaigns/update {campaign_id, settings} — changes the settings named (the others
 * stay; retry_rules merge by outcome). Answers {campaign}; 400 invalid_settings, 404
 * campaign_not_found, 409 window_never_opens, campaign_finished or campaign_name_taken.
 */
import { z } from 'zod';
import { checkSettings, type CampaignRow } from '../../../lib/domain/campaigns';
import { campaignFunction, campaignId, parseWith, unwrapCampaign } from '../../../lib/domain/campaigns-api';
import { HttpError } from '../../../lib/runtime/http';

const body = z.strictObject({ campaign_id: campaignId, settings: z.record(z.string(), z.unknown()) });

export const handler = campaignFunction({}, async ({ db }, fields) => {
  const b = parseWith(body, fields);
  const checked = checkSettings(b.settings, 'update');
  if (!checked.ok) throw new HttpError(checked.code === 'window_never_opens' ? 409 : 400, checked.code, checked.problems.join('; '));
  return { campaign: unwrapCampaign(await db.rpc<CampaignRow>('campaign_update', { p_campaign_id: b.campaign_id, p_settings: checked.settings })) };
});
