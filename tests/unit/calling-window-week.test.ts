/**
 * An emulated week, Monday 16 to Sunday 22 November 2026, with leads in every DDD (every time
 * zone): a national holiday (Friday 20, Consciência Negra), a state holiday (Tuesday 17 in
 * Acre, Tratado de Petrópolis), two admin dates. The clock steps every 5 minutes; at each step
 * openDdds must equal an independent slow implementation (IANA time zones through Intl, the
 * package's own DDD table, the week's holidays written out by hand), and a dialer that dials
 * every open DDD places 0 calls outside the window by both outOfWindowDials and the slow rule.
 */
import { COLLECTIONS_SP, DDD_REGIONS, neverOpens, openDdds, outOfWindowDials, type AdminHoliday, type WindowProfile } from '../../src/lib/domain/calling-window';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { getAreaCodeInfo } = require('@brazilian-utils/brazilian-utils/get-area-code-info') as { getAreaCodeInfo(d: number): { stateCode: string } | null };

/** IANA zones by state (Amazon time and Acre time; the rest on Brasília time). */
const ZONE_OF_STATE: Record<string, string> = {
  AC: 'America/Rio_Branco', AM: 'America/Manaus', RR: 'America/Boa_Vista', RO: 'America/Porto_Velho',
  MT: 'America/Cuiaba', MS: 'America/Campo_Grande', PA: 'America/Belem',
};
/** DDDs spanning two zones: 81 covers Fernando de Noronha, 97 the Amazonas towns on Acre time. */
const EXTRA_ZONES_OF_DDD: Record<number, string[]> = { 81: ['America/Noronha'], 97: ['America/Eirunepe'] };
const WEEK_HOLIDAYS: Record<string, string> = { '2026-11-20': '*', '2026-11-17': 'AC' };
const ADMIN: AdminHoliday[] = [{ day: '2026-11-18', uf: 'SP' }, { day: '2026-11-21', uf: null }];
const DDDS = Array.from({ length: 89 }, (_, i) => i + 11).filter((d) => getAreaCodeInfo(d) !== null);

const formatters = new Map<string, Intl.DateTimeFormat>();
const clocks = new Map<string, { weekday: string; day: string; minutes: number }>();
/** Local weekday (Sun…Sat), date and minutes of the day of an instant in an IANA zone. */
function wallClock(ms: number, zone: string): { weekday: string; day: string; minutes: number } {
  const key = `${zone}|${ms}`;
  const known = clocks.get(key);
  if (known) return known;
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone: zone, weekday: 'short', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    formatters.set(zone, f);
  }
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  const clock = { weekday: p['weekday']!, day: `${p['year']}-${p['month']}-${p['day']}`, minutes: Number(p['hour']) * 60 + Number(p['minute']) + Number(p['second']) / 60 };
  clocks.set(key, clock);
  return clock;
}

/** The rule, written out the slow way: open in every zone the DDD spans. */
function slowOpen(ddd: number, profile: WindowProfile, ms: number, admin: AdminHoliday[]): boolean {
  const uf = getAreaCodeInfo(ddd)?.stateCode;
  if (!uf) return false;
  const zones = [ZONE_OF_STATE[uf] ?? 'America/Sao_Paulo', ...(EXTRA_ZONES_OF_DDD[ddd] ?? [])];
  return zones.every((zone) => slowOpenIn(zone, uf, profile, ms, admin));
}

function slowOpenIn(zone: string, uf: string, profile: WindowProfile, ms: number, admin: AdminHoliday[]): boolean {
  const local = wallClock(ms, zone);
  const hours = local.weekday === 'Sun' ? profile.sunday : local.weekday === 'Sat' ? profile.saturday : profile.weekday;
  if (!hours) return false;
  const toMin = (s: string) => Number(s.slice(0, 2)) * 60 + Number(s.slice(3, 5));
  if (!(local.minutes >= toMin(hours[0]) && local.minutes < toMin(hours[1]))) return false;
  if (admin.some((a) => a.day === local.day && (a.uf === null || a.uf === uf))) return false;
  const holiday = WEEK_HOLIDAYS[local.day];
  if (profile.skipHolidays && holiday && (holiday === '*' || holiday === uf)) return false;
  return true;
}

