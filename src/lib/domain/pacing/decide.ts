/**
 * The pacing decision: given a campaign snapshot and its settings, how many calls to place
 * now. Pure and deterministic; the Twilio functions call it on every event that changes the
 * campaign's state and on a heartbeat, and the simulator does exactly the same.
 */
import { abandonRate, amdAbandonFloor, CPS_WINDOW_S, estimatedAmdAbandons, pacerAbandonBudget } from './definitions';
import { forecastParts, outcomeWith } from './forecast';
import type { AdaptiveBehaviour, PacingDecision, PacingForecast, PacingReason, PacingSettings, PacingSnapshot } from './types';

/** Seconds a call rings before Twilio gives up, when the settings do not say. */
export const DEFAULT_NO_ANSWER_TIMEOUT_S = 30;
/** Rolling statistics must rest on this many dials before predictive leaves 1:1 (unless the settings say otherwise). */
export const DEFAULT_MIN_SAMPLE_DIALS = 100;
/** ...and on this many finished conversations. */
export const DEFAULT_MIN_TALK_SAMPLES = 20;
/**
 * Expected overflow per expected live answer that predictive tolerates when the measured
 * abandon rate is on target, as a fraction of the cap. The forecast's overflow is an
 * approximation that runs low (independent Bernoulli events, a normal tail, one dial at a
 * time), so the tolerance starts well under the cap and the abandon feedback does the rest.
 */
export const RISK_SCALE = 0.1;
/** How hard the risk tolerance reacts to the measured abandon rate (exponent per cap of error). */
export const FEEDBACK_GAIN = 2;
/** Live answers' worth of weight given to "on target" before the measured rate takes over. */
export const FEEDBACK_PRIOR_LIVE = 30;
/**
 * Abandons of headroom under the day cap, per square root of the active agents, below which
 * the risk tolerance is scaled down in proportion (20 agents: full tolerance from about 4.5
 * abandons of headroom, none at 0). The day guard used to be all or nothing: a burst of
 * abandons that used up the headroom dropped predictive to 1:1 until enough clean live
 * answers came in, and those 1:1 stretches cost more talk than the risk had earned. Scaling
 * the tolerance down as the headroom shrinks keeps predictive dialing, cautiously, and
 * rarely lets the guard trip. Bursts grow with the team, but more slowly than the budget,
 * hence the square root.
 */
export const HEADROOM_RAMP_PER_SQRT_AGENT = 1;

/** Decides how many calls to place now, with a reason code and a one-line explanation. */
export function decidePacing(snapshot: PacingSnapshot, settings: PacingSettings): PacingDecision {
  const { agents, calls } = snapshot;
  if (agents.length === 0) return { dial: 0, wanted: 0, reason: 'no_agents', explanation: 'No agent is logged in.' };
  let active = 0;
  let available = 0;
  for (const agent of agents) {
    if (agent.activity !== 'paused') active++;
    if (agent.activity === 'available') available++;
  }
  if (active === 0) {
    return { dial: 0, wanted: 0, reason: 'all_paused', explanation: `All ${agents.length} logged-in agents are paused.` };
  }
  const unconnected = calls.ringing + calls.detecting + calls.waiting;
  // Dials that cannot abandon: one per available agent not already covered by a call in flight.
  const safe = Math.max(0, available - unconnected);

  let wanted: number;
  let reason: PacingReason;
  let explanation: string;
  let forecast: PacingForecast | undefined;
  switch (settings.mode) {
    case 'preview': {
      wanted = Math.max(0, Math.min(snapshot.previewRequests, available));
      reason = wanted > 0 ? 'preview_requests' : 'preview_idle';
      explanation = wanted > 0 ? `${wanted} agent(s) asked for their next call.` : 'No agent is asking for a call.';
      break;
    }
    case 'power': {
      const target = Math.floor(settings.ratio * available + 1e-9);
      wanted = Math.max(0, target - unconnected);
      reason = wanted > 0 ? 'power_ratio' : 'power_full';
      explanation = `${available} available agent(s) x ratio ${settings.ratio} = ${target} line(s); ${unconnected} already in flight.`;
      break;
    }
    case 'predictive': {
      const result = predictive(snapshot, settings, active, unconnected, safe);
      ({ wanted, reason, explanation, forecast } = result);
      break;
    }
  }
  return applyLimits(snapshot, settings, wanted, reason, explanation, forecast);
}

