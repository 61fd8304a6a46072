/**
 * LGPD requests of a data subject, by phone number.
 *   npm run lgpd -- export "+55 11 98765-4321" --out ./lgpd      (JSON of everything + zip of the recordings)
 *   npm run lgpd -- erase 11987654321 --dry-run                    (what would go)
 *   npm run lgpd -- erase 11987654321 --yes                        (delete or anonymise it all)
 *   npm run lgpd -- erase 11987654321 --yes --external-deleted     (after deleting by hand the recordings
 *                                                                   in the account's own storage it listed)
 * The places a phone can be are listed once, in the database (lgpd_sources, see
 * supabase/migrations/*_lgpd_listening.sql); docs/recordings-access.md explains what each
 * keeps, and why erasure runs in this order:
 *   1. lgpd_erase_begin: adds the opt-out entry (the number is never dialed again, also if
 *      the run stops here), opens the request, marks the subject's recordings as being erased
 *      (listening refuses them, the transfer job skips them), answers their media;
 *   2. the S3 objects (every version), Twilio's copies of the recordings and Twilio's logs of
 *      the calls and of the messages are deleted (already gone = done);
 *   3. lgpd_erase: the database, in one transaction, refusing if any audio it was not told
 *      about may still exist; the opt-out entry is kept and the audit line closed.
 * An export's audit line stays 'started' until both files are in place; lgpd_export_done
 * then closes it and logs the access to each recording packed.
 * A crash anywhere leaves a state the same command completes: nothing is deleted before the
 * audio, and the database is changed in one transaction after it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Command } from 'commander';
import { ZipFile } from 'yazl';
import {
  abortMultipartUploads,
  deleteS3ObjectAllVersions,
  openS3Object,
  openTwilioMedia,
  twilioMediaUrl,
} from '../src/lib/domain/recording-access';
import { s3Client, type S3Settings } from '../src/lib/runtime/s3';
import { readStackEnv } from '../stack/env-file';
import {
  CliError,
  cliMain,
  ctxOf,
  emit,
  EXIT,
  openDb,
  phoneArg,
  rpcOrThrow,
  runProgram,
  twilioClient,
  twilioError,
  twilioSettings,
  withCommonOptions,
  type CommonOptions,
  type Ctx,
  type Env,
  type Io,
} from './lib/cli';

/** A recordings row as the export holds it. */
interface RecordingRow {
  id: number;
  recording_sid: string;
  call_sid: string;
  status: string;
  storage_status: string;
  s3_bucket: string | null;
  s3_key: string | null;
  sha256: string | null;
  s3_deleted_at: string | null;
  s3_deleted_reason: string | null;
  external_url?: string | null;
  /** Another call's recording whose transcription mentions the phone: its audio is not the subject's. */
  mention_only?: boolean;
}

/** What lgpd_subject / lgpd_export answer: one array per source, and counts. */
interface SubjectDoc {
  phone: string;
  at: string;
  counts: Record<string, number>;
  recordings: RecordingRow[];
  calls: { call_sid: string | null; account_sid: string | null }[];
  request_id?: number;
  [source: string]: unknown;
}

interface BeginAnswer {
  request_id: number;
  calls: { call_sid: string; account_sid: string | null }[];
  recordings: {
    id: number;
    recording_sid: string;
    s3_bucket: string | null;
    s3_key: string | null;
    /** The transfer's multipart upload (parts already in S3), when one is open. */
    upload_id: string | null;
    transfer_state: string | null;
    storage_status: string;
    /** Where Twilio's external storage put the audio (the account's own bucket): discador cannot delete it. */
    external_url: string | null;
    s3_deleted_at: string | null;
    account_sid: string | null;
  }[];
}

interface EraseAnswer {
  request_id: number;
  counts: Record<string, number | boolean>;
}

/** One file of the recordings zip, as the JSON lists it. */
interface RecordingFile {
  recording_sid: string;
  file: string | null;
  source: 's3' | 'twilio' | null;
  bytes: number;
  sha256: string | null;
  note?: string;
}

