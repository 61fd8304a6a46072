/**
 * claim_leads and the round's lease, in SQL on the flow stack's database: priority order
 * (callbacks due, new, retries due; priority desc, id), what is skipped (opt-outs, closed
 * DDDs, attempt limits, numbers without a DDD), SKIP LOCKED between concurrent claims, the
 * account's CPS, the lease (held, refused, expired), preview claims, releasing a refused attempt.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { env, sql } from '../helpers/db';
import { newCallSid } from '../helpers/twilio';

const WINDOWS = {
  answer_rate_dials: 500, ring_time_dials: 500, answer_time_answers: 300, machine_rate_answers: 300,
  amd_time_answers: 300, talk_samples: 200, wrap_up_samples: 200,
};
const ALL_DDDS = [11, 21, 31, 41, 51, 61, 71, 81, 91];

interface Claimed {
  attempt_id: number | null;
  lead_id: number;
  to: string;
  caller_id: string | null;
  name: string | null;
  fields: Record<string, unknown>;
}
interface ClaimAnswer {
  claimed: Claimed[];
  skipped: { opted_out?: number; no_caller_id?: number; cps?: number };
  error?: string;
}

/** A running campaign of its own, with its own pool numbers (plenty of capacity). */
async function campaign(over: Record<string, unknown> = {}): Promise<number> {
  const cols = { name: `pacer-claim-${randomBytes(4).toString('hex')}`, status: 'active', mode: 'power', ...over };
  const keys = Object.keys(cols);
  const [row] = await sql<{ id: string }>(
    `insert into campaigns (${keys.join(', ')}) values (${keys.map((_, i) => `$${i + 1}`).join(', ')}) returning id`,
    Object.values(cols),
  );
  await sql(`insert into phone_numbers (phone_number, daily_cap) values ($1, 100000), ($2, 100000) on conflict do nothing`, [
    `+551130${randomInt(100000, 999999)}`,
    `+552130${randomInt(100000, 999999)}`,
  ]);
  return Number(row!.id);
}

let seq = randomInt(1_000_000, 8_000_000);
/** A lead; returns its id. */
async function lead(campaignId: number, over: Record<string, unknown> = {}, ddd = '11'): Promise<number> {
  const cols = { campaign_id: campaignId, phone_number: `+55${ddd}9${String(seq++).padStart(8, '0')}`, name: `Lead ${seq}`, ...over };
  const keys = Object.keys(cols);
  const [row] = await sql<{ id: string }>(
    `insert into leads (${keys.join(', ')}) values (${keys.map((_, i) => `$${i + 1}`).join(', ')}) returning id`,
    Object.values(cols),
  );
  return Number(row!.id);
}

/** Takes the campaign's lease for a fresh owner; returns the owner. */
async function lease(campaignId: number): Promise<string> {
  const owner = randomUUID();
  const [r] = await sql<{ b: { rounds: { campaign_id: number }[] } }>(`select pacer_round_begin($1, $2, 30, 20, $3) as b`, [owner, campaignId, WINDOWS]);
  expect(r!.b.rounds.map((x) => Number(x.campaign_id))).toEqual([campaignId]);
  return owner;
}

async function claim(campaignId: number, owner: string, count: number, ddds = ALL_DDDS, cps = 1000, previewAgent: number | null = null): Promise<ClaimAnswer> {
  const [r] = await sql<{ c: ClaimAnswer }>(`select claim_leads($1, $2, $3, $4::smallint[], $5, $6) as c`, [campaignId, owner, count, ddds, cps, previewAgent]);
  return r!.c;
}

const leadRow = async (id: number) =>
  (await sql<{ status: string; attempts: number; last_attempt_at: Date | null; preview_agent_id: string | null }>(
    `select status, attempts, last_attempt_at, preview_agent_id from leads where id = $1`,
    [id],
  ))[0]!;

