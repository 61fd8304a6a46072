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

/** Expected positive part E[max(X, 0)] of a normal X with the given mean and variance. */
export function expectedPositivePart(mean: number, variance: number): number {
  if (variance <= 1e-12) return Math.max(0, mean);
  const sd = Math.sqrt(variance);
  const z = mean / sd;
  return sd * normalPdf(z) + mean * normalCdf(z);
}

/** The forecast's ingredients, all expectations and variances over independent Bernoulli events. */
export interface ForecastParts {
  horizonS: number;
  liveRate: number;
  agentsFree: number;
  agentsFreeVar: number;
  pipelineLive: number;
  pipelineLiveVar: number;
}

/** Computes the agents expected free and the live answers expected from calls in flight. */
export function forecastParts(snapshot: PacingSnapshot, disclaimerS: number, graceS: number): ForecastParts {
  const { stats, calls } = snapshot;
  const horizonS = stats.answerTimeS + disclaimerS + graceS;
  let agentsFree = 0;
  let agentsFreeVar = 0;
  for (const agent of snapshot.agents) {
    const q = agentFreeWithin(agent, snapshot.nowMs, horizonS, stats);
    agentsFree += q;
    agentsFreeVar += q * (1 - q);
  }
  const pRinging = liveRateWhileRinging(stats);
  const pDetecting = 1 - clamp01(stats.machineRate);
  const pipelineLive = calls.waiting + calls.detecting * pDetecting + calls.ringing * pRinging;
  const pipelineLiveVar = calls.detecting * pDetecting * (1 - pDetecting) + calls.ringing * pRinging * (1 - pRinging);
  return { horizonS, liveRate: liveRatePerDial(stats), agentsFree, agentsFreeVar, pipelineLive, pipelineLiveVar };
}

/** Expected live answers and expected live answers without an agent if `dials` more calls are placed. */
export function outcomeWith(parts: ForecastParts, dials: number): { live: number; overflow: number } {
  const p = parts.liveRate;
  const live = parts.pipelineLive + dials * p;
  const variance = parts.pipelineLiveVar + dials * p * (1 - p) + parts.agentsFreeVar;
  return { live, overflow: expectedPositivePart(live - parts.agentsFree, variance) };
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, Number.isFinite(x) ? x : 0));
}
