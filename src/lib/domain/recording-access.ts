/**
 * Reaching a recording's audio: a short-lived presigned GetObject URL for a browser, the
 * bytes of an S3 copy or of Twilio's copy for an export, and deleting both copies for an
 * erasure (every version of the S3 object when the bucket keeps versions).
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';

/** How long a listening URL stays valid (seconds): long enough to start playing, short enough not to be passed around. */
export const LISTEN_URL_SECONDS = 300;

/** Content type of a recording by its key's extension (Twilio serves WAV and MP3). */
export function recordingContentType(key: string): 'audio/mpeg' | 'audio/wav' {
  return /\.mp3$/i.test(key) ? 'audio/mpeg' : 'audio/wav';
}

/**
 * A presigned GetObject URL for the object, answering with the audio's content type.
 * Presigning is computed locally (no request to S3). `expiresIn` in seconds.
 */
export async function presignRecording(
  s3: S3Client,
  object: { bucket: string; key: string },
  expiresIn = LISTEN_URL_SECONDS,
  now = Date.now(),
): Promise<{ url: string; expires_at: string }> {
  const url = await getSignedUrl(
    s3,
    new GetObjectCommand({ Bucket: object.bucket, Key: object.key, ResponseContentType: recordingContentType(object.key) }),
    { expiresIn, signingDate: new Date(now) },
  );
  return { url, expires_at: new Date(now + expiresIn * 1000).toISOString() };
}

/** A stream of an S3 object's bytes. */
export async function openS3Object(s3: S3Client, bucket: string, key: string): Promise<Readable> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!out.Body) throw new Error(`s3://${bucket}/${key} has no body`);
  return out.Body as Readable;
}

/**
 * Deletes an S3 object for good: every version and delete marker of the exact key
 * (ListObjectVersions; an object stored before versioning was enabled has version "null"),
 * or, where the store does not list versions (s3rver), the key itself. Deleting what is
 * already gone succeeds, so a rerun after a crash is harmless. Returns how many versions (or
 * keys) it asked S3 to remove.
 */
export async function deleteS3ObjectAllVersions(s3: S3Client, bucket: string, key: string): Promise<number> {
  let removed = 0;
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  try {
    for (;;) {
      const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionMarker }));
      const versions = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
        .filter((v) => v.Key === key)
        .map((v) => ({ Key: key, VersionId: v.VersionId ?? 'null' }));
      if (versions.length) {
        const out = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: versions, Quiet: true } }));
        if (out.Errors?.length) throw new Error(`S3 refused to delete versions of s3://${bucket}/${key}: ${out.Errors.map((e) => e.Message ?? e.Code).join('; ')}`);
        removed += versions.length;
      }
      if (!page.IsTruncated) return removed;
      keyMarker = page.NextKeyMarker;
      versionMarker = page.NextVersionIdMarker;
    }
  } catch (e) {
    if (!notImplemented(e)) throw e;
  }
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  return removed + 1;
}

/**
 * Aborts the unfinished multipart uploads of a key, so S3 drops the parts already sent:
 * the one with `uploadId` when known (already aborted or completed = done), then every
 * other upload S3 lists for the exact key (a crash may have started one whose id was never
 * saved). A store that does not list uploads (501/405) is skipped: the known id is still
 * aborted. Returns how many uploads it aborted.
 */
export async function abortMultipartUploads(s3: S3Client, bucket: string, key: string, uploadId?: string | null): Promise<number> {
  const ids = new Set<string>(uploadId ? [uploadId] : []);
  try {
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    for (;;) {
      const page = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key, KeyMarker: keyMarker, UploadIdMarker: idMarker }));
      for (const u of page.Uploads ?? []) if (u.Key === key && u.UploadId) ids.add(u.UploadId);
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      idMarker = page.NextUploadIdMarker;
    }
  } catch (e) {
    if (!notImplemented(e)) throw e;
  }
  let aborted = 0;
  for (const id of ids) {
    try {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: id }));
      aborted++;
    } catch (e) {
      const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
      // gone already, or a store without multipart abort (s3rver answers 405)
      if ((err.Code ?? err.name) !== 'NoSuchUpload' && err.$metadata?.httpStatusCode !== 404 && !notImplemented(e)) throw e;
    }
  }
  return aborted;
}

/**
 * Whether S3 answered that it does not list versions at all: an S3-compatible store without
 * versioning (s3rver answers 405 MethodNotAllowed on ResourceType VERSIONS; others 501).
 */
function notImplemented(e: unknown): boolean {
  const err = e as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const code = err.Code ?? err.name;
  return code === 'NotImplemented' || code === 'MethodNotAllowed' || err.$metadata?.httpStatusCode === 501 || err.$metadata?.httpStatusCode === 405;
}

/** Twilio's media URL of a recording, built from its SID (never a URL read from elsewhere: the account's credentials go with it). */
export function twilioMediaUrl(apiBaseUrl: string | undefined, accountSid: string, recordingSid: string, ext: 'wav' | 'mp3' = 'wav'): string {
  if (!/^RE[0-9a-f]{32}$/.test(recordingSid)) throw new Error(`not a RecordingSid: ${recordingSid}`);
  if (!/^AC[0-9a-fA-F]{32}$/.test(accountSid)) throw new Error(`not an AccountSid: ${accountSid}`);
  return `${(apiBaseUrl ?? 'https://api.twilio.com').replace(/\/$/, '')}/2010-04-01/Accounts/${accountSid}/Recordings/${recordingSid}.${ext}`;
}

/**
 * A stream of Twilio's copy of a recording (HTTP Basic with the account's SID and token,
 * which media URLs require when the account protects them). null when Twilio no longer has it.
 */
export async function openTwilioMedia(url: string, accountSid: string, authToken: string, timeoutMs = 600_000): Promise<Readable | null> {
  const res = await fetch(url, {
    headers: { authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status === 404) return null;
  if (!res.ok || !res.body) throw new Error(`Twilio answered ${res.status} for ${url}`);
  return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
}
