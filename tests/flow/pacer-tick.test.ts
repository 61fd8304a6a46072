/**
 * runTick against the flow stack's database with a recording stand-in for Twilio's Calls
 * create: what a round reads (agents as pacing activities, calls by stage), what it places
 * (power mode: ratio x available agents, minus what is in flight), what it logs, and what it
 * never does (dial a preview campaign, dial outside the window, over-dial when rounds race,
 * keep a lead Twilio refused).
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type twilio from 'twilio';
import { ROLLING_WINDOWS, type RoundBegin } from '../../src/lib/domain/dialer/snapshot';
import { runTick } from '../../src/lib/domain/dialer/tick';
import { loadConfig } from '../../src/lib/runtime/config';
import { env, sql, testDb } from '../helpers/db';
import { newCallSid } from '../helpers/twilio';

/** A Twilio client whose Calls create records its parameters (or refuses, when told to). */
function fakeTwilio(opts: { refuse?: boolean; delayMs?: number } = {}) {
  const creates: Record<string, unknown>[] = [];
  const client = {
    calls: {
      create: async (p: Record<string, unknown>) => {
        creates.push(p);
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
        if (opts.refuse) throw Object.assign(new Error('The To number is not a valid phone number.'), { status: 400, code: 21211 });
        return { sid: newCallSid(), accountSid: env('TWILIO_ACCOUNT_SID') };
      },
    },
  };
  return { creates, client: client as unknown as twilio.Twilio };
}

const config = () =>
  loadConfig({ SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY'), PUBLIC_BASE_URL: 'https://discador.example', ACCOUNT_CPS: '50' });

/** Open every day, all day, on every DDD's clock. */
const ALWAYS_OPEN = {
  window_profile: 'custom', weekday_start: '00:00', weekday_end: '24:00', saturday_start: '00:00', saturday_end: '24:00',
  allow_sunday: true, sunday_start: '00:00', sunday_end: '24:00', skip_holidays: false,
};

async function campaign(over: Record<string, unknown> = {}): Promise<number> {
  const cols = { name: `pacer-tick-${randomBytes(4).toString('hex')}`, status: 'active', mode: 'power', dial_ratio: 1, calls_per_second: 50, ...ALWAYS_OPEN, ...over };
  const keys = Object.keys(cols);
  const [row] = await sql<{ id: string }>(`insert into campaigns (${keys.join(', ')}) values (${keys.map((_, i) => `$${i + 1}`).join(', ')}) returning id`, Object.values(cols));
  await sql(`insert into phone_numbers (phone_number, daily_cap) values ($1, 100000) on conflict do nothing`, [`+551131${randomInt(100000, 999999)}`]);
  return Number(row!.id);
}

let seq = randomInt(1_000_000, 8_000_000);
async function leads(campaignId: number, n: number, ddd = '11'): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const [r] = await sql<{ id: string }>(`insert into leads (campaign_id, phone_number, name) values ($1, $2, $3) returning id`, [campaignId, `+55${ddd}9${String(seq++).padStart(8, '0')}`, `Lead ${seq}`]);
    ids.push(Number(r!.id));
  }
  return ids;
}

/** An agent of the campaign in a status; routable ones have a shift leg and a fresh poll. */
async function agent(campaignId: number, status: string, routable = true): Promise<number> {
  const [r] = await sql<{ id: string }>(
    `insert into agents (name, campaign_id, status, status_changed_at, shift_call_sid, last_seen_at, pause_reason)
     values ($1, $2, $3, now() - interval '30 seconds', $4, case when $5 then now() end, case when $3 = 'paused' then 'Intervalo' end) returning id`,
    [`Agente ${randomBytes(3).toString('hex')}`, campaignId, status, routable ? newCallSid() : null, routable],
  );
  return Number(r!.id);
}

const rounds = (c: number) => sql<{ trigger: string; wanted: number; claimed: number; placed: number; reason: string }>(`select trigger, wanted, claimed, placed, reason from pacer_rounds where campaign_id = $1 order by id`, [c]);

