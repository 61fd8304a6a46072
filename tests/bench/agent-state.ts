/**
 * `npm run bench:api [-- --requests N --concurrency C --agents A --json]`: the agent page's
 * poll, GET /api/agent/state, through the whole local stack, against two floors measured in
 * the same run:
 *
 * - poll: signed-in agents polling (bearer token) through the front → twilio-run →
 *   /api/agent/state → the REST gateway → PostgREST → Postgres (agent_poll). Half the agents
 *   are on a call with a lead and earlier calls (the screen pop), half idle;
 * - function floor: the same function refusing a request without a token (401 before any
 *   database work): what the front, the runtime and the function's glue cost;
 * - database floor: the same agent_poll call straight to the REST API (service key, no function).
 *
 * Database round trips per poll are counted for real at the REST gateway (every request that
 * reaches PostgREST), before and after the poll rounds. Rounds alternate so drift hits all paths.
 */
import { Command } from 'commander';
import { createHash, randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Client } from 'pg';
import { startStackProcess } from '../helpers/stack';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

interface Figures {
  requests: number;
  medianMs: number;
  p95Ms: number;
  maxMs: number;
  requestsPerSecond: number;
  failures: number;
}

/** Runs the requests with `concurrency` in flight; collects latencies and failures. */
async function run(requests: (() => Promise<boolean>)[], concurrency: number, into: { latencies: number[]; seconds: number; failures: number }) {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests.length) {
        const send = requests[next++]!;
        const t = performance.now();
        const ok = await send();
        into.latencies.push(performance.now() - t);
        if (!ok) into.failures++;
      }
    }),
  );
  into.seconds += (performance.now() - started) / 1000;
}

function figures(s: { latencies: number[]; seconds: number; failures: number }): Figures {
  const sorted = [...s.latencies].sort((a, b) => a - b);
  return {
    requests: sorted.length,
    medianMs: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    maxMs: sorted[sorted.length - 1] ?? NaN,
    requestsPerSecond: sorted.length / s.seconds,
    failures: s.failures,
  };
}

