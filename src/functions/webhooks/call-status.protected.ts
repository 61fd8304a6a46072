/**
 * /webhooks/call-status — every call's statusCallback. One round trip: apply_call_status logs
 * the callback in call_events and folds it into calls (apply_call_event), idempotently and
 * monotonically, so repeated or reordered callbacks end in the same row; a final status also
 * releases the agent of that call (wrap-up for WRAP_UP_SECONDS, or available with a missed
 * call when it was still an offer) and ends the shift of a shift leg.
 */
import { statusCallbackEvent } from '../../lib/domain/call-events';
import { unwrap } from '../../lib/runtime/db';
import { webhookFunction } from '../../lib/runtime/handler';
import { parseParams, statusCallbackParams } from '../../lib/runtime/params';

export const handler = webhookFunction(async ({ config, params, db }) => {
  const callback = parseParams(statusCallbackParams, params);
  unwrap(await db.rpc('apply_call_status', { p_event: { ...statusCallbackEvent(callback, params), wrap_up_seconds: config.WRAP_UP_SECONDS } }));
});
