/**
 * Multi-seed evaluation: every scenario (or the ones named) under the chosen strategies over a
 * range of seeds, with the mean and the spread per (scenario, strategy). Used to check that a
 * pacing change holds on seeds it was not tuned on (tune on 1-10, confirm on 11-20).
 * Usage: tsx simulator/eval.ts [--seeds 11-20] [--scenarios medium-20,few-5]
 *        [--strategies "pred HARD_LIMIT,power 1:1"] [--json]
 */
import { runInParallel, type SimJob } from './parallel';
import { loadScenarios } from './scenario';
import { BENCH_STRATEGIES } from './strategies';

/** "11-20" or "1,3,5" or "7". */
export function parseSeeds(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isInteger(a)) throw new Error(`bad seeds "${text}"`);
    const end = b === undefined ? a : b;
    for (let s = a; s <= end; s++) out.push(s);
  }
  return out;
}

function stats(xs: number[]): { mean: number; min: number; max: number } {
  return { mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: Math.min(...xs), max: Math.max(...xs) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const seeds = parseSeeds(arg('--seeds') ?? '11-20');
  const scenarioNames = arg('--scenarios')?.split(',') ?? loadScenarios().map((s) => s.name);
  const strategyLabels = arg('--strategies')?.split(',') ?? BENCH_STRATEGIES.filter((s) => s.mode === 'predictive').map((s) => s.label);
  const jobs: SimJob[] = [];
  for (const scenario of scenarioNames) for (const strategy of strategyLabels) for (const seed of seeds) jobs.push({ scenario, strategy, seed });
  const started = Date.now();
  const results = await runInParallel(jobs);
  if (args.includes('--json')) {
    console.log(JSON.stringify(results.map(({ hourly: _hourly, ...r }) => r)));
    return;
  }
  console.log(`seeds ${seeds[0]}..${seeds[seeds.length - 1]} (${seeds.length}): talk min/agent-h and abandon %, mean [min..max]`);
  for (const scenario of scenarioNames) {
    for (const strategy of strategyLabels) {
      const rs = results.filter((r) => r.scenario === scenario && r.strategy === strategy);
      const talk = stats(rs.map((r) => r.talkMinPerAgentHour));
      const ab = stats(rs.map((r) => 100 * r.abandonRate));
      const over = rs.filter((r) => r.abandonRate > 0.03).length;
      console.log(
        `${scenario.padEnd(10)} ${strategy.padEnd(16)} talk ${talk.mean.toFixed(2)} [${talk.min.toFixed(1)}..${talk.max.toFixed(1)}]  abandon ${ab.mean.toFixed(2)} % [${ab.min.toFixed(2)}..${ab.max.toFixed(2)}]${over > 0 ? `  OVER CAP in ${over}` : ''}`,
      );
    }
  }
  console.log(`${jobs.length} runs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
