/**
 * Definitions the pacing statistics rest on, shared by the simulator and the live dialer:
 * the rolling windows behind PacingStats, what counts as an abandoned call, and how humans
 * hung up on by answering-machine detection are estimated and counted in the abandon rate.
 * The database snapshot receives these sizes as parameters instead of repeating them.
 */

/** Finished dials behind the answer rate (answered / dials). */
export const ANSWER_RATE_WINDOW_DIALS = 500;
/** Finished dials behind the mean ring time (answered or not). */
export const RING_TIME_WINDOW_DIALS = 500;
/** Answered calls behind the dial-to-answer time (mean and sd). */
export const ANSWER_TIME_WINDOW = 300;
/** AMD results behind the machine rate (classified machine / answered). */
export const MACHINE_RATE_WINDOW = 300;
/** AMD results behind the mean answer-to-result time. */
export const AMD_TIME_WINDOW = 300;
/** Finished conversations behind the talk time (mean and sd). */
export const TALK_WINDOW = 200;
/** Finished wrap-ups behind the wrap-up time (mean and sd). */
export const WRAP_UP_WINDOW = 200;
/** Span of the "last hour" live and abandon counts, seconds. */
export const RECENT_WINDOW_S = 3600;
/** Span over which dials count against the calls-per-second limit, seconds. */
export const CPS_WINDOW_S = 1;

/** The rolling window sizes, keyed as the database snapshot's parameters. */
export const PACING_WINDOWS = {
  answer_rate_dials: ANSWER_RATE_WINDOW_DIALS,
  ring_time_dials: RING_TIME_WINDOW_DIALS,
  answer_time_answers: ANSWER_TIME_WINDOW,
  machine_rate_answers: MACHINE_RATE_WINDOW,
  amd_time_answers: AMD_TIME_WINDOW,
  talk_samples: TALK_WINDOW,
  wrap_up_samples: WRAP_UP_WINDOW,
} as const;

/**
 * A live answer (a call AMD classified human, or unknown connected as human) is abandoned
 * when no agent has been given to it within this many seconds of the end of the disclaimer,
 * whether it is then hung up or kept in an overflow queue.
 */
export const ABANDON_GRACE_S = 2;

/** Share of humans AMD classifies human, when the campaign does not say. */
export const DEFAULT_AMD_HUMAN_ACCURACY = 0.96;

/** The instant a live answer becomes abandoned if no agent has been given to it by then. */
export function abandonDeadlineMs(disclaimerEndedAtMs: number, graceS: number = ABANDON_GRACE_S): number {
  return disclaimerEndedAtMs + graceS * 1000;
}

/**
 * Whether a live answer is abandoned: no agent given to it by the deadline (`agentAtMs`
 * undefined = never given one). `nowMs` lets a caller ask before the call ends: a call
 * still inside its grace is not abandoned yet.
 */
export function isAbandoned(
  call: { disclaimerEndedAtMs: number; agentAtMs?: number },
  nowMs: number,
  graceS: number = ABANDON_GRACE_S,
): boolean {
  const deadline = abandonDeadlineMs(call.disclaimerEndedAtMs, graceS);
  // Given an agent: abandoned exactly when that came after the deadline.
  if (call.agentAtMs !== undefined) return call.agentAtMs > deadline;
  return nowMs > deadline;
}

function checkAccuracy(humanAccuracy: number): void {
  if (!(Number.isFinite(humanAccuracy) && humanAccuracy > 0 && humanAccuracy <= 1)) {
    throw new RangeError(`AMD human accuracy must be in (0, 1], got ${humanAccuracy}`);
  }
}

function checkCount(name: string, n: number): void {
  if (!(Number.isFinite(n) && n >= 0)) throw new RangeError(`${name} must be a non-negative number, got ${n}`);
}

/**
 * Estimated humans that AMD took for machines and hung up on: abandoned live answers nobody
 * saw. With accuracy a (the share of humans AMD classifies human), the `liveAnswers` people
 * classified human are a of the humans reached, so the humans classified machine are about
 * liveAnswers x (1 - a) / a. `liveAnswers` counts every call treated as live; when some of
 * those were machines (agents mark them), the estimate runs slightly high, which errs on
 * the cautious side.
 */
export function estimatedAmdAbandons(liveAnswers: number, humanAccuracy: number): number {
  checkCount('liveAnswers', liveAnswers);
  checkAccuracy(humanAccuracy);
  return (liveAnswers * (1 - humanAccuracy)) / humanAccuracy;
}

/**
 * The abandon rate as the regulator counts it: (abandoned + estimated AMD hang-ups of
 * humans) / (live answers + the same estimate). Without `humanAccuracy`, no estimate:
 * abandoned / live. 0 when nothing was live. Whatever the pacer does, with the estimate the
 * rate cannot fall below 1 - humanAccuracy (the share of humans AMD hangs up on).
 */
export function abandonRate(abandoned: number, live: number, humanAccuracy?: number): number {
  checkCount('abandoned', abandoned);
  checkCount('live', live);
  const estimate = humanAccuracy === undefined ? 0 : estimatedAmdAbandons(live, humanAccuracy);
  const denominator = live + estimate;
  return denominator > 0 ? (abandoned + estimate) / denominator : 0;
}

/** The lowest abandon rate reachable with this AMD accuracy (no call abandoned by the pacer). */
export function amdAbandonFloor(humanAccuracy: number | undefined): number {
  if (humanAccuracy === undefined) return 0;
  checkAccuracy(humanAccuracy);
  return 1 - humanAccuracy;
}

/**
 * The share of live answers the pacer itself may abandon so that the rate counted with the
 * AMD estimate stays at `cap`. That rate is a x (abandoned / live) + (1 - a), so the pacer's
 * own share may reach (cap - (1 - a)) / a: the cap itself without an estimate, 0 when AMD's
 * hang-ups alone reach the cap.
 */
export function pacerAbandonBudget(cap: number, humanAccuracy?: number): number {
  if (humanAccuracy === undefined) return cap;
  checkAccuracy(humanAccuracy);
  return Math.max(0, (cap - (1 - humanAccuracy)) / humanAccuracy);
}
