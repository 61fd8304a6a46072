/**
 * GET /api/history/export?table=<name>&from=&to=&group=&campaign_id=&agent_id= — one table of
 * the supervisor's history as a CSV download for Excel pt-BR (docs/history.md): tables
 * buckets, campaigns, agents, dispositions, amd, queues; the same filters and refusals as
 * /api/history, plus 400 for an unknown table.
 */
import type { Context, ServerlessCallback } from '@twilio-labs/serverless-runtime-types/types';
import { apiFunction, checkSession, FileReply, requireRole } from '../../../lib/runtime/api';
import { BadRequest } from '../../../lib/runtime/http';
import { historyFor } from '../../../lib/domain/history-api';
import { HISTORY_TABLE_NAMES, type HistoryTableName } from '../../../lib/domain/history';
import { historyCsv, historyCsvName } from '../../../lib/domain/history-csv';

export const handler = (context: Context, event: Record<string, unknown>, callback: ServerlessCallback): void =>
  apiFunction({ roles: ['admin', 'supervisor'], session: 'token-only' }, async (input) => {
    const table = event['table'];
    if (typeof table !== 'string' || !(HISTORY_TABLE_NAMES as string[]).includes(table)) {
      requireRole(await checkSession(input.db, input.config, input.tokenHash!), ['admin', 'supervisor']);
      throw new BadRequest(`table must be one of ${HISTORY_TABLE_NAMES.join(', ')}`);
    }
    const { query, report } = await historyFor(input, event);
    const name = table as HistoryTableName;
    return new FileReply(historyCsv(report, name), 'text/csv; charset=utf-8', {
      'Content-Disposition': `attachment; filename="${historyCsvName(query, name)}"`,
    });
  })(context, event, callback);
