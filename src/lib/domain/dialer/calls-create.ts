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
