/** The day's figures from hand-made rows: each figure checked against what the rows say by hand. */
import { agentSeconds, agentWaits, comparisonTable, COLUMNS, diffPercent, liveKpis, peakLines, percentile, type CallRow, type StatusRow } from '../kpis';
import { abandonRate, estimatedAmdAbandons } from '../contract';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const s = (sec: number) => T0 + sec * 1000;
const row = (agent: number, status: string, from: number, to: number | null, call: string | null = null): StatusRow => ({
  agent_id: agent, status, call_sid: call, started_at: s(from), ended_at: to === null ? null : s(to),
});

// Agent 1: offline until 100, available 100-160, reserved 160-165, busy 165-465 (CA1), wrap 465-495,
// available 495-600, busy 600-900 (CA2), wrap 900-930, paused 930-1000, then offline.
// Agent 2: available 0-1000 (never connected), open-ended available after 1000.
const HISTORY: StatusRow[] = [
  row(1, 'offline', 0, 100),
  row(1, 'available', 100, 160),
  row(1, 'reserved', 160, 165, 'CA1'),
  row(1, 'busy', 165, 465, 'CA1'),
  row(1, 'wrap_up', 465, 495, 'CA1'),
  row(1, 'available', 495, 600),
  row(1, 'busy', 600, 900, 'CA2'),
  row(1, 'wrap_up', 900, 930, 'CA2'),
  row(1, 'paused', 930, 1000),
  row(1, 'offline', 1000, null),
  row(2, 'available', 0, null),
];

const call = (created: number, ended: number | null, extra: Partial<CallRow> = {}): CallRow => ({
  call_sid: null, created_at: s(created), ended_at: ended === null ? null : s(ended), status: 'completed', live_at: null, connected_at: null, abandoned_at: null, ...extra,
});

describe('agent time from agent_status_history', () => {
  test('logged-in, busy and wrap-up seconds, clipped to the shift', () => {
    expect(agentSeconds(HISTORY, s(0), s(1000))).toEqual({ loggedS: 900 + 1000, busyS: 600, wrapS: 60 });
    // A shift that ends at 700 cuts agent 1's second call at 700 and agent 2's open row too.
    expect(agentSeconds(HISTORY, s(0), s(700))).toEqual({ loggedS: 600 + 700, busyS: 300 + 100, wrapS: 30 });
  });

  test('agent wait: from the start of the available/reserved run to the connect', () => {
    expect(agentWaits(HISTORY, s(0), s(1000))).toEqual([65, 105]);
    // A connect outside the shift is not counted.
    expect(agentWaits(HISTORY, s(0), s(500))).toEqual([65]);
  });
});

describe('lines and percentiles', () => {
  test('peak lines: the most calls alive at once; an open call counts to the end', () => {
    expect(peakLines([call(0, 10), call(5, 20), call(10, 30), call(25, null)], s(100))).toBe(2);
    expect(peakLines([call(0, 10), call(1, 9), call(2, 8)], s(100))).toBe(3);
    expect(peakLines([], s(100))).toBe(0);
  });

  test('nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 0.5)).toBe(50);
    expect(percentile(xs, 0.95)).toBe(95);
    expect(percentile([7], 0.95)).toBe(7);
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe('liveKpis', () => {
  const calls: CallRow[] = [
    call(150, 470, { call_sid: 'CA1', live_at: s(160), connected_at: s(165) }),
    call(580, 905, { call_sid: 'CA2', live_at: s(595), connected_at: s(600) }),
    call(590, 615, { call_sid: 'CA3', live_at: s(605), abandoned_at: s(614) }),
    call(591, 600, { call_sid: 'CA4', status: 'busy' }),
    call(1200, 1300, { call_sid: 'CA5', live_at: s(1210), connected_at: s(1220) }), // after the shift: not counted
  ];
  const k = liveKpis({ history: HISTORY, calls, startMs: s(0), endMs: s(1000), amdHumanAccuracy: 0.96, silenceMs: [100, 300, 200, 900] });

  test('every figure as counted by hand', () => {
    const agentHours = 1900 / 3600;
    expect(k.agentHours).toBeCloseTo(agentHours, 9);
    expect(k.talkMinPerAgentHour).toBeCloseTo(10 / agentHours, 9);
    expect(k.occupancy).toBeCloseTo(660 / 1900, 9);
    expect(k.dials).toBe(4);
    expect(k.live).toBe(3);
    expect(k.abandoned).toBe(1);
    expect(k.connects).toBe(2);
    expect(k.abandonRate).toBeCloseTo(1 / 3, 9);
    const est = estimatedAmdAbandons(3, 0.96);
    expect(est).toBeGreaterThan(0);
    expect(k.abandonRateWithAmd).toBeCloseTo((1 + est) / (3 + est), 9);
    expect(k.abandonRateWithAmd).toBe(abandonRate(1, 3, 0.96));
    expect(k.dialsPerAgentHour).toBeCloseTo(4 / agentHours, 9);
    expect(k.connectsPerAgentHour).toBeCloseTo(2 / agentHours, 9);
    expect(k.meanAgentWaitS).toBeCloseTo(85, 9);
    expect(k.peakLines).toBe(3);
    expect(k.silenceP50Ms).toBe(200);
    expect(k.silenceP95Ms).toBe(900);
  });

  test('the comparison table has the bench columns, a row each for live, simulator and the difference', () => {
    const sim = { ...k, talkMinPerAgentHour: k.talkMinPerAgentHour * 2, silenceP50Ms: undefined, silenceP95Ms: undefined };
    const text = comparisonTable(k, sim);
    const lines = text.split('\n');
    for (const label of ['talk min/agent-h', 'occupancy %', 'abandon %', 'abandon % (AMD est.)', 'calls/agent-h', 'connects/agent-h', 'agent wait s', 'peak lines', 'silence p95 ms']) {
      expect(lines[0]).toContain(label);
    }
    expect(lines.map((l) => l.split(/\s{2,}/)[0])).toEqual(['', expect.stringMatching(/^-+$/), 'live', 'simulator', 'diff %']);
    expect(lines[4]).toContain('-50.0');
    expect(COLUMNS.length + 1).toBe(lines[0]!.trim().split(/\s{2,}/).length + 1);
    expect(diffPercent(110, 100)).toBeCloseTo(10, 9);
    expect(diffPercent(1, 0)).toBeNull();
  });
});
