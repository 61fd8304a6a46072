/**
 * A seeded discrete-event simulation of one campaign over a shift. It keeps the state the
 * database would keep and asks decidePacing (src/lib/domain/pacing) how many calls to place on
 * the events the live dialer ticks on (call ended, AMD result, agent freed or wrap-up over,
 * login change) and on a heartbeat every `heartbeatS` seconds; a live answer joins its agent
 * `connectLatencyS` after the disclaimer's end (webhook and conference join).
 */
import {
  abandonRate,
  decidePacing,
  estimatedAmdAbandons,
  DEFAULT_AMD_HUMAN_ACCURACY,
  CPS_WINDOW_S,
  type AdaptiveBehaviour,
  type AgentSnapshot,
  type PacingMode,
  type PacingReason,
  type PacingSettings,
  type PacingSnapshot,
} from '../src/lib/domain/pacing';
import { EventHeap } from './heap';
import { mixSeed, mulberry32 } from './prng';
import { CampaignStats, RecentCount } from './rolling';
import { draw, leadMixAt, meanOf, type Scenario } from './scenario';

/** How the simulated campaign dials. */
export interface Strategy {
  label: string;
  mode: PacingMode;
  /** Power: lines per available agent; predictive: ceiling on unconnected calls per agent. */
  ratio: number;
  behaviour?: AdaptiveBehaviour;
}

/** Seconds an idle preview agent looks at the next lead before asking for the call. */
export const PREVIEW_THINK_S = 8;
/** Answered calls that end within this many seconds of the answer are "short" (Anatel counts them). */
export const SHORT_CALL_S = 6;

/** One hour of the shift. */
export interface HourFigures {
  hour: number;
  agentHours: number;
  talkMinPerAgentHour: number;
  occupancy: number;
  dials: number;
  connects: number;
  live: number;
  abandoned: number;
  abandonRate: number;
}

/**
 * The most talk an agent can do: 60 x mean talk / (mean talk + mean wrap-up) minutes per
 * agent-hour (no wait at all between calls), from the scenario's distributions; and what
 * binds first at that pace: the agents, the calls per second, or the lines.
 */
export interface PhysicalLimit {
  talkMinPerAgentHour: number;
  meanTalkS: number;
  meanWrapUpS: number;
  /** Dials per second needed to keep every agent busy at the limit, in the hour with the fewest live answers per dial. */
  dialsPerSecondNeeded: number;
  /** dialsPerSecondNeeded / campaign CPS. */
  cpsLoad: number;
  /** Lines needed at that pace (agents on calls plus calls in flight). */
  linesNeeded: number;
  constraint: 'agents' | 'cps' | 'lines';
}

/** Computes the physical limit of a scenario (see PhysicalLimit). */
export function physicalLimit(scenario: Scenario): PhysicalLimit {
  const meanTalkS = meanOf(scenario.talk);
  const meanWrapUpS = meanOf(scenario.wrapUp);
  const agents = Math.max(scenario.agents, ...(scenario.schedule ?? []).map((e) => e.agents));
  const mixes = [scenario.leads, ...(scenario.leadsByHour ?? [])];
  const { humanAccuracy, machineAccuracy } = scenario.amd;
  let worst = { perDial: Infinity, lineS: 0 };
  for (const m of mixes) {
    // Agent-seconds one dial brings: its person's talk and wrap-up, or a machine put through.
    const agentS = m.human * humanAccuracy * (meanTalkS + meanWrapUpS) + m.machine * (1 - machineAccuracy) * (meanOf(scenario.machineTalk) + meanWrapUpS);
    const amdS = meanOf(scenario.amd.delay);
    const lineS =
      m.human * (meanOf(scenario.ring.humanAnswer) + Math.max(amdS, scenario.disclaimerS)) +
      m.machine * (meanOf(scenario.ring.machineAnswer) + amdS) +
      m.busy * meanOf(scenario.ring.busy) +
      m.noAnswer * scenario.ring.noAnswerTimeoutS;
    if (agentS < worst.perDial) worst = { perDial: agentS, lineS };
  }
  const dialsPerSecondNeeded = worst.perDial > 0 ? agents / worst.perDial : Infinity;
  const cpsLoad = dialsPerSecondNeeded / scenario.campaign.cps;
  const linesNeeded = agents + dialsPerSecondNeeded * worst.lineS;
  const constraint = cpsLoad > 1 ? 'cps' : linesNeeded > scenario.campaign.maxLines ? 'lines' : 'agents';
  return {
    talkMinPerAgentHour: (60 * meanTalkS) / (meanTalkS + meanWrapUpS),
    meanTalkS,
    meanWrapUpS,
    dialsPerSecondNeeded,
    cpsLoad,
    linesNeeded,
    constraint,
  };
}

