/**
 * The opt-out and numbers scripts against the local stack: real PostgREST + Postgres and the
 * Twilio emulator, all started by tests/flow/global-setup.ts (which fills process.env).
 * Other flow tests share the database, so every number here is fresh, and the number-pool
 * test works in its own Twilio subaccount so `sync` cannot touch anyone else's rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Env, Io } from '../../scripts/lib/cli';
import { run as numbers } from '../../scripts/numbers';
import { run as optOut } from '../../scripts/opt-out';
import { createDb, type Db } from '../../src/lib/runtime/db';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';

const ADDRESS_SID = 'AD' + 'cd'.repeat(16);

async function cli(runner: typeof optOut, argv: string[], env: Env) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: Io = { out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
  const code = await runner(argv, env, io);
  return { code, stdout, stderr, json: () => JSON.parse(stdout.join('\n')), errText: () => stderr.join('\n') };
}

const DDDS = ['11', '19', '21', '27', '31', '41', '47', '51', '61', '62', '71', '81', '85', '91', '92'];

/** A fresh Brazilian mobile number (a real DDD, then 9 + 8 random digits). */
function freshMobile(): { e164: string; ddd: string; local: string } {
  const ddd = DDDS[Math.floor(Math.random() * DDDS.length)] as string;
  const local = `9${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
  return { e164: `+55${ddd}${local}`, ddd, local };
}

/** Windows-1252 bytes of a text (what Excel pt-BR writes for "CSV (separado por vírgulas)"). */
function cp1252(text: string): Buffer {
  const special: Record<string, number> = { '€': 0x80, '“': 0x93, '”': 0x94, '–': 0x96, '—': 0x97 };
  return Buffer.from(
    [...text].map((ch) => {
      const code = special[ch] ?? ch.charCodeAt(0);
      if (code > 0xff || (code >= 0x80 && code <= 0x9f && special[ch] === undefined)) throw new Error(`no Windows-1252 byte for ${ch}`);
      return code;
    }),
  );
}

let env: Env;
let db: Db;

beforeAll(() => {
  env = { ...process.env, USER: 'flow-test' };
  db = createDb({ url: env.SUPABASE_URL as string, serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY as string, timeoutMs: 10_000 });
});

async function optOutRows(phones: string[]) {
  const { data, error } = await db.client.from('opt_outs').select('phone_number, reason, source, created_by').in('phone_number', phones);
  if (error) throw new Error(error.message);
  return (data ?? []).sort((a, b) => phones.indexOf(a.phone_number) - phones.indexOf(b.phone_number));
}

describe('opt-out', () => {
  test('add, check, remove', async () => {
    const n = freshMobile();
    const typed = `(${n.ddd}) ${n.local.slice(0, 5)}-${n.local.slice(5)}`;

    const added = await cli(optOut, ['add', typed, '--reason', 'pediu por telefone', '--json'], env);
    expect(added.code).toBe(0);
    expect(added.json()).toEqual({ phone_number: n.e164, added: true });
    expect(await optOutRows([n.e164])).toEqual([{ phone_number: n.e164, reason: 'pediu por telefone', source: 'manual', created_by: 'cli:flow-test' }]);

    const again = await cli(optOut, ['add', `0 xx ${n.ddd} ${n.local}`, '--reason', 'outra', '--json'], env);
    expect(again.json()).toEqual({ phone_number: n.e164, added: false });
    expect((await optOutRows([n.e164]))[0]?.reason).toBe('pediu por telefone');

    const checked = await cli(optOut, ['check', `0055${n.ddd}${n.local}`, '--json'], env);
    expect(checked.code).toBe(0);
    expect(checked.json()).toMatchObject({ phone_number: n.e164, opted_out: true, reason: 'pediu por telefone', source: 'manual' });

    const removed = await cli(optOut, ['remove', n.e164, '--json'], env);
    expect(removed.json()).toEqual({ phone_number: n.e164, removed: true });
    expect(await optOutRows([n.e164])).toEqual([]);
    expect((await cli(optOut, ['check', n.e164, '--json'], env)).json()).toEqual({ phone_number: n.e164, opted_out: false });
    expect((await cli(optOut, ['remove', n.e164, '--json'], env)).json()).toEqual({ phone_number: n.e164, removed: false });
  });

  test('an invalid number is refused before reaching the database', async () => {
    const r = await cli(optOut, ['add', '12345'], env);
    expect(r.code).toBe(2);
    expect(r.errText()).toMatch(/invalid phone number "12345": not a valid Brazilian number/);
  });

  test('CSV import: bad lines reported by line number, the rest imported in batches, re-import is idempotent', async () => {
    const [a, b, c, d, pre] = [freshMobile(), freshMobile(), freshMobile(), freshMobile(), freshMobile()];
    expect((await cli(optOut, ['add', pre.e164, '--json'], env)).json().added).toBe(true);

    const csv = [
      '\uFEFFNome;Telefone;Motivo', // 1 header (BOM, ; delimiter)
      `Ana;(${a.ddd}) ${a.local.slice(0, 5)}-${a.local.slice(5)};"pediu; por SMS"`, // 2
      'Bia;12345;curto', // 3 rejected: invalid
      `Caio;0 15 ${b.ddd} ${b.local};`, // 4
      'Davi;;sem numero', // 5 rejected: empty
      `Eva;0055 ${c.ddd} ${c.local};x;extra`, // 6 rejected: column count
      '', // 7 blank
      `Fabi;0 xx ${d.ddd} ${d.local};procon`, // 8
      `Gil;${pre.e164};ja estava`, // 9 already listed
      `Hugo;0${a.ddd} ${a.local};repetido`, // 10 duplicate of line 2
    ].join('\r\n');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'optout-flow-')), 'lista.csv');
    fs.writeFileSync(file, csv);

    const r = await cli(optOut, ['import', file, '--source', 'procon_sp', '--batch-size', '2', '--json'], env);
    expect(r.code).toBe(0);
    const out = r.json();
    expect(out.rejected.map((x: any) => [x.line, x.reason])).toEqual([
      [3, expect.stringMatching(/^not a valid Brazilian number/)],
      [5, 'empty phone number'],
      [6, 'wrong number of columns: expected 3, found 4'],
    ]);
    expect(out).toMatchObject({ lines_read: 8, valid: 4, duplicates_in_file: 1, batches: 2, added: 3, already_listed: 1 });

    const rows = await optOutRows([a.e164, b.e164, c.e164, d.e164, pre.e164]);
    expect(rows).toEqual([
      { phone_number: a.e164, reason: 'pediu; por SMS', source: 'procon_sp', created_by: 'cli:flow-test' },
      { phone_number: b.e164, reason: null, source: 'procon_sp', created_by: 'cli:flow-test' },
      // c was on the line with the wrong column count: not imported.
      { phone_number: d.e164, reason: 'procon', source: 'procon_sp', created_by: 'cli:flow-test' },
      { phone_number: pre.e164, reason: null, source: 'manual', created_by: 'cli:flow-test' },
    ]);

    const again = await cli(optOut, ['import', file, '--source', 'procon_sp', '--json'], env);
    expect(again.json()).toMatchObject({ added: 0, already_listed: 4 });
  });

  test('an Excel pt-BR export (Windows-1252, ";", "Número;Observação") lands in opt_outs as written, old mobiles with their ninth digit', async () => {
    const [a, c, d] = [freshMobile(), freshMobile(), freshMobile()];
    // An 8-digit mobile from before the ninth digit: DDD + 8 + 7 digits, today DDD + 98 + 7 digits.
    const old = { ddd: a.ddd, local: `8${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}` };
    const oldToday = `+55${old.ddd}9${old.local}`;
    const text = [
      'Número;Observação', // 1
      `(${a.ddd}) ${a.local.slice(0, 5)}-${a.local.slice(5)};não ligar – pediu “SAIR”`, // 2
      `${old.ddd} ${old.local.slice(0, 4)}-${old.local.slice(4)};cadastro antigo`, // 3: ninth digit added
      `"${c.ddd} ${c.local};aspas sem fechar`, // 4: stray quote, rejected
      `${d.ddd} ${d.local};"cobrança; 2ª via € 10,00"`, // 5
      '12345;curto', // 6: rejected
    ].join('\r\n');
    const bytes = cp1252(text + '\r\n');
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0x4e, 0xfa])); // "Nú": one byte per letter, as Excel writes it
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'optout-flow-')), 'lista-excel.csv');
    fs.writeFileSync(file, bytes);

    const r = await cli(optOut, ['import', file, '--source', 'procon_sp', '--json'], env);
    expect({ code: r.code, err: r.errText() }).toEqual({ code: 0, err: '' });
    const out = r.json();
    expect(out).toMatchObject({ encoding: 'windows-1252', delimiter: ';', header: ['Número', 'Observação'], lines_read: 5, valid: 3, added: 3 });
    expect(out.rejected.map((x: any) => x.line)).toEqual([4, 6]);
    expect(out.warnings).toEqual([{ line: 3, message: `8-digit mobile from before the ninth digit: imported as ${oldToday}`, input: expect.any(String) }]);

    expect(await optOutRows([a.e164, oldToday, c.e164, d.e164])).toEqual([
      { phone_number: a.e164, reason: 'não ligar – pediu “SAIR”', source: 'procon_sp', created_by: 'cli:flow-test' },
      { phone_number: oldToday, reason: 'cadastro antigo', source: 'procon_sp', created_by: 'cli:flow-test' },
      { phone_number: d.e164, reason: 'cobrança; 2ª via € 10,00', source: 'procon_sp', created_by: 'cli:flow-test' },
    ]);
    expect(await optOutRows([`+55${old.ddd}${old.local}`])).toEqual([]);
  });

  test('--strict with a rejected line imports nothing; a file with nothing importable exits 1', async () => {
    const [a, b] = [freshMobile(), freshMobile()];
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'optout-flow-')), 'lista.csv');
    fs.writeFileSync(file, `telefone\n${a.e164}\n12345\n${b.e164}\n`);
    const strict = await cli(optOut, ['import', file, '--strict'], env);
    expect(strict.code).toBe(1);
    expect(strict.errText()).toMatch(/line 3: not a valid Brazilian number[\s\S]*--strict: 1 line\(s\) rejected, nothing was imported/);
    expect(await optOutRows([a.e164, b.e164])).toEqual([]);

    fs.writeFileSync(file, 'telefone\n12345\n');
    const nothing = await cli(optOut, ['import', file], env);
    expect(nothing.code).toBe(1);
    expect(nothing.errText()).toMatch(/nothing imported/);
  });

  test('a database that is not there is reported by URL, exit 1', async () => {
    const r = await cli(optOut, ['check', freshMobile().e164], { ...env, SUPABASE_URL: 'http://127.0.0.1:9' });
    expect(r.code).toBe(1);
    expect(r.errText()).toMatch(/could not reach the database at http:\/\/127\.0\.0\.1:9/);
  });
});

