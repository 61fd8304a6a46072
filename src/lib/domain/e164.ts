/**
 * The E.164 check alone, without a phone-number library: functions that only need to know
 * whether a string is already E.164 import this and load nothing else.
 */

/** True for strings already in strict E.164 form (what the database's e164 domain accepts). */
export function isE164(value: unknown): value is string {
  return typeof value === 'string' && /^\+[1-9][0-9]{7,14}$/.test(value);
}
