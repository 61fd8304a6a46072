/**
 * The pacer's inputs and output. Durations are seconds (suffix S), instants are epoch
 * milliseconds (suffix Ms); the caller supplies the clock, so the decision stays pure.
 */

/** What a logged-in agent is doing, as the pacer sees it. */
export type AgentActivity = 'available' | 'talking' | 'wrapup' | 'paused';

/** One logged-in agent: activity and the instant it began (a reserved agent counts as talking). */
export interface AgentSnapshot {
  activity: AgentActivity;
  sinceMs: number;
}

/** The campaign's unfinished outbound calls, by stage. */
export interface CallCounts {
  /** Placed (queued, initiated or ringing), not answered yet. */
  ringing: number;
  /** Answered, async AMD result not in yet (the disclaimer is already playing). */
  detecting: number;
  /** Classified live, no agent assigned yet (still in the disclaimer or in the overflow queue). */
  waiting: number;
  /** Assigned to an agent (reserved during the disclaimer, or talking). */
  connected: number;
}

/** Rolling statistics the caller keeps per campaign (over recent calls, except the day counts). */
export interface PacingStats {
  /** Finished dials behind the rates below. */
  sampleDials: number;
  /** Answered (human or machine) / dials. */
  answerRate: number;
  /** Classified machine / answered. */
  machineRate: number;
  /** Mean seconds from dial to answer, over answered calls. */
  answerTimeS: number;
  /** Standard deviation of dial-to-answer time (used with ringingSinceMs). */
  answerTimeSdS: number;
  /** Mean seconds a dial spends before it is answered or gives up, over all dials. */
  ringTimeS: number;
  /** Mean seconds from answer to the AMD result. */
  amdTimeS: number;
  /** Finished conversations behind the talk figures. */
  talkSamples: number;
  /** Mean and standard deviation of agent talk time. */
  talkTimeS: number;
  talkTimeSdS: number;
  /** Mean and standard deviation of agent wrap-up time. */
  wrapUpTimeS: number;
  wrapUpTimeSdS: number;
  /** Live answers and abandoned live answers since the start of the day. */
  liveToday: number;
  abandonedToday: number;
  /** Live answers and abandoned live answers in the last hour. */
  liveLastHour: number;
  abandonedLastHour: number;
}

/** Everything the decision looks at, read from the database (or the simulator) at one instant. */
export interface PacingSnapshot {
  nowMs: number;
  /** Logged-in agents only. */
  agents: readonly AgentSnapshot[];
  calls: CallCounts;
  /** Calls this account placed in the last second (for the CPS budget). */
  dialsLastSecond: number;
  /** When each call now ringing was placed; sharper forecast than the count alone (optional). */
  ringingSinceMs?: readonly number[];
  /** Preview mode: agents who asked for their next call and have none placed yet. */
  previewRequests: number;
  stats: PacingStats;
}

/** How the campaign dials. */
export type PacingMode = 'preview' | 'power' | 'predictive';

/** VICIdial's names for how predictive dialing treats the abandon cap. */
export type AdaptiveBehaviour = 'ADAPT_HARD_LIMIT' | 'ADAPT_TAPERED' | 'ADAPT_AVERAGE';

/** Campaign configuration that shapes the decision. */
export interface PacingSettings {
  mode: PacingMode;
  /** Power: lines per available agent. Predictive: ceiling on unconnected calls per active agent. */
  ratio: number;
  /** Most concurrent calls (ringing, detecting, waiting and connected) the campaign may hold. */
  maxLines: number;
  /** Highest share of live answers that may be abandoned over the day (0.03 = 3 %). */
  abandonCap: number;
  /** Calls per second the account may place (integer, Twilio's default is 1). */
  cps: number;
  /** Predictive only. */
  behaviour: AdaptiveBehaviour;
  /** Length of the disclaimer a live answer hears before meeting the agent. */
  disclaimerS: number;
  /** A live answer not connected within this many seconds after the disclaimer is abandoned (2). */
  abandonGraceS: number;
  /** Seconds a call rings before it is given up as no-answer (the Calls API Timeout; default 30). */
  noAnswerTimeoutS?: number;
  /** Working window of the campaign today, for ADAPT_TAPERED. */
  shiftStartMs?: number;
  shiftEndMs?: number;
  /** Predictive dials 1:1 until the rolling statistics rest on at least this many dials (default 100). */
  minSampleDials?: number;
  /** ...and on at least this many finished conversations (default 20). */
  minTalkSamples?: number;
  /**
   * Share of humans the campaign's AMD classifies human (0.96 = 4 % of people taken for
   * machines). When set, the humans AMD hung up on are estimated from it and counted as
   * abandoned in every abandon figure the decision holds under the cap (see definitions.ts);
   * undefined = no estimate.
   */
  amdHumanAccuracy?: number;
}

/** Why the decision came out as it did (machine-readable). */
export type PacingReason =
  | 'no_agents'
  | 'all_paused'
  | 'preview_requests'
  | 'preview_idle'
  | 'power_ratio'
  | 'power_full'
  | 'predictive_forecast'
  | 'predictive_full'
  | 'warmup'
  | 'abandon_guard'
  | 'max_lines'
  | 'cps_limit';

/** What the predictive forecast saw, for logs and the dashboard. */
export interface PacingForecast {
  /** Seconds from a dial now to the moment its live answer needs an agent (answer + disclaimer + grace). */
  horizonS: number;
  /** Agents expected free within the horizon (available now plus those finishing). */
  agentsFree: number;
  /** Live answers expected from calls already in flight. */
  pipelineLive: number;
  /** Chance one new dial becomes a live answer. */
  liveRate: number;
  /** Tolerated expected overflow per expected live answer, after abandon feedback. */
  risk: number;
  /** Expected live answers left without an agent if the chosen dials are placed. */
  expectedOverflow: number;
}

/** The answer: how many calls to place now and why. */
export interface PacingDecision {
  dial: number;
  /** What the mode wanted before the line and CPS limits. */
  wanted: number;
  reason: PacingReason;
  explanation: string;
  forecast?: PacingForecast;
  /**
   * Set when the calls-per-second limit held back calls the mode wanted: seconds after which
   * another round could place them. The caller runs a round again then (or they wait for the
   * next event or heartbeat).
   */
  followUpS?: number;
}
