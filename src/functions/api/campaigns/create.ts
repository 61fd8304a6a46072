/**
 * POST /api/campaigns/create {settings} — creates a campaign in draft from its settings
 * (column names; name required; see docs/campaigns.md), checked by the schema the CLI uses
 * and again in SQL. Answers {campaign}; 400 invalid_settings, 409 window_never_opens or
 * campaign_name_taken.
 */
import { checkSettings, type CampaignRow } from '../../../lib/domain/campaigns';
import { campaignFunction, settingsOf, unwrapCampaign } from '../../../lib/domain/campaigns-api';
import { HttpError } from '../../../lib/runtime/http';

export const handler = campaignFunction({}, async ({ db }, fields) => {
  const checked = checkSettings(settingsOf(fields, ['settings']), 'create');
  if (!checked.ok) throw new HttpError(checked.code === 'window_never_opens' ? 409 : 400, checked.code, checked.problems.join('; '));
  return { campaign: unwrapCampaign(await db.rpc<CampaignRow>('campaign_create', { p_settings: checked.settings })) };
});
