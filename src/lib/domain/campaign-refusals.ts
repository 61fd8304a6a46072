/**
 * The refusals of the campaign SQL functions (supabase/migrations/*_campaigns_leads.sql):
 * each raises `code: detail` with SQLSTATE DC400/DC404/DC409; this turns them into stable
 * codes, HTTP statuses and words. Apart from the settings schema so that the functions that
 * only read campaigns load no schema library.
 */

/** Stable codes the campaign SQL functions raise (the message's first word), and their HTTP status. */
export const CAMPAIGN_REFUSALS = {
  invalid_settings: 400,
  invalid_rows: 400,
  invalid_holiday: 400,
  campaign_not_found: 404,
  agent_not_found: 404,
  holiday_not_found: 404,
  campaign_without_agents: 409,
  campaign_without_numbers: 409,
  window_never_opens: 409,
  campaign_finished: 409,
  campaign_name_taken: 409,
} as const;
export type CampaignRefusalCode = keyof typeof CAMPAIGN_REFUSALS;

/** Words for the operator, per code (the SQL detail follows them). */
const REFUSAL_WORDS: Record<CampaignRefusalCode, string> = {
  invalid_settings: 'invalid campaign settings',
  invalid_rows: 'invalid lead rows',
  invalid_holiday: 'invalid holiday',
  campaign_not_found: 'no such campaign',
  agent_not_found: 'no such agent',
  holiday_not_found: 'no such holiday',
  campaign_without_agents: 'the campaign has no agents: assign some with `campaigns assign-agent` first',
  campaign_without_numbers: 'the number pool has no usable caller ID (active, not dedicated to an agent, not spam-flagged)',
  window_never_opens: 'the calling window never opens',
  campaign_finished: 'the campaign is finished',
  campaign_name_taken: 'a campaign with that name already exists',
};

/** The SQLSTATEs of those refusals. */
const REFUSAL_SQLSTATES = new Set(['DC400', 'DC404', 'DC409']);

/** A refusal of the campaign SQL functions, or null when the error is something else. */
export function campaignRefusal(error: { code: string; message: string }): { code: CampaignRefusalCode; status: number; message: string } | null {
  if (!REFUSAL_SQLSTATES.has(error.code)) return null;
  const m = /^([a-z_]+)(?::\s*([\s\S]*))?$/.exec(error.message);
  const code = m?.[1] as CampaignRefusalCode | undefined;
  if (!code || !(code in CAMPAIGN_REFUSALS)) return null;
  const detail = m?.[2]?.trim();
  return { code, status: CAMPAIGN_REFUSALS[code], message: detail ? `${REFUSAL_WORDS[code]}: ${detail}` : REFUSAL_WORDS[code] };
}

