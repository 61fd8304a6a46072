/**
 * Alerts a person must act on, sent outside the database (which is exactly what may be down),
 * in the alerts' format (docs/alerts.md): a Slack incoming webhook (ALERT_SLACK_WEBHOOK_URL)
 * and/or WhatsApp or SMS through Twilio's Messages API (ALERT_WHATSAPP_TO, ALERT_SMS_TO). Each channel has its own short deadline so a voice flow
 * can still answer the caller in time; the result says which channels accepted the alert.
 */
import type twilio from 'twilio';
import { sendOn } from './alerts/deliver';
import type { AlertMessage } from './alerts/format';
import { alertChannels, type AlertConfig } from './alerts/settings';

/** An opt-out the database could not take during a call (callSid) or from a text message (message). */
export interface OptOutNotRecorded {
  phone: string;
  callSid: string;
  at: Date;
  attempts: number;
  /** Set when the request came by SMS or WhatsApp; callSid is then empty. */
  message?: { sid: string; channel: 'sms' | 'whatsapp' };
}

/** What each channel did: sent (accepted by Slack / Twilio), failed, or off (not configured). */
export interface AlertResult {
  slack: 'sent' | 'failed' | 'off';
  /** Twilio Messages: WhatsApp and/or SMS (sent when one of them was accepted). */
  sms: 'sent' | 'failed' | 'off';
  /** True when at least one channel accepted the alert, i.e. a person will see it. */
  delivered: boolean;
  errors: string[];
}

/** How long each channel may take (ms): the caller is waiting on the line. */
export const ALERT_CHANNEL_TIMEOUT_MS = 2000;

/** The alert's text: the number, the call and the time, and how to register it by hand. */
export function optOutAlertText(a: OptOutNotRecorded): string {
  const local = a.at.toLocaleString('pt-BR', { timeZone: 'America/Sao_Paulo' });
  const channel = a.message ? (a.message.channel === 'whatsapp' ? 'WhatsApp' : 'SMS') : '';
  const where = a.message ? `Mensagem ${channel}: ${a.message.sid}` : `Ligação: ${a.callSid}`;
  const reason = a.message ? `pedido por ${channel} ${a.message.sid}` : `pedido na ligação ${a.callSid}`;
  return (
    `discador: opt-out NÃO registrado (banco de dados indisponível após ${a.attempts} tentativas). ` +
    `Número: ${a.phone}. ${where}. Horário: ${a.at.toISOString()} (${local} Brasília). ` +
    `Registre à mão: npm run opt-out -- add ${a.phone} --reason "${reason}"`
  );
}

/** The opt-out alert as the alert channels carry it (Slack Block Kit, WhatsApp template or Body). */
export function optOutAlertMessage(a: OptOutNotRecorded): AlertMessage {
  const at = a.at.toISOString();
  return {
    alert_id: null,
    rule: 'opt_out_not_stored',
    subject: `phone:${a.phone}`,
    subject_label: a.phone,
    severity: 'critical',
    title: optOutAlertText(a),
    value: null,
    threshold: null,
    detail: {},
    kind: 'opened',
    at,
    opened_at: at,
  };
}

/**
 * Sends the alert at once on every configured channel (alertChannels: Slack, WhatsApp, SMS),
 * in parallel, each within ALERT_CHANNEL_TIMEOUT_MS: the database is what failed, so there is
 * no outbox to wait on. `smsFrom` is the sender when none is configured (the account's own
 * number on the call). Never throws.
 */
export async function sendOptOutAlert(
  deps: { config: AlertConfig; twilio: () => twilio.Twilio; smsFrom: string | null },
  alert: OptOutNotRecorded,
): Promise<AlertResult> {
  const m = optOutAlertMessage(alert);
  const errors: string[] = [];
  const channels = alertChannels(deps.config);
  const results = await Promise.all(
    channels.map(async (ch) => {
      const r = await sendOn(ch, deps.twilio, m, deps.smsFrom, ALERT_CHANNEL_TIMEOUT_MS).catch((e: unknown) => ({ ok: false as const, error: String(e) }));
      if (!r.ok) errors.push(r.error);
      return { name: ch.name, ok: r.ok };
    }),
  );
  const slack = results.find((r) => r.name === 'slack');
  const texts = results.filter((r) => r.name !== 'slack');
  const s: AlertResult['slack'] = slack ? (slack.ok ? 'sent' : 'failed') : 'off';
  const sms: AlertResult['sms'] = texts.length === 0 ? 'off' : texts.some((r) => r.ok) ? 'sent' : 'failed';
  return { slack: s, sms, delivered: s === 'sent' || sms === 'sent', errors };
}
