/**
 * The agent endpoints through the local front (real HTTP, real twilio-run, PostgREST and
 * Postgres) with real sessions: status changes and their history, the rules on who may change
 * what, the poll as presence heartbeat (stale agents offline, wrap-up ended by the timer),
 * dispositions only for the agent's own calls, the softphone token, and every refusal as a
 * JSON error with nothing written.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { handler as voiceToken } from '../../src/functions/api/voice-token';
import { hashPassword } from '../../src/lib/domain/auth/password';
import type { AgentDispositionResponse, AgentStateResponse, AgentStatusResponse, VoiceTokenResponse } from '../../src/lib/domain/agents';
import { env, sql } from '../helpers/db';
import { installRuntimeGlobals, makeContext } from '../helpers/function-context';
import { newCallSid, newMobile } from '../helpers/twilio';

const base = () => env('FUNCTIONS_BASE_URL');

interface Who {
  agentId: number | null;
  userId: string;
  sessionId: string;
  token: string;
}

/** A user (agent by default, with an agents row) and a live session whose token we know. */
async function signedIn(opts: { role?: 'agent' | 'supervisor' | 'admin'; withAgent?: boolean; clientIdentity?: string | null } = {}): Promise<Who> {
  const role = opts.role ?? 'agent';
  const tag = randomBytes(6).toString('hex');
  let agentId: number | null = null;
  if (opts.withAgent ?? role === 'agent') {
    const identity = opts.clientIdentity === undefined ? `agent-${tag}` : opts.clientIdentity;
    const [a] = await sql<{ id: string }>(`insert into agents (name, client_identity, status) values ($1, $2, 'offline') returning id`, [`Agente ${tag}`, identity]);
    agentId = Number(a!.id);
  }
  const [u] = await sql<{ id: string }>(`insert into users (email, name, role, agent_id) values ($1, $2, $3, $4) returning id`, [
    `${tag}@discador.test`,
    `Pessoa ${tag}`,
    role,
    agentId,
  ]);
  const token = randomBytes(32).toString('base64url');
  const hash = createHash('sha256').update(token).digest('hex');
  const [s] = await sql<{ id: string }>(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '12 hours') returning id`, [u!.id, hash]);
  return { agentId, userId: u!.id, sessionId: s!.id, token };
}

interface Answer<T = Record<string, unknown>> {
  status: number;
  type: string;
  json: T & { error?: string; message?: string };
}

/** Calls an /api path through the front: GET, or POST with a JSON body (or a raw one). */
async function api<T = Record<string, unknown>>(path: string, opts: { token?: string; cookie?: boolean; body?: unknown; raw?: string } = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  if (opts.token) headers[opts.cookie ? 'cookie' : 'authorization'] = opts.cookie ? `discador_session=${opts.token}` : `Bearer ${opts.token}`;
  const post = opts.body !== undefined || opts.raw !== undefined;
  if (post) headers['content-type'] = 'application/json';
  const res = await fetch(`${base()}${path}`, { method: post ? 'POST' : 'GET', headers, body: opts.raw ?? (post ? JSON.stringify(opts.body) : undefined) });
  const text = await res.text();
  let json: T & { error?: string };
  try {
    json = JSON.parse(text) as T & { error?: string };
  } catch {
    throw new Error(`${path} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, type: res.headers.get('content-type') ?? '', json };
}

/** The agent's row and history count: what must not move when a request is refused. */
async function snapshot(agentId: number) {
  const [a] = await sql(
    `select status, pause_reason, status_changed_at, last_seen_at, current_call_sid,
            (select count(*)::int from agent_status_history h where h.agent_id = a.id) as history,
            (select count(*)::int from call_dispositions d where d.agent_id = a.id) as dispositions
       from agents a where id = $1`,
    [agentId],
  );
  return a!;
}

/** Puts the agent in a system status for a call (as the call flows do). */
async function systemStatus(agentId: number, status: 'reserved' | 'busy' | 'wrap_up', callSid: string, wrapUpSeconds: number | null = null) {
  await sql(`select agent_transition($1, $2, null, 'system', null, $3, $4)`, [agentId, status, callSid, wrapUpSeconds]);
}

