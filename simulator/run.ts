/**
 * Runs one scenario under one strategy and prints the figures with the hourly breakdown.
 * Usage: tsx simulator/run.ts <scenario.json> [strategy label] [seed]
 */
import { readFileSync } from 'node:fs';
import { parseScenario } from './scenario';
import { simulate } from './simulate';
import { BENCH_STRATEGIES, PREVIEW } from './strategies';

const [file, label = 'pred HARD_LIMIT', seedText] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: tsx simulator/run.ts <scenario.json> [strategy label] [seed]');
  process.exit(2);
}
const strategy = [...BENCH_STRATEGIES, PREVIEW].find((s) => s.label === label);
if (strategy === undefined) {
  console.error(`unknown strategy "${label}"; one of: ${[...BENCH_STRATEGIES, PREVIEW].map((s) => s.label).join(', ')}`);
  process.exit(2);
}
const scenario = parseScenario(JSON.parse(readFileSync(file, 'utf8')));
const result = simulate(scenario, strategy, seedText === undefined ? scenario.seed : Number(seedText));
const { hourly, ...summary } = result;
console.log(JSON.stringify(summary, null, 2));
console.table(
  hourly.map((h) => ({
    hour: h.hour,
    'talk min/agent-h': h.talkMinPerAgentHour.toFixed(1),
    occupancy: `${(100 * h.occupancy).toFixed(0)} %`,
    dials: h.dials,
    connects: h.connects,
    live: h.live,
    abandoned: h.abandoned,
    'abandon %': (100 * h.abandonRate).toFixed(2),
  })),
);
