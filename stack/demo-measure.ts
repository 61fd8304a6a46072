/**
 * `npm run demo:measure -- [--seconds N] [--agents N]`: starts an ephemeral stack running the
 * demo (as `npm start -- --ephemeral --demo` does), then prints how long after the stack was
 * ready the supervisor's board first showed a call in progress, and what the demo produces per
 * minute over the next N seconds (default 120), counted from the database's rows: calls by
 * kind, connects to agents, queue entries and how they ended.
 */
import { Client } from 'pg';
import { startStackProcess } from '../tests/helpers/stack';
import { DEMO } from './demo';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number`);
  return n;
}

async function main(): Promise<void> {
  const seconds = arg('--seconds', 120);
  const agents = arg('--agents', 6);
  const t0 = Date.now();
  const stack = await startStackProcess(['--demo', '--demo-agents', String(agents)]);
  const ready = Date.now();
  const db = new Client({ connectionString: stack.env.DATABASE_URL });
  await db.connect();
  try {
    const fb = stack.env.FUNCTIONS_BASE_URL;
    const login = (await (await fetch(`${fb}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'supervisor@discador.local', password: 'demo-supervisor' }) })).json()) as { token: string };
    let firstS = NaN;
    while (Date.now() - ready < 60_000) {
      const b = (await (await fetch(`${fb}/api/board`, { headers: { authorization: `Bearer ${login.token}` } })).json()) as { calls: { status: string }[] };
      if (b.calls.some((c) => c.status === 'in-progress')) {
        firstS = (Date.now() - ready) / 1000;
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const [{ from }] = (await db.query<{ from: Date }>('select now() as from')).rows as [{ from: Date }];
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const { rows: [c] } = await db.query<Record<string, number>>(
      `select count(*) filter (where direction = 'outbound-api' and call_sid is not null)::int as dials,
              count(*) filter (where direction = 'outbound-api' and connected_at is not null)::int as connects,
              count(*) filter (where direction = 'inbound' and to_number = $2)::int as callers,
              count(*) filter (where answered_by like 'machine%')::int as machines,
              count(*) filter (where abandoned_at is not null)::int as abandoned
         from calls where created_at >= $1`,
      [from, DEMO.serviceNumber],
    );
    const { rows: q } = await db.query<{ result: string | null; n: number }>(
      `select result, count(*)::int as n from queue_entries where queue_name = $2 and entered_at >= $1 group by 1 order by 1`,
      [from, DEMO.queue],
    );
    const perMin = (n: number) => ((n * 60) / seconds).toFixed(1);
    console.log(`stack ready in ${((ready - t0) / 1000).toFixed(1)} s; first call in progress on the board ${firstS.toFixed(1)} s after ready`);
    console.log(`over ${seconds} s with ${agents} emulated agents (per minute):`);
    console.log(`  campaign dials ${perMin(c!.dials!)}, connected to an agent ${perMin(c!.connects!)}, machines ${perMin(c!.machines!)}, abandoned ${perMin(c!.abandoned!)}`);
    console.log(`  service-number callers ${perMin(c!.callers!)}; queue entries by result: ${q.map((r) => `${r.result ?? 'waiting'} ${r.n}`).join(', ')}`);
    console.log(`  calls (dials + callers) ${perMin(c!.dials! + c!.callers!)}, calls reaching an agent ${perMin(c!.connects! + (q.find((r) => r.result === 'answered')?.n ?? 0))}`);
  } finally {
    await db.end();
    await stack.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
