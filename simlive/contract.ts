/**
 * The product modules the simulation judges the run with: the calling windows
 * (src/lib/domain/calling-window.ts) and the abandon definitions
 * (src/lib/domain/pacing/definitions.ts). Each is loaded when the product has it; until then
 * a small stand-in with the same signature is used and `sources` says so, so a report never
 * hides which definition it applied.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Hours of a calling-window profile ('HH:MM' local times, end exclusive). */
export interface WindowProfile {
  weekday: [string, string] | null;
  saturday: [string, string] | null;
  sunday: [string, string] | null;
  skipHolidays: boolean;
}
/** A date an admin closed (uf null = everywhere). */
export interface AdminHoliday {
  day: string;
  uf: string | null;
}
/** The campaign columns a window profile is made from. */
export interface CampaignWindowColumns {
  window_profile: string;
  weekday_start: string | null;
  weekday_end: string | null;
  saturday_start: string | null;
  saturday_end: string | null;
  allow_sunday: boolean;
  sunday_start: string | null;
  sunday_end: string | null;
  skip_holidays: boolean;
}

interface WindowsModule {
  COLLECTIONS_SP: WindowProfile;
  DDD_REGIONS: Readonly<Record<number, { uf: string; utcOffsetHours: -3 | -4 | -5 }>>;
  isOpenFor(ddd: number, profile: WindowProfile, nowMs: number, adminHolidays: readonly AdminHoliday[]): boolean;
  campaignWindowProfile(c: CampaignWindowColumns): WindowProfile;
}
interface DefinitionsModule {
  estimatedAmdAbandons(liveAnswers: number, humanAccuracy: number): number;
  abandonRate(abandoned: number, live: number, humanAccuracy?: number): number;
}

const root = join(__dirname, '..');

/** Loads a product module when its file exists (a missing file is the stand-in's cue, any other error is thrown). */
function optional<T>(rel: string): T | null {
  if (!existsSync(join(root, `${rel}.ts`))) return null;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(join(root, rel)) as T;
}

// ---------------------------------------------------------------- stand-ins

/** Every Brazilian DDD with its state and UTC offset (Brazil has had no daylight saving since 2019). */
const STANDIN_DDD_REGIONS: Record<number, { uf: string; utcOffsetHours: -3 | -4 | -5 }> = (() => {
  const out: Record<number, { uf: string; utcOffsetHours: -3 | -4 | -5 }> = {};
  const add = (uf: string, off: -3 | -4 | -5, ddds: number[]) => ddds.forEach((d) => (out[d] = { uf, utcOffsetHours: off }));
  add('SP', -3, [11, 12, 13, 14, 15, 16, 17, 18, 19]);
  add('RJ', -3, [21, 22, 24]);
  add('ES', -3, [27, 28]);
  add('MG', -3, [31, 32, 33, 34, 35, 37, 38]);
  add('PR', -3, [41, 42, 43, 44, 45, 46]);
  add('SC', -3, [47, 48, 49]);
  add('RS', -3, [51, 53, 54, 55]);
  add('DF', -3, [61]);
  add('GO', -3, [62, 64]);
  add('TO', -3, [63]);
  add('MT', -4, [65, 66]);
  add('MS', -4, [67]);
  add('AC', -5, [68]);
  add('RO', -4, [69]);
  add('BA', -3, [71, 73, 74, 75, 77]);
  add('SE', -3, [79]);
  add('PE', -3, [81, 87]);
  add('AL', -3, [82]);
  add('PB', -3, [83]);
  add('RN', -3, [84]);
  add('CE', -3, [85, 88]);
  add('PI', -3, [86, 89]);
  add('PA', -3, [91, 93, 94]);
  add('AM', -4, [92, 97]);
  add('RR', -4, [95]);
  add('AP', -3, [96]);
  add('MA', -3, [98, 99]);
  return out;
})();

const STANDIN_COLLECTIONS_SP: WindowProfile = { weekday: ['08:00', '20:00'], saturday: ['08:00', '14:00'], sunday: null, skipHolidays: true };

const hhmm = (t: string | null): string | null => (t === null ? null : t.slice(0, 5));

/** Stand-in: local time from the DDD's offset; holidays are not known (the run picks a day without national ones). */
function standinIsOpenFor(ddd: number, profile: WindowProfile, nowMs: number): boolean {
  const region = STANDIN_DDD_REGIONS[ddd];
  if (!region) return false;
  const local = new Date(nowMs + region.utcOffsetHours * 3600_000);
  const day = local.getUTCDay();
  const hours = day === 0 ? profile.sunday : day === 6 ? profile.saturday : profile.weekday;
  if (!hours) return false;
  const minute = local.getUTCHours() * 60 + local.getUTCMinutes();
  const toMin = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
  return minute >= toMin(hours[0]) && minute < toMin(hours[1]);
}

