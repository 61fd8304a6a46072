/**
 * Alerts a person must act on, sent outside the database (which is exactly what may be down):
 * a Slack incoming webhook (ALERT_SLACK_WEBHOOK_URL) and/or an SMS or WhatsApp message through
 * Twilio's Messages API (ALERT_SMS_TO). Each channel has its own short deadline so a voice flow
 * can still answer the caller in time; the result says which channels accepted the alert.
 */
import type twilio from 'twilio';
import type { Config } from '../runtime/config';

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

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Sends the alert on every configured channel at once. `smsFrom` is the sender when
 * ALERT_SMS_FROM is not set (the account's own number on the call). Never throws.
 */
export async function sendOptOutAlert(
  deps: { config: Pick<Config, 'ALERT_SLACK_WEBHOOK_URL' | 'ALERT_SMS_TO' | 'ALERT_SMS_FROM'>; twilio: () => twilio.Twilio; smsFrom: string | null },
  alert: OptOutNotRecorded,
): Promise<AlertResult> {
  const text = optOutAlertText(alert);
  const errors: string[] = [];
  const { ALERT_SLACK_WEBHOOK_URL: slackUrl, ALERT_SMS_TO: to } = deps.config;

  const slack = async (): Promise<AlertResult['slack']> => {
    if (!slackUrl) return 'off';
    try {
      const res = await fetch(slackUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ text }),
        signal: AbortSignal.timeout(ALERT_CHANNEL_TIMEOUT_MS),
      });
      if (res.ok) return 'sent';
      errors.push(`slack: HTTP ${res.status}`);
    } catch (e) {
      errors.push(`slack: ${e instanceof Error ? e.message : String(e)}`);
    }
    return 'failed';
  };

  const sms = async (): Promise<AlertResult['sms']> => {
    if (!to) return 'off';
    const whatsapp = to.startsWith('whatsapp:');
    let from = deps.config.ALERT_SMS_FROM ?? deps.smsFrom ?? undefined;
    if (from && whatsapp && !from.startsWith('whatsapp:')) from = `whatsapp:${from}`;
    if (!from) {
      errors.push('sms: no sender (set ALERT_SMS_FROM)');
      return 'failed';
    }
    try {
      await timeout(deps.twilio().messages.create({ to, from, body: text }), ALERT_CHANNEL_TIMEOUT_MS, 'sms');
      return 'sent';
    } catch (e) {
      errors.push(`sms: ${e instanceof Error ? e.message : String(e)}`);
      return 'failed';
    }
  };

  const [s, m] = await Promise.all([slack(), sms()]);
  return { slack: s, sms: m, delivered: s === 'sent' || m === 'sent', errors };
}
