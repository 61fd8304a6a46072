/**
 * Follow-me settings and voicemail transcriptions on the real database: `npm run agents --
 * set-follow-me` (validation before any write, the chain it prints, refusals with nothing
 * changed), start_inbound_call's chain, and /webhooks/transcription whichever of the recording
 * and its transcription arrives first.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { Env, Io } from '../../scripts/lib/cli';
import { run } from '../../scripts/agents';
import { createAgentWithDid, env, session, sql, waitUntilBlocked } from '../helpers/db';
import { newCallSid, newMobile, signedPost, voiceRequest } from '../helpers/twilio';
import { find, parseTwiml, verbNames } from '../helpers/twiml';

jest.setTimeout(60000);

async function agents(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const cliEnv: Env = { SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY') };
  const stream = new PassThrough();
  stream.end('');
  const code = await run(argv, cliEnv, io, { stream, prompt: () => undefined });
  let json: unknown = null;
  try {
    json = JSON.parse(out.join('\n'));
  } catch {
    json = null;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { code, out: out.join('\n'), err: err.join('\n'), json: json as any };
}
const did = () => `+5511300${String(Math.floor(Math.random() * 90000) + 10000)}`;
const settings = (id: number) =>
  sql('select mobile_number, softphone_seconds, mobile_seconds, final_hop, queue_name from agent_follow_me where agent_id = $1', [id]);

describe('agents set-follow-me', () => {
  it('sets the mobile, ring times and the last hop; prints the chain; by id or e-mail', async () => {
    const id = await createAgentWithDid({ name: 'Bia', phone: null, client: `bia${Date.now()}`, did: did() });
    await sql(`insert into service_queues (name) values ('cobranca') on conflict (name) do nothing`);
    const r = await agents(['set-follow-me', String(id), '--mobile', '(11) 98765-4321', '--softphone-seconds', '15', '--mobile-seconds', '30', '--then', 'queue:cobranca', '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ agent_id: id, changed: true, settings: { mobile_number: '+5511987654321', softphone_seconds: 15, mobile_seconds: 30, final_hop: 'queue', queue_name: 'cobranca' } });
    expect(await settings(id)).toEqual([{ mobile_number: '+5511987654321', softphone_seconds: 15, mobile_seconds: 30, final_hop: 'queue', queue_name: 'cobranca' }]);
    const text = await agents(['set-follow-me', String(id), '--then', 'voicemail']);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/softphone bia\d+ 15 s → mobile \+5511987654321 30 s → voicemail/);
    expect(await settings(id)).toEqual([{ mobile_number: '+5511987654321', softphone_seconds: 15, mobile_seconds: 30, final_hop: 'voicemail', queue_name: null }]);
    const byEmail = await agents(['set-follow-me', 'ana@discador.local', '--then', 'queue', '--json']);
    expect(byEmail.json).toMatchObject({ settings: { final_hop: 'queue', queue_name: 'geral' } });
    await agents(['set-follow-me', 'ana@discador.local', '--then', 'voicemail']);
  });

  it.each([
    [['--mobile', '(11) 3000-1002'], 'Brazilian mobile'],
    [['--mobile', '+14155550100'], 'Brazilian mobile'],
    [['--mobile', 'abc'], 'invalid phone number'],
    [['--softphone-seconds', '9'], '10 to 120'],
    [['--mobile-seconds', '121'], '10 to 120'],
    [['--mobile-seconds', '2.5'], '10 to 120'],
    [['--then', 'fila'], 'voicemail, queue or queue:<name>'],
    [['--then', 'queue:Geral!'], 'queue name'],
  ])('%p is refused before anything is written', async (args, message) => {
    const id = await createAgentWithDid({ name: 'Caio', phone: null, client: null, did: did() });
    const r = await agents(['set-follow-me', String(id), ...args]);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(await settings(id)).toEqual([]);
  });

  it("refuses one of the account's own numbers as the mobile (its DID would call itself), and an unknown agent", async () => {
    const number = did();
    const id = await createAgentWithDid({ name: 'Duda', phone: null, client: null, did: number });
    // A pool number that parses as a mobile: the database refuses it.
    const poolMobile = newMobile();
    await sql(`insert into phone_numbers (phone_number) values ($1)`, [poolMobile]);
    const r = await agents(['set-follow-me', String(id), '--mobile', poolMobile]);
    expect(r.code).toBe(1);
    expect(r.err).toContain("one of the account's own numbers");
    expect(await settings(id)).toEqual([]);
    // A queue nobody created (a typo would send the callers to the default queue).
    const typo = await agents(['set-follow-me', String(id), '--then', 'queue:cobransa']);
    expect(typo.code).toBe(2);
    expect(typo.err).toContain('no service queue cobransa');
    expect(await settings(id)).toEqual([]);
    const nobody = await agents(['set-follow-me', '99999999', '--then', 'voicemail']);
    expect(nobody.code).toBe(1);
    expect(nobody.err).toContain('no agent');
  });
});

describe('start_inbound_call', () => {
  it('answers follow-me with the chain for an agent who cannot take the call, and records the call once', async () => {
    const number = did();
    const id = await createAgentWithDid({ name: 'Eva', phone: '+5511991112222', client: `eva${Date.now()}`, did: number });
    await sql(`update agents set status = 'offline' where id = $1`, [id]);
    const sid = newCallSid();
    const [r] = await sql<{ r: Record<string, unknown> }>(
      `select start_inbound_call(jsonb_build_object('call_sid', $1::text, 'call_status', 'ringing', 'direction', 'inbound', 'from', $2::text, 'to', $3::text, 'params', '{}'::jsonb)) as r`,
      [sid, newMobile('21'), number],
    );
    expect(r!.r).toMatchObject({
      route: 'follow-me',
      follow_me: {
        agent_id: id, agent_name: 'Eva',
        hops: [{ kind: 'softphone', seconds: 20 }, { kind: 'mobile', number: '+5511991112222', seconds: 25 }],
        final: { kind: 'voicemail' },
      },
    });
    // The number's owner is noted; the call has no agent until someone answers it.
    expect(await sql('select agent_id, owner_agent_id::int as owner, status from calls where call_sid = $1', [sid])).toEqual([{ agent_id: null, owner: id, status: 'ringing' }]);
  });
});

describe('/voice/follow-me on the real stack', () => {
  it("Twilio's retry of a hop's action answers the same next hop and logs the outcome once", async () => {
    const number = did();
    const id = await createAgentWithDid({ name: 'Fábio', phone: '+5511993334444', client: `fabio${Date.now()}`, did: number });
    await sql(`update agents set status = 'offline' where id = $1`, [id]);
    const caller = newMobile('21');
    const p = voiceRequest({ CallSid: newCallSid(), From: caller, To: number }, env('TWILIO_ACCOUNT_SID'));
    const inbound = parseTwiml(await (await signedPost(`${env('FUNCTIONS_BASE_URL')}/voice/inbound`, p, env('TWILIO_AUTH_TOKEN'))).text());
    expect(find(inbound, 'Dial')!.attrs['action']).toBe(`${env('FUNCTIONS_BASE_URL')}/voice/follow-me?agent=${id}&hop=softphone`);
    const action = { ...p, CallStatus: 'in-progress', DialCallStatus: 'no-answer', DialCallSid: newCallSid() };
    const url = `${env('FUNCTIONS_BASE_URL')}/voice/follow-me?agent=${id}&hop=softphone`;
    const first = await (await signedPost(url, action, env('TWILIO_AUTH_TOKEN'))).text();
    const again = await (await signedPost(url, action, env('TWILIO_AUTH_TOKEN'))).text();
    expect(again).toBe(first);
    const next = parseTwiml(first);
    expect(verbNames(next)).toEqual(['Dial']);
    expect(find(next, 'Number')).toMatchObject({ text: '+5511993334444', attrs: { url: `${env('FUNCTIONS_BASE_URL')}/voice/screen?agent=${id}` } });
    expect(await sql(`select received_count, params->>'follow_me_outcome' as outcome from call_events where call_sid = $1 and kind = 'dial'`, [p['CallSid']]))
      .toEqual([{ received_count: 2, outcome: 'no-answer' }]);
  });
});

describe('/webhooks/transcription', () => {
  const post = (p: Record<string, string>) => signedPost(`${env('FUNCTIONS_BASE_URL')}/webhooks/transcription`, p, env('TWILIO_AUTH_TOKEN'));
  const reSid = () => 'RE' + randomBytes(16).toString('hex');
  async function callRow(): Promise<string> {
    const sid = newCallSid();
    await sql(`insert into calls (call_sid, direction, status, from_number, to_number) values ($1, 'inbound', 'completed', $2, '+551130001000')`, [sid, newMobile()]);
    return sid;
  }
  const insertRecording = (rec: string, call: string) =>
    sql(`insert into recordings (recording_sid, call_sid, source, channels, duration, status, kind) values ($1, $2, 'RecordVerb', 1, 7, 'completed', 'voicemail')`, [rec, call]);
  const row = (rec: string) => sql('select transcription, transcription_status as status from recordings where recording_sid = $1', [rec]);

  it('stores the text on an existing recording', async () => {
    const call = await callRow();
    const rec = reSid();
    await insertRecording(rec, call);
    const res = await post({ AccountSid: env('TWILIO_ACCOUNT_SID'), CallSid: call, RecordingSid: rec, TranscriptionSid: 'TR' + '0'.repeat(32), TranscriptionStatus: 'completed', TranscriptionText: 'quero negociar a dívida' });
    expect(res.status).toBe(204);
    expect(await row(rec)).toEqual([{ transcription: 'quero negociar a dívida', status: 'completed' }]);
    // A late failure does not replace a completed transcription.
    await post({ AccountSid: env('TWILIO_ACCOUNT_SID'), CallSid: call, RecordingSid: rec, TranscriptionStatus: 'failed' });
    expect(await row(rec)).toEqual([{ transcription: 'quero negociar a dívida', status: 'completed' }]);
  });

  it('arriving before the recording: kept, and taken by the row when it is inserted', async () => {
    const call = await callRow();
    const rec = reSid();
    const res = await post({ AccountSid: env('TWILIO_ACCOUNT_SID'), CallSid: call, RecordingSid: rec, TranscriptionStatus: 'completed', TranscriptionText: 'me liga amanhã' });
    expect(res.status).toBe(204);
    expect(await sql('select status, transcription from pending_transcriptions where recording_sid = $1', [rec])).toEqual([{ status: 'completed', transcription: 'me liga amanhã' }]);
    await insertRecording(rec, call);
    expect(await row(rec)).toEqual([{ transcription: 'me liga amanhã', status: 'completed' }]);
    expect(await sql('select 1 from pending_transcriptions where recording_sid = $1', [rec])).toEqual([]);
  });

  it('arriving while the recording insert is uncommitted: waits for it and lands on the row', async () => {
    const call = await callRow();
    const rec = reSid();
    const a = await session();
    const b = await session();
    try {
      await a.client.query('begin');
      await a.client.query(`insert into recordings (recording_sid, call_sid, source, channels, duration, status, kind) values ($1, $2, 'RecordVerb', 1, 7, 'completed', 'voicemail')`, [rec, call]);
      const late = b.client.query(`select recording_transcription($1, $2, 'completed', 'retorne por favor') as r`, [rec, call]);
      await waitUntilBlocked(b.pid);
      await a.client.query('commit');
      expect((await late).rows[0].r).toMatchObject({ stored: 'recording' });
    } finally {
      await a.client.end();
      await b.client.end();
    }
    expect(await row(rec)).toEqual([{ transcription: 'retorne por favor', status: 'completed' }]);
    expect(await sql('select 1 from pending_transcriptions where recording_sid = $1', [rec])).toEqual([]);
  });

  it('a late callback for a recording erased at the subject\'s request writes nothing back, nor waits', async () => {
    const call = await callRow();
    const rec = reSid();
    await insertRecording(rec, call);
    await sql(`update recordings set s3_deleted_reason = 'lgpd_erase', transcription = null, transcription_status = null where recording_sid = $1`, [rec]);
    const res = await post({ AccountSid: env('TWILIO_ACCOUNT_SID'), CallSid: call, RecordingSid: rec, TranscriptionStatus: 'completed', TranscriptionText: 'meu CPF é 123' });
    expect(res.status).toBe(204);
    expect(await row(rec)).toEqual([{ transcription: null, status: null }]);
    expect(await sql('select 1 from pending_transcriptions where recording_sid = $1', [rec])).toEqual([]);
  });

  it('a text cut at the stored limit never splits an emoji (a lone surrogate would be refused)', async () => {
    const call = await callRow();
    const rec = reSid();
    await insertRecording(rec, call);
    // 19,999 code units then an emoji (2 units) straddling the 20,000 limit.
    const text = 'a'.repeat(19_999) + '😀' + 'fim';
    const res = await post({ AccountSid: env('TWILIO_ACCOUNT_SID'), CallSid: call, RecordingSid: rec, TranscriptionStatus: 'completed', TranscriptionText: text });
    expect(res.status).toBe(204);
    const [r] = await sql<{ transcription: string }>('select transcription from recordings where recording_sid = $1', [rec]);
    expect(r!.transcription).toBe('a'.repeat(19_999) + '😀');
  });

  it('a malformed callback is refused with 400, nothing written', async () => {
    const rec = reSid();
    const res = await post({ AccountSid: env('TWILIO_ACCOUNT_SID'), RecordingSid: rec, TranscriptionStatus: 'finished', TranscriptionText: 'x' });
    expect(res.status).toBe(400);
    expect(await sql('select 1 from pending_transcriptions where recording_sid = $1', [rec])).toEqual([]);
  });
});