describe('claim_leads: order and skips', () => {
  it('claims callbacks due, then new leads, then retries due; priority desc, id within each', async () => {
    const c = await campaign();
    const newLow = await lead(c, { priority: 0 });
    const newHigh = await lead(c, { priority: 5 });
    const retryDue = await lead(c, { attempts: 1, next_attempt_at: new Date(Date.now() - 60_000) });
    const retryHigh = await lead(c, { attempts: 2, next_attempt_at: new Date(Date.now() - 60_000), priority: 9 });
    const retryLater = await lead(c, { attempts: 1, next_attempt_at: new Date(Date.now() + 3600_000) });
    const callbackDue = await lead(c, { attempts: 1, callback_at: new Date(Date.now() - 60_000), last_attempt_at: new Date(Date.now() - 86400_000) });
    const callbackLater = await lead(c, { attempts: 1, callback_at: new Date(Date.now() + 3600_000) });
    const owner = await lease(c);

    const got = await claim(c, owner, 10);
    expect(got.error).toBeUndefined();
    expect(got.claimed.map((x) => x.lead_id)).toEqual([callbackDue, newHigh, newLow, retryHigh, retryDue]);
    for (const id of [retryLater, callbackLater]) expect((await leadRow(id)).status).toBe('pending');

    // Each claim is a recorded dial attempt: a queued calls row of the campaign with the caller ID
    // picked, and the lead dialing with one more attempt.
    const rows = await sql<{ id: string; lead_id: string; status: string; campaign_id: string; caller_id: string; call_sid: string | null; direction: string; to_number: string }>(
      `select id, lead_id, status, campaign_id, caller_id, call_sid, direction, to_number from calls where campaign_id = $1 order by id`,
      [c],
    );
    expect(rows.map((r) => Number(r.lead_id))).toEqual(got.claimed.map((x) => x.lead_id));
    for (const [i, r] of rows.entries()) {
      expect(r).toMatchObject({ status: 'queued', call_sid: null, direction: 'outbound-api', caller_id: got.claimed[i]!.caller_id, to_number: got.claimed[i]!.to });
      expect(Number(r.id)).toBe(got.claimed[i]!.attempt_id);
    }
    expect(await leadRow(newLow)).toMatchObject({ status: 'dialing', attempts: 1 });
    expect(await leadRow(retryHigh)).toMatchObject({ status: 'dialing', attempts: 3 });
    expect((await leadRow(callbackDue)).last_attempt_at).not.toBeNull();
  });

  it('a callback already attempted is a retry from then on, not a callback again', async () => {
    const c = await campaign();
    const fresh = await lead(c, { priority: 0 });
    const attempted = await lead(c, { attempts: 1, priority: 9, callback_at: new Date(Date.now() - 600_000), last_attempt_at: new Date(Date.now() - 60_000) });
    const owner = await lease(c);
    expect((await claim(c, owner, 10)).claimed.map((x) => x.lead_id)).toEqual([fresh, attempted]);
  });

  it('passes over opted-out numbers (marking them), closed DDDs, attempt limits and numbers without a DDD', async () => {
    const c = await campaign({ max_attempts: 2 });
    const ok = await lead(c);
    const optedOut = await lead(c);
    const [{ phone_number: optedPhone }] = (await sql<{ phone_number: string }>(`select phone_number from leads where id = $1`, [optedOut])) as [{ phone_number: string }];
    await sql(`insert into opt_outs (phone_number, reason, source) values ($1, 'test', 'manual')`, [optedPhone]);
    await sql(`update leads set status = 'pending' where id = $1`, [optedOut]); // as if listed after the lead was loaded
    const closedDdd = await lead(c, {}, '21');
    const atLeadLimit = await lead(c, { attempts: 1, max_attempts: 1 });
    const atCampaignLimit = await lead(c, { attempts: 2, max_attempts: 5 });
    const foreign = await lead(c, { phone_number: `+1212555${String(randomInt(1000, 9999))}` });
    const owner = await lease(c);

    const got = await claim(c, owner, 10, [11]);
    expect(got.claimed.map((x) => x.lead_id)).toEqual([ok]);
    expect(got.skipped.opted_out).toBe(1);
    expect((await leadRow(optedOut)).status).toBe('opted_out');
    for (const id of [closedDdd, atLeadLimit, atCampaignLimit, foreign]) expect(await leadRow(id)).toMatchObject({ status: 'pending' });
    const calls = await sql(`select 1 from calls where campaign_id = $1`, [c]);
    expect(calls).toHaveLength(1);
  });

  it('returns the leads the caller asked for at most, with the lead fields', async () => {
    const c = await campaign();
    for (let i = 0; i < 4; i++) await lead(c, { data: { saldo: `${i},00` } });
    const owner = await lease(c);
    const got = await claim(c, owner, 2);
    expect(got.claimed).toHaveLength(2);
    expect(got.claimed[0]!.fields).toEqual({ saldo: '0,00' });
    expect(got.claimed[0]!.to).toMatch(/^\+5511/);
  });

  it('refuses bad input with a clear error and writes nothing', async () => {
    const c = await campaign();
    await lead(c);
    const owner = await lease(c);
    await expect(sql(`select claim_leads($1, $2, -1, '{11}', 5)`, [c, owner])).rejects.toThrow(/p_count/);
    await expect(sql(`select claim_leads($1, $2, 1, '{11}', 0)`, [c, owner])).rejects.toThrow(/p_account_cps/);
    expect(await claim(999_999_999, owner, 1)).toMatchObject({ claimed: [], error: 'campaign_not_found' });
    await sql(`update campaigns set status = 'paused' where id = $1`, [c]);
    expect(await claim(c, owner, 1)).toMatchObject({ claimed: [], error: 'campaign_not_active' });
    expect(await sql(`select 1 from calls where campaign_id = $1`, [c])).toHaveLength(0);
  });
});

