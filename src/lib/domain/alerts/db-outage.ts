/**
 * The database unreachable from the functions: the one alert the database cannot deduplicate.
 * Each warm function instance remembers, in memory, since when it has seen the database fail
 * and when it last said so; it sends the alert itself (Slack and WhatsApp/SMS, each within a
 * short deadline) at most once per ALERT_COOLDOWN_MINUTES, and when the database answers
 * again it records the outage there (alert_db_outage: once per outage, whichever instance
 * comes first), which queues the "resolved" message for the heartbeat to deliver.
 *
 * A failed request alone is not an outage: a slow query aborted at DB_TIMEOUT_MS, or a
 * PostgREST 500 (deadlock, statement timeout: PostgREST maps SQLSTATE classes 40, 55, 57 to
 * 500, docs.postgrest.org "HTTP Status Codes"), says nothing about reachability. Before the
 * first alert of an outage the instance probes the database with a trivial read under its own
 * short deadline (probeDb); only a probe that fails at the connection level (no answer, a
 * gateway 502/503/504, PostgREST's connection errors PGRST000-PGRST003) confirms it.
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
/** How long the confirming probe may take (ms). */
export const OUTAGE_PROBE_TIMEOUT_MS = 1500;
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
 * Whether the database answers a trivial read within `timeoutMs`. False only for a
 * connection-level failure: no answer (network error, timeout), a gateway error (502, 503,
 * 504) or PostgREST's own "cannot reach the database" codes (PGRST000-PGRST003). Any other
 * answer, even an error, came from a reachable database. Never throws.
 */
export async function probeDb(db: Db, timeoutMs = OUTAGE_PROBE_TIMEOUT_MS): Promise<boolean> {
  try {
    const { error, status } = await db.client.from('alerts').select('id').limit(1).abortSignal(AbortSignal.timeout(timeoutMs));
    if (!error) return true;
    const connection = !status || status === 502 || status === 503 || status === 504 || /^PGRST00[0-3]$/.test(error.code ?? '');
    return !connection;
  } catch {
    return false;
  }
}

/**
 * A database request failed: alert, once the outage is confirmed (`probe` answers false: see
 * probeDb) and unless this instance already did within the cool-down. Never throws. Answers
 * what it did ('not_confirmed': the database answers the probe, nothing recorded).
 */
export async function noteDbUnavailable(
  deps: { config: AlertConfig; twilio: () => twilio.Twilio; probe: () => Promise<boolean> },
  nowMs = Date.now(),
): Promise<'sent' | 'cooldown' | 'undelivered' | 'off' | 'not_confirmed'> {
  if (state.downSince === null) {
    const reachable = await deps.probe().catch(() => false);
    if (reachable) return 'not_confirmed';
    state.downSince = nowMs;
  }
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
