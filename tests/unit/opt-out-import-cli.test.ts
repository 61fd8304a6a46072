/**
 * `opt-out import` without a database (--dry-run): what it reports, where, and its exit
 * codes. The same command against the local stack is in tests/flow/opt-out-and-numbers.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Io } from '../../scripts/lib/cli';
import { run as optOut } from '../../scripts/opt-out';

function capture(): Io & { stdout: string[]; stderr: string[]; json(): any } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l), json: () => JSON.parse(stdout.join('\n')) };
}

function file(content: string | Buffer, name = 'lista.csv'): string {
  const p = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'optout-cli-')), name);
  fs.writeFileSync(p, content);
  return p;
}

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'opt-out');

test('a Windows-1252 Excel export: format, rejected lines and warnings by line number on stderr, the summary on stdout', async () => {
  const io = capture();
  expect(await optOut(['import', path.join(FIXTURES, 'excel-ptbr-windows-1252.csv'), '--dry-run'], {}, io)).toBe(0);
  expect(io.stderr).toEqual([
    'line 3: warning: 8-digit mobile from before the ninth digit: imported as +5511987654320 ("11 8765-4320")',
    expect.stringMatching(/^line 6: not a valid Brazilian number .* \("12345"\)$/),
    'line 7: warning: 8-digit mobile from before the ninth digit: imported as +5511976543210 ("+55 11 7654-3210")',
  ]);
  expect(io.stdout.slice(-2)).toEqual([
    `${path.join(FIXTURES, 'excel-ptbr-windows-1252.csv')}: windows-1252, ';' separated, header Número | Observação; phone column "Número", reason column "Observação"`,
    '6 lines read: 5 would be sent, 0 repeated in the file, 1 rejected, 2 with the mobile ninth digit added',
  ]);
});

test('several phone columns: each is named in the format line, each number is reported and sent', async () => {
  const io = capture();
  const csv = path.join(FIXTURES, 'two-phone-columns.csv');
  expect(await optOut(['import', csv, '--dry-run'], {}, io)).toBe(0);
  expect(io.stderr).toEqual([expect.stringMatching(/^line 5: Telefone Celular: not a valid Brazilian number .* \("12345"\)$/)]);
  expect(io.stdout.slice(-2)).toEqual([
    `${csv}: utf-8, ';' separated, header Nome | Telefone | Telefone Celular; phone columns "Telefone", "Telefone Celular"`,
    '4 lines read (6 numbers): 5 would be sent, 0 repeated in the file, 1 rejected',
  ]);
});

test('--json keeps stdout one JSON document, with the rejected lines and warnings in it', async () => {
  const io = capture();
  expect(await optOut(['import', path.join(FIXTURES, 'utf8-bom-sep.csv'), '--dry-run', '--json'], {}, io)).toBe(0);
  const out = io.json();
  expect(out).toMatchObject({ encoding: 'utf-8', delimiter: ';', header: ['fone', 'obs'], lines_read: 2, valid: 2, rejected_count: 0, batches: 1 });
  expect(out.steps[0].args.p_rows).toEqual([
    { phone_number: '+5511987654324', reason: 'ação' },
    { phone_number: '+5511987654325', reason: null },
  ]);
  expect(io.stderr).toEqual([]);
});

test('nothing importable: exit 1 with the reason, after reporting the lines', async () => {
  const io = capture();
  expect(await optOut(['import', file('telefone\n12345\nabc\n'), '--dry-run'], {}, io)).toBe(1);
  expect(io.stderr[0]).toMatch(/^line 2: not a valid Brazilian number/);
  expect(io.stderr[1]).toMatch(/^line 3: no digits/);
  expect(io.stderr.at(-1)).toMatch(/^error: nothing imported: no line of .* holds a number that can be imported$/);

  const empty = capture();
  expect(await optOut(['import', file(''), '--dry-run', '--json'], {}, empty)).toBe(1);
  expect(JSON.parse(empty.stderr.at(-1)!).error.code).toBe('NOTHING_IMPORTED');
});

test('--strict: any rejected line fails the import before anything is sent', async () => {
  const bad = file('telefone\n11 98765-4321\n12345\n11 98765-4322\n');
  const io = capture();
  expect(await optOut(['import', bad, '--strict', '--dry-run', '--json'], {}, io)).toBe(1);
  const out = io.json();
  expect(out.rejected.map((r: any) => r.line)).toEqual([3]);
  expect(out.steps).toBeUndefined();
  expect(JSON.parse(io.stderr.at(-1)!).error).toEqual({ code: 'REJECTED_LINES', message: '--strict: 1 line(s) rejected, nothing was imported' });

  // Without --strict the same file imports its good lines, exit 0.
  const lenient = capture();
  expect(await optOut(['import', bad, '--dry-run', '--json'], {}, lenient)).toBe(0);
  expect(lenient.json().steps[0].args.p_rows.map((r: any) => r.phone_number)).toEqual(['+5511987654321', '+5511987654322']);

  // A clean file passes --strict; warnings are not rejections.
  const clean = capture();
  expect(await optOut(['import', file('telefone\n11 98765-4321\n11 8765-4322\n'), '--strict', '--dry-run', '--json'], {}, clean)).toBe(0);
  expect(clean.json()).toMatchObject({ valid: 2, warnings_count: 1 });
});

test('progress goes to stderr while reading, never to stdout', async () => {
  const lines = Array.from({ length: 5000 }, (_, i) => `11 9${String(80000000 + i)}`);
  const io = capture();
  expect(await optOut(['import', file('telefone\n' + lines.join('\n') + '\n'), '--dry-run', '--json', '--progress', '--progress-ms', '0'], {}, io)).toBe(0);
  expect(io.json().valid).toBe(5000);
  const progress = io.stderr.filter((l) => /^… [\d,]+ lines read, [\d,]+ valid, 0 rejected \(\d+\.\d s\)$/.test(l));
  expect(progress.length).toBeGreaterThanOrEqual(4);
  expect(progress).toEqual(io.stderr);

  const quiet = capture();
  expect(await optOut(['import', file('telefone\n' + lines.join('\n') + '\n'), '--dry-run', '--json', '--progress-ms', '0'], {}, quiet)).toBe(0);
  expect(quiet.stderr).toEqual([]);
});

test('a file that cannot be read, a directory, and a bad --encoding are usage errors (exit 2)', async () => {
  const io = capture();
  expect(await optOut(['import', '/nonexistent/lista.csv', '--dry-run'], {}, io)).toBe(2);
  expect(io.stderr.join('\n')).toMatch(/cannot read \/nonexistent\/lista.csv: ENOENT/);
  expect(await optOut(['import', os.tmpdir(), '--dry-run'], {}, capture())).toBe(2);
  expect(await optOut(['import', file('telefone\n'), '--encoding', 'latin9', '--dry-run'], {}, capture())).toBe(2);
});

test('--delimiter tab and --encoding read what detection would not', async () => {
  const io = capture();
  const bytes = Buffer.from('telefone\tmotivo\n11 98765-4321\tn\xe3o\n', 'latin1');
  expect(await optOut(['import', file(bytes), '--delimiter', 'tab', '--encoding', 'windows-1252', '--dry-run', '--json'], {}, io)).toBe(0);
  expect(io.json().steps[0].args.p_rows).toEqual([{ phone_number: '+5511987654321', reason: 'não' }]);
});