describe('claim_leads: concurrency and limits', () => {
  it('two concurrent claims never take the same lead (SKIP LOCKED, one CPS lock)', async () => {
    const c = await campaign();
    for (let i = 0; i < 12; i++) await lead(c);
    const owner = await lease(c);
    const a = new Client({ connectionString: env('DATABASE_URL') });
    const b = new Client({ connectionString: env('DATABASE_URL') });
    await Promise.all([a.connect(), b.connect()]);
    try {
      const q = (cl: Client) => cl.query<{ c: ClaimAnswer }>(`select claim_leads($1, $2, 5, $3::smallint[], 1000) as c`, [c, owner, ALL_DDDS]);
      const [ra, rb] = await Promise.all([q(a), q(b)]);
      const ids = [...ra.rows[0]!.c.claimed, ...rb.rows[0]!.c.claimed].map((x) => x.lead_id);
      expect(ids).toHaveLength(10);
      expect(new Set(ids).size).toBe(10);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('a lead another transaction holds is skipped, not waited for', async () => {
    const c = await campaign();
    const held = await lead(c, { priority: 9 });
    const next = await lead(c);
    const owner = await lease(c);
    const holder = new Client({ connectionString: env('DATABASE_URL') });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from leads where id = $1 for update', [held]);
      const got = await claim(c, owner, 1);
      expect(got.claimed.map((x) => x.lead_id)).toEqual([next]);
    } finally {
      await holder.query('rollback');
      await holder.end();
    }
  });

  it('concurrent preview claims for two agents take different leads; an agent asking again gets the same lead', async () => {
    const c = await campaign({ mode: 'preview' });
    const leads = [await lead(c), await lead(c), await lead(c)];
    const agents = await sql<{ id: string }>(`insert into agents (name, campaign_id) values ('P1', $1), ('P2', $1) returning id`, [c]);
    const [p1, p2] = agents.map((a) => Number(a.id)) as [number, number];
    const other = Number((await sql<{ id: string }>(`insert into agents (name) values ('Outsider') returning id`))[0]!.id);
    const none = randomUUID(); // preview claims need no lease
    const [g1, g2] = await Promise.all([claim(c, none, 1, ALL_DDDS, 1, p1), claim(c, none, 1, ALL_DDDS, 1, p2)]);
    expect(g1.claimed).toHaveLength(1);
    expect(g2.claimed).toHaveLength(1);
    expect(g1.claimed[0]!.lead_id).not.toBe(g2.claimed[0]!.lead_id);
    expect(g1.claimed[0]).toMatchObject({ attempt_id: null, caller_id: null });
    expect(await leadRow(g1.claimed[0]!.lead_id)).toMatchObject({ status: 'previewing', preview_agent_id: String(p1), attempts: 0 });
    expect((await claim(c, none, 1, ALL_DDDS, 1, p1)).claimed[0]!.lead_id).toBe(g1.claimed[0]!.lead_id);
    expect(await claim(c, none, 1, ALL_DDDS, 1, other)).toMatchObject({ claimed: [], error: 'agent_not_in_campaign' });
    expect(await sql(`select 1 from calls where campaign_id = $1`, [c])).toHaveLength(0);
    expect(leads).toContain(g2.claimed[0]!.lead_id);
  });

  it("never creates more dial attempts in a second than the account's CPS, click-to-call included", async () => {
    const c = await campaign();
    for (let i = 0; i < 10; i++) await lead(c);
    const owner = await lease(c);
    const cl = new Client({ connectionString: env('DATABASE_URL') });
    await cl.connect();
    // Holding the claims' CPS lock first (advisory locks are re-entrant for a session) keeps
    // other claimers, e.g. parallel test files dialing with a higher CPS, out of the count.
    const claimUnderCap = async (cps: number) => {
      await cl.query('begin');
      await cl.query(`select pg_advisory_xact_lock(hashtext('discador.cps'), 0)`);
      const recent = (await cl.query<{ n: number }>(`select count(*)::int as n from calls where direction = 'outbound-api' and created_at > app_now() - interval '1 second'`)).rows[0]!.n;
      const got = (await cl.query<{ c: ClaimAnswer }>(`select claim_leads($1, $2, 10, $3::smallint[], $4) as c`, [c, owner, ALL_DDDS, cps])).rows[0]!.c;
      await cl.query('commit');
      return { recent, got };
    };
    try {
      // Two click-to-call attempts just now (start_dial_attempt's rows).
      await cl.query(`insert into calls (direction, to_number, caller_id, status) values ('outbound-api', '+5511955551111', '+551130009999', 'queued'), ('outbound-api', '+5511955551112', '+551130009999', 'queued')`);
      const first = await claimUnderCap(5);
      expect(first.recent).toBeGreaterThanOrEqual(2);
      expect(first.got.claimed.length).toBeLessThanOrEqual(Math.max(0, 5 - first.recent));
      expect(first.got.claimed.length + (first.got.skipped.cps ?? 0)).toBe(10);
      // Within the same second the budget is spent: what is left of the 5 at most.
      const second = await claimUnderCap(5);
      expect(second.got.claimed.length).toBeLessThanOrEqual(Math.max(0, 5 - second.recent));
      // A later second has room again.
      await new Promise((r) => setTimeout(r, 1100));
      const later = await claimUnderCap(1000);
      expect(later.got.claimed.length).toBe(10 - first.got.claimed.length - second.got.claimed.length);
    } finally {
      await cl.end();
    }
  });
});

describe('the lease', () => {
  it('claims need the lease: another owner, an expired lease or a freed one is refused, nothing written', async () => {
    const c = await campaign();
    await lead(c);
    const owner = await lease(c);
    expect(await claim(c, randomUUID(), 1)).toMatchObject({ claimed: [], error: 'lease_not_held' });
    await sql(`update campaigns set tick_lease_until = app_now() - interval '1 second' where id = $1`, [c]);
    expect(await claim(c, owner, 1)).toMatchObject({ claimed: [], error: 'lease_not_held' });
    expect(await sql(`select 1 from calls where campaign_id = $1`, [c])).toHaveLength(0);
  });

  it('two rounds beginning at the same moment never both get a campaign; a crashed round frees it when the lease runs out', async () => {
    const c = await campaign();
    const begin = async (owner: string) => {
      const cl = new Client({ connectionString: env('DATABASE_URL') });
      await cl.connect();
      try {
        return (await cl.query<{ b: { rounds: { campaign_id: string }[] } }>(`select pacer_round_begin($1, $2, 1, 20, $3) as b`, [owner, c, WINDOWS])).rows[0]!.b.rounds;
      } finally {
        await cl.end();
      }
    };
    const owners = Array.from({ length: 6 }, () => randomUUID());
    const results = await Promise.all(owners.map(begin));
    expect(results.filter((r) => r.length === 1)).toHaveLength(1);
    // Nobody ends that round (a crash): the campaign stays leased for the lease's 1 s, then is free.
    expect(await begin(randomUUID())).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await begin(randomUUID())).toHaveLength(1);
  });

  it('pacer_round_end logs the rounds of campaigns the owner leased and frees its leases', async () => {
    const c = await campaign();
    const owner = await lease(c);
    const [r] = await sql<{ e: { logged: number; freed: number } }>(`select pacer_round_end($1, $2) as e`, [
      owner,
      JSON.stringify([
        { campaign_id: c, trigger: 'heartbeat', wanted: 3, claimed: 2, placed: 1, reason: 'power_ratio', explanation: 'x' },
        { campaign_id: 999_999_999, trigger: 'heartbeat', wanted: 1, claimed: 0, placed: 0, reason: 'power_ratio' },
      ]),
    ]);
    expect(r!.e).toEqual({ logged: 1, freed: 1 });
    expect(await sql(`select trigger, wanted, claimed, placed, reason from pacer_rounds where campaign_id = $1`, [c])).toEqual([
      { trigger: 'heartbeat', wanted: 3, claimed: 2, placed: 1, reason: 'power_ratio' },
    ]);
    expect(await sql(`select tick_lease_owner, tick_lease_until from campaigns where id = $1`, [c])).toEqual([{ tick_lease_owner: null, tick_lease_until: null }]);
  });
});

describe('attempts', () => {
  it('attaching the CallSid of a claimed attempt does not count the attempt twice', async () => {
    const c = await campaign();
    const id = await lead(c);
    const owner = await lease(c);
    const [got] = (await claim(c, owner, 1)).claimed;
    const sid = newCallSid();
    await sql(`select attach_call_sid($1, $2)`, [got!.attempt_id, sid]);
    expect(await sql(`select status, attempts, last_call_sid from leads where id = $1`, [id])).toEqual([{ status: 'dialing', attempts: 1, last_call_sid: sid }]);
  });

  it('an attempt refused for a passing reason is failed and its lead released for a later round, its attempt not counted', async () => {
    const c = await campaign();
    const id = await lead(c);
    const owner = await lease(c);
    const [got] = (await claim(c, owner, 1)).claimed;
    const [r] = await sql<{ r: { failed: boolean; released: boolean } }>(`select release_dial_attempt($1, 20429, 'transient', 0) as r`, [got!.attempt_id]);
    expect(r!.r).toEqual({ failed: true, released: true, kind: 'transient' });
    expect(await sql(`select status, end_reason, error_code from calls where id = $1`, [got!.attempt_id])).toEqual([{ status: 'failed', end_reason: 'twilio_refused', error_code: 20429 }]);
    expect(await leadRow(id)).toMatchObject({ status: 'pending', attempts: 0 });
    // Idempotent: a second release changes nothing.
    const [again] = await sql<{ r: { failed: boolean; released: boolean } }>(`select release_dial_attempt($1, 20429, 'transient', 0) as r`, [got!.attempt_id]);
    expect(again!.r).toEqual({ failed: false, released: false, kind: 'transient' });
    expect((await claim(c, owner, 1)).claimed.map((x) => x.lead_id)).toEqual([id]);
  });
});
