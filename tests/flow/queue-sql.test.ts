/**
 * The overflow queue's functions on the database, through PostgREST as the functions call
 * them: first come first served, a free agent reserved at once only when nobody waits longer,
 * the hand-out under concurrent dispatchers (never two agents for one caller nor two callers
 * for one agent), a hand-over undone when the agent vanished or the caller hung up, keys,
 * callback leads, the Enqueue action's results, the sweep, the figures, and the settings.
 */
import { randomBytes } from 'node:crypto';
import { sql, testDb } from '../helpers/db';
import { newCallSid, newMobile } from '../helpers/twilio';

const db = testDb();
const rpc = async <T>(fn: string, args: Record<string, unknown>): Promise<T> => {
  const { data, error } = await db.rpc<T>(fn, args);
  if (error) throw new Error(`${fn}: ${error.message}`);
  return data as T;
};
const rpcError = async (fn: string, args: Record<string, unknown>): Promise<string> => {
  const { error } = await db.rpc(fn, args);
  return error?.message ?? '';
};

/** A queue of its own for each test, served only by the given agents (none: nobody). */
async function queue(opts: Record<string, unknown> = {}): Promise<string> {
  const name = `q-${randomBytes(4).toString('hex')}`;
  await rpc('queue_set', { p: { name, agent_ids: [await ghost()], ...opts } });
  return name;
}
/** An agent row nobody routes to (offline): a placeholder for a queue's agent list. */
async function ghost(): Promise<number> {
  const [r] = await sql<{ id: string }>(`insert into agents (name, status) values ('ghost', 'offline') returning id`);
  return Number(r!.id);
}
/** A routable agent (shift leg, page polled now), available since `since` seconds ago. */
async function agent(since = 0): Promise<number> {
  const [row] = await sql<{ id: string }>(
    `insert into agents (name, status, status_changed_at, shift_call_sid, last_seen_at)
     values ($1, 'available', now() - make_interval(secs => $2), $3, now()) returning id`,
    [`Q ${randomBytes(3).toString('hex')}`, since, newCallSid()],
  );
  return Number(row!.id);
}
async function serve(q: string, agents: number[]): Promise<void> {
  await rpc('queue_set', { p: { name: q, agent_ids: agents } });
}
/** A caller enters the queue (the /voice/queue webhook's event). */
async function enter(q: string, from = newMobile('21'), extra: Record<string, unknown> = {}) {
  const sid = newCallSid();
  const answer = await rpc<{ entry_id: number; position: number; agent: { id: number } | null; opted_out: boolean; queue: { callback: boolean } }>('queue_enter', {
    p_event: { call_sid: sid, call_status: 'in-progress', direction: 'inbound', from, to: '+551130009700', presence_seconds: 20, ...extra },
    p_queue: q,
  });
  return { sid, from, ...answer };
}
const entry = async (sid: string) =>
  (await sql<Record<string, unknown>>(`select queue_name, agent_id, result, waited_seconds, choice, callback_lead_id, answered_at, left_at from queue_entries where call_sid = $1 order by id desc limit 1`, [sid]))[0]!;
const agentRow = async (id: number) => (await sql<{ status: string; current_call_sid: string | null }>(`select status, current_call_sid from agents where id = $1`, [id]))[0]!;