/** Who is recorded as the actor: --actor, else the operating-system user. */
function actorOf(env: Env, given: string | undefined): string {
  const a = given?.trim() || `cli:${env.USER ?? env.USERNAME ?? safeUser()}`;
  if (a.length > 200) throw new CliError('--actor must be at most 200 characters', EXIT.USAGE, 'USAGE');
  return a;
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** The S3 settings of the environment, or undefined when no bucket is configured. */
export function s3SettingsOf(env: Env): S3Settings | undefined {
  const bucket = env.S3_BUCKET?.trim();
  if (!bucket) return undefined;
  return {
    S3_BUCKET: bucket,
    S3_REGION: env.S3_REGION?.trim() || 'sa-east-1',
    S3_ENDPOINT: env.S3_ENDPOINT?.trim() || undefined,
    S3_ACCESS_KEY_ID: env.S3_ACCESS_KEY_ID?.trim() || undefined,
    S3_SECRET_ACCESS_KEY: env.S3_SECRET_ACCESS_KEY?.trim() || undefined,
  };
}

function s3For(env: Env): S3Client | undefined {
  const s = s3SettingsOf(env);
  return s ? s3Client(s, { timeoutMs: 60_000, maxAttempts: 3 }) : undefined;
}

/** Whether a recording's S3 copy is there to read (verified, not deleted, not being erased). */
function storedInS3(r: RecordingRow): boolean {
  return (
    (r.storage_status === 'verified' || r.storage_status === 'deleted_from_twilio') &&
    Boolean(r.s3_bucket && r.s3_key && r.sha256) &&
    !r.s3_deleted_at &&
    !r.s3_deleted_reason
  );
}

/** "+5511987654321-20261126T033000Z": the files' common name. */
function baseName(phone: string, at: Date): string {
  return `${phone}-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
}

/** Writes a file under a temporary name and renames it: a reader never sees half of it. */
function writeAtomically(file: string, data: string | Buffer): void {
  const tmp = `${file}.partial`;
  fs.writeFileSync(tmp, data, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** One recording to pack: where its audio is read from, opened only when the zip reaches it. */
interface ZipSource {
  name: string;
  open: () => Promise<Readable>;
  file: RecordingFile;
}

/**
 * Writes the zip of the recordings, streaming each one from its store in turn (a subject's
 * hours of audio never sit in memory), counting and hashing the bytes as they pass. Written
 * under a temporary name and renamed at the end; on any error the partial file is removed.
 */
async function writeZip(file: string, sources: ZipSource[]): Promise<void> {
  const tmp = `${file}.partial`;
  const zip = new ZipFile();
  let failed: Error | undefined;
  for (const src of sources) {
    zip.addReadStreamLazy(src.name, { compress: false }, (cb) => {
      src.open().then(
        (stream) => {
          const hash = createHash('sha256');
          let bytes = 0;
          const counter = new Transform({
            transform(chunk: Buffer, _enc, done) {
              hash.update(chunk);
              bytes += chunk.length;
              done(null, chunk);
            },
            flush(done) {
              src.file.bytes = bytes;
              src.file.sha256 = hash.digest('hex');
              done();
            },
          });
          stream.on('error', (e) => counter.destroy(e));
          counter.on('error', (e: Error) => {
            failed ??= e;
            zip.emit('error', e);
          });
          cb(null, stream.pipe(counter));
        },
        (e: Error) => cb(e, undefined as never),
      );
    });
  }
  zip.end();
  try {
    await new Promise<void>((resolve, reject) => {
      const out = fs.createWriteStream(tmp, { mode: 0o600 });
      zip.on('error', reject);
      out.on('error', reject);
      out.on('close', () => (failed ? reject(failed) : resolve()));
      zip.outputStream.pipe(out);
    });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Where a recording's audio is read from: the S3 copy when verified, else Twilio's; null when neither has it. */
function audioSource(c: Ctx, r: RecordingRow, accountSid: string | null, s3: S3Client | undefined): ZipSource | null {
  if (storedInS3(r)) {
    if (!s3) throw new CliError(`recording ${r.recording_sid} is in S3 but S3_BUCKET is not set: set the S3_* variables; nothing was written`, EXIT.USAGE, 'ENV_MISSING');
    const ext = /\.(\w+)$/.exec(r.s3_key!)?.[1] ?? 'wav';
    const name = `${r.recording_sid}.${ext}`;
    return {
      name,
      open: () => openS3Object(s3, r.s3_bucket!, r.s3_key!),
      file: { recording_sid: r.recording_sid, file: name, source: 's3', bytes: 0, sha256: null },
    };
  }
  if (r.s3_deleted_at || r.storage_status === 'deleted_from_twilio') return null;
  const t = twilioSettings(c.env);
  const url = twilioMediaUrl(t.apiBaseUrl, accountSid ?? t.accountSid, r.recording_sid, 'wav');
  const name = `${r.recording_sid}.wav`;
  return {
    name,
    open: async () => {
      const stream = await openTwilioMedia(url, t.accountSid, t.authToken);
      if (!stream) throw new CliError(`Twilio no longer has recording ${r.recording_sid} (moved to S3 meanwhile?): run the export again; nothing was written`, EXIT.FAILED, 'MEDIA');
      return stream;
    },
    file: { recording_sid: r.recording_sid, file: name, source: 'twilio', bytes: 0, sha256: null },
  };
}

async function exportCmd(c: Ctx, phoneInput: string, opts: { out?: string; actor?: string }): Promise<void> {
  const phone = phoneArg(phoneInput);
  const actor = actorOf(c.env, opts.actor);
  if (c.dryRun) {
    const doc = await lgpdRpc<SubjectDoc>(c, 'lgpd_subject', { p_phone: phone });
    emit(c, { dry_run: true, phone, counts: doc.counts }, () => [`dry run: nothing was written. ${phone} has:`, ...countLines(doc.counts)]);
    return;
  }
  const dir = path.resolve(opts.out ?? '.');
  fs.mkdirSync(dir, { recursive: true });
  // The request stays 'started' until both files are in place (lgpd_export_done below).
  const doc = await lgpdRpc<SubjectDoc>(c, 'lgpd_export', { p_phone: phone, p_actor: actor });
  const own = doc.recordings.filter((r) => !r.mention_only);
  const s3 = own.some(storedInS3) ? s3For(c.env) : undefined;
  const accountOf = new Map(doc.calls.map((k) => [k.call_sid, k.account_sid]));
  const files: RecordingFile[] = [];
  const sources: ZipSource[] = [];
  const packed: number[] = [];
  for (const r of own) {
    const src = audioSource(c, r, accountOf.get(r.call_sid) ?? null, s3);
    if (src) {
      sources.push(src);
      files.push(src.file);
      packed.push(r.id);
    } else {
      files.push({ recording_sid: r.recording_sid, file: null, source: null, bytes: 0, sha256: null, note: 'audio deleted' });
    }
  }
  const base = path.join(dir, baseName(phone, new Date()));
  const zipFile = `${base}.zip`;
  const jsonFile = `${base}.json`;
  try {
    await writeZip(zipFile, sources);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`could not read a recording's audio: ${(e as Error).message}; nothing was written`, EXIT.FAILED, 'MEDIA');
  }
  writeAtomically(jsonFile, JSON.stringify({ ...doc, recording_files: files }, null, 2) + '\n');
  // Only now is the export done: the audit line is closed and each packed recording's access logged.
  await lgpdRpc(c, 'lgpd_export_done', { p_request_id: doc.request_id, p_recording_ids: packed });
  emit(c, { phone, json: jsonFile, zip: zipFile, counts: doc.counts, recording_files: files, request_id: doc.request_id }, () => [
    `exported ${phone}:`,
    ...countLines(doc.counts),
    `  ${jsonFile}`,
    `  ${zipFile} (${sources.length} recording${sources.length === 1 ? '' : 's'})`,
  ]);
}

