/**
 * What GET /api/history and /api/history/export share: the query read (400 with a message
 * for a person), then the whole report in one database round trip (history_report checks the
 * session and the role itself). Input that cannot be read is refused only after the session
 * and the role were checked (a second round trip on that path alone), so who is asking is
 * settled before what they sent is judged, as for every /api URL.
 */
import { ApiError, ForbiddenRole, NotFound, SessionExpired, checkSession, requireRole, type ApiInput } from '../runtime/api';
import { BadRequest } from '../runtime/http';
import { unwrap } from '../runtime/db';
import { HistoryQueryError, parseHistoryQuery, type HistoryQuery, type HistoryReport } from './history';

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
    await db.rpc<HistoryReport | Refusal | null>('history_report', {
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
