/**
 * Multi-seed evaluation: every scenario (or the ones named) under the chosen strategies over a
 * range of seeds, with the mean and the spread per (scenario, strategy). Used to check that a
 * pacing change holds on seeds it was not tuned on (tune on 1-10, confirm on 11-20).
 * Usage: tsx simulator/eval.ts [--seeds 11-20] [--scenarios medium-20,few-5]
 *        [--strategies "pred HARD_LIMIT,power 1:1"] [--amd-accuracy 0.99] [--no-amd-estimate] [--amd-off]
 *        [--heartbeat 5] [--latency 0.3] [--json]
 * --amd-accuracy sets AMD's true and configured human accuracy; --no-amd-estimate makes the
 * pacer count no estimate (abandon % +AMD is still shown); --amd-off puts every answer through
 * to an agent (machines are not hung up on, so no person is either).
 */
import { kpisOf } from './kpis';
import { runInParallel, variantFromArgs, type SimJob } from './parallel';
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
  const variant = variantFromArgs(args);
  const jobs: SimJob[] = [];
  for (const scenario of scenarioNames) for (const strategy of strategyLabels) for (const seed of seeds) jobs.push({ scenario, strategy, seed, variant });
  const started = Date.now();
  const results = await runInParallel(jobs);
  if (args.includes('--json')) {
    console.log(JSON.stringify(results.map(({ hourly: _hourly, ...r }) => r)));
    return;
  }
  const variantText = Object.keys(variant).length > 0 ? ` ${JSON.stringify(variant)}` : '';
  console.log(`seeds ${seeds[0]}..${seeds[seeds.length - 1]} (${seeds.length})${variantText}: talk min/agent-h, % of the physical limit, abandon % without and with the AMD estimate, mean [min..max]`);
  for (const scenario of scenarioNames) {
    for (const strategy of strategyLabels) {
      const rs = results.filter((r) => r.scenario === scenario && r.strategy === strategy).map(kpisOf);
      const talk = stats(rs.map((r) => r.talkMinPerAgentHour));
      const ratio = stats(rs.map((r) => 100 * r.limitRatio));
      const ab = stats(rs.map((r) => 100 * r.abandonRate));
      const abAmd = stats(rs.map((r) => 100 * r.abandonRateWithAmd));
      const over = rs.filter((r) => r.abandonRateWithAmd > 0.03).length;
      const first = rs[0];
      const bind = first === undefined ? '' : ` [${first.constraint}]`;
      console.log(
        `${scenario.padEnd(10)} ${strategy.padEnd(16)} talk ${talk.mean.toFixed(2)} [${talk.min.toFixed(1)}..${talk.max.toFixed(1)}] = ${ratio.mean.toFixed(1)} % [${ratio.min.toFixed(1)}..${ratio.max.toFixed(1)}]${bind}  abandon ${ab.mean.toFixed(2)} % [${ab.min.toFixed(2)}..${ab.max.toFixed(2)}]  +AMD ${abAmd.mean.toFixed(2)} % [${abAmd.min.toFixed(2)}..${abAmd.max.toFixed(2)}]${over > 0 ? `  +AMD OVER 3 % in ${over}/${rs.length}` : ''}`,
      );
    }
  }
  console.log(`${jobs.length} runs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