describe('entering and handing out', () => {
  it('a free serving agent is reserved at once for the first caller; the next ones wait in order', async () => {
    const q = await queue();
    const a = await agent();
    await serve(q, [a]);
    const first = await enter(q);
    expect(first.agent?.id).toBe(a);
    expect(await agentRow(a)).toEqual({ status: 'reserved', current_call_sid: first.sid });
    const second = await enter(q);
    const third = await enter(q);
    expect([second.position, third.position, second.agent, third.agent]).toEqual([2, 3, null, null]);
  });

  it('queue_assign gives the longest-waiting caller to the agent who frees up, not a later one', async () => {
    const q = await queue();
    const early = await enter(q);
    const late = await enter(q);
    await sql(`update queue_entries set entered_at = now() - interval '3 minutes' where call_sid = $1`, [early.sid]);
    const a = await agent();
    await serve(q, [a]);
    const got = await rpc<{ call_sid: string; waited_seconds: number; agent: { id: number }; queue: string }>('queue_assign', { p_agent_id: a, p_presence_seconds: 20 });
    expect(got).toMatchObject({ call_sid: early.sid, queue: q, agent: { id: a } });
    expect(got.waited_seconds).toBeGreaterThanOrEqual(179);
    expect(await agentRow(a)).toEqual({ status: 'reserved', current_call_sid: early.sid });
    expect((await entry(late.sid)).agent_id).toBeNull();
  });

  it('an agent who is not routable (page silent, no shift leg, paused) is never handed a caller', async () => {
    const q = await queue();
    const silent = await agent();
    await sql(`update agents set last_seen_at = now() - interval '5 minutes' where id = $1`, [silent]);
    const noShift = await agent();
    await sql(`update agents set shift_call_sid = null where id = $1`, [noShift]);
    const paused = await agent();
    await sql(`update agents set status = 'paused' where id = $1`, [paused]);
    await serve(q, [silent, noShift, paused]);
    const c = await enter(q);
    expect(c.agent).toBeNull();
    for (const id of [silent, noShift, paused]) expect(await rpc('queue_assign', { p_agent_id: id, p_presence_seconds: 20 })).toBeNull();
    expect((await entry(c.sid)).agent_id).toBeNull();
  });

  it('an agent outside the queue’s list does not serve it', async () => {
    const q = await queue();
    const c = await enter(q);
    const other = await agent();
    expect(await rpc('queue_assign', { p_agent_id: other, p_presence_seconds: 20 })).toBeNull();
    expect((await entry(c.sid)).agent_id).toBeNull();
    expect((await agentRow(other)).status).toBe('available');
  });

  it('concurrent dispatchers: 6 callers, 3 agents, 12 dispatchers at once → 3 hand-overs, each agent and each caller at most once', async () => {
    const q = await queue();
    const callers = [];
    for (let i = 0; i < 6; i++) callers.push(await enter(q));
    const agents = [await agent(), await agent(), await agent()];
    await serve(q, agents);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => rpc<{ call_sid: string; agent: { id: number } } | null>('queue_assign', { p_agent_id: i % 2 ? null : agents[i % 3], p_presence_seconds: 20 })),
    );
    // A dispatcher that found every row held by another may give up; the next trigger retries.
    let got = results.filter((r): r is { call_sid: string; agent: { id: number } } => r !== null);
    while (got.length < 3) {
      const more = await rpc<{ call_sid: string; agent: { id: number } } | null>('queue_assign', { p_agent_id: null, p_presence_seconds: 20 });
      if (!more) break;
      got = [...got, more];
    }
    expect(got).toHaveLength(3);
    expect(new Set(got.map((g) => g.agent.id)).size).toBe(3);
    expect(new Set(got.map((g) => g.call_sid)).size).toBe(3);
    const assigned = await sql<{ call_sid: string; agent_id: string }>(`select call_sid, agent_id from queue_entries where queue_name = $1 and agent_id is not null`, [q]);
    expect(assigned).toHaveLength(3);
    // The three who waited longest.
    expect(new Set(assigned.map((r) => r.call_sid))).toEqual(new Set(callers.slice(0, 3).map((c) => c.sid)));
    for (const a of agents) expect((await agentRow(a)).status).toBe('reserved');
    expect(await rpc('queue_assign', { p_agent_id: null, p_presence_seconds: 20 })).toBeNull();
  });
});

