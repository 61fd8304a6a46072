/**
 * `npm run bench:recordings` — a 60-minute dual-channel recording (8 kHz 16-bit PCM WAV, as
 * Twilio serves it: 115 MB) moved to S3 by the real transfer job, run as /api/jobs runs it
 * (7 s budget per run, the Functions' 10 s limit), against the local stack's Postgres,
 * PostgREST and s3rver, with the Twilio emulator serving the media. Prints the time, the
 * throughput, the peak RSS of the transfer's process and how many runs it took; and, as the
 * baseline, a plain download of the same media to /dev/null (in a process of its own).
 *
 *   npm run bench:recordings [-- --minutes 60 --part-mib 8]
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { startEmulator } from '../../emulator';
import { LOCAL } from '../../stack/defaults';
import { createDb } from '../../src/lib/runtime/db';
import { s3Client } from '../../src/lib/runtime/s3';
import { runRecordingJobs, type JobOutcome } from '../../src/lib/domain/recordings/transfer';
import { startStackProcess } from '../helpers/stack';
import { sql } from '../helpers/db';

/** What the orchestrator hands the worker process. */
interface WorkerInput {
  supabaseUrl: string;
  serviceRoleKey: string;
  s3: { endpoint: string; bucket: string; accessKeyId: string; secretAccessKey: string };
  twilio: { accountSid: string; authToken: string; apiBaseUrl: string };
  sid: string;
  mediaUrl: string;
  partMiB: number;
  budgetMs: number;
}

const MB = 1e6;

/** The baseline, in a process of its own: the same media downloaded and thrown away. */
async function baseline(input: WorkerInput): Promise<void> {
  const rssStart = process.memoryUsage().rss;
  const t0 = Date.now();
  const res = await fetch(`${input.mediaUrl}.wav`, { headers: { authorization: 'Basic ' + Buffer.from(`${input.twilio.accountSid}:${input.twilio.authToken}`).toString('base64') } });
  let bytes = 0;
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) bytes += c.byteLength;
  process.stdout.write(JSON.stringify({ bytes, ms: Date.now() - t0, rssStart, peakRss: process.resourceUsage().maxRSS * 1024 }) + '\n');
}

/** The transfer, run after run with the /api/jobs budget, in a process of its own (its peak RSS is the job's). */
async function transfer(input: WorkerInput): Promise<void> {
  const rssStart = process.memoryUsage().rss;
  const db = createDb({ url: input.supabaseUrl, serviceRoleKey: input.serviceRoleKey, timeoutMs: 5000 });
  const s3 = s3Client({ S3_BUCKET: input.s3.bucket, S3_REGION: 'sa-east-1', S3_ENDPOINT: input.s3.endpoint, S3_ACCESS_KEY_ID: input.s3.accessKeyId, S3_SECRET_ACCESS_KEY: input.s3.secretAccessKey }, { timeoutMs: 8000, maxAttempts: 1 });
  const deps = {
    db, s3, bucket: input.s3.bucket, sse: 'AES256' as const, twilio: input.twilio,
    partSize: input.partMiB * 1024 * 1024, multipartThreshold: input.partMiB * 1024 * 1024,
    // Parts uploaded and parts read back per run: where each run's time went.
    onPart: () => { counts.up++; },
    onReadBackPart: () => { counts.read++; },
  };
  const counts = { up: 0, read: 0 };
  const t1 = Date.now();
  const runs: { ms: number; outcome: JobOutcome['outcome']; up: number; read: number }[] = [];
  for (let i = 0; i < 60; i++) {
    const r0 = Date.now();
    counts.up = 0;
    counts.read = 0;
    const [out] = await runRecordingJobs(deps, { budgetMs: input.budgetMs, sid: input.sid, worker: `bench-${i}` });
    runs.push({ ms: Date.now() - r0, outcome: out?.outcome ?? 'paused', up: counts.up, read: counts.read });
    if (!out || out.outcome === 'done' || out.outcome === 'failed' || out.outcome === 'external') break;
    if (out.outcome === 'retry') throw new Error(`run ${i + 1} failed: ${out.error}`);
  }
  process.stdout.write(JSON.stringify({ ms: Date.now() - t1, runs, rssStart, peakRss: process.resourceUsage().maxRSS * 1024 }) + '\n');
}

