/**
 * Every recording safe in S3, under faults. A Twilio emulator (in this process, so media
 * faults can be injected), a real s3rver behind a fault proxy, and the flow stack's real
 * Postgres + PostgREST; the transfer job runs as the functions run it (runRecordingJobs), and
 * in a child process for the kill. Faults: S3 down, S3 cut mid-upload (single PUT and a
 * multipart part), a corrupted upload (a byte flipped on the way in: s3rver stores it and
 * answers 200), Twilio's media 404 then 200, a bucket that does not exist, a worker killed
 * mid-multipart, two workers at once, a media URL that is not Twilio's, external storage.
 * At the end the test counts: every recording is verified in S3 with the SHA-256 of the bytes
 * Twilio served, or still in Twilio; 0 lost, 0 deleted unverified.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CompleteMultipartUploadCommand, CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startEmulator, type Emulator } from '../../emulator';
import { LOCAL } from '../../stack/defaults';
import { freePort } from '../../stack/ports';
import { startS3, type LocalS3 } from '../../stack/s3';
import { tickHeader } from '../../src/lib/domain/dialer/tick-auth';
import { runRecordingJobs, runRetention, type TransferDeps } from '../../src/lib/domain/recordings/transfer';
import { s3Client } from '../../src/lib/runtime/s3';
import { env, sql, testDb } from '../helpers/db';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy';
import { newCallSid, newMobile, signedPost } from '../helpers/twilio';
import { createAgentWithDid } from '../helpers/db';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const BUCKET = 'faults-recordings';

let emu: Emulator;
let s3: LocalS3;
let s3dir: string;
let proxy: FaultProxy;
let client: S3Client;
/** SHA-256 of the bytes Twilio served for each recording made here, taken before any transfer. */
const original = new Map<string, string>();

function deps(over: Partial<TransferDeps> = {}): TransferDeps {
  return {
    db: testDb(), s3: client, bucket: BUCKET, sse: 'AES256',
    twilio: { accountSid: emu.accountSid, authToken: emu.authToken, apiBaseUrl: emu.url },
    partSize: PART, multipartThreshold: PART, leaseSeconds: 10, ...over,
  };
}

async function sha256Of(url: string): Promise<string> {
  const res = await fetch(url, { headers: { authorization: 'Basic ' + Buffer.from(`${emu.accountSid}:${emu.authToken}`).toString('base64') } });
  expect(res.status).toBe(200);
  const h = createHash('sha256');
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) h.update(c);
  return h.digest('hex');
}

/** A call discador knows and its completed recording in Twilio, reported by the callback (recording_status). */
async function recording(durationS: number, opts: { url?: string; kind?: 'voicemail'; accountSid?: string } = {}): Promise<string> {
  const callSid = newCallSid();
  await sql(`insert into calls (call_sid, direction, from_number, to_number, status) values ($1, 'inbound', $2, '+551130001000', 'completed')`, [callSid, newMobile()]);
  const rec = emu.addRecording({ callSid, durationS, channels: 2, startMs: Date.parse('2026-11-25T23:59:30Z'), ...(opts.accountSid ? { accountSid: opts.accountSid } : {}) });
  original.set(rec.sid, await sha256Of(`${rec.mediaUrl}.wav`));
  const { data, error } = await testDb().rpc<{ applied: boolean; armed: boolean }>('recording_status', {
    p_event: {
      recording_sid: rec.sid, call_sid: callSid, status: 'completed', duration: durationS, channels: 2, url: opts.url ?? rec.mediaUrl,
      source: 'StartCallRecordingAPI', started_at: new Date(rec.startMs).toISOString(), params: {}, kind: opts.kind ?? null,
    },
  });
  expect(error).toBeNull();
  expect(data).toMatchObject({ applied: true, armed: true });
  return rec.sid;
}

type Row = { storage_status: string; s3_bucket: string | null; s3_key: string | null; sha256: string | null; state: string; attempts: number; last_error: string | null; retry_in: number; upload_id: string | null; parts: { n: number; size: number }[]; media_size: string | null; size_bytes: string | null; readback: { etag: string; parts: number } | null };
async function row(sid: string): Promise<Row> {
  const [r] = await sql<Row>(
    `select r.storage_status, r.s3_bucket, r.s3_key, r.sha256, t.state, t.attempts, t.last_error, t.upload_id, t.parts, t.media_size, r.size_bytes, t.readback,
            round(extract(epoch from t.next_attempt_at - now()))::int as retry_in
       from recordings r join recording_transfers t on t.recording_id = r.id where r.recording_sid = $1`,
    [sid],
  );
  return r!;
}

const inTwilio = (sid: string) => emu.recordings().some((r) => r.sid === sid && r.deletedMs === undefined);

async function s3Sha(key: string): Promise<string> {
  const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return createHash('sha256').update(Buffer.from(await got.Body!.transformToByteArray())).digest('hex');
}

async function run(sid: string, over: Partial<TransferDeps> = {}, budgetMs = 8000) {
  return runRecordingJobs(deps(over), { budgetMs, sid });
}

