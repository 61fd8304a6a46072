/**
 * The demo call center of `npm start` (docs/demo.md), through `npm start`'s own entry point:
 * an ephemeral stack forced to run the demo (`--demo`; ephemeral stacks have none by default)
 * and another with `--no-demo`, side by side. On the first the supervisor's board
 * (/api/board) shows emulated agents in call states and calls in progress within 60 s, the
 * figures move between polls, and the database has the demo's campaign calls and queue
 * entries, dialed only from the demo's emulator numbers to the demo's leads; Ana is left to a
 * person, who signs in on the agent page in Chromium and takes a demo call; stopping the demo
 * pauses its campaign, signs its agents out and ends every call. On the second nothing moves.
 * The demo's set-up is idempotent (a restart of a persistent stack runs it again).
 */
import { sql as sqlAt } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { closeDemoLeftovers, DEMO, DEMO_AGENTS, DEFAULT_DEMO_AGENTS, LEADS_BATCH, setUpDemo } from '../../stack/demo';
import type { LocalPostgres } from '../../stack/postgres';
import { launch } from './browser';

jest.setTimeout(90_000);

const IN_CALL = ['reserved', 'busy', 'wrap_up'];
const demoEmails = DEMO_AGENTS.slice(0, DEFAULT_DEMO_AGENTS).map((a) => a.email);

interface Board {
  agents: { id: number; name: string; status: string; seconds_in_state: number; call: unknown }[];
  calls: { call_sid: string; status: string; direction: string; campaign: string | null }[];
  queues: { name: string; waiting: number; entered_today: number; answered_today: number }[];
  campaigns: { id: number; name: string; status: string; calls_last_hour: number; connects_last_hour: number }[];
}

let demo: StackProcess;
let plain: StackProcess;
let readyAt = 0;

async function signIn(s: StackProcess, email: string, password: string): Promise<string> {
  const r = await fetch(`${s.env.FUNCTIONS_BASE_URL}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  const body = (await r.json()) as { token?: string };
  if (r.status !== 200 || !body.token) throw new Error(`login ${email}: ${r.status} ${JSON.stringify(body)}`);
  return body.token;
}

async function board(s: StackProcess, token: string): Promise<Board> {
  const r = await fetch(`${s.env.FUNCTIONS_BASE_URL}/api/board`, { headers: { authorization: `Bearer ${token}` } });
  if (r.status !== 200) throw new Error(`/api/board ${r.status} ${await r.text()}`);
  return (await r.json()) as Board;
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  const started = Date.now();
  [demo, plain] = await Promise.all([
    startStackProcess(['--demo']).then((s) => ((readyAt = Date.now()), s)),
    // A heartbeat as a developer's `npm start` has: the pacer runs, and still nothing moves.
    startStackProcess(['--no-demo', '--tick-interval', '2']),
  ]);
  console.log(`stacks ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}, 60_000);
afterAll(async () => {
  await Promise.all([demo?.stop(), plain?.stop()]);
});

const demoSql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, demo.env.DATABASE_URL);
const plainSql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, plain.env.DATABASE_URL);

