/**
 * The lead CSV reader on files as Brazilian teams export them (tests/fixtures/leads:
 * Excel pt-BR Windows-1252 with `;`, Excel "Unicode text" UTF-16, UTF-8 with BOM and
 * `sep=`), and on what goes wrong in them (bad lines by number, stray quotes, files that
 * are not CSV); the export's cells (formula guard, quoting, BOM) and its round trip; and
 * flat memory: rows come out while the file is still being read.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bytesSource, collectLeadsCsv, csvCell, exportHeader, exportLine, exportTime, LeadsCsvError, LeadsCsvReader } from '../../src/lib/domain/leads-csv';
import { notCsvReason } from '../../src/lib/domain/csv';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'leads', name));
const read = (bytes: Uint8Array | string, options = {}) => collectLeadsCsv(bytesSource(typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes, 7), options);

describe('real-world files', () => {
  it('Excel pt-BR (Windows-1252, ;): accented header and values, a quoted line break, bad lines by number, the repeated phone counted', async () => {
    const r = await read(fixture('excel-ptbr-windows-1252.csv'));
    expect(r.format).toMatchObject({ encoding: 'windows-1252', delimiter: ';', phoneColumn: { name: 'Telefone' }, nameColumn: { name: 'Nome' }, idColumn: null });
    expect(r.format.fields.map((f) => f.key)).toEqual(['CPF', 'Valor em aberto', 'Dias em atraso', 'Observação']);
    expect(r.rows.map((x) => [x.line, x.phone_number, x.name])).toEqual([
      [2, '+5511987654321', 'João da Silva'],
      [3, '+5521998765432', 'Maria Conceição'],
      [6, '+5511987654321', 'Ana Lúcia'],
      [8, '+553132221000', 'Pedro Álvares'],
      [10, '+5541999112233', 'Carla "Ca" Dias'],
    ]);
    expect(r.rows[1]!.data).toEqual({ CPF: '987.654.321-00', 'Valor em aberto': '99,90', 'Dias em atraso': '5', Observação: 'ligar após 14h\nprefere WhatsApp' });
    // Empty cells are left out, so a repeat never blanks a field.
    expect(r.rows[2]!.data).not.toHaveProperty('Observação');
    expect(r.rejected).toEqual([
      expect.objectContaining({ line: 5, input: '12345' }),
      { line: 9, reason: 'empty phone number (column Telefone)', input: '' },
      { line: 11, reason: 'wrong number of columns: expected 6, found 7', input: 'Bruno;(51) 98888-7777;1;2;3;4;5' },
    ]);
    expect(r.duplicates).toEqual([{ line: 6, first_line: 2 }]);
    const s = r.stats;
    expect(s).toMatchObject({ physicalLines: 11, headerLines: 1, blankLines: 1, continuationLines: 1, linesRead: 8, rows: 5, rejected: 3, duplicates: 1 });
    expect(s.headerLines + s.blankLines + s.continuationLines + s.linesRead).toBe(s.physicalLines);
    expect(s.rows + s.rejected).toBe(s.linesRead);
  });

  it('Excel "Unicode text" (UTF-16LE with BOM, tab): Celular and Nome do Cliente found by name', async () => {
    const r = await read(fixture('excel-unicode-text-utf16le.txt'));
    expect(r.format).toMatchObject({ encoding: 'utf-16le', delimiter: '\t', phoneColumn: { name: 'Celular' }, nameColumn: { name: 'Nome do Cliente' } });
    expect(r.rows).toEqual([
      { line: 2, phone_number: '+5511912345678', name: 'Ícaro Gonçalves', external_id: null, data: { Contrato: 'CT-001', Vencimento: '10/12/2026' } },
      { line: 3, phone_number: '+5585981234567', name: 'Ângela Müller', external_id: null, data: { Contrato: 'CT-002', Vencimento: '15/12/2026' } },
    ]);
  });

  it('UTF-8 with BOM and a sep=, line: the id column is the external id; a formula-looking value is kept as text', async () => {
    const r = await read(fixture('utf8-bom-sep-comma.csv'));
    expect(r.format).toMatchObject({ encoding: 'utf-8', delimiter: ',', sepLine: true, phoneColumn: { name: 'whatsapp' }, idColumn: { name: 'id' } });
    expect(r.rows.map((x) => [x.line, x.external_id, x.name, x.data])).toEqual([
      [3, '42', 'Luíza', { cidade: 'São Paulo', 'Saldo devedor': '1,500.00' }],
      [4, '43', 'Otávio', { cidade: 'Campinas', 'Saldo devedor': '=HYPERLINK("x")' }],
    ]);
    expect(r.stats.headerLines).toBe(2);
  });

  it('UTF-16BE and UTF-8 without BOM read the same leads as Windows-1252', async () => {
    const text = 'Telefone;Nome;Cidade\r\n(11) 98765-4321;Conceição;São João del-Rei\r\n';
    const be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    for (const bytes of [be, Buffer.from(text, 'utf8'), Buffer.from(text, 'latin1')]) {
      const r = await read(bytes);
      expect(r.rows).toEqual([{ line: 2, phone_number: '+5511987654321', name: 'Conceição', external_id: null, data: { Cidade: 'São João del-Rei' } }]);
    }
  });
});

describe('columns', () => {
  it('--phone-column by name (accents and case ignored) or number; a separate DDD column completes the number', async () => {
    const csv = 'Código;Número do contrato;Fone Comercial;DDD;Fone Residencial\n7;C-1;3333-4444;11;98765-4321\n';
    const byName = await read(csv, { phoneColumn: 'fone residencial' });
    expect(byName.rows[0]).toMatchObject({ phone_number: '+5511987654321', external_id: '7', data: { 'Número do contrato': 'C-1', 'Fone Comercial': '3333-4444', DDD: '11' } });
    const byNumber = await read(csv, { phoneColumn: '5' });
    expect(byNumber.rows[0]!.phone_number).toBe('+5511987654321');
    await expect(read(csv, { phoneColumn: 'celular' })).rejects.toThrow('no column named "celular"');
    await expect(read(csv, { phoneColumn: '9' })).rejects.toThrow('does not exist');
  });

  it('without a phone-named column, the column holding phones; with none, a clear error', async () => {
    const r = await read('nome;contato_principal;valor\nAna;11987654321;10\nBia;21998765432;20\n');
    expect(r.format.phoneColumn.name).toBe('contato_principal');
    await expect(read('nome;cidade\nAna;Santos\nBia;Campinas\n')).rejects.toThrow('no phone column');
  });

  it('empty and repeated header names get keys of their own', async () => {
    const r = await read('telefone;obs;;obs\n11987654321;a;b;c\n');
    expect(r.rows[0]!.data).toEqual({ obs: 'a', 'coluna 3': 'b', 'obs (2)': 'c' });
  });

  it('a phone cell guarded by an apostrophe (as the export writes it) reads as the phone', async () => {
    const r = await read("telefone;nome\n'+5511987654321;Ana\n");
    expect(r.rows[0]!.phone_number).toBe('+5511987654321');
  });
});

describe('bad input', () => {
  it.each([
    ['an Excel workbook (zip)', 'leads.xlsx', 'zip archive'],
    ['binary bytes with NULs', 'binary.dat', 'NUL bytes'],
  ])('%s is refused at the first chunk, before any row', async (_what, name, said) => {
    const reader = new LeadsCsvReader();
    expect(() => reader.write(fixture(name).subarray(0, 64))).toThrow(LeadsCsvError);
    await expect(read(fixture(name))).rejects.toThrow(said);
  });

  it('notCsvReason knows PDFs, images, gzip and old .xls, and lets UTF-16 text through', () => {
    expect(notCsvReason(Buffer.from('%PDF-1.7\n'))).toContain('PDF');
    expect(notCsvReason(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]))).toContain('image');
    expect(notCsvReason(Buffer.from([0x1f, 0x8b, 0x08, 0x00]))).toContain('gzip');
    expect(notCsvReason(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1]))).toContain('.xls');
    expect(notCsvReason(Buffer.from('telefone;nome\n', 'utf16le'))).toBeNull();
    expect(notCsvReason(Buffer.from('telefone;nome\n11987654321;Ana\n'))).toBeNull();
  });

  it('a file whose first line is a lead (no header) is refused, naming the line', async () => {
    await expect(read(fixture('headerless.csv'))).rejects.toThrow('line 1 is not a header');
  });

  it('an empty file is refused', async () => {
    await expect(read('')).rejects.toThrow('no lines');
    await expect(read('\n\n;;\n')).rejects.toThrow('no lines');
  });

  it('a stray quote spoils only its own line; the lines it swallowed are read again', async () => {
    const r = await read('telefone;nome;obs\n11987654321;"Ana;x\n21998765432;Bia;ok\n31999887766;Caio;ok\n');
    expect(r.rejected).toEqual([expect.objectContaining({ line: 2, reason: expect.stringContaining('quote') })]);
    expect(r.rows.map((x) => x.line)).toEqual([3, 4]);
  });

  it('scientific notation, over-long values and a name over 200 characters are rejected by line', async () => {
    const long = 'x'.repeat(1001);
    const r = await read(`telefone;nome;obs\n5,51199E+12;Ana;a\n11987654321;Bia;${long}\n21998765432;${'n'.repeat(201)};b\n31999887766;Caio;ok\n`);
    expect(r.rejected.map((x) => [x.line, x.reason.slice(0, 30)])).toEqual([
      [2, 'the spreadsheet wrote this num'],
      [3, 'obs: longer than 1000 characte'],
      [4, 'nome: longer than 200 characte'],
    ]);
    expect(r.rows.map((x) => x.line)).toEqual([5]);
  });

  it('streams: the rows of the first lines come out before the file ends (flat memory)', () => {
    const reader = new LeadsCsvReader();
    // The delimiter is chosen on the first 50 lines; from then on every complete line is a row at once.
    const head = Buffer.from('telefone;nome\n' + Array.from({ length: 60 }, (_, i) => `1198765${String(4000 + i)};N${i}`).join('\n') + '\n');
    const events = reader.write(head);
    expect(events.filter((e) => e.kind === 'row')).toHaveLength(60);
    const more = reader.write(Buffer.from('21998765432;Z\n'));
    expect(more.filter((e) => e.kind === 'row')).toHaveLength(1);
  });
});

describe('export', () => {
  it('guards formula-looking cells with an apostrophe and quotes separators, quotes and line breaks', () => {
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('+5511987654321')).toBe("'+5511987654321");
    expect(csvCell('-10')).toBe("'-10");
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('\t=cmd')).toBe("'\t=cmd");
    expect(csvCell('a;b')).toBe('"a;b"');
    expect(csvCell('diz "oi"')).toBe('"diz ""oi"""');
    expect(csvCell('linha\nnova')).toBe('"linha\nnova"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(3)).toBe('3');
  });

  it('header and lines: fixed pt-BR columns, then the fields; times in São Paulo time; reads back through the reader', async () => {
    const fields = ['Valor', 'status'];
    const header = exportHeader(fields);
    expect(header).toBe('id;telefone;nome;id_externo;status;tentativas;resultado;ultima_tentativa;proxima_tentativa;retorno_em;Valor;campo status');
    expect(exportTime('2026-11-26T15:00:00Z')).toBe('2026-11-26 12:00:00');
    const line = exportLine(
      { id: 7, phone_number: '+5511987654321', name: 'Ana; "A"', external_id: null, status: 'done', attempts: 2, outcome: 'human', last_attempt_at: '2026-11-26T15:00:00Z', next_attempt_at: null, callback_at: null, data: { Valor: '=2*3', status: 'x' } },
      fields,
    );
    expect(line).toBe(`7;'+5511987654321;"Ana; ""A""";;done;2;human;2026-11-26 12:00:00;;;'=2*3;x`);
    const back = await read('\ufeff' + header + '\r\n' + line + '\r\n');
    expect(back.rows).toEqual([expect.objectContaining({ phone_number: '+5511987654321', name: 'Ana; "A"' })]);
  });
});