beforeAll(async () => {
  emu = await startEmulator({ accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
  s3dir = mkdtempSync(join(tmpdir(), 'rec-faults-'));
  s3 = await startS3({ port: await freePort(), dir: s3dir, bucket: BUCKET });
  proxy = await startFaultProxy(s3.endpoint);
  client = s3Client({ S3_BUCKET: BUCKET, S3_REGION: 'sa-east-1', S3_ENDPOINT: proxy.url, S3_ACCESS_KEY_ID: 'S3RVER', S3_SECRET_ACCESS_KEY: 'S3RVER' }, { timeoutMs: 5000, maxAttempts: 1 });
}, 30000);

afterAll(async () => {
  await proxy?.stop();
  await s3?.stop();
  await emu?.stop();
  rmSync(s3dir, { recursive: true, force: true });
});

describe('/api/jobs (the real function)', () => {
  // First in the file: a heartbeat claims every due job, and the stack's function knows another emulator.
  it('refuses a missing or bad heartbeat credential (401, nothing runs) and runs with the HMAC header', async () => {
    const url = `${env('FUNCTIONS_BASE_URL')}/api/jobs`;
    const none = await fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(none.status).toBe(401);
    const bad = await fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'x-discador-tick': tickHeader('x'.repeat(64)) } });
    expect([bad.status, ((await bad.json()) as { error: string }).error]).toEqual([401, 'tick_bad_signature']);
    const ok = await fetch(url, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', 'x-discador-tick': tickHeader(env('TICK_SECRET')) } });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { transfers: unknown; retention: { errors: unknown[] } };
    expect([Array.isArray(body.transfers), body.retention.errors.length]).toEqual([true, 0]);
  });
});

describe('/webhooks/recording (the real function)', () => {
  it("stores a voicemail's owner from the callback URL's query; a malformed query is refused (400), nothing written", async () => {
    const agentId = await createAgentWithDid({ name: 'Caixa Postal', phone: null, client: null, did: newMobile() });
    const callSid = newCallSid();
    await sql(`insert into calls (call_sid, direction, from_number, to_number, status) values ($1, 'inbound', $2, '+551130001000', 'in-progress')`, [callSid, newMobile()]);
    const recSid = 'RE' + randomBytes(16).toString('hex');
    const params = {
      AccountSid: env('TWILIO_ACCOUNT_SID'), CallSid: callSid, RecordingSid: recSid, RecordingStatus: 'in-progress', RecordingChannels: '1', RecordingSource: 'RecordVerb',
      RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${env('TWILIO_ACCOUNT_SID')}/Recordings/${recSid}`, RecordingStartTime: 'Thu, 26 Nov 2026 10:00:00 +0000',
    };
    const base = `${env('FUNCTIONS_BASE_URL')}/webhooks/recording`;
    expect((await signedPost(`${base}?kind=call`, params, env('TWILIO_AUTH_TOKEN'))).status).toBe(400);
    expect((await signedPost(`${base}?kind=voicemail&queue=Geral!`, params, env('TWILIO_AUTH_TOKEN'))).status).toBe(400);
    expect(await sql(`select 1 from recordings where recording_sid = $1`, [recSid])).toEqual([]);
    expect((await signedPost(`${base}?kind=voicemail&agent=${agentId}&queue=geral`, params, env('TWILIO_AUTH_TOKEN'))).status).toBe(204);
    expect(await sql(`select kind, agent_id, queue_name, status, storage_status from recordings where recording_sid = $1`, [recSid])).toEqual([
      { kind: 'voicemail', agent_id: String(agentId), queue_name: 'geral', status: 'in-progress', storage_status: 'pending' },
    ]);
    expect(await sql(`select 1 from recording_transfers where recording_sid = $1`, [recSid])).toEqual([]); // armed only once completed
  });

  it("a queue's voicemail belongs to the team (no agent), even when the call had an agent", async () => {
    const agentId = await createAgentWithDid({ name: 'Atendente Fila', phone: null, client: null, did: newMobile() });
    const callSid = newCallSid();
    await sql(`insert into calls (call_sid, direction, from_number, to_number, status, agent_id) values ($1, 'inbound', $2, '+551130001000', 'in-progress', $3)`, [callSid, newMobile(), agentId]);
    const base = `${env('FUNCTIONS_BASE_URL')}/webhooks/recording`;
    const params = (recSid: string) => ({
      AccountSid: env('TWILIO_ACCOUNT_SID'), CallSid: callSid, RecordingSid: recSid, RecordingStatus: 'in-progress', RecordingChannels: '1', RecordingSource: 'RecordVerb',
      RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${env('TWILIO_ACCOUNT_SID')}/Recordings/${recSid}`, RecordingStartTime: 'Thu, 26 Nov 2026 10:00:00 +0000',
    });
    // A queue only this agent serves: a voicemail of a queue served by everyone would show on
    // every other suite's agents' pages.
    const queue = `vq${randomBytes(3).toString('hex')}`;
    await sql(`insert into service_queues (name, agent_ids) values ($1, array[$2::bigint])`, [queue, agentId]);
    const queued = 'RE' + randomBytes(16).toString('hex');
    expect((await signedPost(`${base}?kind=voicemail&queue=${queue}`, params(queued), env('TWILIO_AUTH_TOKEN'))).status).toBe(204);
    const plain = 'RE' + randomBytes(16).toString('hex');
    expect((await signedPost(`${base}?kind=voicemail`, params(plain), env('TWILIO_AUTH_TOKEN'))).status).toBe(204);
    const rows = await sql<{ recording_sid: string; agent_id: string | null; queue_name: string | null }>(
      `select recording_sid, agent_id, queue_name from recordings where recording_sid = any($1)`, [[queued, plain]]);
    expect(Object.fromEntries(rows.map((r) => [r.recording_sid, [r.agent_id, r.queue_name]]))).toEqual({
      [queued]: [null, queue], // the team's
      [plain]: [String(agentId), null], // no owner named: the call's agent
    });
  });
});

