/**
 * Calling windows: whether a lead may be called now, from its DDD's local time, the campaign's
 * hours per weekday / Saturday / Sunday, and the holidays of the lead's state.
 *
 * Local time = UTC + the DDD's fixed offset: Brazil has had no daylight saving since 2019
 * (Decreto 9.772/2019), and libphonenumber / tz lookups by number are not trusted for Brazil
 * (they put Pará in Manaus time). The pacer calls openDdds on every round: it does a few
 * integer operations per time zone and set lookups per DDD (holidays cached per year and state).
 */
import { isoDay, legalHolidays, type AdminHoliday } from './holidays';

export type { AdminHoliday } from './holidays';

/** Hours of a campaign: 'HH:MM' local times, end exclusive; null = closed that day. */
export interface WindowProfile {
  weekday: [string, string] | null;
  saturday: [string, string] | null;
  sunday: [string, string] | null;
  skipHolidays: boolean;
}

/**
 * Collection calls under São Paulo state law 15.426/2014: Monday to Friday 08:00–20:00,
 * Saturday 08:00–14:00, never on Sundays or holidays. The default for every campaign.
 */
export const COLLECTIONS_SP: WindowProfile = Object.freeze({
  weekday: Object.freeze(['08:00', '20:00']) as [string, string],
  saturday: Object.freeze(['08:00', '14:00']) as [string, string],
  sunday: null,
  skipHolidays: true,
});

type Offset = -3 | -4 | -5;
/** Offsets a DDD also spans besides its main one (Fernando de Noronha's UTC-2). */
type OtherOffset = -2 | -3 | -4 | -5;

/**
 * Two DDDs span two time zones: 81 (Pernambuco, UTC-3) also covers Fernando de Noronha
 * (UTC-2), and 97 (inland Amazonas, UTC-4) also covers the towns on Acre time (UTC-5: Eirunepé,
 * Envira, Guajará, Ipixuna…; IANA America/Eirunepe). A number's DDD does not tell which, so
 * such a DDD is open only when the window is open at every offset it spans.
 */
const OTHER_OFFSETS: Readonly<Record<number, readonly OtherOffset[]>> = Object.freeze({ 81: Object.freeze([-2] as const), 97: Object.freeze([-5] as const) });

/**
 * State (UF) and UTC offset of every Brazilian DDD in use (Anatel's 67 area codes);
 * `otherOffsets` when the DDD spans more than one time zone.
 */
export const DDD_REGIONS: Readonly<Record<number, { uf: string; utcOffsetHours: Offset; otherOffsets?: readonly OtherOffset[] }>> = Object.freeze(
  Object.fromEntries(
    (
      [
        ['SP', [11, 12, 13, 14, 15, 16, 17, 18, 19]],
        ['RJ', [21, 22, 24]],
        ['ES', [27, 28]],
        ['MG', [31, 32, 33, 34, 35, 37, 38]],
        ['PR', [41, 42, 43, 44, 45, 46]],
        ['SC', [47, 48, 49]],
        ['RS', [51, 53, 54, 55]],
        ['DF', [61]],
        ['GO', [62, 64]],
        ['TO', [63]],
        ['MT', [65, 66]],
        ['MS', [67]],
        ['AC', [68]],
        ['RO', [69]],
        ['BA', [71, 73, 74, 75, 77]],
        ['SE', [79]],
        ['PE', [81, 87]],
        ['AL', [82]],
        ['PB', [83]],
        ['RN', [84]],
        ['CE', [85, 88]],
        ['PI', [86, 89]],
        ['PA', [91, 93, 94]],
        ['AM', [92, 97]],
        ['RR', [95]],
        ['AP', [96]],
        ['MA', [98, 99]],
      ] as const
    ).flatMap(([uf, ddds]) =>
      ddds.map((ddd) => [ddd, Object.freeze({ uf, utcOffsetHours: offsetOf(ddd), ...(OTHER_OFFSETS[ddd] ? { otherOffsets: OTHER_OFFSETS[ddd] } : {}) })]),
    ),
  ),
);

