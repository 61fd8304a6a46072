/**
 * The transfer job's dependencies as a Function builds them: the bucket and its client from
 * configuration, the account's credentials from the Functions context (ACCOUNT_SID,
 * AUTH_TOKEN), Twilio's API at TWILIO_API_BASE_URL when set (the emulator); with
 * VOICEMAIL_TRANSCRIBE=on a verified voicemail waits in Twilio for its transcription.
 */
import type { Config } from '../../runtime/config';
import type { Db } from '../../runtime/db';
import { s3Client, s3Configured } from '../../runtime/s3';
import type { TransferDeps } from './transfer';

/** Transfer dependencies, or null when no bucket is configured (recordings stay in Twilio). */
export function transferDeps(config: Config, db: Db, context: Record<string, unknown>, opts: { timeoutMs?: number } = {}): TransferDeps | null {
  if (!s3Configured(config)) return null;
  const accountSid = typeof context['ACCOUNT_SID'] === 'string' ? context['ACCOUNT_SID'] : '';
  const authToken = typeof context['AUTH_TOKEN'] === 'string' ? context['AUTH_TOKEN'] : '';
  if (!/^AC[0-9a-f]{32}$/.test(accountSid) || !authToken) return null;
  return {
    db,
    s3: s3Client(config, { timeoutMs: opts.timeoutMs ?? 8000, maxAttempts: 1 }),
    bucket: config.S3_BUCKET,
    sse: config.S3_SSE,
    ...(config.S3_KMS_KEY_ID ? { kmsKeyId: config.S3_KMS_KEY_ID } : {}),
    awaitTranscription: config.VOICEMAIL_TRANSCRIBE === 'on',
    twilio: { accountSid, authToken, ...(config.TWILIO_API_BASE_URL ? { apiBaseUrl: config.TWILIO_API_BASE_URL } : {}) },
  };
}
