import {
  agentFreeWithin,
  expectedPositivePart,
  forecastParts,
  liveRatePerDial,
  liveRateWhileRinging,
  liveWithin,
  lognormalCdf,
  normalCdf,
  outcomeWith,
  probEndsWithin,
  type PacingSnapshot,
  type PacingStats,
} from '../../../src/lib/domain/pacing';

// A log-normal with sigma = 1 and median 100: mean 100 sqrt(e), sd = mean sqrt(e - 1).
const MEAN = 100 * Math.sqrt(Math.E);
const SD = MEAN * Math.sqrt(Math.E - 1);

const baseStats: PacingStats = {
  sampleDials: 500,
  answerRate: 0.4,
  machineRate: 0.375,
  answerTimeS: 11,
  answerTimeSdS: 0,
  ringTimeS: 20,
  amdTimeS: 3,
  talkSamples: 200,
  talkTimeS: MEAN,
  talkTimeSdS: SD,
  wrapUpTimeS: 30,
  wrapUpTimeSdS: 0,
  liveToday: 0,
  abandonedToday: 0,
  liveLastHour: 0,
  abandonedLastHour: 0,
};

describe('normal and log-normal', () => {
  test('standard normal at known points', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1)).toBeCloseTo(0.841345, 5);
    expect(normalCdf(-1.959964)).toBeCloseTo(0.025, 5);
  });

  test('log-normal with sigma 1: half below the median, Phi(1) below median x e', () => {
    expect(lognormalCdf(100, MEAN, SD)).toBeCloseTo(0.5, 6);
    expect(lognormalCdf(100 * Math.E, MEAN, SD)).toBeCloseTo(0.841345, 5);
    expect(lognormalCdf(0, MEAN, SD)).toBe(0);
  });

  test('a fixed duration is a step', () => {
    expect(lognormalCdf(179.9, 180, 0)).toBe(0);
    expect(lognormalCdf(180, 180, 0)).toBe(1);
  });
});

describe('ends within', () => {
  test('talk past the median ends before median x e with (Phi(1) - 0.5) / 0.5 = 0.6827', () => {
    expect(probEndsWithin(100, 100 * Math.E - 100, MEAN, SD)).toBeCloseTo(0.682689, 4);
  });

  test('a fixed 180 s activity at 170 s ends within 15 s, at 100 s it does not', () => {
    expect(probEndsWithin(170, 15, 180, 0)).toBe(1);
    expect(probEndsWithin(100, 15, 180, 0)).toBe(0);
  });

  test('nothing ends within zero seconds', () => {
    expect(probEndsWithin(50, 0, MEAN, SD)).toBe(0);
  });
});

describe('agent free within', () => {
  const now = 1_000_000;
  test('available is certain, paused never', () => {
    expect(agentFreeWithin({ activity: 'available', sinceMs: now }, now, 10, baseStats)).toBe(1);
    expect(agentFreeWithin({ activity: 'paused', sinceMs: now - 5000 }, now, 1000, baseStats)).toBe(0);
  });

  test('talking: the talk must end a mean wrap-up (30 s) before the horizon', () => {
    const agent = { activity: 'talking' as const, sinceMs: now - 100_000 };
    expect(agentFreeWithin(agent, now, 30 + 100 * Math.E - 100, baseStats)).toBeCloseTo(0.682689, 4);
    // A horizon shorter than the wrap-up leaves no chance.
    expect(agentFreeWithin(agent, now, 25, baseStats)).toBe(0);
  });

  test('wrap-up of a fixed 30 s: 20 s in, free within 10 s but not within 9', () => {
    const agent = { activity: 'wrapup' as const, sinceMs: now - 20_000 };
    expect(agentFreeWithin(agent, now, 10, baseStats)).toBe(1);
    expect(agentFreeWithin(agent, now, 9, baseStats)).toBe(0);
  });
});