/** A calls row (inbound from `from`, or outbound to it) for the agent. */
async function callFor(agentId: number | null, opts: { sid?: string; direction?: 'inbound' | 'outbound-api'; customer?: string; status?: string; leadId?: number | null; ago?: string } = {}) {
  const sid = opts.sid ?? newCallSid();
  const customer = opts.customer ?? newMobile();
  const inbound = (opts.direction ?? 'inbound') === 'inbound';
  await sql(
    `insert into calls (call_sid, direction, from_number, to_number, agent_id, status, lead_id, started_at, created_at, ended_at, duration)
     values ($1, $2, $3, $4, $5, $6, $7, now() - $8::interval, now() - $8::interval,
             case when $6 in ('completed', 'no-answer', 'busy', 'canceled', 'failed') then now() end,
             case when $6 = 'completed' then 42 end)`,
    [sid, inbound ? 'inbound' : 'outbound-api', inbound ? customer : '+551130002000', inbound ? '+551130001000' : customer, agentId, opts.status ?? 'in-progress', opts.leadId ?? null, opts.ago ?? '0 seconds'],
  );
  return { sid, customer };
}

beforeAll(installRuntimeGlobals);

describe('POST /api/agent/status', () => {
  it('available, paused with a listed reason, offline: each writes the agent and a history row', async () => {
    const me = await signedIn();
    const r1 = await api<AgentStatusResponse>('/api/agent/status', { token: me.token, body: { status: 'available' } });
    expect(r1.status).toBe(200);
    expect(r1.type).toContain('application/json');
    expect(r1.json.agent).toMatchObject({ id: me.agentId, status: 'available', pause_reason: null, routable: false, shift_connected: false });

    const r2 = await api<AgentStatusResponse>('/api/agent/status', { token: me.token, cookie: true, body: { status: 'paused', reason: 'Almoço' } });
    expect(r2.status).toBe(200);
    expect(r2.json.agent).toMatchObject({ status: 'paused', pause_reason: 'Almoço' });

    const r3 = await api<AgentStatusResponse>('/api/agent/status', { token: me.token, body: { status: 'offline' } });
    expect(r3.json.agent.status).toBe('offline');

    const [agent] = await sql(`select status, pause_reason, last_seen_at is not null as seen from agents where id = $1`, [me.agentId]);
    expect(agent).toEqual({ status: 'offline', pause_reason: null, seen: true });
    const history = await sql(
      `select status, reason, source, changed_by, ended_at is null as open from agent_status_history where agent_id = $1 order by id`,
      [me.agentId],
    );
    expect(history).toEqual([
      { status: 'available', reason: null, source: 'agent', changed_by: me.userId, open: false },
      { status: 'paused', reason: 'Almoço', source: 'agent', changed_by: me.userId, open: false },
      { status: 'offline', reason: null, source: 'agent', changed_by: me.userId, open: true },
    ]);
  });

  it('choosing the status one already has writes no history', async () => {
    const me = await signedIn();
    await api('/api/agent/status', { token: me.token, body: { status: 'available' } });
    const before = await snapshot(me.agentId!);
    const again = await api<AgentStatusResponse>('/api/agent/status', { token: me.token, body: { status: 'available' } });
    expect(again.status).toBe(200);
    const after = await snapshot(me.agentId!);
    expect(after.history).toBe(before.history);
    expect(after.status_changed_at).toEqual(before.status_changed_at);
  });

  it.each([
    [{ status: 'paused' }, /paused needs a reason/],
    [{ status: 'paused', reason: 'Cochilo' }, /reason must be one of Intervalo, Almoço/],
    [{ status: 'available', reason: 'Almoço' }, /only given with paused/],
    [{ status: 'busy' }, /status must be one of available, paused, offline/],
    [{ status: 'wrap_up' }, /status must be one of/],
    [{}, /missing status/],
    [{ status: 42 }, /status must be one of/],
    [{ status: ['available'] }, /must be a string/],
    [{ status: 'available', reason: 'x'.repeat(201) }, /reason must have at most 200/],
  ])('%j → 400 bad_request, nothing written', async (body, message) => {
    const me = await signedIn();
    const before = await snapshot(me.agentId!);
    const r = await api('/api/agent/status', { token: me.token, body });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: 'bad_request', message: expect.stringMatching(message) });
    expect(await snapshot(me.agentId!)).toEqual(before);
  });

  it('a body that is not JSON → 400 invalid_json, nothing written', async () => {
    const me = await signedIn();
    const before = await snapshot(me.agentId!);
    const r = await api('/api/agent/status', { token: me.token, raw: '{"status": "available"' });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('invalid_json');
    expect(await snapshot(me.agentId!)).toEqual(before);
  });

  it('a body over 64 kB → 413 body_too_large, nothing written', async () => {
    const me = await signedIn();
    const before = await snapshot(me.agentId!);
    const r = await api('/api/agent/status', { token: me.token, raw: JSON.stringify({ status: 'available', padding: 'x'.repeat(70_000) }) });
    expect([r.status, r.json.error]).toEqual([413, 'body_too_large']);
    expect(await snapshot(me.agentId!)).toEqual(before);
  });

  it.each(['reserved', 'busy'] as const)('a %s agent cannot become available or paused: 409 agent_busy, nothing written', async (status) => {
    const me = await signedIn();
    const { sid } = await callFor(me.agentId);
    await systemStatus(me.agentId!, status, sid);
    const before = await snapshot(me.agentId!);
    for (const body of [{ status: 'available' }, { status: 'paused', reason: 'Intervalo' }]) {
      const r = await api('/api/agent/status', { token: me.token, body });
      expect(r.status).toBe(409);
      expect(r.json.error).toBe('agent_busy');
    }
    expect(await snapshot(me.agentId!)).toEqual(before);
  });

  it('a busy agent cannot go offline either; a reserved one can (the offer is dropped)', async () => {
    const busy = await signedIn();
    await systemStatus(busy.agentId!, 'busy', (await callFor(busy.agentId)).sid);
    const before = await snapshot(busy.agentId!);
    const r = await api('/api/agent/status', { token: busy.token, body: { status: 'offline' } });
    expect([r.status, r.json.error]).toEqual([409, 'agent_busy']);
    expect(await snapshot(busy.agentId!)).toEqual(before);

    const reserved = await signedIn();
    await systemStatus(reserved.agentId!, 'reserved', (await callFor(reserved.agentId)).sid);
    const r2 = await api<AgentStatusResponse>('/api/agent/status', { token: reserved.token, body: { status: 'offline' } });
    expect(r2.status).toBe(200);
    expect(await sql(`select status, current_call_sid from agents where id = $1`, [reserved.agentId])).toEqual([{ status: 'offline', current_call_sid: null }]);
  });

  it('wrap-up is left by choosing a status', async () => {
    const me = await signedIn();
    await systemStatus(me.agentId!, 'wrap_up', (await callFor(me.agentId, { status: 'completed' })).sid, 30);
    const r = await api<AgentStatusResponse>('/api/agent/status', { token: me.token, body: { status: 'paused', reason: 'Feedback' } });
    expect(r.status).toBe(200);
    expect(await sql(`select status, pause_reason, wrap_up_until, current_call_sid from agents where id = $1`, [me.agentId])).toEqual([
      { status: 'paused', pause_reason: 'Feedback', wrap_up_until: null, current_call_sid: null },
    ]);
  });

  it('every transition rule of the domain module is the one the database applies', async () => {
    const { statusChoice, AGENT_STATUSES, CHOOSABLE_STATUSES } = await import('../../src/lib/domain/agents');
    const me = await signedIn();
    const { sid } = await callFor(me.agentId);
    for (const current of AGENT_STATUSES) {
      for (const next of CHOOSABLE_STATUSES) {
        await sql(`select agent_transition($1, $2, $3, 'system', null, $4, null)`, [me.agentId, current, current === 'paused' ? 'Intervalo' : null, ['reserved', 'busy', 'wrap_up'].includes(current) ? sid : null]);
        const reason = next === 'paused' ? 'Treinamento' : undefined;
        const r = await api('/api/agent/status', { token: me.token, body: { status: next, reason } });
        const expected = statusChoice(current, next, reason, ['Treinamento']);
        expect({ current, next, status: r.status }).toEqual({ current, next, status: expected.ok ? 200 : 409 });
      }
    }
  });
});

