/**
 * Reads opt-out lists as spreadsheets export them (Não Me Perturbe, Procon-SP, Excel pt-BR,
 * LibreOffice, Google Sheets), as a stream: bytes go in chunk by chunk and rows come out
 * as soon as their line is complete, so a list of millions of lines is read in flat memory.
 *
 * - Encoding: a BOM decides (UTF-8, UTF-16LE, UTF-16BE); otherwise bytes that are valid
 *   UTF-8 are UTF-8 and anything else is Windows-1252 (Excel pt-BR's "CSV (separado por
 *   vírgulas)"). Windows-1252 is decoded with our own table: Node's TextDecoder decodes it
 *   as Latin-1 (nodejs/node#56542), which is wrong for bytes 0x80-0x9F.
 * - Delimiter: Excel's `sep=;` first line, else `;`, tab or `,`, whichever splits the first
 *   lines into the same number of fields (quotes honoured).
 * - Quotes: RFC 4180 quoted fields (separators, doubled quotes and newlines inside); a quote
 *   in the middle of an unquoted field is kept as text. A quote that is never closed, or
 *   text after a closing quote, spoils only the line it starts on: that line is reported and
 *   reading resumes on the next line. A record whose quoted field spans lines and then does
 *   not fit the columns is the same stray quote: its first line is reported and the lines
 *   it swallowed are read again one by one.
 * - Header: recognised by its names, accents and case ignored ("Número", "telefone",
 *   "Telefone Celular", "Observação"…). A first line with no recognised name, or with a
 *   phone number or other digits in a cell, is data: it is imported or reported, never
 *   swallowed as a header.
 * - Phone columns: every column whose name says phone (a bare "Número" only when its values
 *   are phones; never a column named contrato, CPF, endereço…), decided with the first
 *   values; each non-empty phone cell of a line is one number, imported or reported.
 * - Rows: missing trailing cells are empty; extra cells are accepted when empty.
 * - Numbers: normalised to E.164; old 8-digit mobiles get their ninth digit, with a warning.
 * - Accounting: every physical line is the header, blank, inside a multi-line record, or a
 *   data line with at least one event on its number (see OptOutCsvStats).
 */
import {
  CsvEventReader,
  mode,
  shorten,
  strayQuoteRecord,
  type CsvDelimiter,
  type CsvEncoding,
  type CsvItem,
} from './csv';
import { parsePhoneWithNinthDigit } from './phone';

export { ByteDecoder, decodeWindows1252, detectDelimiter, type CsvDelimiter, type CsvEncoding } from './csv';

/**
 * Words (of a normalised header name, trailing digits dropped: "Telefone 2", "Cel1") that
 * make a column a phone column.
 */
export const PHONE_NAME_WORDS = ['telefone', 'telefones', 'celular', 'celulares', 'fone', 'fones', 'tel', 'cel', 'whatsapp', 'whats', 'wpp', 'zap', 'phone', 'mobile', 'msisdn'];
/**
 * A bare "Número" or "Contato" may be a phone, or a house, contract or customer number: such
 * a column is a phone column only when its name holds nothing else than these words, and it
 * ranks below the names above.
 */
const WEAK_PHONE_WORDS = ['numero', 'numeros', 'num', 'nro', 'contato', 'contatos'];
const FILLER_WORDS = ['do', 'da', 'de', 'dos', 'das', 'n', 'no', 'o'];
/** Words that say a column is something else, whatever phone word it also holds ("Número do Contrato", "CPF", "Operadora Celular"). */
export const NOT_PHONE_WORDS = [
  'contrato', 'pedido', 'protocolo', 'cpf', 'cnpj', 'endereco', 'logradouro', 'rua', 'bairro', 'complemento', 'cep', 'rg',
  'nota', 'nf', 'nfe', 'fatura', 'parcela', 'parcelas', 'valor', 'data', 'date', 'documento', 'doc', 'processo', 'matricula',
  'boleto', 'cartao', 'codigo', 'cod', 'id', 'conta', 'ordem', 'serie', 'lote', 'apto', 'apartamento', 'bloco', 'cidade',
  'uf', 'estado', 'email', 'mail', 'nome', 'name', 'operadora', 'tipo', 'status', 'situacao', 'hora', 'vencimento', 'qtd',
  'quantidade', 'ddd', 'ramal', 'idade', 'sexo',
];
/** Header names that mark an optional reason column. */
export const REASON_COLUMN_NAMES = ['reason', 'motivo', 'observacao', 'observacoes', 'obs', 'comentario', 'comentarios'];
/** Header names of a separate area-code column ("DDD;Telefone" lists). */
export const DDD_COLUMN_NAMES = ['ddd', 'cod_area', 'codigo_de_area', 'codigo_area'];
/** Other column names common in these lists: enough, with the above, to know a header when we see one. */
const OTHER_COLUMN_NAMES = ['nome', 'name', 'cliente', 'cpf', 'cnpj', 'cpf_cnpj', 'email', 'e_mail', 'data', 'date', 'id', 'codigo', 'cidade', 'uf', 'estado', 'origem', 'source'];


