import type { StatusCallbackParams, VoiceParams } from '../runtime/params';

/** The JSON apply_call_event / start_inbound_call take (snake_case, as the SQL reads it). */
export interface CallEvent {
  call_sid: string;
  account_sid?: string;
  call_status: string;
  direction?: string;
  /** The parties as Twilio sent them (absent when unusable: see voiceParams). */
  from?: string;
  to?: string;
  parent_call_sid?: string;
  sequence_number?: number;
  call_duration?: number;
  event_at?: string;
  kind?: 'status' | 'amd' | 'voice';
  /** The dial attempt this call belongs to (from our own answer/status URLs), so the CallSid is attached even if placeCall never did. */
  attempt_id?: number;
  params: Record<string, string>;
}

/** The query parameter carrying a dial attempt's id in the URLs placeCall gives Twilio. */
export const ATTEMPT_PARAM = 'attempt';

/** The dial attempt id of a webhook, when its URL carries a well-formed one (else undefined). */
export function attemptId(raw: Record<string, string>): number | undefined {
  const v = raw[ATTEMPT_PARAM];
  if (v === undefined || !/^[1-9][0-9]{0,17}$/.test(v)) return undefined;
  return Number(v);
}

/** A status callback as a call event; Twilio's RFC 2822 Timestamp becomes ISO 8601. */
export function statusCallbackEvent(p: StatusCallbackParams, raw: Record<string, string>): CallEvent {
  return {
    ...voiceEvent(p, raw),
    kind: 'status',
    sequence_number: p.SequenceNumber,
    call_duration: p.CallDuration,
    event_at: p.Timestamp ? new Date(p.Timestamp).toISOString() : undefined,
  };
}

/** A voice webhook (VoiceUrl / answer URL) as a call event, timed at receipt. */
export function voiceEvent(p: VoiceParams, raw: Record<string, string>): CallEvent {
  return {
    call_sid: p.CallSid,
    account_sid: p.AccountSid,
    call_status: p.CallStatus,
    direction: p.Direction,
    from: p.From,
    to: p.To,
    parent_call_sid: p.ParentCallSid,
    attempt_id: attemptId(raw),
    params: raw,
  };
}
