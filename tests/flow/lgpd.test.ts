/**
 * LGPD requests end to end on the local stack: a phone with calls (dialer, inbound voicemail,
 * an agent's leg, an attempt never placed), events, a lead with fields, a disposition, an
 * opt-out, recordings in S3 (real objects) and one still only in the Twilio emulator, and
 * messages. `lgpd export` writes all of it and a zip of the exact audio; `lgpd erase` leaves
 * no trace of the phone in any text or JSON column of any table (the opt-out entry aside),
 * deletes the S3 objects and the Twilio copy, and writes an audit line; a rerun is harmless;
 * a malformed number and an agent's own number change nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import yauzl from 'yauzl';
import { run } from '../../scripts/lgpd';
import { s3Client } from '../../src/lib/runtime/s3';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';
import { createAgentWithDid, env, sql } from '../helpers/db';
import { newCallSid, newMobile } from '../helpers/twilio';

jest.setTimeout(60_000);

const s3 = () =>
  s3Client({ S3_BUCKET: env('S3_BUCKET'), S3_REGION: 'sa-east-1', S3_ENDPOINT: env('S3_ENDPOINT'), S3_ACCESS_KEY_ID: env('S3_ACCESS_KEY_ID'), S3_SECRET_ACCESS_KEY: env('S3_SECRET_ACCESS_KEY') });
const tw = () => createTwilioClient(env('TWILIO_ACCOUNT_SID'), env('TWILIO_AUTH_TOKEN'), env('TWILIO_API_BASE_URL'));

/** Runs the CLI in-process with the stack's environment (`over` replaces some); returns exit code and output. */
async function lgpd(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return lgpdWith({}, ...argv);
}