/** How to read an opt-out CSV. */
export interface OptOutCsvOptions {
  /** Phone column: a header name (accents/case ignored) or a 1-based column number. Default: by header name, else the column whose first values are phone numbers. */
  column?: string;
  /** Field delimiter; from a `sep=` first line or detected when absent. */
  delimiter?: CsvDelimiter;
  /** Text encoding; detected (BOM, then UTF-8 validity, else Windows-1252) when absent. */
  encoding?: CsvEncoding;
  /** Reason stored for rows without a reason column value. */
  defaultReason?: string | null;
  /** Numbers remembered to report repeats within the file (bounds memory; repeats further apart reach the database, which counts them as already listed). */
  rememberNumbers?: number;
}

/** A line whose number parsed, ready for opt_out_import. */
export interface OptOutCsvRow {
  line: number;
  /** Set when the line's record spans several lines (a quoted field with line breaks): its last line. */
  lastLine?: number;
  phone_number: string;
  reason: string | null;
}

/** A line that cannot be imported, and why (in words an operator understands). */
export interface OptOutCsvRejection {
  line: number;
  /** Set when the record spans several lines: its last line. */
  lastLine?: number;
  reason: string;
  /** The phone cell (or the raw line when the line itself is malformed). */
  input: string;
}

/** A line that was imported, but not exactly as written. */
export interface OptOutCsvWarning {
  line: number;
  message: string;
  input: string;
}

/** A line whose number was already seen earlier in the same file. */
export interface OptOutCsvDuplicate {
  line: number;
  /** Set when the record spans several lines: its last line. */
  lastLine?: number;
  phone_number: string;
  first_line: number;
}

/** What the reader found out about the file's shape (known once the first lines are read). */
export interface OptOutCsvFormat {
  encoding: CsvEncoding;
  delimiter: CsvDelimiter;
  /** True when the first line was Excel's `sep=` hint. */
  sepLine: boolean;
  header: string[] | null;
  /** The first of phoneColumns (kept for reports that name one column). */
  phoneColumn: { index: number; name: string | null };
  /** Every column read as a phone number, in file order: each non-empty cell is one number to import. */
  phoneColumns: { index: number; name: string | null }[];
  reasonColumn: { index: number; name: string } | null;
}

/** One thing the reader has to say about a line, in file order. */
export type OptOutCsvEvent =
  | { kind: 'row'; row: OptOutCsvRow }
  | { kind: 'rejected'; rejection: OptOutCsvRejection }
  | { kind: 'warning'; warning: OptOutCsvWarning }
  | { kind: 'duplicate'; duplicate: OptOutCsvDuplicate };

/**
 * Running counts. Every physical line is counted once:
 * physicalLines = headerLines + blankLines + continuationLines + linesRead, and every one of
 * the linesRead data lines has at least one row, duplicate or rejection event on its line
 * number. Each number of a line is one event: rows + duplicates + rejected = events; with one
 * phone column, linesRead = rows + rejected + duplicates.
 */
export interface OptOutCsvStats {
  /** Physical lines seen so far (every line of the file, for progress). */
  physicalLines: number;
  /** Data lines: the first line of each record that is neither the header nor blank. */
  linesRead: number;
  /** The `sep=` line and the header line. */
  headerLines: number;
  /** Lines after the first of a record whose quoted field holds line breaks. */
  continuationLines: number;
  blankLines: number;
  rows: number;
  rejected: number;
  duplicates: number;
  warnings: number;
}

/** Everything a whole file said (collectOptOutCsv). */
export interface OptOutCsvResult extends OptOutCsvFormat {
  rows: OptOutCsvRow[];
  rejected: OptOutCsvRejection[];
  warnings: OptOutCsvWarning[];
  duplicates: OptOutCsvDuplicate[];
  linesRead: number;
  blankLines: number;
}

