/**
 * The recording transfer job: download a recording's media from Twilio, hash it (SHA-256,
 * streaming), upload it to the bucket with that checksum and server-side encryption, read the
 * object back and compare, and only then delete the recording from Twilio. Large files go
 * multipart: the upload id and every finished part (its ETag and the SHA-256 of Twilio's bytes)
 * are saved after each part, so a run stopped by its time budget (a Function has 10 s) or
 * killed resumes where S3 says the upload stands (ListParts). Memory stays bounded by one part.
 *
 * Safety rules:
 *  - a job is worked on only under its lease (recording_jobs_claim); every save checks it;
 *  - the read-back hashes every byte S3 holds and compares each part with the SHA-256 of the
 *    bytes Twilio served for it: a copy that differs is thrown away and redone. It goes part by
 *    part (ranged GETs pinned to the object's ETag) and saves its progress with the whole
 *    object's SHA-256 running state (./sha256.ts), so it too resumes in the next run;
 *  - the recording is deleted from Twilio only once the row says verified (committed first);
 *  - a media URL that is not Twilio's is refused (recording_job_release permanent), nothing deleted.
 * States and faults: docs/recordings.md.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Db } from '../../runtime/db';
import { backoffSeconds, classifyMediaUrl, recordingKey } from './layout';
import { Sha256, type Sha256State } from './sha256';

/** A claimed job, as recording_jobs_claim returns it. */
export interface RecordingJob {
  recording_sid: string;
  state: 'pending' | 'uploading' | 'uploaded' | 'verified' | 'done' | 'external' | 'failed';
  attempts: number;
  s3_bucket: string | null;
  s3_key: string | null;
  upload_id: string | null;
  part_size: number | null;
  parts: SavedPart[];
  size_bytes: number | null;
  /** The media's total size as Twilio served it (saved on the first download). */
  media_size: number | null;
  sha256: string | null;
  /** The read-back's saved progress while uploaded (null: not started). */
  readback?: ReadBackProgress | null;
  /** Seconds since the copy was verified (null before). */
  verified_s_ago: number | null;
  /** The recording's transcription status (Twilio's transcribe callback), if any. */
  transcription_status: 'in-progress' | 'completed' | 'failed' | null;
  call_sid: string;
  twilio_url: string | null;
  channels: number | null;
  duration: number | null;
  started_at: string;
  kind: string;
  agent_id: number | null;
  campaign_id: number | null;
  queue_name: string | null;
  agent_channel: number | null;
  customer_channel: number | null;
}

/** A part in S3: number, ETag, the hex SHA-256 of the bytes Twilio served for it, size. */
export interface SavedPart {
  n: number;
  etag: string;
  sha256: string;
  size: number;
}

/**
 * How far a read-back got: the object's ETag, how many parts (in order) matched Twilio's
 * hashes, and the whole object's SHA-256 running state after them.
 */
export interface ReadBackProgress {
  etag: string;
  parts: number;
  hash: Sha256State;
}

/** Saved progress that fits the job's parts, or null (read back from the first byte). */
function validReadBack(r: ReadBackProgress | null | undefined, partCount: number): ReadBackProgress | null {
  if (!r || typeof r !== 'object' || typeof r.etag !== 'string' || !r.etag) return null;
  if (!Number.isInteger(r.parts) || r.parts < 1 || r.parts > partCount) return null;
  try {
    Sha256.fromState(r.hash);
  } catch {
    return null;
  }
  return r;
}

