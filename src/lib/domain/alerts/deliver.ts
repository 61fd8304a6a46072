/**
 * Sending alert messages: one POST to Slack's incoming webhook, or one Twilio Messages create
 * (WhatsApp with an approved template's ContentSid + ContentVariables when configured, else a
 * Body; SMS with a Body), each with its own deadline so nothing waits on a channel that hangs.
 */
import type twilio from 'twilio';
import { messageBody, slackPayload, whatsappVariables, type AlertMessage } from './format';
import type { Channel } from './settings';
import { within } from '../../runtime/deadline';

/** How long one send may take (ms). */
export const SEND_TIMEOUT_MS = 3000;

/** What one send did; retryAfterS from Slack's Retry-After (HTTP 429). */
export type SendResult = { ok: true; sid?: string } | { ok: false; error: string; retryAfterS?: number };

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * POSTs the Block Kit payload. Slack answers 200 "ok"; anything else is a failure (400
 * invalid_payload, 403/404/410 for a revoked webhook or an archived channel, 429 with
 * Retry-After when over its rate limit, 5xx) — docs.slack.dev/messaging/sending-messages-using-incoming-webhooks.
 */
export async function sendSlack(url: string, m: AlertMessage, timeoutMs = SEND_TIMEOUT_MS): Promise<SendResult> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(slackPayload(m)),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.text().catch(() => '')).slice(0, 200);
    if (res.ok) return { ok: true };
    const retry = Number(res.headers.get('retry-after'));
    return { ok: false, error: `slack: HTTP ${res.status}${body ? ` ${body}` : ''}`, ...(res.status === 429 && retry > 0 ? { retryAfterS: retry } : {}) };
  } catch (e) {
    // A DOMException, not always an Error of this realm: read its name.
    const name = (e as { name?: unknown } | null)?.name;
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    return { ok: false, error: timedOut ? `slack: no answer within ${timeoutMs} ms` : `slack: ${message(e)}` };
  }
}

/** Creates the message through Twilio's Messages API (twilio.com/docs/messaging/api/message-resource#create-a-message-resource). */
export async function sendTwilioMessage(client: () => twilio.Twilio, ch: Exclude<Channel, { name: 'slack' }>, from: string, m: AlertMessage, timeoutMs = SEND_TIMEOUT_MS): Promise<SendResult> {
  try {
    // Business-initiated WhatsApp messages outside the 24-hour window need an approved template,
    // sent as ContentSid + ContentVariables (twilio.com/docs/content/send-templates-created-with-the-content-template-builder;
    // a Body there fails with 63016).
    const params =
      ch.name === 'whatsapp' && ch.contentSid
        ? { to: ch.to, from, contentSid: ch.contentSid, contentVariables: JSON.stringify(whatsappVariables(m)) }
        : { to: ch.to, from, body: messageBody(m) };
    const created = await within(client().messages.create(params), timeoutMs, ch.name);
    // Accepted ("queued") is not delivered: the heartbeat fetches the status later (checkTwilioMessage).
    return { ok: true, sid: created.sid };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return { ok: false, error: `${ch.name}: ${typeof code === 'number' ? `Twilio error ${code}: ` : ''}${message(e)}`.slice(0, 500) };
  }
}

/**
 * The status of a message sent earlier (twilio.com/docs/messaging/api/message-resource#fetch-a-message-resource):
 * "delivered"/"read" final, "failed"/"undelivered" final with an ErrorCode (e.g. 63016 outside
 * WhatsApp's 24-hour window), anything else still on its way. Null when it could not be read.
 */
export async function checkTwilioMessage(client: () => twilio.Twilio, sid: string, timeoutMs = SEND_TIMEOUT_MS): Promise<{ status: string; error: string | null } | null> {
  try {
    const m = await within(client().messages(sid).fetch(), timeoutMs, 'message status');
    return { status: m.status, error: m.errorCode ? `Twilio error ${m.errorCode}${m.errorMessage ? `: ${m.errorMessage}` : ''}` : null };
  } catch {
    return null;
  }
}

/** Sends on one channel; `fallbackFrom` is the sender when the channel has none configured. */
export function sendOn(ch: Channel, client: () => twilio.Twilio, m: AlertMessage, fallbackFrom: string | null = null, timeoutMs = SEND_TIMEOUT_MS): Promise<SendResult> {
  if (ch.name === 'slack') return sendSlack(ch.url, m, timeoutMs);
  let from = ch.from ?? fallbackFrom;
  if (!from) return Promise.resolve({ ok: false, error: `${ch.name}: no sender (set ALERT_WHATSAPP_FROM or ALERT_SMS_FROM)` });
  if (ch.name === 'whatsapp' && !from.startsWith('whatsapp:')) from = `whatsapp:${from}`;
  return sendTwilioMessage(client, ch, from, m, timeoutMs);
}

