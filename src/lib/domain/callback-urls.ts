/**
 * The URLs Twilio calls back on, built in one place so every caller (placeCall, the
 * `numbers point` CLI) gives Twilio the same delivery settings.
 */

/** Anything that knows where the functions answer (a Config, or a bare base URL for the CLIs). */
export interface HasBaseUrl {
  baseUrl: string;
}

/**
 * Twilio's connection-override fragment for status callbacks. Without it a status callback
 * that gets an error is not retried (Twilio's default retry policy, rp=ct, retries only a
 * failed TCP connect, never an HTTP error), so a 503 answered while the database is away
 * would lose that status for good (https://www.twilio.com/docs/usage/webhooks/webhooks-connection-overrides).
 *
 *   rc=3        up to 3 retries (Twilio allows 0-5): a database blip or a PostgREST
 *               reconnect usually passes within a few seconds.
 *   rp=5xx,ct,rt  retry what a database outage looks like: our 503 (5xx), a refused or
 *               slow connection (ct), or no answer in time (rt). Not 4xx: a 400 means the
 *               parameters are malformed and sending them again cannot help.
 *   ct=2000     Twilio Functions accept connections at once; 2 s is generous.
 *   rt=5000     the status webhook gives up on the database after DB_TIMEOUT_MS (2.5 s by
 *               default) and answers 503 well inside 5 s, so a live function is never cut
 *               off, and a hung one is abandoned early enough to leave time for retries.
 *   tt=15000    every attempt together stays inside Twilio's 15 s webhook budget (the
 *               maximum it accepts): about three 503s and a fourth try.
 * Twilio retries back to back within tt, so this covers blips of seconds; anything longer is
 * repaired by the reconciliation run, which reads the final state from the Calls resource.
 */
export const STATUS_CALLBACK_OVERRIDES = 'rc=3&rp=5xx,ct,rt&ct=2000&rt=5000&tt=15000';

function join(base: string, path: string): string {
  return base.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/**
 * /webhooks/call-status with the retry fragment: the statusCallback of every call and number.
 * `query` (a dial attempt's id) goes before the fragment, where Twilio keeps it.
 */
export function statusCallbackUrl(config: HasBaseUrl, query?: Record<string, string>): string {
  const search = query && Object.keys(query).length ? `?${new URLSearchParams(query).toString()}` : '';
  return `${join(config.baseUrl, '/webhooks/call-status')}${search}#${STATUS_CALLBACK_OVERRIDES}`;
}

/** /voice/fallback: the number's VoiceFallbackUrl, answered without the database. */
export function voiceFallbackUrl(config: HasBaseUrl): string {
  return join(config.baseUrl, '/voice/fallback');
}

/** /voice/inbound: the number's VoiceUrl. */
export function voiceInboundUrl(config: HasBaseUrl): string {
  return join(config.baseUrl, '/voice/inbound');
}

/** /webhooks/sms: the number's SmsUrl (SMS and WhatsApp; opt-out words and messages for the team). */
export function smsUrl(config: HasBaseUrl): string {
  return join(config.baseUrl, '/webhooks/sms');
}