async function child(mode: '--baseline' | '--transfer', input: WorkerInput): Promise<string> {
  const p = spawn(process.execPath, [require.resolve('tsx/cli'), __filename, mode, JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise<string>((ok, fail) => {
    createInterface({ input: p.stdout! }).once('line', ok);
    p.once('exit', (code) => fail(new Error(`${mode} worker exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === '--baseline') return baseline(JSON.parse(process.argv[3] ?? '{}') as WorkerInput);
  if (process.argv[2] === '--transfer') return transfer(JSON.parse(process.argv[3] ?? '{}') as WorkerInput);
  const o = new Command()
    .option('--minutes <n>', 'recording length in minutes', '60')
    .option('--part-mib <n>', 'multipart part size in MiB', '8')
    .option('--budget-ms <n>', "one run's time budget (the /api/jobs transfer budget)", '7000')
    .parse()
    .opts<{ minutes: string; partMib: string; budgetMs: string }>();
  const emu = await startEmulator({ accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
  const stack = await startStackProcess(['--twilio-url', emu.url]);
  try {
    Object.assign(process.env, stack.env);
    const callSid = 'CA' + createHash('sha256').update(String(Date.now())).digest('hex').slice(0, 32);
    await sql(`insert into calls (call_sid, direction, from_number, to_number, status) values ($1, 'inbound', '+5511987654321', '+551130001000', 'completed')`, [callSid]);
    const seconds = Number(o.minutes) * 60;
    const rec = emu.addRecording({ callSid, durationS: seconds, channels: 2 });
    const sha = createHash('sha256');
    const media = await fetch(`${rec.mediaUrl}.wav`);
    for await (const c of media.body as unknown as AsyncIterable<Uint8Array>) sha.update(c);
    const original = sha.digest('hex');
    await sql(`select recording_status($1::jsonb)`, [JSON.stringify({
      recording_sid: rec.sid, call_sid: callSid, status: 'completed', duration: seconds, channels: 2, url: rec.mediaUrl,
      source: 'StartCallRecordingAPI', started_at: new Date(rec.startMs).toISOString(), params: {},
    })]);
    const input: WorkerInput = {
      supabaseUrl: stack.env.SUPABASE_URL, serviceRoleKey: stack.env.SUPABASE_SERVICE_ROLE_KEY,
      s3: { endpoint: stack.env.S3_ENDPOINT, bucket: stack.env.S3_BUCKET, accessKeyId: stack.env.S3_ACCESS_KEY_ID, secretAccessKey: stack.env.S3_SECRET_ACCESS_KEY },
      twilio: { accountSid: emu.accountSid, authToken: emu.authToken, apiBaseUrl: emu.url }, sid: rec.sid, mediaUrl: rec.mediaUrl,
      partMiB: Number(o.partMib), budgetMs: Number(o.budgetMs),
    };
    const b = JSON.parse(await child('--baseline', input)) as { bytes: number; ms: number; rssStart: number; peakRss: number };
    const r = JSON.parse(await child('--transfer', input)) as { ms: number; runs: { ms: number; outcome: string; up: number; read: number }[]; rssStart: number; peakRss: number };
    const [row] = await sql<{ storage_status: string; sha256: string; s3_key: string }>(`select storage_status, sha256, s3_key from recordings where recording_sid = $1`, [rec.sid]);
    const mb = b.bytes / MB;
    console.log(`recording: ${o.minutes} min, 2 channels, 8 kHz 16-bit WAV = ${mb.toFixed(1)} MB (${b.bytes} bytes); parts of ${o.partMib} MiB`);
    console.log(`baseline (download to /dev/null): ${(b.ms / 1000).toFixed(2)} s, ${(mb / (b.ms / 1000)).toFixed(1)} MB/s; process peak RSS ${(b.peakRss / MB).toFixed(0)} MB (${(b.rssStart / MB).toFixed(0)} MB at start)`);
    console.log(`transfer (download + SHA-256 + upload + read-back + delete): ${(r.ms / 1000).toFixed(2)} s, ${(mb / (r.ms / 1000)).toFixed(1)} MB/s; process peak RSS ${(r.peakRss / MB).toFixed(0)} MB (${(r.rssStart / MB).toFixed(0)} MB at start)`);
    console.log(`runs of ${o.budgetMs} ms budget: ${r.runs.length} (${r.runs.map((x) => `${x.outcome} ${(x.ms / 1000).toFixed(1)} s: ${x.up} parts up, ${x.read} read back`).join(', ')})`);
    console.log(`result: ${row!.storage_status}, ${row!.s3_key}; SHA-256 ${row!.sha256 === original ? 'equals' : 'DIFFERS FROM'} the media's`);
    if (row!.storage_status !== 'deleted_from_twilio' || row!.sha256 !== original) process.exitCode = 1;
  } finally {
    await stack.stop();
    await emu.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
