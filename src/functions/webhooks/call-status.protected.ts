/**
 * /webhooks/call-status — every call's statusCallback. One round trip: apply_call_event logs
 * the callback in call_events and folds it into calls, idempotently and monotonically, so
 * repeated or reordered callbacks end in the same row.
 */
import { statusCallbackEvent } from '../../lib/domain/call-events';
import { unwrap } from '../../lib/runtime/db';
import { webhookFunction } from '../../lib/runtime/handler';
import { parseParams, statusCallbackParams } from '../../lib/runtime/params';

export const handler = webhookFunction(async ({ params, db }) => {
  const callback = parseParams(statusCallbackParams, params);
  unwrap(await db.rpc('apply_call_event', { p_event: statusCallbackEvent(callback, params) }));
});
