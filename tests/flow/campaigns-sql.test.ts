/**
 * The campaign and lead SQL functions on the real database, through the REST gateway the
 * functions and the CLI use: settings validated (bad input → nothing written), start refused
 * without agents or caller IDs, lead import merging duplicates (newest wins) and marking
 * opt-outs, a bad batch writing nothing, export pages, agent assignment, holidays.
 */
import { randomBytes } from 'node:crypto';
import { campaignRefusal } from '../../src/lib/domain/campaigns';
import { session, sql, testDb } from '../helpers/db';
import { newMobile } from '../helpers/twilio';

jest.setTimeout(60000);

const tag = () => randomBytes(4).toString('hex');

async function rpc<T>(fn: string, args: Record<string, unknown>): Promise<{ data: T | null; code: string | null; refusal: string | null }> {
  const r = await testDb().rpc<T>(fn, args);
  return { data: r.data, code: r.error?.code ?? null, refusal: r.error ? (campaignRefusal(r.error)?.code ?? `other:${r.error.code}:${r.error.message}`) : null };
}

async function newCampaign(settings: Record<string, unknown> = {}): Promise<number> {
  const r = await rpc<{ id: number }>('campaign_create', { p_settings: { name: `SQL ${tag()}`, ...settings } });
  expect(r.refusal).toBeNull();
  return r.data!.id;
}

async function newAgent(campaignId: number | null): Promise<{ id: number; email: string }> {
  const email = `c-${tag()}@discador.test`;
  const [a] = await sql<{ id: string }>(`insert into agents (name, email, status, campaign_id) values ($1, $2, 'offline', $3) returning id`, [`Agente ${email}`, email, campaignId]);
  return { id: Number(a!.id), email };
}

describe('campaign_create / campaign_update', () => {
  it('stores every setting given and defaults the rest; retry rules merge by outcome', async () => {
    const name = `Cobrança ${tag()}`;
    const r = await rpc<Record<string, unknown>>('campaign_create', {
      p_settings: {
        name,
        mode: 'predictive',
        pacing_behaviour: 'ADAPT_HARD_LIMIT',
        abandon_cap: 0.02,
        window_profile: 'custom',
        weekday_start: '09:00',
        weekday_end: '18:00',
        saturday_start: null,
        saturday_end: null,
        retry_rules: { busy: { delay_minutes: 15, max: 1 } },
        amd_machine: 'voicemail',
        voicemail_text: 'Recado',
        dispositions: [{ code: 'promessa', label: 'Promessa de pagamento', outcome: 'done' }],
      },
    });
    expect(r.refusal).toBeNull();
    const [row] = await sql<Record<string, unknown>>(`select * from campaigns where id = $1`, [r.data!['id']]);
    expect(row).toMatchObject({ name, status: 'draft', mode: 'predictive', pacing_behaviour: 'ADAPT_HARD_LIMIT', weekday_start: '09:00:00', saturday_start: null, amd_machine: 'voicemail', max_attempts: 6 });
    expect(Number(row!['abandon_cap'])).toBe(0.02);
    expect(row!['retry_rules']).toMatchObject({ busy: { delay_minutes: 15, max: 1 }, no_answer: { delay_minutes: 120, max: 3 } });

    const u = await rpc('campaign_update', { p_campaign_id: r.data!['id'], p_settings: { retry_rules: { machine: { delay_minutes: 60, max: 0 } }, ring_timeout: 20 } });
    expect(u.refusal).toBeNull();
    const [after] = await sql<Record<string, unknown>>(`select retry_rules, ring_timeout, mode from campaigns where id = $1`, [r.data!['id']]);
    expect(after).toMatchObject({ ring_timeout: 20, mode: 'predictive', retry_rules: { busy: { delay_minutes: 15, max: 1 }, machine: { delay_minutes: 60, max: 0 } } });
  });

  it.each([
    ['an unknown setting', { foo: 1 }, 'invalid_settings'],
    ['a status (not a setting)', { status: 'active' }, 'invalid_settings'],
    ['a wrong type', { max_lines: 'muitas' }, 'invalid_settings'],
    ['a value outside its check', { ring_timeout: 300 }, 'invalid_settings'],
    ['a voicemail with nothing to say', { amd_machine: 'voicemail' }, 'invalid_settings'],
    ['a retry rule for a made-up outcome', { retry_rules: { bored: { delay_minutes: 5, max: 1 } } }, 'invalid_settings'],
    ['a retry delay that is text', { retry_rules: { busy: { delay_minutes: 'x', max: 1 } } }, 'invalid_settings'],
    ['dispositions repeating a code', { dispositions: [{ code: 'a', label: 'A', outcome: 'done' }, { code: 'a', label: 'B', outcome: 'retry' }] }, 'invalid_settings'],
    ['a disposition outcome that does not exist', { dispositions: [{ code: 'a', label: 'A', outcome: 'maybe' }] }, 'invalid_settings'],
    ['a day ending before it starts', { window_profile: 'custom', weekday_start: '18:00', weekday_end: '09:00' }, 'invalid_settings'],
    ['a custom window that never opens', { window_profile: 'custom', weekday_start: null, weekday_end: null, saturday_start: null, saturday_end: null }, 'window_never_opens'],
  ])('refuses %s and writes nothing', async (_what, settings, code) => {
    const name = `Ruim ${tag()}`;
    const r = await rpc('campaign_create', { p_settings: { name, ...settings } });
    expect(r.refusal).toBe(code);
    expect(await sql(`select id from campaigns where name = $1`, [name])).toEqual([]);
  });

  it('a second campaign with the same name is campaign_name_taken; an update that breaks a rule changes nothing', async () => {
    const id = await newCampaign({ ring_timeout: 30 });
    const [{ name }] = (await sql<{ name: string }>(`select name from campaigns where id = $1`, [id])) as [{ name: string }];
    expect((await rpc('campaign_create', { p_settings: { name } })).refusal).toBe('campaign_name_taken');
    const bad = await rpc('campaign_update', { p_campaign_id: id, p_settings: { ring_timeout: 10, window_profile: 'custom', weekday_start: null, weekday_end: null, saturday_start: null, saturday_end: null } });
    expect(bad.refusal).toBe('window_never_opens');
    expect(await sql(`select ring_timeout, window_profile from campaigns where id = $1`, [id])).toEqual([{ ring_timeout: 30, window_profile: 'collections_sp' }]);
    expect((await rpc('campaign_update', { p_campaign_id: 999999999, p_settings: { ring_timeout: 10 } })).refusal).toBe('campaign_not_found');
  });
});

