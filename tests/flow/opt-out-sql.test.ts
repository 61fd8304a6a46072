/** The opt-out SQL functions called directly, as any future caller (an /api import) would. */
import { session, sql, testDb, waitUntilBlocked } from '../helpers/db';
import { newMobile } from '../helpers/twilio';

describe('opt_out_import', () => {
  it('keeps the first reason of a number repeated in the input and counts what was new', async () => {
    const a = newMobile();
    const b = newMobile();
    const { data, error } = await testDb().rpc('opt_out_import', {
      p_rows: [{ phone_number: a, reason: 'primeira' }, { phone_number: b, reason: null }, { phone_number: a, reason: 'segunda' }],
      p_source: 'procon_sp',
    });
    expect(error).toBeNull();
    expect(data).toEqual({ received: 3, distinct: 2, added: 2, already_listed: 0 });
    expect(await sql('select reason, source from opt_outs where phone_number = $1', [a])).toEqual([{ reason: 'primeira', source: 'procon_sp' }]);
  });

  it('refuses a malformed number without importing anything', async () => {
    const good = newMobile();
    const { error } = await testDb().rpc('opt_out_import', { p_rows: [{ phone_number: good }, { phone_number: '11999990000' }] });
    expect(error?.code).toBe('23514'); // the e164 domain's check
    expect(await sql('select count(*)::int as n from opt_outs where phone_number = $1', [good])).toEqual([{ n: 0 }]);
  });
});

describe('opting out marks pending leads', () => {
  it('turns the pending leads of that number into opted_out, leaving finished ones alone', async () => {
    const phone = newMobile();
    const [c] = await sql<{ id: string }>(`insert into campaigns (name) values ($1) returning id`, [`opt-out leads ${phone}`]);
    await sql(`insert into leads (campaign_id, phone_number, status) values ($1, $2, 'pending')`, [c!.id, phone]);
    const [c2] = await sql<{ id: string }>(`insert into campaigns (name) values ($1) returning id`, [`opt-out leads done ${phone}`]);
    await sql(`insert into leads (campaign_id, phone_number, status) values ($1, $2, 'done')`, [c2!.id, phone]);
    expect((await testDb().rpc('opt_out_add', { p_phone: phone })).error).toBeNull();
    const rows = await sql<{ status: string }>('select status from leads where phone_number = $1 order by status', [phone]);
    expect(rows.map((r) => r.status)).toEqual(['done', 'opted_out']);
  });
});

describe('opt_out_import serializes with dial decisions on each number it lists', () => {
  it('a dial for a number in an import not yet committed waits for it, then is refused', async () => {
    const [x, y] = [newMobile(), newMobile()];
    const { client: a } = await session();
    const { client: b, pid: bPid } = await session();
    try {
      await a.query('begin');
      await a.query(`select opt_out_import($1)`, [JSON.stringify([{ phone_number: x }, { phone_number: y }])]);
      const dial = b.query<{ d: unknown }>(`select start_dial_attempt($1) as d`, [y]);
      await waitUntilBlocked(bPid); // the dial waits for the import
      await a.query('commit');
      expect((await dial).rows[0]!.d).toEqual({ allowed: false, reason: 'opted_out' });
    } finally {
      await a.end();
      await b.end();
    }
  });
});