/** Calls an LGPD SQL function; "not a data subject's number" becomes a plain usage error. */
async function lgpdRpc<T>(c: Ctx, fn: string, args: Record<string, unknown>): Promise<T> {
  try {
    return await rpcOrThrow<T>(openDb(c.env), c.env, fn, args);
  } catch (e) {
    if (e instanceof CliError && e.code === '22023') {
      const said = e.message.replace(/^database call \S+ failed: (lgpd: )?/, '').replace(/ \[[^\]]+\]$/, '');
      throw new CliError(`${said}; nothing was read or changed`, EXIT.USAGE, 'NOT_A_SUBJECT');
    }
    throw e;
  }
}

function countLines(counts: Record<string, number | boolean>): string[] {
  return Object.entries(counts).map(([k, v]) => `  ${k}: ${String(v)}`);
}

/** Whether a Twilio error means "no such recording" (already deleted). */
function isGone(e: unknown): boolean {
  const err = e as { status?: number; code?: number };
  return err?.status === 404 || err?.code === 20404;
}

/** The message refusing an erasure while recordings in the account's own storage may still exist. */
function externalRefusal(urls: string[]): CliError {
  return new CliError(
    [
      `not erased: ${urls.length} recording${urls.length === 1 ? ' is' : 's are'} in the account's own storage (Twilio external storage), which discador cannot delete. Delete these objects (every version) by hand:`,
      ...urls.map((u) => `  ${u}`),
      'then run the same command with --external-deleted',
    ].join('\n'),
    EXIT.FAILED,
    'EXTERNAL',
  );
}