/** Thrown when the file cannot be read at all (e.g. the named column does not exist). */
export class OptOutCsvError extends Error {}

/** Lower case, accents stripped, anything else than letters and digits as one underscore: " Número do Celular " → "numero_do_celular". */
export function normaliseHeader(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}


// ---------------------------------------------------------------------------------------
// Records → opt-out rows

/** The words of a normalised header name, trailing digits dropped ("telefone_2" → telefone; "cel1" → cel). */
export function words(name: string): string[] {
  return name.split('_').map((w) => w.replace(/(?<=[a-z])\d+$/, '')).filter((w) => w !== '');
}

/**
 * How much a header name says the column holds phone numbers: 2 for a phone word
 * (telefone, celular, fone, tel, whatsapp…), 1 for a bare "Número"/"Contato", 0 when it
 * says nothing of phones or says the column is something else (contrato, cpf, endereço…).
 */
export function phoneNameRank(name: string): 0 | 1 | 2 {
  const ws = words(name);
  if (ws.length === 0 || ws.some((w) => NOT_PHONE_WORDS.includes(w))) return 0;
  if (ws.some((w) => PHONE_NAME_WORDS.includes(w))) return 2;
  if (ws.some((w) => WEAK_PHONE_WORDS.includes(w)) && ws.every((w) => WEAK_PHONE_WORDS.includes(w) || FILLER_WORDS.includes(w))) return 1;
  return 0;
}

/** A header cell: a column name we know (a cell with a run of digits is a value, not a name). */
export function isKnownName(cell: string): boolean {
  if (/\d{3}/.test(cell)) return false;
  const name = normaliseHeader(cell);
  if (REASON_COLUMN_NAMES.includes(name) || DDD_COLUMN_NAMES.includes(name) || OTHER_COLUMN_NAMES.includes(name)) return true;
  const ws = words(name);
  return ws.some((w) => PHONE_NAME_WORDS.includes(w) || WEAK_PHONE_WORDS.includes(w) || NOT_PHONE_WORDS.includes(w));
}

/** A cell that reads as a phone number, as a data line's cell would. */
export function isPhoneCell(cell: string): boolean {
  return /\d/.test(cell) && parsePhoneWithNinthDigit(cell.trim()).ok;
}

/**
 * A first line is a header when one of its cells is a column name we know, and none of its
 * cells is a phone number or any other run of digits (a headerless file's first line may
 * hold a name or the word "email" next to its number, good or bad).
 */
export function looksLikeHeader(fields: readonly string[]): boolean {
  return fields.some(isKnownName) && !fields.some((f) => isPhoneCell(f) || /\d{3}/.test(f));
}

export const SCIENTIFIC = /^\d+(?:[.,]\d+)?E\+?\d+$/i;

/** Reads the phone cell (prefixed with the separate DDD cell when the list has one and the cell lacks it). */
export function readPhone(cell: string, dddCell: string | undefined) {
  const ddd = dddCell?.replace(/\D/g, '').replace(/^0/, '');
  const local = cell.replace(/\D/g, '');
  if (ddd && /^[1-9]\d$/.test(ddd) && (local.length === 8 || local.length === 9)) return parsePhoneWithNinthDigit(`${ddd} ${cell}`);
  return parsePhoneWithNinthDigit(cell);
}

/**
 * The streaming reader: `write` bytes as they come, `end` at the end of the file; each
 * returns the events of the lines completed so far. `read` does the same over an async
 * source (a file stream). One reader reads one file.
 */
export class OptOutCsvReader extends CsvEventReader<OptOutCsvEvent> {
  readonly stats: OptOutCsvStats = { physicalLines: 0, linesRead: 0, headerLines: 0, continuationLines: 0, blankLines: 0, rows: 0, rejected: 0, duplicates: 0, warnings: 0 };
  /** Known once the first lines are read. */
  format: OptOutCsvFormat | null = null;

  private sampleItems: CsvItem[] | null = [];
  private headerSeen = false;
  private expectedColumns = 0;
  private dddColumn: number | null = null;
  /** Numbers seen, in two generations: the older one is dropped when the newer fills half of `remember` (O(1), bounded memory). */
  private seen = new Map<string, number>();
  private seenBefore = new Map<string, number>();
  private readonly remember: number;

