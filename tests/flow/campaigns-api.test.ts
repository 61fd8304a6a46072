/**
 * /api/campaigns/* through the local front and twilio-run, on the real database: only
 * supervisors and admins (agents 403, no session 401, nothing written), the same validation
 * and codes as the CLI, start refused without agents, lead import from a CSV in any encoding
 * (base64) or JSON rows, and files that are not CSV refused with nothing written.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from '../helpers/db';
import { callApi } from '../helpers/api-client';
import { newMobile } from '../helpers/twilio';

jest.setTimeout(60000);

const fixtures = path.join(__dirname, '..', 'fixtures', 'leads');
const tag = () => randomBytes(4).toString('hex');

/** A user of `role` with a live session; returns its token. */
async function sessionOf(role: 'agent' | 'supervisor' | 'admin'): Promise<string> {
  const t = tag();
  let agentId: string | null = null;
  if (role === 'agent') agentId = (await sql<{ id: string }>(`insert into agents (name, client_identity) values ($1, $1) returning id`, [`agente-${t}`]))[0]!.id;
  const [u] = await sql<{ id: string }>(`insert into users (email, name, role, agent_id) values ($1, $2, $3, $4) returning id`, [`${t}@discador.test`, `Pessoa ${t}`, role, agentId]);
  const token = randomBytes(32).toString('base64url');
  await sql(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '1 hour')`, [u!.id, createHash('sha256').update(token).digest('hex')]);
  return token;
}

let supervisor: string;
beforeAll(async () => {
  supervisor = await sessionOf('supervisor');
});

const leadCount = async (id: number) => (await sql<{ n: number }>(`select count(*)::int as n from leads where campaign_id = $1`, [id]))[0]!.n;

async function newCampaign(extra: Record<string, unknown> = {}): Promise<number> {
  const r = await callApi('/api/campaigns/create', { token: supervisor, body: { settings: { name: `API ${tag()}`, ...extra } } });
  expect(r.status).toBe(200);
  return r.json.campaign.id as number;
}

describe('who may call', () => {
  const calls: [string, unknown][] = [
    ['/api/campaigns/list', undefined],
    ['/api/campaigns/show', { campaign_id: 1 }],
    ['/api/campaigns/create', { settings: { name: 'Do agente' } }],
    ['/api/campaigns/update', { campaign_id: 1, settings: { ring_timeout: 10 } }],
    ['/api/campaigns/status', { campaign_id: 1, action: 'resume' }],
    ['/api/campaigns/import', { campaign_id: 1, rows: [{ phone_number: '11987654321' }] }],
  ];

  it.each(calls)('%s: an agent session gets 403 forbidden_role, no session 401, and nothing is written', async (url, body) => {
    // Campaign 1 (the seed's) is what the update, status and import bodies name.
    const state = () => sql(`select c.status, c.ring_timeout, c.updated_at, (select count(*)::int from leads l where l.campaign_id = c.id) as leads from campaigns c where c.id = 1`);
    const before = await state();
    const agent = await callApi(url, { token: await sessionOf('agent'), body });
    expect(agent.status).toBe(403);
    expect(agent.json.error).toBe('forbidden_role');
    const none = await callApi(url, { body });
    expect(none.status).toBe(401);
    expect(await sql(`select count(*)::int as c from campaigns where name = 'Do agente'`)).toEqual([{ c: 0 }]);
    expect(before).toHaveLength(1);
    expect(await state()).toEqual(before);
  });

  it('an admin may list, and sees the campaigns a supervisor created', async () => {
    const id = await newCampaign();
    const r = await callApi('/api/campaigns/list', { token: await sessionOf('admin') });
    expect(r.status).toBe(200);
    expect(r.json.campaigns.map((c: { id: number }) => c.id)).toContain(id);
  });
});

describe('settings', () => {
  it('create stores the settings; show answers them with lead counts; update changes only what it names', async () => {
    const name = `Vendas ${tag()}`;
    const created = await callApi('/api/campaigns/create', {
      token: supervisor,
      body: { settings: { name, kind: 'sales', mode: 'preview', caller_id_strategy: 'least_used', retry_rules: { no_answer: { delay_minutes: 30, max: 5 } } } },
    });
    expect(created.status).toBe(200);
    const id = created.json.campaign.id as number;
    expect(await sql(`select kind, mode, caller_id_strategy, retry_rules->'no_answer' as na from campaigns where id = $1`, [id])).toEqual([
      { kind: 'sales', mode: 'preview', caller_id_strategy: 'least_used', na: { delay_minutes: 30, max: 5 } },
    ]);
    const shown = await callApi(`/api/campaigns/show?campaign_id=${id}`, { token: supervisor });
    expect(shown.status).toBe(200);
    expect(shown.json).toMatchObject({ campaign: { id, name, status: 'draft' }, leads: { total: 0 }, agents: [] });
    const updated = await callApi('/api/campaigns/update', { token: supervisor, body: { campaign_id: id, settings: { ring_timeout: 15 } } });
    expect(updated.status).toBe(200);
    expect(await sql(`select ring_timeout, mode from campaigns where id = $1`, [id])).toEqual([{ ring_timeout: 15, mode: 'preview' }]);
  });

  it.each([
    [{ name: '' }, 400, 'invalid_settings'],
    [{ name: 'X', max_lines: 0 }, 400, 'invalid_settings'],
    [{ name: 'X', surprise: true }, 400, 'invalid_settings'],
    [{ name: 'X', amd_machine: 'voicemail' }, 400, 'invalid_settings'],
    [{ name: 'X', window_profile: 'custom', weekday_start: null, weekday_end: null, saturday_start: null, saturday_end: null }, 409, 'window_never_opens'],
  ])('create %j → %i %s, nothing written', async (settings, status, code) => {
    const name = `${settings.name}-${tag()}`;
    const r = await callApi('/api/campaigns/create', { token: supervisor, body: { settings: { ...settings, name: settings.name ? name : '' } } });
    expect(r.status).toBe(status);
    expect(r.json.error).toBe(code);
    expect(await sql(`select id from campaigns where name = $1`, [name])).toEqual([]);
  });

  it('a body that is not JSON (a CSV sent as text/csv) is refused with a hint', async () => {
    const r = await callApi('/api/campaigns/create', { token: supervisor, raw: 'telefone\n11987654321\n', contentType: 'text/csv' });
    expect(r.status).toBe(400);
    expect(r.json.message).toContain('"csv" field');
  });
});

describe('status', () => {
  it('resume is refused without agents (409 campaign_without_agents), works once one is assigned; pause stops it', async () => {
    const id = await newCampaign();
    const refused = await callApi('/api/campaigns/status', { token: supervisor, body: { campaign_id: id, action: 'resume' } });
    expect(refused.status).toBe(409);
    expect(refused.json.error).toBe('campaign_without_agents');
    expect(await sql(`select status from campaigns where id = $1`, [id])).toEqual([{ status: 'draft' }]);
    await sql(`insert into agents (name, campaign_id) values ('Agente API', $1)`, [id]);
    const resumed = await callApi('/api/campaigns/status', { token: supervisor, body: { campaign_id: id, action: 'resume' } });
    expect(resumed.status).toBe(200);
    expect(resumed.json).toMatchObject({ changed: true, campaign: { status: 'active' } });
    const paused = await callApi('/api/campaigns/status', { token: supervisor, body: { campaign_id: id, action: 'pause' } });
    expect(paused.json).toMatchObject({ changed: true, previous_status: 'active', campaign: { status: 'paused' } });
    const unknown = await callApi('/api/campaigns/status', { token: supervisor, body: { campaign_id: 999999999, action: 'pause' } });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe('campaign_not_found');
  });
});

describe('import', () => {
  it('a Windows-1252 Excel CSV as base64: leads imported, bad lines reported by number, the repeated phone merged', async () => {
    const id = await newCampaign();
    const r = await callApi('/api/campaigns/import', {
      token: supervisor,
      body: { campaign_id: id, csv_base64: fs.readFileSync(path.join(fixtures, 'excel-ptbr-windows-1252.csv')).toString('base64') },
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ leads: 5, rejected: 3, duplicates_in_file: 1, inserted: 4, updated: 0, format: { encoding: 'windows-1252', delimiter: ';' } });
    expect(r.json.rejected_lines.map((x: { line: number }) => x.line)).toEqual([5, 9, 11]);
    expect(await sql(`select name, data->>'Observação' as obs from leads where campaign_id = $1 order by id limit 1`, [id])).toEqual([{ name: 'Ana Lúcia', obs: 'cliente antigo' }]);
  });

  it('JSON rows: phones normalised, a bad row reported, the rest imported; strict imports nothing', async () => {
    const id = await newCampaign();
    const good = newMobile();
    const rows = [{ phone_number: `(${good.slice(3, 5)}) ${good.slice(5, 10)}-${good.slice(10)}`, name: 'Rita', data: { valor: 10 } }, { phone_number: '123' }];
    const strict = await callApi('/api/campaigns/import', { token: supervisor, body: { campaign_id: id, rows, strict: true } });
    expect(strict.status).toBe(400);
    expect(strict.json.error).toBe('rejected_lines');
    expect(await leadCount(id)).toBe(0);
    const r = await callApi('/api/campaigns/import', { token: supervisor, body: { campaign_id: id, rows } });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ leads: 1, rejected: 1, inserted: 1, rejected_lines: [{ row: 1 }] });
    expect(await sql(`select phone_number, name, data from leads where campaign_id = $1`, [id])).toEqual([{ phone_number: good, name: 'Rita', data: { valor: '10' } }]);
  });

  it.each([
    ['an Excel workbook', 'leads.xlsx', 'zip archive'],
    ['a binary file', 'binary.dat', 'binary'],
    ['a file without a header', 'headerless.csv', 'not a header'],
  ])('%s: 400 invalid_file, nothing written', async (_what, fixture, said) => {
    const id = await newCampaign();
    const r = await callApi('/api/campaigns/import', { token: supervisor, body: { campaign_id: id, csv_base64: fs.readFileSync(path.join(fixtures, fixture)).toString('base64') } });
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('invalid_file');
    expect(r.json.message).toContain(said);
    expect(await leadCount(id)).toBe(0);
  });

  it('needs exactly one source, and a campaign that exists', async () => {
    const id = await newCampaign();
    const none = await callApi('/api/campaigns/import', { token: supervisor, body: { campaign_id: id } });
    expect(none.status).toBe(400);
    const unknown = await callApi('/api/campaigns/import', { token: supervisor, body: { campaign_id: 999999999, csv: 'telefone\n11987654321\n' } });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toBe('campaign_not_found');
  });
});
