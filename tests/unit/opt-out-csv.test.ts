import { batches, detectDelimiter, normaliseHeader, OptOutCsvError, parseOptOutCsv } from '../../src/lib/domain/opt-out-csv';

const MOBILE = '+5511999999999';

describe('parseOptOutCsv', () => {
  test('reads the Brazilian spreadsheet formats into E.164', () => {
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
    const r = parseOptOutCsv(csv);
    expect(r.rejected).toEqual([]);
    expect(r.rows.map((x) => [x.line, x.phone_number])).toEqual([
      [2, '+5511999999999'],
      [3, '+5511988887777'],
      [4, '+5511977776666'],
      [5, '+5511966665555'],
      [6, '+5511955554444'],
      [7, '+552122223333'],
      [8, '+551133334444'],
      [9, '+5511944443333'],
    ]);
    expect(r.linesRead).toBe(8);
  });

  test('reports every bad line with its line number and reason, and keeps the rest', () => {
    const csv = [
      'telefone;motivo', // 1
      '(11) 99999-9999;pediu', // 2
      '12345;curto', // 3
      ';sem numero', // 4
      '11 98888-7777;a;b', // 5 wrong column count
      'abc;letras', // 6
      '', // 7 blank: skipped, not an error
      '(11) 9999-9999;oito digitos com 9', // 8 invalid BR shape
      '21 2222-3333;ok', // 9
    ].join('\n');
    const r = parseOptOutCsv(csv);
    expect(r.rows.map((x) => [x.line, x.phone_number, x.reason])).toEqual([
      [2, MOBILE, 'pediu'],
      [9, '+552122223333', 'ok'],
    ]);
    expect(r.rejected.map((x) => x.line)).toEqual([3, 4, 5, 6, 8]);
    const byLine = Object.fromEntries(r.rejected.map((x) => [x.line, x]));
    expect(byLine[3]?.reason).toMatch(/not a valid Brazilian number \(5 digits/);
    expect(byLine[3]?.input).toBe('12345');
    expect(byLine[4]?.reason).toBe('empty phone number');
    expect(byLine[5]?.reason).toBe('wrong number of columns: expected 2, found 3');
    expect(byLine[6]?.reason).toBe('no digits in phone number');
    expect(byLine[8]?.reason).toMatch(/10 digits after \+55/);
    expect(r.blankLines).toBe(1);
    expect(r.linesRead).toBe(r.rows.length + r.rejected.length + r.duplicates.length);
    expect(r.linesRead).toBe(7);
  });

  test('detects ; and , delimiters and honours quoted fields containing them', () => {
    const semi = parseOptOutCsv('numero;motivo\n"11 99999-9999";"pediu; por SMS"\n');
    expect(semi.delimiter).toBe(';');
    expect(semi.rows).toEqual([{ line: 2, phone_number: MOBILE, reason: 'pediu; por SMS' }]);

    const comma = parseOptOutCsv('nome,celular,motivo\n"Silva, Ana","(11) 99999-9999","ligou, reclamou"\n');
    expect(comma.delimiter).toBe(',');
    expect(comma.phoneColumn).toEqual({ index: 1, name: 'celular' });
    expect(comma.rows).toEqual([{ line: 2, phone_number: MOBILE, reason: 'ligou, reclamou' }]);

    expect(detectDelimiter('a;b,c;d\n')).toBe(';');
    expect(detectDelimiter('"a;b",c\n')).toBe(',');
  });

  test('headerless file: the first line is data and the first column is the phone', () => {
    const r = parseOptOutCsv('11 99999-9999;x\n21 2222-3333;y\n');
    expect(r.header).toBeNull();
    expect(r.rows.map((x) => x.line)).toEqual([1, 2]);
    expect(r.rows.map((x) => x.reason)).toEqual([null, null]);
  });

  test('header detection by name ignores accents and case, and an unknown header is still a header', () => {
    const r = parseOptOutCsv('Cliente;Número\nAna;11 99999-9999\n');
    expect(r.header).toEqual(['Cliente', 'Número']);
    expect(r.phoneColumn.index).toBe(1);
    expect(r.rows.map((x) => x.phone_number)).toEqual([MOBILE]);

    const unknown = parseOptOutCsv('contato\n11 99999-9999\n');
    expect(unknown.header).toEqual(['contato']);
    expect(unknown.rows.map((x) => x.line)).toEqual([2]);
    expect(normaliseHeader('  Número do Celular ')).toBe('numero_do_celular');
  });

  test('--column picks a column by name or 1-based number, and names a missing one', () => {
    const csv = 'fixo;celular\n11 3333-4444;11 99999-9999\n';
    expect(parseOptOutCsv(csv, { column: 'CELULAR' }).rows.map((x) => x.phone_number)).toEqual([MOBILE]);
    expect(parseOptOutCsv(csv, { column: '1' }).rows.map((x) => x.phone_number)).toEqual(['+551133334444']);
    expect(() => parseOptOutCsv(csv, { column: 'telefone' })).toThrow(OptOutCsvError);
    expect(() => parseOptOutCsv(csv, { column: 'telefone' })).toThrow(/no column named "telefone"/);
    expect(() => parseOptOutCsv('11 99999-9999\n', { column: 'telefone' })).toThrow(/no header row/);
  });

  test('strips a BOM and handles CRLF line endings without shifting line numbers', () => {
    const r = parseOptOutCsv(Buffer.from('\uFEFFtelefone\r\n11 99999-9999\r\n\r\nxyz\r\n', 'utf8'));
    expect(r.header).toEqual(['telefone']);
    expect(r.rows).toEqual([{ line: 2, phone_number: MOBILE, reason: null }]);
    expect(r.rejected.map((x) => x.line)).toEqual([4]);
  });

  test('a quoted field spanning lines keeps later line numbers right; an unclosed quote is reported', () => {
    const csv = 'telefone;motivo\n11 99999-9999;"linha um\nlinha dois"\n12;x\n"21 2222-3333;y\n11 98888-7777;z\n';
    const r = parseOptOutCsv(csv);
    expect(r.rows).toEqual([{ line: 2, phone_number: MOBILE, reason: 'linha um\nlinha dois' }]);
    expect(r.rejected.map((x) => x.line)).toEqual([4, 5]);
    expect(r.rejected[1]?.reason).toBe('unreadable CSV: a quote (") opened on line 5 is never closed; lines 5-6 skipped');
  });

  test('duplicates within the file are imported once and reported with the first line', () => {
    const r = parseOptOutCsv('telefone\n(11) 99999-9999\n011 9 9999-9999\n+5511999999999\n');
    expect(r.rows).toHaveLength(1);
    expect(r.duplicates).toEqual([
      { line: 3, phone_number: MOBILE, first_line: 2 },
      { line: 4, phone_number: MOBILE, first_line: 2 },
    ]);
  });

  test('default reason fills rows without a reason cell', () => {
    const r = parseOptOutCsv('telefone;motivo\n11 99999-9999;\n21 2222-3333;pediu\n', { defaultReason: 'lista Procon' });
    expect(r.rows.map((x) => x.reason)).toEqual(['lista Procon', 'pediu']);
  });

  test('an explicit delimiter overrides detection', () => {
    const r = parseOptOutCsv('telefone,motivo\n11 99999-9999,x\n', { delimiter: ';' });
    expect(r.delimiter).toBe(';');
    expect(r.header).toEqual(['telefone,motivo']);
    expect(r.reasonColumn).toBeNull();
  });
});

describe('batches', () => {
  test('splits into chunks of the given size', () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batches([], 1000)).toEqual([]);
    expect(() => batches([1], 0)).toThrow(RangeError);
  });
});
