/**
 * The campaigns CLI without a database: --help, the settings the flags build and the
 * shared schema's refusals (exit 2, nothing sent), --dry-run plans that send nothing (a
 * counting server stands where the database would be), and files that are not CSV refused
 * before anything is sent. The same CLI against the real database:
 * tests/flow/campaigns-cli.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Env, Io } from '../../scripts/lib/cli';
import { run } from '../../scripts/campaigns';
import { checkSettings, windowNeverOpens } from '../../src/lib/domain/campaigns';

let server: http.Server;
let seen: string[];
let env: Env;
const fixtures = path.join(__dirname, '..', 'fixtures', 'leads');

beforeAll(async () => {
  seen = [];
  server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  env = { SUPABASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, SUPABASE_SERVICE_ROLE_KEY: 'service-role-key-for-cli-tests' };
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen.length = 0;
});

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await run(argv, { ...env }, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('--help names every command; create lists the settings flags; each command lists --json and --dry-run', async () => {
  const top = await cli(['--help']);
  expect(top.code).toBe(0);
  for (const c of ['create', 'update', 'list', 'show', 'pause', 'resume', 'import-leads', 'export', 'assign-agent', 'holidays']) expect(top.out).toContain(c);
  const create = await cli(['create', '--help']);
  for (const o of ['--json', '--dry-run', '--mode', '--ratio', '--behaviour', '--abandon-cap', '--weekday', '--retry', '--caller-id', '--amd-machine', '--whisper', '--disposition', '--abandon-treatment', '--settings']) {
    expect(create.out).toContain(o);
  }
  const holidays = await cli(['holidays', 'add', '--help']);
  for (const o of ['--name', '--uf', '--campaign', '--dry-run']) expect(holidays.out).toContain(o);
});

test('create --dry-run: the flags become one campaign_create with the settings, nothing sent', async () => {
  const r = await cli([
    'create', 'Cobrança dezembro', '--mode', 'predictive', '--behaviour', 'ADAPT_AVERAGE', '--abandon-cap', '2,5%', '--cps', '3',
    '--weekday', '9:00-18:00', '--saturday', 'closed', '--sunday', '10:00-14:00', '--no-skip-holidays',
    '--retry', 'busy=30m:3', '--retry', 'no_answer=2h:4', '--caller-id', 'least_used', '--no-local-presence',
    '--amd-machine', 'voicemail', '--voicemail-audio', '/audio/recado.mp3', '--amd-accuracy', '94%',
    '--disposition', 'promessa:Promessa de pagamento:done', '--disposition', 'retornar:Retornar em:callback',
    '--abandon-treatment', 'queue', '--ring-timeout', '25', '--dry-run', '--json',
  ]);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out).steps).toEqual([
    {
      kind: 'rpc',
      fn: 'campaign_create',
      args: {
        p_settings: {
          name: 'Cobrança dezembro', mode: 'predictive', pacing_behaviour: 'ADAPT_AVERAGE', abandon_cap: 0.025, calls_per_second: 3,
          window_profile: 'custom', weekday_start: '09:00', weekday_end: '18:00', saturday_start: null, saturday_end: null,
          allow_sunday: true, sunday_start: '10:00', sunday_end: '14:00', skip_holidays: false,
          retry_rules: { busy: { delay_minutes: 30, max: 3 }, no_answer: { delay_minutes: 120, max: 4 } },
          caller_id_strategy: 'least_used', local_presence: false, amd_machine: 'voicemail', voicemail_audio: '/audio/recado.mp3',
          amd_human_accuracy: 0.94,
          dispositions: [{ code: 'promessa', label: 'Promessa de pagamento', outcome: 'done' }, { code: 'retornar', label: 'Retornar em', outcome: 'callback' }],
          abandon_treatment: 'queue', ring_timeout: 25,
        },
      },
    },
  ]);
  expect(seen).toEqual([]);
});

test.each([
  [['create', 'X', '--window', 'custom', '--weekday', 'closed', '--saturday', 'closed'], 'never opens', 'window_never_opens'],
  [['create', 'X', '--weekday', 'closed', '--saturday', 'closed'], 'never opens', 'window_never_opens'],
  [['create', 'X', '--weekday', '18:00-09:00'], 'weekday_start must come before weekday_end', 'invalid_settings'],
  [['create', 'X', '--mode', 'predictive', '--ratio', '2'], '--ratio is for power mode', 'USAGE'],
  [['create', 'X', '--mode', 'power', '--behaviour', 'ADAPT_TAPERED'], '--behaviour is for predictive', 'USAGE'],
  [['create', 'X', '--amd-machine', 'voicemail'], 'voicemail needs voicemail_audio or voicemail_text', 'invalid_settings'],
  [['create', 'X', '--abandon-cap', '30%'], 'abandon_cap', 'invalid_settings'],
  [['create', 'X', '--max-lines', '0'], 'max_lines', 'invalid_settings'],
  [['create', 'X', '--ring-timeout', '2'], 'ring_timeout', 'invalid_settings'],
  [['create', 'X', '--retry', 'bored=5m:1'], '--retry must be OUTCOME=DELAY:MAX', 'USAGE'],
  [['create', 'X', '--disposition', 'promessa:Promessa:maybe'], '--disposition must be CODE:LABEL:OUTCOME', 'USAGE'],
  [['create', 'X', '--disposition', 'a:A:done', '--disposition', 'a:B:retry'], 'repeats a code', 'invalid_settings'],
  [['create', 'X', '--voicemail-audio', 'http://evil/x.mp3', '--amd-machine', 'voicemail'], 'asset path', 'invalid_settings'],
  [['update', '3'], 'no setting to change', 'invalid_settings'],
  [['holidays', 'add', '31/02/2026', '--name', 'X'], 'not a date', 'USAGE'],
  [['holidays', 'add', '2026-12-24', '--name', 'X', '--uf', 'XX'], 'Allowed choices', null],
  [['assign-agent', 'not-an-email', '3'], 'not an e-mail address', 'USAGE'],
  [['assign-agent', 'a@b.c'], 'name a campaign, or --none', 'USAGE'],
])('bad usage %j: exit 2, a clear error, nothing sent', async (argv, said, code) => {
  const r = await cli([...argv, '--json']);
  expect(r.code).toBe(2);
  expect(r.err).toContain(said);
  if (code) expect(JSON.parse(r.err).error.code).toBe(code);
  expect(seen).toEqual([]);
});

test('status, assignment, export and holidays --dry-run: a name is looked up first, nothing sent', async () => {
  const resume = await cli(['resume', 'Cobrança dezembro', '--dry-run', '--json']);
  expect(JSON.parse(resume.out).steps).toEqual([
    { kind: 'rpc', fn: 'campaign_show', args: { p_campaign_id: null, p_name: 'Cobrança dezembro' }, note: 'finds the campaign id by name' },
    { kind: 'rpc', fn: 'campaign_set_status', args: { p_campaign_id: '<id of "Cobrança dezembro">', p_status: 'active' } },
  ]);
  const pause = await cli(['pause', '12', '--dry-run', '--json']);
  expect(JSON.parse(pause.out).steps).toEqual([{ kind: 'rpc', fn: 'campaign_set_status', args: { p_campaign_id: 12, p_status: 'paused' } }]);
  const assign = await cli(['assign-agent', 'Maria@Empresa.com.br', '12', '--dry-run', '--json']);
  expect(JSON.parse(assign.out).steps).toEqual([{ kind: 'rpc', fn: 'agent_set_campaign', args: { p_email: 'Maria@Empresa.com.br', p_campaign_id: 12 } }]);
  const off = await cli(['assign-agent', 'maria@empresa.com.br', '--none', '--dry-run', '--json']);
  expect(JSON.parse(off.out).steps[0].args).toEqual({ p_email: 'maria@empresa.com.br', p_campaign_id: null });
  const exp = await cli(['export', '12', '--dry-run', '--json']);
  expect(JSON.parse(exp.out).steps.map((s: { fn: string }) => s.fn)).toEqual(['leads_field_names', 'leads_export_page']);
  const hol = await cli(['holidays', 'add', '20/01/2027', '--name', 'São Sebastião', '--uf', 'RJ', '--dry-run', '--json']);
  expect(JSON.parse(hol.out).steps).toEqual([{ kind: 'rpc', fn: 'calling_holiday_add', args: { p_day: '2027-01-20', p_name: 'São Sebastião', p_uf: 'RJ', p_campaign_id: null } }]);
  expect(seen).toEqual([]);
});

test('import-leads --dry-run reads the whole file and plans its batches with the rows, nothing sent', async () => {
  const r = await cli(['import-leads', '12', path.join(fixtures, 'excel-ptbr-windows-1252.csv'), '--batch-size', '3', '--dry-run', '--json']);
  expect(r.code).toBe(0);
  const plan = JSON.parse(r.out);
  expect(plan).toMatchObject({ dry_run: true, leads: 5, rejected: 3, duplicates_in_file: 1, batches: 2 });
  expect(plan.steps.map((s: { args: { p_rows: unknown[] } }) => s.args.p_rows.length)).toEqual([3, 2]);
  expect(plan.steps[0].args).toMatchObject({ p_campaign_id: 12, p_fields: ['CPF', 'Valor em aberto', 'Dias em atraso', 'Observação'] });
  expect(plan.steps[0].args.p_rows[0]).toEqual({
    line: 2, phone_number: '+5511987654321', name: 'João da Silva', external_id: null,
    data: { CPF: '123.456.789-09', 'Valor em aberto': '1.234,56', 'Dias em atraso': '30', Observação: 'cliente antigo' },
  });
  expect(seen).toEqual([]);
});

test.each([
  ['leads.xlsx', 'zip archive'],
  ['binary.dat', 'binary file'],
  ['headerless.csv', 'is not a header'],
])('import-leads of %s: exit 1 with a clear error, nothing sent', async (name, said) => {
  const r = await cli(['import-leads', '12', path.join(fixtures, name), '--json']);
  expect(r.code).toBe(1);
  expect(JSON.parse(r.err).error).toMatchObject({ code: 'INVALID_FILE', message: expect.stringContaining(said) });
  expect(seen).toEqual([]);
});

test('a missing file is a usage error', async () => {
  const r = await cli(['import-leads', '12', path.join(fixtures, 'nao-existe.csv')]);
  expect(r.code).toBe(2);
  expect(r.err).toContain('cannot read');
  expect(seen).toEqual([]);
});

describe('the shared settings schema', () => {
  it('create needs a name; update needs something to change; unknown keys are refused', () => {
    expect(checkSettings({}, 'create')).toMatchObject({ ok: false, problems: ['name is required'] });
    expect(checkSettings({ name: 'A', nope: 1 }, 'create')).toMatchObject({ ok: false, code: 'invalid_settings' });
    expect(checkSettings({ ring_timeout: 20 }, 'update')).toEqual({ ok: true, settings: { ring_timeout: 20 } });
  });

  it('windowNeverOpens: only a custom window without hours on any day', () => {
    expect(windowNeverOpens({ window_profile: 'collections_sp' })).toBe(false);
    expect(windowNeverOpens({ window_profile: 'custom', weekday_start: null, weekday_end: null, saturday_start: null, saturday_end: null, allow_sunday: false })).toBe(true);
    expect(windowNeverOpens({ window_profile: 'custom', weekday_start: null, weekday_end: null, saturday_start: null, saturday_end: null, allow_sunday: true, sunday_start: '10:00', sunday_end: '12:00' })).toBe(false);
    expect(windowNeverOpens({ window_profile: 'custom', weekday_start: '10:00', weekday_end: '10:00', saturday_start: null, saturday_end: null })).toBe(true);
  });
});
