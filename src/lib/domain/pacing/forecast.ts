/**
 * The predictive forecast: how many agents will be free when a call dialled now turns into
 * a live answer, how many live answers the calls already in flight will bring, and how many
 * of those would find no agent. Pure arithmetic over the snapshot.
 */
import type { AgentSnapshot, PacingSnapshot, PacingStats } from './types';

/** Standard normal density. */
export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/** Standard normal cumulative distribution (Abramowitz & Stegun 7.1.26, error below 1.5e-7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** P(T <= x) for a log-normal T with the given mean and standard deviation (a step when sd is 0). */
export function lognormalCdf(x: number, mean: number, sd: number): number {
  if (x <= 0) return 0;
  if (sd <= 0) return x >= mean ? 1 : 0;
  const sigma2 = Math.log(1 + (sd * sd) / (mean * mean));
  const mu = Math.log(mean) - sigma2 / 2;
  return normalCdf((Math.log(x) - mu) / Math.sqrt(sigma2));
}

/** A log-normal fitted once by its mean and sd, for many CDF evaluations. */
export interface LognormalFit {
  mean: number;
  sd: number;
  mu: number;
  sigma: number;
}

/** Fits a log-normal to a mean and standard deviation (sigma 0 means a fixed duration). */
export function fitLognormal(mean: number, sd: number): LognormalFit {
  if (sd <= 0 || mean <= 0) return { mean, sd, mu: Math.log(Math.max(mean, 1e-9)), sigma: 0 };
  const sigma2 = Math.log(1 + (sd * sd) / (mean * mean));
  return { mean, sd, mu: Math.log(mean) - sigma2 / 2, sigma: Math.sqrt(sigma2) };
}

/** P(T <= x) under a fitted log-normal. */
export function fittedCdf(fit: LognormalFit, x: number): number {
  if (x <= 0) return 0;
  if (fit.sigma === 0) return x >= fit.mean ? 1 : 0;
  return normalCdf((Math.log(x) - fit.mu) / fit.sigma);
}

/**
 * Chance that an activity lasting T (log-normal, mean and sd) which has run `elapsedS`
 * ends within `withinS` more seconds: P(T <= elapsed + within | T > elapsed).
 */
export function probEndsWithin(elapsedS: number, withinS: number, mean: number, sd: number): number {
  if (withinS <= 0) return 0;
  const done = lognormalCdf(elapsedS, mean, sd);
  const survive = 1 - done;
  // Already past every plausible end: it ends any moment now.
  if (survive < 1e-9) return 1;
  const p = (lognormalCdf(elapsedS + withinS, mean, sd) - done) / survive;
  return Math.min(1, Math.max(0, p));
}

/**
 * Chance that an agent is free to take a call within `horizonS` seconds: 1 if available,
 * 0 if paused; in wrap-up, the wrap-up ends in time; talking, the talk ends early enough to
 * leave a mean wrap-up before the horizon.
 */
export function agentFreeWithin(agent: AgentSnapshot, nowMs: number, horizonS: number, stats: PacingStats): number {
  const elapsedS = Math.max(0, (nowMs - agent.sinceMs) / 1000);
  switch (agent.activity) {
    case 'available':
      return 1;
    case 'paused':
      return 0;
    case 'wrapup':
      return probEndsWithin(elapsedS, horizonS, stats.wrapUpTimeS, stats.wrapUpTimeSdS);
    case 'talking':
      return probEndsWithin(elapsedS, horizonS - stats.wrapUpTimeS, stats.talkTimeS, stats.talkTimeSdS);
  }
}

/** Chance one new dial becomes a live answer (answered and not classified machine). */
export function liveRatePerDial(stats: PacingStats): number {
  return clamp01(stats.answerRate) * (1 - clamp01(stats.machineRate));
}

/**
 * Chance a call that is ringing right now becomes a live answer. By Little's law the calls
 * ringing at any instant over-represent the long rings (no-answer timeouts), so this is the
 * per-dial live rate scaled by (time live answers spend ringing) / (time an average dial rings).
 */
export function liveRateWhileRinging(stats: PacingStats): number {
  const perDial = liveRatePerDial(stats);
  if (stats.ringTimeS <= 0) return perDial;
  return Math.min(1, (perDial * stats.answerTimeS) / stats.ringTimeS);
}

