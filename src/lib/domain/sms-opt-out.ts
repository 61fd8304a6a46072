/**
 * What an inbound SMS or WhatsApp message is: an opt-out request, or a message for the team.
 * Pure: no I/O, no phone library (the sender is checked with the E.164 test alone, so the
 * /webhooks/sms bundle stays small).
 *
 * The rule (docs/sms-opt-out.md): a message is an opt-out when, after dropping accents, case,
 * punctuation, emoji and a short list of courtesy and intent words, what is left is nothing but
 * opt-out words (one, or repeated: "SAIR SAIR", "pare, parar"). So "SAIR", "sair.", "Sáir!!", "  Parar  ", "SAIR por favor",
 * "quero sair", "Por favor, quero me descadastrar", "sair da lista, obrigado" are opt-outs;
 * "PAREDE", "não quero sair", "quero sair do atraso, como pago?", "cancelar o boleto" are
 * messages (any other word, a negation included, means the customer is saying something else,
 * and a person reads it). A serious product errs towards listing when the message is only the
 * word and politeness; anything longer goes to a person, who can list the number by hand.
 */
import { isE164 } from './e164';

/** The words that list the sender (SAIR is Anatel's; STOP is the international one). */
export const OPT_OUT_WORDS = ['sair', 'parar', 'pare', 'cancelar', 'stop', 'descadastrar'] as const;

/**
 * Words that may surround an opt-out word without changing what it asks: greetings, please,
 * thanks, "I want", "me", "from the list". Accent-free and lower case (compared after
 * normalising). Nothing here can negate or redirect the request.
 */
export const COURTESY_WORDS: ReadonlySet<string> = new Set([
  // please / thanks
  'por', 'favor', 'porfavor', 'pf', 'pfv', 'pfvr', 'gentileza', 'obrigado', 'obrigada', 'obg', 'obgd', 'brigado', 'brigada', 'grato', 'grata', 'agradeco',
  // greetings
  'oi', 'ola', 'bom', 'boa', 'dia', 'tarde', 'noite',
  // intent
  'eu', 'quero', 'queria', 'gostaria', 'desejo', 'de', 'me', 'ok',
  // from the list
  'da', 'dessa', 'desta', 'lista',
]);

/** The kind of an inbound message, as stored in inbound_messages.kind. */
export type MessageKind = 'opt_out' | 'message';

/** Lower case, accents and other combining marks dropped (NFD), everything but letters and digits a space. */
export function normaliseWords(body: string): string[] {
  return body
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .split(' ')
    .filter((w) => w !== '');
}

/** 'opt_out' when the body asks to stop being contacted (the rule above), else 'message'. */
export function messageKind(body: string): MessageKind {
  const words = normaliseWords(body).filter((w) => !COURTESY_WORDS.has(w));
  if (words.length === 0) return 'message';
  return words.every((w) => (OPT_OUT_WORDS as readonly string[]).includes(w)) ? 'opt_out' : 'message';
}

/** A Twilio message address: the channel and the E.164 number behind it. */
export type MessageAddress = { ok: true; channel: 'sms' | 'whatsapp'; phone: string } | { ok: false; reason: string };

/**
 * Reads Twilio's From/To of an incoming message: `+5511…` for SMS, `whatsapp:+5511…` for
 * WhatsApp (https://www.twilio.com/docs/messaging/guides/webhook-request). Anything else (a
 * short code, an alphanumeric sender, an empty value) is refused with the reason.
 */
export function parseMessageAddress(raw: string | undefined): MessageAddress {
  if (raw === undefined || raw.trim() === '') return { ok: false, reason: 'missing' };
  const value = raw.trim();
  const whatsapp = /^whatsapp:/i.test(value);
  const phone = whatsapp ? value.slice('whatsapp:'.length).trim() : value;
  if (!isE164(phone)) return { ok: false, reason: `not an E.164 number (${JSON.stringify(raw.slice(0, 40))})` };
  return { ok: true, channel: whatsapp ? 'whatsapp' : 'sms', phone };
}

/**
 * WhatsApp identifies many Brazilian mobiles by their number before the ninth digit
 * (whatsapp:+55 11 8765-4321 for +55 11 98765-4321). The dialer calls the nine-digit number,
 * so that is the one listed: a Brazilian DDD followed by 8 digits starting 6-9 (the old mobile
 * range) gets its 9. Landlines (2-5) and every other number stay as they are.
 */
export function withNinthDigit(e164: string): string {
  const m = /^\+55([1-9]{2})([6-9]\d{7})$/.exec(e164);
  return m ? `+55${m[1]}9${m[2]}` : e164;
}

/** inbound_messages.body holds at most this many characters (Twilio's own limit for a message body). */
export const MAX_STORED_BODY = 1600;
