/**
 * An agent's disposition of a campaign call, through POST /api/agent/disposition (real front,
 * functions, PostgREST, Postgres, a real session): the deployment's list and a campaign's own,
 * each outcome's effect on the lead (done, invalid, retry, callback to this agent, opt-out into
 * the opt-out list and never claimed again), the wrap-up ended, the order against the call's
 * final status callback, and every refusal with nothing written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { env, sql } from '../helpers/db';
import { newCallSid, newMobile, signedPost } from '../helpers/twilio';

const base = () => env('FUNCTIONS_BASE_URL');

interface Agent {
  id: number;
  userId: string;
  token: string;
}

async function agent(): Promise<Agent> {
  const tag = randomBytes(6).toString('hex');
  const [a] = await sql<{ id: string }>(`insert into agents (name, client_identity, status) values ($1, $2, 'offline') returning id`, [`Agente ${tag}`, `agent-${tag}`]);
  const [u] = await sql<{ id: string }>(`insert into users (email, name, role, agent_id) values ($1, $2, 'agent', $3) returning id`, [`${tag}@discador.test`, `Pessoa ${tag}`, a!.id]);
  const token = randomBytes(32).toString('base64url');
  await sql(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '12 hours')`, [u!.id, createHash('sha256').update(token).digest('hex')]);
  return { id: Number(a!.id), userId: u!.id, token };
}

async function campaign(over: Record<string, unknown> = {}): Promise<number> {
  const cols = { name: `c-${randomBytes(5).toString('hex')}`, mode: 'preview', status: 'active', ...over };
  const keys = Object.keys(cols);
  const [r] = await sql<{ id: string }>(
    `insert into campaigns (${keys.join(', ')}) values (${keys.map((_, i) => `$${i + 1}`).join(', ')}) returning id`,
    Object.values(cols).map((v) => (v !== null && typeof v === 'object' ? JSON.stringify(v) : v)),
  );
  return Number(r!.id);
}

/**
 * A campaign call the agent talked on: lead 'dialing', the call answered and connected, the
 * agent in wrap-up on it. `ended` false leaves the call's final status callback to the test.
 */
async function talked(who: Agent, campaignId: number, opts: { ended?: boolean; phone?: string } = {}) {
  const phone = opts.phone ?? newMobile('41');
  const [l] = await sql<{ id: string }>(
    `insert into leads (campaign_id, phone_number, name, status, attempts, last_attempt_at) values ($1, $2, 'João Silva', 'dialing', 1, now()) returning id`,
    [campaignId, phone],
  );
  const sid = newCallSid();
  await sql(
    `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, lead_id, agent_id, status, answered_at, live_at, connected_at)
     values ($1, 'outbound-api', '+551130001000', $2, '+551130001000', $3, $4, $5, 'in-progress', now(), now(), now())`,
    [sid, phone, campaignId, l!.id, who.id],
  );
  await sql(`select agent_transition($1, 'busy', null, 'system', null, $2)`, [who.id, sid]);
  await sql(`select agent_transition($1, 'wrap_up', null, 'system', null, $2, 60)`, [who.id, sid]);
  if (opts.ended ?? true) await status(sid, phone, 'completed');
  return { leadId: Number(l!.id), sid, phone };
}

async function status(sid: string, to: string, callStatus: string): Promise<void> {
  const r = await signedPost(
    `${base()}/webhooks/call-status`,
    { CallSid: sid, AccountSid: env('TWILIO_ACCOUNT_SID'), From: '+551130001000', To: to, Direction: 'outbound-api', CallStatus: callStatus, SequenceNumber: '3', CallDuration: '30' },
    env('TWILIO_AUTH_TOKEN'),
  );
  expect(r.status).toBe(204);
}

