/**
 * `npm run campaigns` against the real database of the local stack (in-process, through the
 * REST gateway): a campaign created from flags, agents assigned by e-mail, a real Excel
 * pt-BR lead file imported (bad lines reported by number, the repeated phone merged, an
 * opt-out marked), re-imported without duplicates, resumed only once it has agents,
 * exported as Excel pt-BR CSV and read back; files that are not CSV write nothing.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Env, Io } from '../../scripts/lib/cli';
import { run } from '../../scripts/campaigns';
import { bytesSource, collectLeadsCsv } from '../../src/lib/domain/leads-csv';
import { env, sql } from '../helpers/db';

jest.setTimeout(60000);

const fixtures = path.join(__dirname, '..', 'fixtures', 'leads');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'campaigns-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function campaigns(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const cliEnv: Env = { SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY') };
  const code = await run(argv, cliEnv, io);
  const text = out.join('\n');
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { code, out: text, err: err.join('\n'), json: json as any };
}

const tag = () => randomBytes(4).toString('hex');

test('create → assign → import → resume → export: the whole life of a campaign from the command line', async () => {
  const name = `Cobrança CLI ${tag()}`;
  const created = await campaigns([
    'create', name, '--mode', 'power', '--ratio', '2', '--weekday', '09:00-18:00', '--saturday', 'closed',
    '--retry', 'busy=1h:2', '--disposition', 'promessa:Promessa de pagamento:done', '--disposition', 'nao_ligar:Não ligar mais:opt_out',
    '--whisper', 'Cliente {nome}, {Dias em atraso} dias', '--company-name', 'Empresa Teste', '--json',
  ]);
  expect(created.code).toBe(0);
  const id = created.json.campaign.id as number;
  const [row] = await sql<Record<string, unknown>>(`select * from campaigns where id = $1`, [id]);
  expect(row).toMatchObject({
    name, status: 'draft', mode: 'power', window_profile: 'custom', weekday_start: '09:00:00', weekday_end: '18:00:00', saturday_start: null,
    whisper_template: 'Cliente {nome}, {Dias em atraso} dias', company_name: 'Empresa Teste',
    dispositions: [{ code: 'promessa', label: 'Promessa de pagamento', outcome: 'done' }, { code: 'nao_ligar', label: 'Não ligar mais', outcome: 'opt_out' }],
  });
  expect(Number(row!['dial_ratio'])).toBe(2);
  expect(row!['retry_rules']).toMatchObject({ busy: { delay_minutes: 60, max: 2 } });

  // Resume without agents: refused with its code, nothing changes.
  const early = await campaigns(['resume', name, '--json']);
  expect(early.code).toBe(1);
  expect(JSON.parse(early.err).error.code).toBe('campaign_without_agents');
  expect(await sql(`select status from campaigns where id = $1`, [id])).toEqual([{ status: 'draft' }]);

  // The lead file: one phone is already opted out.
  await sql(`select opt_out_add('+5541999112233')`);
  const imported = await campaigns(['import-leads', name, path.join(fixtures, 'excel-ptbr-windows-1252.csv'), '--json']);
  expect(imported.code).toBe(0);
  expect(imported.json).toMatchObject({ campaign_id: id, leads: 5, rejected: 3, duplicates_in_file: 1, inserted: 4, updated: 0, merged_in_batch: 1, opted_out: 1 });
  expect(imported.json.rejected_lines.map((r: { line: number }) => r.line)).toEqual([5, 9, 11]);
  const leads = await sql<{ phone_number: string; name: string; data: Record<string, string>; status: string; import_line: number }>(
    `select phone_number, name, data, status, import_line from leads where campaign_id = $1 order by id`,
    [id],
  );
  expect(leads.map((l) => [l.phone_number, l.name, l.status, l.import_line])).toEqual([
    ['+5511987654321', 'Ana Lúcia', 'pending', 6],
    ['+5521998765432', 'Maria Conceição', 'pending', 3],
    ['+553132221000', 'Pedro Álvares', 'pending', 8],
    ['+5541999112233', 'Carla "Ca" Dias', 'opted_out', 10],
  ]);
  // Line 6 repeats line 2's phone: its values win, the field it left empty keeps line 2's.
  expect(leads[0]!.data).toEqual({ CPF: '123.456.789-09', 'Valor em aberto': '2.000,00', 'Dias em atraso': '45', Observação: 'cliente antigo' });
  expect(leads[1]!.data['Observação']).toBe('ligar após 14h\nprefere WhatsApp');

  // The same file again: nothing new, every lead merged into itself.
  const again = await campaigns(['import-leads', String(id), path.join(fixtures, 'excel-ptbr-windows-1252.csv'), '--json']);
  expect(again.json).toMatchObject({ inserted: 0, updated: 4 });
  expect(await sql(`select count(*)::int as n from leads where campaign_id = $1`, [id])).toEqual([{ n: 4 }]);

  // An agent by e-mail, then resume works.
  const email = `cli-${tag()}@discador.test`;
  await sql(`insert into agents (name, email) values ('Agente CLI', $1)`, [email]);
  expect((await campaigns(['assign-agent', email, name])).code).toBe(0);
  const resumed = await campaigns(['resume', name, '--json']);
  expect(resumed.code).toBe(0);
  expect(resumed.json).toMatchObject({ changed: true, previous_status: 'draft', campaign: { status: 'active' } });
  const shown = await campaigns(['show', name]);
  expect(shown.out).toContain('active');
  expect(shown.out).toContain(email);
  expect(shown.out).toContain('leads: 4 (');

  // Export: UTF-8 with BOM, ';', CRLF; formula-like cells neutralised; reads back through the lead reader.
  const file = path.join(tmp, 'export.csv');
  const exported = await campaigns(['export', name, '--out', file, '--json']);
  expect(exported.code).toBe(0);
  expect(exported.json).toMatchObject({ leads: 4 });
  const bytes = fs.readFileSync(file);
  expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  const text = bytes.toString('utf8');
  expect(text.split('\r\n')[0]).toBe('\ufeffid;telefone;nome;id_externo;status;tentativas;resultado;ultima_tentativa;proxima_tentativa;retorno_em;CPF;Valor em aberto;Dias em atraso;Observação');
  expect(text).toContain(";'+5511987654321;Ana Lúcia;;pending;0;");
  const back = await collectLeadsCsv(bytesSource(bytes));
  expect(back.rows.map((r) => r.phone_number)).toEqual(leads.map((l) => l.phone_number));
  expect(back.rows[1]!.data['Observação']).toBe('ligar após 14h\nprefere WhatsApp');

  const paused = await campaigns(['pause', String(id)]);
  expect(paused.out).toContain('paused');
  expect(await sql(`select status from campaigns where id = $1`, [id])).toEqual([{ status: 'paused' }]);
});

test.each([
  ['an Excel workbook (.xlsx)', 'leads.xlsx', 'zip archive'],
  ['a binary file', 'binary.dat', 'binary file'],
  ['a file without a header line', 'headerless.csv', 'is not a header'],
])('importing %s: a clear error, exit 1, no lead written', async (_what, fixture, said) => {
  const created = await campaigns(['create', `Arquivo ruim ${tag()}`, '--json']);
  const id = created.json.campaign.id as number;
  const r = await campaigns(['import-leads', String(id), path.join(fixtures, fixture)]);
  expect(r.code).toBe(1);
  expect(r.err).toContain(said);
  expect(r.err).toContain('nothing was imported');
  expect(await sql(`select count(*)::int as n from leads where campaign_id = $1`, [id])).toEqual([{ n: 0 }]);
});

test('--strict imports nothing from a file with a bad line; batches of 2 send every lead', async () => {
  const id = (await campaigns(['create', `Estrito ${tag()}`, '--json'])).json.campaign.id as number;
  const strict = await campaigns(['import-leads', String(id), path.join(fixtures, 'excel-ptbr-windows-1252.csv'), '--strict']);
  expect(strict.code).toBe(1);
  expect(strict.err).toContain('--strict: 3 line(s) rejected, nothing was imported');
  expect(await sql(`select count(*)::int as n from leads where campaign_id = $1`, [id])).toEqual([{ n: 0 }]);
  const small = await campaigns(['import-leads', String(id), path.join(fixtures, 'excel-ptbr-windows-1252.csv'), '--batch-size', '2', '--json']);
  expect(small.json).toMatchObject({ batches: 3, inserted: 4, updated: 1 });
});

test('holidays add / list / remove, and a campaign that does not exist', async () => {
  const day = `2032-0${1 + (parseInt(tag(), 16) % 9)}-2${parseInt(tag(), 16) % 8}`;
  const added = await campaigns(['holidays', 'add', day.split('-').reverse().join('/'), '--name', 'Aniversário da cidade', '--uf', 'SP', '--json']);
  expect(added.code).toBe(0);
  expect(added.json.holiday).toMatchObject({ day, uf: 'SP', campaign_id: null, name: 'Aniversário da cidade' });
  const list = await campaigns(['holidays', 'list', '--json']);
  expect(list.json.holidays.map((h: { id: number }) => h.id)).toContain(added.json.holiday.id);
  expect((await campaigns(['holidays', 'remove', String(added.json.holiday.id)])).code).toBe(0);
  expect(await sql(`select count(*)::int as n from calling_holidays where id = $1`, [added.json.holiday.id])).toEqual([{ n: 0 }]);
  const missing = await campaigns(['show', 'Campanha que não existe', '--json']);
  expect(missing.code).toBe(1);
  expect(JSON.parse(missing.err).error.code).toBe('campaign_not_found');
  // An import into a campaign that does not exist fails before the file is read.
  const nowhere = await campaigns(['import-leads', '999999999', path.join(fixtures, 'excel-ptbr-windows-1252.csv'), '--json']);
  expect(nowhere.code).toBe(1);
  expect(JSON.parse(nowhere.err).error.code).toBe('campaign_not_found');
  expect(nowhere.err).not.toContain('batch');
});
