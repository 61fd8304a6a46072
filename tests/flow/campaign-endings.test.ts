/**
 * How dialer calls end, on the migrated database (parallel connections for the races):
 * a customer's room join and the call's final status at the same time never deadlock (one
 * lock order: the call's row, then the agent's); every ending — status callback, reconciler,
 * never placed, refused by Twilio, a final callback faster than the preview reservation —
 * releases the agent and moves the lead; dialer_sweep ends what was still missed; a preview
 * dial rechecks the calling window and never leaves its lead dialing; a live customer not in
 * the room within the grace is abandoned; a late machine verdict never hangs up a customer
 * sent to the room; a campaign's caller-ID strategy applies; a voicemail drop honours an
 * opt-out made meanwhile.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type twilio from 'twilio';
import type { Client } from 'pg';
import { loadConfig } from '../../src/lib/runtime/config';
import type { Db } from '../../src/lib/runtime/db';
import { HttpError } from '../../src/lib/runtime/http';
import { previewDial } from '../../src/lib/domain/outcomes';
import { env, session, sql, testDb, waitUntilBlocked } from '../helpers/db';
import { newCallSid, newMobile, signedPost } from '../helpers/twilio';

jest.setTimeout(60000);
const db = testDb();
const rpc = async <T = Record<string, unknown>>(fn: string, args: Record<string, unknown>): Promise<T> => {
  const { data, error } = await db.rpc<T>(fn, args);
  if (error) throw new Error(`${fn}: ${error.message}`);
  return data as T;
};
const one = async <T = Record<string, unknown>>(q: string, p: unknown[] = []) => (await sql<T>(q, p))[0]!;
const CLOSED_HOURS = (() => {
  // A window of one minute away from São Paulo's current hour (every DDD is within 2 h of it).
  const h = new Date(Date.now() - 3 * 3600_000).getUTCHours();
  const at = (h + 12) % 24;
  const hh = String(at).padStart(2, '0');
  return [`${hh}:00`, `${hh}:01`] as const;
})();

async function campaign(cols: Record<string, unknown> = {}): Promise<number> {
  const all: Record<string, unknown> = {
    name: `end-${randomBytes(5).toString('hex')}`, mode: 'power', status: 'active', window_profile: 'custom',
    weekday_start: '00:00', weekday_end: '23:59', saturday_start: '00:00', saturday_end: '23:59',
    allow_sunday: true, sunday_start: '00:00', sunday_end: '23:59', skip_holidays: false, ...cols,
  };
  const keys = Object.keys(all);
  const [r] = await sql<{ id: string }>(`insert into campaigns (${keys.join(', ')}) values (${keys.map((_, i) => `$${i + 1}`).join(', ')}) returning id`, Object.values(all));
  return Number(r!.id);
}

/** A routable agent of the campaign: shift leg live in the room, page polled now. */
async function agent(campaignId: number, status = 'available'): Promise<number> {
  const shift = newCallSid();
  await sql(`insert into calls (call_sid, direction, status) values ($1, 'inbound', 'in-progress')`, [shift]);
  const [r] = await sql<{ id: string }>(
    `insert into agents (name, status, status_changed_at, shift_call_sid, last_seen_at, campaign_id)
     values ($1, $2, now() - interval '30 seconds', $3, now(), $4) returning id`,
    [`E ${randomBytes(3).toString('hex')}`, status, shift, campaignId],
  );
  return Number(r!.id);
}

async function lead(campaignId: number, status = 'pending', ddd = '41'): Promise<{ id: number; phone: string }> {
  const phone = newMobile(ddd);
  const [r] = await sql<{ id: string }>(
    `insert into leads (campaign_id, phone_number, name, status, attempts, last_attempt_at)
     values ($1, $2, 'Joana', $3, case when $3 = 'dialing' then 1 else 0 end, case when $3 = 'dialing' then now() end) returning id`,
    [campaignId, phone, status],
  );
  return { id: Number(r!.id), phone };
}

/** A pool number only this test's calls can take (its own DDD area code when given). */
async function poolNumber(ddd = '41'): Promise<string> {
  const n = `+55${ddd}3${randomInt(1_000_000, 9_999_999)}`;
  await sql(`insert into phone_numbers (phone_number) values ($1)`, [n]);
  return n;
}

