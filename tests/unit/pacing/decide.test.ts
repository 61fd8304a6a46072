import fc from 'fast-check';
import {
  decidePacing,
  headroomFactor,
  riskTolerance,
  shiftProgress,
  type AgentActivity,
  type AgentSnapshot,
  type PacingSettings,
  type PacingSnapshot,
  type PacingStats,
} from '../../../src/lib/domain/pacing';
import { HEADROOM_RAMP_PER_SQRT_AGENT, RISK_SCALE } from '../../../src/lib/domain/pacing/decide';

const NOW = 1_700_000_000_000;

const stats: PacingStats = {
  sampleDials: 500,
  answerRate: 0.4,
  machineRate: 0.375,
  answerTimeS: 11,
  answerTimeSdS: 4,
  ringTimeS: 20,
  amdTimeS: 3,
  talkSamples: 200,
  talkTimeS: 240,
  talkTimeSdS: 180,
  wrapUpTimeS: 30,
  wrapUpTimeSdS: 10,
  liveToday: 1000,
  abandonedToday: 10,
  liveLastHour: 200,
  abandonedLastHour: 2,
};

const settings: PacingSettings = {
  mode: 'predictive',
  ratio: 4,
  maxLines: 60,
  abandonCap: 0.03,
  cps: 5,
  behaviour: 'ADAPT_HARD_LIMIT',
  disclaimerS: 5,
  abandonGraceS: 2,
  noAnswerTimeoutS: 28,
  shiftStartMs: NOW - 4 * 3600_000,
  shiftEndMs: NOW + 4 * 3600_000,
};

function agents(spec: Array<[AgentActivity, number]>): AgentSnapshot[] {
  return spec.map(([activity, secondsAgo]) => ({ activity, sinceMs: NOW - secondsAgo * 1000 }));
}

function snap(partial: Partial<PacingSnapshot> = {}): PacingSnapshot {
  return {
    nowMs: NOW,
    agents: agents([
      ['available', 5],
      ['talking', 100],
      ['wrapup', 10],
    ]),
    calls: { ringing: 0, detecting: 0, waiting: 0, connected: 1 },
    dialsLastSecond: 0,
    previewRequests: 0,
    ringingSinceMs: [],
    stats,
    ...partial,
  };
}

describe('hard rules', () => {
  test.each(['preview', 'power', 'predictive'] as const)('%s: nobody logged in, no calls', (mode) => {
    const d = decidePacing(snap({ agents: [], previewRequests: 3 }), { ...settings, mode });
    expect(d).toMatchObject({ dial: 0, reason: 'no_agents' });
  });

  test('all agents paused, no calls', () => {
    const d = decidePacing(snap({ agents: agents([['paused', 10], ['paused', 20]]) }), { ...settings, mode: 'power' });
    expect(d).toMatchObject({ dial: 0, reason: 'all_paused' });
  });

  test('CPS budget left this second caps the dials', () => {
    const s = snap({ agents: agents([['available', 1], ['available', 1], ['available', 1]]), calls: { ringing: 1, detecting: 0, waiting: 0, connected: 0 }, dialsLastSecond: 1 });
    const d = decidePacing(s, { ...settings, mode: 'power', ratio: 2, cps: 2 });
    // 3 available x 2 = 6 lines, 1 in flight: wants 5, one call left in this second.
    expect(d).toMatchObject({ wanted: 5, dial: 1, reason: 'cps_limit' });
  });

  test('maximum lines cap the dials, counting connected calls', () => {
    const s = snap({ agents: agents([['available', 1], ['available', 1], ['talking', 9]]), calls: { ringing: 0, detecting: 0, waiting: 0, connected: 1 } });
    const d = decidePacing(s, { ...settings, mode: 'power', ratio: 3, maxLines: 4 });
    expect(d).toMatchObject({ wanted: 6, dial: 3, reason: 'max_lines' });
  });
});

