/**
 * POST /api/supervisor/monitor {call_sid, mode: listen|whisper|barge, to?} — the supervisor
 * joins the agent's room on that call as a conference participant (Participants create on the
 * room's ConferenceSid): listen muted, whisper coaching the agent's leg, barge heard by all. The
 * supervisor's audio goes to their browser (Voice SDK identity supervisor-<user id>, see
 * /api/voice-token) or, with `to`, to that phone (E.164). Answers {monitor}. 404 not_found (no
 * such call), 409 call_ended (the call is over: nothing is asked of Twilio, or it ended while
 * Twilio was asked), 409 no_agent (no agent is talking to the customer in a room, or the room
 * ended under the request), 409 whisper_unavailable (the account lacks Agent Conference), 400
 * bad_request / to_own_number / to_opted_out (`to` must be a Brazilian E.164 phone, not a number
 * of the account nor an opted-out one), 502 twilio_error (Twilio refused the participant). Every answer is logged in supervisor_actions.
 */
import type twilio from 'twilio';
import { isE164 } from '../../../lib/domain/e164';
import {
  isGone, isRoomGone, isSupervisorPhone, isWhisperUnavailable, LoggedRefusal, monitorLabel, monitorMode, WHISPER_UNAVAILABLE_MESSAGE, participantCreateParams, rawField, rpc, rpcOrRefuse, supervisorFunction, supervisorIdentity, twilioFailure,
  type MonitorMode, type MonitorRow,
} from '../../../lib/domain/supervisor';
import { twilioClientOptions } from '../../../lib/runtime/twilio-client';
import { text } from '../../../lib/runtime/validate';

const body = {
  call_sid: text({ pattern: /^CA[0-9a-f]{32}$/, message: 'must be CA followed by 32 hex characters' }),
  mode: monitorMode(),
  to: text({ max: 16 }).refine((v) => isE164(v) && isSupervisorPhone(v), 'must be a Brazilian phone number in E.164 form (+5511…)').optional(),
};

interface Begun {
  monitor: MonitorRow;
  conference_sid: string;
  coached_call_sid: string;
  from: string;
}

export const handler = supervisorFunction(
  { action: 'monitor_start', body, targetOf: (e) => `call:${rawField(e, 'call_sid')}` },
  async ({ config, db, body: b, actor, context }) => {
    const endpoint = b.to ?? `client:${supervisorIdentity(actor.user_id)}`;
    const begun = await rpcOrRefuse<Begun>(db, 'supervisor_monitor_begin', {
      p_actor: actor, p_call_sid: b.call_sid, p_mode: b.mode, p_endpoint: endpoint,
    });
    const id = begun.monitor.monitor_id;
    // The runtime types name an older twilio package; the object is this project's twilio client.
    const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
    let participantSid: string;
    try {
      const p = await client.conferences(begun.conference_sid).participants.create(
        participantCreateParams(config, { monitorId: id, mode: b.mode as MonitorMode, coachedCallSid: begun.coached_call_sid, endpoint, from: begun.from }),
      );
      participantSid = p.callSid;
    } catch (e) {
      if (isRoomGone(e)) {
        // The room ended under the request (the agent's shift leg left, or the call ended).
        const r = await rpc<{ result: string }>(db, 'supervisor_monitor_started', { p_actor: actor, p_monitor_id: id, p_participant_call_sid: null, p_result: 'room_gone', p_detail: twilioFailure(e) });
        throw new LoggedRefusal(409, r.result, r.result === 'call_ended' ? 'the call has ended' : 'the agent is no longer in a room on this call');
      }
      if (isWhisperUnavailable(e)) {
        await rpc(db, 'supervisor_monitor_started', { p_actor: actor, p_monitor_id: id, p_participant_call_sid: null, p_result: 'whisper_unavailable', p_detail: twilioFailure(e) });
        throw new LoggedRefusal(409, 'whisper_unavailable', WHISPER_UNAVAILABLE_MESSAGE);
      }
      // The request may have reached Twilio anyway (a timeout, a 5xx): take out whatever leg it made.
      await client.conferences(begun.conference_sid).participants(monitorLabel(id)).remove().catch(() => undefined);
      await rpc(db, 'supervisor_monitor_started', { p_actor: actor, p_monitor_id: id, p_participant_call_sid: null, p_result: 'twilio_error', p_detail: twilioFailure(e) });
      throw new LoggedRefusal(502, 'twilio_error', `Twilio did not add the supervisor to the call: ${twilioFailure(e).message}`);
    }
    const done = await rpc<{ monitor: MonitorRow; call_over: boolean }>(db, 'supervisor_monitor_started', {
      p_actor: actor, p_monitor_id: id, p_participant_call_sid: participantSid, p_result: 'ok', p_detail: {},
    });
    if (done.call_over) {
      // The customer left while Twilio was adding the supervisor: take the supervisor out again.
      await client.conferences(begun.conference_sid).participants(participantSid).remove().catch((e: unknown) => {
        if (!isGone(e)) console.error(`[discador] supervisor of monitor ${id} not removed: ${twilioFailure(e).message}`);
      });
      throw new LoggedRefusal(409, 'call_ended', 'the call ended while the supervisor was being added');
    }
    return { monitor: done.monitor };
  },
);
