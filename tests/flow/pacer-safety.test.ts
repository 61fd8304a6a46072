/**
 * The pacer under what goes wrong: Twilio refusing a lead's number (or the caller ID, or for a
 * passing reason), a claim that waited on the account's CPS lock past its lease, claims racing
 * opt-out imports on the same numbers, a Calls create slow enough to outlast the webhook that
 * started the round, and click-to-call / preview dials sharing the account's CPS.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type twilio from 'twilio';
import { handler as callStatus } from '../../src/functions/webhooks/call-status.protected';
import { placeCampaignCall, type ClaimedLead } from '../../src/lib/domain/dialer/campaign-call';
import { ROLLING_WINDOWS } from '../../src/lib/domain/dialer/snapshot';
import { runTick } from '../../src/lib/domain/dialer/tick';
import { loadConfig } from '../../src/lib/runtime/config';
import { env, session, sql, testDb } from '../helpers/db';
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';
import { newCallSid } from '../helpers/twilio';

beforeAll(installRuntimeGlobals);

type Refusal = { status: number; code?: number };

/** A Twilio client whose Calls create refuses the numbers in `refuse` and accepts the rest. */
function fakeTwilio(refuse: Record<string, Refusal> = {}, delayMs = 0) {
  const creates: Record<string, unknown>[] = [];
  const client = {
    calls: {
      create: async (p: Record<string, unknown>) => {
        creates.push(p);
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        const no = refuse[String(p['to'])];
        if (no) throw Object.assign(new Error(`refused (${no.code ?? no.status})`), no);
        return { sid: newCallSid(), accountSid: env('TWILIO_ACCOUNT_SID') };
      },
    },
  };
  return { creates, client: client as unknown as twilio.Twilio };
}