describe('campaign_set_status', () => {
  it('refuses to start without an assigned active agent (campaign_without_agents), then starts, pauses and resumes', async () => {
    const id = await newCampaign();
    expect((await rpc('campaign_set_status', { p_campaign_id: id, p_status: 'active' })).refusal).toBe('campaign_without_agents');
    // An agent of another campaign, or a disabled one, does not count.
    await newAgent(null);
    const disabled = await newAgent(id);
    await sql(`update agents set is_active = false where id = $1`, [disabled.id]);
    expect((await rpc('campaign_set_status', { p_campaign_id: id, p_status: 'active' })).refusal).toBe('campaign_without_agents');
    expect(await sql(`select status, started_at from campaigns where id = $1`, [id])).toEqual([{ status: 'draft', started_at: null }]);

    await newAgent(id);
    const started = await rpc<{ changed: boolean; previous_status: string; campaign: { status: string } }>('campaign_set_status', { p_campaign_id: id, p_status: 'active' });
    expect(started.data).toMatchObject({ changed: true, previous_status: 'draft', campaign: { status: 'active' } });
    const [{ started_at: first }] = (await sql<{ started_at: Date }>(`select started_at from campaigns where id = $1`, [id])) as [{ started_at: Date }];
    expect(first).toBeInstanceOf(Date);
    expect((await rpc<{ changed: boolean }>('campaign_set_status', { p_campaign_id: id, p_status: 'paused' })).data).toMatchObject({ changed: true });
    expect((await rpc<{ changed: boolean }>('campaign_set_status', { p_campaign_id: id, p_status: 'active' })).data).toMatchObject({ changed: true });
    expect(await sql(`select status, started_at from campaigns where id = $1`, [id])).toEqual([{ status: 'active', started_at: first }]);
    expect((await rpc('campaign_set_status', { p_campaign_id: id, p_status: 'running' })).refusal).toBe('invalid_settings');
  });

  it('refuses to start when no pool number is usable (campaign_without_numbers), and the status stays', async () => {
    const id = await newCampaign();
    await newAgent(id);
    // In a transaction of our own, so other tests never see a pool without numbers.
    const { client } = await session();
    try {
      await client.query('begin');
      await client.query(`update phone_numbers set spam_flagged_at = now() where assigned_agent_id is null and is_active and spam_flagged_at is null`);
      const err = await client.query(`select campaign_set_status($1, 'active')`, [id]).then(
        () => null,
        (e: { code: string; message: string }) => e,
      );
      expect(err && campaignRefusal(err)?.code).toBe('campaign_without_numbers');
    } finally {
      await client.query('rollback');
      await client.end();
    }
    expect(await sql(`select status from campaigns where id = $1`, [id])).toEqual([{ status: 'draft' }]);
  });
});

