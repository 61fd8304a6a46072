/**
 * POST /api/recordings/listen through the local front: a supervisor gets a presigned URL that
 * downloads the exact bytes from the local S3, an agent gets their own calls' and voicemails'
 * recordings and a 403 for another agent's, every access (and every refused attempt at someone
 * else's recording) is logged with who, when and from where, and the URL expires.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { presignRecording } from '../../src/lib/domain/recording-access';
import { s3Client } from '../../src/lib/runtime/s3';
import { callApi, freshAddress } from '../helpers/api-client';
import { env, sql } from '../helpers/db';
import { newCallSid, newMobile } from '../helpers/twilio';

jest.setTimeout(30_000);

const s3 = () =>
  s3Client({ S3_BUCKET: env('S3_BUCKET'), S3_REGION: 'sa-east-1', S3_ENDPOINT: env('S3_ENDPOINT'), S3_ACCESS_KEY_ID: env('S3_ACCESS_KEY_ID'), S3_SECRET_ACCESS_KEY: env('S3_SECRET_ACCESS_KEY') });

interface Who {
  userId: string;
  email: string;
  agentId: number | null;
  token: string;
}

/** A user with a live session (the token a sign-in would give). */
async function userWithSession(role: 'agent' | 'supervisor' | 'admin'): Promise<Who> {
  const tag = randomBytes(5).toString('hex');
  let agentId: number | null = null;
  if (role === 'agent') {
    const [a] = await sql<{ id: string }>(`insert into agents (name, client_identity, status) values ($1, $2, 'offline') returning id`, [`Agente ${tag}`, `ag_${tag}`]);
    agentId = Number(a!.id);
  }
  const email = `${tag}@discador.test`;
  const [u] = await sql<{ id: string }>(`insert into users (email, name, role, agent_id) values ($1, $2, $3, $4) returning id`, [email, `Pessoa ${tag}`, role, agentId]);
  const token = randomBytes(32).toString('base64url');
  await sql(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '1 hour')`, [u!.id, createHash('sha256').update(token).digest('hex')]);
  return { userId: u!.id, email, agentId, token };
}

interface Rec {
  id: number;
  sid: string;
  bytes: Buffer;
}

/** A recording of a call (with an S3 object when stored). */
async function recording(opts: { callAgent?: number | null; recAgent?: number | null; kind?: 'call' | 'voicemail'; queue?: string; stored?: boolean; ext?: string }): Promise<Rec> {
  const callSid = newCallSid();
  await sql(`insert into calls (call_sid, account_sid, direction, from_number, to_number, status, agent_id) values ($1, $2, 'inbound', $3, '+551130001000', 'completed', $4)`, [
    callSid,
    env('TWILIO_ACCOUNT_SID'),
    newMobile(),
    opts.callAgent ?? null,
  ]);
  const sid = 'RE' + randomBytes(16).toString('hex');
  const bytes = randomBytes(2048);
  const stored = opts.stored ?? true;
  const key = `2026/11/26/${callSid}/${sid}.${opts.ext ?? 'wav'}`;
  if (stored) await s3().send(new PutObjectCommand({ Bucket: env('S3_BUCKET'), Key: key, Body: bytes }));
  const [r] = await sql<{ id: string }>(
    `insert into recordings (recording_sid, call_sid, status, storage_status, s3_bucket, s3_key, sha256, kind, agent_id, queue_name)
     values ($1, $2, 'completed', $3, $4, $5, $6, $7, $8, $9) returning id`,
    [
      sid,
      callSid,
      stored ? 'verified' : 'pending',
      stored ? env('S3_BUCKET') : null,
      stored ? key : null,
      stored ? createHash('sha256').update(bytes).digest('hex') : null,
      opts.kind ?? 'call',
      opts.recAgent ?? null,
      opts.queue ?? null,
    ],
  );
  return { id: Number(r!.id), sid, bytes };
}

const listen = (who: Who | null, body: unknown, from?: string) => callApi('/api/recordings/listen', { body, token: who?.token, from });

async function logOf(recordingId: number) {
  return sql<{ user_email: string; user_role: string; purpose: string; outcome: string; address: string | null; at: Date }>(
    `select user_email, user_role, purpose, outcome, address, at from recording_access_log where recording_id = $1 order by id`,
    [recordingId],
  );
}

describe('/api/recordings/listen', () => {
  let supervisor: Who;
  let ana: Who;
  let bia: Who;
  let anaCall: Rec;
  let biaVoicemail: Rec;

  beforeAll(async () => {
    supervisor = await userWithSession('supervisor');
    ana = await userWithSession('agent');
    bia = await userWithSession('agent');
    anaCall = await recording({ callAgent: ana.agentId });
    biaVoicemail = await recording({ recAgent: bia.agentId, kind: 'voicemail', ext: 'mp3' });
  });

  it('a supervisor gets a short-lived URL that downloads the exact bytes; the access is logged with who, when and where', async () => {
    const from = freshAddress();
    const started = Date.now();
    const res = await listen(supervisor, { recording_id: anaCall.id }, from);
    expect(res.status).toBe(200);
    const url = new URL(res.json.url as string);
    expect(url.searchParams.get('X-Amz-Expires')).toBe('300');
    expect(Date.parse(res.json.expires_at as string) - started).toBeGreaterThan(295_000);
    expect(Date.parse(res.json.expires_at as string) - started).toBeLessThan(305_000);
    const audio = await fetch(url);
    expect(audio.status).toBe(200);
    expect(audio.headers.get('content-type')).toBe('audio/wav');
    expect(Buffer.from(await audio.arrayBuffer()).equals(anaCall.bytes)).toBe(true);
    const log = await logOf(anaCall.id);
    expect(log).toEqual([expect.objectContaining({ user_email: supervisor.email, user_role: 'supervisor', purpose: 'listen', outcome: 'granted', address: from })]);
    expect(Math.abs(log[0]!.at.getTime() - started)).toBeLessThan(10_000);
  });

  it("an agent hears their own call and voicemail, and is refused (403, logged) another agent's", async () => {
    expect((await listen(ana, { recording_id: anaCall.id })).status).toBe(200);
    const mine = await listen(bia, { recording_id: biaVoicemail.id });
    expect(mine.status).toBe(200);
    expect(mine.json.content_type).toBe('audio/mpeg');
    expect(Buffer.from(await (await fetch(mine.json.url as string)).arrayBuffer()).equals(biaVoicemail.bytes)).toBe(true);

    const theirs = await listen(ana, { recording_id: biaVoicemail.id });
    expect(theirs.status).toBe(403);
    expect(theirs.json).toMatchObject({ error: 'forbidden' });
    expect(theirs.json.url).toBeUndefined();
    expect((await listen(bia, { recording_id: anaCall.id })).status).toBe(403);
    expect((await logOf(biaVoicemail.id)).map((l) => [l.user_email, l.outcome])).toEqual([
      [bia.email, 'granted'],
      [ana.email, 'forbidden'],
    ]);
  });

  it("an agent hears the recording of a leg of their call and a service queue's voicemail", async () => {
    const parent = newCallSid();
    await sql(`insert into calls (call_sid, account_sid, direction, from_number, to_number, status, agent_id) values ($1, $2, 'outbound-api', '+551130001000', $3, 'completed', $4)`, [
      parent,
      env('TWILIO_ACCOUNT_SID'),
      newMobile(),
      ana.agentId,
    ]);
    const leg = await recording({});
    await sql(`update calls set parent_call_sid = $1 where call_sid = (select call_sid from recordings where id = $2)`, [parent, leg.id]);
    expect((await listen(ana, { recording_id: leg.id })).status).toBe(200);
    expect((await listen(bia, { recording_id: leg.id })).status).toBe(403);
    // A queue of its own (other suites' agent pages never list its voicemail).
    const q = `rq${randomBytes(3).toString('hex')}`;
    await sql(`insert into service_queues (name, agent_ids) values ($1, array[$2::bigint])`, [q, bia.agentId]);
    const queueVm = await recording({ kind: 'voicemail', queue: q });
    expect((await listen(bia, { recording_id: queueVm.id })).status).toBe(200);
  });

  it("a queue's voicemails are heard, and listed on the agent page, only by the agents serving that queue", async () => {
    const q = `rv${randomBytes(3).toString('hex')}`;
    await sql(`insert into service_queues (name, agent_ids) values ($1, array[$2::bigint])`, [q, ana.agentId]);
    const vm = await recording({ kind: 'voicemail', queue: q });
    expect((await listen(ana, { recording_id: vm.id })).status).toBe(200);
    expect((await listen(bia, { recording_id: vm.id })).status).toBe(403);
    const listed = async (who: Who) => {
      const [r] = await sql<{ j: { voicemails: { recording_id: number }[] } }>(`select agent_poll($1, 3600, 60) as j`, [createHash('sha256').update(who.token).digest('hex')]);
      return r!.j.voicemails.some((v) => Number(v.recording_id) === vm.id);
    };
    expect({ ana: await listed(ana), bia: await listed(bia) }).toEqual({ ana: true, bia: false });
    // Bia joins the queue: she hears it and sees it too.
    await sql(`update service_queues set agent_ids = array[$2::bigint, $3::bigint] where name = $1`, [q, ana.agentId, bia.agentId]);
    expect((await listen(bia, { recording_id: vm.id })).status).toBe(200);
    expect(await listed(bia)).toBe(true);
    // A queue naming no agents (agent_ids null), or with no settings row, is every agent's: checked on the rule
    // itself, with the row's queue swapped in the query (a stored voicemail of such a queue would show on
    // every agent page of the other suites). Bia leaving the queue loses it again.
    const open = `ro${randomBytes(3).toString('hex')}`;
    await sql(`insert into service_queues (name) values ($1)`, [open]);
    const permitted = await sql<{ q: string; ok: boolean }>(
      `select q, recording_permitted('agent', $2::bigint, jsonb_populate_record(r, jsonb_build_object('queue_name', q))) as ok
         from recordings r, unnest(array[$3, 'no-such-queue', $4]) q where r.id = $1 order by q`,
      [vm.id, bia.agentId, open, q],
    );
    await sql(`update service_queues set agent_ids = array[$2::bigint] where name = $1`, [q, ana.agentId]);
    const [back] = await sql<{ ok: boolean }>(`select recording_permitted('agent', $2::bigint, r) as ok from recordings r where r.id = $1`, [vm.id, bia.agentId]);
    expect([...permitted.map((p) => p.ok), back!.ok]).toEqual([true, true, true, false]);
  });

  it('refusals: unknown 404, not yet in S3 409, erased 410, malformed 400, no session 401; none of them logged', async () => {
    const [{ max }] = (await sql<{ max: string }>(`select coalesce(max(id), 0) + 1000 as max from recordings`)) as [{ max: string }];
    expect((await listen(supervisor, { recording_id: Number(max) })).status).toBe(404);
    const pending = await recording({ callAgent: ana.agentId, stored: false });
    const p = await listen(ana, { recording_id: pending.id });
    expect(p.status).toBe(409);
    expect(p.json).toMatchObject({ error: 'not_yet_stored' });
    const gone = await recording({ callAgent: ana.agentId });
    await sql(`update recordings set s3_deleted_at = now(), s3_deleted_reason = 'retention' where id = $1`, [gone.id]);
    expect((await listen(supervisor, { recording_id: gone.id })).status).toBe(410);
    const erasing = await recording({ callAgent: ana.agentId });
    await sql(`update recordings set s3_deleted_reason = 'lgpd_erase' where id = $1`, [erasing.id]);
    expect((await listen(supervisor, { recording_id: erasing.id })).status).toBe(410);
    for (const bad of [{ recording_id: 'abc' }, { recording_id: -1 }, { recording_id: 1.5 }, {}]) {
      const r = await listen(supervisor, bad);
      expect(r.status).toBe(400);
      expect(r.json.error).toBe('bad_request');
    }
    expect((await listen(null, { recording_id: anaCall.id })).status).toBe(401);
    expect((await callApi('/api/recordings/listen', { body: { recording_id: anaCall.id }, token: randomBytes(32).toString('base64url') })).status).toBe(401);
    for (const r of [pending, gone, erasing]) expect(await logOf(r.id)).toEqual([]);
  });

  it('the URL stops working once it expires', async () => {
    const signed = await presignRecording(s3(), { bucket: env('S3_BUCKET'), key: (await sql<{ k: string }>(`select s3_key as k from recordings where id = $1`, [anaCall.id]))[0]!.k }, 1);
    expect((await fetch(signed.url)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await fetch(signed.url)).status).toBe(403);
  });

  it('a disabled user gets nothing, and nothing is logged', async () => {
    const who = await userWithSession('supervisor');
    await sql(`update users set is_active = false, disabled_at = now() where id = $1`, [who.userId]);
    expect((await listen(who, { recording_id: anaCall.id })).status).toBe(401);
    expect((await logOf(anaCall.id)).some((l) => l.user_email === who.email)).toBe(false);
  });
});
