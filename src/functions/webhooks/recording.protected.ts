/**
 * /webhooks/recording — the RecordingStatusCallback of every recording discador starts (a
 * customer leg in an agent's room, recorded dual-channel through the Calls Recordings API).
 * One round trip (recording_status): the recordings row is upserted, idempotent, its status
 * only moving forward (in-progress → completed | absent), with the call's agent and campaign
 * and the channel map of a two-channel file (customer on channel 1, agent on channel 2: see
 * docs/campaign-calls.md). A recording of a call discador does not know is acknowledged and
 * not stored; malformed parameters are refused with 400, nothing written.
 */
import { unwrap } from '../../lib/runtime/db';
import { webhookFunction } from '../../lib/runtime/handler';
import { EARLIEST_TIMESTAMP, MAX_TIMESTAMP_AHEAD_MS, parseParams } from '../../lib/runtime/params';
import { int, oneOf, rfc2822Date, text } from '../../lib/runtime/validate';

/** RecordingStatusCallback parameters (twilio.com/docs/voice/api/recording#recordingstatuscallback). */
const recordingParams = {
  AccountSid: text({ pattern: /^AC[0-9a-f]{32}$/, message: 'must be AC followed by 32 hex characters' }).orElse(undefined),
  CallSid: text({ pattern: /^CA[0-9a-f]{32}$/, message: 'must be CA followed by 32 hex characters' }),
  RecordingSid: text({ pattern: /^RE[0-9a-f]{32}$/, message: 'must be RE followed by 32 hex characters' }),
  RecordingStatus: oneOf(['in-progress', 'completed', 'absent', 'failed'] as const),
  RecordingUrl: text({ max: 2000, pattern: /^https?:\/\//, message: 'must be an http(s) URL' }).orElse(undefined),
  RecordingDuration: int(0, 24 * 3600).orElse(undefined),
  RecordingChannels: oneOf(['1', '2'] as const).orElse(undefined),
  RecordingSource: text({ max: 40, pattern: /^[A-Za-z]+$/, message: 'must be a word' }).orElse(undefined),
  RecordingTrack: oneOf(['inbound', 'outbound', 'both'] as const).orElse(undefined),
  RecordingStartTime: rfc2822Date({ notBefore: EARLIEST_TIMESTAMP, maxAheadMs: MAX_TIMESTAMP_AHEAD_MS }).orElse(undefined),
  ErrorCode: int(0, 99_999).orElse(undefined),
};

export const handler = webhookFunction(async ({ params, db }) => {
  const p = parseParams(recordingParams, params);
  const result = unwrap(
    await db.rpc<{ applied: boolean; reason?: string }>('recording_status', {
      p_event: {
        recording_sid: p.RecordingSid,
        call_sid: p.CallSid,
        status: p.RecordingStatus,
        duration: p.RecordingDuration ?? null,
        channels: p.RecordingChannels ? Number(p.RecordingChannels) : null,
        url: p.RecordingUrl ?? null,
        source: p.RecordingSource ?? null,
        track: p.RecordingTrack ?? null,
        started_at: p.RecordingStartTime ?? null,
        error_code: p.ErrorCode ?? null,
        params,
      },
    }),
  );
  if (!result.applied) console.warn(`[discador] recording ${p.RecordingSid} of unknown call ${p.CallSid}: not stored`);
});