describe('modes', () => {
  test('preview dials one call per pending request, never more than available agents', () => {
    expect(decidePacing(snap({ previewRequests: 1 }), { ...settings, mode: 'preview' })).toMatchObject({ dial: 1, reason: 'preview_requests' });
    expect(decidePacing(snap({ previewRequests: 4 }), { ...settings, mode: 'preview' })).toMatchObject({ dial: 1 });
    expect(decidePacing(snap({ previewRequests: 0 }), { ...settings, mode: 'preview' })).toMatchObject({ dial: 0, reason: 'preview_idle' });
  });

  test('power keeps ratio x available lines in flight', () => {
    const s = snap({ agents: agents([['available', 1], ['available', 1], ['talking', 9]]), calls: { ringing: 2, detecting: 1, waiting: 0, connected: 1 } });
    expect(decidePacing(s, { ...settings, mode: 'power', ratio: 2.5 })).toMatchObject({ wanted: 2, dial: 2, reason: 'power_ratio' });
    expect(decidePacing(s, { ...settings, mode: 'power', ratio: 1 })).toMatchObject({ dial: 0, reason: 'power_full' });
  });

  test('predictive warms up at 1:1 until the statistics are worth something', () => {
    const s = snap({ stats: { ...stats, sampleDials: 20 } });
    expect(decidePacing(s, settings)).toMatchObject({ dial: 1, reason: 'warmup' });
  });

  test('predictive falls back to 1:1 when one more abandon would break the cap', () => {
    // 30 of 1000 live: one more makes 31/1001 = 3.1 %.
    const s = snap({ stats: { ...stats, liveToday: 1000, abandonedToday: 30 } });
    const d = decidePacing(s, settings);
    expect(d).toMatchObject({ dial: 1, reason: 'abandon_guard' });
    // At the start of the day the first abandon alone would break it.
    expect(decidePacing(snap({ stats: { ...stats, liveToday: 10, abandonedToday: 0 } }), settings).reason).toBe('abandon_guard');
  });

  test('predictive dials ahead for agents about to leave wrap-up, where power has nobody to dial for', () => {
    const s = snap({
      agents: agents([
        ['wrapup', 28],
        ['wrapup', 29],
        ['wrapup', 27],
        ['talking', 30],
        ['talking', 60],
        ['talking', 500],
      ]),
      calls: { ringing: 0, detecting: 0, waiting: 0, connected: 3 },
    });
    expect(decidePacing(s, { ...settings, mode: 'power', ratio: 3 }).dial).toBe(0);
    const d = decidePacing(s, settings);
    expect(d.reason).toBe('predictive_forecast');
    expect(d.dial).toBeGreaterThanOrEqual(3);
    expect(d.forecast?.agentsFree).toBeGreaterThan(2.5);
  });

  test('predictive holds back when enough calls are already in flight', () => {
    const dialled = Array.from({ length: 20 }, (_, i) => NOW - (i % 5) * 1000);
    const s = snap({ agents: agents([['available', 2], ['talking', 30]]), calls: { ringing: 20, detecting: 0, waiting: 0, connected: 1 }, ringingSinceMs: dialled });
    expect(decidePacing(s, settings)).toMatchObject({ dial: 0, reason: 'predictive_full' });
  });
});

describe('abandon feedback', () => {
  test('on target the tolerance is RISK_SCALE x cap; under target more, over target less', () => {
    // HARD_LIMIT aims at 0.85 cap over the last hour.
    const onTarget = snap({ stats: { ...stats, liveLastHour: 1000, abandonedLastHour: 25.5 } });
    expect(riskTolerance(onTarget, settings)).toBeCloseTo(RISK_SCALE * 0.03, 6);
    const clean = snap({ stats: { ...stats, liveLastHour: 1000, abandonedLastHour: 0 } });
    const dirty = snap({ stats: { ...stats, liveLastHour: 1000, abandonedLastHour: 60 } });
    expect(riskTolerance(clean, settings)).toBeGreaterThan(RISK_SCALE * 0.03);
    expect(riskTolerance(dirty, settings)).toBeLessThan(RISK_SCALE * 0.03);
  });

  test('TAPERED tolerates more early in the shift than late, with the same record', () => {
    const tapered = { ...settings, behaviour: 'ADAPT_TAPERED' as const };
    const s = snap({ stats: { ...stats, liveLastHour: 300, abandonedLastHour: 6 } });
    const early = riskTolerance({ ...s, nowMs: tapered.shiftStartMs as number }, tapered);
    const late = riskTolerance({ ...s, nowMs: tapered.shiftEndMs as number }, tapered);
    expect(early).toBeGreaterThan(late);
  });

  test('AVERAGE reads the day, HARD_LIMIT the last hour', () => {
    const s = snap({ stats: { ...stats, liveToday: 2000, abandonedToday: 10, liveLastHour: 200, abandonedLastHour: 10 } });
    expect(riskTolerance(s, { ...settings, behaviour: 'ADAPT_AVERAGE' })).toBeGreaterThan(riskTolerance(s, settings));
  });

  test('shift progress', () => {
    expect(shiftProgress(NOW, settings)).toBeCloseTo(0.5, 10);
    expect(shiftProgress(0, settings)).toBe(0);
    expect(shiftProgress(NOW, { ...settings, shiftStartMs: undefined })).toBe(0.5);
  });
});

