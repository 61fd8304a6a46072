/**
 * POST /api/campaigns/update {campaign_id, settings} — changes the settings named (the others
 * stay; retry_rules merge by outcome). Answers {campaign}; 400 invalid_settings, 404
 * campaign_not_found, 409 window_never_opens, campaign_finished or campaign_name_taken.
 */
import { checkSettings, type CampaignRow } from '../../../lib/domain/campaigns';
import { campaignFunction, campaignIdOf, settingsOf, unwrapCampaign } from '../../../lib/domain/campaigns-api';
import { HttpError } from '../../../lib/runtime/http';

export const handler = campaignFunction({}, async ({ db }, fields) => {
  const id = campaignIdOf(fields);
  const checked = checkSettings(settingsOf(fields, ['campaign_id', 'settings']), 'update');
  if (!checked.ok) throw new HttpError(checked.code === 'window_never_opens' ? 409 : 400, checked.code, checked.problems.join('; '));
  return { campaign: unwrapCampaign(await db.rpc<CampaignRow>('campaign_update', { p_campaign_id: id, p_settings: checked.settings })) };
});
