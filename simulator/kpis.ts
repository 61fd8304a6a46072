/**
 * The figures the pacing bench prints for one simulated shift, and `simulateScenario`, which
 * runs the pure simulator and returns them: the live campaign simulation prints them next to
 * its own for the same scenario file.
 */
import { readFileSync } from 'node:fs';
import { parseScenario } from './scenario';
import { simulate, type PhysicalLimit, type SimResult, type Strategy } from './simulate';
import { BENCH_STRATEGIES, PREVIEW } from './strategies';

/** One shift's key figures (rates are fractions, times seconds). */
export interface PacingKpis {
  scenario: string;
  strategy: string;
  seed: number;
  agentHours: number;
  /** Talk minutes per logged-in agent-hour. */
  talkMinPerAgentHour: number;
  /** 60 x mean talk / (mean talk + mean wrap-up), from the scenario's distributions. */
  physicalLimitTalkMin: number;
  /** talkMinPerAgentHour / physicalLimitTalkMin. */
  limitRatio: number;
  /** What binds at the physical limit: agents, calls per second or lines. */
  constraint: PhysicalLimit['constraint'];
  /** Dials per second needed at the limit / campaign CPS. */
  cpsLoad: number;
  occupancy: number;
  /** Abandoned / live answers. */
  abandonRate: number;
  /** (abandoned + estimated AMD hang-ups of people) / (live + the estimate). */
  abandonRateWithAmd: number;
  amdEstimatedAbandons: number;
  dials: number;
  live: number;
  abandoned: number;
  connects: number;
  connectsPerAgentHour: number;
  /** Mean seconds an agent waited, available, before each connect. */
  meanAgentWaitS: number;
  peakLines: number;
  meanLines: number;
  /** Seconds between the disclaimer's end and the customer joining the agent (p50, p95). */
  customerSilenceP50S: number;
  customerSilenceP95S: number;
}

/** The key figures of a simulator result. */
export function kpisOf(r: SimResult): PacingKpis {
  return {
    scenario: r.scenario,
    strategy: r.strategy,
    seed: r.seed,
    agentHours: r.agentHours,
    talkMinPerAgentHour: r.talkMinPerAgentHour,
    physicalLimitTalkMin: r.limit.talkMinPerAgentHour,
    limitRatio: r.limitRatio,
    constraint: r.limit.constraint,
    cpsLoad: r.limit.cpsLoad,
    occupancy: r.occupancy,
    abandonRate: r.abandonRate,
    abandonRateWithAmd: r.abandonRateWithAmd,
    amdEstimatedAbandons: r.amdEstimatedAbandons,
    dials: r.totals.dials,
    live: r.totals.live,
    abandoned: r.totals.abandoned,
    connects: r.totals.connects,
    connectsPerAgentHour: r.connectsPerAgentHour,
    meanAgentWaitS: r.meanAgentWaitS,
    peakLines: r.peakLines,
    meanLines: r.meanLines,
    customerSilenceP50S: r.customerSilenceP50S,
    customerSilenceP95S: r.customerSilenceP95S,
  };
}

/** Every strategy the simulator knows by label (the bench's and preview). */
export const STRATEGIES: readonly Strategy[] = [...BENCH_STRATEGIES, PREVIEW];

/**
 * Runs one shift of the pure simulator. `scenario`: a scenario object (as parsed from the
 * JSON file, unknown top-level `live` section included) or the path of a scenario file;
 * `strategy`: a Strategy or the label of one (`"pred HARD_LIMIT"`, `"power 1:1"`, ...);
 * `seed` defaults to the scenario's. Throws on an invalid scenario or an unknown label.
 */
export function simulateScenario(scenario: unknown, strategy: Strategy | string, seed?: number): PacingKpis {
  const parsed = parseScenario(typeof scenario === 'string' ? JSON.parse(readFileSync(scenario, 'utf8')) : scenario);
  const chosen = typeof strategy === 'string' ? STRATEGIES.find((s) => s.label === strategy) : strategy;
  if (chosen === undefined) throw new Error(`unknown strategy "${String(strategy)}"; one of: ${STRATEGIES.map((s) => s.label).join(', ')}`);
  return kpisOf(simulate(parsed, chosen, seed ?? parsed.seed));
}