describe('leads_import_batch', () => {
  it('merges a phone repeated in the batch and across batches (newest values win, fields merged), marks opt-outs, counts each', async () => {
    const id = await newCampaign({ max_attempts: 4 });
    const [a, b, c] = [newMobile(), newMobile(), newMobile()];
    await sql(`select opt_out_add($1)`, [c]);
    const first = await rpc('leads_import_batch', {
      p_campaign_id: id,
      p_rows: [
        { phone_number: a, name: 'Ana', data: { valor: '10', dias: '3' }, line: 2 },
        { phone_number: b, line: 3 },
        { phone_number: a, name: 'Ana Maria', data: { valor: '20' }, line: 4 },
        { phone_number: c, name: 'Carlos', line: 5 },
      ],
    });
    expect(first.data).toEqual({ received: 4, distinct: 3, merged_in_batch: 1, inserted: 3, updated: 0, opted_out: 1 });
    const second = await rpc('leads_import_batch', { p_campaign_id: id, p_rows: [{ phone_number: a, external_id: 'X1', data: { novo: 'sim' }, line: 9 }] });
    expect(second.data).toEqual({ received: 1, distinct: 1, merged_in_batch: 0, inserted: 0, updated: 1, opted_out: 0 });
    // A lead given its own limit keeps it when the campaign's changes; the others follow the campaign.
    await sql(`update leads set max_attempts = 2 where campaign_id = $1 and phone_number = $2`, [id, b]);
    expect((await rpc('campaign_update', { p_campaign_id: id, p_settings: { max_attempts: 8 } })).refusal).toBeNull();
    expect(await sql(`select phone_number, max_attempts from leads where campaign_id = $1 order by import_line`, [id])).toEqual([
      { phone_number: b, max_attempts: 2 },
      { phone_number: c, max_attempts: 8 },
      { phone_number: a, max_attempts: 8 },
    ]);
    await sql(`update leads set max_attempts = 4 where campaign_id = $1`, [id]);
    const rows = await sql(`select phone_number, name, external_id, data, status, max_attempts, import_line from leads where campaign_id = $1 order by import_line`, [id]);
    expect(rows).toEqual([
      { phone_number: b, name: null, external_id: null, data: {}, status: 'pending', max_attempts: 4, import_line: 3 },
      { phone_number: c, name: 'Carlos', external_id: null, data: {}, status: 'opted_out', max_attempts: 4, import_line: 5 },
      { phone_number: a, name: 'Ana Maria', external_id: 'X1', data: { valor: '20', dias: '3', novo: 'sim' }, status: 'pending', max_attempts: 4, import_line: 9 },
    ]);
  });

  it('a re-import keeps a lead\'s state (attempts, done) and marks a pending lead whose number was opted out since', async () => {
    const id = await newCampaign();
    const [done, pending] = [newMobile(), newMobile()];
    await rpc('leads_import_batch', { p_campaign_id: id, p_rows: [{ phone_number: done }, { phone_number: pending }] });
    await sql(`update leads set status = 'done', attempts = 2 where campaign_id = $1 and phone_number = $2`, [id, done]);
    await sql(`select opt_out_add($1), opt_out_add($2)`, [done, pending]);
    const again = await rpc('leads_import_batch', { p_campaign_id: id, p_rows: [{ phone_number: done, name: 'D' }, { phone_number: pending, name: 'P' }] });
    expect(again.data).toMatchObject({ inserted: 0, updated: 2, opted_out: 1 });
    expect(await sql(`select phone_number, name, status, attempts from leads where campaign_id = $1 order by id`, [id])).toEqual([
      { phone_number: done, name: 'D', status: 'done', attempts: 2 },
      { phone_number: pending, name: 'P', status: 'opted_out', attempts: 0 },
    ]);
  });

  it.each([
    ['a phone that is not E.164', [{ phone_number: '+5511987650000' }, { phone_number: '11 98765-0000' }], 'row 2: phone_number must be E.164'],
    ['data that is not an object', [{ phone_number: '+5511987650001', data: ['x'] }], 'row 1: data must be an object'],
    ['an unknown key', [{ phone_number: '+5511987650002', status: 'done' }], 'row 1: unknown key'],
    ['a row that is not an object', ['+5511987650003'], 'row 1: not an object'],
  ])('refuses a batch with %s and writes nothing of it', async (_what, rows, said) => {
    const id = await newCampaign();
    const r = await testDb().rpc('leads_import_batch', { p_campaign_id: id, p_rows: rows });
    expect(campaignRefusal(r.error!)?.code).toBe('invalid_rows');
    expect(r.error!.message).toContain(said);
    expect(await sql(`select count(*)::int as n from leads where campaign_id = $1`, [id])).toEqual([{ n: 0 }]);
  });

  it('refuses an unknown or finished campaign', async () => {
    expect((await rpc('leads_import_batch', { p_campaign_id: 999999999, p_rows: [] })).refusal).toBe('campaign_not_found');
    const id = await newCampaign();
    await sql(`update campaigns set status = 'finished' where id = $1`, [id]);
    expect((await rpc('leads_import_batch', { p_campaign_id: id, p_rows: [{ phone_number: newMobile() }] })).refusal).toBe('campaign_finished');
    expect(await sql(`select count(*)::int as n from leads where campaign_id = $1`, [id])).toEqual([{ n: 0 }]);
  });

  it('campaign_show and campaign_list count leads by status; export pages follow ids; field names come in first-seen order', async () => {
    const id = await newCampaign();
    const phones = Array.from({ length: 5 }, () => newMobile());
    await sql(`select opt_out_add($1)`, [phones[4]]);
    await rpc('leads_import_batch', { p_campaign_id: id, p_rows: phones.map((p, i) => ({ phone_number: p, data: i === 0 ? { b: '1' } : { b: '2', a: '3' } })) });
    const show = await rpc<{ leads: unknown; campaign: { id: number } }>('campaign_show', { p_campaign_id: id, p_name: null });
    expect(show.data!.leads).toEqual({ total: 5, by_status: { pending: 4, opted_out: 1 } });
    const list = await rpc<{ id: number; leads: unknown }[]>('campaign_list', {});
    expect(list.data!.find((x) => x.id === id)!.leads).toEqual({ total: 5, by_status: { pending: 4, opted_out: 1 } });
    const p1 = await rpc<{ id: number; phone_number: string }[]>('leads_export_page', { p_campaign_id: id, p_after_id: 0, p_limit: 3 });
    const p2 = await rpc<{ id: number; phone_number: string }[]>('leads_export_page', { p_campaign_id: id, p_after_id: p1.data![2]!.id, p_limit: 3 });
    expect([...p1.data!, ...p2.data!].map((l) => l.phone_number)).toEqual(phones);
    expect((await rpc('leads_field_names', { p_campaign_id: id })).data).toEqual(['b', 'a']);
  });
});