it('the board shows emulated agents on calls within 60 s, its figures move between polls, and the rows are the demo\'s', async () => {
  const token = await signIn(demo, 'supervisor@discador.local', 'demo-supervisor');
  const names = new Set<string>(DEMO_AGENTS.slice(0, DEFAULT_DEMO_AGENTS).map((a) => a.name));
  const first = await until('agents in call states and a call in progress', 60_000, async () => {
    const b = await board(demo, token);
    return b.agents.some((a) => names.has(a.name) && IN_CALL.includes(a.status)) && b.calls.some((c) => c.status === 'in-progress') ? b : undefined;
  });
  console.log(`first call in progress ${((Date.now() - readyAt) / 1000).toFixed(1)} s after the stack was ready`);
  const campaignOf = (b: Board) => b.campaigns.find((c) => c.name === DEMO.campaign)!;
  expect(campaignOf(first)).toMatchObject({ status: 'active' });

  // The numbers move: more calls in the last hour, agents' states change.
  const stateOf = (b: Board) => JSON.stringify(b.agents.filter((a) => names.has(a.name)).map((a) => [a.id, a.status]));
  const later = await until('the board to move', 30_000, async () => {
    const b = await board(demo, token);
    return campaignOf(b).calls_last_hour > campaignOf(first).calls_last_hour && stateOf(b) !== stateOf(first) ? b : undefined;
  });
  expect(later.calls.length).toBeGreaterThan(0);

  // Rows the demo made: campaign calls, callers of the service number in the demo queue.
  const [campaign] = await demoSql<{ id: string }>(`select id from campaigns where name = $1`, [DEMO.campaign]);
  await until('an answered caller of the demo queue', 30_000, async () =>
    (await demoSql<{ n: number }>(`select count(*)::int as n from queue_entries where queue_name = $1 and result = 'answered'`, [DEMO.queue]))[0]!.n > 0,
  );
  // Campaign calls placed, one of them connected to an agent; callers of the service number.
  const calls = await until('campaign calls connected and service-number callers', 30_000, async () => {
    const [c] = await demoSql<{ outbound: number; inbound: number; connected: number }>(
      `select count(*) filter (where campaign_id = $1 and direction = 'outbound-api')::int as outbound,
              count(*) filter (where to_number = $2 and direction = 'inbound')::int as inbound,
              count(*) filter (where campaign_id = $1 and connected_at is not null)::int as connected
         from calls`,
      [campaign!.id, DEMO.serviceNumber],
    );
    return c!.outbound > 0 && c!.inbound > 0 && c!.connected > 0 ? c : undefined;
  });
  expect(calls.outbound).toBeGreaterThanOrEqual(calls.connected);
  // Only the emulator's numbers: dials from the pool (numbers the stack's emulator owns: the
  // demo's and the seed's) to the demo campaign's leads.
  expect(
    await demoSql(
      `select c.call_sid, c.from_number, c.to_number from calls c
        where c.direction = 'outbound-api' and c.call_sid is not null
          and (not exists (select 1 from phone_numbers n where n.phone_number = c.from_number and n.assigned_agent_id is null)
               or not exists (select 1 from leads l where l.campaign_id = $1 and l.phone_number = c.to_number))`,
      [campaign!.id],
    ),
  ).toEqual([]);
  expect((await demoSql(`select distinct from_number from calls where campaign_id = $1 and from_number = any($2::text[])`, [campaign!.id, DEMO.pool])).length).toBeGreaterThan(0);
  // The emulated agents are the demo's own users; Ana is nobody's but the person's.
  const agentsWorking = await demoSql<{ email: string }>(
    `select u.email from users u join agents a on a.id = u.agent_id where a.status <> 'offline' and a.shift_call_sid is not null order by u.email`,
  );
  expect(agentsWorking.map((r) => r.email)).toEqual([...demoEmails].sort());
  expect(await demoSql(`select se.id from sessions se join users u on u.id = se.user_id where u.email = $1`, [DEMO.freeAgent.email])).toEqual([]);
});

