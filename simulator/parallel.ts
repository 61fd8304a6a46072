/**
 * Runs many simulations over child processes (one per core), for the bench and the multi-seed
 * evaluation. Each child is this module forked; results come back in job order.
 */
import { fork } from 'node:child_process';
import { cpus } from 'node:os';
import { loadScenarios, type Scenario } from './scenario';
import { simulate, type SimResult } from './simulate';
import { BENCH_STRATEGIES } from './strategies';

/** Changes to a shipped scenario for a what-if run (eval.ts flags). */
export interface ScenarioVariant {
  /** AMD's true human accuracy and the campaign's configured one, both set to this. */
  amdHumanAccuracy?: number;
  /** The pacer counts no AMD estimate (the KPIs still show it). */
  noAmdEstimate?: boolean;
  /** Machines are not hung up on: every answer goes to an agent (AMD accuracy 1 for people, 0 for machines; nothing to estimate). */
  amdOff?: boolean;
  heartbeatS?: number;
  connectLatencyS?: number;
}

/** One simulation: a scenario by name, a strategy by label, a seed (default: the scenario's). */
export interface SimJob {
  scenario: string;
  strategy: string;
  seed?: number;
  variant?: ScenarioVariant;
}

/** The variant named by command-line flags: --amd-accuracy A, --no-amd-estimate, --amd-off, --heartbeat S, --latency S. */
export function variantFromArgs(args: readonly string[]): ScenarioVariant {
  const number = (name: string): number | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const value = Number(args[i + 1]);
    if (!Number.isFinite(value)) throw new Error(`${name} needs a number, got "${args[i + 1] ?? ''}"`);
    return value;
  };
  const variant: ScenarioVariant = {};
  const accuracy = number('--amd-accuracy');
  if (accuracy !== undefined) variant.amdHumanAccuracy = accuracy;
  if (args.includes('--no-amd-estimate')) variant.noAmdEstimate = true;
  if (args.includes('--amd-off')) variant.amdOff = true;
  const heartbeat = number('--heartbeat');
  if (heartbeat !== undefined) variant.heartbeatS = heartbeat;
  const latency = number('--latency');
  if (latency !== undefined) variant.connectLatencyS = latency;
  return variant;
}

/** The scenario with a variant's changes. */
export function applyVariant(scenario: Scenario, variant: ScenarioVariant | undefined): Scenario {
  if (variant === undefined) return scenario;
  const out: Scenario = { ...scenario, amd: { ...scenario.amd }, campaign: { ...scenario.campaign } };
  if (variant.amdHumanAccuracy !== undefined) {
    out.amd.humanAccuracy = variant.amdHumanAccuracy;
    out.campaign.amdHumanAccuracy = variant.amdHumanAccuracy;
  }
  if (variant.amdOff === true) {
    out.amd.humanAccuracy = 1;
    out.amd.machineAccuracy = 0;
    out.campaign.amdHumanAccuracy = 1;
  }
  if (variant.noAmdEstimate === true) out.campaign.amdHumanAccuracy = null;
  if (variant.heartbeatS !== undefined) out.heartbeatS = variant.heartbeatS;
  if (variant.connectLatencyS !== undefined) out.connectLatencyS = variant.connectLatencyS;
  return out;
}

/** Runs the jobs in this process. */
export function runJobs(jobs: SimJob[]): SimResult[] {
  const scenarios = loadScenarios();
  return jobs.map((job) => {
    const scenario = scenarios.find((s) => s.name === job.scenario);
    const strategy = BENCH_STRATEGIES.find((s) => s.label === job.strategy);
    if (scenario === undefined || strategy === undefined) throw new Error(`bad job ${JSON.stringify(job)}`);
    return simulate(applyVariant(scenario, job.variant), strategy, job.seed ?? scenario.seed);
  });
}

function inWorker(jobs: SimJob[]): Promise<SimResult[]> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (message) => resolve(message as SimResult[]));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`simulation worker exited with ${code}`));
    });
    child.send(jobs);
  });
}

/** Runs the jobs dealt round-robin over `workers` child processes; results in job order. */
export async function runInParallel(jobs: SimJob[], workers = cpus().length): Promise<SimResult[]> {
  const n = Math.max(1, Math.min(workers, jobs.length));
  const shares: number[][] = Array.from({ length: n }, () => []);
  jobs.forEach((_, i) => shares[i % n]!.push(i));
  const parts = await Promise.all(shares.map((idx) => inWorker(idx.map((i) => jobs[i]!))));
  const results: SimResult[] = new Array(jobs.length);
  shares.forEach((idx, w) => idx.forEach((i, k) => (results[i] = parts[w]![k]!)));
  return results;
}

if (require.main === module) {
  process.once('message', (jobs) => {
    process.send?.(runJobs(jobs as SimJob[]), () => process.exit(0));
  });
}
