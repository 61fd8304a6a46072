/**
 * The database unreachable from the functions: the one alert the database cannot deduplicate.
 * Each warm function instance remembers, in memory, since when it has seen the database fail
 * and when it last said so; it sends the alert itself (Slack and WhatsApp/SMS, each within a
 * short deadline) at most once per ALERT_COOLDOWN_MINUTES, and when the database answers
 * again it records the outage there (alert_db_outage: once per outage, whichever instance
 * comes first), which queues the "resolved" message for the heartbeat to deliver.
 *
 * Limits (docs/alerts.md): instances do not share memory, so every warm instance that sees the
 * outage may send its own alert (one per process per cool-down); a cold start
 * forgets; an instance that never sees the database again never records its view of it (another
 * one does).
 */
import type twilio from 'twilio';
import type { Db } from '../../runtime/db';
import { brasiliaTime, type AlertMessage } from './format';
import { sendOn } from './deliver';
import { alertChannels, alertSettings, deliverableChannels, type AlertConfig } from './settings';
import { ALERT_LABELS, DB_UNREACHABLE_OPENED } from './texts';

/** How long the alert itself may take (ms): the request that noticed the outage waits for it. */
export const OUTAGE_SEND_TIMEOUT_MS = 2500;
/** After a send no channel accepted, the next try waits this long (ms). */
const UNDELIVERED_RETRY_MS = 60_000;

interface OutageState {
  downSince: number | null;
  announcedAt: number | null;
  triedAt: number | null;
}
// On globalThis rather than in this module: every function is its own bundle with its own copy
// of this module, and functions served by one process (twilio-run locally) then share one memory.
const holder = globalThis as unknown as { __discadorDbOutage?: OutageState };
const state: OutageState = (holder.__discadorDbOutage ??= { downSince: null, announcedAt: null, triedAt: null });

/** True while this instance has seen the database fail and not yet seen it answer. */
export function outageOpen(): boolean {
  return state.downSince !== null;
}

/** Forgets everything (tests). */
export function resetOutageState(): void {
  state.downSince = null;
  state.announcedAt = null;
  state.triedAt = null;
}

/** The message the functions send on their own. */
export function outageMessage(sinceMs: number, nowMs: number): AlertMessage {
  return {
    alert_id: null,
    rule: 'db_unreachable',
    subject: 'database',
    subject_label: ALERT_LABELS.database,
    severity: 'critical',
    title: DB_UNREACHABLE_OPENED.replace('{since}', brasiliaTime(new Date(sinceMs))),
    value: Math.round((nowMs - sinceMs) / 1000),
    threshold: null,
    detail: {},
    kind: 'opened',
    at: new Date(nowMs).toISOString(),
    opened_at: new Date(sinceMs).toISOString(),
  };
}

/**
 * The database did not answer: alert, unless this instance already did within the cool-down.
 * Never throws. Answers what it did.
 */
export async function noteDbUnavailable(deps: { config: AlertConfig; twilio: () => twilio.Twilio }, nowMs = Date.now()): Promise<'sent' | 'cooldown' | 'undelivered' | 'off'> {
  state.downSince ??= nowMs;
  const cooldownMs = deps.config.ALERT_COOLDOWN_MINUTES * 60_000;
  if (state.announcedAt !== null && nowMs - state.announcedAt < Math.max(cooldownMs, 1)) return 'cooldown';
  if (state.announcedAt === null && state.triedAt !== null && nowMs - state.triedAt < UNDELIVERED_RETRY_MS) return 'cooldown';
  const channels = alertChannels(deps.config).filter((c) => c.name === 'slack' || c.from !== null);
  if (channels.length === 0) return 'off';
  state.triedAt = nowMs;
  const m = outageMessage(state.downSince, nowMs);
  const results = await Promise.all(channels.map((c) => sendOn(c, deps.twilio, m, null, OUTAGE_SEND_TIMEOUT_MS).catch(() => ({ ok: false as const, error: 'send failed' }))));
  for (const [i, r] of results.entries()) if (!r.ok) console.error(`[discador] database-unreachable alert on ${channels[i]!.name} failed: ${r.error}`);
  if (results.some((r) => r.ok)) {
    state.announcedAt = nowMs;
    return 'sent';
  }
  return 'undelivered';
}

/**
 * The database answered: if this instance saw it down, record the outage there (its
 * "resolved" message queued when the outage was announced) and forget it. Never throws; on a
 * failure the state is kept for the next request.
 */
export async function noteDbAvailable(deps: { db: Db; config: AlertConfig }, nowMs = Date.now()): Promise<boolean> {
  if (state.downSince === null) return false;
  const since = state.downSince;
  const announced = state.announcedAt !== null;
  try {
    const r = await deps.db.rpc('alert_db_outage', {
      p_since: new Date(since).toISOString(),
      p_until: new Date(Math.max(nowMs, since)).toISOString(),
      p_channels: deliverableChannels(alertChannels(deps.config)),
      p_settings: alertSettings(deps.config),
      p_announced: announced,
    });
    if (r.error) return false;
    resetOutageState();
    return true;
  } catch {
    return false;
  }
}
