/**
 * /webhooks/call-status — every call's statusCallback. One round trip: apply_call_status logs
 * the callback in call_events and folds it into calls (apply_call_event), idempotently and
 * monotonically, so repeated or reordered callbacks end in the same row; a final status also
 * releases the agent of that call (wrap-up for WRAP_UP_SECONDS, or available with a missed
 * call when it was still an offer) and ends the shift of a shift leg.
 * A final status of a campaign call frees a line: a pacing round for that campaign runs after
 * the write, before the answer (its failure is logged, never the webhook's).
 * A supervisor's leg (status callback URL with `monitor=<id>`, set by /api/supervisor/monitor)
 * only moves its monitor row (supervisor_call_status): it is not a call of the dialer, so no
 * calls row, no agent, no pacing.
 */
import type twilio from 'twilio';
import { statusCallbackEvent } from '../../lib/domain/call-events';
import { eventDeps, tickForEvent } from '../../lib/domain/dialer/tick';
import { unwrap } from '../../lib/runtime/db';
import { webhookFunction } from '../../lib/runtime/handler';
import { BadRequest } from '../../lib/runtime/http';
import { parseParams, statusCallbackParams } from '../../lib/runtime/params';
import { twilioClientOptions } from '../../lib/runtime/twilio-client';

const FINAL = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

export const handler = webhookFunction(async ({ config, params, db, context }) => {
  const callback = parseParams(statusCallbackParams, params);
  const monitor = params['monitor'];
  if (monitor !== undefined) {
    if (!/^[1-9][0-9]{0,14}$/.test(monitor)) throw new BadRequest('invalid webhook parameters: monitor must be a positive whole number', 'invalid_parameters');
    unwrap(await db.rpc('supervisor_call_status', { p_monitor_id: Number(monitor), p_call_sid: callback.CallSid, p_status: callback.CallStatus }));
    return;
  }
  const applied = unwrap(
    await db.rpc<{ campaign_id: number | null }>('apply_call_status', {
      p_event: { ...statusCallbackEvent(callback, params), wrap_up_seconds: config.WRAP_UP_SECONDS },
    }),
  );
  if (FINAL.has(callback.CallStatus) && applied.campaign_id) {
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const deps = eventDeps(db, config, () => context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio);
    await tickForEvent(deps, 'call_ended', applied.campaign_id);
  }
});