/** Amazon time (UTC-4): Mato Grosso, Mato Grosso do Sul, Rondônia, Amazonas, Roraima; Acre is UTC-5. */
function offsetOf(ddd: number): Offset {
  if (ddd === 68) return -5;
  if ([65, 66, 67, 69, 92, 95, 97].includes(ddd)) return -4;
  return -3;
}

/** The DDDs of each offset, ascending. */
const DDDS_BY_OFFSET: ReadonlyArray<{ offset: Offset; ddds: { ddd: number; uf: string }[] }> = ([-3, -4, -5] as const).map((offset) => ({
  offset,
  ddds: Object.entries(DDD_REGIONS)
    .filter(([, r]) => r.utcOffsetHours === offset)
    .map(([ddd, r]) => ({ ddd: Number(ddd), uf: r.uf }))
    .sort((a, b) => a.ddd - b.ddd),
}));

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const TIME = /^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))(?::00)?$/;

/** Minutes since midnight of 'HH:MM' (or 'HH:MM:00', as Postgres prints a time); '24:00' is the end of the day. */
function minutesOf(hhmm: string): number {
  const m = TIME.exec(hhmm);
  if (!m) throw new Error(`invalid time "${hhmm}": expected HH:MM (00:00 to 24:00)`);
  return m[3] ? 24 * 60 : Number(m[1]) * 60 + Number(m[2]);
}

/** [start, end) in ms since local midnight, or null when the day is closed. */
function spanOf(day: [string, string] | null): [number, number] | null {
  if (!day) return null;
  const start = minutesOf(day[0]) * 60_000;
  const end = minutesOf(day[1]) * 60_000;
  return start < end ? [start, end] : null;
}

/** The span of a local day of week (0 = Sunday). */
function spansOf(profile: WindowProfile): ([number, number] | null)[] {
  const weekday = spanOf(profile.weekday);
  return [spanOf(profile.sunday), weekday, weekday, weekday, weekday, weekday, spanOf(profile.saturday)];
}

/** 'HH:MM' of a Postgres time ('08:00:00' → '08:00'); null stays null. */
function hhmm(t: string | null): string | null {
  if (t === null) return null;
  minutesOf(t);
  return t.slice(0, 5);
}

function pair(start: string | null, end: string | null): [string, string] | null {
  const s = hhmm(start);
  const e = hhmm(end);
  return s !== null && e !== null && minutesOf(s) < minutesOf(e) ? [s, e] : null;
}

/** The columns of a campaigns row that make its window. */
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

/**
 * A campaign's window. 'collections_sp' is the law's profile whatever the hour columns say;
 * 'custom' takes the columns (a day whose start or end is missing, or whose start is not
 * before its end, is closed; Sunday only with allow_sunday). Throws on an unknown profile or a
 * malformed time.
 */
export function campaignWindowProfile(c: CampaignWindowColumns): WindowProfile {
  if (c.window_profile === 'collections_sp') return COLLECTIONS_SP;
  if (c.window_profile !== 'custom') throw new Error(`unknown window profile "${c.window_profile}": expected collections_sp or custom`);
  return {
    weekday: pair(c.weekday_start, c.weekday_end),
    saturday: pair(c.saturday_start, c.saturday_end),
    sunday: c.allow_sunday ? pair(c.sunday_start, c.sunday_end) : null,
    skipHolidays: c.skip_holidays,
  };
}

/** True when the profile has no hours on any day: a campaign with it would never dial. */
export function neverOpens(profile: WindowProfile): boolean {
  return spansOf(profile).every((s) => s === null);
}

/** Admin dates by day: the states closed that day ('*' = all). */
function adminIndex(admin: readonly AdminHoliday[]): Map<string, Set<string>> {
  const byDay = new Map<string, Set<string>>();
  for (const h of admin) {
    const day = String(h.day).slice(0, 10);
    let ufs = byDay.get(day);
    if (!ufs) byDay.set(day, (ufs = new Set()));
    ufs.add(h.uf ?? '*');
  }
  return byDay;
}

