/**
 * The opt-out list reader on real byte sequences, through the streaming entry point the
 * CLI uses (OptOutCsvReader.read over chunks). Fixtures under tests/fixtures/opt-out are
 * byte-exact exports (their README says how each was made); every test also runs with
 * 1-byte chunks so no decision depends on where a chunk ends.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  ByteDecoder,
  collectOptOutCsv,
  decodeWindows1252,
  detectDelimiter,
  normaliseHeader,
  OptOutCsvError,
  OptOutCsvReader,
  type OptOutCsvOptions,
} from '../../src/lib/domain/opt-out-csv';

const MOBILE = '+5511999999999';
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'opt-out');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name));

async function* chunks(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

/** Reads bytes (a string is UTF-8) in chunks of `size`, and checks 1-byte chunks give the same answer. */
async function read(input: string | Buffer, options: OptOutCsvOptions = {}, size = 4096) {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const result = await collectOptOutCsv(chunks(bytes, size), options);
  expect(await collectOptOutCsv(chunks(bytes, 1), options)).toEqual(result);
  return result;
}

const lineAndNumber = (r: { rows: { line: number; phone_number: string }[] }) => r.rows.map((x) => [x.line, x.phone_number]);

describe('spreadsheet exports, byte for byte', () => {
  test('Excel pt-BR "CSV (separado por vírgulas)": Windows-1252, ";", CRLF, "Número;Observação"', async () => {
    const bytes = fixture('excel-ptbr-windows-1252.csv');
    // Really Windows-1252: "ú" is the single byte 0xFA, and 0x93/0x94/0x96/0x80 are “ ” – €.
    expect([...bytes.subarray(0, 4)]).toEqual([0x4e, 0xfa, 0x6d, 0x65]);
    for (const b of [0x93, 0x94, 0x96, 0x80]) expect(bytes.includes(b)).toBe(true);

    const r = await read(bytes);
    expect(r.encoding).toBe('windows-1252');
    expect(r.delimiter).toBe(';');
    expect(r.header).toEqual(['Número', 'Observação']);
    expect(r.phoneColumn).toEqual({ index: 0, name: 'Número' });
    expect(r.reasonColumn).toEqual({ index: 1, name: 'Observação' });
    expect(r.rows).toEqual([
      { line: 2, phone_number: '+5511987654321', reason: 'não ligar' },
      { line: 3, phone_number: '+5511987654320', reason: 'pediu “parar” – SMS' },
      { line: 4, phone_number: '+552122223333', reason: 'fixo; escritório' },
      { line: 5, phone_number: '+5531998765432', reason: 'cobrança € 10,00' },
      { line: 7, phone_number: '+5511976543210', reason: 'ligação às 7h' },
    ]);
    expect(r.rejected).toEqual([{ line: 6, reason: expect.stringMatching(/^not a valid Brazilian number/), input: '12345' }]);
    expect(r.warnings).toEqual([
      { line: 3, message: '8-digit mobile from before the ninth digit: imported as +5511987654320', input: '11 8765-4320' },
      { line: 7, message: '8-digit mobile from before the ninth digit: imported as +5511976543210', input: '+55 11 7654-3210' },
    ]);
  });
});
