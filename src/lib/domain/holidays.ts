/**
 * Brazilian holidays on which a lead is not called: national holidays and the holidays of the
 * lead's state, from @brazilian-utils/brazilian-utils (the maintained package that knows 20
 * November is national since Lei 14.759/2023; see docs/calling-windows.md for the comparison
 * with date-holidays), plus the dates an admin adds (calling_holidays: municipal holidays,
 * company days off).
 *
 * Only legal holidays close a window: the package's `national` and `state` entries. Carnaval
 * and Corpus Christi are pontos facultativos nationally (typed `optional`) and stay working
 * days unless an admin adds them; Corpus Christi is a state holiday in the Distrito Federal
 * (typed `state` there) and closes it. Easter Sunday (`religious`) is a Sunday anyway.
 */

/** The package's getHolidays (subpath import: the package root bundles every other utility). */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { getHolidays } = require('@brazilian-utils/brazilian-utils/get-holidays') as {
  getHolidays(options: { year: number; stateCode?: string }): { name: string; date: Date; type: 'national' | 'state' | 'optional' | 'religious' }[];
};

/** A date an admin closed: uf null = every state. */
export interface AdminHoliday {
  day: string; // YYYY-MM-DD
  uf: string | null;
}

/** The holiday types that close a calling window. */
const CLOSING_TYPES = new Set(['national', 'state']);

const cache = new Map<string, ReadonlySet<string>>();

/** 'YYYY-MM-DD' of a calendar date given as year, month (1-12) and day. */
export function isoDay(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/**
 * The legal holidays (national + the state's) of a year, as 'YYYY-MM-DD' strings. Cached per
 * year and state: the pacer asks on every round. uf null = national holidays only.
 */
export function legalHolidays(year: number, uf: string | null): ReadonlySet<string> {
  const key = `${year}|${uf ?? ''}`;
  let days = cache.get(key);
  if (!days) {
    const list = getHolidays(uf ? { year, stateCode: uf } : { year });
    // The package builds each date at local midnight of the process: read it back in local time.
    days = new Set(list.filter((h) => CLOSING_TYPES.has(h.type)).map((h) => isoDay(h.date.getFullYear(), h.date.getMonth() + 1, h.date.getDate())));
    cache.set(key, days);
  }
  return days;
}

/** The names of the legal holidays of a year in a state (for docs, CLIs and tests). */
export function legalHolidayNames(year: number, uf: string | null): { day: string; name: string; type: string }[] {
  return getHolidays(uf ? { year, stateCode: uf } : { year })
    .filter((h) => CLOSING_TYPES.has(h.type))
    .map((h) => ({ day: isoDay(h.date.getFullYear(), h.date.getMonth() + 1, h.date.getDate()), name: h.name, type: h.type }));
}

/** Whether `day` (YYYY-MM-DD) is an admin-closed date for state `uf`. */
export function isAdminHoliday(day: string, uf: string, admin: readonly AdminHoliday[]): boolean {
  for (const h of admin) if (h.day === day && (h.uf === null || h.uf === uf)) return true;
  return false;
}
