import { randomBytes } from 'node:crypto';
import { parsePhoneNumberFromString } from 'libphonenumber-js/min';
import metadata from 'libphonenumber-js/min/metadata';

/** Twilio's REST API version path segment. */
export const API_VERSION = '2010-04-01';

/** A new Twilio-shaped SID: two-letter prefix + 32 lowercase hex characters. */
export function newSid(prefix: string): string {
  return prefix + randomBytes(16).toString('hex');
}

/** Formats epoch ms as RFC 2822 in UTC the way Twilio does (`Tue, 31 Aug 2010 20:36:28 +0000`). */
export function rfc2822(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

/** True for an E.164 phone number (`+` then 8 to 15 digits, no leading zero). */
export function isE164(value: string): boolean {
  return /^\+[1-9]\d{7,14}$/.test(value);
}

/** Resolves a possibly relative TwiML URL against the URL of the document it came from. */
export function resolveUrl(ref: string, base: string | undefined): string {
  try {
    return new URL(ref.trim(), base).toString();
  } catch {
    throw new Error(`cannot resolve URL ${JSON.stringify(ref)} against ${JSON.stringify(base ?? '')}`);
  }
}

/** Parses an `application/x-www-form-urlencoded` body or query; repeated keys become arrays. */
export function parseForm(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(text)) {
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else out[k] = Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

/** The first value of a form field (repeated fields give their first value). */
export function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** All values of a form field as a list; values may also be space/comma separated (TwiML event lists). */
export function list(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.flatMap((s) => s.split(/[\s,]+/)).filter(Boolean);
}

/** Two-letter ISO country of an E.164 number ('' when unknown). */
export function countryOf(num: string): string {
  if (!num.startsWith('+')) return '';
  if (num.startsWith('+55')) return 'BR';
  try {
    const p = parsePhoneNumberFromString(num);
    if (!p) return '';
    // A number outside the known ranges still belongs to its calling code's main country.
    return p.country ?? metadata.country_calling_codes[p.countryCallingCode]?.[0] ?? '';
  } catch {
    return '';
  }
}

/** A promise with its resolve function exposed. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}

/** Creates a Deferred. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
