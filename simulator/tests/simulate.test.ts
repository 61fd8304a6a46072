import fc from 'fast-check';
import { EventHeap } from '../heap';
import { mulberry32 } from '../prng';
import { abandonRate } from '../../src/lib/domain/pacing';
import { kpisOf, simulateScenario } from '../kpis';
import { leadMixAt, loadScenarios, meanOf, parseScenario, SCENARIO_DIR, type Scenario } from '../scenario';
import { physicalLimit, quantile, simulate, type Strategy } from '../simulate';
import { BENCH_STRATEGIES, PREVIEW } from '../strategies';

const shipped = loadScenarios();
const medium = shipped.find((s) => s.name === 'medium-20') as Scenario;

// A one-hour campaign of 6 agents, tight limits, and a quarter of an hour with nobody logged in.
const small: Scenario = parseScenario({
  ...JSON.parse(JSON.stringify(medium)),
  name: 'small-with-break',
  agents: 6,
  shiftHours: 1,
  schedule: [
    { atHour: 0.25, agents: 0 },
    { atHour: 0.5, agents: 6 },
    { atHour: 0.75, agents: 3 },
  ],
  campaign: { cps: 1, maxLines: 9, abandonCap: 0.03 },
});

const predictive = BENCH_STRATEGIES.filter((s) => s.mode === 'predictive');
const strategyArb = fc.constantFrom<Strategy>(...BENCH_STRATEGIES, PREVIEW);

describe('building blocks', () => {
  test('the heap pops in time order, ties in insertion order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 200 }), (times) => {
        const heap = new EventHeap<number>();
        times.forEach((t, i) => heap.push(t, i));
        const out: Array<[number, number]> = [];
        for (let e = heap.pop(); e !== undefined; e = heap.pop()) out.push([e.t, e.item]);
        const expected = times.map((t, i) => [t, i] as [number, number]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        expect(out).toEqual(expected);
      }),
    );
  });

  test('the PRNG is seeded and stays in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(mulberry32(43)()).not.toBe(xs[0]);
  });

  test('shipped scenarios: few, 20 and many agents; high, medium and low answer rates', () => {
    const agents = shipped.map((s) => s.agents);
    expect(Math.min(...agents)).toBeLessThanOrEqual(5);
    expect(Math.max(...agents)).toBeGreaterThanOrEqual(100);
    const humans = shipped.filter((s) => s.agents === 20).map((s) => s.leads.human);
    expect(humans).toEqual(expect.arrayContaining([0.1, 0.25, 0.45]));
  });

  test('a scenario whose outcomes do not add up to 1 is refused', () => {
    expect(() => parseScenario({ ...medium, leads: { human: 0.5, machine: 0.5, busy: 0.5, noAnswer: 0 } })).toThrow(/add up to 1/);
  });
});

describe('simulated campaigns, over many seeds', () => {
  test('lines and CPS never exceeded; no call placed while nobody is logged in', () => {
    let linesReached = false;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), strategyArb, (seed, strategy) => {
        const r = simulate(small, strategy, seed);
        expect(r.limits.maxLinesSeen).toBeLessThanOrEqual(small.campaign.maxLines);
        expect(r.limits.maxDialsInOneSecond).toBeLessThanOrEqual(small.campaign.cps);
        expect(r.limits.dialsWithoutAgents).toBe(0);
        expect(r.hourly[0]?.dials).toBeGreaterThan(0);
        if (r.limits.maxLinesSeen === small.campaign.maxLines) linesReached = true;
      }),
      { numRuns: 30 },
    );
    // The line limit was actually in play, so the check above could have failed.
    expect(linesReached).toBe(true);
  });

  test('once the last agent has wrapped up and left, the pacer is still asked and answers no_agents', () => {
    const r = simulate(small, { label: 'power 3:1', mode: 'power', ratio: 3 }, 7);
    // Agents on a call at the break finish it first, so the empty stretch is shorter than 900 s;
    // with nobody logged in only the heartbeat asks (every 5 s).
    expect(small.heartbeatS).toBe(5);
    expect(r.reasons.no_agents ?? 0).toBeGreaterThan(60);
    expect(r.limits.dialsWithoutAgents).toBe(0);
  });

  test('the day abandon rate stays under the cap for every predictive behaviour (pacer counting no AMD estimate)', () => {
    const day = parseScenario({ ...JSON.parse(JSON.stringify(medium)), agents: 10, campaign: { cps: 1, maxLines: 30, abandonCap: 0.03, amdHumanAccuracy: null } });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.constantFrom(...predictive), (seed, strategy) => {
        const r = simulate(day, strategy, seed);
        expect(r.totals.live).toBeGreaterThan(500);
        expect(r.abandonRate).toBeLessThanOrEqual(day.campaign.abandonCap);
      }),
      { numRuns: 6 },
    );
  });

  test('same seed, same result; another seed, another result', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 2 }), strategyArb, (seed, strategy) => {
        const a = simulate(small, strategy, seed);
        expect(simulate(small, strategy, seed)).toEqual(a);
        expect(simulate(small, strategy, seed + 1).totals).not.toEqual(a.totals);
      }),
      { numRuns: 15 },
    );
  });

  test('power 1:1 never abandons when agents stay logged in', () => {
    const steady = parseScenario({ ...JSON.parse(JSON.stringify(small)), schedule: undefined });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        expect(simulate(steady, BENCH_STRATEGIES[0] as Strategy, seed).totals.abandoned).toBe(0);
      }),
      { numRuns: 20 },
    );
  });
});

