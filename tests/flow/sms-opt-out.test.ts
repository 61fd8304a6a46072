/**
 * /webhooks/sms on the local stack (signature front, twilio-run, PostgREST, Postgres): opt-out
 * words by SMS and WhatsApp list the sender (opt_outs row with its source, inbound_messages
 * row, a pt-BR <Message> confirmation), Twilio's retries store nothing twice, other messages
 * reach the agent page of the number's agent, refused requests write nothing, and a number
 * listed by SMS is never dialed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { placeCall } from '../../src/lib/domain/dialer';
import { MESSAGES } from '../../src/lib/domain/messages';
import { loadConfig } from '../../src/lib/runtime/config';
import { createDb } from '../../src/lib/runtime/db';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';
import type { AgentStateResponse } from '../../src/lib/domain/agents';
import { createAgentWithDid, env, session, sql, waitUntilBlocked } from '../helpers/db';
import { newMobile, signedPost } from '../helpers/twilio';
import { parseTwiml, verbNames } from '../helpers/twiml';

const url = () => `${env('FUNCTIONS_BASE_URL')}/webhooks/sms`;
const newMessageSid = () => 'SM' + randomBytes(16).toString('hex');
const newDid = () => `+5511300${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;
const TEAM_NUMBER = '+551130002000'; // supabase/seed.sql: a pool number nobody owns

function incoming(p: { sid?: string; from: string; to: string; body: string }): Record<string, string> {
  const sid = p.sid ?? newMessageSid();
  return {
    AccountSid: env('TWILIO_ACCOUNT_SID'), ApiVersion: '2010-04-01', MessageSid: sid, SmsSid: sid, SmsMessageSid: sid, SmsStatus: 'received',
    From: p.from, To: p.to, Body: p.body, NumMedia: '0', NumSegments: '1',
  };
}

async function post(params: Record<string, string>) {
  const res = await signedPost(url(), params, env('TWILIO_AUTH_TOKEN'));
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

const optOutRow = (phone: string) => sql<{ source: string; reason: string; created_by: string }>(`select source, reason, created_by from opt_outs where phone_number = $1`, [phone]);
const messageRows = (where: string, p: unknown[]) =>
  sql<{ message_sid: string; channel: string; from_number: string; to_number: string; body: string; kind: string; agent_id: string | null }>(
    `select message_sid, channel, from_number, to_number, body, kind, agent_id from inbound_messages where ${where} order by id`, p);

const tokens = new Map<number, string>();

/** A session token of the agent's user (as the sign-in would leave it), one per agent. */
async function agentSession(agentId: number): Promise<string> {
  const known = tokens.get(agentId);
  if (known) return known;
  const tag = randomBytes(6).toString('hex');
  const [u] = await sql<{ id: string }>(`insert into users (email, name, role, agent_id) values ($1, $2, 'agent', $3) returning id`, [`${tag}@discador.test`, `Pessoa ${tag}`, agentId]);
  const token = randomBytes(32).toString('base64url');
  await sql(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '1 hour')`, [u!.id, createHash('sha256').update(token).digest('hex')]);
  tokens.set(agentId, token);
  return token;
}

async function api<T>(path: string, token: string, body?: unknown): Promise<{ status: number; json: T & { error?: string } }> {
  const res = await fetch(`${env('FUNCTIONS_BASE_URL')}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as T & { error?: string } };
}

