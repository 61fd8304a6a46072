/**
 * GET /api/supervisor/actions?limit=50 — the supervisor action log, newest first (limit 1 to
 * 500, default 50): {actions: [{id, at, user_id, user_email, role, address, action, target,
 * detail, result}]}. Supervisors and admins only (403 forbidden_role); 400 bad_request for a
 * limit that is not a whole number from 1 to 500.
 */
import type { Context, ServerlessCallback } from '@twilio-labs/serverless-runtime-types/types';
import { apiFunction } from '../../../lib/runtime/api';
import { unwrap } from '../../../lib/runtime/db';
import { HttpError } from '../../../lib/runtime/http';

/** The `limit` query parameter: 50 when absent, else a whole number from 1 to 500. */
export function limitOf(raw: unknown): number {
  if (raw === undefined || raw === '') return 50;
  const s = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  if (!/^[1-9][0-9]{0,2}$/.test(s) || Number(s) > 500) throw new HttpError(400, 'bad_request', 'limit must be a whole number from 1 to 500');
  return Number(s);
}

export const handler = (context: Context, event: Record<string, unknown>, callback: ServerlessCallback): void =>
  apiFunction({ roles: ['supervisor', 'admin'] }, async ({ db }) => {
    const limit = limitOf(event['limit']);
    return unwrap(await db.rpc<{ actions: unknown[] }>('supervisor_actions_list', { p_limit: limit }));
  })(context, event, callback);
