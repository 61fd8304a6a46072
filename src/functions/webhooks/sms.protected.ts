/**
 * /webhooks/sms — every number's SmsUrl: SMS and WhatsApp messages sent to the account's
 * numbers (Twilio's incoming-message request: MessageSid, From, To, Body; WhatsApp addresses
 * are `whatsapp:+55…`, https://www.twilio.com/docs/messaging/guides/webhook-request).
 *
 * An opt-out word (lib/domain/sms-opt-out: SAIR, PARAR, PARE, CANCELAR, STOP, DESCADASTRAR
 * with courtesy words) lists the sender on the opt-out list and stores the message, in one
 * database call, and the customer gets a pt-BR confirmation (<Message>). Anything else is
 * stored for the number's agent (or the team) and gets no reply: a person answers.
 * The same MessageSid again (Twilio's retry) stores nothing twice and answers the same.
 *
 * Database away during an opt-out: tried again once after a short pause; then a person is
 * alerted outside the database (Slack and/or SMS, lib/domain/urgent-alert) and the customer
 * is told the truth — the team will register it (only when the alert was accepted), or to
 * send the word again later. A sender that is not a phone number (short code, alphanumeric)
 * cannot be listed: logged, nothing written, an empty <Response/>.
 */
import twilio from 'twilio';
import type { Config } from '../../lib/runtime/config';
import { DB_UNAVAILABLE, unwrap, type Db, type RpcResult } from '../../lib/runtime/db';
import { messageWebhookFunction } from '../../lib/runtime/handler';
import { BadRequest } from '../../lib/runtime/http';
import { twilioClientOptions } from '../../lib/runtime/twilio-client';
import { MESSAGES } from '../../lib/domain/messages';
import { cutCodePoints, MAX_STORED_BODY, messageKind, parseMessageAddress, withNinthDigit, type MessageKind } from '../../lib/domain/sms-opt-out';
import { sendOptOutAlert } from '../../lib/domain/urgent-alert';

/** Tries at storing an opt-out within one request (the first included). */
export const SMS_OPT_OUT_ATTEMPTS = 2;
/** Pause between tries (ms), so a database restart can finish. */
export const SMS_OPT_OUT_RETRY_PAUSE_MS = 1000;
/** Longest wait on the database per try (ms, or DB_TIMEOUT_MS when shorter): leaves time to alert a person. */
export const SMS_OPT_OUT_DB_BUDGET_MS = 2000;

/** What receive_inbound_message answers. */
export interface ReceivedMessage {
  id: number;
  kind: MessageKind;
  agent_id: number | null;
  duplicate: boolean;
  listed: boolean;
  newly_listed?: boolean;
}

function within<T>(p: Promise<RpcResult<T>>, ms: number): Promise<RpcResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<RpcResult<T>>((resolve) => {
    timer = setTimeout(() => resolve({ data: null, error: { code: DB_UNAVAILABLE, message: `no answer within ${ms} ms` } }), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function reply(text?: string): twilio.twiml.MessagingResponse {
  const twiml = new twilio.twiml.MessagingResponse();
  if (text) twiml.message(text);
  return twiml;
}

interface Incoming {
  messageSid: string;
  channel: 'sms' | 'whatsapp';
  from: string;
  to: string;
  body: string;
  kind: MessageKind;
}

function store(db: Db, m: Incoming, budgetMs?: number): Promise<RpcResult<ReceivedMessage>> {
  const call = db.rpc<ReceivedMessage>('receive_inbound_message', {
    p_message_sid: m.messageSid,
    p_channel: m.channel,
    p_from: m.from,
    p_to: m.to,
    p_body: m.body,
    p_kind: m.kind,
  });
  return budgetMs === undefined ? call : within(call, budgetMs);
}

/** Stores an opt-out, trying again once while the database is away; the last result. */
async function storeOptOut(db: Db, config: Config, m: Incoming): Promise<RpcResult<ReceivedMessage>> {
  let result: RpcResult<ReceivedMessage> = { data: null, error: { code: DB_UNAVAILABLE, message: 'not tried' } };
  for (let attempt = 1; attempt <= SMS_OPT_OUT_ATTEMPTS; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, SMS_OPT_OUT_RETRY_PAUSE_MS));
    result = await store(db, m, Math.min(config.DB_TIMEOUT_MS, SMS_OPT_OUT_DB_BUDGET_MS));
    if (!result.error || result.error.code !== DB_UNAVAILABLE) return result;
    console.error(`[discador] /webhooks/sms opt-out attempt ${attempt}/${SMS_OPT_OUT_ATTEMPTS} failed (database unavailable): message ${m.messageSid} number ${m.from}: ${result.error.message}`);
  }
  return result;
}

export const handler = messageWebhookFunction(async ({ config, params, db, context }) => {
  const messageSid = params['MessageSid'] ?? params['SmsSid'] ?? '';
  if (!/^(SM|MM)[0-9a-f]{32}$/.test(messageSid)) throw new BadRequest('MessageSid must be SM or MM followed by 32 hex characters');
  const to = parseMessageAddress(params['To']);
  if (!to.ok) throw new BadRequest(`To ${to.reason}`);
  const body = params['Body'] ?? '';
  const kind = messageKind(body);
  const from = parseMessageAddress(params['From']);
  if (!from.ok) {
    // Short codes and alphanumeric senders cannot be listed nor answered: say so in the log.
    console.error(`[discador] /webhooks/sms message ${messageSid} (${kind}) from a sender that is not a phone number: From ${from.reason}; nothing stored`);
    return reply();
  }
  const m: Incoming = {
    messageSid,
    channel: from.channel,
    // WhatsApp names many Brazilian mobiles without the ninth digit; the dialer calls the 9-digit number.
    from: from.channel === 'whatsapp' ? withNinthDigit(from.phone) : from.phone,
    to: to.phone,
    body: cutCodePoints(body, MAX_STORED_BODY),
    kind,
  };

  if (kind === 'message') {
    unwrap(await store(db, m)); // database away: 503, the message stays in Twilio's log
    return reply();
  }

  const result = await storeOptOut(db, config, m);
  if (!result.error) return reply(MESSAGES.messageOptOutConfirmed);
  if (result.error.code !== DB_UNAVAILABLE) unwrap(result); // refused by the database: throws (500)

  const alert = await sendOptOutAlert(
    {
      config,
      // The runtime types name an older twilio package; the object is this project's twilio client.
      twilio: () => context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio,
      smsFrom: m.to,
    },
    { phone: m.from, callSid: '', at: new Date(), attempts: SMS_OPT_OUT_ATTEMPTS, message: { sid: messageSid, channel: m.channel } },
  );
  console.error(
    `[discador] opt-out NOT recorded: message ${messageSid} (${m.channel}) number ${m.from}; alert slack=${alert.slack} sms=${alert.sms}${alert.errors.length ? ` (${alert.errors.join('; ')})` : ''}`,
  );
  return reply(alert.delivered ? MESSAGES.messageOptOutReported : MESSAGES.messageOptOutFailed);
});