function predictive(
  snapshot: PacingSnapshot,
  settings: PacingSettings,
  active: number,
  unconnected: number,
  safe: number,
): { wanted: number; reason: PacingReason; explanation: string; forecast?: PacingForecast } {
  const { stats } = snapshot;
  const minDials = settings.minSampleDials ?? DEFAULT_MIN_SAMPLE_DIALS;
  const minTalks = settings.minTalkSamples ?? DEFAULT_MIN_TALK_SAMPLES;
  if (stats.sampleDials < minDials || stats.talkSamples < minTalks || !statsUsable(snapshot)) {
    return {
      wanted: safe,
      reason: 'warmup',
      explanation: `Statistics rest on ${stats.sampleDials} dial(s) and ${stats.talkSamples} conversation(s); dialing 1:1 until ${minDials} and ${minTalks}.`,
    };
  }
  const cap = settings.abandonCap;
  const abandoned = stats.abandonedToday;
  const live = stats.liveToday;
  const accuracy = settings.amdHumanAccuracy;
  // The day's rate (with the AMD estimate when configured) must survive one more abandon;
  // otherwise only dials that cannot abandon.
  const next = abandonRate(abandoned + 1, live + 1, accuracy);
  if (next > cap) {
    const floor = amdAbandonFloor(accuracy);
    const estimateNote = accuracy === undefined ? '' : ` plus ${estimatedAmdAbandons(live, accuracy).toFixed(1)} estimated AMD hang-ups of people`;
    const floorNote =
      floor >= cap
        ? ` AMD at ${(100 * (accuracy as number)).toFixed(1)} % human accuracy alone makes ${(100 * floor).toFixed(1)} %, at or over the cap: predictive cannot dial ahead.`
        : '';
    return {
      wanted: safe,
      reason: 'abandon_guard',
      explanation: `${abandoned} abandoned of ${live} live today${estimateNote}; one more would make ${(100 * next).toFixed(1)} % (cap ${(100 * cap).toFixed(1)} %): dialing 1:1.${floorNote}`,
    };
  }
  const parts = forecastParts(snapshot, settings.disclaimerS, settings.abandonGraceS, settings.noAnswerTimeoutS ?? DEFAULT_NO_ANSWER_TIMEOUT_S);
  const risk = riskTolerance(snapshot, settings) * headroomFactor(abandoned, live, cap, active, accuracy);
  const most = Math.max(0, Math.floor(settings.ratio * active + 1e-9) - unconnected);
  let n = 0;
  let chosen = outcomeWith(parts, 0);
  for (let k = 1; k <= most; k++) {
    const o = outcomeWith(parts, k);
    if (o.overflow > risk * o.live) break;
    // Expected abandons from this pipeline must still leave the day one abandon under the cap.
    if (abandonRate(abandoned + o.overflow + 1, live + o.live, accuracy) > cap) break;
    n = k;
    chosen = o;
  }
  const wanted = Math.max(n, safe);
  const last = parts.checkpointsS.length - 1;
  const horizonS = (parts.checkpointsS[last] as number) + parts.toleranceS;
  const agentsFree = parts.agentsFree[last] as number;
  const pipelineLive = parts.pipelineLive[last] as number;
  const forecast: PacingForecast = {
    horizonS,
    agentsFree,
    pipelineLive,
    liveRate: parts.liveRate,
    risk,
    expectedOverflow: chosen.overflow,
  };
  return {
    wanted,
    reason: wanted > 0 ? 'predictive_forecast' : 'predictive_full',
    explanation: `${agentsFree.toFixed(1)} agent(s) free within ${horizonS.toFixed(0)} s, ${pipelineLive.toFixed(1)} live answer(s) in flight, ${(100 * parts.liveRate).toFixed(0)} % live per dial: ${wanted} dial(s).`,
    forecast,
  };
}

/**
 * Abandon rate each behaviour steers to, as a fraction of the cap at the start and at the end
 * of the shift (straight line between), and the window it measures: HARD_LIMIT and TAPERED
 * watch the last hour, AVERAGE the whole day. The day guard applies to all of them.
 */
export const BEHAVIOUR_TARGETS: Record<AdaptiveBehaviour, { start: number; end: number; window: 'hour' | 'day' }> = {
  ADAPT_HARD_LIMIT: { start: 0.85, end: 0.85, window: 'hour' },
  ADAPT_TAPERED: { start: 1.2, end: 0.5, window: 'hour' },
  ADAPT_AVERAGE: { start: 0.75, end: 0.75, window: 'day' },
};

/**
 * How much expected overflow per expected live answer predictive may accept now: the pacer's
 * own budget (the cap, or with an AMD accuracy what the estimate leaves of it, see
 * pacerAbandonBudget), scaled up when its measured abandon rate runs under the behaviour's
 * target and down when over it. ADAPT_HARD_LIMIT and ADAPT_TAPERED measure the last hour,
 * ADAPT_AVERAGE the day; ADAPT_TAPERED's target starts above the budget and ends well under
 * it as the shift goes on. The estimate is arithmetic on the live count, not chance, so the
 * behaviours' margins apply to the pacer's own share only.
 */