describe('headroom under the day cap', () => {
  test('none at the guard, a straight line up to sqrt(active agents) abandons of headroom, then full', () => {
    expect(HEADROOM_RAMP_PER_SQRT_AGENT).toBe(1);
    // 26 of 999 live: one more leaves 0.03 x 1000 - 27 = 3 abandons of headroom.
    expect(headroomFactor(26, 999, 0.03, 4)).toBe(1); // ramp sqrt(4) = 2
    expect(headroomFactor(26, 999, 0.03, 16)).toBeCloseTo(0.75, 10); // ramp 4
    expect(headroomFactor(26, 999, 0.03, 36)).toBeCloseTo(0.5, 10); // ramp 6
    // 29 of 999: one more makes exactly 3 %, no headroom left; past it, still 0.
    expect(headroomFactor(29, 999, 0.03, 16)).toBeCloseTo(0, 10);
    expect(headroomFactor(35, 999, 0.03, 16)).toBe(0);
    // No agents active counts as one (no division by zero).
    expect(headroomFactor(0, 999, 0.03, 0)).toBe(1);
  });

  const wrapping = snap({
    agents: agents([
      ['wrapup', 28],
      ['wrapup', 29],
      ['wrapup', 27],
      ['talking', 30],
      ['talking', 60],
      ['talking', 500],
    ]),
    calls: { ringing: 0, detecting: 0, waiting: 0, connected: 3 },
  });

  test('thin headroom: predictive keeps dialing ahead, more cautiously, instead of dropping to 1:1', () => {
    const plenty = decidePacing(wrapping, settings);
    // 999 live, 28 abandoned: headroom 0.03 x 1000 - 29 = 1 abandon, against a ramp of sqrt(6).
    const thin = decidePacing({ ...wrapping, stats: { ...stats, liveToday: 999, abandonedToday: 28 } }, settings);
    expect(thin.reason).toBe('predictive_forecast');
    expect(thin.dial).toBeGreaterThan(0); // 1:1 would dial nothing here: nobody is available
    expect(thin.dial).toBeLessThan(plenty.dial);
    expect(thin.forecast?.risk).toBeCloseTo((plenty.forecast?.risk as number) / Math.sqrt(6), 10);
    // 29: no headroom, nothing beyond 1:1 (and nobody is available); 30: the guard itself.
    expect(decidePacing({ ...wrapping, stats: { ...stats, liveToday: 999, abandonedToday: 29 } }, settings)).toMatchObject({ dial: 0 });
    expect(decidePacing({ ...wrapping, stats: { ...stats, liveToday: 999, abandonedToday: 30 } }, settings)).toMatchObject({ dial: 0, reason: 'abandon_guard' });
  });

  test('more abandons today never mean more dials', () => {
    fc.assert(
      fc.property(snapshotArb, fc.integer({ min: 1, max: 20 }), settingsArb, (s, extra, o) => {
        const set = { ...settings, ...o, mode: 'predictive' as const };
        const worse = { ...s, stats: { ...s.stats, abandonedToday: s.stats.abandonedToday + extra } };
        expect(decidePacing(worse, set).wanted).toBeLessThanOrEqual(decidePacing(s, set).wanted);
      }),
      { numRuns: 500 },
    );
  });
});

