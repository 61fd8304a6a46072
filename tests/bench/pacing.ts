/**
 * Pacing benchmark: every shipped scenario under power 1:1, 2:1, 3:1 and predictive with each
 * adaptive behaviour, one simulated shift each, printed as one table.
 * Usage: npm run bench:pacing [-- --seed N] [-- --json]
 * The work is split over two child processes (one per core on the reference machine).
 */
import { fork } from 'node:child_process';
import { loadScenarios } from '../../scripts/sim/pacing/scenario';
import { simulate, type SimResult } from '../../scripts/sim/pacing/simulate';
import { BENCH_STRATEGIES } from '../../scripts/sim/pacing/strategies';

interface Job {
  scenario: number;
  strategy: number;
  seed?: number;
}

const WORKER_FLAG = '--pacing-bench-worker';

function runJobs(jobs: Job[]): SimResult[] {
  const scenarios = loadScenarios();
  return jobs.map((job) => {
    const scenario = scenarios[job.scenario];
    const strategy = BENCH_STRATEGIES[job.strategy];
    if (scenario === undefined || strategy === undefined) throw new Error(`bad job ${JSON.stringify(job)}`);
    return simulate(scenario, strategy, job.seed ?? scenario.seed);
  });
}

function inWorker(jobs: Job[]): Promise<SimResult[]> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [WORKER_FLAG], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (message) => resolve(message as SimResult[]));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`bench worker exited with ${code}`));
    });
    child.send(jobs);
  });
}

function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

function table(results: SimResult[]): string {
  const header = ['scenario', 'strategy', 'talk min/agent-h', 'occupancy %', 'abandon %', 'calls/agent-h', 'connects/agent-h', 'agent wait s', 'peak lines'];
  const rows = results.map((r) => [
    r.scenario,
    r.strategy,
    r.talkMinPerAgentHour.toFixed(1),
    (100 * r.occupancy).toFixed(1),
    (100 * r.abandonRate).toFixed(2),
    r.dialsPerAgentHour.toFixed(1),
    r.connectsPerAgentHour.toFixed(1),
    r.meanAgentWaitS.toFixed(1),
    String(r.peakLines),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i] as number, i < 2)).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  let previous = '';
  for (const row of rows) {
    if (previous !== '' && row[0] !== previous) out.push('');
    previous = row[0] as string;
    out.push(line(row));
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const seedIndex = args.indexOf('--seed');
  const seed = seedIndex >= 0 ? Number(args[seedIndex + 1]) : undefined;
  const scenarios = loadScenarios();
  const jobs: Job[] = [];
  scenarios.forEach((_, s) => BENCH_STRATEGIES.forEach((_, k) => jobs.push(seed === undefined ? { scenario: s, strategy: k } : { scenario: s, strategy: k, seed })));
  const started = Date.now();
  // Deal the jobs round-robin so both workers get a share of the big scenarios.
  const halves: Job[][] = [[], []];
  jobs.forEach((job, i) => (halves[i % 2] as Job[]).push(job));
  const parts = await Promise.all(halves.map((half) => inWorker(half)));
  const byKey = new Map<string, SimResult>();
  parts.flat().forEach((r) => byKey.set(`${r.scenario}\u0000${r.strategy}`, r));
  const results = jobs.map((job) => {
    const r = byKey.get(`${scenarios[job.scenario]?.name}\u0000${BENCH_STRATEGIES[job.strategy]?.label}`);
    if (r === undefined) throw new Error('missing result');
    return r;
  });
  if (args.includes('--json')) {
    console.log(JSON.stringify(results, null, 2));
    return;
  }
  console.log(`discador pacing bench: ${scenarios.length} scenarios x ${BENCH_STRATEGIES.length} strategies, one ${scenarios[0]?.shiftHours ?? '?'} h shift each${seed === undefined ? ' (scenario seeds)' : `, seed ${seed}`}`);
  console.log('');
  console.log(table(results));
  console.log('');
  console.log(`abandon % = abandoned / live answers (not connected within 2 s of the disclaimer's end); agent wait = mean idle time before each connect.`);
  console.log(`${jobs.length} runs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv.includes(WORKER_FLAG)) {
  process.once('message', (jobs) => {
    const results = runJobs(jobs as Job[]);
    process.send?.(results, () => process.exit(0));
  });
} else {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
