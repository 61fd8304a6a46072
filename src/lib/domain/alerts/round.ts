/**
 * The heartbeat's alert round (runAlerts): the calling windows, alerts_evaluate (rules,
 * transitions and the claim of due deliveries in one call), the sends, and their results.
 */
import type twilio from 'twilio';
import type { Db } from '../../runtime/db';
import { unwrap } from '../../runtime/db';
import { campaignWindowProfile, openDdds, type CampaignWindowColumns } from '../calling-window';
import type { AdminHoliday } from '../holidays';
import { checkTwilioMessage, sendOn, type SendResult } from './deliver';
import type { AlertMessage } from './format';
import { alertChannels, alertSettings, deliverableChannels, type AlertConfig, type ChannelName } from './settings';

/** A claimed delivery as alerts_evaluate answers it. */
export interface ClaimedDelivery {
  id: number;
  alert_id: number;
  kind: string;
  channel: ChannelName;
  message: AlertMessage;
  attempt: number;
}

export interface AlertDeps {
  db: Db;
  config: AlertConfig;
  twilio: () => twilio.Twilio;
}

/** The ids of active campaigns whose calling window is open now (the dialer's rules); a campaign whose profile cannot be read counts as closed. */
export function openCampaigns(w: { now_ms: number; campaigns: (CampaignWindowColumns & { id: number; holidays: AdminHoliday[] })[] }): number[] {
  const open: number[] = [];
  for (const c of w.campaigns) {
    try {
      if (openDdds(campaignWindowProfile(c), Number(w.now_ms), c.holidays).length > 0) open.push(Number(c.id));
    } catch {
      // A malformed profile: the pacer refuses it too; not a window to staff.
    }
  }
  return open;
}

export interface AlertRound {
  opened: number[];
  worse: number[];
  resolved: number[];
  open: number;
  deliveries: { id: number; channel: string; kind: string; ok: boolean; error?: string }[];
  channels: ChannelName[];
}

/**
 * One alert round: which campaigns' windows are open (alert_campaign_windows), the evaluation
 * and the claim (alerts_evaluate), the sends in parallel (each within SEND_TIMEOUT_MS), each
 * result written as it comes (alert_deliveries_done), the statuses of Twilio messages sent earlier. Throws DbUnavailable when the
 * database does not answer.
 */
export async function runAlerts(deps: AlertDeps, opts: { now?: string | null } = {}): Promise<AlertRound> {
  const channels = alertChannels(deps.config);
  const names = deliverableChannels(channels);
  const settings = alertSettings(deps.config);
  const windows = unwrap(await deps.db.rpc<Parameters<typeof openCampaigns>[0]>('alert_campaign_windows', {}));
  const evaluated = unwrap(
    await deps.db.rpc<{
      opened: number[];
      worse: number[];
      resolved: number[];
      open: number;
      deliveries: ClaimedDelivery[];
      unconfirmed?: { id: number; channel: ChannelName; message_sid: string }[];
    }>('alerts_evaluate', {
      p_now: opts.now ?? null,
      p_settings: settings,
      p_open_campaigns: openCampaigns(windows),
      p_channels: names,
    }),
  );
  const settingsArgs = { p_settings: settings, p_channels: names, p_now: opts.now ?? null };
  const record = async (rows: Record<string, unknown>[]) => {
    if (rows.length > 0) unwrap(await deps.db.rpc('alert_deliveries_done', { p_results: rows, ...settingsArgs }));
  };
  // Each send's result is written as soon as it is known, not once the slowest send is done:
  // a round cut short (over budget, the instance frozen after answering) would otherwise leave
  // delivered messages unrecorded, and they would be claimed and sent again after the lease.
  const results = await Promise.all(
    evaluated.deliveries.map(async (d) => {
      const ch = channels.find((c) => c.name === d.channel);
      const r: SendResult = ch ? await sendOn(ch, deps.twilio, d.message) : { ok: false, error: `${d.channel}: channel not configured` };
      await record([
        { id: d.id, ok: r.ok, error: r.ok ? null : r.error, retry_after_seconds: r.ok ? null : (r.retryAfterS ?? null), message_sid: r.ok ? (r.sid ?? null) : null },
      ]);
      return { d, r };
    }),
  );
  // Messages Twilio accepted earlier: their final status (a WhatsApp failure arrives there).
  const checks = (
    await Promise.all(
      (evaluated.unconfirmed ?? []).map(async (u) => {
        const s = await checkTwilioMessage(deps.twilio, u.message_sid);
        return s && { id: u.id, ok: false, checked: s.status, error: `${u.channel}: ${s.status}${s.error ? ` (${s.error})` : ''}` };
      }),
    )
  ).filter((c) => c !== null);
  await record(checks);
  return {
    opened: evaluated.opened,
    worse: evaluated.worse,
    resolved: evaluated.resolved,
    open: evaluated.open,
    deliveries: results.map(({ d, r }) => ({ id: d.id, channel: d.channel, kind: d.kind, ok: r.ok, ...(r.ok ? {} : { error: r.error }) })),
    channels: names,
  };
}