describe('a working session from sign-in to sign-out', () => {
  it('log in, go available, poll, pause, log out: then every agent endpoint is 401', async () => {
    const tag = randomBytes(6).toString('hex');
    const password = `senha-longa-${tag}`;
    const [a] = await sql<{ id: string }>(`insert into agents (name, client_identity) values ($1, $2) returning id`, [`Agente ${tag}`, `agent-${tag}`]);
    await sql(`insert into users (email, name, role, agent_id, password_hash) values ($1, $2, 'agent', $3, $4)`, [`${tag}@discador.test`, `Pessoa ${tag}`, a!.id, await hashPassword(password)]);

    const login = await api<{ token: string; user: { agent_id: number } }>('/api/login', { body: { email: `${tag}@discador.test`, password } });
    expect(login.status).toBe(200);
    expect(login.json.user.agent_id).toBe(Number(a!.id));
    const token = login.json.token;

    expect((await api<AgentStatusResponse>('/api/agent/status', { token, body: { status: 'available' } })).json.agent.status).toBe('available');
    const state = await api<AgentStateResponse>('/api/agent/state', { token, cookie: true });
    expect(state.status).toBe(200);
    expect(state.json.agent).toMatchObject({ id: Number(a!.id), status: 'available' });
    expect((await api<AgentStatusResponse>('/api/agent/status', { token, body: { status: 'paused', reason: 'Banheiro' } })).json.agent.pause_reason).toBe('Banheiro');

    expect((await api('/api/logout', { token, body: {} })).status).toBe(200);
    const before = await snapshot(Number(a!.id));
    for (const path of ['/api/agent/state', '/api/voice-token']) expect((await api(path, { token })).status).toBe(401);
    const r = await api('/api/agent/status', { token, body: { status: 'available' } });
    expect([r.status, r.json.error]).toEqual([401, 'session_expired']);
    expect(await snapshot(Number(a!.id))).toEqual(before);
  });
});