describe('hand-overs that do not connect', () => {
  it('the redirect failed because the caller hung up: the agent is released, the entry abandoned', async () => {
    const q = await queue();
    const a = await agent();
    await serve(q, [a]);
    const c = await enter(q);
    await rpc('queue_assign_failed', { p_entry_id: c.entry_id, p_caller_gone: true });
    expect(await agentRow(a)).toEqual({ status: 'available', current_call_sid: null });
    expect(await entry(c.sid)).toMatchObject({ result: 'abandoned' });
  });

  it('the redirect failed for another reason: the agent is released, the caller waits again in place', async () => {
    const q = await queue();
    const a = await agent();
    await serve(q, [a]);
    const c = await enter(q);
    await rpc('queue_assign_failed', { p_entry_id: c.entry_id, p_caller_gone: false });
    expect((await agentRow(a)).status).toBe('available');
    expect(await entry(c.sid)).toMatchObject({ agent_id: null, result: null });
    expect((await rpc<{ call_sid: string }>('queue_assign', { p_agent_id: a, p_presence_seconds: 20 })).call_sid).toBe(c.sid);
  });

  it('the agent vanished before the caller reached the room: no room, the caller keeps their place', async () => {
    const q = await queue();
    const a = await agent();
    await serve(q, [a]);
    const c = await enter(q);
    await sql(`update agents set shift_call_sid = null where id = $1`, [a]);
    const answer = await rpc<{ connect: boolean; reason: string; requeue: boolean }>('queue_connect', {
      p_event: { call_sid: c.sid, call_status: 'in-progress', direction: 'inbound', from: c.from, to: '+551130009700', presence_seconds: 20 },
      p_agent_id: a,
    });
    expect(answer).toMatchObject({ connect: false, reason: 'no_room', requeue: true });
    expect((await agentRow(a)).status).toBe('available');
    expect(await entry(c.sid)).toMatchObject({ agent_id: null, result: null });
    const back = await enter(q, c.from, { call_sid: c.sid });
    expect(back.entry_id).toBe(c.entry_id);
  });

  it('a hand-over that never connected is undone after the stale time', async () => {
    const q = await queue();
    const a = await agent();
    await serve(q, [a]);
    const c = await enter(q);
    await sql(`update queue_entries set assigned_at = now() - interval '1 minute' where id = $1`, [c.entry_id]);
    const again = await rpc<{ call_sid: string; agent: { id: number } }>('queue_assign', { p_agent_id: null, p_presence_seconds: 20, p_stale_seconds: 30 });
    expect(again).toMatchObject({ call_sid: c.sid, agent: { id: a } });
  });

  it('connected: the entry is answered with the seconds waited', async () => {
    const q = await queue();
    const a = await agent();
    await serve(q, [a]);
    const c = await enter(q);
    await sql(`update queue_entries set entered_at = now() - interval '95 seconds' where id = $1`, [c.entry_id]);
    const answer = await rpc<{ connect: boolean }>('queue_connect', {
      p_event: { call_sid: c.sid, call_status: 'in-progress', direction: 'inbound', from: c.from, to: '+551130009700', presence_seconds: 20 },
      p_agent_id: a,
    });
    expect(answer.connect).toBe(true);
    const e = await entry(c.sid);
    expect(e).toMatchObject({ result: 'answered', agent_id: String(a) });
    expect(Number(e['waited_seconds'])).toBeGreaterThanOrEqual(95);
  });

  it('an opted-out caller is refused a place under OPT_OUT_INBOUND=message, and not connected if they opted out while waiting', async () => {
    const q = await queue();
    const listed = newMobile('21');
    await sql(`insert into opt_outs (phone_number, source) values ($1, 'manual')`, [listed]);
    const refused = await enter(q, listed, { opt_out_inbound: 'message' });
    expect(refused.opted_out).toBe(true);
    expect(refused.entry_id).toBeUndefined();

    const a = await agent();
    await serve(q, [a]);
    const c = await enter(q, newMobile('21'), { opt_out_inbound: 'message' });
    expect(c.agent?.id).toBe(a);
    await sql(`insert into opt_outs (phone_number, source) values ($1, 'manual')`, [c.from]);
    const answer = await rpc<{ connect: boolean; opted_out: boolean }>('queue_connect', {
      p_event: { call_sid: c.sid, call_status: 'in-progress', direction: 'inbound', from: c.from, to: '+551130009700', presence_seconds: 20, opt_out_inbound: 'message' },
      p_agent_id: a,
    });
    expect(answer).toMatchObject({ connect: true, opted_out: true });
    expect(await entry(c.sid)).toMatchObject({ result: 'opted_out' });
    expect((await agentRow(a)).status).toBe('available');
  });
});

