/**
 * The rules a campaign day must never break, each checked against what really happened (the
 * emulator's calls, which are what Twilio would have placed) or the database's rows:
 *   - opted-out numbers dialed: a call placed to a number that was on the opt-out list by then;
 *   - out-of-window dials: an attempt created while its lead's DDD was outside the campaign's
 *     calling window (a number without a known DDD is never in a window);
 *   - caller-ID cap breaks: more calls from one pool number in one São Paulo day than its daily_cap;
 *   - CPS breaks: more than the account's CPS dial attempts created in any one-second window;
 *   - calls without rows: a call the emulator placed with no calls row of its CallSid, or a
 *     campaign calls row whose CallSid the emulator never saw.
 * Each detector is a pure function over plain rows and returns its findings (empty = none).
 */

/** One broken rule, with what shows it. */
export interface Finding {
  rule: 'opted_out_dialed' | 'out_of_window' | 'caller_id_cap' | 'cps' | 'call_without_row' | 'row_without_call';
  detail: string;
}

/** A call the emulator placed (an outbound API call). */
export interface PlacedCall {
  sid: string;
  to: string;
  from: string;
  createdMs: number;
}

/** Calls placed to a number that was on the opt-out list when the call was created. */
export function optedOutDialed(placed: readonly PlacedCall[], optOuts: readonly { phone: string; createdMs: number }[]): Finding[] {
  const since = new Map(optOuts.map((o) => [o.phone, o.createdMs]));
  return placed
    .filter((c) => since.has(c.to) && (since.get(c.to) as number) <= c.createdMs)
    .map((c) => ({ rule: 'opted_out_dialed' as const, detail: `${c.sid} to ${c.to} (opted out ${new Date(since.get(c.to)!).toISOString()}, dialed ${new Date(c.createdMs).toISOString()})` }));
}

/** Attempts created while their DDD's window was closed (`isOpen(ddd, ms)`); no DDD = closed. */
export function outOfWindow(
  attempts: readonly { id: string; to: string; ddd: number | null; createdMs: number }[],
  isOpen: (ddd: number, ms: number) => boolean,
): Finding[] {
  return attempts
    .filter((a) => a.ddd === null || !isOpen(a.ddd, a.createdMs))
    .map((a) => ({ rule: 'out_of_window' as const, detail: `attempt ${a.id} to ${a.to} (DDD ${a.ddd ?? 'none'}) at ${new Date(a.createdMs).toISOString()}` }));
}

/** The São Paulo calendar day (UTC-3, no daylight saving) of an instant, as YYYY-MM-DD. */
export function saoPauloDay(ms: number): string {
  return new Date(ms - 3 * 3600_000).toISOString().slice(0, 10);
}

/** Pool numbers used more times in one São Paulo day than their daily cap. */
export function callerIdCapBreaks(placed: readonly Pick<PlacedCall, 'from' | 'createdMs'>[], caps: ReadonlyMap<string, number>): Finding[] {
  const counts = new Map<string, number>();
  for (const c of placed) {
    const k = `${c.from} ${saoPauloDay(c.createdMs)}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const out: Finding[] = [];
  for (const [k, n] of counts) {
    const [from, day] = k.split(' ') as [string, string];
    const cap = caps.get(from);
    if (cap === undefined) out.push({ rule: 'caller_id_cap', detail: `${from} is not a pool number with a cap (${n} calls on ${day})` });
    else if (n > cap) out.push({ rule: 'caller_id_cap', detail: `${from}: ${n} calls on ${day}, cap ${cap}` });
  }
  return out;
}

/**
 * One-second windows holding more than `cps` instants: for the sorted instants, any i where
 * t[i + cps] - t[i] < windowMs. Consecutive breaks of the same burst are reported once.
 */
export function cpsBreaks(instantsMs: readonly number[], cps: number, windowMs = 1000): Finding[] {
  const t = [...instantsMs].sort((a, b) => a - b);
  const out: Finding[] = [];
  let lastReported = -Infinity;
  for (let i = 0; i + cps < t.length; i++) {
    if (t[i + cps]! - t[i]! < windowMs && t[i]! >= lastReported) {
      let n = cps + 1;
      while (i + n < t.length && t[i + n]! - t[i]! < windowMs) n++;
      out.push({ rule: 'cps', detail: `${n} attempts within ${windowMs} ms from ${new Date(t[i]!).toISOString()} (CPS ${cps})` });
      lastReported = t[i]! + windowMs;
    }
  }
  return out;
}

/** Emulator calls without a calls row, and campaign rows with a CallSid the emulator never placed. */
export function callsWithoutRows(placedSids: readonly string[], rowSids: readonly (string | null)[]): Finding[] {
  const rows = new Set(rowSids.filter((s): s is string => s !== null));
  const placed = new Set(placedSids);
  return [
    ...[...placed].filter((s) => !rows.has(s)).map((s) => ({ rule: 'call_without_row' as const, detail: `${s} placed with no calls row` })),
    ...[...rows].filter((s) => !placed.has(s)).map((s) => ({ rule: 'row_without_call' as const, detail: `calls row ${s} never placed on the emulator` })),
  ];
}

/** Findings grouped by rule, with zero for the rules that held. */
export function countByRule(findings: readonly Finding[]): Record<Finding['rule'], number> {
  const out: Record<Finding['rule'], number> = { opted_out_dialed: 0, out_of_window: 0, caller_id_cap: 0, cps: 0, call_without_row: 0, row_without_call: 0 };
  for (const f of findings) out[f.rule]++;
  return out;
}
