/**
 * POST /api/recordings/listen {recording_id} → {url, expires_at, content_type}: a presigned
 * GetObject URL of the recording's S3 copy, valid LISTEN_URL_SECONDS (300 s), that the page's
 * <audio> element plays. Supervisors and admins may hear any recording; an agent, recordings
 * of calls they handled, their own voicemails and the voicemails of the service queues they serve. One round
 * trip (recording_listen): the session check, the permission and the access-log line.
 * Refusals: 400 bad_request (recording_id not a positive whole number), 401 (no live session),
 * 403 forbidden (someone else's recording; the attempt is logged), 404 not_found, 409
 * not_yet_stored (the audio is still only in Twilio: its media URL needs the account's
 * credentials, so it is never handed to a browser, and a Function cannot stream a long
 * recording within its 10 s), 410 erased (deleted by retention or an LGPD erasure), 503
 * storage_not_configured (no S3 bucket).
 */
import { presignRecording, LISTEN_URL_SECONDS } from '../../../lib/domain/recording-access';
import { ApiError, apiFunction, NotFound, SessionExpired } from '../../../lib/runtime/api';
import { unwrap } from '../../../lib/runtime/db';
import { s3Client, s3Configured } from '../../../lib/runtime/s3';
import { int } from '../../../lib/runtime/validate';

type Listen =
  | { refused: 'not_found' | 'forbidden' | 'erased' | 'not_stored' }
  | { granted: { recording_id: number; recording_sid: string; bucket: string; key: string; content_type: string; access_id: number } };

export const handler = apiFunction(
  {
    roles: ['admin', 'supervisor', 'agent'],
    session: 'token-only',
    body: { recording_id: int(1, Number.MAX_SAFE_INTEGER) },
  },
  async ({ config, db, tokenHash, body, address }) => {
    if (!s3Configured(config)) throw new ApiError(503, 'storage_not_configured', 'recordings are not stored in S3 on this deployment');
    const answer = unwrap(
      await db.rpc<Listen | null>('recording_listen', {
        p_token_hash: tokenHash,
        p_idle_seconds: config.SESSION_IDLE_MINUTES * 60,
        p_recording_id: body.recording_id,
        p_address: address,
      }),
    );
    if (!answer) throw new SessionExpired();
    if ('refused' in answer) {
      switch (answer.refused) {
        case 'not_found':
          throw new NotFound('no such recording');
        case 'forbidden':
          throw new ApiError(403, 'forbidden', 'this recording is not from one of your calls');
        case 'erased':
          throw new ApiError(410, 'erased', 'the audio of this recording was deleted');
        case 'not_stored':
          throw new ApiError(409, 'not_yet_stored', 'the recording is still being stored; try again in a minute');
      }
    }
    const g = answer.granted;
    const signed = await presignRecording(s3Client(config), { bucket: g.bucket, key: g.key }, LISTEN_URL_SECONDS);
    return { recording_id: g.recording_id, url: signed.url, expires_at: signed.expires_at, content_type: g.content_type };
  },
);
