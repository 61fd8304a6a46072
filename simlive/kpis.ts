/**
 * The day's figures, computed from database rows (agent_status_history, calls) the way the
 * pacing simulator computes its own (simulator/simulate.ts), so the two can be put side by
 * side: talk minutes per logged-in agent-hour, occupancy, abandon rate with and without the
 * AMD estimate, dials and connects per agent-hour, the agent's idle time before each connect,
 * peak lines; plus the customer's silence between the disclaimer's end and the agent's room,
 * measured in real milliseconds on the emulator. All times are epoch ms; every span is clipped
 * to the shift [startMs, endMs).
 */
import { abandonRate } from './contract';

/** One row of agent_status_history. */
export interface StatusRow {
  agent_id: number;
  status: string;
  call_sid: string | null;
  started_at: number;
  ended_at: number | null;
}

/** The calls columns the figures read (one row per dial attempt of the campaign). */
export interface CallRow {
  call_sid: string | null;
  created_at: number;
  ended_at: number | null;
  status: string;
  live_at: number | null;
  connected_at: number | null;
  abandoned_at: number | null;
}

/** Statuses that count as logged in (everything but offline). */
const LOGGED_IN = new Set(['available', 'reserved', 'busy', 'wrap_up', 'paused']);
/** Statuses that end a wait for a customer (the idle run starts again after them). */
const IDLE = new Set(['available', 'reserved']);

const clip = (a: number, b: number, from: number, to: number) => Math.max(0, Math.min(b, to) - Math.max(a, from));

/** Seconds logged in, talking (busy) and wrapping up, over all agents, within the shift. */
export function agentSeconds(rows: readonly StatusRow[], startMs: number, endMs: number): { loggedS: number; busyS: number; wrapS: number } {
  let logged = 0;
  let busy = 0;
  let wrap = 0;
  for (const r of rows) {
    const span = clip(r.started_at, r.ended_at ?? endMs, startMs, endMs);
    if (LOGGED_IN.has(r.status)) logged += span;
    if (r.status === 'busy') busy += span;
    if (r.status === 'wrap_up') wrap += span;
  }
  return { loggedS: logged / 1000, busyS: busy / 1000, wrapS: wrap / 1000 };
}

/**
 * The agent's idle time before each connect, in seconds: from the start of the run of
 * available/reserved rows that ends in a busy row, to that busy row (the simulator's
 * connectAt - availableSince; reserved time is idle too). Busy rows inside the shift only.
 */
export function agentWaits(rows: readonly StatusRow[], startMs: number, endMs: number): number[] {
  const byAgent = new Map<number, StatusRow[]>();
  for (const r of rows) (byAgent.get(r.agent_id) ?? byAgent.set(r.agent_id, []).get(r.agent_id)!).push(r);
  const waits: number[] = [];
  for (const list of byAgent.values()) {
    list.sort((a, b) => a.started_at - b.started_at);
    let idleSince: number | null = null;
    for (const r of list) {
      if (IDLE.has(r.status)) {
        idleSince ??= r.started_at;
      } else if (r.status === 'busy') {
        if (idleSince !== null && r.started_at >= startMs && r.started_at < endMs) waits.push((r.started_at - idleSince) / 1000);
        idleSince = null;
      } else {
        idleSince = null;
      }
    }
  }
  return waits;
}

/** The most calls alive at once (created, not yet ended); a call not ended counts until `endMs`. */
export function peakLines(calls: readonly Pick<CallRow, 'created_at' | 'ended_at'>[], endMs: number): number {
  const edges: [number, number][] = [];
  for (const c of calls) {
    edges.push([c.created_at, 1]);
    edges.push([c.ended_at ?? endMs, -1]);
  }
  // Ends before starts at the same instant: a line freed and taken in the same ms is one line.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of edges) {
    now += d;
    peak = Math.max(peak, now);
  }
  return peak;
}

/** The p-th percentile (0..1) by nearest rank; NaN for an empty list. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** The figures of a run (live or simulated), in the bench's units. */
export interface Kpis {
  agentHours: number;
  talkMinPerAgentHour: number;
  occupancy: number;
  /** Abandoned / live answers (not connected within the grace after the disclaimer). */
  abandonRate: number;
  /** The same with the humans AMD hung up on estimated in (counted in both parts). */
  abandonRateWithAmd: number;
  dialsPerAgentHour: number;
  connectsPerAgentHour: number;
  meanAgentWaitS: number;
  peakLines: number;
  dials: number;
  live: number;
  abandoned: number;
  connects: number;
  /** Real milliseconds between the disclaimer's end and the customer's joining the agent's room (live only). */
  silenceP50Ms?: number;
  silenceP95Ms?: number;
}

