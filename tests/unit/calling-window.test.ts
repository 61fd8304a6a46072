/**
 * Calling windows: the DDD table, the São Paulo collections profile, campaign profiles, the
 * holidays that close a window (from @brazilian-utils/brazilian-utils, 20 November included)
 * and the admin's dates.
 */
import {
  campaignWindowProfile,
  COLLECTIONS_SP,
  DDD_REGIONS,
  isOpenFor,
  neverOpens,
  openDdds,
  outOfWindowDials,
  type CampaignWindowColumns,
  type WindowProfile,
} from '../../src/lib/domain/calling-window';
import { legalHolidayNames, legalHolidays } from '../../src/lib/domain/holidays';

const UFS = ['AC', 'AL', 'AP', 'AM', 'BA', 'CE', 'DF', 'ES', 'GO', 'MA', 'MT', 'MS', 'MG', 'PA', 'PB', 'PR', 'PE', 'PI', 'RJ', 'RN', 'RS', 'RO', 'RR', 'SC', 'SP', 'SE', 'TO'];
/** UTC instant of a local wall-clock time at a UTC offset. */
const at = (local: string, offset: number) => Date.parse(`${local}Z`) - offset * 3_600_000;

describe('DDD_REGIONS', () => {
  it('has the 67 DDDs in use, each with its state, and the same table as the package', () => {
    expect(Object.keys(DDD_REGIONS)).toHaveLength(67);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { getAreaCodeInfo } = require('@brazilian-utils/brazilian-utils/get-area-code-info') as { getAreaCodeInfo(d: number): { stateCode: string } | null };
    for (const [ddd, r] of Object.entries(DDD_REGIONS)) expect([ddd, getAreaCodeInfo(Number(ddd))?.stateCode]).toEqual([ddd, r.uf]);
    expect(new Set(Object.values(DDD_REGIONS).map((r) => r.uf))).toEqual(new Set(UFS));
  });

  it('puts Amazon time (UTC-4) on 65, 66, 67, 69, 92, 95, 97, Acre time (UTC-5) on 68, Brasília time on the rest', () => {
    const byOffset = (o: number) => Object.entries(DDD_REGIONS).filter(([, r]) => r.utcOffsetHours === o).map(([d]) => Number(d));
    expect(byOffset(-4)).toEqual([65, 66, 67, 69, 92, 95, 97]);
    expect(byOffset(-5)).toEqual([68]);
    expect(byOffset(-3)).toHaveLength(59);
    expect(DDD_REGIONS[91]).toEqual({ uf: 'PA', utcOffsetHours: -3 }); // Pará is on Brasília time
  });
});

describe('holidays from the package', () => {
  it.each([2024, 2025, 2026, 2027])('20 November %i is a holiday in every state (Lei 14.759/2023)', (year) => {
    const missing = UFS.filter((uf) => !legalHolidays(year, uf).has(`${year}-11-20`));
    expect(missing).toEqual([]);
    expect(legalHolidays(year, null).has(`${year}-11-20`)).toBe(true);
  });

  it('20 November 2023 was a holiday only where state law said so', () => {
    expect(legalHolidays(2023, null).has('2023-11-20')).toBe(false);
    expect(legalHolidays(2023, 'RJ').has('2023-11-20')).toBe(true);
  });

  it('movable feasts: Good Friday closes everywhere; Carnaval and Corpus Christi (pontos facultativos) do not, except Corpus Christi in the DF', () => {
    // Easter 2026 is 5 April; 2027 is 28 March.
    for (const uf of UFS) expect(legalHolidays(2026, uf).has('2026-04-03')).toBe(true);
    expect(legalHolidays(2027, 'SP').has('2027-03-26')).toBe(true);
    expect(legalHolidays(2026, 'SP').has('2026-02-17')).toBe(false); // Carnaval Tuesday
    expect(legalHolidays(2026, 'SP').has('2026-06-04')).toBe(false); // Corpus Christi
    expect(legalHolidays(2026, 'DF').has('2026-06-04')).toBe(true);
  });

  it('state holidays belong to their state only', () => {
    expect(legalHolidays(2026, 'SP').has('2026-07-09')).toBe(true); // Revolução Constitucionalista
    expect(legalHolidays(2026, 'RJ').has('2026-07-09')).toBe(false);
    expect(legalHolidays(2026, 'AC').has('2026-11-17')).toBe(true); // Tratado de Petrópolis
    expect(legalHolidayNames(2026, 'SP').map((h) => h.day)).toContain('2026-11-20');
  });
});