/**
 * Chance that a call ringing for `elapsedS` becomes a live answer within `withinS` more
 * seconds (Infinity: at all). Answered calls answer after a log-normal time (answerTimeS,
 * answerTimeSdS) cut at the no-answer timeout; the others ring until the timeout.
 */
export function liveWithin(elapsedS: number, withinS: number, stats: PacingStats, noAnswerTimeoutS: number): number {
  if (elapsedS >= noAnswerTimeoutS || withinS <= 0) return 0;
  const pAnswer = clamp01(stats.answerRate);
  const cdf = (x: number): number => lognormalCdf(x, stats.answerTimeS, stats.answerTimeSdS);
  const atTimeout = cdf(noAnswerTimeoutS);
  if (atTimeout <= 0) return 0;
  const done = cdf(elapsedS);
  const stillAnswering = (pAnswer * (atTimeout - done)) / atTimeout;
  const ringing = stillAnswering + (1 - pAnswer);
  if (ringing <= 1e-12) return 0;
  const answering = (pAnswer * (cdf(Math.min(noAnswerTimeoutS, elapsedS + withinS)) - done)) / atTimeout;
  return Math.max(0, answering / ringing) * (1 - clamp01(stats.machineRate));
}

/** Expected positive part E[max(X, 0)] of a normal X with the given mean and variance. */
export function expectedPositivePart(mean: number, variance: number): number {
  if (variance <= 1e-12) return Math.max(0, mean);
  const sd = Math.sqrt(variance);
  const z = mean / sd;
  return sd * normalPdf(z) + mean * normalCdf(z);
}

/** Spacing of the checkpoints at which the forecast compares live answers with free agents. */
export const FORECAST_STEP_S = 4;

/**
 * The forecast's ingredients at checkpoints h = 0, step, 2 step, ... up to the last moment a
 * call dialled now can turn live (timeout + AMD time). At each checkpoint: the live answers
 * expected to have arrived by h, and the agents expected free by h plus the tolerance (the
 * time a live answer can wait: rest of the disclaimer after AMD plus the grace), each with
 * its variance as a sum of independent Bernoulli events.
 */
export interface ForecastParts {
  checkpointsS: number[];
  toleranceS: number;
  /** Per checkpoint: chance one new dial has become live by then. */
  newLive: number[];
  pipelineLive: number[];
  pipelineLiveVar: number[];
  agentsFree: number[];
  agentsFreeVar: number[];
  /** Chance one new dial becomes a live answer at all. */
  liveRate: number;
}