/** Local calendar facts of an instant at a fixed offset. */
function localAt(nowMs: number, offset: OtherOffset): { dow: number; msOfDay: number; year: number; day: string } {
  const local = new Date(nowMs + offset * HOUR_MS);
  return {
    dow: local.getUTCDay(),
    msOfDay: ((nowMs + offset * HOUR_MS) % DAY_MS + DAY_MS) % DAY_MS,
    year: local.getUTCFullYear(),
    day: isoDay(local.getUTCFullYear(), local.getUTCMonth() + 1, local.getUTCDate()),
  };
}

/** Whether the window is open for a DDD of state `uf` at one of its offsets. */
function openAt(profile: WindowProfile, nowMs: number, offset: OtherOffset, uf: string, adminHolidays: readonly AdminHoliday[]): boolean {
  const t = localAt(nowMs, offset);
  const span = spansOf(profile)[t.dow];
  if (!span || t.msOfDay < span[0] || t.msOfDay >= span[1]) return false;
  for (const h of adminHolidays) if (String(h.day).slice(0, 10) === t.day && (h.uf === null || h.uf === uf)) return false;
  return !(profile.skipHolidays && legalHolidays(t.year, uf).has(t.day));
}

/**
 * The DDDs whose leads may be called at nowMs (ascending). A DDD is open when its local time
 * is inside the day's hours (end exclusive), the day is not a legal holiday of its state
 * (when the profile skips holidays) and not a date an admin closed for its state or for all
 * (admin dates close whatever the profile says) — at every offset the DDD spans.
 */
export function openDdds(profile: WindowProfile, nowMs: number, adminHolidays: readonly AdminHoliday[]): number[] {
  const spans = spansOf(profile);
  const admin = adminHolidays.length ? adminIndex(adminHolidays) : null;
  const open: number[] = [];
  for (const { offset, ddds } of DDDS_BY_OFFSET) {
    const t = localAt(nowMs, offset);
    const span = spans[t.dow];
    if (!span || t.msOfDay < span[0] || t.msOfDay >= span[1]) continue;
    const closedUfs = admin?.get(t.day);
    if (closedUfs?.has('*')) continue;
    for (const { ddd, uf } of ddds) {
      if (closedUfs?.has(uf)) continue;
      if (profile.skipHolidays && legalHolidays(t.year, uf).has(t.day)) continue;
      const others = DDD_REGIONS[ddd]!.otherOffsets;
      if (others && !others.every((o) => openAt(profile, nowMs, o, uf, adminHolidays))) continue;
      open.push(ddd);
    }
  }
  return open.sort((a, b) => a - b);
}

/** Whether a lead of this DDD may be called at nowMs (false for a DDD not in DDD_REGIONS). */
export function isOpenFor(ddd: number, profile: WindowProfile, nowMs: number, adminHolidays: readonly AdminHoliday[]): boolean {
  const region = DDD_REGIONS[ddd];
  if (!region) return false;
  return [region.utcOffsetHours, ...(region.otherOffsets ?? [])].every((o) => openAt(profile, nowMs, o, region.uf, adminHolidays));
}

/** One dial as a checker sees it: when it was created and the lead's DDD (null: not Brazilian). */
export interface DialRow {
  created_at: string | number | Date;
  ddd: number | null;
}

/**
 * The dials placed outside their lead's window (a dial to an unknown DDD always counts): the
 * campaign-day simulator's and the week test's violation check. `.length` is the count.
 */
export function outOfWindowDials<T extends DialRow>(rows: readonly T[], profile: WindowProfile, holidays: readonly AdminHoliday[]): T[] {
  return rows.filter((r) => {
    const at = r.created_at instanceof Date ? r.created_at.getTime() : typeof r.created_at === 'number' ? r.created_at : Date.parse(r.created_at);
    return r.ddd === null || Number.isNaN(at) || !isOpenFor(r.ddd, profile, at, holidays);
  });
}
