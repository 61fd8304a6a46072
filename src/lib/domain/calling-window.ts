/**
 * STAND-IN for the calling-window module, only so the preview endpoint builds and is tested on
 * this branch: the agreed exports with simplified rules (every DDD on São Paulo time, holidays
 * only from the admin list). The windows module's real file replaces this one at merge.
 */

/** Calling hours per kind of day ('HH:MM' local, end exclusive; null = closed). */
export interface WindowProfile {
  weekday: [string, string] | null;
  saturday: [string, string] | null;
  sunday: [string, string] | null;
  skipHolidays: boolean;
}

/** Collections in São Paulo: Mon–Fri 08–20, Sat 08–14, no Sunday, holidays off. */
export const COLLECTIONS_SP: WindowProfile = { weekday: ['08:00', '20:00'], saturday: ['08:00', '14:00'], sunday: null, skipHolidays: true };

/** A date an admin closed (all states when uf is null). */
export interface AdminHoliday {
  day: string;
  uf: string | null;
}

const DDDS = [
  11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28, 31, 32, 33, 34, 35, 37, 38, 41, 42, 43, 44, 45, 46, 47, 48, 49, 51, 53, 54, 55, 61, 62, 63, 64, 65, 66, 67,
  68, 69, 71, 73, 74, 75, 77, 79, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95, 96, 97, 98, 99,
];

/** Every Brazilian DDD with its state and UTC offset (stand-in: all on UTC−3, state unknown). */
export const DDD_REGIONS: Readonly<Record<number, { uf: string; utcOffsetHours: -3 | -4 | -5 }>> = Object.fromEntries(
  DDDS.map((d) => [d, { uf: 'SP', utcOffsetHours: -3 as const }]),
);

/** The profile a campaign's columns describe. */
export function campaignWindowProfile(c: {
  window_profile: string;
  weekday_start: string | null;
  weekday_end: string | null;
  saturday_start: string | null;
  saturday_end: string | null;
  allow_sunday: boolean;
  sunday_start: string | null;
  sunday_end: string | null;
  skip_holidays: boolean;
}): WindowProfile {
  if (c.window_profile !== 'custom') return COLLECTIONS_SP;
  const span = (a: string | null, b: string | null): [string, string] | null => (a && b ? [a.slice(0, 5), b.slice(0, 5)] : null);
  return {
    weekday: span(c.weekday_start, c.weekday_end),
    saturday: span(c.saturday_start, c.saturday_end),
    sunday: c.allow_sunday ? span(c.sunday_start, c.sunday_end) : null,
    skipHolidays: c.skip_holidays,
  };
}

/** Whether a lead of this DDD may be called at nowMs. */
export function isOpenFor(ddd: number, profile: WindowProfile, nowMs: number, adminHolidays: readonly AdminHoliday[]): boolean {
  const region = DDD_REGIONS[ddd];
  if (!region) return false;
  const local = new Date(nowMs + region.utcOffsetHours * 3_600_000);
  const day = local.toISOString().slice(0, 10);
  if (adminHolidays.some((h) => h.day === day && (h.uf === null || h.uf === region.uf))) return false;
  const dow = local.getUTCDay();
  const span = dow === 0 ? profile.sunday : dow === 6 ? profile.saturday : profile.weekday;
  if (!span) return false;
  const hhmm = local.toISOString().slice(11, 16);
  return hhmm >= span[0] && hhmm < span[1];
}

/** The DDDs whose leads may be called at nowMs. */
export function openDdds(profile: WindowProfile, nowMs: number, adminHolidays: readonly AdminHoliday[]): number[] {
  return DDDS.filter((d) => isOpenFor(d, profile, nowMs, adminHolidays));
}

/** A profile with no hours at all. */
export function neverOpens(profile: WindowProfile): boolean {
  return !profile.weekday && !profile.saturday && !profile.sunday;
}
