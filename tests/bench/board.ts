/**
 * `npm run bench:board [-- --polls N --concurrency C --agents A --calls L --json]`: the
 * supervisor's board poll, GET /api/board, through the whole local stack at 50 agents and
 * 200 live calls (defaults), against a floor measured in the same run:
 *
 * - poll: a signed-in supervisor polling (bearer token) through the front → twilio-run →
 *   /api/board → the REST gateway → PostgREST → Postgres (board_snapshot);
 * - database floor: the same board_snapshot call straight to the REST API (service key, no
 *   function in between).
 *
 * Seeded: A agents of two campaigns (a quarter available, a quarter paused, the rest busy or
 * in wrap-up) with an hour of status history, L live calls (busy agents' calls recorded, the
 * rest ringing or in a service queue), 2,000 ended calls today over 20 caller IDs, and 20
 * waiting queue entries. Database round trips per poll are counted at the REST gateway (every
 * request that reaches PostgREST), as bench:api does. Rounds alternate so drift hits both.
 */
import { Command } from 'commander';
import { createHash, randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Client } from 'pg';
import { startStackProcess } from '../helpers/stack';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

type Sample = { latencies: number[]; seconds: number; failures: number };

async function run(requests: (() => Promise<boolean>)[], concurrency: number, into: Sample) {
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

function figures(s: Sample) {
  const sorted = [...s.latencies].sort((a, b) => a - b);
  return { requests: sorted.length, p50Ms: percentile(sorted, 50), p95Ms: percentile(sorted, 95), maxMs: sorted[sorted.length - 1] ?? NaN, failures: s.failures };
}

const sid = (p: string) => p + randomBytes(16).toString('hex');
const phone = (i: number, area = '11') => `+55${area}9${String(10_000_000 + i).slice(-8)}`;

async function seed(databaseUrl: string, agents: number, calls: number): Promise<{ token: string; hash: string }> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query('begin');
    const tag = randomBytes(4).toString('hex');
    const campaigns = (await c.query<{ id: string }>(`insert into campaigns (name, mode, status) values ($1, 'predictive', 'active'), ($2, 'power', 'active') returning id`, [`bench A ${tag}`, `bench B ${tag}`])).rows.map((r) => r.id);
    await c.query(`insert into service_queues (name) values ($1)`, [`bench-${tag}`]);
    const callerIds = Array.from({ length: 20 }, (_, i) => phone(i, '21'));
    for (const n of callerIds) await c.query(`insert into phone_numbers (phone_number, calls_today, calls_today_date) values ($1, 100, (now() at time zone 'America/Sao_Paulo')::date)`, [n]);
    const statuses = ['available', 'paused', 'busy', 'wrap_up'];
    const busy: { id: string; campaign: string }[] = [];
    for (let i = 0; i < agents; i++) {
      const status = statuses[i % 4]!;
      const campaign = campaigns[i % 2]!;
      const id = (
        await c.query<{ id: string }>(
          `insert into agents (name, client_identity, status, status_changed_at, pause_reason, campaign_id, last_seen_at) values ($1, $2, $3, now() - interval '3 minutes', $4, $5, now()) returning id`,
          [`Bench ${i} ${tag}`, `bench-${i}-${tag}`, status, status === 'paused' ? 'almoço' : null, campaign],
        )
      ).rows[0]!.id;
      // An hour of history: alternating available and busy periods of 5 minutes.
      for (let m = 60; m > 0; m -= 5) {
        await c.query(`insert into agent_status_history (agent_id, status, source, started_at, ended_at) values ($1, $2, 'system', now() - $3 * interval '1 minute', case when $3 = 5 then null else now() - ($3 - 5) * interval '1 minute' end)`, [
          id,
          m === 5 ? (status === 'wrap_up' ? 'wrap_up' : status) : m % 10 === 0 ? 'available' : 'busy',
          m,
        ]);
      }
      if (status === 'busy') busy.push({ id, campaign });
    }
    // Live calls: the busy agents' (recorded), then ringing campaign calls, then queue callers.
    for (let i = 0; i < calls; i++) {
      const s = sid('CA');
      const agent = busy[i];
      const campaign = campaigns[i % 2]!;
      if (agent) {
        await c.query(
          `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, agent_id, status, created_at, answered_at, live_at, connected_at, amd_at, answered_by)
           values ($1, 'outbound-api', $2::text, $3, $2::text, $4, $5, 'in-progress', now() - interval '2 minutes', now() - interval '110 seconds', now() - interval '108 seconds', now() - interval '100 seconds', now() - interval '108 seconds', 'human')`,
          [s, callerIds[i % 20], phone(i), agent.campaign, agent.id],
        );
        await c.query(`update agents set current_call_sid = $1 where id = $2`, [s, agent.id]);
        await c.query(`insert into recordings (recording_sid, call_sid, status) values ($1, $2, 'in-progress')`, [sid('RE'), s]);
      } else if (i % 4 === 0) {
        await c.query(`insert into calls (call_sid, direction, from_number, to_number, status, created_at, answered_at) values ($1, 'inbound', $2, '+551130009999', 'in-progress', now() - interval '1 minute', now() - interval '1 minute')`, [s, phone(i, '31')]);
        await c.query(`insert into queue_entries (call_sid, queue_name, entered_at) values ($1, $2, now() - interval '50 seconds')`, [s, `bench-${tag}`]);
      } else {
        await c.query(`insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, status, created_at) values ($1, 'outbound-api', $2::text, $3, $2::text, $4, 'ringing', now() - interval '10 seconds')`, [s, callerIds[i % 20], phone(i), campaign]);
      }
    }
    // Ended calls today (within São Paulo's day and the last hour when it is early).
    await c.query(
      `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, status, duration, created_at, ended_at, answered_at, answered_by, amd_at, live_at, abandoned_at, connected_at)
       select 'CA' || md5(random()::text || g), 'outbound-api', n, '+5511' || (900000000 + g)::text, n, ($2::bigint[])[1 + g % 2],
              case when g % 3 = 0 then 'no-answer' else 'completed' end, (g % 40),
              t, t + interval '30 seconds', case when g % 3 <> 0 then t + interval '5 seconds' end,
              case when g % 3 <> 0 then (array['human','machine_start','machine_end_beep','unknown'])[1 + g % 4] end,
              case when g % 3 <> 0 then t + interval '7 seconds' end,
              case when g % 3 <> 0 and g % 4 in (0, 3) then t + interval '7 seconds' end,
              case when g % 3 <> 0 and g % 4 in (0, 3) and g % 17 = 0 then t + interval '9 seconds' end,
              case when g % 3 <> 0 and g % 4 in (0, 3) and g % 17 <> 0 then t + interval '8 seconds' end
         from generate_series(1, 2000) g
         cross join lateral (select ($1::text[])[1 + g % 20] as n,
                                    greatest(date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo', now() - interval '1 hour')
                                      + (g % 1000) * interval '1 second' as t) x`,
      [callerIds, campaigns],
    );
    const user = (await c.query<{ id: string }>(`insert into users (email, name, role) values ($1, 'Bench supervisor', 'supervisor') returning id`, [`sup-${tag}@bench.local`])).rows[0]!.id;
    const token = randomBytes(32).toString('base64url');
    const hash = createHash('sha256').update(token).digest('hex');
    await c.query(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '12 hours')`, [user, hash]);
    await c.query('commit');
    await c.query('analyze');
    return { token, hash };
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--polls <n>', 'polls per path', '400')
    .option('--concurrency <n>', 'requests in flight (supervisors polling at once)', '4')
    .option('--agents <n>', 'agents on the floor', '50')
    .option('--calls <n>', 'live calls', '200')
    .option('--rounds <n>', 'alternating rounds', '2')
    .option('--json', 'print the figures as one JSON document')
    .parse(process.argv)
    .opts<{ polls: string; concurrency: string; agents: string; calls: string; rounds: string; json?: boolean }>();
  const [total, concurrency, agents, calls, rounds] = [o.polls, o.concurrency, o.agents, o.calls, o.rounds].map(Number) as [number, number, number, number, number];
  if (![total, concurrency, agents, calls, rounds].every((n) => Number.isInteger(n) && n > 0)) throw new Error('--polls, --concurrency, --agents, --calls and --rounds must be positive integers');

  const stack = await startStackProcess(['--no-emulator']);
  try {
    const { FUNCTIONS_BASE_URL: base, SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: key, DATABASE_URL } = stack.env;
    const { token, hash } = await seed(DATABASE_URL, agents, calls);
    const stats = async () => ((await (await fetch(`${SUPABASE_URL}/_local/stats`)).json()) as { restRequests: number }).restRequests;
    let shape = { agents: 0, calls: 0, bytes: 0 };
    const ok = (b: { agents?: unknown[]; calls?: unknown[] }) => Array.isArray(b.agents) && Array.isArray(b.calls) && b.agents.length >= agents && b.calls.length >= calls;
    const poll = () => async () => {
      const res = await fetch(`${base}/api/board`, { headers: { authorization: `Bearer ${token}` } });
      const text = await res.text();
      const body = JSON.parse(text) as { agents?: unknown[]; calls?: unknown[] };
      shape = { agents: body.agents?.length ?? 0, calls: body.calls?.length ?? 0, bytes: text.length };
      return res.status === 200 && ok(body);
    };
    const direct = () => async () => {
      const res = await fetch(`${SUPABASE_URL}/rest/v1/rpc/board_snapshot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', apikey: key, authorization: `Bearer ${key}` },
        body: JSON.stringify({ p_session_hash: hash, p_idle_seconds: 1800, p_short_seconds: 6 }),
      });
      const body = (await res.json()) as { agents?: unknown[]; calls?: unknown[] };
      return res.ok && ok(body);
    };

    const sink: Sample = { latencies: [], seconds: 0, failures: 0 };
    await run(Array.from({ length: 30 }, () => poll()), 2, sink);
    await run(Array.from({ length: 30 }, () => direct()), 2, sink);
    if (sink.failures > 0) throw new Error(`${sink.failures} warm-up requests failed`);

    const samples = { poll: { latencies: [], seconds: 0, failures: 0 } as Sample, db: { latencies: [], seconds: 0, failures: 0 } as Sample };
    let pollRoundTrips = 0;
    const per = Math.ceil(total / rounds);
    for (let r = 0; r < rounds; r++) {
      await run(Array.from({ length: per }, () => direct()), concurrency, samples.db);
      const before = await stats();
      await run(Array.from({ length: per }, () => poll()), concurrency, samples.poll);
      pollRoundTrips += (await stats()) - before;
    }
    const pollF = figures(samples.poll);
    const dbF = figures(samples.db);
    const out = { node: process.version, cores: cpus().length, concurrency, agents, liveCalls: calls, board: shape, poll: pollF, databaseFloor: dbF, roundTripsPerPoll: pollRoundTrips / pollF.requests };
    if (o.json) console.log(JSON.stringify(out));
    else {
      const row = (label: string, a: string, b: string) => console.log(`  ${label.padEnd(18)}${a.padStart(12)}${b.padStart(18)}`);
      console.log(`bench:board — GET /api/board, ${pollF.requests} polls, ${agents} agents, ${calls} live calls, concurrency ${concurrency}, ${rounds} alternating rounds, Node ${process.version}, ${out.cores} cores`);
      console.log(`  board: ${shape.agents} agents, ${shape.calls} calls in progress, ${(shape.bytes / 1024).toFixed(0)} kB of JSON`);
      row('', 'poll', 'database floor');
      row('latency p50', `${pollF.p50Ms.toFixed(1)} ms`, `${dbF.p50Ms.toFixed(1)} ms`);
      row('latency p95', `${pollF.p95Ms.toFixed(1)} ms`, `${dbF.p95Ms.toFixed(1)} ms`);
      row('latency max', `${pollF.maxMs.toFixed(1)} ms`, `${dbF.maxMs.toFixed(1)} ms`);
      row('failed answers', String(pollF.failures), String(dbF.failures));
      console.log(`  database round trips per poll (counted at the REST gateway): ${out.roundTripsPerPoll.toFixed(2)}`);
      console.log('  poll:           GET with a bearer token → front → twilio-run → /api/board → REST gateway → PostgREST → board_snapshot');
      console.log('  database floor: POST /rest/v1/rpc/board_snapshot with the same arguments, service key, no function in between');
    }
    if (pollF.failures + dbF.failures > 0) process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