async function dispose(who: Agent, body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base()}/api/agent/disposition`, {
    method: 'POST',
    headers: { authorization: `Bearer ${who.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function lead(id: number) {
  const [r] = await sql<{ status: string; outcome: string | null; callback_at: Date | null; callback_agent_id: string | null; retry_in: number | null; counts: Record<string, number> }>(
    `select status, outcome, callback_at, callback_agent_id, outcome_counts as counts,
            (extract(epoch from next_attempt_at - updated_at) / 60)::float8 as retry_in
       from leads where id = $1`,
    [id],
  );
  return r!;
}

const agentStatus = async (id: number) => (await sql<{ status: string }>(`select status from agents where id = $1`, [id]))[0]!.status;
const dispositions = async (sid: string) => sql<{ code: string }>(`select code from call_dispositions where call_sid = $1`, [sid]);

describe("the deployment's list (campaign without its own)", () => {
  it('done: the lead takes the code as outcome; the wrap-up of this call ends (available, by the agent)', async () => {
    const me = await agent();
    const k = await campaign();
    const c = await talked(me, k);
    // The call's end left the lead done/connected until the agent says more.
    expect(await lead(c.leadId)).toMatchObject({ status: 'done', outcome: 'connected' });
    const r = await dispose(me, { call_sid: c.sid, code: 'promessa_pagamento', notes: 'paga sexta' });
    expect(r.status).toBe(200);
    expect(r.json['disposition']).toMatchObject({ call_sid: c.sid, code: 'promessa_pagamento', outcome: 'done', lead: { id: c.leadId, status: 'done', outcome: 'promessa_pagamento' } });
    expect(await lead(c.leadId)).toMatchObject({ status: 'done', outcome: 'promessa_pagamento', callback_at: null });
    expect(await agentStatus(me.id)).toBe('available');
    const [h] = await sql(`select status, source from agent_status_history where agent_id = $1 order by id desc limit 1`, [me.id]);
    expect(h).toEqual({ status: 'available', source: 'agent' });
  });

  it('numero_errado marks the lead invalid', async () => {
    const me = await agent();
    const c = await talked(me, await campaign());
    expect((await dispose(me, { call_sid: c.sid, code: 'numero_errado' })).status).toBe(200);
    expect(await lead(c.leadId)).toMatchObject({ status: 'invalid', outcome: 'numero_errado' });
  });

  it('retornar: a callback at the chosen time, to this agent', async () => {
    const me = await agent();
    const c = await talked(me, await campaign());
    const at = new Date(Date.now() + 2 * 3600_000).toISOString();
    const r = await dispose(me, { call_sid: c.sid, code: 'retornar', callback_at: at });
    expect(r.status).toBe(200);
    const row = await lead(c.leadId);
    expect(row).toMatchObject({ status: 'pending', outcome: 'retornar', callback_agent_id: String(me.id), retry_in: null });
    expect(row.callback_at!.getTime()).toBe(Date.parse(at));
  });

  it('nao_ligar: the number joins the opt-out list (source agent), the lead is opted_out and never claimed again', async () => {
    const me = await agent();
    const k = await campaign();
    const c = await talked(me, k);
    // The same number as a fresh lead of another campaign: it must never be claimed either.
    const k2 = await campaign({ window_profile: 'custom', weekday_start: '00:00', weekday_end: '23:59', saturday_start: '00:00', saturday_end: '23:59', allow_sunday: true, sunday_start: '00:00', sunday_end: '23:59', skip_holidays: false });
    const [other] = await sql<{ id: string }>(`insert into leads (campaign_id, phone_number) values ($1, $2) returning id`, [k2, c.phone]);
    expect((await dispose(me, { call_sid: c.sid, code: 'nao_ligar' })).status).toBe(200);
    expect(await sql(`select source, reason, created_by from opt_outs where phone_number = $1`, [c.phone])).toEqual([{ source: 'agent', reason: 'agent_disposition', created_by: me.userId }]);
    expect(await lead(c.leadId)).toMatchObject({ status: 'opted_out', outcome: 'nao_ligar' });

    const ddd = Number(c.phone.slice(3, 5));
    const [claim] = await sql<{ r: { claimed: unknown[] } }>(`select claim_leads($1, null, 1, $2::smallint[], 1, $3) as r`, [k2, [ddd], me.id]);
    expect(claim!.r.claimed).toEqual([]);
    expect(await sql(`select status from leads where id = $1`, [other!.id])).toEqual([{ status: 'opted_out' }]);
    // And the one dialing path refuses it.
    const [attempt] = await sql<{ r: { allowed: boolean; reason: string } }>(`select start_dial_attempt($1) as r`, [c.phone]);
    expect(attempt!.r).toEqual({ allowed: false, reason: 'opted_out' });
  });

  it('a correction replaces the outcome: done, then a callback', async () => {
    const me = await agent();
    const c = await talked(me, await campaign());
    expect((await dispose(me, { call_sid: c.sid, code: 'acordo' })).status).toBe(200);
    const at = new Date(Date.now() + 86_400_000).toISOString();
    expect((await dispose(me, { call_sid: c.sid, code: 'retornar', callback_at: at })).status).toBe(200);
    expect(await lead(c.leadId)).toMatchObject({ status: 'pending', outcome: 'retornar', callback_agent_id: String(me.id) });
    expect(await dispositions(c.sid)).toEqual([{ code: 'retornar' }]);
  });

  it("given before the call's final status callback, the disposition stands when the callback arrives", async () => {
    const me = await agent();
    const c = await talked(me, await campaign(), { ended: false });
    expect((await dispose(me, { call_sid: c.sid, code: 'recusa' })).status).toBe(200);
    await status(c.sid, c.phone, 'completed');
    expect(await lead(c.leadId)).toMatchObject({ status: 'done', outcome: 'recusa' });
    expect(await sql(`select outcome from calls where call_sid = $1`, [c.sid])).toEqual([{ outcome: 'human' }]);
  });
});

describe("a campaign's own list", () => {
  const list = [
    { code: 'pagou', label: 'Pagou', outcome: 'done' },
    { code: 'tentar_depois', label: 'Tentar depois', outcome: 'retry' },
    { code: 'bloquear', label: 'Bloquear', outcome: 'opt_out' },
  ];

  it('applies instead of the deployment list: retry schedules the lead under the no_answer rule', async () => {
    const me = await agent();
    const c = await talked(me, await campaign({ dispositions: list }));
    const r = await dispose(me, { call_sid: c.sid, code: 'tentar_depois' });
    expect(r.status).toBe(200);
    expect(await lead(c.leadId)).toMatchObject({ status: 'pending', outcome: 'tentar_depois', retry_in: 120, counts: { tentar_depois: 1 } });
  });

  it("a code of the deployment's list is not in it: 400, nothing written", async () => {
    const me = await agent();
    const c = await talked(me, await campaign({ dispositions: list }));
    const r = await dispose(me, { call_sid: c.sid, code: 'acordo' });
    expect(r).toEqual({ status: 400, json: { error: 'bad_request', message: 'code must be one of pagou, tentar_depois, bloquear' } });
    expect(await dispositions(c.sid)).toEqual([]);
    expect(await lead(c.leadId)).toMatchObject({ status: 'done', outcome: 'connected' });
    expect(await agentStatus(me.id)).toBe('wrap_up');
  });
});

describe('refused, nothing written', () => {
  it('a callback without a future date (none, past, or too far): 400', async () => {
    const me = await agent();
    const c = await talked(me, await campaign());
    for (const [body, message] of [
      [{ code: 'retornar' }, /callback_at, a future date-time, is required/],
      [{ code: 'retornar', callback_at: new Date(Date.now() - 3600_000).toISOString() }, /must not be in the past/],
      [{ code: 'retornar', callback_at: new Date(Date.now() + 400 * 86_400_000).toISOString() }, /within a year/],
      [{ code: 'retornar', callback_at: 'amanhã às 10' }, /ISO 8601/],
    ] as const) {
      const r = await dispose(me, { call_sid: c.sid, ...body });
      expect([r.status, r.json['error']]).toEqual([400, 'bad_request']);
      expect(String(r.json['message'])).toMatch(message);
    }
    expect(await dispositions(c.sid)).toEqual([]);
    expect(await lead(c.leadId)).toMatchObject({ status: 'done', outcome: 'connected', callback_at: null });
    expect(await agentStatus(me.id)).toBe('wrap_up');
  });

  it("another agent's call: 404, the lead, the opt-out list and both agents untouched", async () => {
    const me = await agent();
    const other = await agent();
    const c = await talked(other, await campaign());
    const r = await dispose(me, { call_sid: c.sid, code: 'nao_ligar' });
    expect([r.status, r.json['error']]).toEqual([404, 'not_found']);
    expect(await dispositions(c.sid)).toEqual([]);
    expect(await sql(`select 1 from opt_outs where phone_number = $1`, [c.phone])).toEqual([]);
    expect(await lead(c.leadId)).toMatchObject({ status: 'done', outcome: 'connected' });
    expect(await agentStatus(other.id)).toBe('wrap_up');
  });
});