describe('leaving the wait', () => {
  it('hangup → abandoned (a pending reservation released); repeats change nothing', async () => {
    const q = await queue();
    const a = await agent();
    await serve(q, [a]);
    const c = await enter(q);
    expect(await rpc('queue_leave', { p_call_sid: c.sid, p_result: 'hangup' })).toMatchObject({ action: 'none', result: 'abandoned' });
    expect((await agentRow(a)).status).toBe('available');
    expect(await rpc('queue_leave', { p_call_sid: c.sid, p_result: 'leave' })).toMatchObject({ action: 'none', result: 'abandoned' });
  });

  it('redirected (a hand-over) leaves the entry open', async () => {
    const q = await queue();
    const c = await enter(q);
    expect(await rpc('queue_leave', { p_call_sid: c.sid, p_result: 'redirected' })).toMatchObject({ action: 'none' });
    expect((await entry(c.sid)).left_at).toBeNull();
  });

  it('the max wait: voicemail, or the menu when callbacks exist; the callback key schedules a lead due now', async () => {
    const [k] = await sql<{ id: string; name: string }>(`insert into campaigns (name, status) values ($1, 'active') returning id, name`, [`retorno-${randomBytes(3).toString('hex')}`]);
    const plain = await queue({ on_max_wait: 'both' });
    const c1 = await enter(plain);
    expect(await rpc('queue_leave', { p_call_sid: c1.sid, p_result: 'leave' })).toMatchObject({ action: 'voicemail', result: 'timeout' });

    const withCallback = await queue({ on_max_wait: 'both', callback_campaign: k!.name });
    const c2 = await enter(withCallback);
    expect(await rpc('queue_leave', { p_call_sid: c2.sid, p_result: 'leave' })).toMatchObject({ action: 'menu', result: 'timeout' });
    const menu = await rpc<{ action: string; lead_id: number }>('queue_menu_choice', { p_call_sid: c2.sid, p_digits: '1' });
    expect(menu.action).toBe('callback');
    const [lead] = await sql<{ campaign_id: string; phone_number: string; status: string; due: boolean }>(
      `select campaign_id, phone_number, status, callback_at <= now() as due from leads where id = $1`, [menu.lead_id]);
    expect(lead).toEqual({ campaign_id: k!.id, phone_number: c2.from, status: 'pending', due: true });
    expect(await entry(c2.sid)).toMatchObject({ result: 'timeout', choice: 'callback', callback_lead_id: String(menu.lead_id) });
  });

  it('keys: the callback key (only with a callback campaign) and the voicemail key', async () => {
    const [k] = await sql<{ name: string }>(`insert into campaigns (name, status) values ($1, 'active') returning name`, [`retorno-${randomBytes(3).toString('hex')}`]);
    const noCb = await queue();
    const c0 = await enter(noCb);
    expect(await rpc('queue_key', { p_call_sid: c0.sid, p_digits: '1' })).toMatchObject({ choice: null });
    expect(await rpc('queue_key', { p_call_sid: c0.sid, p_digits: '2' })).toMatchObject({ choice: 'voicemail' });
    expect(await rpc('queue_leave', { p_call_sid: c0.sid, p_result: 'leave' })).toMatchObject({ action: 'voicemail', result: 'voicemail' });

    const q = await queue({ callback_campaign: k!.name });
    const c = await enter(q);
    expect(await rpc('queue_key', { p_call_sid: c.sid, p_digits: '7' })).toMatchObject({ choice: null });
    expect(await rpc('queue_key', { p_call_sid: c.sid, p_digits: '1' })).toMatchObject({ choice: 'callback' });
    const left = await rpc<{ action: string; lead_id: number; result: string }>('queue_leave', { p_call_sid: c.sid, p_result: 'leave' });
    expect(left).toMatchObject({ action: 'callback', result: 'callback' });
    expect(left.lead_id).toBeGreaterThan(0);
    // Asked again later (same number): the same lead, due again.
    await sql(`update leads set status = 'done', callback_at = null where id = $1`, [left.lead_id]);
    const again = await enter(q, c.from);
    await rpc('queue_key', { p_call_sid: again.sid, p_digits: '1' });
    const left2 = await rpc<{ lead_id: number }>('queue_leave', { p_call_sid: again.sid, p_result: 'leave' });
    expect(left2.lead_id).toBe(left.lead_id);
    expect((await sql<{ status: string }>(`select status from leads where id = $1`, [left.lead_id]))[0]!.status).toBe('pending');
  });

  it('a caller whose call is over is never handed out: closed as abandoned, the agent stays free', async () => {
    const q = await queue();
    const c = await enter(q);
    await sql(`update calls set status = 'completed', ended_at = now() where call_sid = $1`, [c.sid]);
    const a = await agent();
    await serve(q, [a]);
    expect(await rpc('queue_assign', { p_agent_id: a, p_presence_seconds: 20 })).toBeNull();
    expect((await agentRow(a)).status).toBe('available');
    expect((await entry(c.sid)).result).toBe('abandoned');
  });

  it('the sweep ends entries whose call is over', async () => {
    const q = await queue();
    const c = await enter(q);
    await sql(`update calls set status = 'completed', ended_at = now() where call_sid = $1`, [c.sid]);
    expect(await rpc<number>('queue_sweep', {})).toBeGreaterThanOrEqual(1);
    expect((await entry(c.sid)).result).toBe('abandoned');
  });
});

