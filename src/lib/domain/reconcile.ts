/**
 * Reconciliation: the database's view of calls repaired from Twilio's. A status callback
 * answered with a 503 (database away) is retried by Twilio only within its 15 s budget, so a
 * longer outage leaves calls stuck as ringing or in-progress. A run reads Twilio's Call
 * resource for each call that is not terminal in the database and has been quiet for a while,
 * and applies the final state through apply_call_event (reconcile_call), so the row ends as a
 * delivered callback would have left it. Safe to run at any time, from several places at once:
 * every write is idempotent and monotonic.
 */
import type twilio from 'twilio';
import { unwrap, type Db } from '../runtime/db';

/** What reconcile_candidates lists. */
export interface ReconcileCandidate {
  call_sid: string;
  account_sid: string | null;
  status: string;
  updated_at: string;
  reconciled_at: string | null;
}

/** What happened to one candidate. */
export interface ReconcileItem {
  call_sid: string;
  /** Status in the database before the run. */
  status_before: string;
  /** Status Twilio reports (null when Twilio does not know the call or could not be asked). */
  twilio_status: string | null;
  /** applied: the final state was written; live: still live at Twilio; not_found: Twilio has no such call; would_apply: dry run; error: see `error`. */
  outcome: 'applied' | 'unchanged' | 'live' | 'not_found' | 'would_apply' | 'error';
  /** Status and duration in the database after the run (when written). */
  status_after?: string;
  duration?: number | null;
  error?: string;
}

/** A run's summary. */
export interface ReconcileReport {
  candidates: number;
  applied: number;
  live: number;
  not_found: number;
  errors: number;
  dry_run: boolean;
  items: ReconcileItem[];
}

/** Options of a run. */
export interface ReconcileOptions {
  /** Only calls with no event (and no reconciliation) for this many seconds (default 60). */
  olderThanSeconds?: number;
  /** At most this many calls per run (1-500, default 100). */
  limit?: number;
  /** Read from Twilio and report what would change; write nothing. */
  dryRun?: boolean;
  /** Twilio fetches in flight at once (default 4; Twilio's REST API limits concurrency per account). */
  concurrency?: number;
}

const TERMINAL = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

type CallInstance = Awaited<ReturnType<ReturnType<twilio.Twilio['calls']>['fetch']>>;

/** The Call resource as reconcile_call takes it (times as ISO 8601). */
export function callResourceEvent(call: CallInstance): Record<string, unknown> {
  const iso = (d: Date | null | undefined) => (d instanceof Date && !Number.isNaN(d.getTime()) ? d.toISOString() : null);
  const duration = call.duration === null || call.duration === undefined || call.duration === '' ? null : Number(call.duration);
  return {
    call_sid: call.sid,
    found: true,
    status: call.status,
    duration: Number.isInteger(duration) && duration! >= 0 ? duration : null,
    start_time: iso(call.startTime),
    end_time: iso(call.endTime),
    answered_by: call.answeredBy || null,
    account_sid: call.accountSid,
    direction: call.direction,
    from: call.from,
    to: call.to,
    parent_call_sid: call.parentCallSid || null,
    resource: {
      sid: call.sid,
      status: call.status,
      duration: call.duration,
      start_time: iso(call.startTime),
      end_time: iso(call.endTime),
      answered_by: call.answeredBy ?? null,
    },
  };
}

function isNotFound(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { status?: unknown }).status === 404;
}

/** Runs fn over items with at most `n` in flight, keeping the order of results. */
async function mapLimit<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, items.length)) }, worker));
  return out;
}

/**
 * One reconciliation run: lists candidates (one bounded SQL call), fetches each from Twilio
 * (under its own account, so subaccount calls work) and applies the terminal ones.
 * Throws DbUnavailable when the database cannot be reached to list candidates; a failure on
 * one call is reported in its item and does not stop the others.
 */
export async function reconcileCalls(deps: { db: Db; twilio: twilio.Twilio }, opts: ReconcileOptions = {}): Promise<ReconcileReport> {
  const candidates = unwrap(
    await deps.db.rpc<ReconcileCandidate[]>('reconcile_candidates', {
      p_older_than_seconds: opts.olderThanSeconds ?? 60,
      p_limit: opts.limit ?? 100,
    }),
  );
  const dryRun = opts.dryRun ?? false;
  const items = await mapLimit(candidates, opts.concurrency ?? 4, async (c): Promise<ReconcileItem> => {
    const item: ReconcileItem = { call_sid: c.call_sid, status_before: c.status, twilio_status: null, outcome: 'error' };
    let event: Record<string, unknown>;
    try {
      const account = c.account_sid ? deps.twilio.api.v2010.accounts(c.account_sid) : deps.twilio.api.v2010.account;
      const call = await account.calls(c.call_sid).fetch();
      event = callResourceEvent(call);
      item.twilio_status = call.status;
    } catch (e) {
      if (!isNotFound(e)) return { ...item, error: `Twilio: ${e instanceof Error ? e.message : String(e)}` };
      item.outcome = 'not_found';
      event = { call_sid: c.call_sid, found: false };
    }
    const terminal = item.twilio_status !== null && TERMINAL.has(item.twilio_status);
    if (dryRun) return { ...item, outcome: terminal ? 'would_apply' : item.outcome === 'not_found' ? 'not_found' : 'live' };
    const r = await deps.db.rpc<{ status: string; duration: number | null; changed: boolean }>('reconcile_call', { p_call: event });
    if (r.error) return { ...item, outcome: 'error', error: `database: ${r.error.message}` };
    const outcome = item.outcome === 'not_found' ? 'not_found' : !terminal ? 'live' : r.data.changed ? 'applied' : 'unchanged';
    return { ...item, outcome, status_after: r.data.status, duration: r.data.duration };
  });
  return {
    candidates: candidates.length,
    applied: items.filter((i) => i.outcome === 'applied').length,
    live: items.filter((i) => i.outcome === 'live').length,
    not_found: items.filter((i) => i.outcome === 'not_found').length,
    errors: items.filter((i) => i.outcome === 'error').length,
    dry_run: dryRun,
    items,
  };
}