const hour = (patch: Record<string, unknown>): Scenario =>
  parseScenario({ ...JSON.parse(JSON.stringify(medium)), name: 'one-hour', agents: 10, shiftHours: 1, ...patch });
const POWER_1: Strategy = { label: 'power 1:1', mode: 'power', ratio: 1 };
const HARD: Strategy = BENCH_STRATEGIES.find((s) => s.label === 'pred HARD_LIMIT') as Strategy;

describe('the live system\'s timing', () => {
  test('with nobody logged in, the pacer is asked once per heartbeat only', () => {
    const empty = (heartbeatS: number): Scenario => hour({ heartbeatS, schedule: [{ atHour: 0, agents: 0 }] });
    expect(simulate(empty(5), POWER_1, 1)).toMatchObject({ decisions: 720, reasons: { no_agents: 720 } });
    expect(simulate(empty(2), POWER_1, 1).decisions).toBe(1800);
    expect(hour({}).heartbeatS).toBe(5);
  });

  test('a customer joins the agent connectLatencyS after the disclaimer when the agent is already there', () => {
    // Power 1:1 with agents who never leave: an agent is always waiting for the live answer.
    const r = simulate(hour({ connectLatencyS: 0.7 }), POWER_1, 3);
    expect(r.totals.abandoned).toBe(0);
    expect(r.customerSilenceP50S).toBeCloseTo(0.7, 9);
    expect(r.customerSilenceP95S).toBeGreaterThanOrEqual(0.7 - 1e-9);
    expect(simulate(hour({ connectLatencyS: 0 }), POWER_1, 3).customerSilenceP50S).toBeCloseTo(0, 9);
    expect(hour({}).connectLatencyS).toBe(0.3);
  });

  test('a round cut by the CPS is followed by another one second later (unless the scenario says not)', () => {
    const on = simulate(hour({}), BENCH_STRATEGIES[2] as Strategy, 4);
    const off = simulate(hour({ cpsFollowUp: false }), BENCH_STRATEGIES[2] as Strategy, 4);
    expect(on.limits.maxDialsInOneSecond).toBeLessThanOrEqual(1);
    expect(on.totals.dials).toBeGreaterThan(off.totals.dials);
  });
});

describe('answer rates through the day', () => {
  const mixes = [
    { fromHour: 0.5, human: 0, machine: 0, busy: 0, noAnswer: 1 },
    { fromHour: 0.75, human: 0.5, machine: 0.1, busy: 0.1, noAnswer: 0.3 },
  ];

  test('leadsByHour replaces the lead mix from each hour on', () => {
    const sc = hour({ leadsByHour: mixes });
    expect(leadMixAt(sc, 0)).toEqual(sc.leads);
    expect(leadMixAt(sc, 1799).human).toBe(0.25);
    expect(leadMixAt(sc, 1800).noAnswer).toBe(1);
    expect(leadMixAt(sc, 2700).human).toBe(0.5);
    // Dials placed from 0:30 to 0:45 reach nobody: the hourly live count drops accordingly.
    const withGap = simulate(sc, POWER_1, 5);
    const plain = simulate(hour({}), POWER_1, 5);
    expect(withGap.totals.live).toBeLessThan(plain.totals.live * 0.9);
    expect(withGap.totals.live).toBeGreaterThan(0);
  });

  test('entries out of order or not adding up to 1 are refused', () => {
    expect(() => hour({ leadsByHour: [mixes[1], mixes[0]] })).toThrow(/increasing fromHour/);
    expect(() => hour({ leadsByHour: [{ ...mixes[0], noAnswer: 0.5 }] })).toThrow(/add up to 1/);
  });

  test('a top-level "live" section (the live campaign simulation\'s) is accepted and changes nothing here', () => {
    const plain = simulate(hour({}), HARD, 6);
    expect(simulate(hour({ live: { agents: { pollS: 3 }, anything: [1, 2] } }), HARD, 6)).toEqual(plain);
  });
});