describe('figures and settings', () => {
  it('queue_stats: per queue and day, waits, abandons and the service level', async () => {
    const q = await queue({ service_level_seconds: 30 });
    const rows: [string, number][] = [['answered', 10], ['answered', 20], ['answered', 90], ['abandoned', 40], ['voicemail', 200], ['error', 5]];
    for (const [result, waited] of rows) {
      await sql(
        `insert into queue_entries (call_sid, queue_name, entered_at, left_at, result, waited_seconds, answered_at)
         values ($1, $2, '2026-11-20 15:00:00+00', '2026-11-20 15:05:00+00', $3, $4, case when $3 = 'answered' then '2026-11-20 15:01:00+00'::timestamptz end)`,
        [newCallSid(), q, result, waited],
      );
    }
    await sql(`insert into queue_entries (call_sid, queue_name, entered_at) values ($1, $2, '2026-11-20 16:00:00+00')`, [newCallSid(), q]);
    const stats = await rpc<Record<string, unknown>[]>('queue_stats', { p_from: '2026-11-20T00:00:00Z', p_to: '2026-11-21T00:00:00Z', p_queue: q });
    expect(stats).toHaveLength(1);
    expect(stats[0]).toMatchObject({
      queue_name: q, day: '2026-11-20', entered: 7, answered: 3, answered_in_level: 2, abandoned: 1, voicemail: 1, error: 1, waiting: 1,
      max_wait_seconds: 200, service_level: 0.4,
    });
  });

  it('queue_set refuses bad input with nothing written; phone_number_set_service needs a known number and queue', async () => {
    expect(await rpcError('queue_set', { p: { name: 'Não Vale' } })).toMatch(/queue name/);
    const q = await queue();
    expect(await rpcError('queue_set', { p: { name: q, max_wait_seconds: 5 } })).toMatch(/check constraint/);
    expect(await rpcError('queue_set', { p: { name: q, callback_campaign: 'no-such-campaign' } })).toMatch(/no campaign/);
    expect(await rpcError('queue_set', { p: { name: q, agent_ids: [987654321] } })).toMatch(/no agent/);
    expect(await rpcError('queue_set', { p: { name: q, callback_key: '2', voicemail_key: '2' } })).toMatch(/check constraint/);
    const [row] = await sql<{ max_wait_seconds: number; callback_key: string }>(`select max_wait_seconds, callback_key from service_queues where name = $1`, [q]);
    expect(row).toEqual({ max_wait_seconds: 300, callback_key: '1' });

    const did = `+5511300097${String(Math.floor(Math.random() * 90) + 10)}`;
    await sql(`insert into phone_numbers (phone_number) values ($1) on conflict do nothing`, [did]);
    expect(await rpcError('phone_number_set_service', { p_number: did, p_queue: 'nope-queue' })).toMatch(/no service queue/);
    expect(await rpcError('phone_number_set_service', { p_number: '+5511999999999', p_queue: q })).toMatch(/not in phone_numbers/);
    expect(await rpc('phone_number_set_service', { p_number: did, p_queue: q })).toEqual({ phone_number: did, service_queue: q });
    expect(await rpc('phone_number_service_queue', { p_number: did })).toBe(q);
  });
});