describe('who may call the agent endpoints', () => {
  const endpoints: [string, unknown][] = [
    ['/api/agent/status', { status: 'available' }],
    ['/api/agent/state', undefined],
    ['/api/agent/disposition', { call_sid: 'CA' + '0'.repeat(32), code: 'acordo' }],
    // /api/voice-token also serves supervisors and admins (their listening identity): tests/flow/supervisor-actions.test.ts.
  ];

  it.each(['supervisor', 'admin'] as const)('a %s session gets 403 forbidden_role everywhere, and nothing is written', async (role) => {
    // Linked to an agents row, so "nothing written" can be checked on it.
    const boss = await signedIn({ role, withAgent: true });
    const { sid } = await callFor(boss.agentId, { status: 'completed' });
    const before = await snapshot(boss.agentId!);
    for (const [path, body] of endpoints) {
      const b = path.endsWith('disposition') ? { call_sid: sid, code: 'acordo' } : body;
      const r = await api(path, { token: boss.token, body: b });
      expect({ path, status: r.status, error: r.json.error }).toEqual({ path, status: 403, error: 'forbidden_role' });
    }
    expect(await snapshot(boss.agentId!)).toEqual(before);
  });

  it.each([
    ['expired', `update sessions set expires_at = now() - interval '1 second' where id = $1`],
    ['revoked', `update sessions set revoked_at = now(), revoked_reason = 'logout' where id = $1`],
    ['idle', `update sessions set last_seen_at = now() - interval '31 minutes' where id = $1`],
    ['of a disabled user', `update users set disabled_at = now() where id = (select user_id from sessions where id = $1)`],
  ])('an %s session gets 401 session_expired everywhere, and nothing is written', async (_label, update) => {
    const me = await signedIn();
    const { sid } = await callFor(me.agentId, { status: 'completed' });
    await sql(update, [me.sessionId]);
    const before = await snapshot(me.agentId!);
    for (const [path, body] of endpoints) {
      const b = path.endsWith('disposition') ? { call_sid: sid, code: 'acordo' } : body;
      const r = await api(path, { token: me.token, body: b });
      expect({ path, status: r.status, error: r.json.error }).toEqual({ path, status: 401, error: 'session_expired' });
    }
    expect(await snapshot(me.agentId!)).toEqual(before);
  });

  it('no token is 401 unauthenticated; a token nobody has is 401 session_expired', async () => {
    for (const [path, body] of endpoints) {
      const none = await api(path, { body });
      expect({ path, status: none.status, error: none.json.error }).toEqual({ path, status: 401, error: 'unauthenticated' });
      const unknown = await api(path, { body, token: randomBytes(32).toString('base64url') });
      expect({ path, status: unknown.status, error: unknown.json.error }).toEqual({ path, status: 401, error: 'session_expired' });
    }
  });
});

