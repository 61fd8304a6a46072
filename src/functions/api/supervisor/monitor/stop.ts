/**
 * POST /api/supervisor/monitor/stop {monitor_id} — takes the supervisor out of the agent's room
 * (Participants delete of the supervisor's leg, which also cancels a leg still ringing). The
 * room, the customer and the agent carry on. Answers {ok: true}, also when the monitoring had
 * already ended (nothing asked of Twilio then). A leg with no CallSid stored yet is removed by
 * its label supervisor-<monitor id>. 404 not_found, 502 twilio_error. Logged.
 */
import type twilio from 'twilio';
import { isGone, LoggedRefusal, monitorLabel, positiveId, rawField, rpc, rpcOrRefuse, supervisorFunction, twilioFailure, type MonitorRow } from '../../../../lib/domain/supervisor';
import { twilioClientOptions } from '../../../../lib/runtime/twilio-client';

interface Checked {
  done?: true;
  monitor: MonitorRow;
  conference_sid: string;
  participant_call_sid: string | null;
}

export const handler = supervisorFunction(
  { action: 'monitor_stop', body: { monitor_id: positiveId() }, targetOf: (e) => `monitor:${rawField(e, 'monitor_id')}` },
  async ({ config, db, body: b, actor, context }) => {
    const checked = await rpcOrRefuse<Checked>(db, 'supervisor_monitor_check', {
      p_actor: actor, p_monitor_id: b.monitor_id, p_action: 'monitor_stop', p_mode: null,
    });
    if (checked.done) return { ok: true };
    const done = (result: string, detail: object) =>
      rpc(db, 'supervisor_monitor_done', { p_actor: actor, p_monitor_id: b.monitor_id, p_action: 'monitor_stop', p_mode: null, p_result: result, p_detail: detail });
    const sid = checked.participant_call_sid;
    // By CallSid, or by the leg's label while it has none stored yet (a leg still ringing, or one
    // whose create answer was lost): Participants delete takes either.
    const participant = sid ?? monitorLabel(b.monitor_id);
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
    try {
      await client.conferences(checked.conference_sid).participants(participant).remove();
    } catch (e) {
      if (!isGone(e)) {
        await done('twilio_error', twilioFailure(e));
        throw new LoggedRefusal(502, 'twilio_error', `Twilio did not remove the supervisor: ${twilioFailure(e).message}`);
      }
    }
    await done('ok', { participant });
    return { ok: true };
  },
);