/** The live figures from the rows of one campaign's day. */
export function liveKpis(input: {
  history: readonly StatusRow[];
  calls: readonly CallRow[];
  startMs: number;
  endMs: number;
  amdHumanAccuracy: number;
  silenceMs: readonly number[];
}): Kpis {
  const { history, startMs, endMs } = input;
  const calls = input.calls.filter((c) => c.created_at >= startMs && c.created_at < endMs);
  const t = agentSeconds(history, startMs, endMs);
  const agentHours = t.loggedS / 3600;
  const per = (x: number) => (agentHours > 0 ? x / agentHours : 0);
  const live = calls.filter((c) => c.live_at !== null).length;
  const abandoned = calls.filter((c) => c.abandoned_at !== null).length;
  const connects = calls.filter((c) => c.connected_at !== null).length;
  const waits = agentWaits(history, startMs, endMs);
  return {
    agentHours,
    talkMinPerAgentHour: per(t.busyS / 60),
    occupancy: t.loggedS > 0 ? (t.busyS + t.wrapS) / t.loggedS : 0,
    abandonRate: abandonRate(abandoned, live),
    abandonRateWithAmd: abandonRate(abandoned, live, input.amdHumanAccuracy),
    dialsPerAgentHour: per(calls.length),
    connectsPerAgentHour: per(connects),
    meanAgentWaitS: waits.length ? waits.reduce((s, w) => s + w, 0) / waits.length : 0,
    peakLines: peakLines(calls, endMs),
    dials: calls.length,
    live,
    abandoned,
    connects,
    silenceP50Ms: percentile(input.silenceMs, 0.5),
    silenceP95Ms: percentile(input.silenceMs, 0.95),
  };
}

/** The columns of the comparison table: the bench's, then the live-only ones. */
export const COLUMNS: readonly { key: keyof Kpis; label: string; fmt: (v: number) => string }[] = [
  { key: 'talkMinPerAgentHour', label: 'talk min/agent-h', fmt: (v) => v.toFixed(1) },
  { key: 'occupancy', label: 'occupancy %', fmt: (v) => (100 * v).toFixed(1) },
  { key: 'abandonRate', label: 'abandon %', fmt: (v) => (100 * v).toFixed(2) },
  { key: 'abandonRateWithAmd', label: 'abandon % (AMD est.)', fmt: (v) => (100 * v).toFixed(2) },
  { key: 'dialsPerAgentHour', label: 'calls/agent-h', fmt: (v) => v.toFixed(1) },
  { key: 'connectsPerAgentHour', label: 'connects/agent-h', fmt: (v) => v.toFixed(1) },
  { key: 'meanAgentWaitS', label: 'agent wait s', fmt: (v) => v.toFixed(1) },
  { key: 'peakLines', label: 'peak lines', fmt: (v) => String(Math.round(v)) },
  { key: 'connects', label: 'connects', fmt: (v) => String(Math.round(v)) },
  { key: 'silenceP50Ms', label: 'silence p50 ms', fmt: (v) => (Number.isFinite(v) ? v.toFixed(0) : '-') },
  { key: 'silenceP95Ms', label: 'silence p95 ms', fmt: (v) => (Number.isFinite(v) ? v.toFixed(0) : '-') },
];

/** Relative difference of live against simulated, in %; null when the simulated figure is 0 or missing. */
export function diffPercent(live: number | undefined, sim: number | undefined): number | null {
  if (live === undefined || sim === undefined || !Number.isFinite(live) || !Number.isFinite(sim) || sim === 0) return null;
  return (100 * (live - sim)) / sim;
}

/** The table: live, simulator, difference %, one row each, columns as COLUMNS. */
export function comparisonTable(live: Kpis, sim: Kpis | null): string {
  const header = ['', ...COLUMNS.map((c) => c.label)];
  const row = (name: string, k: Kpis) => [name, ...COLUMNS.map((c) => (k[c.key] === undefined ? '-' : c.fmt(k[c.key] as number)))];
  const rows = [row('live', live)];
  if (sim) {
    rows.push(row('simulator', sim));
    rows.push(['diff %', ...COLUMNS.map((c) => {
      const d = diffPercent(live[c.key] as number | undefined, sim[c.key] as number | undefined);
      return d === null ? '-' : `${d >= 0 ? '+' : ''}${d.toFixed(1)}`;
    })]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
