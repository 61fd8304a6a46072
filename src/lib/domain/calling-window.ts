/**
 * Calling windows: when a lead may be called, from its DDD's time zone and the campaign's
 * profile (hours per weekday, Saturday and Sunday; holidays off). Brazil has had no daylight
 * saving since 2019, so a DDD's offset from UTC is fixed.
 */

/** Local hours per day kind ('HH:MM', end exclusive); null: no calls that day. */
export interface WindowProfile {
  weekday: [string, string] | null;
  saturday: [string, string] | null;
  sunday: [string, string] | null;
  skipHolidays: boolean;
}

/** São Paulo's collections law 15.426/2014: Mon–Fri 08–20, Sat 08–14, never Sundays or holidays. */
export const COLLECTIONS_SP: WindowProfile = { weekday: ['08:00', '20:00'], saturday: ['08:00', '14:00'], sunday: null, skipHolidays: true };

/** A campaign's columns as a profile: the collections default, or its own hours. */
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

/** A date an admin closed: everywhere (uf null) or in one state. */
export interface AdminHoliday {
  day: string;
  uf: string | null;
}

const tz = (uf: string, utcOffsetHours: -3 | -4 | -5) => ({ uf, utcOffsetHours });

/** Every DDD in use: its state and its offset from UTC. */
export const DDD_REGIONS: Readonly<Record<number, { uf: string; utcOffsetHours: -3 | -4 | -5 }>> = {
  11: tz('SP', -3), 12: tz('SP', -3), 13: tz('SP', -3), 14: tz('SP', -3), 15: tz('SP', -3), 16: tz('SP', -3), 17: tz('SP', -3), 18: tz('SP', -3), 19: tz('SP', -3),
  21: tz('RJ', -3), 22: tz('RJ', -3), 24: tz('RJ', -3), 27: tz('ES', -3), 28: tz('ES', -3),
  31: tz('MG', -3), 32: tz('MG', -3), 33: tz('MG', -3), 34: tz('MG', -3), 35: tz('MG', -3), 37: tz('MG', -3), 38: tz('MG', -3),
  41: tz('PR', -3), 42: tz('PR', -3), 43: tz('PR', -3), 44: tz('PR', -3), 45: tz('PR', -3), 46: tz('PR', -3),
  47: tz('SC', -3), 48: tz('SC', -3), 49: tz('SC', -3), 51: tz('RS', -3), 53: tz('RS', -3), 54: tz('RS', -3), 55: tz('RS', -3),
  61: tz('DF', -3), 62: tz('GO', -3), 64: tz('GO', -3), 63: tz('TO', -3), 65: tz('MT', -4), 66: tz('MT', -4), 67: tz('MS', -4),
  68: tz('AC', -5), 69: tz('RO', -4),
  71: tz('BA', -3), 73: tz('BA', -3), 74: tz('BA', -3), 75: tz('BA', -3), 77: tz('BA', -3), 79: tz('SE', -3),
  81: tz('PE', -3), 87: tz('PE', -3), 82: tz('AL', -3), 83: tz('PB', -3), 84: tz('RN', -3), 85: tz('CE', -3), 88: tz('CE', -3),
  86: tz('PI', -3), 89: tz('PI', -3), 91: tz('PA', -3), 93: tz('PA', -3), 94: tz('PA', -3), 92: tz('AM', -4), 97: tz('AM', -4),
  95: tz('RR', -4), 96: tz('AP', -3), 98: tz('MA', -3), 99: tz('MA', -3),
};

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** True when a lead of this DDD may be called at nowMs. Unknown DDDs never are. */
export function isOpenFor(ddd: number, profile: WindowProfile, nowMs: number, adminHolidays: readonly AdminHoliday[]): boolean {
  const region = DDD_REGIONS[ddd];
  if (!region) return false;
  const local = new Date(nowMs + region.utcOffsetHours * 3600_000);
  const day = local.toISOString().slice(0, 10);
  if (profile.skipHolidays && adminHolidays.some((h) => h.day === day && (h.uf === null || h.uf === region.uf))) return false;
  const weekday = local.getUTCDay();
  const span = weekday === 0 ? profile.sunday : weekday === 6 ? profile.saturday : profile.weekday;
  if (!span) return false;
  const m = local.getUTCHours() * 60 + local.getUTCMinutes();
  return m >= minutes(span[0]) && m < minutes(span[1]);
}

/** The DDDs whose leads may be called at nowMs, ascending. */
export function openDdds(profile: WindowProfile, nowMs: number, adminHolidays: readonly AdminHoliday[]): number[] {
  return Object.keys(DDD_REGIONS)
    .map(Number)
    .filter((ddd) => isOpenFor(ddd, profile, nowMs, adminHolidays))
    .sort((a, b) => a - b);
}

/** True for a profile without any hours (it never opens). */
export function neverOpens(profile: WindowProfile): boolean {
  const empty = (s: [string, string] | null) => s === null || minutes(s[1]) <= minutes(s[0]);
  return empty(profile.weekday) && empty(profile.saturday) && empty(profile.sunday);
}
