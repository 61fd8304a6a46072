/**
 * POST /api/jobs — the jobs heartbeat. Alerts (docs/alerts.md): evaluates every rule, opens,
 * worsens and resolves alerts, and delivers the due messages to Slack and WhatsApp (each send
 * within 3 s, the whole round within ALERT_BUDGET_MS, run beside the recordings' work); when
 * the database cannot be reached it sends the database-unreachable alert itself. Recordings:
 * runs due S3 transfer jobs (download from Twilio, SHA-256, upload, read back, compare, then
 * delete from Twilio; resumed with backoff) for about 8 s, then retention (S3 copies older than RECORDING_RETENTION_DAYS, never below 90,
 * are deleted; the row keeps s3_deleted_at). Supervisors: takes out of the agent's room every
 * supervisor whose customer is gone and whom the room's callbacks did not take out
 * (docs/supervisor-actions.md). Answers {alerts: {opened, worse, resolved, open, deliveries,
 * channels} (or {error}), supervisors: {removed, failed} (or {error}), transfers: [{sid,
 * outcome, …}], retention: {deleted, errors}}. docs/recordings.md.
 *
 * Who may call: the heartbeat, with the same credential as /api/tick
 * (`X-Discador-Tick: t=<unix seconds>,v1=<hex HMAC-SHA256(TICK_SECRET, t)>`, or a JSON body
 * {t, v1}; ±60 s), or a signed-in supervisor or admin. A bad credential is 401, nothing runs.
 * TICK_SECRET unset: 503 tick_not_configured. S3_BUCKET unset: 200 with nothing done
 * (recordings stay in Twilio).
 */
import type { Context, ServerlessCallback, TwilioResponse } from '@twilio-labs/serverless-runtime-types/types';
import { parseTickHeader, TICK_HEADER, verifyTick } from '../../lib/domain/dialer/tick-auth';
import { transferDeps } from '../../lib/domain/recordings/deps';
import { runRecordingJobs, runRetention } from '../../lib/domain/recordings/transfer';
import { ApiError, checkSession, failureResponse, header, jsonResponse, requestOf, requestToken, requireRole, tokenHash, Unauthenticated } from '../../lib/runtime/api';
import { loadConfig } from '../../lib/runtime/config';
import { DbUnavailable, getDb, type Db } from '../../lib/runtime/db';
import type twilio from 'twilio';
import { runAlerts } from '../../lib/domain/alerts/round';
import { sweepMonitors } from '../../lib/domain/supervisor';
import { noteDbAvailable, noteDbUnavailable, outageOpen, probeDb } from '../../lib/domain/alerts/db-outage';
import type { Config } from '../../lib/runtime/config';
import { twilioClientOptions } from '../../lib/runtime/twilio-client';

/** Time the transfers may take (Functions stop at 10 s); retention gets what is left up to RUN_DEADLINE_MS. */
const TRANSFER_BUDGET_MS = 7000;
const RUN_DEADLINE_MS = 8500;
/** Time the alert round may take (3 round trips and sends of at most 3 s each, in parallel). */
const ALERT_BUDGET_MS = 5000;

const AUTH_MESSAGES = {
  missing: 'send X-Discador-Tick: t=<unix seconds>,v1=<hex HMAC-SHA256 of t>, or sign in as a supervisor',
  malformed: 'the tick credential is malformed: t=<unix seconds>,v1=<64 hex characters>',
  stale: 'the tick timestamp is more than 60 s away from the server clock',
  bad_signature: 'the tick signature does not match',
} as const;

/**
 * The alert round, never longer than ALERT_BUDGET_MS and never throwing: a database that does
 * not answer is itself the alert (sent from here, deduplicated in this instance's memory).
 */
async function alertRound(config: Config, db: Db, client: () => twilio.Twilio): Promise<Record<string, unknown>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ALERT_BUDGET_MS);
  });
  try {
    if (outageOpen()) await noteDbAvailable({ db, config });
    const round = await Promise.race([runAlerts({ db, config, twilio: client }), late]);
    // Slow, not unreachable (each database request has its own DB_TIMEOUT_MS): the next beat carries on.
    if (round === 'late') return { error: 'over_budget', budget_ms: ALERT_BUDGET_MS };
    return { ...round };
  } catch (e) {
    if (e instanceof DbUnavailable) {
      const outage = await noteDbUnavailable({ config, twilio: client, probe: () => probeDb(db) });
      return { error: 'database_unavailable', outage_alert: outage };
    }
    console.error(`[discador] /api/jobs alerts: ${e instanceof Error ? e.message : String(e)}`);
    return { error: 'failure' };
  } finally {
    clearTimeout(timer);
  }
}

