/**
 * `npm run bench:alerts [-- --runs N]`: what the alert rules cost the jobs heartbeat, on a local
 * stack (no emulator; Slack is the stack's stand-in) seeded with a busy floor: 10 running
 * campaigns in their window with 50 agents, 5,000 calls today (5 % abandoned), 20 caller IDs
 * (3 at their cap, 1 flagged), 5 queues with 40 callers waiting (half of them for minutes), 30
 * Twilio Debugger events and 20 failing recording transfers.
 *
 * - evaluate: `alerts_evaluate` straight to Postgres (the rules and transitions, no delivery due);
 * - heartbeat: POST /api/jobs through the front and twilio-run (the alert round: three round
 *   trips, plus the recordings' work beside it).
 */
import { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { tickHeader } from '../../src/lib/domain/dialer/tick-auth';
import { alertSettings } from '../../src/lib/domain/alerts/settings';
import { loadConfig } from '../../src/lib/runtime/config';
import { startStackProcess } from '../helpers/stack';

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { runs: s.length, p50Ms: Number(pct(s, 50).toFixed(1)), p95Ms: Number(pct(s, 95).toFixed(1)), maxMs: Number((s.at(-1) ?? NaN).toFixed(1)) };
};

async function seed(c: Client): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  await c.query('begin');
  const campaigns = (
    await c.query<{ id: string }>(
      `insert into campaigns (name, mode, status, window_profile, weekday_start, weekday_end, saturday_start, saturday_end, allow_sunday, sunday_start, sunday_end, abandon_cap, amd_human_accuracy)
       select 'bench alerts ' || $1 || ' ' || g, 'predictive', 'active', 'custom', '00:00', '24:00', '00:00', '24:00', true, '00:00', '24:00', 0.03, 0.95 from generate_series(1, 10) g returning id`,
      [tag],
    )
  ).rows.map((r) => r.id);
  await c.query(`insert into agents (name, status, campaign_id) select 'bench ' || $1 || ' ' || g, case when g % 3 = 0 then 'paused' else 'available' end, ($2::bigint[])[1 + g % 10] from generate_series(1, 50) g where g % 10 < 7`, [tag, campaigns]);
  await c.query(
    `insert into calls (call_sid, direction, from_number, to_number, status, campaign_id, created_at, live_at, abandoned_at)
     select 'CA' || md5($1 || g), 'outbound-api', '+551130002000', '+5511970000000', 'completed', ($2::bigint[])[1 + g % 10], app_now(), app_now(), case when g % 20 = 0 then app_now() end
       from generate_series(1, 5000) g`,
    [tag, campaigns],
  );
  await c.query(
    `insert into phone_numbers (phone_number, daily_cap, calls_today, calls_today_date, spam_flagged_at)
     select '+55119' || lpad((80000000 + g)::text, 8, '0'), 100, case when g <= 3 then 100 else 10 end, (app_now() at time zone 'America/Sao_Paulo')::date, case when g = 4 then app_now() end
       from generate_series(1, 20) g on conflict do nothing`,
  );
  for (let q = 0; q < 5; q++) await c.query(`insert into service_queues (name, service_level_seconds) values ($1, 20) on conflict do nothing`, [`bench-${tag}-${q}`]);
  await c.query(
    `insert into queue_entries (call_sid, queue_name, entered_at) select 'CA' || md5('q' || $1 || g), 'bench-' || $1 || '-' || (g % 5), app_now() - make_interval(secs => g * 10) from generate_series(1, 40) g`,
    [tag],
  );
  await c.query(
    `insert into alert_debugger_events (sid, account_sid, level, error_code, received_at, payload)
     select 'NO' || md5($1 || g), 'AC' || repeat('0', 32), case when g % 2 = 0 then 'Error' else 'Warning' end, (11200 + g % 4)::text, app_now(), '{}' from generate_series(1, 30) g`,
    [tag],
  );
  await c.query(
    `with r as (insert into calls (call_sid, direction, from_number, to_number, status) select 'CA' || md5('r' || $1 || g), 'inbound', '+5511970000001', '+551130001000', 'completed' from generate_series(1, 20) g returning call_sid),
          rec as (insert into recordings (recording_sid, call_sid, status) select 'RE' || md5(call_sid), call_sid, 'completed' from r returning id, recording_sid)
     insert into recording_transfers (recording_id, recording_sid, state, attempts, last_error, last_error_at) select id, recording_sid, 'failed', 6, 'bench', app_now() from rec`,
    [tag],
  );
  await c.query('commit');
}

async function main(): Promise<void> {
  const o = new Command().option('--runs <n>', 'runs of each measure', '40').parse(process.argv).opts<{ runs: string }>();
  const runs = Number(o.runs);
  const stack = await startStackProcess(['--no-emulator']);
  const c = new Client({ connectionString: stack.env.DATABASE_URL });
  await c.connect();
  try {
    await seed(c);
    const settings = alertSettings(loadConfig({ SUPABASE_URL: stack.env.SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: stack.env.SUPABASE_SERVICE_ROLE_KEY, PUBLIC_BASE_URL: stack.env.FUNCTIONS_BASE_URL }));
    const campaigns = (await c.query<{ id: string }>(`select id from campaigns where status = 'active'`)).rows.map((r) => Number(r.id));
    const jobs = async () => {
      const t = performance.now();
      const res = await fetch(`${stack.env.FUNCTIONS_BASE_URL}/api/jobs`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-discador-tick': tickHeader(stack.env.TICK_SECRET) }, body: '{}' });
      const body = (await res.json()) as { alerts?: { open?: number } };
      return { ms: performance.now() - t, status: res.status, open: body.alerts?.open };
    };
    const first = await jobs(); // opens the alerts and sends their messages to the stand-in
    const evaluate: number[] = [];
    const heartbeat: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await c.query(`select public.alerts_evaluate(null, $1::jsonb, $2::bigint[], array['slack'], 0, 30)`, [JSON.stringify(settings), campaigns]);
      evaluate.push(performance.now() - t);
      const j = await jobs();
      if (j.status !== 200) throw new Error(`/api/jobs answered ${j.status}`);
      heartbeat.push(j.ms);
    }
    const open = (await c.query<{ n: string }>(`select count(*) as n from alerts where status = 'open'`)).rows[0]!.n;
    console.log(JSON.stringify({ openAlerts: Number(open), firstHeartbeatMs: Number(first.ms.toFixed(1)), evaluate: stats(evaluate), heartbeat: stats(heartbeat) }, null, 2));
  } finally {
    await c.end();
    await stack.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