describe('safety of the hand-out', () => {
  /** A call discador placed to `customer` (a campaign customer sent to the queue). */
  async function dialerCall(customer: string, campaignId: string | null = null): Promise<string> {
    const sid = newCallSid();
    await sql(
      `insert into calls (call_sid, direction, from_number, to_number, status, campaign_id, live_at, answered_at)
       values ($1, 'outbound-api', '+551130001111', $2, 'in-progress', $3, now(), now())`,
      [sid, customer, campaignId],
    );
    return sid;
  }
  const dialerEvent = (sid: string, customer: string, extra: Record<string, unknown> = {}) => ({
    call_sid: sid, call_status: 'in-progress', direction: 'outbound-api', from: '+551130001111', to: customer,
    presence_seconds: 20, opt_out_inbound: 'continue', source: 'campaign', ...extra,
  });

  it('a dialer customer who opts out while waiting: the agent reserved for them is freed, the entry ends opted_out, never handed out again', async () => {
    const q = await queue();
    const x = await agent(120);
    const y = await agent(60);
    await serve(q, [x, y]);
    const customer = newMobile('21');
    const sid = await dialerCall(customer);
    const entered = await rpc<{ entry_id: number; agent: { id: number } | null }>('queue_enter', { p_event: dialerEvent(sid, customer), p_queue: q });
    expect(entered.agent?.id).toBe(x);
    await sql(`insert into opt_outs (phone_number, source) values ($1, 'sms')`, [customer]);
    const answer = await rpc<{ connect: boolean; reason: string; requeue: boolean }>('queue_connect', { p_event: dialerEvent(sid, customer), p_agent_id: x });
    expect(answer).toMatchObject({ connect: false, reason: 'opted_out_after_dial', requeue: false });
    expect(await agentRow(x)).toEqual({ status: 'available', current_call_sid: null });
    expect(await entry(sid)).toMatchObject({ result: 'opted_out', agent_id: null });
    expect(await rpc('queue_assign', { p_agent_id: null, p_presence_seconds: 20 })).toBeNull();
    expect((await agentRow(y)).status).toBe('available');
    // Back at /voice/queue (e.g. a retried redirect): refused whatever OPT_OUT_INBOUND says, no new entry.
    const again = await rpc<{ opted_out: boolean; entry_id?: number; direction: string }>('queue_enter', { p_event: dialerEvent(sid, customer), p_queue: q });
    expect(again).toMatchObject({ opted_out: true, direction: 'outbound-api' });
    expect(again.entry_id).toBeUndefined();
    expect((await sql(`select 1 from queue_entries where call_sid = $1`, [sid])).length).toBe(1);
    expect((await agentRow(x)).status).toBe('available');
  });

  it('a dialer customer who opts out while nobody is free is never handed out: closed opted_out, no agent reserved; an inbound caller on the list is still served (OPT_OUT_INBOUND=continue)', async () => {
    const q = await queue();
    const customer = newMobile('21');
    const sid = await dialerCall(customer);
    const entered = await rpc<{ entry_id: number; agent: { id: number } | null }>('queue_enter', { p_event: dialerEvent(sid, customer), p_queue: q });
    expect(entered.agent).toBeNull();
    const listedCaller = newMobile('21');
    await sql(`insert into opt_outs (phone_number, source) values ($1, 'manual')`, [listedCaller]);
    const inbound = await enter(q, listedCaller, { opt_out_inbound: 'continue' });
    expect(inbound.agent).toBeNull();
    await sql(`insert into opt_outs (phone_number, source) values ($1, 'sms')`, [customer]);
    const x = await agent(60);
    await serve(q, [x]);
    const first = await rpc<{ call_sid: string; opted_out?: boolean; agent: unknown }>('queue_assign', { p_agent_id: null, p_presence_seconds: 20 });
    expect(first).toMatchObject({ call_sid: sid, opted_out: true, agent: null });
    expect(await entry(sid)).toMatchObject({ result: 'opted_out', agent_id: null });
    expect(await sql(`select opted_out, end_reason from calls where call_sid = $1`, [sid])).toEqual([{ opted_out: true, end_reason: 'opted_out_after_dial' }]);
    expect(await agentRow(x)).toEqual({ status: 'available', current_call_sid: null });
    const second = await rpc<{ call_sid: string; agent: { id: number } }>('queue_assign', { p_agent_id: null, p_presence_seconds: 20 });
    expect(second).toMatchObject({ call_sid: inbound.sid, agent: { id: x } });
  });

  it('a dialer customer already on the list is refused a place under OPT_OUT_INBOUND=continue', async () => {
    const q = await queue();
    const customer = newMobile('21');
    await sql(`insert into opt_outs (phone_number, source) values ($1, 'manual')`, [customer]);
    const sid = await dialerCall(customer);
    const refused = await rpc<{ opted_out: boolean; entry_id?: number }>('queue_enter', { p_event: dialerEvent(sid, customer), p_queue: q });
    expect(refused.opted_out).toBe(true);
    expect(refused.entry_id).toBeUndefined();
    const [call] = await sql<{ opted_out: boolean; end_reason: string }>(`select opted_out, end_reason from calls where call_sid = $1`, [sid]);
    expect(call).toEqual({ opted_out: true, end_reason: 'opted_out_after_dial' });
  });

  it('callers of a queue no free agent serves never hide an older-than-the-rest caller of a served queue', async () => {
    const unserved = await queue();
    await sql(
      `insert into queue_entries (call_sid, queue_name, entered_at)
       select 'CA' || md5(random()::text || i), $1, now() - interval '10 minutes' + make_interval(secs => i) from generate_series(1, 60) i`,
      [unserved],
    );
    const served = await queue();
    const c = await enter(served);
    const a = await agent();
    await serve(served, [a]);
    expect(await rpc('queue_assign', { p_agent_id: null, p_presence_seconds: 20 })).toMatchObject({ call_sid: c.sid, agent: { id: a } });
    await sql(`update queue_entries set left_at = now(), result = 'abandoned' where queue_name = $1 and left_at is null`, [unserved]);
  });

  it('an agent who goes offline while reserved for a queue caller: the caller goes back to the queue in place, not to voicemail', async () => {
    const q = await queue();
    const a = await agent();
    await serve(q, [a]);
    const c = await enter(q);
    expect(c.agent?.id).toBe(a);
    const off = await rpc<{ released_offer?: string }>('agent_set_status', { p_agent_id: a, p_status: 'offline', p_reason: null, p_by: null });
    expect(off.released_offer).toBe(c.sid);
    expect(await rpc('queue_release_offer', { p_call_sid: c.sid })).toMatchObject({ queue: q, entry_id: c.entry_id });
    expect(await entry(c.sid)).toMatchObject({ agent_id: null, result: null, left_at: null });

    // Already past the connect step ("um momento") when the agent left: the entry is opened again.
    const b = await agent();
    await serve(q, [b]);
    expect(await rpc('queue_assign', { p_agent_id: b, p_presence_seconds: 20 })).toMatchObject({ call_sid: c.sid });
    const answer = await rpc<{ connect: boolean }>('queue_connect', {
      p_event: { call_sid: c.sid, call_status: 'in-progress', direction: 'inbound', from: c.from, to: '+551130009700', presence_seconds: 20 },
      p_agent_id: b,
    });
    expect(answer.connect).toBe(true);
    expect((await entry(c.sid)).result).toBe('answered');
    await rpc('agent_set_status', { p_agent_id: b, p_status: 'offline', p_reason: null, p_by: null });
    expect(await rpc('queue_release_offer', { p_call_sid: c.sid })).toMatchObject({ queue: q });
    expect(await entry(c.sid)).toMatchObject({ agent_id: null, result: null, left_at: null, answered_at: null });
    const back = await enter(q, c.from, { call_sid: c.sid });
    expect(back.entry_id).toBe(c.entry_id);
    // Not a queue call: null (the caller goes to the agent's voicemail as before).
    expect(await rpc('queue_release_offer', { p_call_sid: newCallSid() })).toBeNull();
  });
});

