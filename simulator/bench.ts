/**
 * Pacing benchmark: every shipped scenario under power 1:1, 2:1, 3:1 and predictive with each
 * adaptive behaviour, one simulated shift each, printed as one table.
 * Usage: npm run bench:pacing [-- --seed N] [-- --json] [-- --amd-accuracy 0.99 | --no-amd-estimate | --amd-off]
 * The work is split over child processes, one per core (simulator/parallel.ts).
 */
import { runInParallel, variantFromArgs, type SimJob } from './parallel';
import { loadScenarios } from './scenario';
import { kpisOf } from './kpis';
import type { SimResult } from './simulate';
import { BENCH_STRATEGIES } from './strategies';

function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

function table(results: SimResult[]): string {
  const header = ['scenario', 'strategy', 'talk min/agent-h', '% of limit', 'abandon %', 'abandon % +AMD', 'connects/agent-h', 'agent wait s', 'lines peak/mean', 'silence p50/p95 s'];
  const rows = results.map((r) => {
    const k = kpisOf(r);
    return [
      k.scenario,
      k.strategy,
      k.talkMinPerAgentHour.toFixed(1),
      (100 * k.limitRatio).toFixed(1),
      (100 * k.abandonRate).toFixed(2),
      (100 * k.abandonRateWithAmd).toFixed(2),
      k.connectsPerAgentHour.toFixed(1),
      k.meanAgentWaitS.toFixed(1),
      `${k.peakLines}/${k.meanLines.toFixed(0)}`,
      `${k.customerSilenceP50S.toFixed(1)}/${k.customerSilenceP95S.toFixed(1)}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i] as number, i < 2)).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  ')];
  let previous = '';
  results.forEach((r, i) => {
    const row = rows[i] as string[];
    if (row[0] !== previous) {
      if (previous !== '') out.push('');
      out.push(describeLimit(r));
    }
    previous = row[0] as string;
    out.push(line(row));
  });
  return out.join('\n');
}

/** One line per scenario: the physical limit and what binds. */
function describeLimit(r: SimResult): string {
  const l = r.limit;
  const pacer = r.pacerCountsAmdEstimate ? `pacer counts the AMD estimate at ${(100 * r.amdHumanAccuracyCounted).toFixed(1)} % human accuracy` : 'pacer counts no AMD estimate';
  return (
    `${r.scenario}: limit ${l.talkMinPerAgentHour.toFixed(1)} talk min/agent-h (talk ${l.meanTalkS.toFixed(0)} s, wrap-up ${l.meanWrapUpS.toFixed(0)} s); ` +
    `needs ${l.dialsPerSecondNeeded.toFixed(2)} dials/s = ${(100 * l.cpsLoad).toFixed(0)} % of CPS, ${l.linesNeeded.toFixed(0)} lines: ${l.constraint} bind; ` +
    `heartbeat ${r.timing.heartbeatS} s, connect latency ${r.timing.connectLatencyS} s${r.timing.cpsFollowUp ? '' : ', no CPS follow-up'}; ${pacer}`
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const seedIndex = args.indexOf('--seed');
  const seed = seedIndex >= 0 ? Number(args[seedIndex + 1]) : undefined;
  const scenarios = loadScenarios();
  const jobs: SimJob[] = [];
  const variant = variantFromArgs(args);
  for (const sc of scenarios) for (const st of BENCH_STRATEGIES) jobs.push({ scenario: sc.name, strategy: st.label, seed, variant });
  const started = Date.now();
  const results = await runInParallel(jobs);
  if (args.includes('--json')) {
    console.log(JSON.stringify(results, null, 2));
    return;
  }
  console.log(`discador pacing bench: ${scenarios.length} scenarios x ${BENCH_STRATEGIES.length} strategies, one ${scenarios[0]?.shiftHours ?? '?'} h shift each${seed === undefined ? ' (scenario seeds)' : `, seed ${seed}`}${Object.keys(variant).length > 0 ? `, ${JSON.stringify(variant)}` : ''}`);
  console.log('');
  console.log(table(results));
  console.log('');
  console.log(
    [
      `% of limit = talk / (60 x mean talk / (mean talk + mean wrap-up)); target: predictive >= 90 % where agents bind, at <= 3 % abandon +AMD.`,
      `abandon % = abandoned / live answers (no agent within 2 s of the disclaimer's end); +AMD adds the estimated people AMD hung up on, live x (1 - a) / a, to both.`,
      `agent wait = mean idle time before each connect; silence = disclaimer's end to joining the agent (connected in time; includes the connect latency).`,
    ].join('\n'),
  );
  console.log(`${jobs.length} runs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