export function riskTolerance(snapshot: PacingSnapshot, settings: PacingSettings): number {
  const budget = pacerAbandonBudget(settings.abandonCap, settings.amdHumanAccuracy);
  const { stats } = snapshot;
  const tuning = BEHAVIOUR_TARGETS[settings.behaviour];
  const progress = shiftProgress(snapshot.nowMs, settings);
  const target = budget * (tuning.start + (tuning.end - tuning.start) * progress);
  const abandoned = tuning.window === 'hour' ? stats.abandonedLastHour : stats.abandonedToday;
  const live = tuning.window === 'hour' ? stats.liveLastHour : stats.liveToday;
  if (target <= 0) return 0;
  const observed = (abandoned + target * FEEDBACK_PRIOR_LIVE) / (live + FEEDBACK_PRIOR_LIVE);
  const multiplier = Math.exp(Math.max(-3, Math.min(3, (FEEDBACK_GAIN * (target - observed)) / target)));
  return Math.min(0.5, RISK_SCALE * budget * multiplier);
}

/**
 * Share of the risk tolerance predictive may use given the day's record: the headroom is how
 * many abandons the day could still take after one more without going over the cap,
 * cap x (live + 1 + e) - (abandoned + 1 + e), e the estimated AMD hang-ups of people (0
 * without an AMD accuracy). 0 at no headroom (where the day guard takes over), rising in a
 * straight line to 1 at HEADROOM_RAMP_PER_SQRT_AGENT x sqrt(active agents).
 */
export function headroomFactor(abandonedToday: number, liveToday: number, cap: number, activeAgents: number, amdHumanAccuracy?: number): number {
  const estimate = amdHumanAccuracy === undefined ? 0 : estimatedAmdAbandons(liveToday + 1, amdHumanAccuracy);
  const headroom = cap * (liveToday + 1 + estimate) - (abandonedToday + 1 + estimate);
  const ramp = HEADROOM_RAMP_PER_SQRT_AGENT * Math.sqrt(Math.max(1, activeAgents));
  return Math.min(1, Math.max(0, headroom / ramp));
}

/** Fraction of the shift already gone (0 at the start, 1 at the end; 0.5 when no shift is set). */
export function shiftProgress(nowMs: number, settings: PacingSettings): number {
  const { shiftStartMs, shiftEndMs } = settings;
  if (shiftStartMs === undefined || shiftEndMs === undefined || shiftEndMs <= shiftStartMs) return 0.5;
  return Math.min(1, Math.max(0, (nowMs - shiftStartMs) / (shiftEndMs - shiftStartMs)));
}

function statsUsable(snapshot: PacingSnapshot): boolean {
  const s = snapshot.stats;
  const positive = [s.answerTimeS, s.ringTimeS, s.talkTimeS, s.wrapUpTimeS];
  const nonNegative = [s.answerRate, s.machineRate, s.amdTimeS, s.talkTimeSdS, s.wrapUpTimeSdS];
  return (
    positive.every((x) => Number.isFinite(x) && x > 0) &&
    nonNegative.every((x) => Number.isFinite(x) && x >= 0) &&
    s.answerRate > 0 &&
    s.machineRate < 1
  );
}

function applyLimits(
  snapshot: PacingSnapshot,
  settings: PacingSettings,
  wanted: number,
  reason: PacingReason,
  explanation: string,
  forecast: PacingForecast | undefined,
): PacingDecision {
  const { calls } = snapshot;
  const lines = calls.ringing + calls.detecting + calls.waiting + calls.connected;
  const lineRoom = Math.max(0, Math.floor(settings.maxLines) - lines);
  const cpsRoom = Math.max(0, Math.floor(settings.cps) - snapshot.dialsLastSecond);
  const dial = Math.max(0, Math.min(wanted, lineRoom, cpsRoom));
  const base = forecast ? { forecast } : {};
  if (dial === wanted) return { dial, wanted, reason, explanation, ...base };
  const limit: PacingReason = lineRoom <= cpsRoom ? 'max_lines' : 'cps_limit';
  const why =
    limit === 'max_lines'
      ? `${lines} of ${settings.maxLines} lines in use`
      : `${snapshot.dialsLastSecond} of ${settings.cps} calls placed this second`;
  // Held back by the CPS only (lines to spare): another round one CPS window later can place them.
  const followUp = cpsRoom < Math.min(wanted, lineRoom) ? { followUpS: CPS_WINDOW_S } : {};
  return { dial, wanted, reason: limit, explanation: `${explanation} Limited to ${dial}: ${why}.`, ...base, ...followUp };
}