/** What the job talks to. */
export interface TransferDeps {
  db: Db;
  s3: S3Client;
  bucket: string;
  /** Server-side encryption of every object (S3_SSE) and the KMS key for aws:kms (S3_KMS_KEY_ID). */
  sse: 'AES256' | 'aws:kms';
  kmsKeyId?: string;
  /** The account whose recordings these are: media downloads and the REST delete. */
  twilio: { accountSid: string; authToken: string; apiBaseUrl?: string };
  /** Files above this many bytes go multipart (default 8 MiB). */
  multipartThreshold?: number;
  /** Multipart part size (default 8 MiB; S3's minimum is 5 MiB but for the last part). */
  partSize?: number;
  /** Lease per claim and per save (default 30 s). */
  leaseSeconds?: number;
  /**
   * Voicemails are recorded with transcription (VOICEMAIL_TRANSCRIBE=on): a verified voicemail
   * stays in Twilio until its transcription callback arrived (or the wait below is over), since
   * Twilio cannot transcribe a recording that is gone (warning 13618: "delete once you receive
   * the transcribe callback").
   */
  awaitTranscription?: boolean;
  /** The longest a verified voicemail waits for its transcription before leaving Twilio (default TRANSCRIPTION_MAX_WAIT_S). */
  transcriptionMaxWaitSeconds?: number;
  /** Called after each part is saved (tests kill a worker here). */
  onPart?: (sid: string, part: SavedPart) => void | Promise<void>;
  /** Called after each part read back and matched, its progress saved (tests stop a run here). */
  onReadBackPart?: (sid: string, part: SavedPart) => void | Promise<void>;
}

/** How one job's run ended. */
export type JobOutcome =
  | { sid: string; outcome: 'done' | 'external' | 'verified' }
  | { sid: string; outcome: 'paused'; state: string }
  | { sid: string; outcome: 'retry'; error: string; retryInSeconds: number }
  | { sid: string; outcome: 'failed'; error: string }
  | { sid: string; outcome: 'lost_lease' };

const MiB = 1024 * 1024;
/** How long a verified voicemail waits in Twilio for its transcription callback (30 min). */
export const TRANSCRIPTION_MAX_WAIT_S = 1800;
/** How often a voicemail waiting for its transcription is looked at again. */
const TRANSCRIPTION_RECHECK_S = 60;
/** Below this much time left, no new step (part, read-back, delete) starts. */
const STEP_RESERVE_MS = 400;

/** Thrown inside a run when its time is up: the job is released without an error. */
class OutOfTime extends Error {}
/** Thrown when a save finds the lease gone: another worker owns the job now. */
class LostLease extends Error {}
/** A failure that no retry will fix (the media URL is not Twilio's). */
class Permanent extends Error {}
/** The recording was erased (LGPD) while it was being copied: what was written is removed. */
class Erased extends Error {}
/** Twilio has no media for this recording (yet): retried with backoff. */
class MediaUnavailable extends Error {}