describe('GET /api/agent/state', () => {
  it('is the presence heartbeat: touches last_seen_at and the session, and reports routable', async () => {
    const me = await signedIn();
    await api('/api/agent/status', { token: me.token, body: { status: 'available' } });
    await sql(`update agents set last_seen_at = now() - interval '1 hour', shift_call_sid = $2 where id = $1`, [me.agentId, newCallSid()]);
    await sql(`update sessions set last_seen_at = now() - interval '10 minutes' where id = $1`, [me.sessionId]);
    expect(await sql(`select agent_is_routable(a, 20) as ok from agents a where id = $1`, [me.agentId])).toEqual([{ ok: false }]);

    const r = await api<AgentStateResponse>('/api/agent/state', { token: me.token });
    expect(r.status).toBe(200);
    expect(r.json.agent).toMatchObject({ id: me.agentId, status: 'available', routable: true, shift_connected: true });
    expect(r.json).toMatchObject({ offer: null, call: null, waiting: [], voicemails: [], missed: [] });
    expect(Array.isArray(r.json.messages)).toBe(true);
    expect(Math.abs(Date.parse(r.json.server_time) - Date.now())).toBeLessThan(60_000);
    const [row] = await sql<{ agent_age: number; session_age: number; routable: boolean }>(
      `select extract(epoch from now() - a.last_seen_at)::float as agent_age, extract(epoch from now() - s.last_seen_at)::float as session_age,
              agent_is_routable(a, 20) as routable
         from agents a, sessions s where a.id = $1 and s.id = $2`,
      [me.agentId, me.sessionId],
    );
    expect(row!.agent_age).toBeLessThan(5);
    expect(row!.session_age).toBeLessThan(5);
    expect(row!.routable).toBe(true);
  });

  it('presence: routable only while the last poll is within the window, available and with the shift leg', async () => {
    const me = await signedIn();
    await api('/api/agent/status', { token: me.token, body: { status: 'available' } });
    const routable = async () => (await sql<{ ok: boolean }>(`select agent_is_routable(a, 20) as ok from agents a where id = $1`, [me.agentId]))[0]!.ok;
    expect(await routable()).toBe(false); // no shift leg yet
    await sql(`update agents set shift_call_sid = $2, last_seen_at = now() - interval '19 seconds' where id = $1`, [me.agentId, newCallSid()]);
    expect(await routable()).toBe(true);
    await sql(`update agents set last_seen_at = now() - interval '21 seconds' where id = $1`, [me.agentId]);
    expect(await routable()).toBe(false); // the page stopped polling: no sweep needed
    await sql(`update agents set last_seen_at = now(), status = 'paused', pause_reason = 'Intervalo' where id = $1`, [me.agentId]);
    expect(await routable()).toBe(false);
  });

  it("a poll makes a stale agent offline (source 'presence'), not a fresh one nor one on a call", async () => {
    const stale = await signedIn();
    const fresh = await signedIn();
    const onCall = await signedIn();
    for (const who of [stale, fresh, onCall]) await api('/api/agent/status', { token: who.token, body: { status: 'available' } });
    await systemStatus(onCall.agentId!, 'busy', (await callFor(onCall.agentId)).sid);
    await sql(`update agents set last_seen_at = now() - interval '25 seconds' where id = any($1::bigint[])`, [[stale.agentId, onCall.agentId]]);
    await sql(`update agents set last_seen_at = now() - interval '5 seconds' where id = $1`, [fresh.agentId]);

    const poller = await signedIn();
    expect((await api('/api/agent/state', { token: poller.token })).status).toBe(200);

    const rows = await sql(`select id::int as id, status from agents where id = any($1::bigint[]) order by id`, [[stale.agentId, fresh.agentId, onCall.agentId]]);
    expect(rows).toEqual([
      { id: stale.agentId, status: 'offline' },
      { id: fresh.agentId, status: 'available' },
      { id: onCall.agentId, status: 'busy' },
    ]);
    expect(await sql(`select status, source from agent_status_history where agent_id = $1 and ended_at is null`, [stale.agentId])).toEqual([
      { status: 'offline', source: 'presence' },
    ]);
  });

  it("ends an expired wrap-up (available, source 'timer'), keeps one still running", async () => {
    const me = await signedIn();
    const { sid } = await callFor(me.agentId, { status: 'completed' });
    await systemStatus(me.agentId!, 'wrap_up', sid, 30);
    let r = await api<AgentStateResponse>('/api/agent/state', { token: me.token });
    expect(r.json.agent.status).toBe('wrap_up');
    expect(Date.parse(r.json.agent.wrap_up_until!)).toBeGreaterThan(Date.now() + 20_000);
    expect(r.json.call).toMatchObject({ call_sid: sid, status: 'completed' });

    await sql(`update agents set wrap_up_until = now() - interval '1 second' where id = $1`, [me.agentId]);
    r = await api<AgentStateResponse>('/api/agent/state', { token: me.token });
    expect(r.json.agent).toMatchObject({ status: 'available', wrap_up_until: null, current_call_sid: null });
    expect(r.json.call).toBeNull();
    expect(await sql(`select status, source from agent_status_history where agent_id = $1 and ended_at is null`, [me.agentId])).toEqual([
      { status: 'available', source: 'timer' },
    ]);
  });

  it('the screen pop: offer, customer, lead with its campaign and fields, earlier calls with their dispositions', async () => {
    const me = await signedIn();
    const other = await signedIn();
    const customer = newMobile();
    const [k] = await sql<{ id: string }>(`insert into campaigns (name) values ($1) returning id`, [`Campanha ${randomUUID()}`]);
    const [lead] = await sql<{ id: string }>(
      `insert into leads (campaign_id, phone_number, name, external_id, data) values ($1, $2, 'Maria Teste', 'X-1', '{"saldo": "1250.00"}') returning id`,
      [k!.id, customer],
    );
    const earlier = await callFor(other.agentId, { direction: 'outbound-api', customer, status: 'completed', leadId: Number(lead!.id), ago: '2 days' });
    await sql(`insert into call_dispositions (call_sid, agent_id, code, notes) values ($1, $2, 'promessa_pagamento', 'paga sexta')`, [earlier.sid, other.agentId]);
    const unrelated = await callFor(other.agentId, { status: 'completed' });

    const { sid } = await callFor(me.agentId, { customer, status: 'in-progress' });
    await systemStatus(me.agentId!, 'reserved', sid);
    const r = await api<AgentStateResponse>('/api/agent/state', { token: me.token });
    expect(r.status).toBe(200);
    expect(r.json.offer).toMatchObject({ call_sid: sid, from: customer });
    expect(r.json.call).toMatchObject({
      call_sid: sid,
      direction: 'inbound',
      customer,
      lead: { id: Number(lead!.id), name: 'Maria Teste', external_id: 'X-1', fields: { saldo: '1250.00' }, campaign: { id: Number(k!.id) } },
    });
    expect(r.json.call!.history).toEqual([
      expect.objectContaining({ call_sid: earlier.sid, direction: 'outbound-api', status: 'completed', duration: 42, disposition: 'promessa_pagamento', notes: 'paga sexta' }),
    ]);
    expect(JSON.stringify(r.json)).not.toContain(unrelated.sid);

    // Connected: still the screen pop, no longer an offer.
    await systemStatus(me.agentId!, 'busy', sid);
    const busy = await api<AgentStateResponse>('/api/agent/state', { token: me.token });
    expect(busy.json.offer).toBeNull();
    expect(busy.json.call?.call_sid).toBe(sid);
  });

  it('waiting customers, missed calls and voicemails of this agent only', async () => {
    const me = await signedIn();
    const other = await signedIn();
    const waiting = await callFor(me.agentId, { status: 'ringing', ago: '40 seconds' });
    const missed = await callFor(me.agentId, { status: 'no-answer', ago: '1 hour' });
    const withMessage = await callFor(me.agentId, { status: 'completed', ago: '30 minutes' });
    const recordingSid = 'RE' + randomBytes(16).toString('hex');
    await sql(`insert into recordings (recording_sid, call_sid, source, channels, duration, status) values ($1, $2, 'RecordVerb', 1, 17, 'completed')`, [recordingSid, withMessage.sid]);
    // Connected to the agent once: neither waiting nor missed.
    const answered = await callFor(me.agentId, { status: 'completed', ago: '20 minutes' });
    await systemStatus(me.agentId!, 'busy', answered.sid);
    await sql(`select agent_transition($1, 'available', null, 'system', null)`, [me.agentId]);
    const othersCall = await callFor(other.agentId, { status: 'no-answer' });
    // A caller who hung up before speaking (Twilio's 'absent'), and a message left on a queue
    // the agent does not serve: neither is a voicemail the agent can see, so both stay missed calls.
    const silent = await callFor(me.agentId, { status: 'completed', ago: '50 minutes' });
    await sql(`insert into recordings (recording_sid, call_sid, source, channels, duration, status, kind, agent_id) values ($1, $2, 'RecordVerb', 1, 0, 'absent', 'voicemail', $3)`, [
      'RE' + randomBytes(16).toString('hex'), silent.sid, me.agentId,
    ]);
    const queue = `q${randomBytes(4).toString('hex')}`;
    await sql(`insert into service_queues (name, agent_ids) values ($1, array[$2::bigint])`, [queue, other.agentId]);
    const elsewhere = await callFor(me.agentId, { status: 'completed', ago: '55 minutes' });
    await sql(`insert into recordings (recording_sid, call_sid, source, channels, duration, status, kind, queue_name) values ($1, $2, 'RecordVerb', 1, 9, 'completed', 'voicemail', $3)`, [
      'RE' + randomBytes(16).toString('hex'), elsewhere.sid, queue,
    ]);

    const r = await api<AgentStateResponse>('/api/agent/state', { token: me.token });
    expect(r.json.waiting).toEqual([{ call_sid: waiting.sid, from: waiting.customer, since: expect.any(String), wait_seconds: expect.any(Number) }]);
    expect(r.json.waiting[0]!.wait_seconds).toBeGreaterThanOrEqual(39);
    expect(r.json.missed.map((m) => [m.call_sid, m.status, m.voicemail])).toEqual([
      [withMessage.sid, 'completed', true],
      [silent.sid, 'completed', false],
      [elsewhere.sid, 'completed', false],
      [missed.sid, 'no-answer', false],
    ]);
    expect(r.json.voicemails).toEqual([
      {
        recording_id: expect.any(Number), recording_sid: recordingSid, call_sid: withMessage.sid, from_number: withMessage.customer,
        at: expect.any(String), duration: 17, transcription: null, stored: false, queue_name: null,
      },
    ]);
    expect(JSON.stringify(r.json)).not.toContain(othersCall.sid);
    expect(JSON.stringify(r.json)).not.toContain(answered.sid);
  });
});

