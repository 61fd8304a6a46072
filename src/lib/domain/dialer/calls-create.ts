/** What every Calls create of discador shares: the status events asked for and reading a refusal. */

/** Status callback events discador asks Twilio for on every call. */
export const STATUS_EVENTS = ['initiated', 'ringing', 'answered', 'completed'];

/** Twilio answered Calls create with a 4xx: the call was not created. */
export function twilioRefusal(e: unknown): { status: number; code?: number; message: string } | null {
  if (typeof e !== 'object' || e === null) return null;
  const { status, code, message } = e as { status?: unknown; code?: unknown; message?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500) return null;
  return { status, code: typeof code === 'number' ? code : undefined, message: typeof message === 'string' ? message : '' };
}

/**
 * What a refusal of Calls create means for a campaign's lead (twilio.com/docs/api/errors):
 * - 'invalid_number': Twilio will never call this number — 21211 invalid To, 21214 To cannot
 *   be reached, 21216 number on Twilio's blocklist, 21217 number does not appear valid,
 *   21401 invalid phone number, 21421 invalid phone number, 13223/13224 invalid or
 *   unsupported number;
 * - 'caller_id': the From number is the problem, not the lead — 21210 From not verified /
 *   not owned by the account, 21212 invalid caller ID, 21213 caller ID required, 21606 From
 *   not a valid Twilio number for this use;
 * - 'transient': anything else (HTTP 429 or Twilio error 20429 too many requests, a 5xx,
 *   unknown codes): worth trying again later, the lead not blamed. 21215 (the account's geo
 *   permissions do not allow the destination) is here too: it is the account's setting, and
 *   blaming the lead would mark a whole list invalid until an admin enables Brazil.
 */
export type RefusalKind = 'invalid_number' | 'caller_id' | 'transient';

const INVALID_NUMBER_CODES: ReadonlySet<number> = new Set([21211, 21214, 21216, 21217, 21401, 21421, 13223, 13224]);
const CALLER_ID_CODES: ReadonlySet<number> = new Set([21210, 21212, 21213, 21606]);

export function refusalKind(refusal: { status: number; code?: number }): RefusalKind {
  if (refusal.status === 429 || refusal.code === undefined) return 'transient';
  if (INVALID_NUMBER_CODES.has(refusal.code)) return 'invalid_number';
  if (CALLER_ID_CODES.has(refusal.code)) return 'caller_id';
  return 'transient';
}