const config = (cps = '50') =>
  loadConfig({ SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY'), PUBLIC_BASE_URL: 'https://discador.example', ACCOUNT_CPS: cps });
const ALWAYS_OPEN = { window_profile: 'custom', weekday_start: '00:00', weekday_end: '24:00', saturday_start: '00:00', saturday_end: '24:00', allow_sunday: true, sunday_start: '00:00', sunday_end: '24:00', skip_holidays: false };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The account's CPS counts every outbound call of the last second, whoever made it, and other
 * suites dial on this database at the same time. A CPS check is run again (up to 5 times) only
 * when it failed AND a call that is not its own was created while it ran; a check that fails
 * with nobody else dialing fails at once.
 */
async function withOwnSecond(body: (own: { campaigns: number[]; numbers: string[] }) => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const own = { campaigns: [] as number[], numbers: [] as string[] };
    const [t0] = await sql<{ at: Date }>(`select app_clock_now() - interval '1 second' as at`);
    try {
      await body(own);
      return;
    } catch (e) {
      const [foreign] = await sql<{ n: number }>(
        `select count(*)::int as n from calls
          where direction = 'outbound-api' and created_at >= $1
            and (campaign_id is null or campaign_id <> all($2::bigint[])) and to_number <> all($3::text[])`,
        [t0!.at, own.campaigns, own.numbers],
      );
      if (foreign!.n === 0 || attempt >= 5) throw e;
    }
  }
}

async function campaign(over: Record<string, unknown> = {}): Promise<number> {
  const cols = { name: `safety-${randomBytes(4).toString('hex')}`, status: 'active', mode: 'power', dial_ratio: 1, calls_per_second: 50, ...ALWAYS_OPEN, ...over };
  const keys = Object.keys(cols);
  const [row] = await sql<{ id: string }>(`insert into campaigns (${keys.join(', ')}) values (${keys.map((_, i) => `$${i + 1}`).join(', ')}) returning id`, Object.values(cols));
  await poolNumber();
  return Number(row!.id);
}
async function poolNumber(): Promise<string> {
  const n = `+551131${randomInt(100000, 999999)}`;
  await sql(`insert into phone_numbers (phone_number, daily_cap) values ($1, 100000) on conflict do nothing`, [n]);
  return n;
}
let seq = randomInt(1_000_000, 8_000_000);
async function lead(c: number, priority = 0): Promise<{ id: number; phone: string }> {
  const phone = `+55119${String(seq++).padStart(8, '0')}`;
  const [r] = await sql<{ id: string }>(`insert into leads (campaign_id, phone_number, name, priority) values ($1, $2, 'x', $3) returning id`, [c, phone, priority]);
  return { id: Number(r!.id), phone };
}
async function agent(c: number): Promise<number> {
  const [r] = await sql<{ id: string }>(
    `insert into agents (name, campaign_id, status, status_changed_at, shift_call_sid, last_seen_at) values ($1, $2, 'available', now() - interval '30 seconds', $3, now()) returning id`,
    [`S ${randomBytes(3).toString('hex')}`, c, newCallSid()],
  );
  return Number(r!.id);
}
async function lease(c: number, seconds = 30): Promise<string> {
  const owner = randomUUID();
  await sql(`select pacer_round_begin($1, $2, $3, 20, $4)`, [owner, c, seconds, JSON.stringify(ROLLING_WINDOWS)]);
  return owner;
}
const leadRow = async (id: number) =>
  (await sql<{ status: string; attempts: number; outcome: string | null; next_in: number | null }>(
    `select status, attempts, outcome, extract(epoch from next_attempt_at - now())::float8 as next_in from leads where id = $1`,
    [id],
  ))[0]!;
const callsOf = async (leadId: number) => (await sql<{ n: number }>(`select count(*)::int as n from calls where lead_id = $1`, [leadId]))[0]!.n;

describe("Twilio's refusals, by what they mean for the lead", () => {
  it('a number Twilio will never call (21211) is marked invalid after one attempt, and the next leads are dialed', async () => {
    const c = await campaign();
    await agent(c);
    const bad = await lead(c, 10);
    const good1 = await lead(c, 5);
    const good2 = await lead(c, 0);
    const tw = fakeTwilio({ [bad.phone]: { status: 400, code: 21211 } });
    for (let i = 0; i < 4; i++) {
      await runTick({ db: testDb(), twilio: tw.client, config: config() }, { trigger: 'heartbeat', campaignId: c });
      // The accepted calls end, so the one agent's line is free for the next round.
      await sql(`update calls set status = 'completed', ended_at = now() where campaign_id = $1 and status = 'queued' and call_sid is not null`, [c]);
      await sql(`update leads set status = 'done' where campaign_id = $1 and status = 'dialing'`, [c]);
      await sleep(1100);
    }
    expect(tw.creates.filter((p) => p['to'] === bad.phone)).toHaveLength(1);
    expect(await callsOf(bad.id)).toBe(1);
    expect(await leadRow(bad.id)).toMatchObject({ status: 'invalid', outcome: 'invalid_number', attempts: 1 });
    expect(await sql(`select status, end_reason, error_code, outcome from calls where lead_id = $1`, [bad.id])).toEqual([
      { status: 'failed', end_reason: 'twilio_refused', error_code: 21211, outcome: 'failed' },
    ]);
    expect(await callsOf(good1.id)).toBe(1);
    expect(await callsOf(good2.id)).toBe(1);
  }, 30000);

  it('a passing refusal (429 / 20429) puts the lead back to pending, attempt not counted, not before 60 s', async () => {
    const c = await campaign();
    await agent(c);
    const l = await lead(c);
    const tw = fakeTwilio({ [l.phone]: { status: 429, code: 20429 } });
    await runTick({ db: testDb(), twilio: tw.client, config: config() }, { trigger: 'heartbeat', campaignId: c });
    const row = await leadRow(l.id);
    expect(row).toMatchObject({ status: 'pending', attempts: 0 });
    expect(row.next_in).toBeGreaterThan(50);
    expect(row.next_in).toBeLessThanOrEqual(61);
    await sleep(1100);
    await runTick({ db: testDb(), twilio: tw.client, config: config() }, { trigger: 'heartbeat', campaignId: c });
    expect(tw.creates).toHaveLength(1);
  }, 20000);

  it('a caller ID Twilio rejects (21210) is taken out of rotation; the lead is not burned', async () => {
    const c = await campaign({ local_presence: false });
    await agent(c);
    const l = await lead(c);
    const tw = fakeTwilio({ [l.phone]: { status: 400, code: 21210 } });
    await runTick({ db: testDb(), twilio: tw.client, config: config() }, { trigger: 'heartbeat', campaignId: c });
    const from = String(tw.creates[0]!['from']);
    expect(await sql(`select is_active from phone_numbers where phone_number = $1`, [from])).toEqual([{ is_active: false }]);
    await sql(`update phone_numbers set is_active = true where phone_number = $1`, [from]);
    expect(await leadRow(l.id)).toMatchObject({ status: 'pending', attempts: 0, outcome: null });
  }, 20000);

  it('a round out of time releases the lead it claimed without asking Twilio', async () => {
    const c = await campaign();
    const l = await lead(c);
    const owner = await lease(c);
    const [r] = await sql<{ r: { claimed: ClaimedLead[] } }>(`select claim_leads($1, $2, 1, array[11]::smallint[], 50) as r`, [c, owner]);
    const tw = fakeTwilio();
    const res = await placeCampaignCall({ db: testDb(), twilio: tw.client, config: config() }, r!.r.claimed[0]!, { id: c, amd_machine: 'hangup', ring_timeout: 20 }, { deadlineMs: Date.now() });
    expect(res).toMatchObject({ placed: false, reason: 'no_time' });
    expect(tw.creates).toEqual([]);
    expect(await leadRow(l.id)).toMatchObject({ status: 'pending', attempts: 0 });
  });
});

describe('claims and the CPS lock', () => {
  it('a claim that waited on the CPS lock past its lease claims nothing; the round that leased the campaign since claims once', async () => {
    const c = await campaign();
    for (let i = 0; i < 3; i++) await agent(c);
    for (let i = 0; i < 10; i++) await lead(c);
    const holder = await session();
    const a = await session();
    try {
      await holder.client.query(`select pg_advisory_lock(hashtext('discador.cps'), 0)`);
      const ownerA = await lease(c, 1);
      const pA = a.client.query(`select claim_leads($1, $2, 3, array[11]::smallint[], 50) as r`, [c, ownerA]);
      await sleep(1500);
      const ownerB = await lease(c, 5);
      await holder.client.query(`select pg_advisory_unlock(hashtext('discador.cps'), 0)`);
      const ra = (await pA).rows[0].r as { claimed: unknown[]; error?: string };
      const [rb] = await sql<{ r: { claimed: unknown[] } }>(`select claim_leads($1, $2, 3, array[11]::smallint[], 50) as r`, [c, ownerB]);
      expect(ra).toMatchObject({ claimed: [], error: 'lease_not_held' });
      expect(rb!.r.claimed).toHaveLength(3);
      expect(await sql(`select count(*)::int as n from calls where campaign_id = $1`, [c])).toEqual([{ n: 3 }]);
    } finally {
      await holder.client.end();
      await a.client.end();
    }
  }, 30000);

  it("the attempts of a claim that waited are counted in the next claim's second (wall-clock created_at)", async () => {
    await withOwnSecond(async (own) => {
      const c1 = await campaign();
      const c2 = await campaign();
      own.campaigns.push(c1, c2);
      for (let i = 0; i < 3; i++) {
        await lead(c1);
        await lead(c2);
      }
      const o1 = await lease(c1);
      const o2 = await lease(c2);
      const holder = await session();
      const a = await session();
      try {
        await holder.client.query(`select pg_advisory_lock(hashtext('discador.cps'), 0)`);
        await a.client.query('begin');
        await a.client.query('select 1'); // the transaction starts now
        const pA = a.client.query(`select claim_leads($1, $2, 3, array[11]::smallint[], 3) as r`, [c1, o1]);
        await sleep(1300);
        await holder.client.query(`select pg_advisory_unlock(hashtext('discador.cps'), 0)`);
        const ra = (await pA).rows[0].r as { claimed: unknown[] };
        await a.client.query('commit');
        const [rb] = await sql<{ r: { claimed: unknown[]; skipped: { cps: number } } }>(`select claim_leads($1, $2, 3, array[11]::smallint[], 3) as r`, [c2, o2]);
        expect(ra.claimed.length).toBeGreaterThan(0);
        expect(ra.claimed.length + rb!.r.claimed.length).toBeLessThanOrEqual(3);
      } finally {
        await holder.client.end();
        await a.client.end();
      }
    });
  }, 60000);
});

describe('claims racing opt-outs on the same numbers', () => {
  it('a claim never waits on a number whose opt-out is being recorded: the lead is passed over, then opted out', async () => {
    const c = await campaign();
    const l = await lead(c, 100);
    const owner = await lease(c);
    const o = await session();
    const a = await session();
    try {
      await o.client.query('begin');
      await o.client.query(`select pg_advisory_xact_lock(opt_out_lock_key($1))`, [l.phone]);
      const claim = a.client.query(`select claim_leads($1, $2, 1, array[11]::smallint[], 50) as r`, [c, owner]).then((r) => r.rows[0].r as { claimed: unknown[]; skipped: { busy: number } });
      const r = await Promise.race([claim, sleep(5000).then(() => 'blocked' as const)]);
      expect(r).not.toBe('blocked');
      expect(r).toMatchObject({ claimed: [], skipped: { busy: 1 } });
      await o.client.query(`insert into opt_outs (phone_number, source) values ($1, 'manual')`, [l.phone]);
      await o.client.query('commit');
      expect(await leadRow(l.id)).toMatchObject({ status: 'opted_out', attempts: 0 });
    } finally {
      await o.client.end().catch(() => {});
      await a.client.end();
    }
  }, 20000);

  it('claims and opt_out_import on the same numbers, many times over: no deadlock, no opted-out number dialed', async () => {
    const c = await campaign();
    const a = await session();
    const o = await session();
    try {
      for (let rep = 0; rep < 25; rep++) {
        const ls = [];
        for (let i = 0; i < 6; i++) ls.push(await lead(c, randomInt(0, 5)));
        const owner = await lease(c);
        const rows = ls.map((l) => ({ phone_number: l.phone }));
        const [claimed, imported] = await Promise.allSettled([
          a.client.query(`select claim_leads($1, $2, 6, array[11]::smallint[], 100) as r`, [c, owner]),
          o.client.query(`select opt_out_import($1::jsonb, 'import') as r`, [JSON.stringify(rows)]),
        ]);
        expect(claimed.status === 'rejected' ? String(claimed.reason) : 'ok').toBe('ok');
        expect(imported.status === 'rejected' ? String(imported.reason) : 'ok').toBe('ok');
        const states = await sql<{ status: string }>(`select distinct status from leads where id = any($1::bigint[])`, [ls.map((l) => l.id)]);
        // Claimed before the import took the number's lock → dialing; else opted out (never pending, never both).
        expect(states.map((s) => s.status).every((s) => s === 'opted_out' || s === 'dialing')).toBe(true);
        const r = (claimed as PromiseFulfilledResult<{ rows: { r: { claimed: { lead_id: number }[] } }[] }>).value.rows[0]!.r;
        const dialing = await sql<{ id: string }>(`select id from leads where id = any($1::bigint[]) and status = 'dialing' order by id`, [ls.map((l) => l.id)]);
        expect(dialing.map((d) => Number(d.id))).toEqual(r.claimed.map((x) => x.lead_id).sort((x, y) => x - y));
        await sql(`update campaigns set tick_lease_owner = null, tick_lease_until = null where id = $1`, [c]);
      }
    } finally {
      await a.client.end();
      await o.client.end();
    }
  }, 120000);
});

describe('a round started by a webhook has its own budget', () => {
  it('a Calls create that takes 9 s: call-status still answers 2xx within about 3 s, its row written', async () => {
    const c = await campaign();
    await agent(c);
    const l = await lead(c);
    const sid = newCallSid();
    await sql(
      `insert into calls (call_sid, direction, campaign_id, status, to_number, from_number, created_at) values ($1, 'outbound-api', $2, 'ringing', '+5511955550001', '+551130001000', now() - interval '5 seconds')`,
      [sid, c],
    );
    const slow = fakeTwilio({}, 9000);
    const ctx = { ...makeContext({ SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY'), ACCOUNT_CPS: '50' }), getTwilioClient: () => slow.client };
    const started = Date.now();
    const res = await invoke(callStatus as never, ctx, {
      CallSid: sid, AccountSid: env('TWILIO_ACCOUNT_SID'), From: '+551130001000', To: '+5511955550001', CallStatus: 'no-answer', Direction: 'outbound-api',
    });
    const took = Date.now() - started;
    expect(res.status).toBeGreaterThanOrEqual(200);
    expect(res.status).toBeLessThan(300);
    expect(took).toBeLessThan(3500);
    expect(await sql(`select status from calls where call_sid = $1`, [sid])).toEqual([{ status: 'no-answer' }]);
    // The round did ask Twilio; the lead's attempt is the reconciler's and the sweep's now.
    expect(slow.creates).toHaveLength(1);
    expect(await sql(`select trigger from pacer_rounds where campaign_id = $1`, [c])).toEqual([{ trigger: 'call_ended' }]);
    expect((await leadRow(l.id)).status).toBe('dialing');
  }, 30000);
});

describe("click-to-call and preview dials share the account's CPS", () => {
  it('start_dial_attempt refuses with cps_limit (nothing recorded) while the second is full, and records when there is room', async () => {
    await withOwnSecond(async (own) => {
      const c = await session();
      try {
        await c.client.query('begin');
        // Rows of this transaction only (invisible to other tests): the second looks full.
        await c.client.query(
          `insert into calls (direction, from_number, to_number, status, created_at) values ('outbound-api', '+551130001000', '+5511955550002', 'queued', app_clock_now() + interval '1 second')`,
        );
        await poolNumber();
        const to = `+55119${String(seq++).padStart(8, '0')}`;
        own.numbers.push(to);
        const count = async () => Number((await c.client.query(`select count(*)::int as n from calls where to_number = $1`, [to])).rows[0].n);
        expect((await c.client.query(`select start_dial_attempt($1::e164, p_account_cps => 1) as r`, [to])).rows[0].r).toEqual({ allowed: false, reason: 'cps_limit' });
        expect(await count()).toBe(0);
        expect((await c.client.query(`select start_dial_attempt($1::e164, p_account_cps => 2) as r`, [to])).rows[0].r).toMatchObject({ allowed: true });
        expect(await count()).toBe(1);
        // The pacer's claim sees it too: the second is full for an account of 2.
        const k = await campaign();
        own.campaigns.push(k);
        await lead(k);
        const owner = await lease(k);
        const claim = (await c.client.query(`select claim_leads($1, $2, 1, array[11]::smallint[], 2) as r`, [k, owner])).rows[0].r;
        expect(claim).toMatchObject({ claimed: [], skipped: { cps: 1 } });
      } finally {
        await c.client.query('rollback').catch(() => {});
        await c.client.end();
      }
    });
  }, 60000);
});

describe("a campaign's CPS share", () => {
  it('is a whole number of calls per second: 0.5 and 1.5 are refused with a clear error', async () => {
    for (const cps of [0.5, 1.5, 0]) {
      const { error } = await testDb().rpc('campaign_create', { p_settings: { name: `cps-${randomBytes(3).toString('hex')}`, calls_per_second: cps } });
      expect(error?.message ?? '').toMatch(/calls_per_second/);
    }
    await expect(sql(`insert into campaigns (name, calls_per_second) values ($1, 0.5)`, [`cps-${randomBytes(3).toString('hex')}`])).rejects.toThrow(/calls_per_second/);
  });
});

describe("the snapshot's talk and wrap-up samples", () => {
  it("come from the campaign's own calls, whichever campaign their agent works now", async () => {
    const a = await campaign();
    const b = await campaign();
    const moved = await agent(b); // took a call of campaign a, works campaign b now
    const stayed = await agent(b);
    const callOf = async (c: number) => {
      const sid = newCallSid();
      await sql(
        `insert into calls (call_sid, direction, campaign_id, status, to_number, from_number, live_at, created_at) values ($1, 'outbound-api', $2, 'completed', '+5511955550009', '+551130001000', now() - interval '10 minutes', now() - interval '10 minutes')`,
        [sid, c],
      );
      return sid;
    };
    const history = (agentId: number, status: string, sid: string, seconds: number) =>
      sql(
        `insert into agent_status_history (agent_id, status, source, call_sid, started_at, ended_at) values ($1, $2, 'system', $3, now() - interval '9 minutes', now() - interval '9 minutes' + make_interval(secs => $4))`,
        [agentId, status, sid, seconds],
      );
    const sa = await callOf(a);
    await history(moved, 'busy', sa, 100);
    await history(moved, 'wrap_up', sa, 20);
    const sb = await callOf(b);
    await history(stayed, 'busy', sb, 40);
    const stats = async (c: number) => {
      const [r] = await sql<{ r: { rounds: { stats: Record<string, number> }[] } }>(`select pacer_round_begin($1, $2, 1, 20, $3) as r`, [randomUUID(), c, JSON.stringify(ROLLING_WINDOWS)]);
      await sql(`update campaigns set tick_lease_owner = null, tick_lease_until = null where id = $1`, [c]);
      return r!.r.rounds[0]!.stats;
    };
    expect(await stats(a)).toMatchObject({ talkSamples: 1, talkTimeS: 100, wrapUpTimeS: 20 });
    expect(await stats(b)).toMatchObject({ talkSamples: 1, talkTimeS: 40, wrapUpTimeS: 0 });
  });
});
