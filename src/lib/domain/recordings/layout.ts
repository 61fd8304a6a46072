/**
 * The pure rules of the recording transfer: where a recording lives in the bucket, how long a
 * failed job waits before its next attempt, and which media URLs the job may download from.
 */

/** Recordings are fetched as WAV: Twilio's media URL with `.wav` serves the original PCM (twilio.com/docs/voice/api/recording#fetch-a-recording-media-file). */
export const RECORDING_EXT = 'wav';

/** The object key: `yyyy/mm/dd/<CallSid>/<RecordingSid>.<ext>`, by the UTC date the recording started. */
export function recordingKey(r: { callSid: string; recordingSid: string; startedAt: Date | string }, ext = RECORDING_EXT): string {
  if (!/^CA[0-9a-f]{32}$/.test(r.callSid)) throw new Error(`malformed CallSid ${r.callSid}`);
  if (!/^RE[0-9a-f]{32}$/.test(r.recordingSid)) throw new Error(`malformed RecordingSid ${r.recordingSid}`);
  const d = typeof r.startedAt === 'string' ? new Date(r.startedAt) : r.startedAt;
  if (Number.isNaN(d.getTime())) throw new Error(`recording ${r.recordingSid} has no valid start time`);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${r.callSid}/${r.recordingSid}.${ext}`;
}

/** First wait after a failure, and the longest wait (a job is retried forever at most this far apart). */
export const BACKOFF_BASE_SECONDS = 15;
export const BACKOFF_CAP_SECONDS = 3600;

/** Seconds before attempt number `failures + 1`, after `failures` failed attempts (1 → 15 s, 2 → 30 s, … capped at 1 h). */
export function backoffSeconds(failures: number, base = BACKOFF_BASE_SECONDS, cap = BACKOFF_CAP_SECONDS): number {
  if (!Number.isFinite(failures) || failures < 1) return 0;
  return Math.min(cap, base * 2 ** Math.min(failures - 1, 30));
}

/** Where a recording's media is, judged from its URL. */
export type MediaLocation =
  | { kind: 'twilio'; url: string }
  | { kind: 'external'; url: string }
  | { kind: 'refused'; reason: string };

const TWILIO_API_HOST = /^api(\.[a-z0-9-]+)*\.twilio\.com$/;
// Virtual-hosted (bucket.s3.region.amazonaws.com, bucket.s3.amazonaws.com) or path-style (s3.region.amazonaws.com/bucket).
const S3_HOST = /^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\.)?s3([.-][a-z0-9-]+)*\.amazonaws\.com$/;

/**
 * Judges a recording's media URL (the callback's RecordingUrl, the resource's media_url):
 *  - Twilio's: https on Twilio's API host (api.twilio.com, or a regional api.*.twilio.com),
 *    or on the deployment's TWILIO_API_BASE_URL (the emulator), at this recording's own path
 *    /2010-04-01/Accounts/AC…/Recordings/<RecordingSid>; the job downloads it with the account's credentials;
 *  - external: an https URL in AWS S3 — with Voice Recording external storage, media_url is "the
 *    full URL location of the media file" (twilio_api_v2010.json, api.v2010.account.recording.media_url)
 *    in the account's own bucket; discador records it and copies nothing;
 *  - anything else is refused: discador never sends its credentials to, or trusts bytes from, another host.
 */
export function classifyMediaUrl(raw: string | null | undefined, recordingSid: string, apiBaseUrl?: string): MediaLocation {
  if (!raw) return { kind: 'refused', reason: 'the recording has no media URL' };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { kind: 'refused', reason: `the media URL is not a URL: ${raw.slice(0, 200)}` };
  }
  const path = u.pathname.replace(/\.(wav|mp3)$/i, '');
  const ownPath = new RegExp(`^/2010-04-01/Accounts/AC[0-9a-f]{32}/Recordings/${recordingSid}$`).test(path);
  let base: URL | undefined;
  try {
    base = apiBaseUrl ? new URL(apiBaseUrl) : undefined;
  } catch {
    base = undefined;
  }
  const onTwilio = u.protocol === 'https:' && TWILIO_API_HOST.test(u.hostname) && u.port === '';
  const onBase = base !== undefined && u.origin === base.origin;
  if (onTwilio || onBase) {
    if (u.username || u.password) return { kind: 'refused', reason: 'the media URL carries credentials' };
    if (!ownPath) return { kind: 'refused', reason: `the media URL is not recording ${recordingSid}'s: ${u.pathname.slice(0, 200)}` };
    return { kind: 'twilio', url: `${u.origin}${path}` };
  }
  if (u.protocol === 'https:' && S3_HOST.test(u.hostname)) return { kind: 'external', url: u.toString() };
  return { kind: 'refused', reason: `the media URL is not Twilio's: ${u.origin}` };
}