describe('the snapshot', () => {
  it('counts agents as pacing activities and calls by stage, in one call', async () => {
    const c = await campaign();
    const available = await agent(c, 'available');
    await agent(c, 'available', false); // not routable: no shift leg, no poll
    const busy = await agent(c, 'busy');
    const wrap = await agent(c, 'wrap_up');
    const paused = await agent(c, 'paused');
    await agent(c, 'offline');
    // An agent reserved for a live answer (the call flow's reservation: the agent's current call).
    const reservedCall = newCallSid();
    const reserved = await agent(c, 'reserved');
    await sql(`update agents set current_call_sid = $2 where id = $1`, [reserved, reservedCall]);
    await sql(
      `insert into calls (call_sid, direction, campaign_id, status, to_number, amd_at, live_at, answered_at) values ($1, 'outbound-api', $2, 'in-progress', '+5511955550009', now(), now(), now())`,
      [reservedCall, c],
    );
    const calls = [
      { status: 'queued' }, { status: 'ringing' },
      { status: 'in-progress' }, // answered, AMD pending
      { status: 'in-progress', amd_at: 'now()', live_at: 'now()' }, // live, waiting for an agent
      { status: 'in-progress', amd_at: 'now()', live_at: 'now()', agent_id: busy }, // connected
      { status: 'in-progress', amd_at: 'now()' }, // machine, being hung up: no stage
      { status: 'completed' },
    ];
    for (const k of calls) {
      await sql(
        `insert into calls (call_sid, direction, campaign_id, status, to_number, amd_at, live_at, agent_id, answered_at)
         values ($1, 'outbound-api', $2, $3, '+5511955550001', case when $4 then now() end, case when $5 then now() end, $6, case when $3 = 'in-progress' then now() end)`,
        [newCallSid(), c, k.status, 'amd_at' in k, 'live_at' in k, 'agent_id' in k ? k.agent_id : null],
      );
    }
    const owner = randomUUID();
    const begin = (await testDb().rpc<RoundBegin>('pacer_round_begin', { p_owner: owner, p_campaign_id: c, p_lease_seconds: 5, p_presence_seconds: 20, p_windows: ROLLING_WINDOWS })).data!;
    await sql(`select pacer_round_end($1, '[]')`, [owner]);
    expect(begin.rounds).toHaveLength(1);
    const snap = begin.rounds[0]!;
    expect(snap.agents.map((a) => [Number(a.id), a.activity]).sort((x, y) => x[0]! as number - (y[0] as number))).toEqual(
      [[available, 'available'], [busy, 'talking'], [wrap, 'wrapup'], [paused, 'paused'], [reserved, 'talking']].sort((x, y) => (x[0] as number) - (y[0] as number)),
    );
    expect(snap.agents_unroutable).toBe(1);
    expect(snap.calls).toEqual({ ringing: 2, detecting: 1, waiting: 1, connected: 2 });
    expect(snap.ringing_since_ms).toHaveLength(2);
    expect(snap.stats.liveToday).toBe(3);
    expect(snap.stats.machineRate).toBeCloseTo(1 / 4, 5);
    expect(Math.abs(Number(snap.now_ms) - Date.now())).toBeLessThan(5000);
    expect(snap.campaign.mode).toBe('power');
  });

  it('refuses missing window sizes with a clear error', async () => {
    const r = await testDb().rpc('pacer_round_begin', { p_owner: randomUUID(), p_campaign_id: null, p_lease_seconds: 5, p_presence_seconds: 20, p_windows: { talk_samples: 200 } });
    expect(r.error?.message).toMatch(/p_windows\.answer_rate_dials/);
  });
});