async function eraseCmd(c: Ctx, phoneInput: string, opts: { yes?: boolean; actor?: string; externalDeleted?: boolean }): Promise<void> {
  const phone = phoneArg(phoneInput);
  const actor = actorOf(c.env, opts.actor);
  const doc = await lgpdRpc<SubjectDoc>(c, 'lgpd_subject', { p_phone: phone });
  const media = doc.recordings.filter((r) => !r.s3_deleted_at && !r.mention_only);
  const inS3 = media.filter((r) => r.s3_key);
  const external = media.filter((r) => r.external_url).map((r) => r.external_url!);
  if (c.dryRun || !opts.yes) {
    const kept = new Set(['opt_outs', 'recording_access_log', 'lgpd_requests']);
    const lines = [
      c.dryRun ? `dry run: nothing was changed. Erasing ${phone} would touch:` : `${phone} has:`,
      ...Object.entries(doc.counts).map(([k, v]) => `  ${k}: ${v}${kept.has(k) ? ' (kept)' : ''}`),
      ...(doc.counts['opt_outs'] ? [] : ['  an opt-out entry would be added (the number stays undialed)']),
      `  S3 objects to delete: ${inS3.length}; Twilio copies to delete: up to ${media.length} (and any Twilio lists for ${doc.calls.filter((k) => k.call_sid).length} calls)`,
    ];
    if (external.length) lines.push(`  recordings in the account's own storage, to delete by hand before erasing: ${external.join(' ')}`);
    if (!c.dryRun) lines.push('erasing cannot be undone: run again with --yes');
    emit(c, { dry_run: c.dryRun, phone, counts: doc.counts, s3_objects: inS3.length, recordings: media.length, external_urls: external }, () => lines);
    if (!c.dryRun) throw new CliError('not erased: pass --yes to erase', EXIT.USAGE, 'CONFIRM');
    return;
  }
  if (external.length && !opts.externalDeleted) throw externalRefusal(external);
  const t = twilioSettings(c.env);
  const twilio = twilioClient(t);

  const begin = await lgpdRpc<BeginAnswer>(c, 'lgpd_erase_begin', { p_phone: phone, p_actor: actor });
  const pending = begin.recordings.filter((r) => !r.s3_deleted_at);
  const late = pending.filter((r) => r.external_url).map((r) => r.external_url!);
  if (late.length && !opts.externalDeleted) throw externalRefusal(late);
  // Every S3 byte the transfer job may have written: the verified object, or a whole object
  // not yet verified, or the parts of an unfinished multipart upload, under the job's key.
  const withBytes = pending.filter((r) => r.s3_key && r.s3_bucket);
  const s3 = withBytes.length ? s3For(c.env) : undefined;
  if (withBytes.length && !s3) {
    throw new CliError(`${withBytes.length} recordings have audio in S3 but S3_BUCKET is not set: set the S3_* variables and run the same command again; nothing was erased`, EXIT.USAGE, 'ENV_MISSING');
  }
  let s3Deleted = 0;
  let uploadsAborted = 0;
  for (const r of withBytes) {
    try {
      if (r.storage_status !== 'verified' && r.storage_status !== 'deleted_from_twilio') {
        uploadsAborted += await abortMultipartUploads(s3!, r.s3_bucket!, r.s3_key!, r.upload_id);
      }
      await deleteS3ObjectAllVersions(s3!, r.s3_bucket!, r.s3_key!);
      s3Deleted++;
    } catch (e) {
      throw new CliError(`could not delete s3://${r.s3_bucket}/${r.s3_key}: ${(e as Error).message}; run the same command again`, EXIT.FAILED, 'S3');
    }
  }
  // Twilio's copies: the recordings the database knows, and whatever Twilio lists for the calls.
  const toDelete = new Map<string, string>();
  for (const r of pending) if (r.storage_status !== 'deleted_from_twilio') toDelete.set(r.recording_sid, r.account_sid ?? t.accountSid);
  try {
    for (const k of begin.calls) {
      const account = k.account_sid ?? t.accountSid;
      for (const rec of await twilio.api.v2010.accounts(account).recordings.list({ callSid: k.call_sid, limit: 1000 })) toDelete.set(rec.sid, account);
    }
    let twilioDeleted = 0;
    for (const [sid, account] of toDelete) {
      try {
        await twilio.api.v2010.accounts(account).recordings(sid).remove();
        twilioDeleted++;
      } catch (e) {
        if (!isGone(e)) throw e;
      }
    }
    // Twilio's call logs hold the number too: each of the subject's calls is deleted there
    // (a call still in progress or not yet finalized, Twilio error 20009, stops the erasure
    // before the database: run again later).
    let twilioCalls = 0;
    for (const k of begin.calls) {
      try {
        await twilio.api.v2010.accounts(k.account_sid ?? t.accountSid).calls(k.call_sid).remove();
        twilioCalls++;
      } catch (e) {
        if (!isGone(e)) throw e;
      }
    }
    // Twilio's logs of the SMS and WhatsApp messages from and to the number (bodies included).
    const messages = new Set<string>();
    for (const address of [phone, `whatsapp:${phone}`]) {
      for (const m of await twilio.messages.list({ from: address, limit: 1000 })) messages.add(m.sid);
      for (const m of await twilio.messages.list({ to: address, limit: 1000 })) messages.add(m.sid);
    }
    let twilioMessages = 0;
    for (const sid of messages) {
      try {
        await twilio.messages(sid).remove();
        twilioMessages++;
      } catch (e) {
        if (!isGone(e)) throw e;
      }
    }
    const erased = await lgpdRpc<EraseAnswer>(c, 'lgpd_erase', {
      p_phone: phone,
      p_actor: actor,
      // every recording reaches here with its S3 bytes deleted (or none), and its external copy
      // deleted by the operator when --external-deleted says so
      p_media_deleted: pending.map((r) => r.id),
      p_external_deleted: Boolean(opts.externalDeleted),
    });
    const result = {
      phone,
      request_id: erased.request_id,
      counts: erased.counts,
      s3_objects_deleted: s3Deleted,
      s3_uploads_aborted: uploadsAborted,
      external_deleted_by_hand: external.length ? external : undefined,
      twilio_recordings_deleted: twilioDeleted,
      twilio_calls_deleted: twilioCalls,
      twilio_messages_deleted: twilioMessages,
    };
    emit(c, result, () => [
      `erased ${phone} (request ${erased.request_id}):`,
      ...countLines(erased.counts),
      `  S3 objects deleted: ${s3Deleted}; S3 uploads aborted: ${uploadsAborted}; Twilio recordings deleted: ${twilioDeleted}; Twilio call logs deleted: ${twilioCalls}; Twilio messages deleted: ${twilioMessages}`,
      '  kept: the opt-out entry (the number stays undialed) and the audit line',
    ]);
  } catch (e) {
    if (e instanceof CliError) throw e;
    const err = twilioError(e, t);
    throw new CliError(`${err.message}; run the same command again to finish`, err.exitCode, err.code);
  }
}