// Random but plausible snapshots and settings.
const activity = fc.constantFrom<AgentActivity>('available', 'talking', 'wrapup', 'paused');
const snapshotArb = fc
  .record({
    agents: fc.array(fc.tuple(activity, fc.integer({ min: 0, max: 900 })), { maxLength: 40 }),
    ringingAges: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 60 }),
    detecting: fc.integer({ min: 0, max: 10 }),
    waiting: fc.integer({ min: 0, max: 10 }),
    connected: fc.integer({ min: 0, max: 40 }),
    dialsLastSecond: fc.integer({ min: 0, max: 10 }),
    previewRequests: fc.integer({ min: 0, max: 10 }),
    answerRate: fc.double({ min: 0.01, max: 1, noNaN: true }),
    machineRate: fc.double({ min: 0, max: 0.95, noNaN: true }),
    talkTimeS: fc.double({ min: 10, max: 900, noNaN: true }),
    liveToday: fc.integer({ min: 0, max: 3000 }),
    abandonedFraction: fc.double({ min: 0, max: 0.1, noNaN: true }),
    sampleDials: fc.integer({ min: 0, max: 1000 }),
  })
  .map((r): PacingSnapshot => {
    const liveToday = r.liveToday;
    const abandonedToday = Math.floor(liveToday * r.abandonedFraction);
    return {
      nowMs: NOW,
      agents: agents(r.agents),
      calls: { ringing: r.ringingAges.length, detecting: r.detecting, waiting: r.waiting, connected: r.connected },
      ringingSinceMs: r.ringingAges.map((a) => NOW - a * 1000),
      dialsLastSecond: r.dialsLastSecond,
      previewRequests: r.previewRequests,
      stats: {
        ...stats,
        sampleDials: r.sampleDials,
        answerRate: r.answerRate,
        machineRate: r.machineRate,
        talkTimeS: r.talkTimeS,
        talkTimeSdS: r.talkTimeS * 0.7,
        liveToday,
        abandonedToday,
        liveLastHour: Math.floor(liveToday / 8),
        abandonedLastHour: Math.floor(abandonedToday / 8),
      },
    };
  });
const settingsArb = fc.record({
  mode: fc.constantFrom('preview' as const, 'power' as const, 'predictive' as const),
  ratio: fc.double({ min: 1, max: 5, noNaN: true }),
  maxLines: fc.integer({ min: 1, max: 120 }),
  cps: fc.integer({ min: 1, max: 10 }),
  behaviour: fc.constantFrom('ADAPT_HARD_LIMIT' as const, 'ADAPT_TAPERED' as const, 'ADAPT_AVERAGE' as const),
});

describe('properties over random snapshots', () => {
  test('limits: never negative, never past max lines, CPS or (no agents) zero', () => {
    fc.assert(
      fc.property(snapshotArb, settingsArb, (s, o) => {
        const set = { ...settings, ...o };
        const d = decidePacing(s, set);
        const lines = s.calls.ringing + s.calls.detecting + s.calls.waiting + s.calls.connected;
        expect(Number.isInteger(d.dial)).toBe(true);
        expect(d.dial).toBeGreaterThanOrEqual(0);
        expect(d.dial).toBeLessThanOrEqual(Math.max(0, set.maxLines - lines));
        expect(d.dial).toBeLessThanOrEqual(Math.max(0, set.cps - s.dialsLastSecond));
        if (s.agents.filter((a) => a.activity !== 'paused').length === 0) expect(d.dial).toBe(0);
        expect(d.explanation.length).toBeGreaterThan(0);
      }),
      { numRuns: 3000 },
    );
  });

  test('predictive never over-dials when one more abandon would break the day cap', () => {
    fc.assert(
      fc.property(snapshotArb, settingsArb, (s, o) => {
        const set = { ...settings, ...o, mode: 'predictive' as const };
        const { abandonedToday: a, liveToday: l } = s.stats;
        fc.pre(a + 1 > set.abandonCap * (l + 1));
        const available = s.agents.filter((x) => x.activity === 'available').length;
        const safe = Math.max(0, available - s.calls.ringing - s.calls.detecting - s.calls.waiting);
        expect(decidePacing(s, set).wanted).toBeLessThanOrEqual(safe);
      }),
      { numRuns: 1000 },
    );
  });

  test('deterministic: the same input gives the same answer, and the input is not modified', () => {
    fc.assert(
      fc.property(snapshotArb, settingsArb, (s, o) => {
        const set = { ...settings, ...o };
        const copy = JSON.parse(JSON.stringify(s)) as PacingSnapshot;
        const first = decidePacing(s, set);
        expect(decidePacing(s, set)).toEqual(first);
        expect(s).toEqual(copy);
      }),
      { numRuns: 500 },
    );
  });
});

