/**
 * Alerts' configuration as the SQL functions take it (p_settings of alerts_evaluate and
 * alert_deliveries_done) and the channels the messages go out on.
 */
import type { Config } from '../../runtime/config';
import { anatelSettings } from '../anatel';
import { ALERT_LABELS, ALERT_RULE_PARTS, ALERT_TITLES } from './texts';

export type AlertConfig = Pick<
  Config,
  | 'SHORT_CALL_SECONDS'
  | 'ANATEL_DAILY_CALLS'
  | 'ANATEL_SHORT_PERCENT'
  | 'ANATEL_NEAR_PERCENT'
  | 'ALERT_SLACK_WEBHOOK_URL'
  | 'ALERT_SMS_TO'
  | 'ALERT_SMS_FROM'
  | 'ALERT_WHATSAPP_TO'
  | 'ALERT_WHATSAPP_FROM'
  | 'ALERT_WHATSAPP_CONTENT_SID'
  | 'ALERT_COOLDOWN_MINUTES'
  | 'ALERT_ABANDON_NEAR_PERCENT'
  | 'ALERT_ABANDON_MIN_LIVE'
  | 'ALERT_QUEUE_WAIT_MINUTES'
  | 'ALERT_NO_AGENT_GRACE_MINUTES'
  | 'ALERT_TRANSFER_FAILURES'
  | 'ALERT_DEBUGGER_QUIET_MINUTES'
  | 'ALERT_DELIVERY_ATTEMPTS'
  | 'ALERT_RETRY_SECONDS'
  | 'ALERT_VOICEMAILS'
>;

/** p_settings: the thresholds, the Anatel monitor's settings and the title templates. */
export function alertSettings(config: AlertConfig): Record<string, unknown> {
  return {
    cooldown_minutes: config.ALERT_COOLDOWN_MINUTES,
    abandon_near_percent: config.ALERT_ABANDON_NEAR_PERCENT,
    abandon_min_live: config.ALERT_ABANDON_MIN_LIVE,
    queue_wait_minutes: config.ALERT_QUEUE_WAIT_MINUTES,
    no_agent_grace_minutes: config.ALERT_NO_AGENT_GRACE_MINUTES,
    transfer_failures: config.ALERT_TRANSFER_FAILURES,
    debugger_quiet_minutes: config.ALERT_DEBUGGER_QUIET_MINUTES,
    delivery_attempts: config.ALERT_DELIVERY_ATTEMPTS,
    retry_seconds: config.ALERT_RETRY_SECONDS,
    voicemails: config.ALERT_VOICEMAILS === 'on',
    anatel: anatelSettings(config),
    texts: { ...ALERT_TITLES, labels: ALERT_LABELS, rule_parts: ALERT_RULE_PARTS },
  };
}

export type ChannelName = 'slack' | 'whatsapp' | 'sms';

/** Where one channel's messages go. */
export type Channel =
  | { name: 'slack'; url: string }
  | { name: 'whatsapp'; to: string; from: string | null; contentSid: string | null }
  | { name: 'sms'; to: string; from: string | null };

const wa = (n: string) => (n.startsWith('whatsapp:') ? n : `whatsapp:${n}`);
const bare = (n: string) => n.replace(/^whatsapp:/, '');

/**
 * The configured channels. Slack: ALERT_SLACK_WEBHOOK_URL. WhatsApp: ALERT_WHATSAPP_TO, else
 * ALERT_SMS_TO when it is a whatsapp: number (how WhatsApp was configured before it had keys of
 * its own); its sender ALERT_WHATSAPP_FROM, else ALERT_SMS_FROM. SMS: ALERT_SMS_TO when it is a
 * plain number. A channel without a sender has `from: null` (the opt-out alert then uses the
 * call's own number; the heartbeat cannot send on it).
 */
export function alertChannels(config: AlertConfig): Channel[] {
  const out: Channel[] = [];
  if (config.ALERT_SLACK_WEBHOOK_URL) out.push({ name: 'slack', url: config.ALERT_SLACK_WEBHOOK_URL });
  const smsTo = config.ALERT_SMS_TO;
  const waTo = config.ALERT_WHATSAPP_TO ?? (smsTo?.startsWith('whatsapp:') ? smsTo : undefined);
  if (waTo) {
    const from = config.ALERT_WHATSAPP_FROM ?? config.ALERT_SMS_FROM;
    out.push({ name: 'whatsapp', to: wa(waTo), from: from ? wa(from) : null, contentSid: config.ALERT_WHATSAPP_CONTENT_SID ?? null });
  }
  if (smsTo && !smsTo.startsWith('whatsapp:')) {
    const from = config.ALERT_SMS_FROM;
    out.push({ name: 'sms', to: smsTo, from: from ? bare(from) : null });
  }
  return out;
}

/** The channels the heartbeat can send on (a sender known), by name: p_channels. */
export function deliverableChannels(channels: Channel[]): ChannelName[] {
  return channels.filter((c) => c.name === 'slack' || c.from !== null).map((c) => c.name);
}