  constructor(private readonly options: OptOutCsvOptions = {}) {
    super({ encoding: options.encoding, delimiter: options.delimiter });
    this.remember = options.rememberNumbers ?? 100_000;
  }

  protected took(items: CsvItem[], eof: boolean): OptOutCsvEvent[] {
    this.stats.physicalLines = this.records.physicalLines;
    if (!this.format && this.records.delimiter) {
      this.format = {
        encoding: this.records.encoding,
        delimiter: this.records.delimiter,
        sepLine: this.records.sepLine,
        header: null,
        phoneColumn: { index: 0, name: null },
        phoneColumns: [{ index: 0, name: null }],
        reasonColumn: null,
      };
      if (this.records.sepLine) this.stats.headerLines++;
    }
    // The encoding may be decided after the first lines (at the first non-ASCII byte).
    if (this.format) this.format.encoding = this.records.encoding;
    return this.items(items, eof);
  }

  /** Records in, events out; the first records wait until the header and phone column are decided. */
  private items(items: CsvItem[], eof: boolean): OptOutCsvEvent[] {
    if (this.sampleItems) {
      this.sampleItems.push(...items);
      const records = this.sampleItems.filter((it) => it.kind === 'record' && it.fields.some((f) => f.trim() !== ''));
      if (!eof && records.length < 20) return [];
      items = this.sampleItems;
      this.sampleItems = null;
      this.decideColumns(items);
    }
    const events: OptOutCsvEvent[] = [];
    for (const it of items) this.item(it, events);
    return events;
  }

  private decideColumns(sample: CsvItem[]): void {
    const f = this.format!;
    const records = sample.flatMap((it) => (it.kind === 'record' && it.fields.some((x) => x.trim() !== '') ? [it] : []));
    const first = records[0];
    const namedColumn = this.options.column !== undefined && !/^\s*\d+\s*$/.test(this.options.column);
    const recognised = first !== undefined && looksLikeHeader(first.fields);
    const header = first && (recognised || (namedColumn && !first.fields.some(isPhoneCell))) ? first.fields.map((x) => x.trim()) : null;
    const data = header ? records.slice(1) : records;
    f.header = header;
    f.phoneColumns = this.pickPhoneColumns(header, data, recognised, first?.fields);
    f.phoneColumn = f.phoneColumns[0]!;
    const phoneIndexes = f.phoneColumns.map((c) => c.index);
    f.reasonColumn = pickReasonColumn(header, phoneIndexes);
    const names = header?.map(normaliseHeader) ?? [];
    const ddd = names.findIndex((n) => DDD_COLUMN_NAMES.includes(n));
    this.dddColumn = ddd >= 0 && !phoneIndexes.includes(ddd) ? ddd : null;
    this.expectedColumns = header ? header.length : mode(data.map((r) => r.fields.length)).value;
  }

