/**
 * POST /api/supervisor/monitor/mode {monitor_id, mode} — switches a monitoring live between
 * listen, whisper and barge (Participants update: Muted, Coaching, CallSidToCoach on the
 * supervisor's leg). Answers {monitor}. 404 not_found, 409 monitor_ended (the supervisor's leg is
 * gone), 409 call_ended (the customer's call is over: nothing is asked of Twilio), 409
 * whisper_unavailable (the account lacks Agent Conference, Twilio error 16000), 502
 * twilio_error. Logged.
 */
import type twilio from 'twilio';
import {
  isWhisperUnavailable, LoggedRefusal, modeUpdateParams, WHISPER_UNAVAILABLE_MESSAGE, monitorMode, positiveId, rawField, rpc, rpcOrRefuse, supervisorFunction, twilioFailure,
  type MonitorRow,
} from '../../../../lib/domain/supervisor';
import { twilioClientOptions } from '../../../../lib/runtime/twilio-client';

interface Checked {
  monitor: MonitorRow;
  conference_sid: string;
  coached_call_sid: string;
  participant_call_sid: string | null;
}

export const handler = supervisorFunction(
  { action: 'monitor_mode', body: { monitor_id: positiveId(), mode: monitorMode() }, targetOf: (e) => `monitor:${rawField(e, 'monitor_id')}` },
  async ({ config, db, body: b, actor, context }) => {
    const checked = await rpcOrRefuse<Checked>(db, 'supervisor_monitor_check', {
      p_actor: actor, p_monitor_id: b.monitor_id, p_action: 'monitor_mode', p_mode: b.mode,
    });
    const done = (result: string, detail: object) =>
      rpc<{ monitor: MonitorRow }>(db, 'supervisor_monitor_done', {
      p_actor: actor, p_monitor_id: b.monitor_id, p_action: 'monitor_mode', p_mode: b.mode, p_result: result, p_detail: detail,
      });
    if (!checked.participant_call_sid) {
      await done('monitor_ended', { message: 'the supervisor leg has no CallSid' });
      throw new LoggedRefusal(409, 'monitor_ended', 'this monitoring has no leg in the room');
    }
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
    try {
      await client.conferences(checked.conference_sid).participants(checked.participant_call_sid).update(modeUpdateParams(b.mode, checked.coached_call_sid));
    } catch (e) {
      const gone = (e as { status?: unknown }).status === 404;
      const noWhisper = isWhisperUnavailable(e);
      await done(gone ? 'monitor_ended' : noWhisper ? 'whisper_unavailable' : 'twilio_error', twilioFailure(e));
      if (gone) throw new LoggedRefusal(409, 'monitor_ended', 'the supervisor is no longer in the room');
      if (noWhisper) throw new LoggedRefusal(409, 'whisper_unavailable', WHISPER_UNAVAILABLE_MESSAGE);
      throw new LoggedRefusal(502, 'twilio_error', `Twilio did not change the mode: ${twilioFailure(e).message}`);
    }
    return { monitor: (await done('ok', {})).monitor };
  },
);
