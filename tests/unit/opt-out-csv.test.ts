/**
 * The opt-out list reader on real byte sequences, through the streaming entry point the
 * CLI uses (OptOutCsvReader.read over chunks). Fixtures under tests/fixtures/opt-out are
 * byte-exact exports (their README says how each was made); every test also runs with
 * 1-byte chunks so no decision depends on where a chunk ends.
 */
import fs from 'node:fs';
import fc from 'fast-check';
import path from 'node:path';
import {
  ByteDecoder,
  collectOptOutCsv,
  decodeWindows1252,
  detectDelimiter,
  normaliseHeader,
  OptOutCsvError,
  OptOutCsvReader,
  type OptOutCsvEvent,
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

describe('encodings', () => {
  test('Excel "Unicode text": UTF-16LE with BOM, tab separated, "Telefone Celular" header', async () => {
    const bytes = fixture('excel-unicode-text-utf16le.txt');
    expect([...bytes.subarray(0, 4)]).toEqual([0xff, 0xfe, 0x54, 0x00]);
    const r = await read(bytes);
    expect(r.encoding).toBe('utf-16le');
    expect(r.delimiter).toBe('\t');
    expect(r.header).toEqual(['Telefone Celular', 'Nome', 'Motivo']);
    expect(r.phoneColumn).toEqual({ index: 0, name: 'Telefone Celular' });
    expect(r.rows).toEqual([
      { line: 2, phone_number: '+5511987654322', reason: 'SAIR' },
      { line: 3, phone_number: '+5511987654340', reason: 'pediu por e-mail' },
    ]);
    expect(r.warnings.map((w) => [w.line, w.input])).toEqual([[3, '11 8765-4340']]);
    expect(r.rejected).toEqual([{ line: 4, reason: 'no digits in phone number', input: 'sem número' }]);
  });

  test('UTF-16BE with BOM, "," separated, quoted field with a comma, a carrier code and an old mobile', async () => {
    const bytes = fixture('utf16be-bom.csv');
    expect([...bytes.subarray(0, 4)]).toEqual([0xfe, 0xff, 0x00, 0x63]);
    const r = await read(bytes);
    expect(r.encoding).toBe('utf-16be');
    expect(r.delimiter).toBe(',');
    expect(r.rows).toEqual([
      { line: 2, phone_number: '+5511987654323', reason: 'ligou, reclamou' },
      { line: 3, phone_number: '+5511987654341', reason: 'ção' },
    ]);
    expect(r.warnings.map((w) => [w.line, w.input])).toEqual([[3, '0 15 11 8765-4341']]);
  });

  test('UTF-8 with BOM and Excel\'s sep=; first line: line numbers still count the sep line', async () => {
    const bytes = fixture('utf8-bom-sep.csv');
    expect([...bytes.subarray(0, 7)]).toEqual([0xef, 0xbb, 0xbf, ...Buffer.from('sep=')]);
    const r = await read(bytes);
    expect(r.encoding).toBe('utf-8');
    expect(r.sepLine).toBe(true);
    expect(r.header).toEqual(['fone', 'obs']);
    expect(r.rows).toEqual([
      { line: 3, phone_number: '+5511987654324', reason: 'ação' },
      { line: 4, phone_number: '+5511987654325', reason: null },
    ]);
    expect(r.linesRead).toBe(2);
  });

  test('UTF-8 without BOM: "," separated, a quoted field with commas, doubled quotes and a line break', async () => {
    const r = await read(fixture('utf8-comma-multiline.csv'));
    expect(r.encoding).toBe('utf-8');
    expect(r.delimiter).toBe(',');
    expect(r.header).toEqual(['Nome', 'Telefone', 'Observação']);
    expect(r.rows).toEqual([
      { line: 2, lastLine: 3, phone_number: '+5511987654326', reason: 'disse "não",\nligou de novo' },
      { line: 4, phone_number: '+5511987654327', reason: 'ok' },
    ]);
  });

  test('the same text in Windows-1252 and in UTF-8 reads the same; UTF-8 is chosen only when the bytes are valid UTF-8', async () => {
    const text = 'telefone;observação\n11 98765-4321;não ligar — “SAIR”\n';
    const utf8 = await read(Buffer.from(text, 'utf8'));
    const cp1252 = await read(Buffer.from([...text].map((ch) => ({ ç: 0xe7, ã: 0xe3, '—': 0x97, '“': 0x93, '”': 0x94 })[ch] ?? ch.charCodeAt(0))));
    expect(utf8.encoding).toBe('utf-8');
    expect(cp1252.encoding).toBe('windows-1252');
    expect(cp1252.rows).toEqual(utf8.rows);
    expect(utf8.rows[0]?.reason).toBe('não ligar — “SAIR”');
  });

  test('the choice is made at the first non-ASCII byte, however far into the file', async () => {
    const ascii = Array.from({ length: 3000 }, (_, i) => `11 9${String(87650000 + i)};ok`).join('\n');
    const bytes = Buffer.concat([Buffer.from('telefone;motivo\n' + ascii + '\n11 98765-9999;'), Buffer.from([0x6e, 0xe3, 0x6f]), Buffer.from('\n')]);
    const r = await collectOptOutCsv(chunks(bytes, 1000));
    expect(r.encoding).toBe('windows-1252');
    expect(r.rows.at(-1)).toEqual({ line: 3002, phone_number: '+5511987659999', reason: 'não' });
  });

  test('Windows-1252 bytes 0x80-0x9F follow the WHATWG table (Node\'s TextDecoder reads them as Latin-1)', () => {
    expect(decodeWindows1252(Buffer.from([0x80, 0x93, 0x94, 0x96, 0x97, 0x9f, 0x81, 0xe9]))).toBe('€“”–—Ÿ\u0081é');
  });

  test('UTF-16 without a BOM is recognised by its zero bytes; a forced encoding wins', async () => {
    const le = await read(Buffer.from('telefone\n11 98765-4321\n', 'utf16le'));
    expect(le.encoding).toBe('utf-16le');
    expect(le.rows.map((x) => x.phone_number)).toEqual(['+5511987654321']);
    const forced = await read(Buffer.from('telefone;motivo\n11 98765-4321;Ã©\n', 'utf8'), { encoding: 'windows-1252' });
    expect(forced.rows[0]?.reason).toBe('ÃƒÂ©');
  });

  test('a UTF-8 character cut by a chunk boundary does not switch the file to Windows-1252', () => {
    const d = new ByteDecoder();
    const bytes = Buffer.from('ação', 'utf8');
    expect(d.write(bytes.subarray(0, 2)) + d.write(bytes.subarray(2)) + d.end()).toBe('ação');
    expect(d.encoding).toBe('utf-8');
  });
});

describe('separators and quotes', () => {
  test('the delimiter is the one that splits the first lines evenly, not the most frequent character of line 1', () => {
    expect(detectDelimiter(['numero;motivo', '11 99999-9999;"ligou, reclamou, pediu, parar"'])).toBe(';');
    expect(detectDelimiter(['"Silva; Ana",celular', '"Souza; Bia",11 99999-9999'])).toBe(',');
    expect(detectDelimiter(['a;b,c;d'])).toBe(';');
    expect(detectDelimiter(['nome,telefone,motivo', 'Ana,11 99999-9999,ligou; pediu', 'Bia,21 2222-3333,x'])).toBe(',');
    expect(detectDelimiter(['telefone\tmotivo', '11 99999-9999\tpediu, por SMS; hoje'])).toBe('\t');
    expect(detectDelimiter(['telefone', '11 99999-9999'])).toBe(';');
  });

  test('; and , with quoted fields containing them', async () => {
    const semi = await read('numero;motivo\n"11 99999-9999";"pediu; por SMS"\n');
    expect(semi.delimiter).toBe(';');
    expect(semi.rows).toEqual([{ line: 2, phone_number: MOBILE, reason: 'pediu; por SMS' }]);

    const comma = await read('nome,celular,motivo\n"Silva, Ana","(11) 99999-9999","ligou, reclamou"\n');
    expect(comma.delimiter).toBe(',');
    expect(comma.phoneColumn).toEqual({ index: 1, name: 'celular' });
    expect(comma.rows).toEqual([{ line: 2, phone_number: MOBILE, reason: 'ligou, reclamou' }]);
  });

  test('a stray quote spoils only its own line: that line is reported and the rest is imported', async () => {
    const r = await read(fixture('stray-quote.csv'));
    expect(lineAndNumber(r)).toEqual([
      [2, '+5511987654328'],
      [4, '+5511987654330'],
      [5, '+5511987654331'],
    ]);
    expect(r.rejected).toEqual([
      { line: 3, reason: 'unreadable CSV: a quote (") opened on line 3 is never closed; line 3 skipped', input: '"11 98765-4329;sem fechar' },
    ]);
  });

  test('an unclosed quote at the end of a long quote-free file costs one line, not the rest of the file', async () => {
    const body = Array.from({ length: 200 }, (_, i) => `11 9${String(80000000 + i)};x`);
    body[10] = '"' + body[10];
    const r = await read('telefone;motivo\n' + body.join('\n') + '\n');
    expect(r.rejected.map((x) => x.line)).toEqual([12]);
    expect(r.rows).toHaveLength(199);
  });

  test('a line over 1 MiB is reported without being held; the lines around it are imported', async () => {
    const bytes = Buffer.from(`telefone;motivo\n11 98765-4321;a\n11 98765-4322;${'x'.repeat(1_200_000)}\n11 98765-4323;c\n`);
    const r = await collectOptOutCsv(chunks(bytes, 65536));
    expect(lineAndNumber(r)).toEqual([
      [2, '+5511987654321'],
      [4, '+5511987654323'],
    ]);
    expect(r.rejected).toEqual([{ line: 3, reason: 'unreadable CSV: line longer than 1048576 characters; line 3 skipped', input: '' }]);
  });

  test('text after a closing quote is reported; a quote inside an unquoted field is text', async () => {
    const r = await read('telefone;motivo\n"11 99999-9999"x;a\n11 98888-7777;disse "chega"\n');
    expect(r.rejected).toEqual([{ line: 2, reason: 'unreadable CSV: stray quote (") in field 1; line 2 skipped', input: '"11 99999-9999"x;a' }]);
    expect(r.rows).toEqual([{ line: 3, phone_number: '+5511988887777', reason: 'disse "chega"' }]);
  });

  test('a quoted field spanning lines keeps later line numbers right', async () => {
    const r = await read('telefone;motivo\n11 99999-9999;"linha um\nlinha dois"\n12;x\n21 2222-3333;y\n');
    expect(r.rows.map((x) => [x.line, x.reason])).toEqual([
      [2, 'linha um\nlinha dois'],
      [5, 'y'],
    ]);
    expect(r.rejected.map((x) => x.line)).toEqual([4]);
  });

  test('CRLF, lone CR (old Mac exports) and blank lines do not shift line numbers', async () => {
    const r = await read(Buffer.from('\uFEFFtelefone\r\n11 99999-9999\r\n\r\nxyz\r21 2222-3333\r', 'utf8'));
    expect(r.header).toEqual(['telefone']);
    expect(lineAndNumber(r)).toEqual([
      [2, MOBILE],
      [5, '+552122223333'],
    ]);
    expect(r.rejected.map((x) => x.line)).toEqual([4]);
    expect(r.blankLines).toBe(1);
  });

  test('an explicit delimiter overrides detection', async () => {
    const r = await read('telefone,motivo\n11 99999-9999,x\n', { delimiter: ';' });
    expect(r.delimiter).toBe(';');
    expect(r.header).toEqual(['telefone,motivo']);
    expect(r.reasonColumn).toBeNull();
  });
});

describe('headers', () => {
  test.each([
    ['Número', 'Observação'],
    ['NUMERO', 'OBSERVACAO'],
    ['telefone', 'obs'],
    ['Telefone Celular', 'Motivo'],
    ['celular', 'observações'],
    ['Fone', 'motivo'],
    ['phone', 'reason'],
  ])('"%s;%s" is a header with its phone and reason columns', async (phone, reason) => {
    const r = await read(`${phone};${reason}\n11 99999-9999;pediu\n`);
    expect(r.header).toEqual([phone, reason]);
    expect(r.rows).toEqual([{ line: 2, phone_number: MOBILE, reason: 'pediu' }]);
  });

  test('the phone column is found by name wherever it is, or by its values when no name says', async () => {
    const named = await read('Cliente;Número\nAna;11 99999-9999\n');
    expect(named.phoneColumn).toEqual({ index: 1, name: 'Número' });
    expect(named.rows.map((x) => x.phone_number)).toEqual([MOBILE]);

    const byValues = await read('nome;contatos;cpf\nAna;11 99999-9999;123\nBia;21 2222-3333;456\n');
    expect(byValues.header).toEqual(['nome', 'contatos', 'cpf']);
    expect(byValues.phoneColumn).toEqual({ index: 1, name: 'contatos' });
    expect(byValues.rows).toHaveLength(2);

    expect(normaliseHeader('  Número do Celular ')).toBe('numero_do_celular');
    expect(normaliseHeader('Nº Telefone')).toBe('no_telefone');
  });

  test('a separate DDD column completes numbers written without it', async () => {
    const r = await read('DDD;Telefone\n11;99999-9999\n021;2222-3333\n');
    expect(r.rows.map((x) => x.phone_number)).toEqual([MOBILE, '+552122223333']);
  });

  test('no header: the first line is data', async () => {
    const r = await read('11 99999-9999;x\n21 2222-3333;y\n');
    expect(r.header).toBeNull();
    expect(r.rows.map((x) => x.line)).toEqual([1, 2]);
    expect(r.rows.map((x) => x.reason)).toEqual([null, null]);
  });

  test('no header and a bad first line: line 1 is reported, not taken for a header', async () => {
    const r = await read(fixture('headerless-bad-first-line.csv'));
    expect(r.header).toBeNull();
    expect(r.rejected).toEqual([
      { line: 1, reason: expect.stringMatching(/^letters in phone number \(no header was recognised on line 1/), input: '1234-5678 ramal 2' },
    ]);
    expect(lineAndNumber(r)).toEqual([
      [2, '+5511987654332'],
      [3, '+5511987654333'],
    ]);
    const short = await read('12345;curto\n11 99999-9999;ok\n');
    expect(short.rejected.map((x) => x.line)).toEqual([1]);
    const words = await read('abc;letras\n11 99999-9999;ok\n');
    expect(words.header).toBeNull();
    expect(words.rejected.map((x) => [x.line, x.reason.split(' (')[0]])).toEqual([[1, 'no digits in phone number']]);
  });

  test('--column picks a column by name or 1-based number, and names a missing one', async () => {
    const csv = 'fixo;celular\n11 3333-4444;11 99999-9999\n';
    expect((await read(csv, { column: 'CELULAR' })).rows.map((x) => x.phone_number)).toEqual([MOBILE]);
    expect((await read(csv, { column: '1' })).rows.map((x) => x.phone_number)).toEqual(['+551133334444']);
    await expect(read(csv, { column: 'telefone' })).rejects.toThrow(OptOutCsvError);
    await expect(read(csv, { column: 'telefone' })).rejects.toThrow(/no column named "telefone"/);
    await expect(read('11 99999-9999\n', { column: 'telefone' })).rejects.toThrow(/no header row/);
  });
});

describe('numbers', () => {
  test('the Brazilian spreadsheet formats become E.164', async () => {
    const csv = [
      'telefone',
      '(11) 99999-9999',
      '011 9 8888-7777',
      '0 15 11 97777-6666',
      '0055 11 96666-5555',
      '0 xx 11 95555-4444',
      '0xx21 2222-3333',
      '+55 11 3333-4444',
      '5511944443333',
    ].join('\n');
    const r = await read(csv);
    expect(r.rejected).toEqual([]);
    expect(lineAndNumber(r)).toEqual([
      [2, '+5511999999999'],
      [3, '+5511988887777'],
      [4, '+5511977776666'],
      [5, '+5511966665555'],
      [6, '+5511955554444'],
      [7, '+552122223333'],
      [8, '+551133334444'],
      [9, '+5511944443333'],
    ]);
  });

  test('old 8-digit mobiles (6-9) get the ninth digit with a warning; landlines (2-5) stay as they are', async () => {
    const r = await read(
      ['telefone', '11 8765-4321', '(11) 8765-4322', '+55 11 8765-4323', '21 6543-2109', '11 3333-4444', '8765-4324'].join('\n'),
    );
    expect(lineAndNumber(r)).toEqual([
      [2, '+5511987654321'],
      [3, '+5511987654322'],
      [4, '+5511987654323'],
      [5, '+5521965432109'],
      [6, '+551133334444'],
    ]);
    expect(r.warnings.map((w) => [w.line, w.input])).toEqual([
      [2, '11 8765-4321'],
      [3, '(11) 8765-4322'],
      [4, '+55 11 8765-4323'],
      [5, '21 6543-2109'],
    ]);
    // Without an area code the number cannot be completed.
    expect(r.rejected.map((x) => x.line)).toEqual([7]);
  });

  test('every bad line is reported with its line number and reason; the rest is kept', async () => {
    const csv = [
      'telefone;motivo', // 1
      '(11) 99999-9999;pediu', // 2
      '12345;curto', // 3
      ';sem numero', // 4
      '11 98888-7777;a;b', // 5 wrong column count
      'abc;letras', // 6
      '', // 7 blank: skipped, not an error
      '(11) 99999-99999;dígito a mais', // 8
      '5,51199E+12;notação científica', // 9
      '21 2222-3333;ok', // 10
    ].join('\n');
    const r = await read(csv);
    expect(r.rows.map((x) => [x.line, x.phone_number, x.reason])).toEqual([
      [2, MOBILE, 'pediu'],
      [10, '+552122223333', 'ok'],
    ]);
    const byLine = Object.fromEntries(r.rejected.map((x) => [x.line, x]));
    expect(Object.keys(byLine).map(Number)).toEqual([3, 4, 5, 6, 8, 9]);
    expect(byLine[3]?.reason).toMatch(/not a valid Brazilian number \(5 digits/);
    expect(byLine[3]?.input).toBe('12345');
    expect(byLine[4]?.reason).toBe('empty phone number');
    expect(byLine[5]?.reason).toBe('wrong number of columns: expected 2, found 3');
    expect(byLine[6]?.reason).toBe('no digits in phone number');
    expect(byLine[8]?.reason).toMatch(/not a valid Brazilian number/);
    expect(byLine[9]?.reason).toMatch(/scientific notation/);
    expect(r.blankLines).toBe(1);
    expect(r.linesRead).toBe(r.rows.length + r.rejected.length + r.duplicates.length);
    expect(r.linesRead).toBe(8);
  });

  test('repeats within the file are imported once and reported with the first line', async () => {
    const r = await read('telefone\n(11) 99999-9999\n011 9 9999-9999\n+5511999999999\n');
    expect(r.rows).toHaveLength(1);
    expect(r.duplicates).toEqual([
      { line: 3, phone_number: MOBILE, first_line: 2 },
      { line: 4, phone_number: MOBILE, first_line: 2 },
    ]);
  });

  test('default reason fills rows without a reason cell', async () => {
    const r = await read('telefone;motivo\n11 99999-9999;\n21 2222-3333;pediu\n', { defaultReason: 'lista Procon' });
    expect(r.rows.map((x) => x.reason)).toEqual(['lista Procon', 'pediu']);
  });
});

describe('streaming', () => {
  test('rows come out before the input ends', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let ended = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('telefone\n' + Array.from({ length: 100 }, (_, i) => `11 9${String(80000000 + i)}`).join('\n') + '\n');
      await gate; // the rest of the file arrives only after the first rows were seen
      ended = true;
      yield Buffer.from('21 2222-3333\n');
    }
    const reader = new OptOutCsvReader();
    const seen: { line: number; endedBefore: boolean }[] = [];
    for await (const ev of reader.read(source())) {
      if (ev.kind !== 'row') continue;
      seen.push({ line: ev.row.line, endedBefore: ended });
      if (seen.length === 1) release();
    }
    expect(seen).toHaveLength(101);
    expect(seen[0]).toEqual({ line: 2, endedBefore: false });
    expect(seen.at(-1)).toEqual({ line: 102, endedBefore: true });
  });

  test('memory for repeats is bounded: numbers further apart than rememberNumbers pass through', async () => {
    // rememberNumbers 4: the last 2 to 4 distinct numbers are remembered.
    const r = await read('telefone\n11 99999-9991\n11 99999-9992\n11 99999-9993\n11 99999-9993\n11 99999-9994\n11 99999-9995\n11 99999-9991\n11 99999-9995\n', {
      rememberNumbers: 4,
    });
    expect(r.rows.map((x) => x.line)).toEqual([2, 3, 4, 6, 7, 8]);
    expect(r.duplicates.map((x) => [x.line, x.first_line])).toEqual([
      [5, 4],
      [9, 7],
    ]);
  });
});

describe('which columns hold the numbers', () => {
  test('"Número do Contrato;Fone Res.;Nome": the contract number is never taken for a phone', async () => {
    const r = await read(fixture('phone-column-contract-number.csv'));
    expect(r.header).toEqual(['Número do Contrato', 'Fone Res.', 'Nome']);
    expect(r.phoneColumns).toEqual([{ index: 1, name: 'Fone Res.' }]);
    expect(lineAndNumber(r)).toEqual([
      [2, '+5511987654401'],
      [3, '+552122224402'],
    ]);
    expect(r.rejected).toEqual([]);
  });

  test('"Nome;Endereço;Número;Fone": Fone ranks above a bare Número (here the house number)', async () => {
    const r = await read(fixture('phone-column-house-number.csv'));
    expect(r.phoneColumns).toEqual([{ index: 3, name: 'Fone' }]);
    expect(lineAndNumber(r)).toEqual([
      [2, '+5511987654403'],
      [3, '+552122224404'],
    ]);
    expect(r.rejected).toEqual([]);
  });

  test('"Nome;Telefone;Telefone Celular": both numbers of a line are imported, each reported on its own', async () => {
    const r = await read(fixture('two-phone-columns.csv'));
    expect(r.phoneColumns).toEqual([
      { index: 1, name: 'Telefone' },
      { index: 2, name: 'Telefone Celular' },
    ]);
    expect(lineAndNumber(r)).toEqual([
      [2, '+551133334405'],
      [2, '+5511987654406'],
      [3, '+5511987654407'],
      [4, '+552122224408'],
      [5, '+551133334409'],
    ]);
    // An empty cell of a second phone column is nothing to report; a bad one is, by column.
    expect(r.rejected).toEqual([{ line: 5, reason: expect.stringMatching(/^Telefone Celular: not a valid Brazilian number/), input: '12345' }]);
    expect(r.linesRead).toBe(4);
  });

  test('Telefone 1, Telefone 2 and WhatsApp are all read; the CPF column never is; a number repeated on its own line is a repeat', async () => {
    const r = await read(fixture('telefone-1-2-whatsapp.csv'));
    expect(r.phoneColumns.map((c) => c.name)).toEqual(['Telefone 1', 'Telefone 2', 'WhatsApp']);
    expect(lineAndNumber(r)).toEqual([
      [2, '+551133334410'],
      [2, '+5511987654411'],
      [3, '+5521998764412'],
    ]);
    expect(r.duplicates).toEqual([{ line: 2, phone_number: '+5511987654411', first_line: 2 }]);
    expect(r.rejected).toEqual([]);
  });

  test('names that say something else are never phone columns, whatever phone word they hold', async () => {
    for (const [csv, name] of [
      ['Número do Pedido;Celular\n1198765432;11 98765-4431\n', 'Celular'],
      ['CPF;Telefone\n11987654432;11 98765-4432\n', 'Telefone'],
      ['Operadora Celular;Data;Tel\nVivo;11/03/2026;11 98765-4433\n', 'Tel'],
      ['Protocolo;Contato\n11987654434;11 98765-4434\n', 'Contato'],
    ] as const) {
      const r = await read(csv);
      expect(r.phoneColumns.map((c) => c.name)).toEqual([name]);
      expect(r.rows).toHaveLength(1);
    }
  });

  test('a phone word does not save a column whose name says it is something else, even when its values look like phones', async () => {
    const r = await read('Protocolo WhatsApp;Celular;Contrato Fone\n21987654437;11 98765-4437;2134567890\n31987654438;11 98765-4438;3134567891\n');
    expect(r.phoneColumns).toEqual([{ index: 1, name: 'Celular' }]);
    expect(r.rows.map((x) => x.phone_number)).toEqual(['+5511987654437', '+5511987654438']);
  });

  test('when no column holds numbers yet, the phone-named one is read (its lines reported), not a bare Número', async () => {
    const r = await read('Nome;Número;Fone\nAna;123;sem telefone\nBia;4500;\n');
    expect(r.phoneColumns).toEqual([{ index: 2, name: 'Fone' }]);
    expect(r.rows).toEqual([]);
    expect(r.rejected.map((x) => [x.line, x.reason])).toEqual([
      [2, 'no digits in phone number'],
      [3, 'empty phone number'],
    ]);
  });

  test('a header with no phone column and no column of numbers is an error, not a file of rejections', async () => {
    await expect(read('Nome;CPF;Endereço\nAna;123.456.789-09;Rua A, 12\n')).rejects.toThrow(/no phone column/);
  });

  test('a bare "Número" is the phone column when nothing better is named and its values are numbers', async () => {
    const r = await read('Nome;Número\nAna;11 98765-4435\nBia;21 2222-4436\n');
    expect(r.phoneColumns).toEqual([{ index: 1, name: 'Número' }]);
    expect(r.rows).toHaveLength(2);
  });
});

describe('headerless files keep their first line', () => {
  test('"11 98765-4321;email": a line with a phone number is never a header', async () => {
    const r = await read(fixture('headerless-phone-first.csv'));
    expect(r.header).toBeNull();
    expect(lineAndNumber(r)).toEqual([
      [1, '+5511987654413'],
      [2, '+5511987654414'],
    ]);
    expect(r.linesRead).toBe(2);
  });

  test('"Nome;11 98765-4321": the same, with the number in the second column', async () => {
    const r = await read(fixture('headerless-name-phone.csv'));
    expect(r.header).toBeNull();
    expect(r.phoneColumns).toEqual([{ index: 1, name: null }]);
    expect(lineAndNumber(r)).toEqual([
      [1, '+5511987654415'],
      [2, '+5511987654416'],
    ]);
  });

  test('--column by name on a file whose first line holds a number says there is no header', async () => {
    await expect(read(fixture('headerless-phone-first.csv'), { column: 'telefone' })).rejects.toThrow(/no header row \(line 1 is "11 98765-4413;email"\)/);
  });
});

describe('stray quotes and ragged rows lose no good line', () => {
  test('an unclosed quote on line 2 closed by a stray one on line 4: line 2 is reported, lines 3 and 4 are read on their own', async () => {
    const r = await read(fixture('stray-quotes-span-lines.csv'));
    expect(r.rejected).toEqual([
      {
        line: 2,
        reason: 'unreadable CSV: a quote (") on line 2 runs to line 4 and leaves 1 column instead of 2; line 2 skipped',
        input: '"11 98765-4417;pediu',
      },
    ]);
    expect(r.rows).toEqual([
      { line: 3, phone_number: '+5511987654418', reason: 'sms' },
      { line: 4, phone_number: '+5511987654419', reason: 'chega"' },
      { line: 5, phone_number: '+5511987654420', reason: 'ok' },
    ]);
    expect(r.linesRead).toBe(4);
  });

  test('a quote that carries line breaks into the phone cell: the first line is reported, the next ones re-read', async () => {
    const r = await read(fixture('stray-quote-into-phone-cell.csv'));
    expect(r.rejected).toEqual([
      {
        line: 2,
        reason: 'unreadable CSV: a quote (") on line 2 runs to line 4 and leaves a line break in the phone number; line 2 skipped',
        input: '"11 98765-4421;pediu',
      },
      { line: 4, reason: 'no digits in phone number', input: 'fim"' },
    ]);
    expect(lineAndNumber(r)).toEqual([
      [3, '+5511987654422'],
      [5, '+5511987654423'],
    ]);
  });

  test('a short row is padded with empty cells; extra cells are fine when empty and reported when not', async () => {
    const r = await read(fixture('ragged-rows.csv'));
    expect(r.rows).toEqual([
      { line: 2, phone_number: '+5511987654424', reason: 'pediu' },
      { line: 3, phone_number: '+5511987654425', reason: null },
      { line: 4, phone_number: '+5511987654426', reason: null },
    ]);
    expect(r.rejected).toEqual([{ line: 5, reason: 'wrong number of columns: expected 3, found 4', input: 'Dora;11 98765-4427;;x' }]);
  });

  test('"11 98765-4321;" under a one-column header is imported', async () => {
    const r = await read(fixture('one-column-trailing-separator.csv'));
    expect(r.header).toEqual(['telefone']);
    expect(lineAndNumber(r)).toEqual([
      [2, '+5511987654428'],
      [3, '+5511987654429'],
      [4, '+5511987654430'],
    ]);
    expect(r.rejected).toEqual([]);
  });
});

describe('every physical line is accounted for exactly once', () => {
  type Mode = 'one' | 'two' | 'none';
  /** A generated line: its physical text(s) and, for a quote-free good line, the numbers it must yield. */
  type Gen = { texts: string[]; numbers?: string[]; quoteFree: boolean };

  const phone = fc.integer({ min: 0, max: 99_999_999 }).map((n) => {
    const d = String(n).padStart(8, '0');
    return { text: `11 9${d.slice(0, 4)}-${d.slice(4)}`, e164: `+55119${d}` };
  });
  const junk = fc.stringMatching(/^[0-9xy ;"]{0,10}$/).map((j) => j + 'z');
  const line = (mode: Mode): fc.Arbitrary<Gen> => {
    const good = fc.tuple(phone, phone).map(([a, b]) =>
      mode === 'two'
        ? { cells: ['Ana', a.text, b.text, 'pediu'], numbers: [a.e164, b.e164] }
        : // Headerless lines hold a column name ("email") next to the number: still data.
          { cells: [a.text, mode === 'none' ? 'email' : 'pediu'], numbers: [a.e164] },
    );
    const join = (cells: string[]) => cells.join(';');
    return fc.oneof(
      { weight: 6, arbitrary: good.map((g) => ({ texts: [join(g.cells)], numbers: g.numbers, quoteFree: true })) },
      { weight: 1, arbitrary: good.map((g) => ({ texts: [join(g.cells.map((c, i) => (i === g.cells.length - 1 ? c : c.startsWith('1') ? '12345' : c)))], quoteFree: true })) },
      { weight: 1, arbitrary: fc.constantFrom('', ';', ' ; ').map((t) => ({ texts: [t], quoteFree: true })) },
      { weight: 1, arbitrary: good.map((g) => ({ texts: ['"' + join(g.cells)], quoteFree: false })) },
      { weight: 1, arbitrary: good.map((g) => ({ texts: [join(g.cells) + '"'], quoteFree: false })) },
      // A short row (last cell missing), an empty extra cell: both still good lines.
      { weight: 1, arbitrary: good.map((g) => ({ texts: [join(g.cells.slice(0, -1))], numbers: g.numbers, quoteFree: true })) },
      { weight: 1, arbitrary: good.map((g) => ({ texts: [join(g.cells) + ';'], numbers: g.numbers, quoteFree: true })) },
      { weight: 1, arbitrary: good.map((g) => ({ texts: [join(g.cells) + ';z'], quoteFree: true })) },
      // A reason with a line break, properly quoted: one record on two lines.
      { weight: 1, arbitrary: good.map((g) => ({ texts: [join(g.cells.slice(0, -1)) + ';"linha um', 'linha dois"'], quoteFree: false })) },
      { weight: 1, arbitrary: junk.map((t) => ({ texts: [t], quoteFree: !t.includes('"') })) },
    );
  };
  const file = fc.constantFrom<Mode>('one', 'two', 'none').chain((mode) =>
    fc.record({
      mode: fc.constant(mode),
      lines: fc.array(line(mode), { minLength: 0, maxLength: 40 }),
      eol: fc.constantFrom('\n', '\r\n'),
      chunk: fc.integer({ min: 1, max: 97 }),
    }),
  );

  async function events(bytes: Buffer, size: number) {
    const reader = new OptOutCsvReader();
    const out: OptOutCsvEvent[] = [];
    for await (const ev of reader.read(chunks(bytes, size))) out.push(ev);
    return { out, stats: reader.stats, format: reader.format! };
  }

  test('imported (per number), repeated or rejected on its line number, or header, blank or inside a quoted field; the counts add up', async () => {
    await fc.assert(
      fc.asyncProperty(file, async ({ mode, lines, eol, chunk }) => {
        const header = mode === 'one' ? ['telefone;motivo'] : mode === 'two' ? ['Nome;Telefone;Celular;Motivo'] : [];
        const physical = [...header, ...lines.flatMap((l) => l.texts)];
        // First physical line number of each generated line.
        const starts: number[] = [];
        let n = header.length;
        for (const l of lines) {
          starts.push(n + 1);
          n += l.texts.length;
        }
        const bytes = Buffer.from(physical.map((t) => t + eol).join(''));
        const got = await events(bytes, chunk);
        const { out, stats, format } = got;
        expect(await events(bytes, bytes.length || 1)).toEqual(got);

        expect(stats.physicalLines).toBe(physical.length);
        expect(stats.headerLines + stats.blankLines + stats.continuationLines + stats.linesRead).toBe(physical.length);
        expect(out.filter((e) => e.kind === 'row')).toHaveLength(stats.rows);
        expect(out.filter((e) => e.kind === 'duplicate')).toHaveLength(stats.duplicates);
        expect(out.filter((e) => e.kind === 'rejected')).toHaveLength(stats.rejected);

        // Records: the lines they cover, none overlapping, in file order.
        const spans = new Map<number, number>();
        for (const e of out) {
          const x = e.kind === 'row' ? e.row : e.kind === 'duplicate' ? e.duplicate : e.kind === 'rejected' ? e.rejection : null;
          if (!x) continue;
          const last = x.lastLine ?? x.line;
          expect(spans.get(x.line) ?? last).toBe(last);
          spans.set(x.line, last);
        }
        expect(spans.size).toBe(stats.linesRead);
        const covered = new Set<number>();
        let previousEnd = 0;
        let continuation = 0;
        for (const [first, last] of [...spans].sort((a, b) => a[0] - b[0])) {
          expect(first).toBeGreaterThan(previousEnd);
          previousEnd = last;
          continuation += last - first;
          for (let i = first; i <= last; i++) covered.add(i);
        }
        expect(continuation).toBe(stats.continuationLines);
        // Every line no record covers is the header or blank.
        const uncovered = physical.map((t, i) => ({ t, no: i + 1 })).filter((x) => !covered.has(x.no) && !(header.length && x.no === 1));
        for (const x of uncovered) expect(x.t).toMatch(/^[\s;]*$/);
        expect(uncovered).toHaveLength(stats.blankLines);

        // A good line that starts a record yields its numbers (those of the columns read as phones), on its own line number.
        const numbersAt = (no: number) =>
          out.flatMap((e) => (e.kind === 'row' && e.row.line === no ? [e.row.phone_number] : e.kind === 'duplicate' && e.duplicate.line === no ? [e.duplicate.phone_number] : []));
        const read = format.phoneColumns.map((c) => (mode === 'two' ? c.index - 1 : c.index));
        const anyQuote = physical.some((t) => t.includes('"'));
        lines.forEach((l, k) => {
          if (!l.numbers || mode === 'none') return;
          const no = starts[k]!;
          if (!spans.has(no)) {
            expect(anyQuote).toBe(true); // only a quoted field of an earlier line can hold it
            expect(covered.has(no)).toBe(true);
            return;
          }
          expect(numbersAt(no)).toEqual(read.map((i) => l.numbers![i]));
          if (!anyQuote) expect(spans.get(no)).toBe(no);
        });
        if (!anyQuote) expect(stats.continuationLines).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