describe('live answer rates', () => {
  test('per dial: answered x not machine = 0.4 x 0.625 = 0.25', () => {
    expect(liveRatePerDial(baseStats)).toBeCloseTo(0.25, 10);
  });

  test("while ringing (Little's law): 0.25 x 11 s / 20 s = 0.1375", () => {
    expect(liveRateWhileRinging(baseStats)).toBeCloseTo(0.1375, 10);
  });

  test('after ringing, with answers at exactly 10 s and a 30 s timeout', () => {
    const stats = { ...baseStats, answerTimeS: 10, answerTimeSdS: 0, machineRate: 0.5 };
    // Fresh call: 0.4 answer x 0.5 human.
    expect(liveWithin(0, Infinity, stats, 30)).toBeCloseTo(0.2, 10);
    // 5 s in: nothing answers within 3 s more, the answer comes within 6 s.
    expect(liveWithin(5, 3, stats, 30)).toBe(0);
    expect(liveWithin(5, 6, stats, 30)).toBeCloseTo(0.2, 10);
    // Still ringing after the answer time: it is a no-answer.
    expect(liveWithin(12, Infinity, stats, 30)).toBe(0);
    expect(liveWithin(30, Infinity, stats, 30)).toBe(0);
  });
});

describe('expected shortfall', () => {
  test('E[max(X,0)] for X ~ N(0,1) is 1/sqrt(2 pi)', () => {
    expect(expectedPositivePart(0, 1)).toBeCloseTo(0.398942, 5);
  });
  test('without variance it is the positive part', () => {
    expect(expectedPositivePart(2.5, 0)).toBe(2.5);
    expect(expectedPositivePart(-1, 0)).toBe(0);
  });
  test('E[max(X,0)] for X ~ N(1,4): 2 phi(0.5) + 1 Phi(0.5) = 1.1978', () => {
    expect(expectedPositivePart(1, 4)).toBeCloseTo(2 * 0.352065 + 0.691462, 4);
  });
});

describe('forecast parts, hand-computed', () => {
  const now = 10_000_000;
  const stats: PacingStats = { ...baseStats, machineRate: 0.5, answerTimeS: 10, answerTimeSdS: 0 };
  const snapshot: PacingSnapshot = {
    nowMs: now,
    agents: [
      { activity: 'available', sinceMs: now - 3000 },
      { activity: 'available', sinceMs: now },
      { activity: 'paused', sinceMs: now - 60_000 },
      { activity: 'wrapup', sinceMs: now - 20_000 },
    ],
    calls: { ringing: 0, detecting: 2, waiting: 1, connected: 1 },
    dialsLastSecond: 0,
    previewRequests: 0,
    ringingSinceMs: [],
    stats,
  };
  // Disclaimer 5 s, AMD 3 s, grace 2 s: a live answer can wait 4 s.
  const parts = forecastParts(snapshot, 5, 2, 30);

  test('checkpoints every 4 s up to timeout + AMD time (33 s), tolerance 4 s', () => {
    expect(parts.toleranceS).toBe(4);
    expect(parts.checkpointsS).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 33]);
  });

  test('agents: 2 available, the wrap-up ends in 10 s (counted from the checkpoint at 8 s), paused never', () => {
    expect(parts.agentsFree.slice(0, 4)).toEqual([2, 2, 3, 3]);
    expect(parts.agentsFreeVar.every((v) => v === 0)).toBe(true);
  });

  test('pipeline: 1 waiting + 2 detecting x 0.5 = 2, variance 2 x 0.25', () => {
    expect(parts.pipelineLive[0]).toBeCloseTo(2, 10);
    expect(parts.pipelineLiveVar[0]).toBeCloseTo(0.5, 10);
  });

  test('a new dial turns live 13 s later (answer 10 s + AMD 3 s) with chance 0.4 x 0.5', () => {
    expect(parts.newLive.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(parts.newLive[4]).toBeCloseTo(0.2, 10);
    expect(parts.liveRate).toBeCloseTo(0.2, 10);
  });

  test('outcome adds the rises of the expected shortfall over checkpoints', () => {
    const none = outcomeWith(parts, 0);
    expect(none.live).toBeCloseTo(2, 10);
    // Checkpoint 0: X ~ N(0, 0.5) -> sqrt(0.5) phi(0); later checkpoints have one more agent.
    expect(none.overflow).toBeCloseTo(Math.sqrt(0.5) * 0.398942, 5);
    const ten = outcomeWith(parts, 10);
    expect(ten.live).toBeCloseTo(4, 10);
    expect(ten.overflow).toBeGreaterThan(none.overflow);
  });

  test('without ring ages the ringing calls count at the last checkpoint at the Little rate', () => {
    const withRinging = { ...snapshot, calls: { ...snapshot.calls, ringing: 4 }, ringingSinceMs: undefined };
    const p = forecastParts(withRinging, 5, 2, 30);
    expect((p.pipelineLive[p.pipelineLive.length - 1] as number) - 2).toBeCloseTo(4 * liveRateWhileRinging(stats), 10);
  });
});