/** Computes, per checkpoint, the agents expected free and the live answers expected from calls in flight. */
export function forecastParts(snapshot: PacingSnapshot, disclaimerS: number, graceS: number, noAnswerTimeoutS: number): ForecastParts {
  const { stats, calls, nowMs } = snapshot;
  const amdS = Math.max(0, stats.amdTimeS);
  const toleranceS = Math.max(0, disclaimerS - amdS) + graceS;
  const lastS = noAnswerTimeoutS + amdS;
  const checkpointsS: number[] = [];
  for (let h = 0; h < lastS; h += FORECAST_STEP_S) checkpointsS.push(h);
  checkpointsS.push(lastS);
  const k = checkpointsS.length;
  const agentsFree = new Array<number>(k).fill(0);
  const agentsFreeVar = new Array<number>(k).fill(0);
  const talk = fitLognormal(stats.talkTimeS, stats.talkTimeSdS);
  const wrap = fitLognormal(stats.wrapUpTimeS, stats.wrapUpTimeSdS);
  for (const agent of snapshot.agents) {
    if (agent.activity === 'paused') continue;
    if (agent.activity === 'available') {
      for (let i = 0; i < k; i++) agentsFree[i] = (agentsFree[i] as number) + 1;
      continue;
    }
    // Same arithmetic as agentFreeWithin, with the survival at the elapsed time computed once.
    const elapsedS = Math.max(0, (nowMs - agent.sinceMs) / 1000);
    const fit = agent.activity === 'talking' ? talk : wrap;
    const offset = agent.activity === 'talking' ? stats.wrapUpTimeS : 0;
    const done = fittedCdf(fit, elapsedS);
    const survive = 1 - done;
    for (let i = 0; i < k; i++) {
      const withinS = (checkpointsS[i] as number) + toleranceS - offset;
      let q: number;
      if (withinS <= 0) q = 0;
      else if (survive < 1e-9) q = 1;
      else q = Math.min(1, Math.max(0, (fittedCdf(fit, elapsedS + withinS) - done) / survive));
      agentsFree[i] = (agentsFree[i] as number) + q;
      agentsFreeVar[i] = (agentsFreeVar[i] as number) + q * (1 - q);
    }
  }
  const pDetecting = 1 - clamp01(stats.machineRate);
  // Calls already live or in AMD count as arriving now (they need an agent within the tolerance).
  const pipelineLive = new Array<number>(k).fill(calls.waiting + calls.detecting * pDetecting);
  const pipelineLiveVar = new Array<number>(k).fill(calls.detecting * pDetecting * (1 - pDetecting));
  const since = snapshot.ringingSinceMs;
  const newLive: number[] = [];
  for (let i = 0; i < k; i++) newLive.push(liveWithin(0, (checkpointsS[i] as number) - amdS, stats, noAnswerTimeoutS));
  if (since !== undefined && since.length === calls.ringing) {
    // Same arithmetic as liveWithin, with the fit and the elapsed-time terms computed once per call.
    const answer = fitLognormal(stats.answerTimeS, stats.answerTimeSdS);
    const pAnswer = clamp01(stats.answerRate);
    const human = 1 - clamp01(stats.machineRate);
    const atTimeout = fittedCdf(answer, noAnswerTimeoutS);
    for (const dialMs of since) {
      const age = Math.max(0, (nowMs - dialMs) / 1000);
      if (age >= noAnswerTimeoutS || atTimeout <= 0) continue;
      const done = fittedCdf(answer, age);
      const ringing = (pAnswer * (atTimeout - done)) / atTimeout + (1 - pAnswer);
      if (ringing <= 1e-12) continue;
      for (let i = 0; i < k; i++) {
        const answerBy = (checkpointsS[i] as number) - amdS;
        if (answerBy <= 0) continue;
        const answering = (pAnswer * (fittedCdf(answer, Math.min(noAnswerTimeoutS, age + answerBy)) - done)) / atTimeout;
        const p = Math.max(0, answering / ringing) * human;
        pipelineLive[i] = (pipelineLive[i] as number) + p;
        pipelineLiveVar[i] = (pipelineLiveVar[i] as number) + p * (1 - p);
      }
    }
  } else {
    // Without ring ages, only the total is known: all of it at the last checkpoint.
    const p = liveRateWhileRinging(stats);
    pipelineLive[k - 1] = (pipelineLive[k - 1] as number) + calls.ringing * p;
    pipelineLiveVar[k - 1] = (pipelineLiveVar[k - 1] as number) + calls.ringing * p * (1 - p);
  }
  return { checkpointsS, toleranceS, newLive, pipelineLive, pipelineLiveVar, agentsFree, agentsFreeVar, liveRate: liveRatePerDial(stats) };
}

/**
 * If `dials` more calls are placed: the live answers expected from everything in flight, and
 * the expected number left without an agent in time. Abandons over the checkpoints are the
 * running maximum of (live answers so far - agents free so far); its expectation is
 * approximated by adding up every rise of the per-checkpoint expected shortfall, so a dial
 * whose answer lands late still counts even when an earlier checkpoint is worse.
 */
export function outcomeWith(parts: ForecastParts, dials: number): { live: number; overflow: number } {
  let overflow = 0;
  let previous = 0;
  let live = 0;
  for (let i = 0; i < parts.checkpointsS.length; i++) {
    const p = parts.newLive[i] as number;
    live = (parts.pipelineLive[i] as number) + dials * p;
    const variance = (parts.pipelineLiveVar[i] as number) + dials * p * (1 - p) + (parts.agentsFreeVar[i] as number);
    const agents = parts.agentsFree[i] as number;
    const agentsVar = parts.agentsFreeVar[i] as number;
    // The normal puts some probability on fewer than zero free agents; the shortfall it would
    // show with no live answers at all is that artefact, and is taken off.
    const artefact = expectedPositivePart(-agents, agentsVar);
    const shortfall = Math.max(0, expectedPositivePart(live - agents, variance) - artefact);
    if (shortfall > previous) overflow += shortfall - previous;
    previous = shortfall;
  }
  return { live, overflow };
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, Number.isFinite(x) ? x : 0));
}