describe('the pace, callbacks that can happen, and repeated actions', () => {
  it('the pace counts only time with someone waiting: two callers answered at once 55 minutes ago do not make a 28-minute wait', async () => {
    const q = await queue();
    await sql(
      `insert into queue_entries (call_sid, queue_name, entered_at, answered_at, left_at, result, waited_seconds)
       select 'CA' || md5(random()::text || i), $1, now() - interval '55 minutes', now() - interval '55 minutes', now() - interval '55 minutes', 'answered', 0
         from generate_series(1, 2) i`,
      [q],
    );
    expect(await rpc<number>('queue_seconds_per_caller', { p_queue: q })).toBeLessThan(60);
    // A busy queue: someone waiting for the last 10 minutes, two answered in that time → 300 s a caller.
    const busy = await queue();
    await sql(
      `insert into queue_entries (call_sid, queue_name, entered_at, answered_at, left_at, result, waited_seconds) values
         ('CA' || md5(random()::text), $1, now() - interval '10 minutes', now() - interval '5 minutes', now() - interval '5 minutes', 'answered', 300),
         ('CA' || md5(random()::text), $1, now() - interval '6 minutes', now() - interval '1 second', now() - interval '1 second', 'answered', 359)`,
      [busy],
    );
    const spc = await rpc<number>('queue_seconds_per_caller', { p_queue: busy });
    expect(spc).toBeGreaterThanOrEqual(298);
    expect(spc).toBeLessThanOrEqual(302);
  });

  it('no callback is promised that cannot happen: paused campaign, opted-out, foreign or anonymous caller → key 1 not offered, voicemail', async () => {
    const [paused] = await sql<{ name: string }>(`insert into campaigns (name, status) values ($1, 'paused') returning name`, [`retorno-${randomBytes(3).toString('hex')}`]);
    const [active] = await sql<{ name: string }>(`insert into campaigns (name, status) values ($1, 'active') returning name`, [`retorno-${randomBytes(3).toString('hex')}`]);
    const listed = newMobile('21');
    await sql(`insert into opt_outs (phone_number, source) values ($1, 'sms')`, [listed]);
    const cases: [string, string][] = [[paused!.name, newMobile('21')], [active!.name, listed], [active!.name, '+14155550100'], [active!.name, 'Anonymous']];
    for (const [campaign, from] of cases) {
      const q = await queue({ callback_campaign: campaign, on_max_wait: 'callback' });
      const c = await rpc<{ queue: { callback: boolean }; entry_id: number }>('queue_enter', {
        p_event: { call_sid: newCallSid(), call_status: 'in-progress', direction: 'inbound', from, to: '+551130009700', presence_seconds: 20 },
        p_queue: q,
      });
      expect([from, c.queue.callback]).toEqual([from, false]);
      const [{ call_sid: sid }] = await sql<{ call_sid: string }>(`select call_sid from queue_entries where id = $1`, [c.entry_id]) as [{ call_sid: string }];
      expect(await rpc('queue_key', { p_call_sid: sid, p_digits: '1' })).toMatchObject({ choice: null });
      expect(await rpc('queue_leave', { p_call_sid: sid, p_result: 'leave' })).toMatchObject({ action: 'voicemail', lead_id: null });
    }
    // A possible callback is offered.
    const ok = await queue({ callback_campaign: active!.name });
    expect((await enter(ok)).queue).toMatchObject({ callback: true });
    // Chosen while possible, impossible by the time the caller leaves: voicemail, recorded as such.
    const c = await enter(ok);
    expect(await rpc('queue_key', { p_call_sid: c.sid, p_digits: '1' })).toMatchObject({ choice: 'callback' });
    await sql(`insert into opt_outs (phone_number, source) values ($1, 'sms')`, [c.from]);
    expect(await rpc('queue_leave', { p_call_sid: c.sid, p_result: 'leave' })).toMatchObject({ action: 'voicemail', result: 'voicemail', lead_id: null });
    expect(await entry(c.sid)).toMatchObject({ result: 'voicemail', callback_lead_id: null });
  });

  it('the Enqueue action applied twice answers the same: voicemail, callback, menu', async () => {
    const [k] = await sql<{ name: string }>(`insert into campaigns (name, status) values ($1, 'active') returning name`, [`retorno-${randomBytes(3).toString('hex')}`]);
    const q = await queue({ callback_campaign: k!.name, on_max_wait: 'both' });
    const vm = await enter(q);
    await rpc('queue_key', { p_call_sid: vm.sid, p_digits: '2' });
    const cb = await enter(q);
    await rpc('queue_key', { p_call_sid: cb.sid, p_digits: '1' });
    const menu = await enter(q);
    const err = await enter(q);
    for (const [c, result] of [[vm, 'leave'], [cb, 'leave'], [menu, 'leave'], [err, 'system-error']] as const) {
      const first = await rpc<Record<string, unknown>>('queue_leave', { p_call_sid: c.sid, p_result: result });
      const second = await rpc<Record<string, unknown>>('queue_leave', { p_call_sid: c.sid, p_result: result });
      expect(second).toEqual(first);
      expect(first['action']).not.toBe('none');
    }
  });
});

