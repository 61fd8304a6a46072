import { parsePhoneNumberFromString, type NumberType } from 'libphonenumber-js/max';

/** A number that parsed: E.164 plus what kind of line it is. */
export interface ParsedPhone {
  ok: true;
  e164: string;
  type: NumberType | undefined;
  /** Brazilian area code (DDD) when the number is Brazilian. */
  ddd: string | undefined;
  /** True when the input carried a `whatsapp:` prefix. */
  whatsapp: boolean;
}

/** A number that did not parse, with the reason in words an operator understands. */
export interface PhoneError {
  ok: false;
  input: string;
  reason: string;
}

/**
 * Brings the shapes seen in Brazilian spreadsheets into something libphonenumber reads:
 * "0055 11 …" → "+55 11 …", "0 xx 11 …" / "0xx11…" → "11 …", separators dropped.
 * Carrier-selection prefixes ("0 15 11 …") are left to libphonenumber, which knows them.
 */
export function precleanPhone(input: string): string {
  let s = input.trim().replace(/^whatsapp:/i, '');
  s = s.replace(/^0\s*x\s*x\s*/i, '');
  s = s.replace(/[^\d+]/g, '');
  if (s.startsWith('00')) s = '+' + s.slice(2);
  return s;
}

/** Parses any phone input (default country Brazil) into E.164, or says why it cannot. */
export function parsePhone(input: unknown): ParsedPhone | PhoneError {
  if (typeof input !== 'string' || input.trim() === '') {
    return { ok: false, input: String(input ?? ''), reason: 'empty phone number' };
  }
  const whatsapp = /^\s*whatsapp:/i.test(input);
  // Letters left after the known prefixes mean extra text ("ramal 3", "x"): refuse rather than
  // guess, since dropping them would silently glue an extension onto the number.
  const rest = input.trim().replace(/^whatsapp:/i, '').replace(/^0\s*x\s*x/i, '');
  if (!/\d/.test(rest)) return { ok: false, input, reason: 'no digits in phone number' };
  if (/[a-z]/i.test(rest)) return { ok: false, input, reason: 'letters in phone number' };
  if (/.\+/.test(rest.trim())) return { ok: false, input, reason: "'+' only allowed at the start" };
  const cleaned = precleanPhone(input);
  if (cleaned.replace(/\D/g, '').length > 17) return { ok: false, input, reason: 'too many digits for a phone number' };
  const parsed = parsePhoneNumberFromString(cleaned, 'BR');
  if (!parsed) return { ok: false, input, reason: 'not a phone number' };
  if (!parsed.isValid()) {
    const national = parsed.nationalNumber;
    const reason =
      parsed.country === 'BR' || parsed.countryCallingCode === '55'
        ? `not a valid Brazilian number (${national.length} digits after +55; expected DDD + 8-digit landline starting 2-5 or 9-digit mobile starting 9)`
        : `not a valid number for country code +${parsed.countryCallingCode}`;
    return { ok: false, input, reason };
  }
  const type = parsed.getType();
  // Non-geographic numbers (0800 toll free, 0300/0303 shared cost, 0900) have no area code.
  const geographic = type !== 'TOLL_FREE' && type !== 'SHARED_COST' && type !== 'PREMIUM_RATE' && type !== 'UAN';
  const ddd = parsed.countryCallingCode === '55' && geographic ? parsed.nationalNumber.slice(0, 2) : undefined;
  return { ok: true, e164: parsed.number, type, ddd, whatsapp };
}

/** E.164 of a valid number, or throws an Error whose message is the reason. */
export function toE164(input: unknown): string {
  const r = parsePhone(input);
  if (!r.ok) throw new Error(`${r.reason}: "${r.input}"`);
  return r.e164;
}

export { isE164 } from './e164';