describe('POST /api/agent/disposition', () => {
  it("saves the agent's own call, and a correction replaces it", async () => {
    const me = await signedIn();
    const { sid } = await callFor(me.agentId, { status: 'completed' });
    const callbackAt = new Date(Date.now() + 86_400_000).toISOString();
    const r1 = await api<AgentDispositionResponse>('/api/agent/disposition', { token: me.token, body: { call_sid: sid, code: 'retornar', notes: ' ligar amanhã ', callback_at: callbackAt } });
    expect(r1.status).toBe(200);
    expect(r1.json.disposition).toMatchObject({ call_sid: sid, code: 'retornar', notes: 'ligar amanhã' });
    expect(Date.parse(r1.json.disposition.callback_at!)).toBe(Date.parse(callbackAt));

    const r2 = await api<AgentDispositionResponse>('/api/agent/disposition', { token: me.token, body: { call_sid: sid, code: 'acordo' } });
    expect(r2.status).toBe(200);
    const rows = await sql(`select code, notes, callback_at, agent_id::int as agent_id, user_id, updated_at >= created_at as ok from call_dispositions where call_sid = $1`, [sid]);
    expect(rows).toEqual([{ code: 'acordo', notes: null, callback_at: null, agent_id: me.agentId, user_id: me.userId, ok: true }]);
  });

  it("another agent's call, or an unknown one, is 404 not_found and nothing is written", async () => {
    const me = await signedIn();
    const other = await signedIn();
    const theirs = await callFor(other.agentId, { status: 'completed' });
    for (const sid of [theirs.sid, newCallSid()]) {
      const r = await api('/api/agent/disposition', { token: me.token, body: { call_sid: sid, code: 'acordo' } });
      expect([r.status, r.json.error]).toEqual([404, 'not_found']);
    }
    expect(await sql(`select count(*)::int as n from call_dispositions where call_sid = $1`, [theirs.sid])).toEqual([{ n: 0 }]);
  });

  it.each([
    [{ call_sid: undefined, code: 'acordo' }, /missing call_sid/],
    [{ call_sid: 'CA123', code: 'acordo' }, /call_sid must be CA/],
    [{ code: 'pagou_tudo' }, /code must be one of acordo/],
    [{ code: 'acordo', callback_at: 'amanhã' }, /callback_at must be an ISO 8601/],
    [{ code: 'acordo', callback_at: '2020-01-01T10:00:00Z' }, /callback_at must not be in the past/],
    [{ code: 'acordo', notes: 'x'.repeat(2001) }, /notes must have at most 2000/],
    [{ code: 'acordo', notes: { a: 1 } }, /must be a string/],
  ])('%j → 400 bad_request, nothing written', async (body, message) => {
    const me = await signedIn();
    const { sid } = await callFor(me.agentId, { status: 'completed' });
    const r = await api('/api/agent/disposition', { token: me.token, body: { call_sid: sid, ...body } });
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ error: 'bad_request', message: expect.stringMatching(message) });
    expect(await sql(`select count(*)::int as n from call_dispositions where call_sid = $1`, [sid])).toEqual([{ n: 0 }]);
  });
});

