/**
 * What an inbound SMS or WhatsApp message is: an opt-out request, or a message for the team.
 * Pure: no I/O, no phone library (the sender is checked with the E.164 test alone, so the
 * /webhooks/sms bundle stays small).
 *
 * The rule (docs/sms-opt-out.md): a message is an opt-out when, after normalising the text and
 * dropping a phone's signature line and a short list of courtesy and intent words, what is
 * left is nothing but opt-out words (one, or repeated: "SAIR SAIR", "pare, parar") and "stop
 * contacting me" phrases ("pare de me ligar", "parem de mandar mensagem"). So "SAIR", "sair.",
 * "Sáir!!", "ＳＡＩＲ", "SAIR por favor", "quero sair", "sair da lista, obrigado",
 * "Parem de ligar" are opt-outs; "PAREDE", "não quero sair", "quero sair do atraso, como
 * pago?", "cancelar o boleto" are messages (any other word, a negation included, means the
 * customer is saying something else, and a person reads it). A serious product errs towards
 * listing when the message is only the request and politeness; anything longer goes to a
 * person, who can list the number by hand.
 */
import { isE164 } from './e164';

/**
 * The words that list the sender: SAIR (Anatel's) and the Portuguese ones customers are told
 * to send, plus the English keywords Twilio itself acts on for SMS (STOP, UNSUBSCRIBE, END,
 * QUIT, STOPALL, REVOKE, OPTOUT, CANCEL: twilio.com/docs/messaging/tutorials/advanced-opt-out),
 * so the opt-out list agrees with what Twilio already blocks.
 */
export const OPT_OUT_WORDS = [
  'sair', 'parar', 'pare', 'cancelar', 'stop', 'descadastrar',
  'unsubscribe', 'cancel', 'end', 'quit', 'stopall', 'optout', 'revoke',
] as const;

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

/** "Stop …ing" phrases: one of these, "de", optionally "me"/"nos", then one of STOP_PHRASE_VERBS. */
export const STOP_PHRASE_HEADS: ReadonlySet<string> = new Set(['pare', 'parar', 'parem']);
/** The contact a "pare de …" phrase asks to stop. */
export const STOP_PHRASE_VERBS: ReadonlySet<string> = new Set(['ligar', 'mandar', 'enviar', 'receber']);
/** What may follow the phrase's verb: what is being sent, and to whom ("pare de mandar mensagem para mim"). */
export const STOP_PHRASE_OBJECTS: ReadonlySet<string> = new Set([
  'mensagem', 'mensagens', 'msg', 'msgs', 'sms', 'torpedo', 'torpedos', 'whatsapp', 'zap', 'ligacao', 'ligacoes',
  'isso', 'essas', 'esses', 'estas', 'estes', 'mais', 'para', 'pra', 'mim', 'nos', 'no', 'meu', 'numero', 'celular', 'telefone',
]);

/** The kind of an inbound message, as stored in inbound_messages.kind. */
export type MessageKind = 'opt_out' | 'message';

/**
 * Lower-case words: compatibility forms folded (NFKD: full-width "ＳＡＩＲ", mathematical bold,
 * the "ﬆ" ligature and the long s read as plain letters), accents and other combining marks
 * dropped, invisible format characters (Unicode Cf: zero-width space and joiners, soft hyphen,
 * word joiner) removed before splitting so they cannot cut a word, and everything but letters
 * and digits a space.
 */
export function normaliseWords(body: string): string[] {
  return body
    .normalize('NFKD')
    .replace(/[\p{M}\p{Cf}]+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim()
    .split(' ')
    .filter((w) => w !== '');
}

/**
 * A phone or mail app's signature line ("Enviado do meu iPhone", "Enviado via …", "Sent from
 * my …") or a "--" signature delimiter: that line and everything after it are not the
 * customer's words. Only lines after the first one count.
 */
function isSignatureLine(line: string): boolean {
  if (/^\s*--\s*$/.test(line)) return true;
  const [first, second] = normaliseWords(line);
  return (first === 'enviado' && second !== undefined && ['do', 'de', 'da', 'pelo', 'pela', 'via', 'a'].includes(second))
    || (first === 'sent' && (second === 'from' || second === 'via'));
}

/** The body without a trailing signature (see isSignatureLine). */
export function withoutSignature(body: string): string {
  const lines = body.split(/\r\n|[\r\n\u2028\u2029\u0085]/);
  const cut = lines.findIndex((line, i) => i > 0 && isSignatureLine(line));
  return cut === -1 ? body : lines.slice(0, cut).join('\n');
}

/** Removes every "pare de (me) ligar …" phrase from `words`; returns what is left and how many were found. */
function takeStopPhrases(words: string[]): { rest: string[]; found: number } {
  const rest: string[] = [];
  let found = 0;
  for (let i = 0; i < words.length; ) {
    let j = i;
    if (STOP_PHRASE_HEADS.has(words[j]!) && words[j + 1] === 'de') {
      j += 2;
      if (words[j] === 'me' || words[j] === 'nos') j += 1;
      if (STOP_PHRASE_VERBS.has(words[j] ?? '')) {
        j += 1;
        while (j < words.length && STOP_PHRASE_OBJECTS.has(words[j]!)) j += 1;
        found += 1;
        i = j;
        continue;
      }
    }
    rest.push(words[i]!);
    i += 1;
  }
  return { rest, found };
}

/** 'opt_out' when the body asks to stop being contacted (the rule above), else 'message'. */
export function messageKind(body: string): MessageKind {
  const { rest, found } = takeStopPhrases(normaliseWords(withoutSignature(body)));
  const words = rest.filter((w) => !COURTESY_WORDS.has(w));
  if (words.length === 0) return found > 0 ? 'opt_out' : 'message';
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

/**
 * The first `max` characters of `text` counted as Postgres counts them (code points), so an
 * emoji at the limit is kept whole or dropped whole: String.slice counts UTF-16 units and can
 * leave half a surrogate pair, which Postgres refuses.
 */
export function cutCodePoints(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  return points.length <= max ? text : points.slice(0, max).join('');
}