/** The p-quantile (0..1) of a list of numbers, nearest rank; 0 when empty. */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1] as number;
}

/** What a run measured. */
export interface SimResult {
  scenario: string;
  strategy: string;
  seed: number;
  agentHours: number;
  talkMinPerAgentHour: number;
  occupancy: number;
  /** Abandoned / live answers (no AMD estimate). */
  abandonRate: number;
  /** The same with the estimated AMD hang-ups of people, at the campaign's configured accuracy (default 0.96). */
  abandonRateWithAmd: number;
  /** The estimate itself (people AMD hung up on), and the accuracy it used. */
  amdEstimatedAbandons: number;
  amdHumanAccuracyCounted: number;
  /** Whether the pacer held the cap on the rate with the estimate (campaign.amdHumanAccuracy not null). */
  pacerCountsAmdEstimate: boolean;
  /** Seconds a live answer heard nothing between the disclaimer's end and joining its agent (connected in time only). */
  customerSilenceP50S: number;
  customerSilenceP95S: number;
  limit: PhysicalLimit;
  /** The live system's timing the run used. */
  timing: { heartbeatS: number; connectLatencyS: number; cpsFollowUp: boolean };
  /** talkMinPerAgentHour / limit.talkMinPerAgentHour. */
  limitRatio: number;
  dialsPerAgentHour: number;
  connectsPerAgentHour: number;
  meanAgentWaitS: number;
  peakLines: number;
  meanLines: number;
  totals: {
    dials: number;
    answered: number;
    live: number;
    abandoned: number;
    connects: number;
    amdDroppedHumans: number;
    machinesConnected: number;
    patienceHangups: number;
    shortCalls: number;
  };
  /** Checks on the limits, measured by the simulator, not trusted from the decision. */
  limits: { maxLinesSeen: number; maxDialsInOneSecond: number; dialsWithoutAgents: number };
  /** Times decidePacing was asked, and what it answered. */
  decisions: number;
  reasons: Partial<Record<PacingReason, number>>;
  hourly: HourFigures[];
}

type Stage = 'ringing' | 'detecting' | 'waiting' | 'connected' | 'ended';

interface Call {
  id: number;
  dialAt: number;
  stage: Stage;
  trueHuman: boolean;
  answerAt: number;
  amdDelay: number;
  classifiedMachine: boolean;
  disclaimerEnd: number;
  patience: number;
  talk: number;
  wrap: number;
  abandoned: boolean;
  agent: Agent | undefined;
}

interface Agent {
  id: number;
  state: 'out' | 'available' | 'talking' | 'wrapup';
  logoutPending: boolean;
  snap: AgentSnapshot;
  availableSince: number;
  talkStart: number;
  wrapStart: number;
}

type Event =
  | { kind: 'heartbeat' }
  | { kind: 'followUp' }
  | { kind: 'answer' | 'ringEnd' | 'amd' | 'deadline' | 'patience' | 'talkEnd'; call: Call }
  | { kind: 'wrapEnd'; agent: Agent }
  | { kind: 'schedule'; agents: number };

interface Bucket {
  talkS: number;
  wrapS: number;
  agentS: number;
  dials: number;
  connects: number;
  live: number;
  abandoned: number;
}