/** Signed-in agents with live sessions; every other one on a call with a lead and history. */
async function seedAgents(databaseUrl: string, count: number): Promise<{ tokens: string[]; hashes: string[] }> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  const tokens: string[] = [];
  const hashes: string[] = [];
  try {
    const campaign = (await c.query<{ id: string }>(`insert into campaigns (name) values ($1) returning id`, [`bench ${Date.now()}`])).rows[0]!.id;
    for (let i = 0; i < count; i++) {
      const tag = randomBytes(5).toString('hex');
      const agent = (await c.query<{ id: string }>(`insert into agents (name, client_identity, status, last_seen_at) values ($1, $2, 'available', now()) returning id`, [`Bench ${tag}`, `bench-${tag}`])).rows[0]!.id;
      const user = (await c.query<{ id: string }>(`insert into users (email, name, role, agent_id) values ($1, $2, 'agent', $3) returning id`, [`${tag}@bench.local`, `Bench ${tag}`, agent])).rows[0]!.id;
      const token = randomBytes(32).toString('base64url');
      const hash = createHash('sha256').update(token).digest('hex');
      await c.query(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '12 hours')`, [user, hash]);
      if (i % 2 === 0) {
        const customer = `+55119${String(10_000_000 + i).slice(-8)}`;
        const lead = (await c.query<{ id: string }>(`insert into leads (campaign_id, phone_number, name, data) values ($1, $2, 'Bench', '{"saldo": "100.00", "dias_atraso": 9}') returning id`, [campaign, customer])).rows[0]!.id;
        for (let h = 0; h < 5; h++) {
          const sid = 'CA' + randomBytes(16).toString('hex');
          await c.query(
            `insert into calls (call_sid, direction, from_number, to_number, agent_id, lead_id, status, created_at, started_at, ended_at, duration)
             values ($1, 'outbound-api', '+551130002000', $2, $3, $4, 'completed', now() - $5::interval, now() - $5::interval, now() - $5::interval, 60)`,
            [sid, customer, agent, lead, `${h + 1} days`],
          );
          await c.query(`insert into call_dispositions (call_sid, agent_id, code) values ($1, $2, 'retornar')`, [sid, agent]);
        }
        const sid = 'CA' + randomBytes(16).toString('hex');
        await c.query(`insert into calls (call_sid, direction, from_number, to_number, agent_id, lead_id, status, started_at) values ($1, 'outbound-api', '+551130002000', $2, $3, $4, 'in-progress', now())`, [sid, customer, agent, lead]);
        await c.query(`select agent_transition($1, 'busy', null, 'system', null, $2)`, [agent, sid]);
      }
      tokens.push(token);
      hashes.push(hash);
    }
  } finally {
    await c.end();
  }
  return { tokens, hashes };
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--requests <n>', 'requests per path', '2000')
    .option('--concurrency <n>', 'requests in flight', '8')
    .option('--agents <n>', 'signed-in agents polling', '40')
    .option('--rounds <n>', 'alternating rounds', '2')
    .option('--json', 'print the figures as one JSON document')
    .parse(process.argv)
    .opts<{ requests: string; concurrency: string; agents: string; rounds: string; json?: boolean }>();
  const [total, concurrency, agents, rounds] = [o.requests, o.concurrency, o.agents, o.rounds].map(Number) as [number, number, number, number];
  if (![total, concurrency, agents, rounds].every((n) => Number.isInteger(n) && n > 0)) throw new Error('--requests, --concurrency, --agents and --rounds must be positive integers');

  const stack = await startStackProcess(['--no-emulator']);
  try {
    const { FUNCTIONS_BASE_URL: base, SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: key, DATABASE_URL } = stack.env;
    const { tokens, hashes } = await seedAgents(DATABASE_URL, agents);
    const url = `${base}/api/agent/state`;
    const stats = async () => ((await (await fetch(`${SUPABASE_URL}/_local/stats`)).json()) as { restRequests: number }).restRequests;

    const poll = (i: number) => async () => {
      const res = await fetch(url, { headers: { authorization: `Bearer ${tokens[i % tokens.length]}` } });
      const body = (await res.json()) as { agent?: { status?: string } };
      return res.status === 200 && typeof body.agent?.status === 'string';
    };
    const refused = () => async () => {
      const res = await fetch(url);
      await res.arrayBuffer();
      return res.status === 401;
    };
    const direct = (i: number) => async () => {
      const res = await fetch(`${SUPABASE_URL}/rest/v1/rpc/agent_poll`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', apikey: key, authorization: `Bearer ${key}` },
        body: JSON.stringify({ p_token_hash: hashes[i % hashes.length], p_idle_seconds: 1800, p_presence_seconds: 20 }),
      });
      const body = (await res.json()) as { agent?: unknown };
      return res.ok && body.agent !== undefined;
    };

    // Warm-up: module loads, connection pools, plan caches.
    const sink = { latencies: [] as number[], seconds: 0, failures: 0 };
    await run(Array.from({ length: 60 }, (_, i) => poll(i)), 4, sink);
    await run(Array.from({ length: 60 }, () => refused()), 4, sink);
    await run(Array.from({ length: 60 }, (_, i) => direct(i)), 4, sink);
    if (sink.failures > 0) throw new Error(`${sink.failures} warm-up requests failed`);

    const samples = { poll: { latencies: [] as number[], seconds: 0, failures: 0 }, fn: { latencies: [] as number[], seconds: 0, failures: 0 }, db: { latencies: [] as number[], seconds: 0, failures: 0 } };
    let pollRoundTrips = 0;
    let fnRoundTrips = 0;
    const per = Math.ceil(total / rounds);
    for (let r = 0; r < rounds; r++) {
      let before = await stats();
      await run(Array.from({ length: per }, () => refused()), concurrency, samples.fn);
      fnRoundTrips += (await stats()) - before;
      await run(Array.from({ length: per }, (_, i) => direct(i)), concurrency, samples.db);
      before = await stats();
      await run(Array.from({ length: per }, (_, i) => poll(i + r)), concurrency, samples.poll);
      pollRoundTrips += (await stats()) - before;
    }

    const pollF = figures(samples.poll);
    const fnF = figures(samples.fn);
    const dbF = figures(samples.db);
    const roundTripsPerPoll = pollRoundTrips / pollF.requests;
    const out = {
      node: process.version,
      cores: cpus().length,
      concurrency,
      agents,
      poll: pollF,
      functionFloor: fnF,
      databaseFloor: dbF,
      ratio: { medianVsFunctionFloor: pollF.medianMs / fnF.medianMs, p95VsFunctionFloor: pollF.p95Ms / fnF.p95Ms, medianVsDatabaseFloor: pollF.medianMs / dbF.medianMs },
      roundTripsPerPoll,
      roundTripsPerRefusal: fnRoundTrips / fnF.requests,
    };
    if (o.json) {
      console.log(JSON.stringify(out));
    } else {
      const row = (label: string, a: string, b: string, c: string) => console.log(`  ${label.padEnd(18)}${a.padStart(12)}${b.padStart(16)}${c.padStart(16)}`);
      console.log(`bench:api — GET /api/agent/state, ${pollF.requests} polls by ${agents} agents, concurrency ${concurrency}, ${rounds} alternating rounds, Node ${process.version}, ${out.cores} cores`);
      row('', 'poll', 'function floor', 'database floor');
      row('latency median', `${pollF.medianMs.toFixed(1)} ms`, `${fnF.medianMs.toFixed(1)} ms`, `${dbF.medianMs.toFixed(1)} ms`);
      row('latency p95', `${pollF.p95Ms.toFixed(1)} ms`, `${fnF.p95Ms.toFixed(1)} ms`, `${dbF.p95Ms.toFixed(1)} ms`);
      row('latency max', `${pollF.maxMs.toFixed(1)} ms`, `${fnF.maxMs.toFixed(1)} ms`, `${dbF.maxMs.toFixed(1)} ms`);
      row('requests/s', pollF.requestsPerSecond.toFixed(0), fnF.requestsPerSecond.toFixed(0), dbF.requestsPerSecond.toFixed(0));
      row('failed answers', String(pollF.failures), String(fnF.failures), String(dbF.failures));
      console.log(`  poll / function floor: median ${out.ratio.medianVsFunctionFloor.toFixed(2)}×, p95 ${out.ratio.p95VsFunctionFloor.toFixed(2)}×; poll / database floor: median ${out.ratio.medianVsDatabaseFloor.toFixed(2)}×`);
      console.log(`  database round trips per poll (counted at the REST gateway): ${roundTripsPerPoll.toFixed(2)}; per refused request: ${out.roundTripsPerRefusal.toFixed(2)}`);
      console.log('  poll:           GET with a bearer token → front → twilio-run → /api/agent/state → REST gateway → PostgREST → agent_poll');
      console.log('  function floor: the same GET without a token: 401 from the function, no database');
      console.log('  database floor: POST /rest/v1/rpc/agent_poll with the same arguments, service key, no function in between');
    }
    if (pollF.failures + fnF.failures + dbF.failures > 0) process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