/** An answered campaign call of a dialing lead: attempt recorded, CallSid attached, in progress. */
async function answered(campaignId: number, l: { id: number; phone: string }): Promise<{ id: number; sid: string; to: string }> {
  await poolNumber();
  const a = await rpc<{ allowed: boolean; attempt_id: number }>('start_dial_attempt', { p_to: l.phone, p_campaign_id: campaignId, p_lead_id: l.id });
  expect(a.allowed).toBe(true);
  const sid = newCallSid();
  await rpc('attach_call_sid', { p_attempt_id: a.attempt_id, p_call_sid: sid });
  await rpc('apply_call_event', { p_event: { call_sid: sid, attempt_id: a.attempt_id, call_status: 'in-progress' } });
  return { id: a.attempt_id, sid, to: l.phone };
}

const status = (sid: string, attempt: number, s: string) =>
  rpc<Record<string, unknown>>('apply_call_status', { p_event: { call_sid: sid, attempt_id: attempt, call_status: s, wrap_up_seconds: 30 } });
const agentRow = (id: number) => one<{ status: string; current_call_sid: string | null; reserved_attempt_id: string | null }>(
  `select status, current_call_sid, reserved_attempt_id from agents where id = $1`, [id]);
const leadRow = (id: number) => one<{ status: string; outcome: string | null; attempts: number; preview_agent_id: string | null }>(
  `select status, outcome, attempts, preview_agent_id from leads where id = $1`, [id]);
const joinEvent = (agentId: number, sid: string) => ({
  conference_name: `agent-${agentId}`, event: 'participant-join', call_sid: sid, label: 'customer', sequence_number: 3,
});

async function inTx<T>(c: Client, fn: () => Promise<T>): Promise<T> {
  await c.query('begin');
  try {
    const r = await fn();
    await c.query('commit');
    return r;
  } catch (e) {
    await c.query('rollback');
    throw e;
  }
}

describe('one lock order: the call row, then the agent', () => {
  it("a customer's join and the call's final status at the same time: no deadlock, agent and lead right", async () => {
    const k = await campaign();
    const a = await agent(k);
    const l = await lead(k, 'dialing');
    const c = await answered(k, l);
    expect((await rpc<{ action: string }>('campaign_amd_result', { p_event: { call_sid: c.sid, attempt_id: c.id, answered_by: 'human', presence_seconds: 20 } })).action).toBe('whisper');

    // The status callback's transaction has applied the final status (the call's row is
    // locked); the join arrives; then the status callback goes on to release the agent.
    const A = await session();
    const B = await session();
    try {
      await A.client.query('begin');
      await A.client.query(`select public.apply_call_event($1)`, [{ call_sid: c.sid, attempt_id: c.id, call_status: 'completed' }]);
      const join = B.client.query(`select public.apply_conference_event($1) as r`, [joinEvent(a, c.sid)]);
      await waitUntilBlocked(B.pid);
      // The join waits for the call's row without holding the agent's.
      const C = await session();
      try {
        await C.client.query('begin');
        await expect(C.client.query(`select id from agents where id = $1 for update nowait`, [a])).resolves.toBeTruthy();
        await C.client.query('rollback');
      } finally {
        await C.client.end();
      }
      await A.client.query(`select public.agent_customer_left($1, 30)`, [c.sid]);
      await A.client.query(`select public.lead_call_ended($1)`, [c.sid]);
      await A.client.query('commit');
      const r = (await join).rows[0]!.r as { agent: { ignored?: boolean } };
      expect(r.agent).toMatchObject({ ignored: true });
    } finally {
      await A.client.end();
      await B.client.end();
    }
    expect(await agentRow(a)).toMatchObject({ status: 'available' });
    expect(await leadRow(l.id)).toMatchObject({ status: 'pending', outcome: 'hangup' });
  });

  it('agent_customer_joined called alone also takes the call row first', async () => {
    const k = await campaign();
    const a = await agent(k);
    const c = await answered(k, await lead(k, 'dialing'));
    const A = await session();
    const B = await session();
    try {
      await A.client.query('begin');
      await A.client.query(`select 1 from calls where call_sid = $1 for update`, [c.sid]);
      const joined = B.client.query(`select public.agent_customer_joined($1, $2) as r`, [a, c.sid]);
      await waitUntilBlocked(B.pid);
      await expect(A.client.query(`select id from agents where id = $1 for update nowait`, [a])).resolves.toBeTruthy();
      await A.client.query('commit');
      expect((await joined).rows[0]!.r).toMatchObject({ agent_id: a, status: 'busy' });
    } finally {
      await A.client.end();
      await B.client.end();
    }
  });

  it('40 pairs of join + final status on parallel connections: none fails, no agent left busy or reserved', async () => {
    const k = await campaign();
    const conns = await Promise.all([session(), session()]);
    try {
      for (let i = 0; i < 40; i++) {
        const a = await agent(k);
        const l = await lead(k, 'dialing');
        const c = await answered(k, l);
        await rpc('campaign_amd_result', { p_event: { call_sid: c.sid, attempt_id: c.id, answered_by: 'human', presence_seconds: 20 } });
        const [x, y] = conns;
        const results = await Promise.allSettled([
          inTx(x!.client, () => x!.client.query(`select public.apply_conference_event($1)`, [joinEvent(a, c.sid)])),
          inTx(y!.client, () => y!.client.query(`select public.apply_call_status($1)`, [{ call_sid: c.sid, attempt_id: c.id, call_status: 'completed', wrap_up_seconds: 30 }])),
        ]);
        expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
        expect(['available', 'wrap_up']).toContain((await agentRow(a)).status);
        expect((await leadRow(l.id)).status).not.toBe('dialing');
      }
    } finally {
      await Promise.all(conns.map((c) => c.client.end()));
    }
  });
});