/** Runs the command line; returns the exit code. */
export function run(argv: string[], env: Env, io: Io): Promise<number> {
  return runProgram(argv, io, () => {
    const program = new Command('lgpd').description("a data subject's requests by phone number: export everything held, or erase it");
    withCommonOptions(
      program
        .command('export')
        .description('write <phone>-<time>.json (everything held) and <phone>-<time>.zip (the recordings) to --out')
        .argument('<phone>', 'the phone number (any Brazilian format, or E.164)')
        .option('--out <dir>', 'directory to write to (created if missing)', '.')
        .option('--actor <name>', 'who asks (recorded in the audit line); default cli:<os user>'),
    ).action((phone: string, opts: CommonOptions & { out?: string; actor?: string }) => exportCmd(ctxOf({ env, io }, opts), phone, opts));
    withCommonOptions(
      program
        .command('erase')
        .description('delete or anonymise everything held about the phone, recordings in S3 and Twilio included; keeps the opt-out entry and an audit line')
        .argument('<phone>', 'the phone number (any Brazilian format, or E.164)')
        .option('--yes', 'really erase (without it, only shows what would go)')
        .option('--actor <name>', 'who asks (recorded in the audit line); default cli:<os user>')
        .option('--external-deleted', "the recordings in the account's own storage (Twilio external storage) were deleted by hand"),
    ).action((phone: string, opts: CommonOptions & { yes?: boolean; actor?: string; externalDeleted?: boolean }) => eraseCmd(ctxOf({ env, io }, opts), phone, opts));
    return program;
  });
}

/** The S3 settings of the local stack whose database the command uses, when the environment gives none. */
function fillS3FromStack(env: Env): void {
  if (env.S3_BUCKET?.trim()) return;
  const stack = readStackEnv(env);
  if (!stack || stack.values['SUPABASE_URL'] !== env.SUPABASE_URL) return;
  for (const k of ['S3_BUCKET', 'S3_REGION', 'S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
    if (env[k] === undefined && stack.values[k] !== undefined) env[k] = stack.values[k];
  }
}

if (require.main === module) {
  cliMain((argv, env, io) => {
    fillS3FromStack(env);
    return run(argv, env, io);
  });
}