describe('the pacer and the queue', () => {
  it('campaign customers in the queue (or in its voicemail) are not the pacer’s waiting calls; one with no agent and no queue is', async () => {
    const [k] = await sql<{ id: string }>(
      `insert into campaigns (name, status, mode, abandon_treatment) values ($1, 'active', 'power', 'queue') returning id`,
      [`camp-${randomBytes(3).toString('hex')}`],
    );
    const live = async (): Promise<string> => {
      const sid = newCallSid();
      await sql(
        `insert into calls (call_sid, direction, from_number, to_number, status, campaign_id, live_at, abandoned_at, answered_at)
         values ($1, 'outbound-api', '+551130001111', $2, 'in-progress', $3, now() - interval '3 minutes', now() - interval '3 minutes', now() - interval '3 minutes')`,
        [sid, newMobile('21'), k!.id],
      );
      return sid;
    };
    const waitingNow = async (): Promise<number> => {
      const [r] = await sql<{ w: number }>(
        `select (public.pacer_snapshot(c, 20, '{"answer_rate_dials":500,"ring_time_dials":500,"answer_time_answers":300,"machine_rate_answers":300,"amd_time_answers":300,"talk_samples":200,"wrap_up_samples":200}'::jsonb, 0)->'calls'->>'waiting')::int as w
           from campaigns c where c.id = $1`,
        [k!.id],
      );
      return r!.w;
    };
    const q = await queue();
    const parked = await live();
    await sql(`insert into queue_entries (call_sid, queue_name, source, entered_at) values ($1, $2, 'campaign', now() - interval '3 minutes')`, [parked, q]);
    const inVoicemail = await live();
    await sql(
      `insert into queue_entries (call_sid, queue_name, source, entered_at, left_at, result, waited_seconds, leave_action)
       values ($1, $2, 'campaign', now() - interval '3 minutes', now() - interval '10 seconds', 'timeout', 170, 'voicemail')`,
      [inVoicemail, q],
    );
    expect(await waitingNow()).toBe(0);
    await live();
    expect(await waitingNow()).toBe(1);
  });
});