describe('the transfer', () => {
  it('small file: one PUT with the SHA-256, key yyyy/mm/dd/<CallSid>/<RecordingSid>.wav (UTC start), metadata, read back, then deleted from Twilio', async () => {
    const sid = await recording(20);
    expect(await run(sid)).toEqual([{ sid, outcome: 'done' }]);
    const r = await row(sid);
    const call_sid = (await sql<{ call_sid: string }>(`select call_sid from recordings where recording_sid = $1`, [sid]))[0]!.call_sid;
    expect(r).toMatchObject({ storage_status: 'deleted_from_twilio', state: 'done', s3_bucket: BUCKET, s3_key: `2026/11/25/${call_sid}/${sid}.wav`, sha256: original.get(sid) });
    expect(await s3Sha(r.s3_key!)).toBe(original.get(sid));
    const head = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: r.s3_key! }));
    expect(head.Metadata).toMatchObject({ 'call-sid': call_sid, 'recording-sid': sid, channels: '2', 'channel-map': 'customer=1;agent=2', kind: 'call' });
    expect(inTwilio(sid)).toBe(false);
  });

  it('large file: multipart in parts whose hashes are saved, completed, verified, deleted', async () => {
    const sid = await recording(200); // 6.4 MB: two parts
    expect(await run(sid)).toEqual([{ sid, outcome: 'done' }]);
    const r = await row(sid);
    expect(r.parts.map((p) => p.n)).toEqual([1, 2]);
    expect(r.sha256).toBe(original.get(sid));
    expect(await s3Sha(r.s3_key!)).toBe(original.get(sid));
    expect(inTwilio(sid)).toBe(false);
  });

  it('S3 down: retried with backoff, last_error says why, nothing deleted; S3 back: done', async () => {
    const sid = await recording(10);
    proxy.fault = { kind: 'down' };
    const [out] = await run(sid);
    proxy.fault = { kind: 'pass' };
    expect(out).toMatchObject({ sid, outcome: 'retry', retryInSeconds: 15 });
    const r = await row(sid);
    expect(r).toMatchObject({ storage_status: expect.stringMatching(/^(pending|copying)$/), attempts: 1, last_error: expect.stringMatching(/S3|socket|ECONNRESET|hang up/i) });
    expect(r.retry_in).toBeGreaterThanOrEqual(13);
    expect(inTwilio(sid)).toBe(true);
    expect(await run(sid)).toEqual([{ sid, outcome: 'done' }]);
    expect((await row(sid)).sha256).toBe(original.get(sid));
  });

  it('S3 cut mid-upload (a PUT, then a multipart part): retried; the multipart resumes from the saved parts', async () => {
    const small = await recording(10);
    proxy.fault = { kind: 'cut', method: 'PUT', bytes: 50_000, times: 1 };
    expect((await run(small))[0]).toMatchObject({ outcome: 'retry' });
    expect(inTwilio(small)).toBe(true);
    expect(await run(small)).toEqual([{ sid: small, outcome: 'done' }]);

    const big = await recording(200); // 6.4 MB: two parts
    let parts = 0;
    const onPart = () => {
      parts++;
      if (parts === 1) proxy.fault = { kind: 'cut', method: 'PUT', bytes: 1_000_000, times: 1 };
    };
    expect((await run(big, { onPart }))[0]).toMatchObject({ outcome: 'retry' });
    const mid = await row(big);
    expect(mid).toMatchObject({ state: 'uploading', storage_status: 'copying', upload_id: expect.any(String) });
    expect(mid.parts.map((p) => p.n)).toEqual([1]);
    expect(inTwilio(big)).toBe(true);
    const before = proxy.seen.length;
    emu.mediaRequests();
    expect(await run(big)).toEqual([{ sid: big, outcome: 'done' }]);
    const uploads = proxy.seen.slice(before).filter((s) => s.method === 'PUT' && /partNumber=/.test(s.path)).map((s) => /partNumber=(\d+)/.exec(s.path)![1]);
    expect(uploads).toEqual(['2']); // part 1 was not sent again
    expect(emu.mediaRequests().filter((m) => m.sid === big).at(-1)).toMatchObject({ status: 206, range: `bytes=${PART}-` });
    expect((await row(big)).sha256).toBe(original.get(big));
  });

  it('a corrupted upload (one byte flipped, S3 answers 200) is caught by the read-back: not verified, not deleted; then redone', async () => {
    const sid = await recording(10);
    proxy.fault = { kind: 'flip', method: 'PUT', at: 5000, times: 1 };
    const [out] = await run(sid);
    expect(out).toMatchObject({ outcome: 'retry', error: expect.stringMatching(/does not match Twilio's bytes/) });
    const r = await row(sid);
    expect(r).toMatchObject({ state: 'pending', storage_status: 'pending', sha256: null });
    expect(inTwilio(sid)).toBe(true);
    expect(await run(sid)).toEqual([{ sid, outcome: 'done' }]);
    expect(await s3Sha((await row(sid)).s3_key!)).toBe(original.get(sid));
  });

  it("Twilio's media answers 404 then 200: retried, then done", async () => {
    const sid = await recording(10);
    emu.addMediaFault({ recordingSid: sid, status: 404, times: 1 });
    const [out] = await run(sid);
    expect(out).toMatchObject({ outcome: 'retry', error: expect.stringMatching(/404/) });
    expect(inTwilio(sid)).toBe(true);
    expect(await run(sid)).toEqual([{ sid, outcome: 'done' }]);
  });

  it('a bucket that does not exist: a clear error on the job, retried, nothing deleted', async () => {
    const sid = await recording(10);
    const [out] = await run(sid, { bucket: 'no-such-bucket-here' });
    expect(out).toMatchObject({ outcome: 'retry', error: 'S3 bucket no-such-bucket-here does not exist (NoSuchBucket)' });
    expect((await row(sid)).last_error).toBe('S3 bucket no-such-bucket-here does not exist (NoSuchBucket)');
    expect(inTwilio(sid)).toBe(true);
    expect(await run(sid)).toEqual([{ sid, outcome: 'done' }]);
  });

  it('a worker killed mid-multipart: a later run resumes from the saved upload id and parts', async () => {
    const sid = await recording(200);
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), join(__dirname, '../helpers/transfer-worker.ts'), JSON.stringify({
      supabaseUrl: env('SUPABASE_URL'), serviceRoleKey: env('SUPABASE_SERVICE_ROLE_KEY'),
      s3: { endpoint: proxy.url, bucket: BUCKET, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      twilio: { accountSid: emu.accountSid, authToken: emu.authToken, apiBaseUrl: emu.url }, sid, partSize: PART, holdAfter: 1,
    })], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((ok) => createInterface({ input: child.stdout! }).on('line', (l) => JSON.parse(l).part === 1 && ok()));
    child.kill('SIGKILL');
    await new Promise((ok) => child.once('exit', ok));
    const mid = await row(sid);
    expect(mid).toMatchObject({ state: 'uploading', upload_id: expect.any(String) });
    expect(mid.parts.map((p) => p.n)).toEqual([1]);
    // Its lease still runs: nobody else may take the job.
    expect(await run(sid)).toEqual([]);
    await sql(`update recording_transfers set claimed_until = now() where recording_sid = $1`, [sid]); // the lease's time passes
    expect(await run(sid)).toEqual([{ sid, outcome: 'done' }]);
    expect(emu.mediaRequests().filter((m) => m.sid === sid).at(-1)).toMatchObject({ status: 206, range: `bytes=${PART}-` });
    expect(await s3Sha((await row(sid)).s3_key!)).toBe(original.get(sid));
  }, 30000);

  it('two workers at once: the lease gives the recording to one; a worker whose lease was taken saves nothing and deletes nothing', async () => {
    const sid = await recording(30);
    const [a, b] = await Promise.all([run(sid), run(sid)]);
    expect([...a!, ...b!]).toEqual([{ sid, outcome: 'done' }]);
    expect(emu.mediaRequests().filter((m) => m.sid === sid)).toHaveLength(2); // the test's own read + one transfer

    const other = await recording(200);
    let slowWorker: Promise<unknown> | undefined;
    const taken = new Promise<void>((ok) => {
      slowWorker = run(other, {
        onPart: async () => {
          // While this worker holds part 1, its lease runs out and another worker takes the job.
          await sql(`update recording_transfers set claimed_until = now() where recording_sid = $1`, [other]);
          await sql(`update recording_transfers set claimed_by = 'thief', claimed_until = now() + interval '1 minute' where recording_sid = $1`, [other]);
          ok();
        },
      });
    });
    await taken;
    expect(await slowWorker).toEqual([{ sid: other, outcome: 'lost_lease' }]);
    expect(inTwilio(other)).toBe(true);
    expect((await row(other)).state).toBe('uploading');
    await sql(`update recording_transfers set claimed_by = null, claimed_until = null where recording_sid = $1`, [other]);
    expect(await run(other)).toEqual([{ sid: other, outcome: 'done' }]);
  }, 45000);

  it('a recording can be marked deleted from Twilio only once verified', async () => {
    const sid = await recording(5);
    const claimed = await testDb().rpc('recording_jobs_claim', { p_worker: 'w-order', p_limit: 1, p_lease_seconds: 30, p_recording_sid: sid });
    expect(claimed.error).toBeNull();
    const early = await testDb().rpc('recording_job_save', { p_sid: sid, p_worker: 'w-order', p_patch: { state: 'done' } });
    expect(early.error?.message).toMatch(/is not verified/);
    await testDb().rpc('recording_job_release', { p_sid: sid, p_worker: 'w-order' });
    expect(await run(sid)).toEqual([{ sid, outcome: 'done' }]);
  });

  it("a media URL that is not Twilio's is refused for good (failed, nothing deleted); external storage is recorded and skipped", async () => {
    const evil = await recording(5, { url: 'https://media.example.com/2010-04-01/Accounts/AC00/Recordings/x' });
    expect((await run(evil))[0]).toMatchObject({ outcome: 'failed', error: expect.stringMatching(/not Twilio's/) });
    expect(await row(evil)).toMatchObject({ storage_status: 'failed', state: 'failed' });
    expect(inTwilio(evil)).toBe(true);

    const ext = await recording(5, { url: `https://acme-calls.s3.sa-east-1.amazonaws.com/recordings/${emu.accountSid}/RE${randomBytes(16).toString('hex')}` });
    expect(await run(ext)).toEqual([{ sid: ext, outcome: 'external' }]);
    const [r] = await sql(`select storage_status, external_url, s3_key from recordings where recording_sid = $1`, [ext]);
    expect(r).toMatchObject({ storage_status: 'external', external_url: expect.stringMatching(/^https:\/\/acme-calls\.s3\./), s3_key: null });
    expect(inTwilio(ext)).toBe(true);
  });

  it('a recording erased (LGPD) while it is copied: the worker stops, removes what it wrote, and nobody copies it again', async () => {
    const sid = await recording(200);
    const [out] = await run(sid, {
      onPart: async () => {
        await sql(`update recordings set s3_deleted_reason = 'lgpd_erase', s3_deleted_at = now() where recording_sid = $1`, [sid]);
      },
    });
    expect(out).toMatchObject({ sid, outcome: 'failed', error: expect.stringMatching(/erased/) });
    const r = await row(sid);
    expect(r).toMatchObject({ state: 'failed', sha256: null });
    expect(r.storage_status).not.toBe('failed'); // the erasure's marks are the row's story
    const [job] = await sql<{ s3_key: string }>(`select s3_key from recording_transfers where recording_sid = $1`, [sid]);
    expect(job!.s3_key).toMatch(new RegExp(`/${sid}\\.wav$`));
    await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: job!.s3_key }))).rejects.toMatchObject({ name: 'NotFound' });
    await sql(`update recording_transfers set state = 'pending' where recording_sid = $1`, [sid]);
    expect(await run(sid)).toEqual([]); // an erased recording is never claimed
    original.delete(sid); // erased on purpose: out of the count below
  });

  it('paused after the last part is saved, before completing: the next run completes without asking Twilio again; a 416 past the end means nothing left', async () => {
    // Enough for the media and both parts on a busy machine; the hook on the last part outlasts it.
    const budget = 6000;
    const small = 1024 * 1024; // parts of 1 MiB keep this test fast (s3rver does not enforce S3's 5 MiB minimum)
    // The last (short) part is saved, then the run's time runs out before CompleteMultipartUpload.
    const pauseAfterLast = {
      partSize: small, multipartThreshold: small,
      onPart: async (_: string, p: { size: number }) => { if (p.size < small) await new Promise((ok) => setTimeout(ok, budget)); },
    };
    const sid = await recording(40); // 1.28 MB: two parts, the second short
    expect(await run(sid, pauseAfterLast, budget)).toEqual([{ sid, outcome: 'paused', state: 'pending' }]);
    const mid = await row(sid);
    expect(mid).toMatchObject({ state: 'uploading', upload_id: expect.any(String), media_size: expect.any(String) });
    expect(mid.parts.map((p) => p.n)).toEqual([1, 2]);
    expect(Number(mid.media_size)).toBe(mid.parts.reduce((s, p) => s + p.size, 0));
    const asked = emu.mediaRequests().filter((m) => m.sid === sid).length;
    expect(await run(sid, { partSize: small, multipartThreshold: small })).toEqual([{ sid, outcome: 'done' }]);
    expect(emu.mediaRequests().filter((m) => m.sid === sid)).toHaveLength(asked); // no media request
    expect(await s3Sha((await row(sid)).s3_key!)).toBe(original.get(sid));

    // A job that does not know the media's size and whose last part filled a whole part: it asks
    // from the end, Twilio answers 416 "bytes */<size>", and that is the end of the media.
    const other = await recording(40);
    expect(await run(other, pauseAfterLast, budget)).toEqual([{ sid: other, outcome: 'paused', state: 'pending' }]);
    await sql(`update recording_transfers set media_size = null, part_size = (parts->-1->>'size')::int where recording_sid = $1`, [other]);
    const total = (await row(other)).parts.reduce((s, p) => s + p.size, 0);
    expect(await run(other, { partSize: small, multipartThreshold: small })).toEqual([{ sid: other, outcome: 'done' }]);
    expect(emu.mediaRequests().filter((m) => m.sid === other).at(-1)).toEqual({ sid: other, status: 416, range: `bytes=${total}-` });
    expect(await s3Sha((await row(other)).s3_key!)).toBe(original.get(other));
  }, 60000);

  it('a read-back longer than a run resumes part by part across runs (no part read twice), then verified with the SHA-256 of Twilio\'s bytes and deleted', async () => {
    const budget = 1500;
    const small = 1024 * 1024;
    const sid = await recording(70); // 2.24 MB: three parts of 1 MiB, the last short
    // Each part matched during the read-back uses up the run's time: the run pauses after it.
    const matched: number[] = [];
    const progress: (number | null)[] = [];
    const slow = {
      partSize: small, multipartThreshold: small,
      onReadBackPart: async (_: string, p: { n: number }) => { matched.push(p.n); await new Promise((ok) => setTimeout(ok, budget)); },
    };
    let outcome = '';
    let runs = 0;
    while (outcome !== 'done' && runs < 12) {
      const [out] = await run(sid, slow, budget);
      runs++;
      outcome = out!.outcome;
      expect(out!.outcome).toMatch(/^(paused|done)$/);
      const r = await row(sid);
      progress.push(r.readback?.parts ?? null);
      if (outcome === 'paused' && r.state === 'uploaded') expect(inTwilio(sid)).toBe(true);
    }
    const r = await row(sid);
    expect(r.parts.map((p) => p.n)).toEqual([1, 2, 3]);
    // Every part matched exactly once, in order: each run went on from the saved progress.
    expect(matched).toEqual([1, 2, 3]);
    // (A run on a busy machine may stop before matching its part: the same progress twice.)
    expect(progress.filter((x, i) => x !== null && x !== progress[i - 1])).toEqual([1, 2]);
    expect(runs).toBeGreaterThanOrEqual(3);
    expect(r).toMatchObject({ state: 'done', storage_status: 'deleted_from_twilio', readback: null });
    expect(r.sha256).toBe(original.get(sid)); // node:crypto's SHA-256 of the bytes Twilio served, taken before the transfer
    expect(await s3Sha(r.s3_key!)).toBe(original.get(sid));
    expect(inTwilio(sid)).toBe(false);
  }, 40000);

  it('a byte changed in S3 during a resumed read-back (in a part already matched, or one still to read): not verified, not deleted; then redone', async () => {
    const budget = 1500;
    const firstBudget = 6000;
    const small = 1024 * 1024;
    for (const at of [1000, small + 5000]) {
      const sid = await recording(70);
      let corrupted = false;
      /** Stops the run after each part matched in the read-back: the hook outlasts the run's budget. */
      const slowRun = (sleepMs: number) => ({
        partSize: small, multipartThreshold: small,
        onReadBackPart: async (_: string, p: { n: number }) => {
          if (p.n === 1 && !corrupted) {
            // Part 1 matched and its progress is saved; now the object in S3 changes (one byte flipped).
            corrupted = true;
            const [{ s3_key: key }] = await sql<{ s3_key: string }>(`select s3_key from recording_transfers where recording_sid = $1`, [sid]) as [{ s3_key: string }];
            const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
            const bytes = Buffer.from(await got.Body!.transformToByteArray());
            bytes[at] = bytes[at]! ^ 0xff;
            await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes, ContentLength: bytes.length }));
          }
          await new Promise((ok) => setTimeout(ok, sleepMs));
        },
      });
      const slow = slowRun(budget);
      // The first run uploads (three parts) and reads part 1 back: a budget that holds on a busy
      // machine, and a hook that outlasts it so the run stops right after part 1 matched.
      expect(await run(sid, slowRun(firstBudget), firstBudget)).toEqual([{ sid, outcome: 'paused', state: 'pending' }]);
      expect(await row(sid)).toMatchObject({ state: 'uploaded', readback: { parts: 1 } });
      // The object's ETag is no longer the one part 1 was matched in: read again from the first byte.
      let out = (await run(sid, slow, budget))[0]!;
      for (let i = 0; i < 8 && out.outcome === 'paused'; i++) {
        expect(inTwilio(sid)).toBe(true);
        out = (await run(sid, slow, budget))[0]!;
      }
      expect(out).toMatchObject({ outcome: 'retry', error: expect.stringContaining(`does not match Twilio's bytes (part ${Math.floor(at / small) + 1} differs)`) });
      expect(await row(sid)).toMatchObject({ state: 'pending', storage_status: 'pending', sha256: null, readback: null, parts: [] });
      expect(inTwilio(sid)).toBe(true);
      expect(await run(sid, { partSize: small, multipartThreshold: small })).toEqual([{ sid, outcome: 'done' }]);
      expect((await row(sid)).sha256).toBe(original.get(sid));
      expect(await s3Sha((await row(sid)).s3_key!)).toBe(original.get(sid));
    }
  }, 90000);

  it('a Complete that finished in S3 after its run stopped waiting: the next run takes the object (read back as always)', async () => {
    const small = 1024 * 1024;
    // The Complete reaches S3 and is done there, but the run never hears back (nor from S3 again).
    const lateComplete = {
      send: async (cmd: unknown, o?: unknown) => {
        if (cmd instanceof HeadObjectCommand) throw new Error('socket hang up');
        const out = await client.send(cmd as never, o as never);
        if (cmd instanceof CompleteMultipartUploadCommand) throw new Error('socket hang up after Complete');
        return out;
      },
    } as unknown as S3Client;
    const sid = await recording(40);
    expect((await run(sid, { s3: lateComplete, partSize: small, multipartThreshold: small }))[0]).toMatchObject({ outcome: 'retry', error: expect.stringMatching(/hang up/) });
    expect(await row(sid)).toMatchObject({ state: 'uploading', upload_id: expect.any(String) });
    expect(await run(sid, { partSize: small, multipartThreshold: small })).toEqual([{ sid, outcome: 'done' }]);
    expect(await s3Sha((await row(sid)).s3_key!)).toBe(original.get(sid));
  });

  it('a voicemail being transcribed stays in Twilio (verified) until its transcription arrives or the wait is over', async () => {
    const vm = await recording(10, { kind: 'voicemail' });
    expect(await run(vm, { awaitTranscription: true })).toEqual([{ sid: vm, outcome: 'verified' }]);
    let r = await row(vm);
    expect(r).toMatchObject({ state: 'verified', storage_status: 'verified', sha256: original.get(vm) });
    expect(r.retry_in).toBeGreaterThanOrEqual(55); // looked at again in a minute, not at once
    expect(inTwilio(vm)).toBe(true);
    expect(await run(vm, { awaitTranscription: true })).toEqual([{ sid: vm, outcome: 'verified' }]);
    expect(inTwilio(vm)).toBe(true);
    // The transcription callback's own SQL (the /webhooks/transcription function's).
    const callSid = (await sql<{ call_sid: string }>(`select call_sid from recordings where recording_sid = $1`, [vm]))[0]!.call_sid;
    await sql(`select recording_transcription($1, $2, 'completed', 'Olá, me liga de volta')`, [vm, callSid]);
    expect(await run(vm, { awaitTranscription: true })).toEqual([{ sid: vm, outcome: 'done' }]);
    expect(inTwilio(vm)).toBe(false);

    const late = await recording(10, { kind: 'voicemail' });
    expect(await run(late, { awaitTranscription: true })).toEqual([{ sid: late, outcome: 'verified' }]);
    await sql(`update recording_transfers set verified_at = now() - interval '31 minutes' where recording_sid = $1`, [late]);
    expect(await run(late, { awaitTranscription: true })).toEqual([{ sid: late, outcome: 'done' }]);
    expect(inTwilio(late)).toBe(false);
    // A call's own recording is not held.
    const call = await recording(5);
    expect(await run(call, { awaitTranscription: true })).toEqual([{ sid: call, outcome: 'done' }]);
  });

  it("the bucket changes while a copy waits for its read-back: uploaded again to the new bucket; a read-back with no parts is refused", async () => {
    // The read-back fails once: the job stays 'uploaded' (its object and parts in BUCKET).
    const noReadBack = { send: (cmd: unknown, o?: unknown) => cmd instanceof GetObjectCommand ? Promise.reject(new Error('read-back cut')) : client.send(cmd as never, o as never) } as unknown as S3Client;
    const sid = await recording(10);
    expect((await run(sid, { s3: noReadBack }))[0]).toMatchObject({ outcome: 'retry', error: 'read-back cut' });
    const jobKey = async (s: string) => (await sql<{ s3_key: string }>(`select s3_key from recording_transfers where recording_sid = $1`, [s]))[0]!.s3_key;
    const key = await jobKey(sid);
    expect(await sql(`select state, s3_bucket from recording_transfers where recording_sid = $1`, [sid])).toEqual([{ state: 'uploaded', s3_bucket: BUCKET }]);
    const OTHER = 'faults-recordings-2';
    await client.send(new CreateBucketCommand({ Bucket: OTHER }));
    await client.send(new PutObjectCommand({ Bucket: OTHER, Key: key, Body: Buffer.alloc(0) })); // an empty object already at that key
    expect(await run(sid, { bucket: OTHER })).toEqual([{ sid, outcome: 'done' }]);
    const r = await row(sid);
    expect(r).toMatchObject({ s3_bucket: OTHER, sha256: original.get(sid) });
    expect(Number(r.size_bytes)).toBe(Number(r.media_size));
    const got = await client.send(new GetObjectCommand({ Bucket: OTHER, Key: key }));
    expect(createHash('sha256').update(Buffer.from(await got.Body!.transformToByteArray())).digest('hex')).toBe(original.get(sid));
    original.delete(sid); // in the other bucket: out of the count below

    // 'uploaded' with no parts and an empty object at the key: never verified, uploaded again.
    const other = await recording(10);
    expect((await run(other, { s3: noReadBack }))[0]).toMatchObject({ outcome: 'retry' });
    await sql(`update recording_transfers set parts = '[]' where recording_sid = $1`, [other]);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: await jobKey(other), Body: Buffer.alloc(0) }));
    expect((await run(other))[0]).toMatchObject({ outcome: 'retry', error: expect.stringMatching(/nothing to compare with/) });
    expect(await row(other)).toMatchObject({ state: 'pending', sha256: null });
    expect(inTwilio(other)).toBe(true);
    expect(await run(other)).toEqual([{ sid: other, outcome: 'done' }]);
    expect(await s3Sha((await row(other)).s3_key!)).toBe(original.get(other));
  });

  it("a subaccount's recording is deleted at its own account path", async () => {
    const res = await fetch(`${emu.url}/2010-04-01/Accounts.json`, {
      method: 'POST', body: new URLSearchParams({ FriendlyName: 'filial' }),
      headers: { authorization: 'Basic ' + Buffer.from(`${emu.accountSid}:${emu.authToken}`).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(201);
    const sub = ((await res.json()) as { sid: string }).sid;
    const sid = await recording(5, { accountSid: sub });
    expect(await run(sid)).toEqual([{ sid, outcome: 'done' }]);
    expect(inTwilio(sid)).toBe(false); // a 404 at the main account's path would have left it there
  });

  it('a callback for a call discador does not know: not stored, nothing written', async () => {
    const sid = 'RE' + randomBytes(16).toString('hex');
    const { data } = await testDb().rpc('recording_status', { p_event: { recording_sid: sid, call_sid: newCallSid(), status: 'completed', url: `${emu.url}/x`, params: {} } });
    expect(data).toEqual({ applied: false, reason: 'unknown_call' });
    expect(await sql(`select 1 from recordings where recording_sid = $1`, [sid])).toEqual([]);
  });
});

describe('retention', () => {
  it('deletes S3 copies older than the retention (never below 90 days); the row keeps when and why', async () => {
    const old = await recording(5);
    const recent = await recording(5);
    await run(old);
    await run(recent);
    await sql(`update recordings set started_at = now() - interval '100 days' where recording_sid = $1`, [old]);
    await sql(`update recordings set started_at = now() - interval '60 days' where recording_sid = $1`, [recent]);
    // 30 days asked: 90 applies, so the 60-day-old copy stays.
    const res = await runRetention(deps(), { days: 30, budgetMs: 5000, limit: 1000 });
    expect(res.errors).toEqual([]);
    const rows = await sql<{ recording_sid: string; s3_deleted_reason: string | null; gone: boolean }>(
      `select recording_sid, s3_deleted_reason, s3_deleted_at is not null as gone from recordings where recording_sid = any($1)`, [[old, recent]]);
    expect(Object.fromEntries(rows.map((x) => [x.recording_sid, [x.gone, x.s3_deleted_reason]]))).toEqual({ [old]: [true, 'retention'], [recent]: [false, null] });
    const key = (await row(old)).s3_key!;
    await expect(client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).rejects.toMatchObject({ name: 'NotFound' });
    original.delete(old); // deleted on purpose: out of the count below
  });
});

describe('the cron schedule', () => {
  it('exists next to the tick and refuses clearly where pg_cron / pg_net are missing (the local database)', async () => {
    await expect(sql(`select recording_jobs_schedule(15)`)).rejects.toThrow(/needs pg_cron and pg_net/);
    await expect(sql(`select recording_jobs_schedule(0)`)).rejects.toThrow(/between 1 and 59/);
    await expect(sql(`select recording_jobs_heartbeat()`)).rejects.toThrow(/pg_net is not installed/);
  });
});

describe('the count', () => {
  it('every recording is verified in S3 with the SHA-256 of Twilio’s bytes, or still in Twilio: 0 lost, 0 deleted unverified', async () => {
    let verified = 0;
    let stillInTwilio = 0;
    const lost: string[] = [];
    const deletedUnverified: string[] = [];
    for (const [sid, sha] of original) {
      const [r] = await sql<{ storage_status: string; s3_key: string | null; sha256: string | null }>(`select storage_status, s3_key, sha256 from recordings where recording_sid = $1`, [sid]);
      const deleted = !inTwilio(sid);
      const ok = r!.s3_key !== null && ['verified', 'deleted_from_twilio'].includes(r!.storage_status) && r!.sha256 === sha && (await s3Sha(r!.s3_key)) === sha;
      if (ok) verified++;
      else if (!deleted) stillInTwilio++;
      else lost.push(sid);
      if (deleted && !ok) deletedUnverified.push(sid);
    }
    console.log(`recordings: ${original.size}; verified in S3: ${verified}; still in Twilio: ${stillInTwilio}; lost: ${lost.length}; deleted unverified: ${deletedUnverified.length}`);
    expect({ lost, deletedUnverified }).toEqual({ lost: [], deletedUnverified: [] });
    expect(verified + stillInTwilio).toBe(original.size);
    expect(verified).toBeGreaterThanOrEqual(12);
  });
});
