/**
 * A pacing round's inputs as pacer_round_begin returns them, turned into what decidePacing
 * reads: the snapshot (agents, calls by stage, CPS use, rolling statistics) and the campaign's
 * settings; plus the calling window's open DDDs. Pure: the clock is the database's (now_ms).
 */
import type { GuardState } from '../anatel';
import type { AdminHoliday, WindowProfile } from '../calling-window';
import type { AdaptiveBehaviour, AgentActivity, CallCounts, PacingMode, PacingSettings, PacingSnapshot, PacingStats } from '../pacing';
import { PACING_WINDOWS } from '../pacing/definitions';

/**
 * Sizes of the rolling windows behind the statistics: the simulator's (pacing/definitions).
 * The database computes the statistics over these windows; the sizes travel with each round.
 */
export const ROLLING_WINDOWS = PACING_WINDOWS;

/** The campaign columns a round reads (the whole row travels; these are the ones used). */
export interface CampaignRow {
  id: number;
  name: string;
  status: string;
  mode: PacingMode;
  dial_ratio: number | string;
  max_lines: number;
  abandon_cap: number | string;
  calls_per_second: number | string;
  pacing_behaviour: AdaptiveBehaviour;
  window_profile: string;
  weekday_start: string | null;
  weekday_end: string | null;
  saturday_start: string | null;
  saturday_end: string | null;
  allow_sunday: boolean;
  sunday_start: string | null;
  sunday_end: string | null;
  skip_holidays: boolean;
  amd_machine: 'hangup' | 'voicemail';
  amd_human_accuracy: number | string;
  disclaimer_seconds: number | string;
  ring_timeout: number;
}

/** One leased campaign's snapshot (pacer_snapshot). */
export interface RoundSnapshot {
  campaign_id: number;
  now_ms: number;
  lease_until_ms: number;
  campaign: CampaignRow;
  agents: { id: number; activity: AgentActivity; since_ms: number }[];
  agents_unroutable: number;
  calls: CallCounts;
  ringing_since_ms: number[];
  dials_last_second: number;
  campaign_dials_last_second: number;
  preview_requests: number;
  /** Available agents waiting for a preview lead (agents.preview_requested_at), longest waiting first. */
  preview_agents: number[];
  stats: PacingStats;
  holidays: AdminHoliday[];
}

/** What pacer_round_begin answers. */
export interface RoundBegin {
  now_ms: number;
  dials_last_second: number;
  rounds: RoundSnapshot[];
  /** The short-call guard's state (the account's Anatel figures) when the guard is on; else null. */
  anatel?: GuardState | null;
}

/** The snapshot decidePacing reads. */
export function pacingSnapshot(r: RoundSnapshot): PacingSnapshot {
  return {
    nowMs: Number(r.now_ms),
    agents: r.agents.map((a) => ({ activity: a.activity, sinceMs: Number(a.since_ms) })),
    calls: { ringing: r.calls.ringing, detecting: r.calls.detecting, waiting: r.calls.waiting, connected: r.calls.connected },
    dialsLastSecond: r.dials_last_second,
    ringingSinceMs: r.ringing_since_ms.map(Number),
    previewRequests: r.preview_requests,
    stats: { ...r.stats },
  };
}

/** São Paulo's offset from UTC (no daylight saving since 2019): the campaign's shift is on its clock. */
const SAO_PAULO_OFFSET_MS = -3 * 3600_000;

/** Today's working window on São Paulo's clock, for ADAPT_TAPERED (none on a day without hours). */
export function shiftOfDay(profile: WindowProfile, nowMs: number): { shiftStartMs: number; shiftEndMs: number } | undefined {
  const local = new Date(nowMs + SAO_PAULO_OFFSET_MS);
  const weekday = local.getUTCDay();
  const span = weekday === 0 ? profile.sunday : weekday === 6 ? profile.saturday : profile.weekday;
  if (!span) return undefined;
  const midnight = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()) - SAO_PAULO_OFFSET_MS;
  const at = (hhmm: string) => midnight + (Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5))) * 60_000;
  return { shiftStartMs: at(span[0]), shiftEndMs: at(span[1]) };
}

/**
 * The campaign's pacing settings. `cps` is the account's (the snapshot's dialsLastSecond is
 * account-wide); the campaign's own share is applied by the round (campaignCpsRoom).
 * `amdHumanAccuracy` lets the decision count the humans AMD hangs up on as abandons;
 * `abandonGraceS` is the deployment's ABANDON_GRACE_SECONDS, the call flow's own grace.
 */
export function pacingSettings(c: CampaignRow, accountCps: number, abandonGraceS: number, profile: WindowProfile, nowMs: number): PacingSettings {
  return {
    mode: c.mode,
    ratio: Number(c.dial_ratio),
    maxLines: c.max_lines,
    abandonCap: Number(c.abandon_cap),
    cps: accountCps,
    behaviour: c.pacing_behaviour,
    disclaimerS: Number(c.disclaimer_seconds),
    abandonGraceS,
    noAnswerTimeoutS: c.ring_timeout,
    amdHumanAccuracy: Number(c.amd_human_accuracy),
    ...shiftOfDay(profile, nowMs),
  };
}

/** How many more calls the campaign's own CPS share allows this second. */
export function campaignCpsRoom(r: RoundSnapshot): number {
  return Math.max(0, Math.floor(Number(r.campaign.calls_per_second) + 1e-9) - r.campaign_dials_last_second);
}

/**
 * The calling window now: the profile and the DDDs open at the snapshot's instant. The windows
 * module (and its holiday calendar package) is loaded on the first round only, so a function
 * that may start rounds (the status webhook, the agent poll) loads it only when one runs.
 */
export async function windowNow(r: RoundSnapshot): Promise<{ profile: WindowProfile; open: number[]; never: boolean }> {
  const { campaignWindowProfile, neverOpens, openDdds } = await import('../calling-window');
  const profile = campaignWindowProfile(r.campaign);
  return { profile, open: openDdds(profile, Number(r.now_ms), r.holidays), never: neverOpens(profile) };
}