/** Runs one scenario under one strategy; the same (scenario, strategy, seed) always gives the same result. */
export function simulate(scenario: Scenario, strategy: Strategy, seed: number = scenario.seed): SimResult {
  const endT = scenario.shiftHours * 3600;
  const hours = Math.ceil(scenario.shiftHours);
  const buckets: Bucket[] = Array.from({ length: hours }, () => ({ talkS: 0, wrapS: 0, agentS: 0, dials: 0, connects: 0, live: 0, abandoned: 0 }));
  const addSpan = (field: 'talkS' | 'wrapS' | 'agentS', from: number, to: number, weight = 1): void => {
    let a = Math.max(0, from);
    const b = Math.min(endT, to);
    while (a < b) {
      const h = Math.min(hours - 1, Math.floor(a / 3600));
      const edge = Math.min(b, (h + 1) * 3600);
      (buckets[h] as Bucket)[field] += (edge - a) * weight;
      if (edge <= a) break;
      a = edge;
    }
  };
  const bucketAt = (t: number): Bucket => buckets[Math.min(hours - 1, Math.floor(t / 3600))] as Bucket;

  const settings: PacingSettings = {
    mode: strategy.mode,
    ratio: strategy.ratio,
    behaviour: strategy.behaviour ?? 'ADAPT_HARD_LIMIT',
    maxLines: scenario.campaign.maxLines,
    abandonCap: scenario.campaign.abandonCap,
    cps: scenario.campaign.cps,
    disclaimerS: scenario.disclaimerS,
    abandonGraceS: scenario.abandonGraceS,
    noAnswerTimeoutS: scenario.ring.noAnswerTimeoutS,
    shiftStartMs: 0,
    shiftEndMs: endT * 1000,
  };
  const configuredAccuracy = scenario.campaign.amdHumanAccuracy;
  if (configuredAccuracy !== null) settings.amdHumanAccuracy = configuredAccuracy ?? DEFAULT_AMD_HUMAN_ACCURACY;
  const countedAccuracy = configuredAccuracy ?? DEFAULT_AMD_HUMAN_ACCURACY;
  const silences: number[] = [];

  const heap = new EventHeap<Event>();
  const scheduleEntries = scenario.schedule ?? [];
  const initialAgents = scheduleEntries.find((e) => e.atHour === 0)?.agents ?? scenario.agents;
  const agentCount = Math.max(scenario.agents, ...scheduleEntries.map((e) => e.agents));
  const agents: Agent[] = Array.from({ length: agentCount }, (_, id) => ({
    id,
    state: 'out',
    logoutPending: false,
    snap: { activity: 'available', sinceMs: 0 },
    availableSince: 0,
    talkStart: 0,
    wrapStart: 0,
  }));
  let loggedInSnaps: AgentSnapshot[] = [];
  let loggedIn = 0;
  let loggedSince = 0;
  let loggedSeconds = 0;

  const counts = { ringing: 0, detecting: 0, waiting: 0, connected: 0 };
  const ringingCalls = new Set<Call>();
  const queue: Call[] = [];
  let queueHead = 0;
  let callIndex = 0;

  // Rolling statistics, as the database would keep them (window sizes from the shared definitions).
  const stats = new CampaignStats();
  const dialWindow = new RecentCount(CPS_WINDOW_S);

  const totals = { dials: 0, answered: 0, live: 0, abandoned: 0, connects: 0, amdDroppedHumans: 0, machinesConnected: 0, patienceHangups: 0, shortCalls: 0 };
  const limits = { maxLinesSeen: 0, maxDialsInOneSecond: 0, dialsWithoutAgents: 0 };
  const reasons: Partial<Record<PacingReason, number>> = {};
  let decisions = 0;
  // When the pending follow-up round runs (none pending when in the past).
  let followUpAt = -1;
  let waitSum = 0;
  let linesIntegral = 0;
  let lastT = 0;

  const lines = (): number => counts.ringing + counts.detecting + counts.waiting + counts.connected;

  const refreshLoggedIn = (t: number): void => {
    loggedSeconds += loggedIn * (t - loggedSince);
    addSpan('agentS', loggedSince, t, loggedIn);
    loggedSince = t;
    const present = agents.filter((a) => a.state !== 'out');
    loggedIn = present.length;
    loggedInSnaps = present.map((a) => a.snap);
  };

  const setAvailable = (agent: Agent, t: number): void => {
    agent.state = 'available';
    agent.availableSince = t;
    agent.snap.activity = 'available';
    agent.snap.sinceMs = t * 1000;
  };

  const countAbandon = (call: Call, t: number): void => {
    call.abandoned = true;
    totals.abandoned++;
    stats.addAbandoned(t);
    bucketAt(t).abandoned++;
  };

  const endWaiting = (call: Call): void => {
    call.stage = 'ended';
    counts.waiting--;
  };

  // The next waiting call for a free agent: the oldest one still within its grace, else the
  // oldest already abandoned (it is counted either way; serving it first would make the
  // fresh one miss its deadline too).
  const nextWaiting = (): Call | undefined => {
    while (queueHead < queue.length && (queue[queueHead] as Call).stage !== 'waiting') queueHead++;
    let fallback: Call | undefined;
    for (let i = queueHead; i < queue.length; i++) {
      const call = queue[i] as Call;
      if (call.stage !== 'waiting') continue;
      if (!call.abandoned) return call;
      fallback ??= call;
    }
    return fallback;
  };

  const assign = (t: number): void => {
    for (;;) {
      const call = nextWaiting();
      if (call === undefined) break;
      let best: Agent | undefined;
      for (const a of agents) if (a.state === 'available' && (best === undefined || a.availableSince < best.availableSince)) best = a;
      if (best === undefined) break;
      counts.waiting--;
      counts.connected++;
      call.stage = 'connected';
      call.agent = best;
      // Reserved now (the whisper plays during the disclaimer); joins after the disclaimer plus the connect latency.
      const connectAt = Math.max(t, call.disclaimerEnd) + scenario.connectLatencyS;
      if (!call.abandoned) silences.push(connectAt - call.disclaimerEnd);
      best.state = 'talking';
      best.talkStart = connectAt;
      best.snap.activity = 'talking';
      best.snap.sinceMs = connectAt * 1000;
      waitSum += connectAt - best.availableSince;
      totals.connects++;
      bucketAt(t).connects++;
      if (!call.trueHuman) totals.machinesConnected++;
      heap.push(connectAt + call.talk, { kind: 'talkEnd', call });
    }
    if (queueHead > 1024 && queueHead * 2 > queue.length) {
      queue.splice(0, queueHead);
      queueHead = 0;
    }
  };

  const dial = (t: number): void => {
    const random = mulberry32(mixSeed(seed, callIndex));
    const id = callIndex++;
    const u = random();
    const leads = leadMixAt(scenario, t);
    const { ring } = scenario;
    let trueHuman = false;
    let answerIn = Infinity;
    let endIn = ring.noAnswerTimeoutS;
    if (u < leads.human) {
      trueHuman = true;
      answerIn = draw(ring.humanAnswer, random);
    } else if (u < leads.human + leads.machine) {
      answerIn = draw(ring.machineAnswer, random);
    } else if (u < leads.human + leads.machine + leads.busy) {
      endIn = draw(ring.busy, random);
    }
    const amdDelay = draw(scenario.amd.delay, random);
    const correct = random() < (trueHuman ? scenario.amd.humanAccuracy : scenario.amd.machineAccuracy);
    const call: Call = {
      id,
      dialAt: t,
      stage: 'ringing',
      trueHuman,
      answerAt: NaN,
      amdDelay,
      classifiedMachine: trueHuman ? !correct : correct,
      disclaimerEnd: NaN,
      patience: trueHuman ? draw(scenario.patience, random) : 120,
      talk: draw(trueHuman ? scenario.talk : scenario.machineTalk, random),
      wrap: draw(scenario.wrapUp, random),
      abandoned: false,
      agent: undefined,
    };
    counts.ringing++;
    ringingCalls.add(call);
    totals.dials++;
    bucketAt(t).dials++;
    dialWindow.add(t);
    if (loggedIn === 0) limits.dialsWithoutAgents++;
    limits.maxLinesSeen = Math.max(limits.maxLinesSeen, lines());
    limits.maxDialsInOneSecond = Math.max(limits.maxDialsInOneSecond, dialWindow.count(t));
    if (answerIn < ring.noAnswerTimeoutS) heap.push(t + answerIn, { kind: 'answer', call });
    else heap.push(t + endIn, { kind: 'ringEnd', call });
  };

  const snapshot: PacingSnapshot = {
    nowMs: 0,
    agents: loggedInSnaps,
    calls: { ...counts },
    dialsLastSecond: 0,
    previewRequests: 0,
    stats: {
      sampleDials: 0,
      answerRate: 0,
      machineRate: 0,
      answerTimeS: 0,
      answerTimeSdS: 0,
      ringTimeS: 0,
      amdTimeS: 0,
      talkSamples: 0,
      talkTimeS: 0,
      talkTimeSdS: 0,
      wrapUpTimeS: 0,
      wrapUpTimeSdS: 0,
      liveToday: 0,
      abandonedToday: 0,
      liveLastHour: 0,
      abandonedLastHour: 0,
    },
  };

  const pace = (t: number): void => {
    snapshot.nowMs = t * 1000;
    snapshot.agents = loggedInSnaps;
    snapshot.calls = { ...counts };
    snapshot.dialsLastSecond = dialWindow.count(t);
    snapshot.ringingSinceMs = Array.from(ringingCalls, (c) => c.dialAt * 1000);
    if (settings.mode === 'preview') {
      let asking = 0;
      for (const a of agents) if (a.state === 'available' && t - a.availableSince >= PREVIEW_THINK_S) asking++;
      snapshot.previewRequests = Math.max(0, asking - (counts.ringing + counts.detecting + counts.waiting));
    }
    stats.fill(snapshot.stats, t);
    const decision = decidePacing(snapshot, settings);
    decisions++;
    reasons[decision.reason] = (reasons[decision.reason] ?? 0) + 1;
    for (let i = 0; i < decision.dial; i++) dial(t);
    if (decision.followUpS !== undefined && scenario.cpsFollowUp && followUpAt <= t) {
      followUpAt = t + decision.followUpS;
      heap.push(followUpAt, { kind: 'followUp' });
    }
  };

  // Handles one event; true when the live dialer would run a pacing round on it (the
  // heartbeat, a call's final status, an AMD result, wrap-up over, an agent's status change).
  const handle = (t: number, ev: Event): boolean => {
    switch (ev.kind) {
      case 'heartbeat':
        if (t + scenario.heartbeatS < endT) heap.push(t + scenario.heartbeatS, ev);
        return true;
      case 'followUp':
        return true;
      case 'schedule': {
        let present = agents.filter((a) => a.state !== 'out').length;
        for (const a of agents) {
          if (present >= ev.agents) break;
          if (a.state === 'out') {
            a.logoutPending = false;
            setAvailable(a, t);
            present++;
          } else if (a.logoutPending) {
            a.logoutPending = false;
          }
        }
        let excess = present - ev.agents;
        for (const a of agents) {
          if (excess <= 0) break;
          if (a.state === 'available') {
            a.state = 'out';
            excess--;
          }
        }
        for (const a of agents) {
          if (excess <= 0) break;
          if ((a.state === 'talking' || a.state === 'wrapup') && !a.logoutPending) {
            a.logoutPending = true;
            excess--;
          }
        }
        refreshLoggedIn(t);
        assign(t);
        return true;
      }
      case 'answer': {
        const call = ev.call;
        call.stage = 'detecting';
        call.answerAt = t;
        call.disclaimerEnd = t + scenario.disclaimerS;
        counts.ringing--;
        ringingCalls.delete(call);
        counts.detecting++;
        totals.answered++;
        stats.answered.add(1);
        stats.ringTime.add(t - call.dialAt);
        stats.answerTime.add(t - call.dialAt);
        heap.push(t + call.amdDelay, { kind: 'amd', call });
        // Answered is not a final status: the live dialer does not tick on it.
        return false;
      }
      case 'ringEnd':
        ev.call.stage = 'ended';
        counts.ringing--;
        ringingCalls.delete(ev.call);
        stats.answered.add(0);
        stats.ringTime.add(t - ev.call.dialAt);
        return true;
      case 'amd': {
        const call = ev.call;
        counts.detecting--;
        stats.machine.add(call.classifiedMachine ? 1 : 0);
        stats.amdTime.add(call.amdDelay);
        if (call.classifiedMachine) {
          call.stage = 'ended';
          if (call.trueHuman) totals.amdDroppedHumans++;
          if (call.amdDelay <= SHORT_CALL_S) totals.shortCalls++;
          return true;
        }
        call.stage = 'waiting';
        counts.waiting++;
        totals.live++;
        stats.addLive(t);
        bucketAt(t).live++;
        queue.push(call);
        heap.push(Math.max(t, call.disclaimerEnd + scenario.abandonGraceS), { kind: 'deadline', call });
        heap.push(Math.max(t, call.disclaimerEnd + call.patience), { kind: 'patience', call });
        assign(t);
        return true;
      }
      case 'deadline': {
        const call = ev.call;
        if (call.stage !== 'waiting' || call.abandoned) return false;
        countAbandon(call, t);
        if (scenario.overflow === 'drop') {
          endWaiting(call);
          if (t - call.answerAt <= SHORT_CALL_S) totals.shortCalls++;
          return true;
        }
        return false;
      }
      case 'patience': {
        const call = ev.call;
        if (call.stage !== 'waiting') return false;
        if (!call.abandoned) countAbandon(call, t);
        endWaiting(call);
        totals.patienceHangups++;
        if (t - call.answerAt <= SHORT_CALL_S) totals.shortCalls++;
        return true;
      }
      case 'talkEnd': {
        const call = ev.call;
        const agent = call.agent as Agent;
        call.stage = 'ended';
        counts.connected--;
        addSpan('talkS', agent.talkStart, t);
        stats.talk.add(t - agent.talkStart);
        if (t - call.answerAt <= SHORT_CALL_S) totals.shortCalls++;
        agent.state = 'wrapup';
        agent.wrapStart = t;
        agent.snap.activity = 'wrapup';
        agent.snap.sinceMs = t * 1000;
        heap.push(t + call.wrap, { kind: 'wrapEnd', agent });
        return true;
      }
      case 'wrapEnd': {
        const agent = ev.agent;
        addSpan('wrapS', agent.wrapStart, t);
        stats.wrapUp.add(t - agent.wrapStart);
        if (agent.logoutPending) {
          agent.logoutPending = false;
          agent.state = 'out';
          refreshLoggedIn(t);
        } else {
          setAvailable(agent, t);
          assign(t);
        }
        return true;
      }
    }
  };

  for (const a of agents.slice(0, initialAgents)) setAvailable(a, 0);
  refreshLoggedIn(0);
  for (const e of scheduleEntries) if (e.atHour > 0) heap.push(e.atHour * 3600, { kind: 'schedule', agents: e.agents });
  heap.push(0, { kind: 'heartbeat' });

  for (;;) {
    const next = heap.pop();
    if (next === undefined || next.t >= endT) break;
    const t = next.t;
    linesIntegral += lines() * (t - lastT);
    lastT = t;
    if (handle(t, next.item)) pace(t);
  }
  linesIntegral += lines() * (endT - lastT);
  for (const a of agents) {
    if (a.state === 'talking' && a.talkStart < endT) addSpan('talkS', a.talkStart, endT);
    if (a.state === 'wrapup') addSpan('wrapS', a.wrapStart, endT);
  }
  refreshLoggedIn(endT);

  const talkS = buckets.reduce((sum, b) => sum + b.talkS, 0);
  const wrapS = buckets.reduce((sum, b) => sum + b.wrapS, 0);
  const agentHours = loggedSeconds / 3600;
  const perAgentHour = (x: number): number => (agentHours > 0 ? x / agentHours : 0);
  const limit = physicalLimit(scenario);
  const talkMinPerAgentHour = perAgentHour(talkS / 60);
  return {
    scenario: scenario.name,
    strategy: strategy.label,
    seed,
    agentHours,
    talkMinPerAgentHour,
    occupancy: loggedSeconds > 0 ? (talkS + wrapS) / loggedSeconds : 0,
    abandonRate: abandonRate(totals.abandoned, totals.live),
    abandonRateWithAmd: abandonRate(totals.abandoned, totals.live, countedAccuracy),
    amdEstimatedAbandons: estimatedAmdAbandons(totals.live, countedAccuracy),
    amdHumanAccuracyCounted: countedAccuracy,
    pacerCountsAmdEstimate: settings.amdHumanAccuracy !== undefined,
    customerSilenceP50S: quantile(silences, 0.5),
    customerSilenceP95S: quantile(silences, 0.95),
    limit,
    timing: { heartbeatS: scenario.heartbeatS, connectLatencyS: scenario.connectLatencyS, cpsFollowUp: scenario.cpsFollowUp },
    limitRatio: limit.talkMinPerAgentHour > 0 ? talkMinPerAgentHour / limit.talkMinPerAgentHour : 0,
    dialsPerAgentHour: perAgentHour(totals.dials),
    connectsPerAgentHour: perAgentHour(totals.connects),
    meanAgentWaitS: totals.connects > 0 ? waitSum / totals.connects : 0,
    peakLines: limits.maxLinesSeen,
    meanLines: linesIntegral / endT,
    totals,
    limits,
    decisions,
    reasons,
    hourly: buckets.map((b, hour) => ({
      hour,
      agentHours: b.agentS / 3600,
      talkMinPerAgentHour: b.agentS > 0 ? b.talkS / 60 / (b.agentS / 3600) : 0,
      occupancy: b.agentS > 0 ? (b.talkS + b.wrapS) / b.agentS : 0,
      dials: b.dials,
      connects: b.connects,
      live: b.live,
      abandoned: b.abandoned,
      abandonRate: abandonRate(b.abandoned, b.live),
    })),
  };
}
