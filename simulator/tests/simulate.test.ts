import fc from 'fast-check';
import { EventHeap } from '../heap';
import { mulberry32 } from '../prng';
import { loadScenarios, parseScenario, type Scenario } from '../scenario';
import { simulate, type Strategy } from '../simulate';
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
    // Agents on a call at the break finish it first, so the empty stretch is shorter than 900 s.
    expect(r.reasons.no_agents ?? 0).toBeGreaterThan(300);
    expect(r.limits.dialsWithoutAgents).toBe(0);
  });

  test('the day abandon rate stays under the cap for every predictive behaviour', () => {
    const day = parseScenario({ ...JSON.parse(JSON.stringify(medium)), agents: 10, campaign: { cps: 1, maxLines: 30, abandonCap: 0.03 } });
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