function standinProfile(c: CampaignWindowColumns): WindowProfile {
  if (c.window_profile === 'collections_sp') return STANDIN_COLLECTIONS_SP;
  const pair = (a: string | null, b: string | null): [string, string] | null => (a && b ? [hhmm(a)!, hhmm(b)!] : null);
  return {
    weekday: pair(c.weekday_start, c.weekday_end),
    saturday: pair(c.saturday_start, c.saturday_end),
    sunday: c.allow_sunday ? pair(c.sunday_start, c.sunday_end) : null,
    skipHolidays: c.skip_holidays,
  };
}

/** Humans AMD hung up on, estimated from live answers: live / accuracy humans reached, (1 - accuracy) of them lost. */
function standinEstimatedAmdAbandons(liveAnswers: number, humanAccuracy: number): number {
  if (!(humanAccuracy > 0) || humanAccuracy >= 1) return 0;
  return (liveAnswers * (1 - humanAccuracy)) / humanAccuracy;
}

function standinAbandonRate(abandoned: number, live: number, humanAccuracy?: number): number {
  const est = humanAccuracy === undefined ? 0 : standinEstimatedAmdAbandons(live, humanAccuracy);
  return live + est > 0 ? (abandoned + est) / (live + est) : 0;
}

// ---------------------------------------------------------------- what the harness uses

const windows = optional<WindowsModule>('src/lib/domain/calling-window');
const definitions = optional<DefinitionsModule>('src/lib/domain/pacing/definitions');

/** The simulator's KPIs of one shift (simulator/kpis.ts), the fields the comparison reads. */
export interface SimulatorKpis {
  agentHours: number;
  talkMinPerAgentHour: number;
  occupancy: number;
  abandonRate: number;
  abandonRateWithAmd: number;
  dials: number;
  live: number;
  abandoned: number;
  connects: number;
  connectsPerAgentHour: number;
  meanAgentWaitS: number;
  peakLines: number;
}
interface SimulatorKpisModule {
  simulateScenario(scenario: unknown, strategy: unknown, seed?: number): SimulatorKpis;
}
/** `simulateScenario` of simulator/kpis.ts when the simulator has it, else null (the run calls simulate() itself). */
export const simulatorModule = optional<SimulatorKpisModule>('simulator/kpis');

/** Which definitions were applied: 'product' or 'stand-in'. */
export const sources = {
  windows: windows ? 'product' : 'stand-in',
  abandon: definitions ? 'product' : 'stand-in',
  simulator: simulatorModule ? 'simulateScenario' : 'simulate',
} as const;

export const DDD_REGIONS: Readonly<Record<number, { uf: string; utcOffsetHours: -3 | -4 | -5 }>> = windows?.DDD_REGIONS ?? STANDIN_DDD_REGIONS;
export const COLLECTIONS_SP: WindowProfile = windows?.COLLECTIONS_SP ?? STANDIN_COLLECTIONS_SP;

export function isOpenFor(ddd: number, profile: WindowProfile, nowMs: number, adminHolidays: readonly AdminHoliday[] = []): boolean {
  return windows ? windows.isOpenFor(ddd, profile, nowMs, adminHolidays) : standinIsOpenFor(ddd, profile, nowMs);
}

export function campaignWindowProfile(c: CampaignWindowColumns): WindowProfile {
  return windows ? windows.campaignWindowProfile(c) : standinProfile(c);
}

export function estimatedAmdAbandons(liveAnswers: number, humanAccuracy: number): number {
  return definitions ? definitions.estimatedAmdAbandons(liveAnswers, humanAccuracy) : standinEstimatedAmdAbandons(liveAnswers, humanAccuracy);
}

export function abandonRate(abandoned: number, live: number, humanAccuracy?: number): number {
  return definitions ? definitions.abandonRate(abandoned, live, humanAccuracy) : standinAbandonRate(abandoned, live, humanAccuracy);
}

/** The DDD of a Brazilian E.164 number, or null. */
export function dddOf(e164: string): number | null {
  const m = /^\+55([1-9][0-9])[0-9]{8,9}$/.exec(e164);
  return m ? Number(m[1]) : null;
}
