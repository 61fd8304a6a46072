/**
 * /webhooks/conference — the statusCallback of every agent room (conference agent-<id>).
 * One round trip: apply_conference_event keeps every join and leave of the room's legs and
 * turns them into the agent's state — the shift leg (ParticipantLabel `agent`) joining records
 * the room and is never a customer; the agent's customer joining makes the agent busy on that
 * call (not after the call ended or the leg left, never over another live call); the customer
 * leaving starts the wrap-up (WRAP_UP_SECONDS); the current shift leg leaving ends the shift.
 * Any other participant changes nothing. Repeated or reordered callbacks end in the same state
 * (Twilio's SequenceNumber orders a leg's join and leave). Conferences that are not agent rooms
 * are acknowledged and ignored.
 */
import { unwrap } from '../../lib/runtime/db';
import { webhookFunction } from '../../lib/runtime/handler';
import { parseParams } from '../../lib/runtime/params';
import { int, text } from '../../lib/runtime/validate';

/** Twilio's conference callback parameters discador reads. */
const conferenceParams = {
  ConferenceSid: text({ pattern: /^CF[0-9a-f]{32}$/, message: 'must be CF followed by 32 hex characters' }),
  FriendlyName: text({ max: 128 }),
  StatusCallbackEvent: text({ max: 40 }),
  CallSid: text({ pattern: /^CA[0-9a-f]{32}$/, message: 'must be CA followed by 32 hex characters' }).optional(),
  // The label the leg joined with (`agent` for the shift leg); a label discador cannot read is
  // treated as none, which makes the leg nobody's customer unless it is the agent's own call.
  ParticipantLabel: text({ max: 128 }).orElse(undefined),
  // Numbers the conference's callbacks in the order Twilio produced them.
  SequenceNumber: int(0, 2_147_483_647).orElse(undefined),
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
        label: p.ParticipantLabel ?? null,
        sequence_number: p.SequenceNumber ?? null,
        wrap_up_seconds: config.WRAP_UP_SECONDS,
      },
    }),
  );
});
