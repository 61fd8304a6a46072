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

/** A number that parsed, saying whether the mobile ninth digit had to be added. */
export type ParsedPhoneWithNinthDigit = ParsedPhone & { ninthDigitAdded: boolean };

/**
 * Like parsePhone, and also reads Brazilian mobiles written before the ninth digit: every
 * mobile number got a leading 9 (DDD by DDD, completed in 2016), so an old list's
 * "11 8765-4321" is today's +55 11 98765-4321. A DDD followed by 8 digits starting 6-9 (the
 * old mobile range) becomes that 9-digit mobile, with ninthDigitAdded set so the caller can
 * warn; 8 digits starting 2-5 are landlines and stay as they are. Inputs without a DDD cannot
 * be completed and keep parsePhone's answer.
 */
export function parsePhoneWithNinthDigit(input: unknown): ParsedPhoneWithNinthDigit | PhoneError {
  const first = parsePhone(input);
  const upgradable = first.ok ? first.type === 'MOBILE' : /^not a valid Brazilian number/.test(first.reason);
  if (upgradable && typeof input === 'string') {
    const parsed = parsePhoneNumberFromString(precleanPhone(input), 'BR');
    const national = parsed?.countryCallingCode === '55' ? parsed.nationalNumber : '';
    if (/^[1-9]{2}[6-9]\d{7}$/.test(national)) {
      const today = parsePhone(`+55${national.slice(0, 2)}9${national.slice(2)}`);
      if (today.ok && today.type === 'MOBILE') return { ...today, ninthDigitAdded: true };
    }
  }
  return first.ok ? { ...first, ninthDigitAdded: false } : first;
}