describe('GET /api/voice-token', () => {
  const key = 'SK' + 'c'.repeat(32);
  const secret = 'softphone-signing-secret-for-tests';
  const app = 'AP' + 'd'.repeat(32);

  /** The handler with the running stack's database and softphone keys of our own. */
  const invokeWith = (who: Who, extra: Record<string, string> = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const context = makeContext({
        SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY'), DB_TIMEOUT_MS: '5000',
        TWILIO_API_KEY: key, TWILIO_API_SECRET: secret, TWILIO_TWIML_APP_SID: app, ...extra,
      });
      const event = { request: { headers: { authorization: `Bearer ${who.token}` }, cookies: {} } };
      voiceToken(context as never, event, (err, res) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        const r = res as unknown as { statusCode: number; body: unknown };
        resolve({ status: r.statusCode, body: typeof r.body === 'string' ? r.body : JSON.stringify(r.body) });
      });
    });

  /** Verifies an HS256 JWT with the secret and returns its header and claims. */
  function verify(jwt: string, withSecret: string) {
    const [h, p, sig] = jwt.split('.') as [string, string, string];
    const expected = createHmac('sha256', withSecret).update(`${h}.${p}`).digest('base64url');
    expect(sig).toBe(expected);
    return { header: JSON.parse(Buffer.from(h, 'base64url').toString()), claims: JSON.parse(Buffer.from(p, 'base64url').toString()) };
  }

  it("signs the agent's identity, incoming allowed and the TwiML App, for the configured lifetime", async () => {
    const me = await signedIn({ clientIdentity: `ana-${randomBytes(3).toString('hex')}` });
    const [{ identity }] = (await sql<{ identity: string }>(`select client_identity as identity from agents where id = $1`, [me.agentId])) as [{ identity: string }];
    const before = Math.floor(Date.now() / 1000);
    const res = await invokeWith(me, { VOICE_TOKEN_TTL_SECONDS: '600' });
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as VoiceTokenResponse;
    expect(body).toMatchObject({ identity, ttl_seconds: 600 });
    const { header, claims } = verify(body.token, secret);
    expect(header).toMatchObject({ alg: 'HS256', cty: 'twilio-fpa;v=1' });
    expect(claims).toMatchObject({
      iss: key,
      sub: 'AC0000000000000000000000000000d15c',
      grants: { identity, voice: { incoming: { allow: true }, outgoing: { application_sid: app } } },
    });
    expect(claims.exp).toBeGreaterThanOrEqual(before + 600);
    expect(claims.exp).toBeLessThanOrEqual(before + 602);
    expect(Date.parse(body.expires_at)).toBe(claims.exp * 1000);
    expect(() => verify(body.token, secret + 'x')).toThrow();
  });

  it('an agent without a softphone identity gets 409 conflict; without the keys 503 softphone_not_configured', async () => {
    const none = await signedIn({ clientIdentity: null });
    const r = await invokeWith(none);
    expect([r.status, JSON.parse(r.body).error]).toEqual([409, 'conflict']);
    const me = await signedIn();
    const r2 = await invokeWith(me, { TWILIO_API_SECRET: '' });
    expect([r2.status, JSON.parse(r2.body).error]).toEqual([503, 'softphone_not_configured']);
  });

  it("through the front: the local stack's keys sign it, or it says the softphone is not configured", async () => {
    const me = await signedIn();
    const r = await api<VoiceTokenResponse>('/api/voice-token', { token: me.token });
    // The functions' environment as the stack wrote it (next to its env file).
    const functionsEnv = Object.fromEntries(
      readFileSync(join(dirname(env('DISCADOR_STACK_ENV')), 'functions.env'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    if (functionsEnv['TWILIO_API_SECRET'] && functionsEnv['TWILIO_API_KEY'] && functionsEnv['TWILIO_TWIML_APP_SID']) {
      expect(r.status).toBe(200);
      const { claims } = verify(r.json.token, functionsEnv['TWILIO_API_SECRET']);
      expect(claims.grants.identity).toBe(r.json.identity);
      expect(claims.grants.voice.outgoing.application_sid).toBe(functionsEnv['TWILIO_TWIML_APP_SID']);
    } else {
      expect([r.status, r.json.error]).toEqual([503, 'softphone_not_configured']);
    }
  });
});
