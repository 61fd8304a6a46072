/**
 * /webhooks/debugger — Twilio's Debugger webhook (Console → Monitor → Debugger → webhook URL):
 * every error or warning on the account, as it happens. Signed by Twilio like every callback
 * (protected). One round trip: alert_debugger_event stores the event once per Sid; the next
 * heartbeat opens or worsens the alert of its error code and sends it (docs/alerts.md).
 * 204 stored (or a DEBUG/INFO level, ignored); 400 malformed (nothing stored); 503 database away.
 */
import { parseDebuggerEvent } from '../../lib/domain/alerts/debugger';
import { BadRequest } from '../../lib/runtime/http';
import { unwrap } from '../../lib/runtime/db';
import { webhookFunction } from '../../lib/runtime/handler';

export const handler = webhookFunction(async ({ params, db }) => {
  const parsed = parseDebuggerEvent(params);
  if (!parsed.ok) throw new BadRequest(`invalid debugger event: ${parsed.problems.join('; ')}`, 'invalid_parameters');
  if (!('event' in parsed)) return;
  const e = parsed.event;
  unwrap(
    await db.rpc('alert_debugger_event', {
      p_sid: e.sid,
      p_account_sid: e.accountSid,
      p_level: e.level,
      p_error_code: e.errorCode,
      p_resource_sid: e.resourceSid,
      p_occurred_at: e.occurredAt,
      p_payload: e.payload,
    }),
  );
});