/** A worker id for leases: host-ish prefix plus random. */
export function newWorkerId(prefix = 'w'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

function s3Error(e: unknown, bucket: string): string {
  const err = e as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = err.name ?? err.Code ?? 'Error';
  if (name === 'NoSuchBucket') return `S3 bucket ${bucket} does not exist (NoSuchBucket)`;
  if (name === 'AccessDenied') return `S3 refused access to bucket ${bucket} (AccessDenied)`;
  return `S3 ${name}${err.$metadata?.httpStatusCode ? ` (HTTP ${err.$metadata.httpStatusCode})` : ''}: ${err.message ?? String(e)}`;
}

/** The object's metadata: call, recording, agent, campaign, queue and the channel map. */
function objectMetadata(job: RecordingJob): Record<string, string> {
  const m: Record<string, string> = { 'call-sid': job.call_sid, 'recording-sid': job.recording_sid, kind: job.kind };
  if (job.agent_id !== null) m['agent-id'] = String(job.agent_id);
  if (job.campaign_id !== null) m['campaign-id'] = String(job.campaign_id);
  if (job.queue_name) m['queue'] = job.queue_name;
  if (job.channels !== null) m['channels'] = String(job.channels);
  if (job.customer_channel !== null && job.agent_channel !== null) m['channel-map'] = `customer=${job.customer_channel};agent=${job.agent_channel}`;
  if (job.started_at) m['started-at'] = new Date(job.started_at).toISOString();
  return m;
}

/** One job run with a deadline: the state machine of docs/recordings.md. */
class JobRun {
  private readonly partSize: number;
  private readonly threshold: number;
  private readonly lease: number;
  constructor(
    private readonly d: TransferDeps,
    readonly job: RecordingJob,
    private readonly worker: string,
    private readonly deadline: number,
  ) {
    this.partSize = d.partSize ?? 8 * MiB;
    this.threshold = d.multipartThreshold ?? 8 * MiB;
    this.lease = d.leaseSeconds ?? 30;
  }

  private left(): number {
    return this.deadline - Date.now();
  }

  private checkTime(): void {
    if (this.left() < STEP_RESERVE_MS) throw new OutOfTime();
  }

  /** An AbortSignal that fires at the deadline. */
  private signal(): AbortSignal {
    return AbortSignal.timeout(Math.max(1, this.left()));
  }

  private async save(patch: Record<string, unknown>): Promise<void> {
    const { data, error } = await this.d.db.rpc<boolean>('recording_job_save', {
      p_sid: this.job.recording_sid, p_worker: this.worker, p_patch: patch, p_extend_seconds: this.lease,
    });
    if (error) throw error.code === 'DC001' ? new Erased(error.message) : new Error(`saving the job failed: ${error.message}`);
    if (!data) throw new LostLease();
    Object.assign(this.job, patch);
  }

  /** Seconds to come back after, when the job was left at verified on purpose (0: not waiting). */
  retryInSeconds = 0;

  async run(): Promise<'done' | 'external' | 'verified'> {
    const sid = this.job.recording_sid;
    if (this.job.state === 'done') return 'done';
    const loc = classifyMediaUrl(this.job.twilio_url, sid, this.d.twilio.apiBaseUrl);
    if (loc.kind === 'refused') throw new Permanent(loc.reason);
    if (this.job.state === 'pending' || this.job.state === 'uploading' || this.job.state === 'uploaded') {
      if (loc.kind === 'external') {
        await this.save({ state: 'external', external_url: loc.url });
        return 'external';
      }
      const key = this.job.s3_key ?? recordingKey({ callSid: this.job.call_sid, recordingSid: sid, startedAt: this.job.started_at });
      if (!this.job.s3_key || this.job.s3_bucket !== this.d.bucket) {
        // A new copy (or the bucket changed): start from nothing, also when the old bucket's copy was complete.
        await this.save({ state: 'pending', s3_bucket: this.d.bucket, s3_key: key, upload_id: null, parts: [], size_bytes: null });
      }
      if (this.job.state !== 'uploaded') await this.upload(`${loc.url}.wav`);
      this.checkTime();
      await this.readBack();
    }
    if (this.job.state === 'verified') {
      if (loc.kind !== 'twilio') throw new Permanent(`recording ${sid} is not in Twilio: nothing to delete`);
      const wait = this.transcriptionWait();
      if (wait > 0) {
        this.retryInSeconds = wait;
        return 'verified';
      }
      this.checkTime();
      await this.deleteFromTwilio(loc.url);
      await this.save({ state: 'done' });
      return 'done';
    }
    return 'verified';
  }

  /** Seconds a verified voicemail should still stay in Twilio for its transcription (0: delete now). */
  private transcriptionWait(): number {
    if (!this.d.awaitTranscription || this.job.kind !== 'voicemail') return 0;
    if (this.job.transcription_status === 'completed' || this.job.transcription_status === 'failed') return 0;
    const left = (this.d.transcriptionMaxWaitSeconds ?? TRANSCRIPTION_MAX_WAIT_S) - (this.job.verified_s_ago ?? 0);
    return left > 0 ? Math.min(TRANSCRIPTION_RECHECK_S, left) : 0;
  }

  /** GET the media (from `offset` when resuming), authenticated; Twilio's redirect, if any, is followed without our credentials. */
  private async media(url: string, offset: number): Promise<{ body: ReadableStream<Uint8Array>; skip: number; length: number | null }> {
    const auth = 'Basic ' + Buffer.from(`${this.d.twilio.accountSid}:${this.d.twilio.authToken}`).toString('base64');
    const headers: Record<string, string> = { authorization: auth };
    if (offset > 0) headers['range'] = `bytes=${offset}-`;
    let res = await fetch(url, { headers, redirect: 'manual', signal: this.signal() });
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      const to = new URL(res.headers.get('location')!, url);
      await res.body?.cancel();
      const h2: Record<string, string> = offset > 0 ? { range: headers['range']! } : {};
      if (to.origin === new URL(url).origin) h2['authorization'] = auth;
      res = await fetch(to, { headers: h2, redirect: 'error', signal: this.signal() });
    }
    if (res.status === 416) {
      // Nothing at or after `offset` (RFC 9110 §15.5.17: Content-Range "bytes */<complete length>").
      // When the length is exactly where we resume from, everything was already read.
      await res.body?.cancel();
      const whole = /^bytes \*\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
      if (offset > 0 && whole && Number(whole[1]) === offset) {
        return { body: new ReadableStream<Uint8Array>({ start: (c) => c.close() }), skip: 0, length: offset };
      }
      throw new Error(`Twilio answered 416 for the media of ${this.job.recording_sid} from byte ${offset} (${res.headers.get('content-range') ?? 'no Content-Range'})`);
    }
    if (res.status === 404) {
      await res.body?.cancel();
      throw new MediaUnavailable(`Twilio answered 404 for the media of ${this.job.recording_sid} (not available yet, or deleted)`);
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      throw new Error(`Twilio answered ${res.status} for the media of ${this.job.recording_sid}`);
    }
    if (!res.body) throw new Error('the media response has no body');
    const len = res.headers.get('content-length');
    let skip = 0;
    if (offset > 0) {
      const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (res.status === 206 && range && Number(range[1]) === offset) skip = 0;
      else if (res.status === 200) skip = offset; // no range support: read past what S3 has
      else throw new Error(`the media answered an unexpected range: ${res.headers.get('content-range')}`);
    }
    const total = res.status === 206 ? Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1] ?? NaN) : len !== null ? Number(len) : NaN;
    return { body: res.body, skip, length: Number.isFinite(total) ? total : null };
  }

  private async upload(url: string): Promise<void> {
    this.checkTime();
    const S = this.d.s3;
    const bucket = this.d.bucket;
    const key = this.job.s3_key!;
    const sse = { ServerSideEncryption: this.d.sse, ...(this.d.sse === 'aws:kms' && this.d.kmsKeyId ? { SSEKMSKeyId: this.d.kmsKeyId } : {}) } as const;
    // Resuming a multipart upload: keep the saved parts S3 still has, in order.
    let parts: SavedPart[] = [];
    if (this.job.upload_id) {
      try {
        const listed = await S.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: this.job.upload_id }), { abortSignal: this.signal() });
        const inS3 = new Map((listed.Parts ?? []).map((p) => [p.PartNumber, p]));
        for (const p of this.job.parts) {
          const s = inS3.get(p.n);
          if (!s || s.ETag !== p.etag || s.Size !== p.size) break;
          parts.push(p);
        }
      } catch (e) {
        const name = (e as { name?: string }).name;
        if (name === 'NoSuchUpload') {
          await this.save({ upload_id: null, parts: [] });
        } else if (name === 'MethodNotAllowed' || name === 'NotImplemented') {
          // An S3 without ListParts (s3rver): each saved part was acknowledged with its ETag
          // before it was saved, and the read-back checks every byte anyway.
          parts = [...this.job.parts];
        } else throw e;
      }
    }
    const offset = parts.reduce((s, p) => s + p.size, 0);
    if (this.job.upload_id && parts.length > 0) {
      const last = parts[parts.length - 1]!;
      const covered = this.job.media_size !== null && offset >= this.job.media_size;
      const lastShort = this.job.part_size !== null && last.size < this.job.part_size;
      if (covered || lastShort) {
        // Every byte is in S3 already (stopped before completing): no media request.
        await this.complete(parts);
        return;
      }
    }
    const { body, skip, length } = await this.media(url, offset);
    if (length !== null && this.job.media_size === null) await this.save({ media_size: length });
    else if (length !== null && length !== this.job.media_size) {
      await this.save({ state: 'pending', upload_id: null, parts: [], media_size: length });
      await body.cancel().catch(() => undefined);
      throw new Error(`the media of ${this.job.recording_sid} is now ${length} bytes, was ${this.job.media_size}: the copy starts over`);
    }
    const reader = body.getReader();
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let toSkip = skip;
    let ended = false;
    /** Reads up to `want` bytes (fewer only at the end of the media). */
    const read = async (want: number): Promise<Buffer> => {
      while (pendingBytes < want && !ended) {
        this.checkTime();
        const { value, done } = await reader.read();
        if (done) {
          ended = true;
          break;
        }
        let chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
        if (toSkip > 0) {
          const s = Math.min(toSkip, chunk.length);
          toSkip -= s;
          chunk = chunk.subarray(s);
          if (chunk.length === 0) continue;
        }
        pending.push(chunk);
        pendingBytes += chunk.length;
      }
      const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      const out = all.subarray(0, Math.min(want, all.length));
      const rest = all.subarray(out.length);
      pending = rest.length ? [Buffer.from(rest)] : [];
      pendingBytes = rest.length;
      return out;
    };
    try {
      const small = !this.job.upload_id && length !== null && length <= this.threshold;
      if (small) {
        const buf = await read(this.threshold + 1);
        if (buf.length !== length) throw new Error(`the media of ${this.job.recording_sid} ended after ${buf.length} of ${length} bytes`);
        const sha = createHash('sha256').update(buf).digest();
        this.checkTime();
        await this.save({ state: 'uploading' });
        await S.send(
          new PutObjectCommand({
            Bucket: bucket, Key: key, Body: buf, ContentLength: buf.length, ContentType: 'audio/wav',
            ChecksumSHA256: sha.toString('base64'), Metadata: objectMetadata(this.job), ...sse,
          }),
          { abortSignal: this.signal() },
        );
        await this.save({ state: 'uploaded', size_bytes: buf.length, parts: [{ n: 1, etag: '', sha256: sha.toString('hex'), size: buf.length }] });
        return;
      }
      if (!this.job.upload_id) {
        const created = await S.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'audio/wav', ChecksumAlgorithm: 'SHA256', Metadata: objectMetadata(this.job), ...sse }),
          { abortSignal: this.signal() },
        );
        await this.save({ state: 'uploading', upload_id: created.UploadId, part_size: this.partSize, parts: [] });
      }
      const partSize = this.job.part_size ?? this.partSize;
      for (;;) {
        this.checkTime();
        const buf = await read(partSize);
        if (buf.length === 0 && parts.length > 0) break;
        const n = parts.length + 1;
        const sha = createHash('sha256').update(buf).digest();
        const out = await S.send(
          new UploadPartCommand({
            Bucket: bucket, Key: key, UploadId: this.job.upload_id!, PartNumber: n, Body: buf, ContentLength: buf.length,
            ChecksumSHA256: sha.toString('base64'),
          }),
          { abortSignal: this.signal() },
        );
        const part = { n, etag: out.ETag ?? '', sha256: sha.toString('hex'), size: buf.length };
        parts = [...parts, part];
        await this.save({ parts });
        await this.d.onPart?.(this.job.recording_sid, part);
        if (buf.length < partSize) break;
      }
      await this.complete(parts);
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  /** Completes the multipart upload of `parts` (all of the media). */
  private async complete(parts: SavedPart[]): Promise<void> {
    const size = parts.reduce((s, p) => s + p.size, 0);
    if (this.job.media_size !== null && size !== this.job.media_size) {
      await abortUpload(this.d.s3, this.d.bucket, this.job.s3_key!, this.job.upload_id!);
      await this.save({ state: 'pending', upload_id: null, parts: [] });
      throw new Error(`the parts of ${this.job.recording_sid} hold ${size} bytes, Twilio served ${this.job.media_size}: the copy starts over`);
    }
    this.checkTime();
    try {
      await this.d.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.d.bucket, Key: this.job.s3_key!, UploadId: this.job.upload_id!,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.n, ETag: p.etag, ChecksumSHA256: Buffer.from(p.sha256, 'hex').toString('base64') })) },
        }),
        { abortSignal: this.signal() },
      );
    } catch (e) {
      // A previous run's Complete may have finished in S3 after that run stopped waiting (the
      // upload id is then gone): an object of the full size is taken, and the read-back checks
      // every part's bytes before anything counts as verified.
      const head = await this.d.s3.send(new HeadObjectCommand({ Bucket: this.d.bucket, Key: this.job.s3_key! }), { abortSignal: this.signal() }).catch(() => null);
      if (!head || head.ContentLength !== size) throw e;
    }
    await this.save({ state: 'uploaded', upload_id: null, size_bytes: size, ...(this.job.media_size === null ? { media_size: size } : {}) });
  }

  /**
   * Reads the object back part by part (a ranged GetObject per saved part, pinned to the
   * object's ETag): each part's bytes must hash to what Twilio's bytes hashed to, and the
   * object's size must equal Twilio's. After each matching part the progress is saved (parts
   * matched, the object's ETag, the whole object's SHA-256 running state), so a read-back
   * longer than a run resumes in the next run instead of starting over. A part that differs
   * throws the copy away (the next attempt uploads again); an object replaced since the saved
   * progress (another ETag) is read again from its first byte.
   */
  private async readBack(): Promise<void> {
    const S = this.d.s3;
    const parts = this.job.parts;
    const size = parts.reduce((s, p) => s + p.size, 0);
    const expected = this.job.media_size;
    const mismatch = async (why: string): Promise<never> => {
      await this.save({ state: 'pending', upload_id: null, parts: [], size_bytes: null, readback: null });
      throw new Error(`read-back of ${this.job.s3_key} does not match Twilio's bytes (${why}): the copy will be uploaded again`);
    };
    if (parts.length === 0 || expected === null || size !== expected) {
      // Nothing to compare with (no parts, or Twilio's size unknown): never verified, uploaded again.
      await this.save({ state: 'pending', upload_id: null, parts: [], size_bytes: null, readback: null });
      throw new Error(`the read-back of ${this.job.s3_key} has nothing to compare with (${parts.length} parts, ${size} of ${expected ?? 'unknown'} bytes): the copy will be uploaded again`);
    }
    let progress = validReadBack(this.job.readback, parts.length);
    for (;;) {
      const done = progress?.parts ?? 0;
      if (done === parts.length) break;
      this.checkTime();
      const p = parts[done]!;
      const start = parts.slice(0, done).reduce((s, q) => s + q.size, 0);
      const whole = progress ? Sha256.fromState(progress.hash) : new Sha256();
      if (whole.bytes !== start) throw new Error(`the read-back progress of ${this.job.s3_key} is inconsistent (${whole.bytes} bytes hashed, part ${p.n} starts at ${start})`);
      let got;
      try {
        got = await S.send(
          new GetObjectCommand({
            Bucket: this.d.bucket, Key: this.job.s3_key!,
            // A 0-byte object has no byte range to ask for.
            ...(p.size > 0 ? { Range: `bytes=${start}-${start + p.size - 1}` } : {}),
            ...(progress?.etag ? { IfMatch: progress.etag } : {}),
          }),
          { abortSignal: this.signal() },
        );
      } catch (e) {
        if ((e as { name?: string; $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412 && progress) {
          progress = await this.restartReadBack();
          continue;
        }
        throw e;
      }
      const body = got.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined;
      if (!body) throw new Error('the read-back has no body');
      const etag = got.ETag ?? '';
      if (progress && etag !== progress.etag) {
        // Not every S3 honours If-Match on GET (s3rver does not): the ETag is compared here too.
        body.destroy?.();
        progress = await this.restartReadBack();
        continue;
      }
      const total = p.size > 0 ? Number(/\/(\d+)$/.exec(got.ContentRange ?? '')?.[1] ?? NaN) : got.ContentLength;
      if (total !== expected) {
        body.destroy?.();
        return mismatch(`${Number.isFinite(total) ? total : 'unknown'} bytes in S3, Twilio served ${expected}`);
      }
      const partHash = createHash('sha256');
      let read = 0;
      try {
        for await (const c of body) {
          this.checkTime();
          read += c.byteLength;
          if (read > p.size) break;
          partHash.update(c);
          whole.update(c);
        }
      } finally {
        body.destroy?.();
      }
      if (read !== p.size) return mismatch(`part ${p.n}: ${read} bytes read back, ${p.size} uploaded`);
      if (partHash.digest('hex') !== p.sha256) return mismatch(`part ${p.n} differs`);
      progress = { etag, parts: done + 1, hash: whole.exportState() };
      await this.save({ readback: progress });
      await this.d.onReadBackPart?.(this.job.recording_sid, p);
    }
    const whole = Sha256.fromState(progress!.hash);
    if (whole.bytes !== expected) return mismatch(`${whole.bytes} bytes read back, Twilio served ${expected}`);
    await this.save({ state: 'verified', sha256: whole.digest(), size_bytes: size, readback: null });
  }

  /** The object changed since the saved read-back progress: its read-back starts from the first byte. */
  private async restartReadBack(): Promise<null> {
    await this.save({ readback: null });
    return null;
  }

  /**
   * REST Recordings delete at the media's own host and account path (`mediaUrl`, already judged
   * Twilio's by classifyMediaUrl: a regional host, a subaccount); a 404 there means the
   * recording is already gone, so it counts as deleted.
   */
  private async deleteFromTwilio(mediaUrl: string): Promise<void> {
    const t = this.d.twilio;
    const res = await fetch(`${mediaUrl}.json`, {
      method: 'DELETE',
      headers: { authorization: 'Basic ' + Buffer.from(`${t.accountSid}:${t.authToken}`).toString('base64') },
      signal: this.signal(),
    });
    await res.body?.cancel();
    if (res.status !== 204 && res.status !== 404) throw new Error(`Twilio answered ${res.status} to deleting ${this.job.recording_sid}`);
  }
}

/** Runs one claimed job until it is done, out of time or failed; always ends the claim. */
export async function transferRecording(d: TransferDeps, job: RecordingJob, worker: string, deadline: number): Promise<JobOutcome> {
  const sid = job.recording_sid;
  const release = (error: string | null, retry: number, permanent = false) =>
    d.db.rpc<boolean>('recording_job_release', { p_sid: sid, p_worker: worker, p_error: error, p_retry_seconds: retry, p_permanent: permanent });
  const run = new JobRun(d, { ...job, parts: job.parts ?? [] }, worker, deadline);
  try {
    const outcome = await run.run();
    if (outcome === 'verified') await release(null, run.retryInSeconds);
    return { sid, outcome };
  } catch (e) {
    if (e instanceof LostLease) return { sid, outcome: 'lost_lease' };
    if (e instanceof Erased) {
      // Whatever this run wrote must not outlive the erasure.
      if (run.job.s3_key) {
        if (run.job.upload_id) await abortUpload(d.s3, d.bucket, run.job.s3_key, run.job.upload_id);
        await d.s3.send(new DeleteObjectCommand({ Bucket: d.bucket, Key: run.job.s3_key })).catch(() => undefined);
      }
      await release('erased (LGPD) while being copied: nothing kept', 0, true);
      return { sid, outcome: 'failed', error: e.message };
    }
    const timedOut = e instanceof OutOfTime || (e as { name?: string }).name === 'TimeoutError' || (e as { name?: string }).name === 'AbortError';
    if (timedOut && Date.now() >= deadline - STEP_RESERVE_MS) {
      await release(null, 0);
      return { sid, outcome: 'paused', state: job.state };
    }
    if (e instanceof Permanent) {
      await release(e.message, 0, true);
      return { sid, outcome: 'failed', error: e.message };
    }
    const msg = e instanceof MediaUnavailable || !(e as { $metadata?: unknown }).$metadata ? (e as Error).message ?? String(e) : s3Error(e, d.bucket);
    // A media 404 right after completion is usually Twilio still propagating the file: retried within seconds
    // (support.twilio.com "Intermittent 404 Errors When Accessing Media URLs": retry after 1-3 s, with backoff).
    const retry = e instanceof MediaUnavailable ? backoffSeconds(job.attempts + 1, 2) : backoffSeconds(job.attempts + 1);
    await release(msg, retry);
    return { sid, outcome: 'retry', error: msg, retryInSeconds: retry };
  }
}

/** What a jobs run did. */
export interface JobsReport {
  outcomes: JobOutcome[];
  retention: { deleted: number; errors: string[] };
}

/**
 * Runs due transfer jobs one after another until `budgetMs` is nearly spent (or only the
 * recording `sid` when given: the recording callback's own attempt).
 */
export async function runRecordingJobs(d: TransferDeps, opts: { budgetMs: number; worker?: string; sid?: string; maxJobs?: number }): Promise<JobOutcome[]> {
  const deadline = Date.now() + opts.budgetMs;
  const worker = opts.worker ?? newWorkerId();
  const outcomes: JobOutcome[] = [];
  const max = opts.maxJobs ?? 50;
  while (outcomes.length < max && deadline - Date.now() > 1000) {
    const { data, error } = await d.db.rpc<RecordingJob[]>('recording_jobs_claim', {
      p_worker: worker, p_limit: 1, p_lease_seconds: Math.ceil(Math.max(opts.budgetMs, 1000) / 1000) + (d.leaseSeconds ?? 30),
      p_recording_sid: opts.sid ?? null,
    });
    if (error) throw new Error(`claiming recording jobs failed: ${error.message}`);
    const job = data?.[0];
    if (!job) break;
    outcomes.push(await transferRecording(d, job, worker, deadline));
    if (opts.sid) break;
  }
  return outcomes;
}

/**
 * Deletes from S3 the copies older than the retention (RECORDING_RETENTION_DAYS, never below
 * 90): the row keeps s3_deleted_at and s3_deleted_reason 'retention'.
 */
export async function runRetention(d: Pick<TransferDeps, 'db' | 's3'>, opts: { days: number; budgetMs: number; limit?: number }): Promise<{ deleted: number; errors: string[] }> {
  const deadline = Date.now() + opts.budgetMs;
  const { data, error } = await d.db.rpc<{ recording_sid: string; s3_bucket: string; s3_key: string }[]>('recordings_retention_due', {
    p_days: Math.max(90, opts.days), p_limit: opts.limit ?? 50,
  });
  if (error) throw new Error(`listing recordings past retention failed: ${error.message}`);
  let deleted = 0;
  const errors: string[] = [];
  for (const r of data ?? []) {
    if (deadline - Date.now() < 500) break;
    try {
      await d.s3.send(new DeleteObjectCommand({ Bucket: r.s3_bucket, Key: r.s3_key }), { abortSignal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) });
      const marked = await d.db.rpc<boolean>('recording_s3_deleted', { p_sid: r.recording_sid, p_reason: 'retention' });
      if (marked.error) throw new Error(marked.error.message);
      deleted++;
    } catch (e) {
      errors.push(`${r.recording_sid}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return { deleted, errors };
}

/** Aborts a multipart upload left behind (used when a copy is thrown away). */
export async function abortUpload(s3: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => undefined);
}