it('a person signs in as Ana on the agent page and takes one of the demo\'s calls', async () => {
  const b = await launch('npm start demo');
  try {
    const { page } = b;
    await page.goto(`${demo.env.FUNCTIONS_BASE_URL}/agent.html`);
    await page.fill('#login-email', DEMO.freeAgent.email);
    await page.fill('#login-password', DEMO.freeAgent.password);
    await page.click('#login-submit');
    await page.waitForSelector('#app-view:not([hidden])');
    await page.click('#go-available');
    await page.waitForFunction(`document.getElementById('phone-state').textContent === 'Conectado — aguardando clientes'`, undefined, { timeout: 20_000 });
    await b.shot('Ana available in the demo');
    // A demo customer (a dial of the campaign or a caller of the queue) reaches her room.
    await page.waitForFunction(`document.getElementById('phone-state').textContent === 'Em ligação'`, undefined, { timeout: 40_000 });
    const [ana] = await demoSql<{ current_call_sid: string; status: string }>(`select status, current_call_sid from agents where client_identity = 'ana'`);
    expect(ana).toMatchObject({ status: 'busy', current_call_sid: expect.stringMatching(/^CA[0-9a-f]{32}$/) });
    await b.shot('Ana on a demo call');
    await page.click('#hangup');
    await page.waitForSelector('#disposition:not([hidden])', { timeout: 20_000 });
    await page.selectOption('#disposition-code', 'acordo');
    await page.click('#disposition-submit');
    await page.waitForSelector('#disposition', { state: 'hidden' });
    expect(await demoSql(`select code from call_dispositions where call_sid = $1`, [ana!.current_call_sid])).toEqual([{ code: 'acordo' }]);
    await b.shot('Ana disposed of it');
    await page.click('#logout');
    await page.waitForSelector('#login-view:not([hidden])');
  } catch (e) {
    await b.shot('failure').catch(() => undefined);
    throw e;
  } finally {
    await b.close();
  }
});

it('--no-demo: nothing moves, with the pacer heartbeat running', async () => {
  const token = await signIn(plain, 'supervisor@discador.local', 'demo-supervisor');
  const a = await board(plain, token);
  await new Promise((r) => setTimeout(r, 3_000));
  const b = await board(plain, token);
  for (const x of [a, b]) {
    expect(x.calls).toEqual([]);
    expect(x.agents.filter((ag) => IN_CALL.includes(ag.status))).toEqual([]);
    expect(x.campaigns.every((c) => c.calls_last_hour === 0)).toBe(true);
  }
  expect(b.agents.map((ag) => [ag.id, ag.status])).toEqual(a.agents.map((ag) => [ag.id, ag.status]));
  expect(await plainSql(`select id from calls`)).toEqual([]);
  expect(await plainSql(`select id from campaigns where name = $1`, [DEMO.campaign])).toEqual([]);
  expect(await plainSql(`select id from users where email = any($1::text[])`, [demoEmails])).toEqual([]);
});

it('the set-up is idempotent: run twice (a restart), no second campaign, agent, number or lead batch', async () => {
  const db = { query: (q: string, p?: unknown[]) => plainSql(q, p ?? []) } as unknown as LocalPostgres;
  const count = async () =>
    (
      await plainSql(
        `select (select count(*)::int from campaigns where name = $1) as campaigns,
                (select count(*)::int from users where email like '%.demo@discador.local') as users,
                (select count(*)::int from agents a join campaigns c on c.id = a.campaign_id where c.name = $1) as campaign_agents,
                (select count(*)::int from leads l join campaigns c on c.id = l.campaign_id where c.name = $1) as leads,
                (select count(*)::int from phone_numbers where phone_number = any($2::text[])) as numbers,
                (select count(*)::int from service_queues where name = $3) as queues,
                (select cardinality(agent_ids) from service_queues where name = $3) as servers`,
        [DEMO.campaign, [...DEMO.pool, DEMO.serviceNumber], DEMO.queue],
      )
    )[0];
  const one = await setUpDemo(db, { agents: DEFAULT_DEMO_AGENTS, password: 'primeira-senha-demo' });
  const afterOne = await count();
  const two = await setUpDemo(db, { agents: DEFAULT_DEMO_AGENTS, password: 'segunda-senha-demo' });
  expect(await count()).toEqual(afterOne);
  expect(afterOne).toEqual({
    campaigns: 1, users: DEFAULT_DEMO_AGENTS, campaign_agents: DEFAULT_DEMO_AGENTS + 1 /* Ana */, leads: LEADS_BATCH,
    numbers: DEMO.pool.length + 1, queues: 1, servers: DEFAULT_DEMO_AGENTS + 1,
  });
  expect(two).toMatchObject({ campaignId: one.campaignId, agents: one.agents, leadsAdded: 0 });
  expect(one.leadsAdded).toBe(LEADS_BATCH);
  // A new password each start: the old one no longer signs in.
  await expect(signIn(plain, demoEmails[0]!, 'primeira-senha-demo')).rejects.toThrow(/login .*: 401/);
  await signIn(plain, demoEmails[0]!, 'segunda-senha-demo');
});

