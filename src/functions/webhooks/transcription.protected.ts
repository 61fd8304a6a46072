/**
 * /webhooks/transcription — the transcribeCallback of a voicemail recorded with
 * VOICEMAIL_TRANSCRIBE=on (Twilio's legacy `<Record transcribe>`; parameters TranscriptionSid,
 * TranscriptionText, TranscriptionStatus, RecordingSid, CallSid: twilio.com/docs/voice/twiml/record#transcribecallback).
 * One round trip (recording_transcription): the text and status land on the recording's row;
 * when the recording callback has not created that row yet, the transcription waits and the
 * row takes it when it is inserted. A completed transcription is never overwritten. Malformed
 * parameters → 400, nothing written.
 */
import { cutCodePoints } from '../../lib/domain/sms-opt-out';
import { unwrap } from '../../lib/runtime/db';
import { webhookFunction } from '../../lib/runtime/handler';
import { parseParams } from '../../lib/runtime/params';
import { oneOf, text } from '../../lib/runtime/validate';

/** The longest text stored, in code points (recordings.transcription's check counts characters). */
export const MAX_TRANSCRIPTION_CHARS = 20_000;

const transcriptionParams = {
  CallSid: text({ pattern: /^CA[0-9a-f]{32}$/, message: 'must be CA followed by 32 hex characters' }).orElse(undefined),
  RecordingSid: text({ pattern: /^RE[0-9a-f]{32}$/, message: 'must be RE followed by 32 hex characters' }),
  TranscriptionStatus: oneOf(['in-progress', 'completed', 'failed'] as const),
  TranscriptionText: text({ min: 0, max: 200_000 }).orElse(undefined),
};

export const handler = webhookFunction(async ({ params, db }) => {
  const p = parseParams(transcriptionParams, params);
  unwrap(
    await db.rpc('recording_transcription', {
      p_recording_sid: p.RecordingSid,
      p_call_sid: p.CallSid ?? null,
      p_status: p.TranscriptionStatus,
      p_text: p.TranscriptionText === undefined ? null : cutCodePoints(p.TranscriptionText, MAX_TRANSCRIPTION_CHARS),
    }),
  );
});