  /**
   * The phone columns: the one --column names, else every column whose name says phone and
   * whose first values are mostly phone numbers (a bare "Número" ranks below "Telefone"; a
   * name saying contrato, CPF, endereço… is never taken), else, when no name says, every
   * column whose first values are mostly phone numbers.
   */
  private pickPhoneColumns(
    header: string[] | null,
    data: readonly { fields: string[] }[],
    recognised: boolean,
    firstLine: string[] | undefined,
  ): { index: number; name: string | null }[] {
    const column = this.options.column;
    if (column !== undefined && /^\s*\d+\s*$/.test(column)) {
      const index = Number(column.trim()) - 1;
      if (index < 0) throw new OptOutCsvError(`column numbers start at 1, got ${column}`);
      return [{ index, name: header?.[index] ?? null }];
    }
    const names = header?.map(normaliseHeader) ?? [];
    if (column !== undefined) {
      if (!header) {
        const line1 = firstLine ? ` (line 1 is "${shorten(firstLine.join(this.format!.delimiter))}")` : '';
        throw new OptOutCsvError(`column "${column}" was asked for, but the file has no header row${line1}`);
      }
      const index = names.indexOf(normaliseHeader(column));
      if (index < 0 && !recognised) throw new OptOutCsvError(`column "${column}" was asked for, but the file has no header row (line 1 is "${shorten(header.join(this.format!.delimiter))}")`);
      if (index < 0) throw new OptOutCsvError(`no column named "${column}" in the header (${header.join(', ')})`);
      return [{ index, name: header[index] ?? null }];
    }
    const width = Math.max(header?.length ?? 0, ...data.map((r) => r.fields.length));
    const columns = Array.from({ length: width }, (_, index) => {
      const values = data.map((r) => (r.fields[index] ?? '').trim()).filter((v) => v !== '');
      const phones = values.filter(isPhoneCell).length;
      const name = header ? (names[index] ?? '') : '';
      return {
        index,
        name: header?.[index] ?? null,
        rank: header ? phoneNameRank(name) : 0,
        vetoed: header !== null && words(name).some((w) => NOT_PHONE_WORDS.includes(w)),
        values: values.length,
        phones,
        share: values.length ? phones / values.length : 0,
      };
    });
    const out = (cs: typeof columns) => cs.map((c) => ({ index: c.index, name: c.name }));
    const byRank = (cs: typeof columns) => [...cs].sort((x, y) => y.rank - x.rank || y.share - x.share || x.index - y.index);
    const named = columns.filter((c) => c.rank > 0);
    if (named.length) {
      // A column named for phones is kept unless its first values are mostly something else
      // (still empty in the first lines: its numbers may come later); a bare "Número" must
      // hold mostly phone numbers.
      const taken = named.filter((c) => (c.rank === 2 ? c.values === 0 || c.share >= 0.2 : c.share >= 0.5));
      if (taken.length) {
        const primary = byRank(taken)[0]!;
        return out([primary, ...taken.filter((c) => c !== primary)]);
      }
      // No named column holds numbers in the first lines: the best-named one, so each line is reported.
      return out([byRank(named)[0]!]);
    }
    const byValues = columns.filter((c) => !c.vetoed && c.phones > 0 && c.share >= 0.5);
    if (byValues.length) {
      const primary = [...byValues].sort((x, y) => y.phones - x.phones || x.index - y.index)[0]!;
      return out([primary, ...byValues.filter((c) => c !== primary)]);
    }
    if (header) {
      throw new OptOutCsvError(
        `no phone column: no header name says phone (telefone, celular, fone, tel, whatsapp, número…) and no column holds phone numbers in the first lines (header: ${header.join(', ')}); name it with --column`,
      );
    }
    // No header and no column of numbers: the column with most numbers, so each line is reported.
    const best = [...columns].sort((x, y) => y.phones - x.phones || x.index - y.index)[0];
    return [{ index: best?.index ?? 0, name: null }];
  }

  private reject(events: OptOutCsvEvent[], line: number, reason: string, input: string, lastLine?: number): void {
    this.stats.rejected++;
    events.push({ kind: 'rejected', rejection: lastLine ? { line, lastLine, reason, input } : { line, reason, input } });
  }

  private item(it: CsvItem, events: OptOutCsvEvent[]): void {
    const f = this.format!;
    if (it.kind === 'malformed') {
      this.stats.linesRead++;
      this.reject(events, it.line, `unreadable CSV: ${it.reason}; line ${it.line} skipped`, shorten(it.raw));
      return;
    }
    let fields = it.fields.map((x) => x.trim());
    const span = it.raw ? it.raw.length : 1;
    if (fields.every((x) => x === '')) {
      this.stats.blankLines++;
      this.stats.continuationLines += span - 1;
      return;
    }
    if (f.header && !this.headerSeen) {
      this.headerSeen = true;
      this.stats.headerLines++;
      this.stats.continuationLines += span - 1;
      return;
    }
    // Empty cells beyond the header's columns are nothing; missing trailing cells are empty.
    if (fields.length > this.expectedColumns && fields.slice(this.expectedColumns).every((x) => x === '')) fields = fields.slice(0, this.expectedColumns);
    if (it.raw) {
      // A quoted field that swallowed line breaks and then does not fit the columns is a stray
      // quote, not a multi-line cell: report its first line and read the next ones on their own.
      const broken = fields.length !== this.expectedColumns || f.phoneColumns.some((c) => /[\r\n]/.test(fields[c.index] ?? ''));
      if (broken) {
        this.stats.linesRead++;
        const why = fields.length !== this.expectedColumns ? `${fields.length} column${fields.length === 1 ? '' : 's'} instead of ${this.expectedColumns}` : 'a line break in the phone number';
        const stray = strayQuoteRecord({ line: it.line, raw: it.raw }, f.delimiter, why);
        this.reject(events, it.line, stray.reason, shorten(it.raw[0]!));
        for (const next of stray.rest) this.item(next, events);
        return;
      }
    }
    this.stats.linesRead++;
    this.stats.continuationLines += span - 1;
    const lastLine = it.raw ? it.line + span - 1 : undefined;
    if (fields.length > this.expectedColumns) {
      const raw = it.fields.join(f.delimiter);
      this.reject(events, it.line, `wrong number of columns: expected ${this.expectedColumns}, found ${fields.length}`, shorten(raw), lastLine);
      return;
    }
    const cells = f.phoneColumns.map((c) => ({ column: c, cell: fields[c.index] ?? '' })).filter((x) => x.cell !== '');
    if (cells.length === 0) return this.reject(events, it.line, 'empty phone number', '', lastLine);
    const reasonCell = f.reasonColumn ? (fields[f.reasonColumn.index] ?? '') : '';
    const reason = reasonCell !== '' ? reasonCell : (this.options.defaultReason ?? null);
    for (const { column, cell } of cells) {
      const label = f.phoneColumns.length > 1 && column.name ? `${column.name}: ` : '';
      this.number(events, it.line, lastLine, cell, fields, reason, label);
    }
  }