describe('abandons counted with the AMD estimate', () => {
  test('the +AMD rate is the shared definition over the run\'s own counts', () => {
    const r = simulate(hour({ campaign: { ...medium.campaign, amdHumanAccuracy: 0.98 } }), HARD, 8);
    expect(r.amdHumanAccuracyCounted).toBe(0.98);
    expect(r.pacerCountsAmdEstimate).toBe(true);
    expect(r.abandonRateWithAmd).toBeCloseTo(abandonRate(r.totals.abandoned, r.totals.live, 0.98), 12);
    expect(r.amdEstimatedAbandons).toBeCloseTo((r.totals.live * 0.02) / 0.98, 9);
  });

  test('at 96 % human accuracy the estimate alone is over a 3 % cap: predictive stays 1:1 and abandons nobody', () => {
    const steady = hour({ schedule: undefined });
    const counted = simulate(steady, HARD, 9);
    expect(counted.totals.abandoned).toBe(0);
    expect(counted.abandonRateWithAmd).toBeCloseTo(0.04, 9);
    expect(counted.reasons.predictive_forecast ?? 0).toBe(0);
    // The same campaign without the estimate dials ahead and talks more.
    const free = simulate(hour({ schedule: undefined, campaign: { ...medium.campaign, amdHumanAccuracy: null } }), HARD, 9);
    expect(free.pacerCountsAmdEstimate).toBe(false);
    expect(free.abandonRateWithAmd).toBeGreaterThan(0.04);
    expect(free.reasons.predictive_forecast ?? 0).toBeGreaterThan(0);
    expect(free.talkMinPerAgentHour).toBeGreaterThan(counted.talkMinPerAgentHour);
  });
});

describe('the physical limit and the exported KPIs', () => {
  test('60 x mean talk / (mean talk + mean wrap-up); agents bind at CPS 1 for 20 agents, CPS when it is too small', () => {
    expect(meanOf({ dist: 'lognormal', mean: 240, sd: 180 })).toBeCloseTo(240, 1);
    expect(meanOf({ dist: 'lognormal', mean: 30, sd: 10, min: 40 })).toBeGreaterThan(40);
    expect(meanOf({ dist: 'uniform', min: 4, max: 10 })).toBe(7);
    const l = physicalLimit(medium);
    expect(l.talkMinPerAgentHour).toBeCloseTo((60 * l.meanTalkS) / (l.meanTalkS + l.meanWrapUpS), 12);
    expect(l.talkMinPerAgentHour).toBeCloseTo(53.33, 1);
    expect(l.constraint).toBe('agents');
    const squeezed = physicalLimit(parseScenario({ ...JSON.parse(JSON.stringify(medium)), agents: 100, campaign: { ...medium.campaign, maxLines: 1000 } }));
    expect(squeezed.cpsLoad).toBeGreaterThan(1);
    expect(squeezed.constraint).toBe('cps');
    expect(quantile([3, 1, 2, 4], 0.5)).toBe(2);
    expect(quantile([3, 1, 2, 4], 0.95)).toBe(4);
    expect(quantile([], 0.5)).toBe(0);
  });

  test('simulateScenario returns the bench\'s figures for a scenario object or file and a strategy label', () => {
    const sc = hour({});
    const k = simulateScenario(JSON.parse(JSON.stringify(sc)), 'pred HARD_LIMIT', 12);
    expect(k).toEqual(kpisOf(simulate(sc, HARD, 12)));
    expect(k.limitRatio).toBeCloseTo(k.talkMinPerAgentHour / k.physicalLimitTalkMin, 12);
    expect(Object.keys(k)).toEqual(
      expect.arrayContaining(['talkMinPerAgentHour', 'abandonRate', 'abandonRateWithAmd', 'connects', 'meanAgentWaitS', 'peakLines', 'customerSilenceP50S', 'customerSilenceP95S']),
    );
    const fromFile = simulateScenario(`${SCENARIO_DIR}/few-5.json`, 'power 1:1');
    expect(fromFile).toMatchObject({ scenario: 'few-5', strategy: 'power 1:1', seed: 2 });
    expect(() => simulateScenario(sc, 'pred NOTHING')).toThrow(/unknown strategy "pred NOTHING"/);
    expect(() => simulateScenario({ ...sc, agents: 0 }, 'power 1:1')).toThrow();
  });
});