describe('runTick', () => {
  it('power mode: one call per available agent (ratio 1), with async AMD, the attempt in every URL, logged', async () => {
    const c = await campaign({ ring_timeout: 25, amd_machine: 'voicemail' });
    await agent(c, 'available');
    await agent(c, 'available');
    await agent(c, 'busy');
    await leads(c, 5);
    const tw = fakeTwilio();
    const result = await runTick({ db: testDb(), twilio: tw.client, config: config() }, { trigger: 'heartbeat', campaignId: c });
    expect(result.rounds).toEqual([expect.objectContaining({ campaign_id: Number(c), dial: 2, wanted: 2, claimed: 2, placed: 2, reason: 'power_ratio' })]);
    const attempts = await sql<{ id: string; call_sid: string | null; caller_id: string; to_number: string }>(`select id, call_sid, caller_id, to_number from calls where campaign_id = $1 order by id`, [c]);
    expect(attempts).toHaveLength(2);
    for (const [i, a] of attempts.entries()) {
      expect(a.call_sid).toMatch(/^CA[0-9a-f]{32}$/);
      const p = tw.creates[i]!;
      expect(p).toMatchObject({
        to: a.to_number,
        from: a.caller_id,
        url: `https://discador.example/voice/outbound?attempt=${a.id}`,
        machineDetection: 'DetectMessageEnd',
        asyncAmd: 'true',
        asyncAmdStatusCallback: `https://discador.example/webhooks/amd?attempt=${a.id}`,
        timeout: 25,
      });
      expect(String(p['statusCallback'])).toContain(`/webhooks/call-status?attempt=${a.id}#`);
    }
    expect(await rounds(c)).toEqual([{ trigger: 'heartbeat', wanted: 2, claimed: 2, placed: 2, reason: 'power_ratio' }]);
    expect(await sql(`select tick_lease_owner from campaigns where id = $1`, [c])).toEqual([{ tick_lease_owner: null }]);

    // The next round sees those two calls ringing: nothing more to place.
    const again = await runTick({ db: testDb(), twilio: tw.client, config: config() }, { trigger: 'heartbeat', campaignId: c });
    expect(again.rounds[0]).toMatchObject({ dial: 0, placed: 0, reason: 'power_full' });
    expect(tw.creates).toHaveLength(2);
  });

  it('hangup campaigns ask AMD for the first verdict only (Enable)', async () => {
    const c = await campaign({ amd_machine: 'hangup' });
    await agent(c, 'available');
    await leads(c, 1);
    const tw = fakeTwilio();
    await runTick({ db: testDb(), twilio: tw.client, config: config() }, { trigger: 'heartbeat', campaignId: c });
    expect(tw.creates).toHaveLength(1);
    expect(tw.creates[0]).toMatchObject({ machineDetection: 'Enable', asyncAmd: 'true', timeout: 28 });
  });

  it('rounds racing each other never over-dial: calls created = what one decision asked for', async () => {
    const c = await campaign({ dial_ratio: 2 });
    for (let i = 0; i < 3; i++) await agent(c, 'available');
    await leads(c, 20);
    const tw = fakeTwilio({ delayMs: 150 });
    const deps = { db: testDb(), twilio: tw.client, config: config() };
    const results = await Promise.all(Array.from({ length: 6 }, () => runTick(deps, { trigger: 'heartbeat', campaignId: c })));
    // Lease-losers get no round; a round that starts after the winner ended sees its calls ringing.
    const placed = results.flatMap((r) => r.rounds).reduce((n, r) => n + r.placed, 0);
    expect(placed).toBe(6);
    expect(await sql(`select count(*)::int as n from calls where campaign_id = $1`, [c])).toEqual([{ n: 6 }]);
  });

  it('a call Twilio refuses for an invalid number (21211) is failed and its lead marked invalid, never dialed again', async () => {
    const c = await campaign();
    await agent(c, 'available');
    const [id] = await leads(c, 1);
    const tw = fakeTwilio({ refuse: true });
    const result = await runTick({ db: testDb(), twilio: tw.client, config: config() }, { trigger: 'heartbeat', campaignId: c });
    expect(result.rounds[0]).toMatchObject({ claimed: 1, placed: 0 });
    expect(await sql(`select status, end_reason, error_code from calls where campaign_id = $1`, [c])).toEqual([{ status: 'failed', end_reason: 'twilio_refused', error_code: 21211 }]);
    expect(await sql(`select status, attempts, outcome from leads where id = $1`, [id])).toEqual([{ status: 'invalid', attempts: 1, outcome: 'invalid_number' }]);
    expect((await rounds(c))[0]).toMatchObject({ claimed: 1, placed: 0 });
  });

  it('preview campaigns are never dialed by the pacer; closed windows are not dialed', async () => {
    const preview = await campaign({ mode: 'preview' });
    await agent(preview, 'available');
    await leads(preview, 2);
    const closed = await campaign({ weekday_start: '00:00', weekday_end: '00:00', saturday_start: null, saturday_end: null, allow_sunday: false });
    await agent(closed, 'available');
    await leads(closed, 2);
    const tw = fakeTwilio();
    const deps = { db: testDb(), twilio: tw.client, config: config() };
    expect((await runTick(deps, { trigger: 'heartbeat', campaignId: preview })).rounds[0]).toMatchObject({ dial: 0, placed: 0, reason: 'preview_mode' });
    expect((await runTick(deps, { trigger: 'heartbeat', campaignId: closed })).rounds[0]).toMatchObject({ dial: 0, placed: 0, reason: 'window_closed' });
    expect(tw.creates).toHaveLength(0);
    expect(await sql(`select count(*)::int as n from calls where campaign_id = any($1::bigint[])`, [[preview, closed]])).toEqual([{ n: 0 }]);
  });

  it('a preview round dials nothing but gives an agent still waiting for a lead the next one', async () => {
    const c = await campaign({ mode: 'preview' });
    const waiting = await agent(c, 'available');
    await agent(c, 'available'); // not asking
    await sql(`update agents set preview_requested_at = now() where id = $1`, [waiting]);
    const [id] = await leads(c, 2);
    const tw = fakeTwilio();
    const r = await runTick({ db: testDb(), twilio: tw.client, config: config() }, { trigger: 'heartbeat', campaignId: c });
    expect(r.rounds[0]).toMatchObject({ dial: 0, claimed: 1, placed: 0, reason: 'preview_mode' });
    expect(await sql(`select status, preview_agent_id from leads where id = $1`, [id])).toEqual([{ status: 'previewing', preview_agent_id: String(waiting) }]);
    expect(await sql(`select preview_requested_at from agents where id = $1`, [waiting])).toEqual([{ preview_requested_at: null }]);
    expect(tw.creates).toHaveLength(0);
    expect(await sql(`select 1 from calls where campaign_id = $1`, [c])).toEqual([]);
  });

  it('no agents, or a paused campaign: nothing dialed (a paused campaign gets no round at all)', async () => {
    const c = await campaign();
    await leads(c, 2);
    const tw = fakeTwilio();
    const deps = { db: testDb(), twilio: tw.client, config: config() };
    expect((await runTick(deps, { trigger: 'heartbeat', campaignId: c })).rounds[0]).toMatchObject({ dial: 0, reason: 'no_agents' });
    await agent(c, 'available');
    await sql(`update campaigns set status = 'paused' where id = $1`, [c]);
    expect((await runTick(deps, { trigger: 'heartbeat', campaignId: c })).rounds).toEqual([]);
    expect(tw.creates).toHaveLength(0);
  });

  it("the campaign's CPS share limits a round", async () => {
    const c = await campaign({ calls_per_second: 1, dial_ratio: 3 });
    await agent(c, 'available');
    await leads(c, 5);
    const tw = fakeTwilio();
    const r = await runTick({ db: testDb(), twilio: tw.client, config: config() }, { trigger: 'heartbeat', campaignId: c });
    expect(r.rounds[0]).toMatchObject({ wanted: 3, dial: 1, placed: 1, reason: 'cps_limit' });
  });
});

