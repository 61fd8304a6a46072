/**
 * What GET /api/history and /api/history/export share: the query read (400 with a message
 * for a person), then the whole report in one database round trip (history_report checks the
 * session and the role itself). Input that cannot be read is refused only after the session
 * and the role were checked (a second round trip on that path alone), so who is asking is
 * settled before what they sent is judged, as for every /api URL.
 *
 * A report costs time in proportion to the range's calls, so it gets its own budget
 * (HISTORY_TIMEOUT_MS, longer than a webhook's DB_TIMEOUT_MS, within the /api deadline and
 * Functions' 10 s), and the SQL stops at the same bound (history_report's statement_timeout).
 * A report that runs out of it is 503 report_timeout: the database answered (or was still
 * working), so it is not an outage and does not raise the database-unreachable alert; a
 * connection that fails is still DbUnavailable (503 database_unavailable, and the alert).
 */
import { ApiError, ForbiddenRole, NotFound, SessionExpired, checkSession, requireRole, type ApiInput } from '../runtime/api';
import { BadRequest } from '../runtime/http';
import { DB_UNAVAILABLE, unwrap, type Db, type RpcResult } from '../runtime/db';
import { HistoryQueryError, parseHistoryQuery, type HistoryQuery, type HistoryReport } from './history';

/** How long a report may take (ms): the /api deadline is 8 s, Functions stop at 10 s. */
export const HISTORY_TIMEOUT_MS = 7000;

/** 503: the report did not finish within its budget (a narrower range or a filter will). */
export class ReportTimeout extends ApiError {
  constructor() {
    super(503, 'report_timeout', `the report took longer than ${HISTORY_TIMEOUT_MS / 1000} s; choose a shorter period or a campaign`);
  }
}

/**
 * history_report within HISTORY_TIMEOUT_MS. Our own abort, or the database cancelling the
 * statement (SQLSTATE 57014), is ReportTimeout; any other failure is what db.rpc answers.
 */
export async function historyRpc<T>(db: Db, args: Record<string, unknown>, timeoutMs = HISTORY_TIMEOUT_MS): Promise<RpcResult<T>> {
  const signal = AbortSignal.timeout(timeoutMs);
  let res: { data: unknown; error: { code?: string; message: string } | null; status: number };
  try {
    res = await db.client.rpc('history_report', args).abortSignal(signal);
  } catch (e) {
    if (signal.aborted) throw new ReportTimeout();
    return { data: null, error: { code: DB_UNAVAILABLE, message: e instanceof Error ? e.message : String(e) } };
  }
  if (!res.error) return { data: res.data as T, error: null };
  if (res.error.code === '57014' || (res.status === 0 && signal.aborted)) throw new ReportTimeout();
  const unavailable = res.status === 0 || res.status >= 500 || !res.error.code;
  return { data: null, error: { code: unavailable ? DB_UNAVAILABLE : res.error.code!, message: res.error.message } };
}

type Refusal = { refused: 'forbidden' } | { refused: 'bad_range' | 'not_found'; message: string };

/** Reads the query and answers the report, or throws the refusal. */
export async function historyFor(input: ApiInput<unknown>, event: Record<string, unknown>): Promise<{ query: HistoryQuery; report: HistoryReport }> {
  const { config, db, tokenHash } = input;
  let query: HistoryQuery;
  try {
    query = parseHistoryQuery(event, Date.now());
  } catch (e) {
    if (!(e instanceof HistoryQueryError)) throw e;
    requireRole(await checkSession(db, config, tokenHash!), ['admin', 'supervisor']);
    throw new BadRequest(e.message);
  }
  const answer = unwrap(
    await historyRpc<HistoryReport | Refusal | null>(db, {
      p_session_hash: tokenHash,
      p_idle_seconds: config.SESSION_IDLE_MINUTES * 60,
      p_from: query.from,
      p_to: query.to,
      p_group: query.group,
      p_campaign_id: query.campaignId,
      p_agent_id: query.agentId,
      p_short_seconds: config.SHORT_CALL_SECONDS,
    }),
  );
  if (!answer) throw new SessionExpired();
  if ('refused' in answer) {
    if (answer.refused === 'forbidden') throw new ForbiddenRole();
    if (answer.refused === 'not_found') throw new NotFound(answer.message);
    throw new ApiError(400, 'bad_request', answer.message);
  }
  return { query, report: answer };
}