/** Supervisors left in a room without their customer, taken out (never throws). */
async function supervisorSweep(db: Db, client: () => twilio.Twilio): Promise<Record<string, unknown>> {
  try {
    return { ...(await sweepMonitors({ db, twilio: client })) };
  } catch (e) {
    console.error(`[discador] /api/jobs supervisor sweep: ${e instanceof Error ? e.message : String(e)}`);
    return { error: e instanceof DbUnavailable ? 'database_unavailable' : 'failure' };
  }
}

function field(event: Record<string, unknown>, name: string): string | undefined {
  const v = event[name];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

export const handler = (context: Context, event: Record<string, unknown>, callback: ServerlessCallback): void => {
  const started = Date.now();
  const run = async (): Promise<TwilioResponse> => {
    const config = loadConfig(context);
    if (!config.TICK_SECRET) throw new ApiError(503, 'tick_not_configured', 'TICK_SECRET is not set: the heartbeat is off');
    const req = requestOf(event);
    const sent = header(req, TICK_HEADER);
    const bodyT = field(event, 't');
    const bodyV1 = field(event, 'v1');
    const db = getDb({ url: config.SUPABASE_URL, serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY, timeoutMs: config.DB_TIMEOUT_MS });
    if (sent !== undefined || bodyT !== undefined || bodyV1 !== undefined) {
      const cred = sent !== undefined ? parseTickHeader(sent) : bodyT !== undefined && bodyV1 !== undefined ? { t: bodyT, v1: bodyV1 } : null;
      const verdict = cred ? verifyTick(config.TICK_SECRET, cred) : ({ ok: false, why: 'malformed' } as const);
      if (!verdict.ok) throw new ApiError(401, `tick_${verdict.why}`, AUTH_MESSAGES[verdict.why]);
    } else {
      const token = requestToken(req);
      if (token === undefined) throw new Unauthenticated(AUTH_MESSAGES.missing);
      if (token === null) throw new Unauthenticated('the session token is malformed; sign in again');
      requireRole(await checkSession(db, config, tokenHash(token)), ['supervisor', 'admin']);
    }
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const client = () => context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
    const alerts = alertRound(config, db, client);
    const supervisors = supervisorSweep(db, client);
    const deps = transferDeps(config, db, context as unknown as Record<string, unknown>);
    if (!deps) {
      return jsonResponse(200, {
        alerts: await alerts, supervisors: await supervisors, transfers: [], retention: { deleted: 0, errors: [] }, note: 'S3_BUCKET is not set: recordings stay in Twilio',
      });
    }
    const recordings = (async () => {
      const transfers = await runRecordingJobs(deps, { budgetMs: TRANSFER_BUDGET_MS - (Date.now() - started) });
      const retention = await runRetention(deps, { days: config.RECORDING_RETENTION_DAYS, budgetMs: Math.max(0, RUN_DEADLINE_MS - 500 - (Date.now() - started)) });
      return { transfers, retention };
    })();
    // Both run to their end (nothing may still run once the function has answered).
    const [a, r, sw] = await Promise.allSettled([alerts, recordings, supervisors]);
    if (r.status === 'rejected') {
      // The recordings' errors do not say why; the alert round knows when it was the database.
      if (a.status === 'fulfilled' && a.value['error'] === 'database_unavailable') throw new DbUnavailable(String(r.reason));
      throw r.reason;
    }
    return jsonResponse(200, { alerts: a.status === 'fulfilled' ? a.value : { error: 'failure' }, supervisors: sw.status === 'fulfilled' ? sw.value : { error: 'failure' }, ...r.value });
  };
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DbUnavailable(`no answer within ${RUN_DEADLINE_MS} ms`)), RUN_DEADLINE_MS);
  });
  Promise.race([run(), deadline])
    .finally(() => clearTimeout(timer))
    .then(
      (res) => callback(null, res),
      (err: unknown) => callback(null, failureResponse(context, err)),
    );
};
