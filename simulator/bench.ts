/**
 * Pacing benchmark: every shipped scenario under power 1:1, 2:1, 3:1 and predictive with each
 * adaptive behaviour, one simulated shift each, printed as one table.
 * Usage: npm run bench:pacing [-- --seed N] [-- --json]
 * The work is split over child processes, one per core (simulator/parallel.ts).
 */
import { runInParallel, type SimJob } from './parallel';
import { loadScenarios } from './scenario';
import type { SimResult } from './simulate';
import { BENCH_STRATEGIES } from './strategies';

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
  const jobs: SimJob[] = [];
  for (const sc of scenarios) for (const st of BENCH_STRATEGIES) jobs.push({ scenario: sc.name, strategy: st.label, seed });
  const started = Date.now();
  const results = await runInParallel(jobs);
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

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
