/**
 * The calling windows as the database sees them: public.ddd_regions equals DDD_REGIONS, and
 * dials recorded as calls rows (created_at, the lead's generated ddd) are checked after the
 * fact: outOfWindowDials over the rows a query returns finds exactly the dials planted outside
 * the window, and the same count computed in SQL from ddd_regions (local time = UTC + the
 * DDD's offset) agrees on a week without holidays.
 */
import { COLLECTIONS_SP, DDD_REGIONS, outOfWindowDials } from '../../src/lib/domain/calling-window';
import { sql } from '../helpers/db';

it('public.ddd_regions equals DDD_REGIONS (67 DDDs, state, UTC offset and the other offsets of 81 and 97), with RLS on', async () => {
  const rows = await sql<{ ddd: number; uf: string; utc_offset_hours: number; other_offsets: number[] }>('select ddd, uf, utc_offset_hours, other_offsets from ddd_regions order by ddd');
  expect(rows).toHaveLength(67);
  expect(
    Object.fromEntries(rows.map((r) => [r.ddd, { uf: r.uf, utcOffsetHours: r.utc_offset_hours, ...(r.other_offsets.length ? { otherOffsets: r.other_offsets } : {}) }])),
  ).toEqual(DDD_REGIONS);
  expect(rows.filter((r) => r.other_offsets.length).map((r) => [r.ddd, r.other_offsets])).toEqual([[81, [-2]], [97, [-5]]]);
  expect(await sql(`select relrowsecurity as rls from pg_class where oid = 'public.ddd_regions'::regclass`)).toEqual([{ rls: true }]);
});

describe('dials recorded in calls, checked after the fact', () => {
  let campaignId: number;
  const leads: Record<number, number> = {};
  // Monday 23 to Saturday 28 November 2026: no national holiday, none in these states.
  const planted = [
    { ddd: 11, at: '2026-11-23T10:59:59Z', out: true }, // 07:59:59 in São Paulo
    { ddd: 11, at: '2026-11-23T11:00:00Z', out: false }, // 08:00
    { ddd: 11, at: '2026-11-23T10:00:00Z', out: true }, // 07:00
    { ddd: 11, at: '2026-11-23T23:00:00Z', out: true }, // 20:00, end exclusive
    { ddd: 92, at: '2026-11-23T11:30:00Z', out: true }, // 07:30 in Manaus
    { ddd: 92, at: '2026-11-23T12:00:00Z', out: false }, // 08:00 in Manaus
    { ddd: 68, at: '2026-11-24T00:30:00Z', out: false }, // 19:30 on Monday in Rio Branco
    { ddd: 68, at: '2026-11-24T01:00:00Z', out: true }, // 20:00 in Rio Branco
    { ddd: 65, at: '2026-11-28T17:59:00Z', out: false }, // Saturday 13:59 in Cuiabá
    { ddd: 65, at: '2026-11-28T18:00:00Z', out: true }, // Saturday 14:00
    { ddd: 21, at: '2026-11-29T13:00:00Z', out: true }, // Sunday
    // DDD 81 spans Recife (UTC-3) and Fernando de Noronha (UTC-2); 97 Manaus time and Acre time.
    { ddd: 81, at: '2026-11-23T21:30:00Z', out: false }, // 18:30 in Recife, 19:30 in Noronha
    { ddd: 81, at: '2026-11-23T22:30:00Z', out: true }, // 19:30 in Recife but 20:30 in Noronha
    { ddd: 97, at: '2026-11-23T13:00:00Z', out: false }, // 09:00 on Manaus time, 08:00 in Eirunepé
    { ddd: 97, at: '2026-11-23T12:30:00Z', out: true }, // 08:30 on Manaus time but 07:30 in Eirunepé
  ];

  beforeAll(async () => {
    const [c] = await sql<{ id: string }>(`insert into campaigns (name) values ($1) returning id`, [`windows-check-${Date.now()}`]);
    campaignId = Number(c!.id);
    for (const ddd of new Set(planted.map((p) => p.ddd))) {
      const [l] = await sql<{ id: string }>(`insert into leads (campaign_id, phone_number) values ($1, $2) returning id`, [campaignId, `+55${ddd}98765${String(ddd).padStart(4, '0')}`]);
      leads[ddd] = Number(l!.id);
    }
    for (const p of planted) {
      await sql(
        `insert into calls (direction, from_number, to_number, campaign_id, lead_id, status, created_at)
         select 'outbound-api', '+551130002000', l.phone_number, $1, l.id, 'completed', $3 from leads l where l.id = $2`,
        [campaignId, leads[p.ddd], p.at],
      );
    }
  });
  afterAll(() => sql('delete from campaigns where id = $1', [campaignId]));

  it('outOfWindowDials over the campaign\'s calls finds exactly the planted violations', async () => {
    const rows = await sql<{ created_at: Date; ddd: number | null }>(
      'select c.created_at, l.ddd from calls c join leads l on l.id = c.lead_id where c.campaign_id = $1 order by c.created_at',
      [campaignId],
    );
    expect(rows).toHaveLength(planted.length);
    const bad = outOfWindowDials(rows, COLLECTIONS_SP, []);
    expect(bad.map((r) => `${r.ddd}@${r.created_at.toISOString()}`).sort()).toEqual(
      planted.filter((p) => p.out).map((p) => `${p.ddd}@${new Date(p.at).toISOString()}`).sort(),
    );
  });

  it('the same count in SQL from ddd_regions agrees (a week without holidays)', async () => {
    const [r] = await sql<{ outside: number }>(
      `select count(*)::int as outside
         from calls c join leads l on l.id = c.lead_id left join ddd_regions d on d.ddd = l.ddd
        where c.campaign_id = $1
          and (d.ddd is null or exists (
                select 1 from unnest(array[d.utc_offset_hours] || d.other_offsets) o(h),
                       lateral (select (c.created_at at time zone 'UTC') + make_interval(hours => o.h) as local) t
                 where extract(isodow from t.local) = 7
                    or (extract(isodow from t.local) = 6 and not (t.local::time >= '08:00' and t.local::time < '14:00'))
                    or (extract(isodow from t.local) < 6 and not (t.local::time >= '08:00' and t.local::time < '20:00'))))`,
      [campaignId],
    );
    expect(r!.outside).toBe(planted.filter((p) => p.out).length);
  });
});