async function lgpdWith(over: Record<string, string>, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const e: Record<string, string | undefined> = {};
  for (const k of ['SUPABASE_URL', 'SUPABASE_SERVICE_ROLE_KEY', 'TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_API_BASE_URL', 'S3_BUCKET', 'S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) e[k] = env(k);
  e.USER = 'dpo';
  Object.assign(e, over);
  const code = await run(argv, e, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** Every text-like and JSON column of every public table: [table, column]. */
async function textColumns(): Promise<[string, string][]> {
  const rows = await sql<{ t: string; c: string }>(
    `select c.table_name as t, c.column_name as c from information_schema.columns c
       join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
      where c.table_schema = 'public' and (c.data_type in ('text', 'character varying', 'jsonb', 'json', 'ARRAY') or c.domain_name is not null)`,
  );
  return rows.map((r) => [r.t, r.c]);
}

/** Where the phone appears, written any of the ways people write it: "table.column" → rows. */
async function traces(phone: string, except: string[] = []): Promise<Record<string, number>> {
  const national = phone.slice(3); // 11987654321
  const local = national.slice(2); // 987654321
  const needles = [phone, phone.slice(1), national, `(${national.slice(0, 2)}) ${local.slice(0, 5)}-${local.slice(5)}`, `${local.slice(0, 5)}-${local.slice(5)}`, local];
  const found: Record<string, number> = {};
  for (const [t, c] of await textColumns()) {
    if (except.includes(`${t}.${c}`)) continue;
    const [r] = await sql<{ n: number }>(
      `select count(*)::int as n from public.${t} where ${needles.map((_, i) => `strpos(${c}::text, $${i + 1}) > 0`).join(' or ')}`,
      needles,
    );
    if (r!.n > 0) found[`${t}.${c}`] = r!.n;
  }
  return found;
}

function readZip(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const entries = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            entries.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(entries));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

async function exists(bucket: string, key: string): Promise<boolean> {
  try {
    await s3().send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (e) {
    if ((e as { name?: string }).name === 'NotFound') return false;
    throw e;
  }
}

/** A number the emulator's account owns, to place calls from. */
async function ownedNumber(): Promise<string> {
  const owned = await tw().incomingPhoneNumbers.list({ limit: 1 });
  if (owned[0]) return owned[0].phoneNumber;
  const [free] = await tw().availablePhoneNumbers('BR').local.list({ limit: 1 });
  return (await tw().incomingPhoneNumbers.create({ phoneNumber: free!.phoneNumber })).phoneNumber;
}

/** Places a recorded call to `to` in the emulator and waits for its recording to complete. */
async function emulatorRecording(from: string, to: string): Promise<{ callSid: string; recordingSid: string; bytes: Buffer }> {
  const call = await tw().calls.create({ to, from, twiml: '<Response><Say>Olá</Say><Pause length="2"/></Response>', record: true });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [rec] = await tw().recordings.list({ callSid: call.sid, limit: 1 });
    if (rec && rec.status === 'completed') {
      const res = await fetch(`${env('TWILIO_API_BASE_URL')}/2010-04-01/Accounts/${env('TWILIO_ACCOUNT_SID')}/Recordings/${rec.sid}.wav`);
      return { callSid: call.sid, recordingSid: rec.sid, bytes: Buffer.from(await res.arrayBuffer()) };
    }
    if (Date.now() > deadline) throw new Error('the emulator made no recording');
    await new Promise((r) => setTimeout(r, 100));
  }
}

const newRecordingSid = () => 'RE' + randomBytes(16).toString('hex');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const national = (phone: string) => `(${phone.slice(3, 5)}) ${phone.slice(5, 10)}-${phone.slice(10)}`;

interface Seeded {
  phone: string;
  agentId: number;
  did: string;
  campaignId: number;
  objects: { sid: string; bucket: string; key: string; bytes: Buffer }[];
  twilioRec: { callSid: string; recordingSid: string; bytes: Buffer };
  otherPhone: string;
  otherKey: string;
  callCount: number;
}

/** Everything the database and the stores hold about a fresh phone (see the file's comment). */
async function seed(): Promise<Seeded> {
  const phone = newMobile();
  const otherPhone = newMobile();
  const did = `+551130${String(Math.floor(Math.random() * 900000) + 100000)}`;
  const agentId = await createAgentWithDid({ name: `Agente ${randomUUID().slice(0, 6)}`, phone: null, client: `ag_${randomBytes(4).toString('hex')}`, did });
  const [k] = await sql<{ id: string }>(`insert into campaigns (name) values ($1) returning id`, [`LGPD ${randomUUID()}`]);
  const campaignId = Number(k!.id);
  const acct = env('TWILIO_ACCOUNT_SID');
  const [lead] = await sql<{ id: string }>(
    `insert into leads (campaign_id, phone_number, name, external_id, data) values ($1, $2, 'Fulano de Tal', 'CPF-123', $3) returning id`,
    [campaignId, phone, { saldo: '1.234,56', telefone_recado: national(phone), contrato: 'X-1' }],
  );
  // Another customer's lead that mentions the subject's number in a field.
  await sql(`insert into leads (campaign_id, phone_number, name, data) values ($1, $2, 'Outra Pessoa', $3)`, [campaignId, otherPhone, { parente: `+55 ${national(phone)}` }]);

  const dialed = newCallSid();
  const agentLeg = newCallSid();
  const inbound = newCallSid();
  await sql(
    `insert into calls (call_sid, account_sid, direction, from_number, to_number, caller_id, status, agent_id, campaign_id, lead_id, duration)
     values ($1, $4, 'outbound-api', $5::text, $2, $5::text, 'completed', $6, $7, $8, 95),
            ($3, $4, 'outbound-dial', $5::text, 'client:agente', null, 'completed', $6, null, null, 90)`,
    [dialed, phone, agentLeg, acct, did, agentId, campaignId, lead!.id],
  );
  await sql(`update calls set parent_call_sid = $1 where call_sid = $2`, [dialed, agentLeg]);
  await sql(`insert into calls (call_sid, account_sid, direction, from_number, to_number, status, agent_id, duration) values ($1, $2, 'inbound', $3, $4, 'completed', null, 40)`, [
    inbound,
    acct,
    phone,
    did,
  ]);
  // A dial attempt never placed (no CallSid).
  await sql(`insert into calls (direction, to_number, caller_id, status, campaign_id, end_reason) values ('outbound-api', $1, $2, 'failed', $3, 'never_placed')`, [phone, did, campaignId]);
  // A call of somebody else, to see that erasure leaves it alone.
  await sql(`insert into calls (call_sid, account_sid, direction, from_number, to_number, status) values ($1, $2, 'inbound', $3, $4, 'completed')`, [newCallSid(), acct, otherPhone, did]);

  let seq = 0;
  const event = (sid: string, params: Record<string, string>) =>
    sql(`insert into call_events (call_sid, kind, dedupe_key, call_status, event_at, params) values ($1, 'status', $2, $3, now(), $4)`, [
      sid,
      `${sid}:${seq++}`,
      params.CallStatus ?? 'completed',
      params,
    ]);
  await event(dialed, { CallSid: dialed, From: did, To: phone, Called: phone, ToCity: 'SAO PAULO', ToState: 'SP', CallStatus: 'completed' });
  await event(inbound, { CallSid: inbound, From: phone, Caller: phone, To: did, CallerName: 'FULANO', CallerCity: 'SAO PAULO', CallStatus: 'ringing' });
  await event(agentLeg, { CallSid: agentLeg, ParentCallSid: dialed, From: did, To: 'client:agente', CallStatus: 'completed' });

  await sql(`insert into call_dispositions (call_sid, agent_id, code, notes) values ($1, $2, 'promessa', $3)`, [dialed, agentId, `pagará dia 10; recado no ${national(phone)}`]);
  await sql(`select opt_out_add($1, 'SAIR por SMS', 'sms', 'sms')`, [phone]);
  await sql(
    `insert into inbound_messages (message_sid, channel, from_number, to_number, body, kind) values ($1, 'sms', $2, $3, 'SAIR', 'opt_out'), ($4, 'whatsapp', $2, $3, 'quero negociar', 'message')`,
    ['SM' + randomBytes(16).toString('hex'), phone, did, 'SM' + randomBytes(16).toString('hex')],
  );

  // A wait in the service queue (the inbound call waited before an agent took it).
  await sql(
    `insert into queue_entries (call_sid, queue_name, from_number, entered_at, left_at, result, waited_seconds)
     values ($1, 'geral', $2, now() - interval '2 minutes', now() - interval '1 minute', 'answered', 60)`,
    [inbound, phone],
  );

  // Two recordings with verified S3 copies (real objects), one only in the Twilio emulator.
  const bucket = env('S3_BUCKET');
  const objects: Seeded['objects'] = [];
  for (const [callSid, kind, owner] of [
    [dialed, 'call', null],
    [inbound, 'voicemail', agentId],
  ] as const) {
    const sid = newRecordingSid();
    const key = `2026/11/26/${callSid}/${sid}.wav`;
    const bytes = randomBytes(3000 + Math.floor(Math.random() * 1000));
    await s3().send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
    await sql(
      `insert into recordings (recording_sid, call_sid, status, storage_status, s3_bucket, s3_key, sha256, size_bytes, kind, agent_id, transcription)
       values ($1, $2, 'completed', 'deleted_from_twilio', $3, $4, $5, $6, $7, $8, $9)`,
      [sid, callSid, bucket, key, sha(bytes), bytes.length, kind, owner, kind === 'voicemail' ? `me liga no ${national(phone)}` : null],
    );
    objects.push({ sid, bucket, key, bytes });
  }
  const twilioRec = await emulatorRecording(await ownedNumber(), phone);
  await sql(`insert into calls (call_sid, account_sid, direction, from_number, to_number, status) values ($1, $2, 'outbound-api', $3, $4, 'completed')`, [
    twilioRec.callSid,
    acct,
    did,
    phone,
  ]);
  await sql(`insert into recordings (recording_sid, call_sid, status, storage_status, kind) values ($1, $2, 'completed', 'pending', 'call')`, [twilioRec.recordingSid, twilioRec.callSid]);

  // Twilio's own log of a message to the number (and one to somebody else, which stays).
  const owned = await ownedNumber();
  await tw().messages.create({ from: owned, to: phone, body: 'Sua fatura vence amanhã' });
  await tw().messages.create({ from: owned, to: otherPhone, body: 'Outra pessoa' });

  const otherKey = `2026/11/26/other/${newRecordingSid()}.wav`;
  await s3().send(new PutObjectCommand({ Bucket: bucket, Key: otherKey, Body: randomBytes(100) }));
  const [{ n }] = (await sql<{ n: number }>(`select count(*)::int as n from calls`)) as [{ n: number }];
  return { phone, agentId, did, campaignId, objects, twilioRec, otherPhone, otherKey, callCount: n };
}

describe('lgpd export and erase', () => {
  let s: Seeded;
  let dir: string;

  beforeAll(async () => {
    s = await seed();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lgpd-'));
  });
  afterAll(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('a malformed number is refused before anything is read or written', async () => {
    const before = await sql(`select (select count(*) from lgpd_requests) as q, (select count(*) from recording_access_log) as a`);
    for (const args of [['export', '--out', dir], ['erase', '--yes']]) {
      const r = await lgpd(...args, '11 1234-56');
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/invalid phone number "11 1234-56"/);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(await sql(`select (select count(*) from lgpd_requests) as q, (select count(*) from recording_access_log) as a`)).toEqual(before);
  });

  it("an agent's own number is not a data subject: refused, the agent and the calls to it untouched", async () => {
    const r = await lgpd('erase', s.did, '--yes');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/one of the account's own numbers/);
    expect(await sql(`select phone_number from phone_numbers where assigned_agent_id = $1`, [s.agentId])).toEqual([{ phone_number: s.did }]);
    const [c] = await sql<{ n: number }>(`select count(*)::int as n from calls where from_number = $1 or to_number = $1 or caller_id = $1`, [s.did]);
    expect(c!.n).toBeGreaterThanOrEqual(5);
    expect(await exists(s.objects[0]!.bucket, s.objects[0]!.key)).toBe(true);
  });

  it('export writes everything held and a zip with the exact audio; the access is logged', async () => {
    const r = await lgpd('export', national(s.phone), '--out', dir, '--json');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out) as { json: string; zip: string };
    expect(path.basename(res.json)).toMatch(new RegExp(`^\\${s.phone}-\\d{8}T\\d{6}Z\\.json$`));
    const doc = JSON.parse(fs.readFileSync(res.json, 'utf8'));
    expect(doc.phone).toBe(s.phone);
    expect(doc.counts).toMatchObject({ calls: 5, call_events: 3, leads: 2, call_dispositions: 1, opt_outs: 1, recordings: 3, inbound_messages: 2, queue_entries: 1 });
    expect(doc.leads.find((l: { phone_number: string }) => l.phone_number === s.phone)).toMatchObject({ name: 'Fulano de Tal', data: { saldo: '1.234,56' } });
    expect(doc.calls.filter((c: { call_sid: string | null }) => c.call_sid === null)).toHaveLength(1); // the attempt never placed
    expect(doc.call_dispositions[0].notes).toMatch(/pagará/);
    expect(doc.opt_outs[0]).toMatchObject({ phone_number: s.phone, source: 'sms' });
    expect(doc.inbound_messages.map((m: { body: string }) => m.body).sort()).toEqual(['SAIR', 'quero negociar']);
    const recs = doc.recordings as { recording_sid: string; s3_key: string | null }[];
    expect(recs.map((x) => x.recording_sid).sort()).toEqual([...s.objects.map((o) => o.sid), s.twilioRec.recordingSid].sort());
    expect(recs.find((x) => x.recording_sid === s.objects[0]!.sid)!.s3_key).toBe(s.objects[0]!.key);

    const zip = await readZip(res.zip);
    expect([...zip.keys()].sort()).toEqual([...s.objects.map((o) => `${o.sid}.wav`), `${s.twilioRec.recordingSid}.wav`].sort());
    for (const o of s.objects) expect(zip.get(`${o.sid}.wav`)!.equals(o.bytes)).toBe(true);
    expect(zip.get(`${s.twilioRec.recordingSid}.wav`)!.equals(s.twilioRec.bytes)).toBe(true);
    const fileOf = (sid: string) => doc.recording_files.find((f: { recording_sid: string }) => f.recording_sid === sid);
    expect(fileOf(s.twilioRec.recordingSid)).toMatchObject({ source: 'twilio', bytes: s.twilioRec.bytes.length, sha256: sha(s.twilioRec.bytes) });
    for (const o of s.objects) expect(fileOf(o.sid)).toMatchObject({ source: 's3', file: `${o.sid}.wav`, bytes: o.bytes.length, sha256: sha(o.bytes) });
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);

    const log = await sql<{ recording_sid: string; purpose: string; actor: string }>(
      `select recording_sid, purpose, actor from recording_access_log where recording_sid = any($1) order by id`,
      [recs.map((x) => x.recording_sid)],
    );
    expect(log).toHaveLength(3);
    expect(log.every((l) => l.purpose === 'lgpd_export' && l.actor === 'cli:dpo')).toBe(true);
    expect(await sql(`select kind, status from lgpd_requests where id = $1`, [doc.request_id])).toEqual([{ kind: 'export', status: 'done' }]);
  });

  it('erase --dry-run and erase without --yes change nothing', async () => {
    const before = await traces(s.phone);
    expect((await lgpd('erase', s.phone, '--dry-run')).code).toBe(0);
    const noYes = await lgpd('erase', s.phone);
    expect(noYes.code).toBe(2);
    expect(noYes.out).toMatch(/--yes/);
    expect(await traces(s.phone)).toEqual(before);
    expect(await exists(s.objects[0]!.bucket, s.objects[0]!.key)).toBe(true);
  });

  it('erase leaves no trace of the phone but the opt-out entry, deletes the audio in S3 and Twilio, and writes an audit line', async () => {
    expect(Object.keys(await traces(s.phone)).length).toBeGreaterThan(5);
    const r = await lgpd('erase', s.phone, '--yes', '--json', '--actor', 'dpo@empresa');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(out).toMatchObject({ s3_objects_deleted: 2, twilio_recordings_deleted: 1, twilio_calls_deleted: 1, twilio_messages_deleted: 1 });

    expect(await traces(s.phone)).toEqual({ 'opt_outs.phone_number': 1 });
    expect(await sql(`select reason, source from opt_outs where phone_number = $1`, [s.phone])).toEqual([{ reason: 'SAIR por SMS', source: 'sms' }]);
    for (const o of s.objects) expect(await exists(o.bucket, o.key)).toBe(false);
    expect(await exists(env('S3_BUCKET'), s.otherKey)).toBe(true);
    await expect(tw().recordings(s.twilioRec.recordingSid).fetch()).rejects.toMatchObject({ status: 404 });
    await expect(tw().calls(s.twilioRec.callSid).fetch()).rejects.toMatchObject({ status: 404 });
    expect(await tw().messages.list({ to: s.phone })).toEqual([]);
    expect(await tw().messages.list({ to: s.otherPhone })).toHaveLength(1);

    // Calls stay for the reports, anonymised; the agent's number and the other caller stay.
    const [{ n }] = (await sql<{ n: number }>(`select count(*)::int as n from calls`)) as [{ n: number }];
    expect(n).toBe(s.callCount);
    expect(await sql(`select count(*)::int as n from calls where to_number = $1 and from_number = 'erased'`, [s.did])).toEqual([{ n: 1 }]);
    expect(await sql(`select count(*)::int as n from calls where from_number = $1`, [s.otherPhone])).toEqual([{ n: 1 }]);
    expect(await sql(`select count(*)::int as n from leads where phone_number = $1`, [s.otherPhone])).toEqual([{ n: 1 }]);
    expect(await sql(`select phone_number from phone_numbers where assigned_agent_id = $1`, [s.agentId])).toEqual([{ phone_number: s.did }]);
    expect(await sql(`select count(*)::int as n from agents where id = $1`, [s.agentId])).toEqual([{ n: 1 }]);
    const recs = await sql<{ s3_deleted_reason: string; deleted: boolean }>(
      `select s3_deleted_reason, s3_deleted_at is not null as deleted from recordings where recording_sid = any($1)`,
      [[...s.objects.map((o) => o.sid), s.twilioRec.recordingSid]],
    );
    expect(recs).toEqual(Array(3).fill({ s3_deleted_reason: 'lgpd_erase', deleted: true }));

    const hash = createHash('sha256').update(s.phone).digest('hex');
    const audit = await sql<{ kind: string; status: string; actor: string; counts: Record<string, unknown> }>(
      `select kind, status, actor, counts from lgpd_requests where phone_sha256 = $1 order by id`,
      [hash],
    );
    expect(audit.map((a) => [a.kind, a.status, a.actor])).toEqual([
      ['export', 'done', 'cli:dpo'],
      ['erase', 'done', 'dpo@empresa'],
    ]);
    expect(audit[1]!.counts).toMatchObject({ calls: 4, leads: 2, inbound_messages: 2, recordings: 3, opt_out_added: false });
  });

  it('erasing again is harmless: nothing left to touch, one more audit line', async () => {
    const r = await lgpd('erase', s.phone, '--yes', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ counts: { calls: 0, leads: 0, recordings: 0, opt_out_added: false }, s3_objects_deleted: 0, twilio_recordings_deleted: 0, twilio_calls_deleted: 0, twilio_messages_deleted: 0 });
    expect(await traces(s.phone)).toEqual({ 'opt_outs.phone_number': 1 });
  });

  it('a phone without an opt-out entry gets one, so it stays undialed', async () => {
    const phone = newMobile();
    await sql(`insert into leads (campaign_id, phone_number, name) values ($1, $2, 'Sem Opt-out')`, [s.campaignId, phone]);
    const r = await lgpd('erase', phone, '--yes', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).counts).toMatchObject({ leads: 1, opt_out_added: true });
    expect(await sql(`select source, created_by from opt_outs where phone_number = $1`, [phone])).toEqual([{ source: 'manual', created_by: 'cli:dpo' }]);
    expect(await traces(phone)).toEqual({ 'opt_outs.phone_number': 1 });
  });

  it('the database erase refuses while audio it was not told about may still exist, changing nothing', async () => {
    const phone = newMobile();
    const sid = newCallSid();
    await sql(`insert into calls (call_sid, account_sid, direction, from_number, to_number, status) values ($1, $2, 'inbound', $3, '+551130001000', 'completed')`, [
      sid,
      env('TWILIO_ACCOUNT_SID'),
      phone,
    ]);
    await sql(`insert into recordings (recording_sid, call_sid, status, storage_status, kind) values ($1, $2, 'completed', 'pending', 'voicemail')`, [newRecordingSid(), sid]);
    await expect(sql(`select lgpd_erase($1, 'test', '{}')`, [phone])).rejects.toThrow(/not deleted yet; nothing was erased/);
    expect(await sql(`select from_number from calls where call_sid = $1`, [sid])).toEqual([{ from_number: phone }]);
    expect(await sql(`select count(*)::int as n from opt_outs where phone_number = $1`, [phone])).toEqual([{ n: 0 }]);
  });

  it('an erasure stopped midway (Twilio unreachable after the S3 deletions) has already opted the number out, changes no other row, and the same command finishes it', async () => {
    const phone = newMobile();
    const sid = newCallSid();
    await sql(`insert into leads (campaign_id, phone_number, name) values ($1, $2, 'Parado')`, [s.campaignId, phone]);
    await sql(`insert into calls (call_sid, account_sid, direction, from_number, to_number, status) values ($1, $2, 'inbound', $3, '+551130001000', 'completed')`, [
      sid,
      env('TWILIO_ACCOUNT_SID'),
      phone,
    ]);
    const rec = newRecordingSid();
    const key = `2026/11/26/${sid}/${rec}.wav`;
    await s3().send(new PutObjectCommand({ Bucket: env('S3_BUCKET'), Key: key, Body: randomBytes(500) }));
    await sql(
      `insert into recordings (recording_sid, call_sid, status, storage_status, s3_bucket, s3_key, sha256, kind) values ($1, $2, 'completed', 'verified', $3, $4, $5, 'voicemail')`,
      [rec, sid, env('S3_BUCKET'), key, 'a'.repeat(64)],
    );
    const broken = await lgpdWith({ TWILIO_API_BASE_URL: 'http://127.0.0.1:9' }, 'erase', phone, '--yes');
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/could not reach Twilio.*run the same command again/);
    expect(await exists(env('S3_BUCKET'), key)).toBe(false);
    // The number is undialable from the first step on (and stays so if nobody reruns).
    expect(await sql(`select opt_out_check($1) ->> 'opted_out' as o`, [phone])).toEqual([{ o: 'true' }]);
    expect(await sql(`select status from leads where phone_number = $1`, [phone])).toEqual([{ status: 'opted_out' }]);
    // No row erased; the recording is marked as being erased (listening refuses it).
    expect(await sql(`select from_number from calls where call_sid = $1`, [sid])).toEqual([{ from_number: phone }]);
    expect(await sql(`select s3_deleted_reason, s3_deleted_at from recordings where recording_sid = $1`, [rec])).toEqual([{ s3_deleted_reason: 'lgpd_erase', s3_deleted_at: null }]);
    const hash = createHash('sha256').update(phone).digest('hex');
    expect(await sql(`select status from lgpd_requests where phone_sha256 = $1`, [hash])).toEqual([{ status: 'started' }]);

    const again = await lgpd('erase', phone, '--yes', '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.out).counts).toMatchObject({ calls: 1, recordings: 1, leads: 1, opt_out_added: true });
    expect(await sql(`select status from lgpd_requests where phone_sha256 = $1`, [hash])).toEqual([{ status: 'done' }]);
    expect(await traces(phone)).toEqual({ 'opt_outs.phone_number': 1 });
  });

  it('a recording mid-transfer (whole object uploaded but not verified, or a multipart upload open) has its S3 bytes deleted, and the job forgets its key', async () => {
    const phone = newMobile();
    const sid = newCallSid();
    await sql(`insert into calls (call_sid, account_sid, direction, from_number, to_number, status) values ($1, $2, 'inbound', $3, '+551130001000', 'completed')`, [
      sid,
      env('TWILIO_ACCOUNT_SID'),
      phone,
    ]);
    const uploaded = newRecordingSid();
    const uploading = newRecordingSid();
    const keyOf = (rec: string) => `2026/11/26/${sid}/${rec}.wav`;
    await s3().send(new PutObjectCommand({ Bucket: env('S3_BUCKET'), Key: keyOf(uploaded), Body: randomBytes(300) }));
    for (const [rec, state, uploadId] of [
      [uploaded, 'uploaded', null],
      [uploading, 'uploading', 'upload-that-s3rver-does-not-know'],
    ] as const) {
      const [row] = await sql<{ id: number }>(
        `insert into recordings (recording_sid, call_sid, status, storage_status, kind) values ($1, $2, 'completed', 'copying', 'voicemail') returning id`,
        [rec, sid],
      );
      await sql(`insert into recording_transfers (recording_id, recording_sid, state, s3_bucket, s3_key, upload_id) values ($1, $2, $3, $4, $5, $6)`, [
        row!.id, rec, state, env('S3_BUCKET'), keyOf(rec), uploadId,
      ]);
    }
    const r = await lgpd('erase', phone, '--yes', '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ s3_objects_deleted: 2, counts: { recordings: 2 } });
    expect(await exists(env('S3_BUCKET'), keyOf(uploaded))).toBe(false);
    expect(
      await sql(`select t.s3_key, t.upload_id, r.s3_deleted_reason from recording_transfers t join recordings r on r.id = t.recording_id where r.call_sid = $1 order by r.id`, [sid]),
    ).toEqual(Array(2).fill({ s3_key: null, upload_id: null, s3_deleted_reason: 'lgpd_erase' }));
  });

  it("a recording in the account's own storage (external) is not claimed deleted: refused, naming the URL, until --external-deleted", async () => {
    const phone = newMobile();
    const sid = newCallSid();
    await sql(`insert into calls (call_sid, account_sid, direction, from_number, to_number, status) values ($1, $2, 'inbound', $3, '+551130001000', 'completed')`, [
      sid,
      env('TWILIO_ACCOUNT_SID'),
      phone,
    ]);
    const rec = newRecordingSid();
    const url = `https://conta-propria.s3.sa-east-1.amazonaws.com/${rec}.wav`;
    await sql(`insert into recordings (recording_sid, call_sid, status, storage_status, external_url, kind) values ($1, $2, 'completed', 'external', $3, 'voicemail')`, [rec, sid, url]);
    const refused = await lgpd('erase', phone, '--yes');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(url);
    expect(refused.err).toMatch(/--external-deleted/);
    expect(await sql(`select from_number from calls where call_sid = $1`, [sid])).toEqual([{ from_number: phone }]);
    // the database refuses too, whatever the tool says about the rest of the media
    const [row] = await sql<{ id: number }>(`select id from recordings where recording_sid = $1`, [rec]);
    await expect(sql(`select lgpd_erase($1, 'test', $2)`, [phone, [row!.id]])).rejects.toThrow(/deleted by hand first: https:\/\/conta-propria/);

    const done = await lgpd('erase', phone, '--yes', '--external-deleted', '--json');
    expect(done.err).toBe('');
    expect(done.code).toBe(0);
    expect(await sql(`select external_url, s3_deleted_reason from recordings where recording_sid = $1`, [rec])).toEqual([{ external_url: null, s3_deleted_reason: 'lgpd_erase' }]);
  });

  it('an export whose audio cannot be read fails with nothing written (no JSON, no zip, no partial file) and is not recorded as done', async () => {
    const phone = newMobile();
    const sid = newCallSid();
    await sql(`insert into calls (call_sid, account_sid, direction, from_number, to_number, status) values ($1, $2, 'inbound', $3, '+551130001000', 'completed')`, [
      sid,
      env('TWILIO_ACCOUNT_SID'),
      phone,
    ]);
    const ok = newRecordingSid();
    const okKey = `2026/11/26/${sid}/${ok}.wav`;
    await s3().send(new PutObjectCommand({ Bucket: env('S3_BUCKET'), Key: okKey, Body: randomBytes(200_000) }));
    for (const [rec, key] of [
      [ok, okKey],
      [newRecordingSid(), `2026/11/26/${sid}/missing.wav`],
    ]) {
      await sql(
        `insert into recordings (recording_sid, call_sid, status, storage_status, s3_bucket, s3_key, sha256, kind) values ($1, $2, 'completed', 'verified', $3, $4, $5, 'call')`,
        [rec, sid, env('S3_BUCKET'), key, 'b'.repeat(64)],
      );
    }
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lgpd-fail-'));
    try {
      const r = await lgpd('export', phone, '--out', out);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/could not read a recording's audio.*nothing was written/);
      expect(fs.readdirSync(out)).toEqual([]);
      // The attempt is on record, as started; no recording is logged as handed out.
      const hash = createHash('sha256').update(phone).digest('hex');
      expect(await sql(`select kind, status, finished_at from lgpd_requests where phone_sha256 = $1`, [hash])).toEqual([{ kind: 'export', status: 'started', finished_at: null }]);
      expect(await sql(`select a.outcome from recording_access_log a join recordings r on r.id = a.recording_id where r.call_sid = $1`, [sid])).toEqual([]);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

/** A Brazilian mobile whose eight digits after the 9 start with 8: without the 9 it is the number as written before 2016. */
const oldStyleMobile = () => `+55119${8}${String(1_000_000 + Math.floor(Math.random() * 8_999_999))}`;
const DID = '+551130001000';

describe('lgpd: mentions in every spelling, transcriptions, and numbers that are not a subject', () => {
  it('the search finds every spelling the pattern matches: any character between the digits, the last four split, no ninth digit', async () => {
    const P = oldStyleMobile();
    const d = P.slice(3); // 1198xxxxxxx
    const spellings = [
      P, P.slice(1), d, `(${d.slice(0, 2)}) ${d.slice(2, 7)}-${d.slice(7)}`, `+55 ${d.slice(0, 2)} ${d.slice(2, 7)} ${d.slice(7)}`, `0${d.slice(0, 2)} ${d.slice(2, 7)}-${d.slice(7)}`,
      `${d.slice(0, 2)} ${d.slice(2, 5)} ${d.slice(5, 8)} ${d.slice(8)}`, // last four split
      `(${d.slice(0, 2)}) ${d.slice(3, 7)}-${d.slice(7)}`, `${d.slice(0, 2)}${d.slice(3)}`, `+55 (${d.slice(0, 2)}) ${d.slice(3, 7)}.${d.slice(7)}`, // without the ninth digit
      d.split('').join(' - '), `${d.slice(0, 2)}\t${d.slice(2, 7)}\r\n${d.slice(7)}`,
    ];
    const other = newMobile();
    // The listed spellings, and every character up to U+30FF put between two of the last digits
    // (the search must find exactly the texts the pattern matches).
    await sql(
      `insert into inbound_messages (message_sid, channel, from_number, to_number, body, kind)
       select 'SM' || md5($3 || t), 'sms', $2, '+551130001000', t, 'message'
         from (select unnest($1::text[]) as t
               union
               select left($4, 9) || chr(i) || right($4, 2) from generate_series(1, 12543) i where i not between 55296 and 57343) x`,
      [spellings, other, P, d],
    );
    const [want] = await sql<{ n: number; listed: number }>(
      `select count(*)::int as n, count(*) filter (where body = any($3))::int as listed from inbound_messages where from_number = $1 and body ~ lgpd_phone_pattern($2)`,
      [other, P, spellings],
    );
    expect(want!.listed).toBe(spellings.length);
    expect(want!.n).toBeGreaterThan(spellings.length + 5); // ' ', '-', '.', '(', ')', tab, CR, LF between digits
    const [got] = await sql<{ n: number }>(`select (lgpd_subject($1) #>> '{counts,inbound_messages}')::int as n`, [P]);
    expect(got!.n).toBe(want!.n);
    // Never inside a longer run of digits; a number without its area code is not the subject.
    const [n] = await sql<{ m: boolean[] }>(`select array[$1 ~ lgpd_phone_pattern($3), $2 ~ lgpd_phone_pattern($3)] as m`, [`1${d}`, `${d.slice(2, 7)}-${d.slice(7)}`, P]);
    expect(n!.m).toEqual([false, false]);
    await sql(`delete from inbound_messages where from_number = $1`, [other]);
  });

  describe("someone else's texts and a transcription waiting for its recording", () => {
    const P = oldStyleMobile();
    const d = P.slice(3);
    const national = `(${d.slice(0, 2)}) ${d.slice(2, 7)}-${d.slice(7)}`;
    const split = `${d.slice(0, 2)} ${d.slice(2, 5)} ${d.slice(5, 8)} ${d.slice(8)}`;
    const noNinth = `(${d.slice(0, 2)}) ${d.slice(3, 7)}-${d.slice(7)}`;
    const subjectCall = newCallSid();
    const otherCall = newCallSid();
    const otherVm = newRecordingSid();
    const pending = newRecordingSid();
    const otherPending = newRecordingSid();
    let campaignId: string;
    let dir: string;

    beforeAll(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lgpd-m-'));
      const [k] = await sql<{ id: string }>(`insert into campaigns (name) values ($1) returning id`, [`M ${randomUUID()}`]);
      campaignId = k!.id;
      await sql(
        `insert into calls (call_sid, account_sid, direction, from_number, to_number, status) values ($1, $2, 'inbound', $3, $4, 'completed'), ($5, $2, 'inbound', $6, $4, 'completed')`,
        [subjectCall, env('TWILIO_ACCOUNT_SID'), P, DID, otherCall, newMobile()],
      );
      // Left on an agent of its own (other suites' agent pages never list it).
      const [a] = await sql<{ id: string }>(`insert into agents (name) values ('Caixa Postal') returning id`);
      await sql(`insert into recordings (recording_sid, call_sid, status, kind, agent_id, transcription) values ($1, $2, 'completed', 'voicemail', $4, $3)`, [
        otherVm,
        otherCall,
        `liga pro meu filho no ${national}, obrigado`,
        a!.id,
      ]);
      await sql(`insert into pending_transcriptions (recording_sid, call_sid, status, transcription) values ($1, $2, 'completed', 'sou o Fulano, CPF 123'), ($3, $4, 'completed', $5)`, [
        pending,
        subjectCall,
        otherPending,
        otherCall,
        `o numero dele e ${noNinth}`,
      ]);
      await sql(`insert into call_dispositions (call_sid, code, notes) values ($1, 'recado', $2)`, [otherCall, `novo numero do cliente: ${split}`]);
      await sql(`insert into leads (campaign_id, phone_number, data) values ($1, $2, $3)`, [campaignId, newMobile(), { recado: noNinth }]);
    });
    afterAll(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

    it("export holds them; the other call's voicemail is marked mention_only and its audio is not packed", async () => {
      const r = await lgpd('export', P, '--out', dir, '--json');
      expect(r.code).toBe(0);
      const res = JSON.parse(r.out) as { json: string; zip: string };
      const doc = JSON.parse(fs.readFileSync(res.json, 'utf8'));
      expect(doc.counts).toMatchObject({ recordings: 1, pending_transcriptions: 2, call_dispositions: 1, leads: 1 });
      expect(doc.recordings[0]).toMatchObject({ recording_sid: otherVm, mention_only: true });
      expect(doc.recording_files).toEqual([]);
      expect((await readZip(res.zip)).size).toBe(0);
      expect(await sql(`select count(*)::int as n from recording_access_log where recording_sid = $1`, [otherVm])).toEqual([{ n: 0 }]);
    });

    it("erase deletes the subject's pending transcription and replaces every spelling elsewhere", async () => {
      const r = await lgpd('erase', P, '--yes', '--json');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out).counts).toMatchObject({ recordings: 1, pending_transcriptions: 2, call_dispositions: 1, leads: 1 });
      expect(await sql(`select transcription from recordings where recording_sid = $1`, [otherVm])).toEqual([{ transcription: 'liga pro meu filho no erased, obrigado' }]);
      expect(await sql(`select recording_sid, transcription from pending_transcriptions where recording_sid = any($1) order by recording_sid`, [[pending, otherPending]])).toEqual([
        { recording_sid: otherPending, transcription: 'o numero dele e erased' },
      ]);
      expect(await sql(`select notes from call_dispositions where call_sid = $1`, [otherCall])).toEqual([{ notes: 'novo numero do cliente: erased' }]);
      expect(await sql(`select data from leads where campaign_id = $1`, [campaignId])).toEqual([{ data: { recado: 'erased' } }]);
      // The other call's recording is not the subject's: not marked as erased.
      expect(await sql(`select s3_deleted_reason from recordings where recording_sid = $1`, [otherVm])).toEqual([{ s3_deleted_reason: null }]);
    });
  });

  it("an agent's follow-me mobile is refused like the agent's phone, nothing changed", async () => {
    const M = oldStyleMobile();
    const [a] = await sql<{ id: string }>(`insert into agents (name) values ('Ana Movel') returning id`);
    await sql(`insert into agent_follow_me (agent_id, mobile_number) values ($1, $2)`, [a!.id, M]);
    const r = await lgpd('erase', M, '--yes');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/follow-me mobile/);
    expect((await lgpd('export', M, '--out', os.tmpdir())).code).toBe(2);
    expect(await sql(`select count(*)::int as n from agent_follow_me where mobile_number = $1`, [M])).toEqual([{ n: 1 }]);
    expect(await sql(`select count(*)::int as n from opt_outs where phone_number = $1`, [M])).toEqual([{ n: 0 }]);
    expect(await sql(`select count(*)::int as n from lgpd_requests where phone_sha256 = $1`, [createHash('sha256').update(M).digest('hex')])).toEqual([{ n: 0 }]);
  });
});