describe('agents and holidays', () => {
  it('agent_set_campaign moves an agent (by e-mail, any casing) onto a campaign and off it; unknown names change nothing', async () => {
    const id = await newCampaign();
    const agent = await newAgent(null);
    const r = await rpc('agent_set_campaign', { p_email: agent.email.toUpperCase(), p_campaign_id: id });
    expect(r.data).toMatchObject({ agent_id: agent.id, campaign_id: id, previous_campaign_id: null, changed: true });
    expect(await sql(`select campaign_id from agents where id = $1`, [agent.id])).toEqual([{ campaign_id: String(id) }]);
    expect((await rpc('agent_set_campaign', { p_email: agent.email, p_campaign_id: 999999999 })).refusal).toBe('campaign_not_found');
    expect((await rpc('agent_set_campaign', { p_email: 'ninguem@discador.test', p_campaign_id: id })).refusal).toBe('agent_not_found');
    expect(await sql(`select campaign_id from agents where id = $1`, [agent.id])).toEqual([{ campaign_id: String(id) }]);
    await rpc('agent_set_campaign', { p_email: agent.email, p_campaign_id: null });
    expect(await sql(`select campaign_id from agents where id = $1`, [agent.id])).toEqual([{ campaign_id: null }]);
  });

  it('calling holidays: add (again keeps the first), list for a campaign, remove; a bad state is refused', async () => {
    const id = await newCampaign();
    const day = `2031-0${1 + (parseInt(tag(), 16) % 9)}-1${parseInt(tag(), 16) % 10}`;
    const added = await rpc<{ holiday: { id: number }; added: boolean }>('calling_holiday_add', { p_day: day, p_name: 'Aniversário da cidade', p_uf: 'SP', p_campaign_id: id });
    expect(added.data!.added).toBe(true);
    const again = await rpc<{ holiday: { id: number }; added: boolean }>('calling_holiday_add', { p_day: day, p_name: 'Outro nome', p_uf: 'SP', p_campaign_id: id });
    expect(again.data).toMatchObject({ added: false, holiday: { id: added.data!.holiday.id } });
    const list = await rpc<{ id: number; name: string }[]>('calling_holiday_list', { p_campaign_id: id });
    expect(list.data!.filter((h) => h.id === added.data!.holiday.id)).toEqual([expect.objectContaining({ name: 'Aniversário da cidade', uf: 'SP', campaign_id: id })]);
    expect((await rpc('calling_holiday_add', { p_day: day, p_name: 'X', p_uf: 'XX', p_campaign_id: null })).refusal).toBe('invalid_holiday');
    expect((await rpc('calling_holiday_remove', { p_id: added.data!.holiday.id })).data).toMatchObject({ removed: true });
    expect((await rpc('calling_holiday_remove', { p_id: added.data!.holiday.id })).refusal).toBe('holiday_not_found');
  });
});
