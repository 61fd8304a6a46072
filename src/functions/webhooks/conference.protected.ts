/**
 * /webhooks/conference — the statusCallback of every agent room (conference agent-<id>).
 * One round trip: apply_conference_event turns joins and leaves into the agent's state — the
 * shift leg joining records the room; a customer joining makes the agent busy on that call; the
 * customer leaving starts the wrap-up (WRAP_UP_SECONDS); the shift leg leaving ends the shift.
 * Repeated or reordered callbacks change nothing twice. Conferences that are not agent rooms
 * are acknowledged and ignored.
 */
import { unwrap } from '../../lib/runtime/db';
import { webhookFunction } from '../../lib/runtime/handler';
import { parseParams } from '../../lib/runtime/params';
import { text } from '../../lib/runtime/validate';

/** Twilio's conference callback parameters discador reads. */
const conferenceParams = {
  ConferenceSid: text({ pattern: /^CF[0-9a-f]{32}$/, message: 'must be CF followed by 32 hex characters' }),
  FriendlyName: text({ max: 128 }),
  StatusCallbackEvent: text({ max: 40 }),
  CallSid: text({ pattern: /^CA[0-9a-f]{32}$/, message: 'must be CA followed by 32 hex characters' }).optional(),
};

export const handler = webhookFunction(async ({ config, params, db }) => {
  const p = parseParams(conferenceParams, params);
  unwrap(
    await db.rpc('apply_conference_event', {
      p_event: {
        conference_name: p.FriendlyName,
        conference_sid: p.ConferenceSid,
        event: p.StatusCallbackEvent,
        call_sid: p.CallSid ?? null,
        wrap_up_seconds: config.WRAP_UP_SECONDS,
      },
    }),
  );
});
