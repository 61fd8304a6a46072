import fc from 'fast-check';
import {
  abandonDeadlineMs,
  abandonRate,
  amdAbandonFloor,
  estimatedAmdAbandons,
  isAbandoned,
  pacerAbandonBudget,
  ABANDON_GRACE_S,
  ANSWER_RATE_WINDOW_DIALS,
  DEFAULT_AMD_HUMAN_ACCURACY,
  MACHINE_RATE_WINDOW,
  PACING_WINDOWS,
  TALK_WINDOW,
} from '../../../src/lib/domain/pacing';

describe('window sizes and the grace', () => {
  test('the sizes the simulator has always used, keyed for the database snapshot', () => {
    expect([ANSWER_RATE_WINDOW_DIALS, MACHINE_RATE_WINDOW, TALK_WINDOW, ABANDON_GRACE_S]).toEqual([500, 300, 200, 2]);
    expect(PACING_WINDOWS).toEqual({
      answer_rate_dials: 500,
      ring_time_dials: 500,
      answer_time_answers: 300,
      machine_rate_answers: 300,
      amd_time_answers: 300,
      talk_samples: 200,
      wrap_up_samples: 200,
    });
    expect(DEFAULT_AMD_HUMAN_ACCURACY).toBe(0.96);
  });

  test('abandoned: no agent given within the grace after the disclaimer', () => {
    const end = 1_000_000;
    expect(abandonDeadlineMs(end)).toBe(end + 2000);
    expect(isAbandoned({ disclaimerEndedAtMs: end, agentAtMs: end + 2000 }, end + 60_000)).toBe(false);
    expect(isAbandoned({ disclaimerEndedAtMs: end, agentAtMs: end - 3000 }, end + 60_000)).toBe(false);
    expect(isAbandoned({ disclaimerEndedAtMs: end, agentAtMs: end + 2001 }, end + 60_000)).toBe(true);
    // Still inside the grace with nobody: not abandoned yet; past it: abandoned.
    expect(isAbandoned({ disclaimerEndedAtMs: end }, end + 1999)).toBe(false);
    expect(isAbandoned({ disclaimerEndedAtMs: end }, end + 2001)).toBe(true);
    expect(isAbandoned({ disclaimerEndedAtMs: end }, end + 2500, 3)).toBe(false);
  });
});

describe('humans hung up on by AMD', () => {
  test('live x (1 - a) / a', () => {
    expect(estimatedAmdAbandons(960, 0.96)).toBeCloseTo(40, 10);
    expect(estimatedAmdAbandons(990, 0.99)).toBeCloseTo(10, 10);
    expect(estimatedAmdAbandons(0, 0.96)).toBe(0);
    expect(estimatedAmdAbandons(500, 1)).toBe(0);
  });

  test('bad input is refused with a clear error', () => {
    for (const a of [0, -0.1, 1.01, Number.NaN, Infinity]) expect(() => estimatedAmdAbandons(10, a)).toThrow(/AMD human accuracy must be in \(0, 1\]/);
    expect(() => estimatedAmdAbandons(-1, 0.96)).toThrow(/liveAnswers must be a non-negative number/);
    expect(() => abandonRate(-1, 10)).toThrow(/abandoned/);
    expect(() => abandonRate(1, Number.NaN)).toThrow(/live/);
    expect(() => abandonRate(1, 10, 2)).toThrow(/accuracy/);
  });

  test('the rate: (abandoned + estimate) / (live + estimate); without an accuracy, abandoned / live', () => {
    expect(abandonRate(30, 1000)).toBeCloseTo(0.03, 12);
    expect(abandonRate(0, 0)).toBe(0);
    expect(abandonRate(0, 0, 0.96)).toBe(0);
    // 960 people classified human, 40 hung up on: 4 % of the 1,000 people reached, before any abandon.
    expect(abandonRate(0, 960, 0.96)).toBeCloseTo(0.04, 12);
    expect(abandonRate(10, 990, 0.99)).toBeCloseTo(20 / 1000, 12);
  });

  test('with an estimate the rate is never under 1 - a, nor under the rate without it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0.5, max: 1, noNaN: true }), (live, share, a) => {
        const abandoned = Math.floor(live * share);
        const counted = abandonRate(abandoned, live, a);
        expect(counted).toBeGreaterThanOrEqual(amdAbandonFloor(a) - 1e-12);
        expect(counted).toBeGreaterThanOrEqual(abandonRate(abandoned, live) - 1e-12);
        expect(counted).toBeLessThanOrEqual(1 + 1e-12);
      }),
      { numRuns: 1000 },
    );
    expect(amdAbandonFloor(undefined)).toBe(0);
    expect(amdAbandonFloor(0.97)).toBeCloseTo(0.03, 12);
  });
});

describe("the pacer's own budget under the cap", () => {
  test('(cap - (1 - a)) / a: the whole cap without an estimate, nothing when AMD alone reaches it', () => {
    expect(pacerAbandonBudget(0.03)).toBe(0.03);
    expect(pacerAbandonBudget(0.03, 0.99)).toBeCloseTo(0.02 / 0.99, 12);
    expect(pacerAbandonBudget(0.03, 0.97)).toBeCloseTo(0, 12);
    expect(pacerAbandonBudget(0.03, 0.96)).toBe(0);
    // Spending exactly the budget lands the counted rate exactly on the cap.
    for (const a of [0.975, 0.98, 0.99, 1]) {
      const live = 10_000;
      expect(abandonRate(pacerAbandonBudget(0.03, a) * live, live, a)).toBeCloseTo(0.03, 12);
    }
  });
});