describe('every ending releases the agent and moves the lead', () => {
  it('reconcile_call of a call whose final callback was lost', async () => {
    const k = await campaign();
    const a = await agent(k);
    const l = await lead(k, 'dialing');
    const c = await answered(k, l);
    await rpc('campaign_amd_result', { p_event: { call_sid: c.sid, attempt_id: c.id, answered_by: 'human', presence_seconds: 20 } });
    expect(await agentRow(a)).toMatchObject({ status: 'reserved', current_call_sid: c.sid });
    const r = await rpc<Record<string, unknown>>('reconcile_call', { p_call: { call_sid: c.sid, status: 'completed', end_time: new Date().toISOString() } });
    expect(r).toMatchObject({ status: 'completed', agent: { agent_id: a, status: 'available' }, lead: { applied: true, outcome: 'hangup' } });
    expect(await agentRow(a)).toMatchObject({ status: 'available', current_call_sid: null });
    expect(await leadRow(l.id)).toMatchObject({ status: 'pending', outcome: 'hangup' });
    expect(await one(`select outcome, lead_outcome_at is not null as applied from calls where id = $1`, [c.id])).toEqual({ outcome: 'hangup', applied: true });
  });

  it.each([
    ['resolve_dial_attempt never_placed', (id: number) => rpc('resolve_dial_attempt', { p_attempt_id: id, p_call_sids: [] })],
    ['fail_dial_attempt (Twilio refused)', (id: number) => rpc('fail_dial_attempt', { p_attempt_id: id, p_error_code: 21215 })],
  ])('%s: the agent reserved for the attempt is free, the lead learns the failed attempt', async (_name, end) => {
    const k = await campaign({ mode: 'preview' });
    const a = await agent(k);
    const l = await lead(k, 'dialing');
    await poolNumber();
    const at = await rpc<{ allowed: boolean; attempt_id: number }>('start_dial_attempt', {
      p_to: l.phone, p_agent_id: a, p_campaign_id: k, p_lead_id: l.id, p_reserve_agent: true, p_presence_seconds: 20,
    });
    expect(at.allowed).toBe(true);
    expect(await agentRow(a)).toMatchObject({ status: 'reserved', reserved_attempt_id: String(at.attempt_id) });
    await end(at.attempt_id);
    expect(await agentRow(a)).toMatchObject({ status: 'available', reserved_attempt_id: null });
    expect(await leadRow(l.id)).toMatchObject({ outcome: 'failed' });
    expect((await leadRow(l.id)).status).not.toBe('dialing');
    expect(await one(`select outcome from calls where id = $1`, [at.attempt_id])).toEqual({ outcome: 'failed' });
  });

  it("the pacer's refusal (release_dial_attempt) keeps its meaning: the lead pending again, the attempt not counted", async () => {
    const k = await campaign();
    const l = await lead(k, 'dialing');
    await poolNumber();
    const at = await rpc<{ attempt_id: number }>('start_dial_attempt', { p_to: l.phone, p_campaign_id: k, p_lead_id: l.id });
    expect(await rpc('release_dial_attempt', { p_attempt_id: at.attempt_id, p_error_code: 20429 })).toEqual({ failed: true, released: true, kind: 'transient' });
    expect(await leadRow(l.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await one(`select outcome, lead_outcome_at is not null as applied from calls where id = $1`, [at.attempt_id])).toEqual({ outcome: 'failed', applied: true });
    expect(await rpc('release_dial_attempt', { p_attempt_id: at.attempt_id })).toEqual({ failed: false, released: false, kind: 'transient' });
  });

  it('a final callback faster than agent_reserve_outbound (preview): the agent is not left reserved', async () => {
    const k = await campaign({ mode: 'preview' });
    const a = await agent(k);
    const l = await lead(k, 'dialing');
    await poolNumber();
    const at = await rpc<{ attempt_id: number }>('start_dial_attempt', {
      p_to: l.phone, p_agent_id: a, p_campaign_id: k, p_lead_id: l.id, p_reserve_agent: true, p_presence_seconds: 20,
    });
    const sid = newCallSid();
    const st = await status(sid, at.attempt_id, 'busy');
    expect(st).toMatchObject({ agent: { agent_id: a, status: 'available' }, lead: { applied: true, outcome: 'busy' } });
    expect(await rpc('agent_reserve_outbound', { p_agent_id: a, p_call_sid: sid, p_attempt_id: at.attempt_id })).toBeNull();
    expect(await agentRow(a)).toMatchObject({ status: 'available', current_call_sid: null, reserved_attempt_id: null });
    expect(await leadRow(l.id)).toMatchObject({ status: 'pending', outcome: 'busy' });
  });

  it('agent_reserve_outbound for a call already over releases the reservation instead', async () => {
    const k = await campaign({ mode: 'preview' });
    const a = await agent(k);
    const l = await lead(k, 'dialing');
    await poolNumber();
    const at = await rpc<{ attempt_id: number }>('start_dial_attempt', {
      p_to: l.phone, p_agent_id: a, p_campaign_id: k, p_lead_id: l.id, p_reserve_agent: true, p_presence_seconds: 20,
    });
    const sid = newCallSid();
    // The call ended by a path that knew no agent (its row only).
    await sql(`update calls set call_sid = $1, status = 'no-answer', ended_at = now() where id = $2`, [sid, at.attempt_id]);
    expect(await rpc('agent_reserve_outbound', { p_agent_id: a, p_call_sid: sid, p_attempt_id: at.attempt_id })).toMatchObject({ status: 'available', released: true });
    expect(await agentRow(a)).toMatchObject({ status: 'available', reserved_attempt_id: null });
  });
});

describe('dialer_sweep', () => {
  it('ends what callbacks missed: leads left dialing, ends never applied, agents left reserved', async () => {
    const k = await campaign();
    const old = `now() - interval '1 hour'`;
    // A lead claimed but never called.
    const unclaimed = await lead(k, 'dialing');
    // A lead whose call ended without its tail (status written, nothing else).
    const a1 = await agent(k);
    const ended = await lead(k, 'dialing');
    const c1 = await answered(k, ended);
    await rpc('campaign_amd_result', { p_event: { call_sid: c1.sid, attempt_id: c1.id, answered_by: 'human', presence_seconds: 20 } });
    await sql(`update calls set status = 'completed', ended_at = ${old}, updated_at = ${old} where id = $1`, [c1.id]);
    // A lead whose attempt never got a CallSid (Twilio silent).
    const silent = await lead(k, 'dialing');
    await poolNumber();
    const s3 = await rpc<{ attempt_id: number }>('start_dial_attempt', { p_to: silent.phone, p_campaign_id: k, p_lead_id: silent.id });
    // An agent reserved for an attempt that failed.
    const a2 = await agent(k);
    const other = await lead(k, 'done');
    await poolNumber();
    const s4 = await rpc<{ attempt_id: number }>('start_dial_attempt', { p_to: other.phone, p_campaign_id: k, p_lead_id: other.id });
    await sql(`update calls set status = 'failed', ended_at = ${old}, lead_outcome_at = ${old} where id = $1`, [s4.attempt_id]);
    await sql(`update agents set status = 'reserved', reserved_attempt_id = $1, current_call_sid = null where id = $2`, [s4.attempt_id, a2]);
    // A live call of a dialing lead: left alone.
    const live = await lead(k, 'dialing');
    const c5 = await answered(k, live);

    await sql(`update leads set last_attempt_at = ${old} where id = any($1)`, [[unclaimed.id, ended.id, silent.id, live.id]]);
    await sql(`update calls set created_at = ${old} where id = any($1)`, [[c1.id, s3.attempt_id, s4.attempt_id, c5.id]]);
    await sql(`update agents set status_changed_at = ${old} where id = any($1)`, [[a1, a2]]);
    // last_attempt_at after the claim of the attempts created above
    await sql(`update leads set last_attempt_at = now() - interval '1 hour 1 minute' where id = any($1)`, [[ended.id, silent.id, live.id]]);

    const r = await rpc<{ endings: number; leads: number; agents: number }>('dialer_sweep', { p_stale_seconds: 1800 });
    expect(r.endings).toBeGreaterThanOrEqual(1);
    expect(r.leads).toBeGreaterThanOrEqual(2);
    expect(r.agents).toBeGreaterThanOrEqual(1);
    expect(await leadRow(unclaimed.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await leadRow(ended.id)).toMatchObject({ status: 'pending', outcome: 'hangup' });
    expect(await agentRow(a1)).toMatchObject({ status: 'available' });
    expect(await leadRow(silent.id)).toMatchObject({ status: 'pending', outcome: 'canceled' });
    expect(await agentRow(a2)).toMatchObject({ status: 'available', reserved_attempt_id: null });
    expect(await leadRow(live.id)).toMatchObject({ status: 'dialing' });
    // Nothing left: a second sweep finds none of these.
    await rpc('dialer_sweep', { p_stale_seconds: 1800 });
    expect(await leadRow(live.id)).toMatchObject({ status: 'dialing' });
  });

  it('leaves fresh work alone: a lead just claimed waits for its call', async () => {
    const k = await campaign();
    const l = await lead(k, 'dialing');
    await rpc('dialer_sweep', { p_stale_seconds: 1800 });
    expect(await leadRow(l.id)).toMatchObject({ status: 'dialing', attempts: 1 });
  });
});

describe('preview dial', () => {
  const config = () => loadConfig({ SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY'), PUBLIC_BASE_URL: env('FUNCTIONS_BASE_URL') });
  const twilioThat = (create: () => Promise<unknown>) => ({ calls: { create } }) as unknown as twilio.Twilio;

  async function previewing(cols: Record<string, unknown> = {}): Promise<{ k: number; a: number; l: { id: number; phone: string } }> {
    const k = await campaign({ mode: 'preview', ...cols });
    const a = await agent(k);
    const l = await lead(k);
    await sql(`update leads set status = 'previewing', preview_agent_id = $1 where id = $2`, [a, l.id]);
    await poolNumber();
    return { k, a, l };
  }

  it("a closed calling window at the click: 409 window_closed, the lead back to pending, nothing dialed", async () => {
    const { a, l } = await previewing({
      weekday_start: CLOSED_HOURS[0], weekday_end: CLOSED_HOURS[1], saturday_start: CLOSED_HOURS[0], saturday_end: CLOSED_HOURS[1],
      sunday_start: CLOSED_HOURS[0], sunday_end: CLOSED_HOURS[1],
    });
    const create = jest.fn(async () => ({ sid: newCallSid(), accountSid: env('TWILIO_ACCOUNT_SID') }));
    const err = await previewDial({ db, config: config(), twilio: twilioThat(create) }, a).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 409, code: 'window_closed' });
    expect(create).not.toHaveBeenCalled();
    expect(await leadRow(l.id)).toMatchObject({ status: 'pending', preview_agent_id: null, attempts: 0 });
    expect(await one(`select count(*)::int as n from calls where lead_id = $1`, [l.id])).toEqual({ n: 0 });
    // The SQL side refuses alone too: a DDD not among the open ones.
    await sql(`update leads set status = 'previewing', preview_agent_id = $1 where id = $2`, [a, l.id]);
    expect(await rpc('agent_preview_dial', { p_agent_id: a, p_lead_id: l.id, p_open_ddds: [11] })).toEqual({ ok: false, reason: 'window_closed' });
    expect(await leadRow(l.id)).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('the attempt cannot be recorded (database error): the lead goes back on the card', async () => {
    const { a, l } = await previewing();
    const failing: Db = {
      client: db.client,
      rpc: (fn, args) => (fn === 'start_dial_attempt' ? Promise.resolve({ data: null, error: { code: 'XX000', message: 'simulated failure', details: '', hint: '' } } as never) : db.rpc(fn, args)),
    };
    const create = jest.fn(async () => ({ sid: newCallSid(), accountSid: env('TWILIO_ACCOUNT_SID') }));
    await expect(previewDial({ db: failing, config: config(), twilio: twilioThat(create) }, a)).rejects.toThrow();
    expect(create).not.toHaveBeenCalled();
    expect(await leadRow(l.id)).toMatchObject({ status: 'previewing', preview_agent_id: String(a), attempts: 0 });
  });

  it('Twilio silent after the attempt was recorded: the agent is free, the lead waits for the sweep, which retries it', async () => {
    const { a, l } = await previewing();
    const timeout = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    await expect(previewDial({ db, config: config(), twilio: twilioThat(async () => Promise.reject(timeout)) }, a)).rejects.toThrow('socket hang up');
    expect(await agentRow(a)).toMatchObject({ status: 'available' });
    expect(await leadRow(l.id)).toMatchObject({ status: 'dialing', attempts: 1 });
    const [attempt] = await sql<{ id: string }>(`select id from calls where lead_id = $1 and call_sid is null`, [l.id]);
    expect(attempt).toBeDefined();
    await sql(`update leads set last_attempt_at = now() - interval '1 hour 1 minute' where id = $1`, [l.id]);
    await sql(`update calls set created_at = now() - interval '1 hour' where id = $1`, [attempt!.id]);
    await rpc('dialer_sweep', { p_stale_seconds: 1800 });
    expect(await leadRow(l.id)).toMatchObject({ status: 'pending', outcome: 'canceled' });
  });
});

describe('the connect step and AMD', () => {
  const connect = (c: { sid: string; id: number; to: string }, grace = 2) =>
    rpc<Record<string, unknown>>('campaign_connect_step', {
      p_event: { call_sid: c.sid, attempt_id: c.id, call_status: 'in-progress', direction: 'outbound-api', to: c.to, presence_seconds: 20, grace_seconds: grace, params: {} },
    });

  it('a live customer not in the room within the grace is abandoned, even if an agent frees up later', async () => {
    const k = await campaign();
    const a = await agent(k, 'paused');
    const c = await answered(k, await lead(k, 'dialing'));
    expect((await rpc<{ action: string }>('campaign_amd_result', { p_event: { call_sid: c.sid, attempt_id: c.id, answered_by: 'human' } })).action).toBe('wait');
    expect(await connect(c)).toMatchObject({ action: 'wait', reason: 'no_agent' });
    await sql(`update calls set disclaimer_ended_at = disclaimer_ended_at - interval '3.5 seconds' where id = $1`, [c.id]);
    await sql(`update agents set status = 'available' where id = $1`, [a]);
    expect(await connect(c)).toMatchObject({ action: 'abandon' });
    expect(await one(`select abandoned_at is not null as abandoned, outcome from calls where id = $1`, [c.id])).toEqual({ abandoned: true, outcome: 'abandoned' });
    expect(await agentRow(a)).toMatchObject({ status: 'available' });
  });

  it('an agent reserved by AMD while the customer held past the grace is released; the customer is abandoned', async () => {
    const k = await campaign();
    const a = await agent(k, 'paused');
    const c = await answered(k, await lead(k, 'dialing'));
    expect(await connect(c)).toMatchObject({ action: 'wait', reason: 'amd_pending' });
    await sql(`update agents set status = 'available' where id = $1`, [a]);
    expect((await rpc<{ action: string }>('campaign_amd_result', { p_event: { call_sid: c.sid, attempt_id: c.id, answered_by: 'human', presence_seconds: 20 } })).action).toBe('whisper');
    await sql(`update calls set disclaimer_ended_at = disclaimer_ended_at - interval '2.5 seconds' where id = $1`, [c.id]);
    expect(await connect(c)).toMatchObject({ action: 'abandon' });
    expect(await agentRow(a)).toMatchObject({ status: 'available' });
  });

  it('within the grace an agent who frees up takes the customer', async () => {
    const k = await campaign();
    const a = await agent(k, 'paused');
    const c = await answered(k, await lead(k, 'dialing'));
    await rpc('campaign_amd_result', { p_event: { call_sid: c.sid, attempt_id: c.id, answered_by: 'human' } });
    expect(await connect(c)).toMatchObject({ action: 'wait' });
    await sql(`update agents set status = 'available' where id = $1`, [a]);
    expect(await connect(c)).toMatchObject({ action: 'room', agent_id: a, reserved_by: 'connect' });
  });

  it('a machine verdict after the connect step sent the customer to the room changes nothing', async () => {
    const k = await campaign({ amd_unknown: 'connect' });
    const a = await agent(k);
    const l = await lead(k, 'dialing');
    const c = await answered(k, l);
    expect(await connect(c, 0)).toMatchObject({ action: 'room', agent_id: a, reserved_by: 'connect' });
    const late = await rpc<Record<string, unknown>>('campaign_amd_result', { p_event: { call_sid: c.sid, attempt_id: c.id, answered_by: 'machine_start' } });
    expect(late).toMatchObject({ action: 'none', reason: 'already_decided' });
    expect(await one(`select outcome, amd_action from calls where id = $1`, [c.id])).toEqual({ outcome: null, amd_action: 'none' });
    expect(await agentRow(a)).toMatchObject({ status: 'reserved', current_call_sid: c.sid });
    await rpc('apply_conference_event', { p_event: joinEvent(a, c.sid) });
    const end = await status(c.sid, c.id, 'completed');
    expect(end).toMatchObject({ lead: { outcome: 'human', lead: { status: 'done', outcome: 'connected' } } });
  });
});

describe('caller ID and voicemail', () => {
  it("start_dial_attempt of a campaign call follows the campaign's strategy (least_used)", async () => {
    const k = await campaign({ caller_id_strategy: 'least_used', local_presence: true });
    const fresh = await poolNumber('69');
    const busy = await poolNumber('69');
    // round robin would take `busy` (used longest ago); least_used takes `fresh` (no call today).
    await sql(`update phone_numbers set calls_today = 0, calls_today_date = (now() at time zone 'America/Sao_Paulo')::date, last_used_at = now() - interval '1 hour' where phone_number = $1`, [fresh]);
    await sql(`update phone_numbers set calls_today = 5, calls_today_date = (now() at time zone 'America/Sao_Paulo')::date, last_used_at = now() - interval '1 day' where phone_number = $1`, [busy]);
    const l = await lead(k, 'dialing', '69');
    const r = await rpc<{ caller_id: string }>('start_dial_attempt', { p_to: l.phone, p_campaign_id: k, p_lead_id: l.id });
    expect(r.caller_id).toBe(fresh);
  });

  it('a voicemail drop for a number that opted out meanwhile says nothing and hangs up', async () => {
    const k = await campaign({ amd_machine: 'voicemail', voicemail_text: 'Mensagem da Empresa X' });
    const c = await answered(k, await lead(k, 'dialing'));
    expect((await rpc<{ action: string }>('campaign_amd_result', { p_event: { call_sid: c.sid, attempt_id: c.id, answered_by: 'machine_end_beep' } })).action).toBe('voicemail');
    await sql(`select opt_out_add($1, 'sms', 'sms')`, [c.to]);
    const url = `${env('FUNCTIONS_BASE_URL')}/voice/voicemail-drop?attempt=${c.id}`;
    const res = await signedPost(url, {
      AccountSid: env('TWILIO_ACCOUNT_SID'), CallSid: c.sid, CallStatus: 'in-progress', Direction: 'outbound-api',
      From: '+554130001000', To: c.to, ApiVersion: '2010-04-01',
    }, env('TWILIO_AUTH_TOKEN'));
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toMatch(/<Hangup\/>/);
    expect(body).not.toMatch(/<Say|<Play/);
    expect(await one(`select opted_out, outcome from calls where id = $1`, [c.id])).toEqual({ opted_out: true, outcome: 'opted_out' });
  });
});