describe('COLLECTIONS_SP (São Paulo law 15.426/2014)', () => {
  const sp = (local: string) => isOpenFor(11, COLLECTIONS_SP, at(local, -3), []);
  it('Monday to Friday 08:00 to 20:00, end exclusive', () => {
    expect(sp('2026-11-23T07:59:59')).toBe(false);
    expect(sp('2026-11-23T08:00:00')).toBe(true);
    expect(sp('2026-11-23T19:59:59')).toBe(true);
    expect(sp('2026-11-23T20:00:00')).toBe(false);
  });
  it('Saturday 08:00 to 14:00, never Sunday', () => {
    expect(sp('2026-11-21T13:59:59')).toBe(true);
    expect(sp('2026-11-21T14:00:00')).toBe(false);
    expect(sp('2026-11-22T10:00:00')).toBe(false);
  });
  it('never on a holiday', () => {
    expect(sp('2026-11-20T10:00:00')).toBe(false);
    expect(sp('2026-07-09T10:00:00')).toBe(false);
    expect(isOpenFor(21, COLLECTIONS_SP, at('2026-07-09T10:00:00', -3), [])).toBe(true);
  });
  it('reads each lead in its own time zone', () => {
    const t = at('2026-11-23T08:30:00', -3); // 07:30 in Manaus, 06:30 in Rio Branco
    expect(isOpenFor(11, COLLECTIONS_SP, t, [])).toBe(true);
    expect(isOpenFor(92, COLLECTIONS_SP, t, [])).toBe(false);
    expect(isOpenFor(68, COLLECTIONS_SP, t, [])).toBe(false);
    const late = at('2026-11-23T20:30:00', -3); // 19:30 in Manaus, 18:30 in Rio Branco
    expect(openDdds(COLLECTIONS_SP, late, [])).toEqual([65, 66, 67, 68, 69, 92, 95, 97]);
  });
  it('an unknown DDD is never open', () => {
    expect(isOpenFor(20, COLLECTIONS_SP, at('2026-11-23T10:00:00', -3), [])).toBe(false);
    expect(openDdds(COLLECTIONS_SP, at('2026-11-23T10:00:00', -3), [])).not.toContain(20);
  });
});

describe('admin dates', () => {
  const t = at('2026-11-23T10:00:00', -3);
  it('close one state, or every state when uf is null, whatever skip_holidays says', () => {
    const custom: WindowProfile = { ...COLLECTIONS_SP, skipHolidays: false };
    const one = openDdds(custom, t, [{ day: '2026-11-23', uf: 'RJ' }]);
    expect(one).not.toContain(21);
    expect(one).toContain(11);
    expect(openDdds(custom, t, [{ day: '2026-11-23', uf: null }])).toEqual([]);
    expect(openDdds(custom, t, [{ day: '2026-11-24', uf: null }])).toHaveLength(67);
  });
});

describe('campaign profiles', () => {
  const row = (over: Partial<CampaignWindowColumns>): CampaignWindowColumns => ({
    window_profile: 'custom', weekday_start: '09:00:00', weekday_end: '18:00:00', saturday_start: null, saturday_end: null,
    allow_sunday: false, sunday_start: '10:00', sunday_end: '12:00', skip_holidays: false, ...over,
  });

  it('collections_sp is the law whatever the columns say', () => {
    expect(campaignWindowProfile(row({ window_profile: 'collections_sp', weekday_start: '06:00' }))).toBe(COLLECTIONS_SP);
  });

  it('custom takes the columns; Sunday only with allow_sunday; holidays per skip_holidays', () => {
    expect(campaignWindowProfile(row({}))).toEqual({ weekday: ['09:00', '18:00'], saturday: null, sunday: null, skipHolidays: false });
    const p = campaignWindowProfile(row({ allow_sunday: true }));
    expect(p.sunday).toEqual(['10:00', '12:00']);
    expect(isOpenFor(11, p, at('2026-11-22T11:00:00', -3), [])).toBe(true);
    expect(isOpenFor(11, p, at('2026-11-20T10:00:00', -3), [])).toBe(true); // calls on holidays
  });

  it('a profile that never opens is recognised (and opens nothing)', () => {
    const closed = campaignWindowProfile(row({ weekday_start: '10:00', weekday_end: '10:00' }));
    expect(neverOpens(closed)).toBe(true);
    expect(neverOpens(COLLECTIONS_SP)).toBe(false);
    expect(neverOpens({ weekday: null, saturday: null, sunday: ['08:00', '09:00'], skipHolidays: true })).toBe(false);
    for (let h = 0; h < 24 * 7; h++) expect(openDdds(closed, Date.parse('2026-11-16T00:00:00Z') + h * 3_600_000, [])).toEqual([]);
  });

  it('refuses an unknown profile or a malformed time', () => {
    expect(() => campaignWindowProfile(row({ window_profile: 'night' }))).toThrow(/unknown window profile/);
    expect(() => campaignWindowProfile(row({ weekday_start: '8h' }))).toThrow(/invalid time "8h"/);
    expect(() => campaignWindowProfile(row({ weekday_end: '25:00' }))).toThrow(/invalid time/);
  });

  it('24:00 ends a day at midnight', () => {
    const p = campaignWindowProfile(row({ weekday_start: '20:00', weekday_end: '24:00' }));
    expect(isOpenFor(11, p, at('2026-11-23T23:59:59', -3), [])).toBe(true);
    expect(isOpenFor(11, p, at('2026-11-24T00:00:00', -3), [])).toBe(false);
  });
});

