/**
 * The heartbeat's credential for POST /api/tick: an HMAC-SHA256 over a Unix timestamp, keyed
 * by TICK_SECRET, sent as `X-Discador-Tick: t=<unix seconds>,v1=<hex>` (or a JSON body
 * {t, v1}). Accepted within ±TICK_SKEW_SECONDS of the server's clock. Replaying a valid
 * header inside that window starts no extra dialing: a round only takes campaigns whose lease
 * is free, and decides from the calls already placed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** How far the sender's clock may be from ours, either way. */
export const TICK_SKEW_SECONDS = 60;

/** The header's name (lower-cased, as the Functions runtime gives headers). */
export const TICK_HEADER = 'x-discador-tick';

/** hex HMAC-SHA256(secret, "<t>"). */
export function tickSignature(secret: string, t: number | string): string {
  return createHmac('sha256', secret).update(String(t)).digest('hex');
}

/** The header value for a tick sent at nowMs. */
export function tickHeader(secret: string, nowMs: number = Date.now()): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${tickSignature(secret, t)}`;
}

/** Reads `t=…,v1=…` (order free, spaces allowed); null when malformed. */
export function parseTickHeader(value: string | undefined): { t: string; v1: string } | null {
  if (value === undefined) return null;
  const parts: Record<string, string> = {};
  for (const piece of value.split(',')) {
    const m = /^\s*(t|v1)=([^\s,]*)\s*$/.exec(piece);
    if (!m) return null;
    parts[m[1]!] = m[2]!;
  }
  return parts['t'] !== undefined && parts['v1'] !== undefined ? { t: parts['t'], v1: parts['v1'] } : null;
}

export type TickAuthFailure = 'missing' | 'malformed' | 'stale' | 'bad_signature';

/** Checks a timestamp and signature (constant-time compare) against the secret at nowMs. */
export function verifyTick(secret: string, cred: { t: string; v1: string } | null, nowMs: number = Date.now()): { ok: true } | { ok: false; why: TickAuthFailure } {
  if (cred === null) return { ok: false, why: 'missing' };
  if (!/^[0-9]{1,12}$/.test(cred.t) || !/^[0-9a-f]{64}$/i.test(cred.v1)) return { ok: false, why: 'malformed' };
  if (Math.abs(Number(cred.t) - nowMs / 1000) > TICK_SKEW_SECONDS) return { ok: false, why: 'stale' };
  const expected = Buffer.from(tickSignature(secret, cred.t), 'hex');
  const given = Buffer.from(cred.v1.toLowerCase(), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? { ok: true } : { ok: false, why: 'bad_signature' };
}
