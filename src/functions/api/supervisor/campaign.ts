/**
 * POST /api/supervisor/campaign {campaign_id, status?: running|paused, mode?, dial_ratio?} —
 * pauses or resumes a campaign and changes its pacing mode or power-mode ratio live, in one
 * transaction through the campaign functions (campaign_update, campaign_set_status: the same
 * checks and refusals as /api/campaigns/update and /status; `running` is the campaign status
 * `active`). The pacer uses the new settings from its next round. Answers {campaign: {id,
 * status, mode, dial_ratio}} (status as stored: active, paused…). 400 bad_request /
 * invalid_settings, 404 campaign_not_found, 409 campaign_finished, campaign_without_agents,
 * campaign_without_numbers. Logged.
 */
import { campaignRefusal, checkSettings } from '../../../lib/domain/campaigns';
import { LoggedRefusal, positiveId, rawField, rpc, supervisorFunction } from '../../../lib/domain/supervisor';
import { HttpError } from '../../../lib/runtime/http';
import { Field, FieldError, oneOf } from '../../../lib/runtime/validate';

/** A JSON number (the campaign schema checks its range). */
const number = () =>
  new Field<number>((raw) => {
    if (raw === undefined) throw new FieldError('is required');
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new FieldError('must be a number');
    return n;
  });

const body = {
  campaign_id: positiveId(),
  status: oneOf(['running', 'paused'] as const).optional(),
  mode: oneOf(['preview', 'power', 'predictive'] as const).optional(),
  dial_ratio: number().optional(),
};

interface Answer {
  campaign?: { id: number; status: string; mode: string; dial_ratio: number };
  error?: string;
  sqlstate?: string;
  message?: string;
}

export const handler = supervisorFunction(
  { action: 'campaign', body, targetOf: (e) => `campaign:${rawField(e, 'campaign_id')}` },
  async ({ db, body: b, actor }) => {
    const settings: Record<string, unknown> = {};
    if (b.mode !== undefined) settings['mode'] = b.mode;
    if (b.dial_ratio !== undefined) settings['dial_ratio'] = b.dial_ratio;
    if (b.status === undefined && Object.keys(settings).length === 0) {
      throw new HttpError(400, 'bad_request', 'invalid body: give status, mode or dial_ratio');
    }
    let checked: Record<string, unknown> | null = null;
    if (Object.keys(settings).length) {
      const c = checkSettings(settings, 'update');
      if (!c.ok) throw new HttpError(400, c.code, c.problems.join('; '));
      checked = c.settings;
    }
    const out = await rpc<Answer>(db, 'supervisor_campaign', {
      p_actor: actor,
      p_campaign_id: b.campaign_id,
      p_status: b.status === undefined ? null : b.status === 'running' ? 'active' : 'paused',
      p_settings: checked,
    });
    if (out.error) {
      const refusal = campaignRefusal({ code: out.sqlstate ?? '', message: out.message ?? '' });
      throw new LoggedRefusal(refusal?.status ?? 409, refusal?.code ?? out.error, refusal?.message ?? out.message ?? out.error);
    }
    return { campaign: out.campaign! };
  },
);
