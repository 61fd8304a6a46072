/**
 * `npm run bench:history [-- --calls N --days D --requests R --json]`: GET /api/history
 * through the whole local stack on a realistic volume, against a floor measured in the same
 * run. Seeded (one transaction, set-based): 100,000 campaign calls over the last 30 days
 * (defaults) in business hours over 4 campaigns and 40 agents, with the AMD, live, abandon
 * and connect times the dialer writes, attempts Twilio refused, a disposition for each
 * connected call, the agents' status periods (available / busy / wrap-up / paused through
 * each working day) and 20,000 queue entries. Then, alternating:
 *
 * - report: a signed-in supervisor's GET /api/history (bearer token) → front → twilio-run →
 *   REST gateway → PostgREST → history_report, for three views: the 30 days by day, the last 7
 *   days by hour, and the 30 days of one campaign by day;
 * - database floor: the same history_report straight through PostgREST (service key).
 *
 * Database round trips per report are counted at the REST gateway, as bench:board does.
 */
import { Command } from 'commander';
import { createHash, randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Client } from 'pg';
import { startStackProcess } from '../helpers/stack';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export async function seed(databaseUrl: string, calls: number, days: number, statusDays = days): Promise<{ token: string; hash: string; campaign: string }> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query('begin');
    const tag = randomBytes(4).toString('hex');
    const campaigns = (
      await c.query<{ id: string }>(
        `insert into campaigns (name, mode, status, amd_human_accuracy) select 'bench ' || g || ' ' || $1, 'predictive', 'paused', 0.9 from generate_series(1, 4) g returning id`,
        [tag],
      )
    ).rows.map((r) => r.id);
    const agents = (
      await c.query<{ id: string }>(
        `insert into agents (name, client_identity, status, campaign_id) select 'Bench ' || g || ' ' || $1, 'bh-' || g || '-' || $1, 'offline', ($2::bigint[])[1 + g % 4] from generate_series(1, 40) g returning id`,
        [tag, campaigns],
      )
    ).rows.map((r) => r.id);
    // Calls: spread over the days' business hours (08:00-20:00 São Paulo), a tenth refused by Twilio.
    await c.query(
      `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, agent_id, status, duration, created_at,
                          answered_by, amd_at, live_at, connected_at, abandoned_at, end_reason)
       select case when g % 10 = 9 then null else 'CA' || md5($4 || g) end, 'outbound-api', n, '+5511' || (900000000 + g % 99999999)::text, n,
              ($1::bigint[])[1 + g % 4], case when kind = 'connected' then ($2::bigint[])[1 + g % 40] end,
              case when g % 10 = 9 then 'failed' when kind = 'noanswer' then 'no-answer' else 'completed' end,
              case when g % 10 = 9 then null when kind = 'noanswer' then 0 when kind = 'machine' then 4 + g % 20 else 20 + g % 300 end,
              t,
              case when kind in ('machine', 'connected', 'abandoned') then case when kind = 'machine' then 'machine_start' else 'human' end end,
              case when kind in ('machine', 'connected', 'abandoned') then t + interval '8 seconds' end,
              case when kind in ('connected', 'abandoned') then t + interval '8 seconds' end,
              case when kind = 'connected' then t + interval '10 seconds' end,
              case when kind = 'abandoned' then t + interval '14 seconds' end,
              case when g % 10 = 9 then 'twilio_refused' end
         from generate_series(1, $3::int) g
         cross join lateral (select '+5521' || (990000000 + g % 20)::text as n,
                                    (date_trunc('day', now() at time zone 'America/Sao_Paulo') - ((g % $5::int) * interval '1 day') + interval '8 hours'
                                      + ((g::bigint * 7919) % 43200) * interval '1 second') at time zone 'America/Sao_Paulo' as t,
                                    case when g % 10 = 9 then 'refused' when g % 5 = 0 then 'noanswer' when g % 5 = 1 then 'machine'
                                         when g % 31 = 0 then 'abandoned' else 'connected' end as kind) x`,
      [campaigns, agents, calls, tag, days],
    );
    await c.query(
      `insert into call_dispositions (call_sid, agent_id, code, created_at)
       select call_sid, agent_id, (array['promessa', 'venda', 'retornar', 'recusa'])[1 + id % 4], connected_at + interval '3 minutes'
         from calls where connected_at is not null and campaign_id = any($1::bigint[])`,
      [campaigns],
    );
    // Each agent's working day: 08:00-20:00 in 30-minute cycles of available 10, busy 15, wrap-up 2, paused 3; offline otherwise.
    await c.query(
      `insert into agent_status_history (agent_id, status, source, started_at, ended_at)
       select a, s.status, 'system', d + m * interval '30 minutes' + s.off * interval '1 minute', d + m * interval '30 minutes' + (s.off + s.len) * interval '1 minute'
         from unnest($1::bigint[]) a
         cross join generate_series(0, $2::int - 1) k
         cross join lateral (select (date_trunc('day', now() at time zone 'America/Sao_Paulo') - k * interval '1 day' + interval '8 hours') at time zone 'America/Sao_Paulo' as d) dd
         cross join generate_series(0, 23) m
         cross join (values ('available', 0, 10), ('busy', 10, 15), ('wrap_up', 25, 2), ('paused', 27, 3)) s(status, off, len)
        where d + m * interval '30 minutes' < now() - interval '30 minutes'`,
      [agents, statusDays],
    );
    await c.query(`insert into service_queues (name) values ($1)`, [`bench-${tag}`]);
    await c.query(
      `insert into queue_entries (call_sid, queue_name, entered_at, left_at, result, waited_seconds)
       select 'CA' || md5('q' || $2 || g), $1, t, t + w * interval '1 second', case when g % 7 = 0 then 'abandoned' else 'answered' end, w
         from generate_series(1, 20000) g
         cross join lateral (select (date_trunc('day', now() at time zone 'America/Sao_Paulo') - ((g % $3::int) * interval '1 day') + interval '8 hours'
                                      + ((g::bigint * 104729) % 43200) * interval '1 second') at time zone 'America/Sao_Paulo' as t, g % 90 as w) x
        where t < now()`,
      [`bench-${tag}`, tag, days],
    );
    const user = (await c.query<{ id: string }>(`insert into users (email, name, role) values ($1, 'Bench supervisor', 'supervisor') returning id`, [`sup-${tag}@bench.local`])).rows[0]!.id;
    const token = randomBytes(32).toString('base64url');
    const hash = createHash('sha256').update(token).digest('hex');
    await c.query(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '12 hours')`, [user, hash]);
    await c.query('commit');
    await c.query('analyze');
    return { token, hash, campaign: campaigns[0]! };
  } finally {
    await c.end();
  }
}

function spDay(ms: number): string {
  return new Date(ms - 3 * 3600_000).toISOString().slice(0, 10);
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--calls <n>', 'calls seeded', '100000')
    .option('--days <n>', 'days they spread over', '30')
    .option('--status-days <n>', "days of agents' status periods (more than --days: a table older than the range)")
    .option('--requests <n>', 'requests per view and path', '20')
    .option('--json', 'print the figures as one JSON document')
    .parse(process.argv)
    .opts<{ calls: string; days: string; statusDays?: string; requests: string; json?: boolean }>();
  const [calls, days, requests] = [o.calls, o.days, o.requests].map(Number) as [number, number, number];
  const statusDays = o.statusDays === undefined ? days : Number(o.statusDays);
  if (!Number.isInteger(statusDays) || statusDays < days) throw new Error('--status-days must be a whole number ≥ --days');
  if (![calls, days, requests].every((n) => Number.isInteger(n) && n > 0) || days > 62) throw new Error('--calls, --requests and --days (≤ 62, the longest range) must be positive integers');

  const stack = await startStackProcess(['--no-emulator']);
  try {
    const { FUNCTIONS_BASE_URL: base, SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: key, DATABASE_URL } = stack.env;
    const t0 = performance.now();
    const { token, hash, campaign } = await seed(DATABASE_URL, calls, days, statusDays);
    const seedSeconds = (performance.now() - t0) / 1000;
    const now = Date.now();
    const views = [
      { name: `${days} days by day`, q: { from: spDay(now - (days - 1) * 86_400_000), to: spDay(now), group: 'day' } as Record<string, string> },
      { name: '7 days by hour', q: { from: spDay(now - 6 * 86_400_000), to: spDay(now), group: 'hour' } as Record<string, string> },
      { name: `${days} days, one campaign`, q: { from: spDay(now - (days - 1) * 86_400_000), to: spDay(now), group: 'day', campaign_id: campaign } as Record<string, string> },
    ];
    const stats = async () => ((await (await fetch(`${SUPABASE_URL}/_local/stats`)).json()) as { restRequests: number }).restRequests;
    const results: Record<string, unknown>[] = [];
    for (const v of views) {
      const poll = async () => {
        const res = await fetch(`${base}/api/history?${new URLSearchParams(v.q).toString()}`, { headers: { authorization: `Bearer ${token}` } });
        const text = await res.text();
        // A report over its time budget is an answer (503 report_timeout), counted apart.
        if (res.status === 503 && text.includes('"report_timeout"')) return -1;
        if (res.status !== 200) throw new Error(`${v.name}: ${res.status} ${text}`);
        return text.length;
      };
      const direct = async () => {
        const from = new Date(`${v.q['from']}T00:00:00-03:00`).toISOString();
        const to = new Date(new Date(`${v.q['to']}T00:00:00-03:00`).getTime() + 86_400_000).toISOString();
        const res = await fetch(`${SUPABASE_URL}/rest/v1/rpc/history_report`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', apikey: key, authorization: `Bearer ${key}` },
          body: JSON.stringify({ p_session_hash: hash, p_idle_seconds: 1800, p_from: from, p_to: to, p_group: v.q['group'], p_campaign_id: v.q['campaign_id'] ?? null, p_agent_id: null, p_short_seconds: 6 }),
        });
        const body = await res.text();
        if (res.status === 500 && body.includes('"57014"')) return;
        if (!res.ok) throw new Error(`${v.name} (floor): ${res.status} ${body}`);
      };
      await poll(); // warm-up
      await direct();
      const lat = { report: [] as number[], db: [] as number[] };
      let bytes = 0;
      let trips = 0;
      let timeouts = 0;
      for (let i = 0; i < requests; i++) {
        let t = performance.now();
        await direct();
        lat.db.push(performance.now() - t);
        const before = await stats();
        t = performance.now();
        const got = await poll();
        lat.report.push(performance.now() - t);
        if (got < 0) timeouts += 1;
        else bytes = got;
        trips += (await stats()) - before;
      }
      const f = (xs: number[]) => {
        const s = [...xs].sort((a, b) => a - b);
        return { p50Ms: percentile(s, 50), p95Ms: percentile(s, 95), maxMs: s[s.length - 1]! };
      };
      results.push({ view: v.name, query: v.q, bytes, report: f(lat.report), databaseFloor: f(lat.db), roundTripsPerReport: trips / requests, reportTimeouts: timeouts });
    }
    const out = { node: process.version, cores: cpus().length, calls, days, statusDays, seedSeconds, requests, results };
    if (o.json) console.log(JSON.stringify(out));
    else {
      console.log(`bench:history — GET /api/history on ${calls.toLocaleString('en')} calls over ${days} days (seeded in ${seedSeconds.toFixed(0)} s), ${requests} requests per view, one at a time, Node ${process.version}, ${out.cores} cores`);
      console.log(`  ${'view'.padEnd(26)}${'report p50'.padStart(12)}${'p95'.padStart(10)}${'floor p50'.padStart(12)}${'p95'.padStart(10)}${'JSON'.padStart(9)}${'trips'.padStart(7)}`);
      for (const r of results as { view: string; bytes: number; report: { p50Ms: number; p95Ms: number }; databaseFloor: { p50Ms: number; p95Ms: number }; roundTripsPerReport: number; reportTimeouts: number }[])
        console.log(
          `  ${r.view.padEnd(26)}${(r.report.p50Ms.toFixed(0) + ' ms').padStart(12)}${(r.report.p95Ms.toFixed(0) + ' ms').padStart(10)}${(r.databaseFloor.p50Ms.toFixed(0) + ' ms').padStart(12)}${(r.databaseFloor.p95Ms.toFixed(0) + ' ms').padStart(10)}${((r.bytes / 1024).toFixed(0) + ' kB').padStart(9)}${r.roundTripsPerReport.toFixed(2).padStart(7)}${r.reportTimeouts ? `  ${r.reportTimeouts} × 503 report_timeout` : ''}`,
        );
      console.log('  report: GET with a bearer token → front → twilio-run → /api/history → REST gateway → PostgREST → history_report');
      console.log('  floor:  POST /rest/v1/rpc/history_report with the same arguments, service key, no function in between');
    }
  } finally {
    await stack.stop();
  }
}

if (require.main === module)
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