const PROFILES: [string, WindowProfile][] = [
  ['collections_sp', COLLECTIONS_SP],
  ['custom: weekdays 09-21, Saturday 10-16, Sunday 12-18, calls on holidays', { weekday: ['09:00', '21:00'], saturday: ['10:00', '16:00'], sunday: ['12:00', '18:00'], skipHolidays: false }],
  ['custom: weekdays 07:30-22:15, Sunday 09-13, holidays off', { weekday: ['07:30', '22:15'], saturday: null, sunday: ['09:00', '13:00'], skipHolidays: true }],
  ['never opens', { weekday: null, saturday: null, sunday: null, skipHolidays: true }],
];

const START = Date.parse('2026-11-16T00:00:00-03:00') - 3 * 3_600_000; // before Monday starts anywhere
const END = Date.parse('2026-11-23T00:00:00-05:00'); // Sunday over in Acre
const STEP = 5 * 60_000;

it('leads cover every DDD and every time zone', () => {
  expect(DDDS).toHaveLength(67);
  expect(DDDS.map(Number).sort()).toEqual(Object.keys(DDD_REGIONS).map(Number).sort());
  expect(new Set(DDDS.map((d) => DDD_REGIONS[d]!.utcOffsetHours))).toEqual(new Set([-3, -4, -5]));
});

describe.each(PROFILES)('a week stepped every 5 minutes, profile %s', (_name, profile) => {
  const steps: number[] = [];
  for (let t = START; t < END; t += STEP) steps.push(t);

  it('openDdds equals the slow rule at every step, and the dialer dials 0 leads outside their window', () => {
    const mismatches: string[] = [];
    const dials: { created_at: number; ddd: number }[] = [];
    for (const t of steps) {
      const fast = openDdds(profile, t, ADMIN);
      const slow = DDDS.filter((d) => slowOpen(d, profile, t, ADMIN));
      if (fast.join() !== slow.join()) mismatches.push(`${new Date(t).toISOString()}: fast ${fast.join()} slow ${slow.join()}`);
      for (const ddd of fast) dials.push({ created_at: t, ddd });
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(outOfWindowDials(dials, profile, ADMIN)).toEqual([]);
    expect(dials.filter((d) => !slowOpen(d.ddd, profile, d.created_at, ADMIN))).toEqual([]);
    const perZone = (o: number) => dials.filter((d) => DDD_REGIONS[d.ddd]!.utcOffsetHours === o).length;
    console.log(`${_name}: ${steps.length} steps, ${dials.length} dials (UTC-3 ${perZone(-3)}, UTC-4 ${perZone(-4)}, UTC-5 ${perZone(-5)}), 0 outside the window`);
    if (neverOpens(profile)) expect(dials).toEqual([]);
    else expect(new Set(dials.map((d) => d.ddd)).size).toBe(67);
  });

  it('the checks catch a dial placed outside the window', () => {
    const closed = steps.map((t) => ({ t, ddd: DDDS.find((d) => !slowOpen(d, profile, t, ADMIN)) })).find((x) => x.ddd !== undefined)!;
    const bad = { created_at: closed.t, ddd: closed.ddd! };
    expect(outOfWindowDials([bad], profile, ADMIN)).toEqual([bad]);
  });
});

it('the holidays close what they should: Friday 20 everywhere, Tuesday 17 in Acre only, the admin dates', () => {
  const noon = (day: string, offset: number) => Date.parse(`${day}T12:00:00${offset === -3 ? '-03:00' : offset === -4 ? '-04:00' : '-05:00'}`);
  expect(openDdds(COLLECTIONS_SP, noon('2026-11-20', -3), ADMIN)).toEqual([]);
  expect(openDdds(COLLECTIONS_SP, noon('2026-11-17', -5), ADMIN)).not.toContain(68);
  expect(openDdds(COLLECTIONS_SP, noon('2026-11-17', -5), ADMIN)).toHaveLength(66);
  expect(openDdds(COLLECTIONS_SP, noon('2026-11-18', -3), ADMIN).filter((d) => DDD_REGIONS[d]!.uf === 'SP')).toEqual([]);
  expect(openDdds(COLLECTIONS_SP, noon('2026-11-21', -3), ADMIN)).toEqual([]);
  expect(openDdds(COLLECTIONS_SP, noon('2026-11-19', -3), ADMIN)).toHaveLength(67);
});
