/**
 * Reconciliation: the database's view of calls repaired from Twilio's. A status callback
 * answered with a 503 (database away) is retried by Twilio only within its 15 s budget, so a
 * longer outage leaves calls stuck as ringing or in-progress. A run reads Twilio's Call
 * resource for each call that is not terminal in the database and has been quiet for a while,
 * and applies the final state through apply_call_event (reconcile_call), so the row ends as a
 * delivered callback would have left it. Safe to run at any time, from several places at once:
 * every write is idempotent and monotonic.
 *
 * Dial attempts that never got a CallSid (placeCall gave up on the database, Twilio's Calls
 * create failed with a 5xx or a network error, or the call ended while every webhook got a 503)
 * are settled too, once old enough: Twilio's Calls list is searched for a call with the
 * attempt's To and From created around it. One call found (and held by no other row) is
 * attached and reconciled like the others; none found means the call was never placed: the
 * attempt fails with end_reason never_placed and gives the caller ID's daily count back;
 * several found are left alone and reported.
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
  /** Dial attempts without a CallSid, settled before the calls above were listed. */
  attempts: {
    candidates: number;
    attached: number;
    never_placed: number;
    ambiguous: number;
    errors: number;
    items: AttemptItem[];
  };
}

/** What dial_attempt_candidates lists. */
export interface AttemptCandidate {
  id: number;
  from_number: string;
  to_number: string;
  created_at: string;
}

/** What happened to one dial attempt without a CallSid. */
export interface AttemptItem {
  attempt_id: number;
  to: string;
  from: string;
  /** CallSids Twilio lists for the attempt (same To and From, created around it). */
  twilio_calls: string[];
  /**
   * attached: the one call found was attached (and reconciled); never_placed: no call at Twilio,
   * the attempt failed and its daily count came back; ambiguous: several calls, left alone;
   * unchanged: settled meanwhile (a webhook attached it); would_attach / would_fail: dry run;
   * error: see `error` (nothing written).
   */
  outcome: 'attached' | 'never_placed' | 'ambiguous' | 'unchanged' | 'would_attach' | 'would_fail' | 'error';
  call_sid?: string;
  twilio_status?: string;
  status_after?: string;
  error?: string;
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
  /** Dial attempts without a CallSid recorded at least this many seconds ago (default 600). */
  attemptsOlderThanSeconds?: number;
}

/** Twilio lists calls created this long before or after the attempt row as candidates of it. */
export const ATTEMPT_MATCH_BEFORE_MS = 60_000;
export const ATTEMPT_MATCH_AFTER_MS = 10 * 60_000;

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
  const attempts = await settleAttempts(deps, opts);
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
    attempts: {
      candidates: attempts.length,
      attached: attempts.filter((i) => i.outcome === 'attached').length,
      never_placed: attempts.filter((i) => i.outcome === 'never_placed').length,
      ambiguous: attempts.filter((i) => i.outcome === 'ambiguous').length,
      errors: attempts.filter((i) => i.outcome === 'error').length,
      items: attempts,
    },
  };
}

/**
 * The calls Twilio has for one attempt: same To and From, created from a minute before the
 * attempt row to ten minutes after it. Twilio's Calls list filters by To, From and StartTime
 * (its StartTime> / StartTime< may only honour the date, so the window is applied again here
 * on DateCreated); calls still queued have no StartTime and are listed separately.
 */
async function callsForAttempt(tw: twilio.Twilio, a: AttemptCandidate): Promise<CallInstance[]> {
  const created = new Date(a.created_at).getTime();
  const from = created - ATTEMPT_MATCH_BEFORE_MS;
  const to = created + ATTEMPT_MATCH_AFTER_MS;
  const [started, queued] = await Promise.all([
    tw.calls.list({ to: a.to_number, from: a.from_number, startTimeAfter: new Date(from), startTimeBefore: new Date(to), pageSize: 50, limit: 200 }),
    tw.calls.list({ to: a.to_number, from: a.from_number, status: 'queued', pageSize: 50, limit: 200 }),
  ]);
  const bySid = new Map<string, CallInstance>();
  for (const c of [...started, ...queued]) {
    const t = c.dateCreated instanceof Date ? c.dateCreated.getTime() : NaN;
    if (t >= from && t <= to && !c.parentCallSid) bySid.set(c.sid, c);
  }
  return [...bySid.values()];
}

/** Settles dial attempts without a CallSid (see the module's comment); one at a time, oldest first. */
async function settleAttempts(deps: { db: Db; twilio: twilio.Twilio }, opts: ReconcileOptions): Promise<AttemptItem[]> {
  const candidates = unwrap(
    await deps.db.rpc<AttemptCandidate[]>('dial_attempt_candidates', {
      p_older_than_seconds: opts.attemptsOlderThanSeconds ?? 600,
      p_limit: opts.limit ?? 100,
    }),
  );
  const dryRun = opts.dryRun ?? false;
  const out: AttemptItem[] = [];
  // In order, not concurrently: two attempts with the same To and From must not both claim one call.
  for (const a of candidates) {
    const item: AttemptItem = { attempt_id: a.id, to: a.to_number, from: a.from_number, twilio_calls: [], outcome: 'error' };
    let calls: CallInstance[];
    try {
      calls = await callsForAttempt(deps.twilio, a);
    } catch (e) {
      out.push({ ...item, error: `Twilio: ${e instanceof Error ? e.message : String(e)}` });
      continue;
    }
    item.twilio_calls = calls.map((c) => c.sid).sort();
    const r = await deps.db.rpc<{ outcome: 'attached' | 'never_placed' | 'ambiguous' | 'unchanged'; call_sid?: string | null }>('resolve_dial_attempt', {
      p_attempt_id: a.id,
      p_call_sids: item.twilio_calls,
      p_account_sid: calls[0]?.accountSid ?? null,
      p_dry_run: dryRun,
    });
    if (r.error) {
      out.push({ ...item, error: `database: ${r.error.message}` });
      continue;
    }
    const outcome = r.data.outcome;
    if (outcome !== 'attached') {
      out.push({ ...item, outcome: dryRun && outcome === 'never_placed' ? 'would_fail' : outcome, ...(r.data.call_sid ? { call_sid: r.data.call_sid } : {}) });
      continue;
    }
    const call = calls.find((c) => c.sid === r.data.call_sid)!;
    if (dryRun) {
      out.push({ ...item, outcome: 'would_attach', call_sid: call.sid, twilio_status: call.status });
      continue;
    }
    const applied = await deps.db.rpc<{ status: string }>('reconcile_call', { p_call: callResourceEvent(call) });
    if (applied.error) {
      out.push({ ...item, outcome: 'attached', call_sid: call.sid, twilio_status: call.status, error: `attached, not reconciled yet: ${applied.error.message}` });
      continue;
    }
    out.push({ ...item, outcome: 'attached', call_sid: call.sid, twilio_status: call.status, status_after: applied.data.status });
  }
  return out;
}
