/**
 * GET /api/history?from=&to=&group=&campaign_id=&agent_id= — the supervisor's history
 * (docs/history.md), for supervisor and admin sessions: by time bucket (hour or day, São
 * Paulo time), campaign and agent, dispositions, the AMD mix and the service queues, in one
 * database round trip (history_report). Dates YYYY-MM-DD are São Paulo days, both included.
 * Refusals: 400 bad_request (the message says what), 401, 403 forbidden_role, 404 not_found
 * (an unknown campaign or agent), 503 database_unavailable.
 */
import type { Context, ServerlessCallback } from '@twilio-labs/serverless-runtime-types/types';
import { apiFunction } from '../../lib/runtime/api';
import { historyFor } from '../../lib/domain/history-api';
import type { HistoryReport } from '../../lib/domain/history';

export type { HistoryReport };

export const handler = (context: Context, event: Record<string, unknown>, callback: ServerlessCallback): void =>
  apiFunction({ roles: ['admin', 'supervisor'], session: 'token-only' }, async (input): Promise<HistoryReport> => (await historyFor(input, event)).report)(
    context,
    event,
    callback,
  );