describe('numbers sync', () => {
  test('the pool follows the account: bought numbers inserted with their type, a released one deactivated', async () => {
    // Own subaccount: sync deactivates every pool row of its account that Twilio no longer lists.
    const main = createTwilioClient(env.TWILIO_ACCOUNT_SID as string, env.TWILIO_AUTH_TOKEN as string, env.TWILIO_API_BASE_URL);
    const sub = await main.api.v2010.accounts.create({ friendlyName: `flow-sync-${Date.now()}` });
    const subEnv: Env = { ...env, TWILIO_ACCOUNT_SID: sub.sid, TWILIO_AUTH_TOKEN: sub.authToken };

    const pick = async (args: string[]) => {
      const r = await cli(numbers, ['search', ...args, '--limit', '1', '--json'], subEnv);
      expect(r.code).toBe(0);
      return r.json().numbers[0].phone_number as string;
    };
    const mobile = await pick(['--type', 'mobile', '--area-code', '31']);
    const local = await pick(['--type', 'local', '--area-code', '41']);
    const tollFree = await pick(['--type', 'toll-free']);
    for (const n of [mobile, local, tollFree]) {
      const b = await cli(numbers, ['buy', n, '--address-sid', ADDRESS_SID, '--json'], subEnv);
      expect({ n, code: b.code, err: b.errText() }).toEqual({ n, code: 0, err: '' });
    }

    const first = await cli(numbers, ['sync', '--json'], subEnv);
    expect(first.code).toBe(0);
    expect(first.json()).toMatchObject({ inserted: 3, updated: 0, deactivated: 0 });

    const pool = async () => {
      const { data, error } = await db.client
        .from('phone_numbers')
        .select('phone_number, twilio_sid, account_sid, number_type, is_active')
        .eq('account_sid', sub.sid)
        .order('phone_number');
      if (error) throw new Error(error.message);
      return data ?? [];
    };
    const rows = await pool();
    expect(rows.map((r) => [r.phone_number, r.number_type, r.is_active])).toEqual(
      [
        [mobile, 'mobile', true],
        [local, 'local', true],
        [tollFree, 'toll_free', true],
      ].sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    for (const r of rows) expect(r.twilio_sid).toMatch(/^PN[0-9a-f]{32}$/);

    expect((await cli(numbers, ['release', local, '--yes'], subEnv)).code).toBe(0);
    const second = await cli(numbers, ['sync', '--json'], subEnv);
    expect(second.json()).toMatchObject({ inserted: 0, updated: 2, deactivated: 1 });
    const after = Object.fromEntries((await pool()).map((r) => [r.phone_number, r.is_active]));
    expect(after).toEqual({ [mobile]: true, [local]: false, [tollFree]: true });
  });
});