describe('opt-out words', () => {
  it('"Sair" by SMS: listed with source sms, the message stored, a pt-BR <Message> confirmation', async () => {
    const from = newMobile();
    const params = incoming({ from, to: TEAM_NUMBER, body: '  Sáir! ' });
    const r = await post(params);
    expect(r.status).toBe(200);
    expect(r.type).toContain('text/xml');
    const twiml = parseTwiml(r.text);
    expect(verbNames(twiml)).toEqual(['Message']);
    expect(twiml.children[0]!.text).toBe(MESSAGES.messageOptOutConfirmed);
    expect(await optOutRow(from)).toEqual([{ source: 'sms', reason: 'message_word', created_by: params['MessageSid'] }]);
    expect(await messageRows('from_number = $1', [from])).toEqual([
      { message_sid: params['MessageSid'], channel: 'sms', from_number: from, to_number: TEAM_NUMBER, body: '  Sáir! ', kind: 'opt_out', agent_id: null },
    ]);
  });

  it("Twilio's retry of the same MessageSid stores nothing twice and confirms again", async () => {
    const from = newMobile();
    const params = incoming({ from, to: TEAM_NUMBER, body: 'PARE' });
    const [a, b] = await Promise.all([post(params), post(params)]);
    const c = await post(params);
    for (const r of [a, b, c]) {
      expect(r.status).toBe(200);
      expect(parseTwiml(r.text).children[0]!.text).toBe(MESSAGES.messageOptOutConfirmed);
    }
    expect(await messageRows('message_sid = $1', [params['MessageSid']])).toHaveLength(1);
    expect(await optOutRow(from)).toHaveLength(1);
  });

  it('"PARAR" by WhatsApp: listed with source whatsapp under the 9-digit number, pending and previewed leads opted out', async () => {
    const line = `8${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    const mobile = `+55119${line}`;
    const waId = `+5511${line}`; // the same line as WhatsApp often names it, without the ninth digit
    const [k] = await sql<{ id: string }>(`insert into campaigns (name) values ($1) returning id`, [`sms ${randomBytes(4).toString('hex')}`]);
    const previewer = await createAgentWithDid({ name: `Prévia ${randomBytes(3).toString('hex')}`, phone: null, client: null, did: newDid() });
    const [k2] = await sql<{ id: string }>(`insert into campaigns (name) values ($1) returning id`, [`sms ${randomBytes(4).toString('hex')}`]);
    await sql(`insert into leads (campaign_id, phone_number, status) values ($1, $2, 'pending')`, [k!.id, mobile]);
    await sql(`insert into leads (campaign_id, phone_number, status, preview_agent_id) values ($1, $2, 'previewing', $3)`, [k2!.id, mobile, previewer]);
    const params = incoming({ from: `whatsapp:${waId}`, to: `whatsapp:${TEAM_NUMBER}`, body: 'PARAR' });
    const r = await post(params);
    expect(parseTwiml(r.text).children.map((m) => m.text)).toEqual([MESSAGES.messageOptOutConfirmed]);
    expect(await optOutRow(mobile)).toEqual([{ source: 'whatsapp', reason: 'message_word', created_by: params['MessageSid'] }]);
    expect(await messageRows('message_sid = $1', [params['MessageSid']])).toMatchObject([{ channel: 'whatsapp', from_number: mobile, kind: 'opt_out' }]);
    expect(await sql(`select status, preview_agent_id from leads where phone_number = $1 order by id`, [mobile])).toEqual([
      { status: 'opted_out', preview_agent_id: null },
      { status: 'opted_out', preview_agent_id: null },
    ]);
  });

  it("takes the number's opt-out lock: a dial decided while the SMS opt-out commits waits for it, then is refused", async () => {
    const from = newMobile();
    const a = await session();
    const b = await session();
    try {
      await a.client.query('begin');
      await a.client.query(`select receive_inbound_message($1, 'sms', $2, $3, 'SAIR', 'opt_out')`, [newMessageSid(), from, TEAM_NUMBER]);
      const dial = b.client.query<{ d: { allowed: boolean; reason?: string } }>(`select start_dial_attempt($1) as d`, [from]);
      await waitUntilBlocked(b.pid);
      await a.client.query('commit');
      expect((await dial).rows[0]!.d).toEqual({ allowed: false, reason: 'opted_out' });
      expect(await sql(`select count(*)::int as n from calls where to_number = $1`, [from])).toEqual([{ n: 0 }]);
    } finally {
      await a.client.end();
      await b.client.end();
    }
  });

  it('a number listed by SMS is never dialed: placeCall refuses it before Twilio', async () => {
    const from = newMobile();
    await post(incoming({ from, to: TEAM_NUMBER, body: 'descadastrar' }));
    // The account's CPS gate is shared with every suite dialing on this stack: a room of 50
    // keeps it out of the way, so the only refusal left to see is the opt-out.
    const config = loadConfig({ SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY'), PUBLIC_BASE_URL: env('FUNCTIONS_BASE_URL'), ACCOUNT_CPS: '50' });
    const placed = await placeCall(
      { config, db: createDb({ url: config.SUPABASE_URL, serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY }), twilio: createTwilioClient(env('TWILIO_ACCOUNT_SID'), env('TWILIO_AUTH_TOKEN'), 'http://127.0.0.1:9') },
      { to: from },
    );
    expect(placed).toMatchObject({ placed: false, reason: 'opted_out' });
  });
});

describe('messages for the team', () => {
  it("a plain message: kind message, no reply, on the agent page of the number's agent (not on another's), marked read", async () => {
    const did = newDid();
    const agentId = await createAgentWithDid({ name: `Agente ${randomBytes(3).toString('hex')}`, phone: null, client: null, did });
    const otherId = await createAgentWithDid({ name: `Outro ${randomBytes(3).toString('hex')}`, phone: null, client: null, did: newDid() });
    const from = newMobile();
    const params = incoming({ from, to: did, body: 'Olá, posso pagar amanhã?' });
    const r = await post(params);
    expect(r.status).toBe(200);
    expect(parseTwiml(r.text).children).toEqual([]);
    expect(await optOutRow(from)).toEqual([]);
    expect(await messageRows('message_sid = $1', [params['MessageSid']])).toEqual([
      { message_sid: params['MessageSid'], channel: 'sms', from_number: from, to_number: did, body: 'Olá, posso pagar amanhã?', kind: 'message', agent_id: String(agentId) },
    ]);

    const token = await agentSession(agentId);
    const state = await api<AgentStateResponse>('/api/agent/state', token);
    expect(state.status).toBe(200);
    const mine = state.json.messages.find((m) => m.from_number === from);
    expect(mine).toMatchObject({ channel: 'sms', to_number: did, body: 'Olá, posso pagar amanhã?', read_at: null, for_team: false });
    expect(state.json.messages_unread).toBeGreaterThanOrEqual(1);
    const other = await api<AgentStateResponse>('/api/agent/state', await agentSession(otherId));
    expect(other.json.messages.some((m) => m.from_number === from)).toBe(false);

    // Only the agent it is for may mark it read; the first read time stays.
    const refused = await api('/api/agent/messages/read', await agentSession(otherId), { id: mine!.id });
    expect([refused.status, refused.json.error]).toEqual([404, 'not_found']);
    expect(await sql(`select read_at from inbound_messages where id = $1`, [mine!.id])).toEqual([{ read_at: null }]);
    const read = await api<{ id: number; read_at: string }>('/api/agent/messages/read', token, { id: mine!.id });
    expect(read.status).toBe(200);
    const again = await api<{ id: number; read_at: string }>('/api/agent/messages/read', token, { id: String(mine!.id) });
    expect(again.json.read_at).toBe(read.json.read_at);
    const after = await api<AgentStateResponse>('/api/agent/state', token);
    expect(after.json.messages.find((m) => m.id === mine!.id)?.read_at).toBe(read.json.read_at);
  });

  it("a message to a number nobody owns is the team's: every agent sees it, unread before read", async () => {
    const agentId = await createAgentWithDid({ name: `Agente ${randomBytes(3).toString('hex')}`, phone: null, client: null, did: newDid() });
    const token = await agentSession(agentId);
    const first = incoming({ from: newMobile(), to: TEAM_NUMBER, body: 'primeira' });
    const second = incoming({ from: newMobile(), to: TEAM_NUMBER, body: 'segunda' });
    await post(first);
    await post(second);
    const [row] = await sql<{ id: string }>(`select id from inbound_messages where message_sid = $1`, [second['MessageSid']]);
    await api('/api/agent/messages/read', token, { id: row!.id });
    const state = await api<AgentStateResponse>('/api/agent/state', token);
    const ours = state.json.messages.filter((m) => m.body === 'primeira' || m.body === 'segunda');
    expect(ours.map((m) => [m.body, m.for_team, m.read_at === null])).toEqual([
      ['primeira', true, true],
      ['segunda', true, false],
    ]);
    const order = state.json.messages.map((m) => m.read_at === null);
    expect(order).toEqual([...order].sort((a, b) => Number(b) - Number(a))); // every unread before every read
    expect(state.json.messages.length).toBeLessThanOrEqual(20);
  });
});

describe('long messages', () => {
  it('a body over 1,600 characters (WhatsApp allows more) is stored cut to 1,600, and its kind read from the whole text', async () => {
    const from = newMobile();
    const long = `Bom dia. ${'Quero negociar a dívida. '.repeat(100)}`;
    const params = incoming({ from: `whatsapp:${from}`, to: `whatsapp:${TEAM_NUMBER}`, body: long });
    expect((await post(params)).status).toBe(200);
    const [row] = await sql<{ len: number; kind: string }>(`select length(body) as len, kind from inbound_messages where message_sid = $1`, [params['MessageSid']]);
    expect(row).toEqual({ len: 1600, kind: 'message' });
  });

  it('an emoji straddling the 1,600th character is kept whole, not split into a lone surrogate', async () => {
    const from = newMobile();
    const body = `${'a'.repeat(1599)}😀 e mais texto`;
    const params = incoming({ from: `whatsapp:${from}`, to: `whatsapp:${TEAM_NUMBER}`, body });
    expect((await post(params)).status).toBe(200);
    const [row] = await sql<{ body: string; len: number }>(`select body, length(body) as len from inbound_messages where message_sid = $1`, [params['MessageSid']]);
    expect(row).toEqual({ body: `${'a'.repeat(1599)}😀`, len: 1600 });
  });
});

describe('opt-out words a phone dresses up', () => {
  it.each([
    ['full-width', 'ＳＡＩＲ'],
    ['a zero-width space inside', 'S\u200BAIR'],
    ['an iPhone signature', 'SAIR\nEnviado do meu iPhone'],
    ['"pare de me ligar"', 'Pare de me ligar'],
    ["Twilio's UNSUBSCRIBE", 'UNSUBSCRIBE'],
  ])('%s (%p) lists the sender', async (_why, body) => {
    const from = newMobile();
    const params = incoming({ from, to: TEAM_NUMBER, body });
    expect((await post(params)).status).toBe(200);
    expect(await optOutRow(from)).toEqual([expect.objectContaining({ source: 'sms', reason: 'message_word' })]);
  });
});

describe('refused requests write nothing', () => {
  it('a bad signature is refused by the front (401) and runs nothing', async () => {
    const from = newMobile();
    const params = incoming({ from, to: TEAM_NUMBER, body: 'SAIR' });
    const res = await signedPost(url(), params, 'another0auth0token00000000000000');
    expect(res.status).toBe(401);
    expect(await optOutRow(from)).toEqual([]);
    expect(await messageRows('message_sid = $1', [params['MessageSid']])).toEqual([]);
  });

  it('a From that is not a phone number (short code, alphanumeric): nothing written, an empty <Response/>', async () => {
    for (const from of ['28888', 'BANCOXYZ', 'whatsapp:BANCO']) {
      const params = incoming({ from, to: TEAM_NUMBER, body: 'SAIR' });
      const r = await post(params);
      expect(r.status).toBe(200);
      expect(parseTwiml(r.text).children).toEqual([]);
      expect(await messageRows('message_sid = $1', [params['MessageSid']])).toEqual([]);
    }
  });

  it('a malformed MessageSid is a 400 and nothing is written', async () => {
    const from = newMobile();
    const r = await post({ ...incoming({ from, to: TEAM_NUMBER, body: 'SAIR' }), MessageSid: 'SMnothex', SmsSid: 'x' });
    expect(r.status).toBe(400);
    expect(await optOutRow(from)).toEqual([]);
  });
});

describe('voicemails on the agent page', () => {
  /** A completed inbound call to the agent's number and a recording of it. */
  async function voicemail(agentId: number | null, rec: { kind?: string; agentId?: number | null; queue?: string | null; source?: string; stored?: boolean; transcription?: string | null; duration?: number; ago?: string }) {
    const callSid = 'CA' + randomBytes(16).toString('hex');
    const from = newMobile();
    await sql(`insert into calls (call_sid, direction, from_number, to_number, agent_id, status, created_at, ended_at) values ($1, 'inbound', $2, '+551130001000', $3, 'completed', now() - $4::interval, now())`, [callSid, from, agentId, rec.ago ?? '1 minute']);
    const [r] = await sql<{ id: string }>(
      `insert into recordings (recording_sid, call_sid, source, channels, duration, status, kind, agent_id, queue_name, transcription,
                               storage_status, s3_bucket, s3_key, sha256, created_at)
       values ($1, $2, $3, 1, $4, 'completed', $5, $6, $7, $8, $9, $10, $11, $12, now() - $13::interval) returning id`,
      ['RE' + randomBytes(16).toString('hex'), callSid, rec.source ?? 'RecordVerb', rec.duration ?? 12, rec.kind ?? 'voicemail', rec.agentId ?? null, rec.queue ?? null,
        rec.transcription ?? null, rec.stored ? 'verified' : 'pending', rec.stored ? 'discador-test' : null, rec.stored ? `k/${callSid}.wav` : null,
        rec.stored ? 'a'.repeat(64) : null, rec.ago ?? '1 minute'],
    );
    return { id: Number(r!.id), callSid, from };
  }

  it("the agent's voicemails (by owner, and older Record verb rows by call), the queues', not another agent's; newest first with duration, transcription, S3 state", async () => {
    const me = await createAgentWithDid({ name: `Agente ${randomBytes(3).toString('hex')}`, phone: null, client: null, did: newDid() });
    const other = await createAgentWithDid({ name: `Outro ${randomBytes(3).toString('hex')}`, phone: null, client: null, did: newDid() });
    const queue = `q${randomBytes(4).toString('hex')}`;
    // Only this agent serves the queue: a queue served by everyone would put its voicemail
    // on every other suite's agents' pages.
    await sql(`insert into service_queues (name, agent_ids) values ($1, array[$2::bigint])`, [queue, me]);
    const owned = await voicemail(null, { agentId: me, stored: true, transcription: 'Oi, aqui é a Maria', duration: 21, ago: '1 minute' });
    const legacy = await voicemail(me, { kind: 'call', ago: '2 minutes' });
    const queued = await voicemail(null, { queue, ago: '3 minutes' });
    const others = await voicemail(null, { agentId: other, ago: '30 seconds' });
    const old = await voicemail(null, { agentId: me, ago: '8 days' });

    const state = await api<AgentStateResponse>('/api/agent/state', await agentSession(me));
    const ids = state.json.voicemails.map((v) => v.recording_id);
    expect(ids).not.toContain(others.id);
    expect(ids).not.toContain(old.id);
    const mine = state.json.voicemails.filter((v) => [owned.id, legacy.id, queued.id].includes(v.recording_id));
    expect(mine).toEqual([
      expect.objectContaining({ recording_id: owned.id, call_sid: owned.callSid, from_number: owned.from, duration: 21, transcription: 'Oi, aqui é a Maria', stored: true, queue_name: null }),
      expect.objectContaining({ recording_id: legacy.id, call_sid: legacy.callSid, from_number: legacy.from, stored: false, queue_name: null }),
      expect.objectContaining({ recording_id: queued.id, from_number: queued.from, stored: false, queue_name: queue }),
    ]);
    expect(state.json.voicemails.length).toBeLessThanOrEqual(20);
  });
});