  /** One phone cell of a line: imported, repeated or rejected. */
  private number(events: OptOutCsvEvent[], line: number, lastLine: number | undefined, cell: string, fields: string[], reason: string | null, label: string): void {
    const f = this.format!;
    if (SCIENTIFIC.test(cell)) {
      return this.reject(
        events,
        line,
        label + 'the spreadsheet wrote this number in scientific notation and lost its last digits: format the column as Text and export again',
        cell,
        lastLine,
      );
    }
    const parsed = readPhone(cell, this.dddColumn !== null ? fields[this.dddColumn] : undefined);
    if (!parsed.ok) {
      const hint = line === 1 && !f.header ? ' (no header was recognised on line 1: name the phone column with --column)' : '';
      return this.reject(events, line, label + parsed.reason + hint, cell, lastLine);
    }
    const span = lastLine ? { lastLine } : {};
    const first = this.seen.get(parsed.e164) ?? this.seenBefore.get(parsed.e164);
    if (first !== undefined) {
      this.stats.duplicates++;
      events.push({ kind: 'duplicate', duplicate: { line, ...span, phone_number: parsed.e164, first_line: first } });
      return;
    }
    if (this.seen.size >= Math.max(1, Math.floor(this.remember / 2))) {
      this.seenBefore = this.seen;
      this.seen = new Map();
    }
    this.seen.set(parsed.e164, line);
    if (parsed.ninthDigitAdded) {
      this.stats.warnings++;
      events.push({
        kind: 'warning',
        warning: { line, message: `${label}8-digit mobile from before the ninth digit: imported as ${parsed.e164}`, input: cell },
      });
    }
    this.stats.rows++;
    events.push({ kind: 'row', row: { line, ...span, phone_number: parsed.e164, reason } });
  }
}

function pickReasonColumn(header: string[] | null, phoneIndexes: readonly number[]): { index: number; name: string } | null {
  if (!header) return null;
  const names = header.map(normaliseHeader);
  for (const wanted of REASON_COLUMN_NAMES) {
    const index = names.indexOf(wanted);
    if (index >= 0 && !phoneIndexes.includes(index)) return { index, name: header[index] as string };
  }
  const byWord = names.findIndex((n, i) => !phoneIndexes.includes(i) && n.split('_').some((w) => REASON_COLUMN_NAMES.includes(w)));
  return byWord >= 0 ? { index: byWord, name: header[byWord] as string } : null;
}

/** Reads a whole source into one result (for tests and small files; the CLI consumes the events as they come). */
export async function collectOptOutCsv(source: AsyncIterable<Uint8Array>, options: OptOutCsvOptions = {}): Promise<OptOutCsvResult> {
  const reader = new OptOutCsvReader(options);
  const rows: OptOutCsvRow[] = [];
  const rejected: OptOutCsvRejection[] = [];
  const warnings: OptOutCsvWarning[] = [];
  const duplicates: OptOutCsvDuplicate[] = [];
  for await (const ev of reader.read(source)) {
    if (ev.kind === 'row') rows.push(ev.row);
    else if (ev.kind === 'rejected') rejected.push(ev.rejection);
    else if (ev.kind === 'warning') warnings.push(ev.warning);
    else duplicates.push(ev.duplicate);
  }
  return { ...reader.format!, rows, rejected, warnings, duplicates, linesRead: reader.stats.linesRead, blankLines: reader.stats.blankLines };
}