it("the next start ends what a demo killed with its stack left (calls live, agents signed in), and nothing else", async () => {
  const db = { query: (q: string, p?: unknown[]) => plainSql(q, p ?? []) } as unknown as LocalPostgres;
  const info = await setUpDemo(db, { agents: DEFAULT_DEMO_AGENTS, password: 'terceira-senha-demo' });
  const [lead] = await plainSql<{ phone_number: string }>(`select phone_number from leads where campaign_id = $1 limit 1`, [info.campaignId]);
  const sid = (n: number) => `CA${String(n).padStart(32, 'e')}`;
  const talking = info.agents[0]!.id;
  // A customer talking to a demo agent, a caller of the service number still ringing, and Ana's own call (not the demo's).
  await plainSql(
    `insert into calls (call_sid, direction, from_number, to_number, status, campaign_id, agent_id, started_at, answered_at)
     values ($1, 'outbound-api', $2, $3, 'in-progress', $4, $5, now() - interval '20 seconds', now() - interval '15 seconds'),
            ($6, 'inbound', '+5511987654321', $7, 'ringing', null, null, now(), null),
            ($8, 'inbound', '+5511987654322', '+551130001000', 'in-progress', null, null, now(), now())`,
    [sid(1), DEMO.pool[0], lead!.phone_number, info.campaignId, talking, sid(2), DEMO.serviceNumber, sid(3)],
  );
  await plainSql(`select agent_transition($1, 'busy', null, 'system', null, $2)`, [talking, sid(1)]);
  await plainSql(`select agent_transition($1, 'available', null, 'system', null)`, [info.agents[1]!.id]);

  expect(await closeDemoLeftovers(db)).toEqual({ calls: 2, agents: 2 });
  expect(await plainSql(`select call_sid, status, ended_at is not null as ended from calls where call_sid = any($1::text[]) order by call_sid`, [[sid(1), sid(2), sid(3)]])).toEqual([
    { call_sid: sid(1), status: 'completed', ended: true },
    { call_sid: sid(2), status: 'canceled', ended: true },
    { call_sid: sid(3), status: 'in-progress', ended: false },
  ]);
  expect(await plainSql(`select id from agents where id = any($1::bigint[]) and status <> 'offline'`, [info.agents.map((a) => a.id)])).toEqual([]);
  expect(await closeDemoLeftovers(db)).toEqual({ calls: 0, agents: 0 });
});

it('stopping the demo (demo:stop; a stack stopped through --control does it first) pauses its campaign, signs its agents out and ends every call', async () => {
  const t0 = Date.now();
  await demo.control('demo:stop');
  const seconds = (Date.now() - t0) / 1000;
  console.log(`demo stopped in ${seconds.toFixed(1)} s`);
  expect(seconds).toBeLessThan(15);
  expect(await demoSql(`select status from campaigns where name = $1`, [DEMO.campaign])).toEqual([{ status: 'paused' }]);
  expect(
    await demoSql(
      `select u.email, a.status from users u join agents a on a.id = u.agent_id where u.email = any($1::text[]) and (a.status <> 'offline' or a.shift_call_sid is not null)`,
      [demoEmails],
    ),
  ).toEqual([]);
  await until('every call ended', 10_000, async () => (await demoSql(`select call_sid from calls where ended_at is null and status in ('queued', 'initiated', 'ringing', 'in-progress')`)).length === 0);
});
