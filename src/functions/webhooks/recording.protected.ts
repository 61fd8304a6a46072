/**
 * /webhooks/recording — the RecordingStatusCallback of every recording discador starts (a
 * customer leg in an agent's room, recorded dual-channel; a voicemail, whose URL carries
 * kind=voicemail and its owner agent=<id> or queue=<name>). One round trip (recording_status):
 * the recordings row is upserted, idempotent, its status only moving forward (in-progress →
 * completed | absent), with the call's agent and campaign and the channel map of a two-channel
 * file (customer on channel 1, agent on channel 2: see docs/campaign-calls.md). A completed
 * recording arms its S3 transfer job, which this request then tries within a few seconds
 * (docs/recordings.md); whatever S3 does, Twilio gets its answer: the heartbeat (/api/jobs)
 * retries what did not finish. A recording of a call discador does not know is acknowledged
 * with {stored: false, reason: 'unknown_call'} and nothing is written; malformed parameters
 * are refused with 400, nothing written.
 */
import { transferDeps } from '../../lib/domain/recordings/deps';
import { runRecordingJobs } from '../../lib/domain/recordings/transfer';
import { unwrap } from '../../lib/runtime/db';
import { webhookFunction } from '../../lib/runtime/handler';
import { EARLIEST_TIMESTAMP, MAX_TIMESTAMP_AHEAD_MS, parseParams } from '../../lib/runtime/params';
import { int, oneOf, rfc2822Date, text } from '../../lib/runtime/validate';

/** RecordingStatusCallback parameters (twilio.com/docs/voice/api/recording#recordingstatuscallback) and our URL's query. */
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
  // Our own query (voicemailRecordingCallback): a malformed value is refused, not guessed.
  kind: oneOf(['voicemail'] as const).optional(),
  agent: text({ pattern: /^[1-9][0-9]{0,17}$/, message: 'must be an agent id' }).optional(),
  queue: text({ pattern: /^[a-z0-9][a-z0-9_-]{0,39}$/, message: 'must be a queue name' }).optional(),
};

/** How long the callback itself may spend on the transfer before answering (the heartbeat finishes the rest). */
const INLINE_TRANSFER_MS = 5000;

export const handler = webhookFunction(async ({ params, db, config, context }) => {
  const started = Date.now();
  const p = parseParams(recordingParams, params);
  const result = unwrap(
    await db.rpc<{ applied: boolean; reason?: string; transfer?: boolean }>('recording_status', {
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
        kind: p.kind ?? null,
        agent_id: p.agent ?? null,
        queue: p.queue ?? null,
        params,
      },
    }),
  );
  if (!result.applied) {
    console.warn(`[discador] recording ${p.RecordingSid} of unknown call ${p.CallSid}: not stored`);
    return { stored: false, reason: result.reason ?? 'unknown_call' };
  }
  if (!result.transfer) return;
  const deps = transferDeps(config, db, context as unknown as Record<string, unknown>, { timeoutMs: INLINE_TRANSFER_MS });
  if (!deps) return;
  try {
    const budget = INLINE_TRANSFER_MS - (Date.now() - started);
    if (budget > 1500) await runRecordingJobs(deps, { budgetMs: budget, sid: p.RecordingSid });
  } catch (e) {
    // The job stays due: the heartbeat takes it. Twilio still gets its 204.
    console.error(`[discador] recording ${p.RecordingSid}: transfer not started: ${e instanceof Error ? e.message : String(e)}`);
  }
});