describe('the heartbeat sweeps before its round', () => {
  it('a lead left dialing with no call for longer than the sweep age goes back to pending on a heartbeat, not on an event', async () => {
    const c = await campaign({ status: 'paused' });
    const [id] = await leads(c, 1);
    await sql(`update leads set status = 'dialing', attempts = 1, last_attempt_at = now() - interval '1 hour' where id = $1`, [id]);
    const deps = { db: testDb(), twilio: fakeTwilio().client, config: config() };
    await runTick(deps, { trigger: 'call_ended', campaignId: c });
    expect((await sql<{ status: string }>(`select status from leads where id = $1`, [id]))[0]).toEqual({ status: 'dialing' });
    await runTick(deps, { trigger: 'heartbeat', campaignId: c });
    expect((await sql<{ status: string; attempts: number }>(`select status, attempts from leads where id = $1`, [id]))[0]).toEqual({ status: 'pending', attempts: 0 });
  });
});

describe('the pg_cron heartbeat, in SQL', () => {
  it('signs a request /api/tick accepts (pgcrypto HMAC), and says what is missing where pg_net and pg_cron are not installed', async () => {
    const c = await campaign();
    const cl = new Client({ connectionString: env('DATABASE_URL') });
    await cl.connect();
    try {
      await cl.query('begin');
      await cl.query('create extension if not exists pgcrypto');
      await cl.query(`insert into pacer_heartbeat_settings (tick_url, tick_secret) values ($1, $2)`, [`${env('FUNCTIONS_BASE_URL')}/api/tick`, env('TICK_SECRET')]);
      const req = (await cl.query<{ r: { url: string; headers: Record<string, string> } }>(`select pacer_heartbeat_request() as r`)).rows[0]!.r;
      await expect(cl.query(`select pacer_heartbeat()`)).rejects.toThrow(/pg_net is not installed/);
      await cl.query('rollback');
      const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: JSON.stringify({ campaign_id: c }) });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { rounds: unknown[] }).rounds).toEqual([expect.objectContaining({ campaign_id: c, reason: 'no_agents' })]);
      expect((await rounds(c)).map((r) => r.trigger)).toEqual(['heartbeat']);
    } finally {
      await cl.end();
    }
    await expect(sql(`select pacer_heartbeat_schedule(5)`)).rejects.toThrow(/needs pg_cron and pg_net/);
    expect(await sql(`select pacer_heartbeat_request() as r`)).toEqual([{ r: null }]);
  });
});