describe('the AMD estimate counted as abandoned', () => {
  const wrappingUp = snap({
    agents: agents([
      ['wrapup', 28],
      ['wrapup', 29],
      ['available', 1],
      ['talking', 30],
    ]),
    calls: { ringing: 0, detecting: 0, waiting: 0, connected: 1 },
  });

  test('an accuracy whose hang-ups alone reach the cap: 1:1 only, and the explanation says why', () => {
    const free = decidePacing(wrappingUp, settings);
    expect(free.reason).toBe('predictive_forecast');
    expect(free.dial).toBeGreaterThan(1);
    const d = decidePacing(wrappingUp, { ...settings, amdHumanAccuracy: 0.96 });
    expect(d).toMatchObject({ dial: 1, reason: 'abandon_guard' });
    expect(d.explanation).toMatch(/AMD at 96\.0 % human accuracy alone makes 4\.0 %/);
  });

  test('a good accuracy leaves the pacer the rest of the cap, counted with the estimate', () => {
    // 25 abandoned of 1,000 live: 2.6 % after one more; with 5 estimated hang-ups (a = 99.5 %) 3.1 %.
    const record = { ...wrappingUp, stats: { ...stats, liveToday: 1000, abandonedToday: 25 } };
    expect(decidePacing(record, settings).reason).toBe('predictive_forecast');
    const d = decidePacing(record, { ...settings, amdHumanAccuracy: 0.995 });
    expect(d.reason).toBe('abandon_guard');
    expect(d.explanation).toMatch(/plus 5\.0 estimated AMD hang-ups of people/);
    expect(decidePacing({ ...record, stats: { ...stats, liveToday: 1000, abandonedToday: 5 } }, { ...settings, amdHumanAccuracy: 0.995 }).reason).toBe(
      'predictive_forecast',
    );
  });

  test('counting the estimate never means more dials; a worse accuracy never more than a better one', () => {
    fc.assert(
      fc.property(snapshotArb, settingsArb, fc.double({ min: 0.95, max: 1, noNaN: true }), fc.double({ min: 0, max: 0.05, noNaN: true }), (s, o, a, worse) => {
        const set = { ...settings, ...o, mode: 'predictive' as const };
        const without = decidePacing(s, set).wanted;
        const good = decidePacing(s, { ...set, amdHumanAccuracy: a }).wanted;
        const bad = decidePacing(s, { ...set, amdHumanAccuracy: Math.max(0.01, a - worse) }).wanted;
        expect(good).toBeLessThanOrEqual(without);
        expect(bad).toBeLessThanOrEqual(good);
      }),
      { numRuns: 500 },
    );
  });

  test('a CPS cut asks for a round one second later; a line cut does not', () => {
    const cps = decidePacing(snap({ agents: agents([['available', 1], ['available', 2], ['available', 3]]), calls: { ringing: 0, detecting: 0, waiting: 0, connected: 0 }, dialsLastSecond: 0 }), {
      ...settings,
      mode: 'power',
      ratio: 1,
      cps: 1,
    });
    expect(cps).toMatchObject({ dial: 1, wanted: 3, reason: 'cps_limit', followUpS: 1 });
    const lines = decidePacing(snap({ agents: agents([['available', 1], ['available', 2], ['available', 3]]), calls: { ringing: 0, detecting: 0, waiting: 0, connected: 0 } }), {
      ...settings,
      mode: 'power',
      ratio: 1,
      cps: 5,
      maxLines: 1,
    });
    expect(lines).toMatchObject({ dial: 1, reason: 'max_lines' });
    expect(lines.followUpS).toBeUndefined();
    expect(decidePacing(snap(), { ...settings, mode: 'power', ratio: 1 }).followUpS).toBeUndefined();
  });
});