describe('outOfWindowDials', () => {
  it('returns the dials placed outside their lead\'s window, unknown DDDs included', () => {
    const rows = [
      { id: 1, created_at: new Date(at('2026-11-23T10:00:00', -3)), ddd: 11 },
      { id: 2, created_at: new Date(at('2026-11-23T07:00:00', -3)).toISOString(), ddd: 11 },
      { id: 3, created_at: at('2026-11-23T08:30:00', -3), ddd: 68 },
      { id: 4, created_at: at('2026-11-23T10:00:00', -3), ddd: null },
      { id: 5, created_at: at('2026-11-23T10:00:00', -3), ddd: 21 },
    ];
    expect(outOfWindowDials(rows, COLLECTIONS_SP, [{ day: '2026-11-23', uf: 'RJ' }]).map((r) => r.id)).toEqual([2, 3, 4, 5]);
  });
});

describe('cost', () => {
  it('openDdds takes microseconds (called on every pacing round)', () => {
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    openDdds(COLLECTIONS_SP, t0, []);
    const start = process.hrtime.bigint();
    for (let i = 0; i < 20_000; i++) openDdds(COLLECTIONS_SP, t0 + i * 600_000, [{ day: '2026-03-01', uf: 'SP' }]);
    const perCallUs = Number(process.hrtime.bigint() - start) / 1000 / 20_000;
    console.log(`openDdds: ${perCallUs.toFixed(1)} µs per call (20,000 calls over 139 days)`);
    expect(perCallUs).toBeLessThan(200);
  });
});

describe('DDDs spanning two time zones', () => {
  // Monday 23 November 2026, no holiday.
  it('81 (Recife UTC-3 and Fernando de Noronha UTC-2) closes when Noronha reaches 20:00', () => {
    expect(isOpenFor(81, COLLECTIONS_SP, Date.parse('2026-11-23T19:30:00-03:00'), [])).toBe(false);
    expect(isOpenFor(81, COLLECTIONS_SP, Date.parse('2026-11-23T18:59:00-03:00'), [])).toBe(true);
    expect(isOpenFor(87, COLLECTIONS_SP, Date.parse('2026-11-23T19:30:00-03:00'), [])).toBe(true);
    expect(openDdds(COLLECTIONS_SP, Date.parse('2026-11-23T19:30:00-03:00'), [])).not.toContain(81);
  });
  it('97 (Manaus UTC-4 and the towns on Acre time UTC-5) opens when those towns reach 08:00', () => {
    expect(isOpenFor(97, COLLECTIONS_SP, Date.parse('2026-11-23T08:30:00-04:00'), [])).toBe(false);
    expect(isOpenFor(92, COLLECTIONS_SP, Date.parse('2026-11-23T08:30:00-04:00'), [])).toBe(true);
    expect(openDdds(COLLECTIONS_SP, Date.parse('2026-11-23T08:30:00-04:00'), [])).not.toContain(97);
    expect(openDdds(COLLECTIONS_SP, Date.parse('2026-11-23T09:00:00-04:00'), [])).toContain(97);
  });
});
