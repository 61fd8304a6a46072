/**
 * Reads campaign lead lists as Brazilian teams export them (Excel pt-BR, LibreOffice, Google
 * Sheets, CRMs), as a stream in flat memory, with the CSV machinery of src/lib/domain/csv.ts
 * (encodings, `sep=`, delimiter detection, quotes) and the header vocabulary of the opt-out
 * reader; and writes a campaign's leads back as CSV for Excel pt-BR.
 *
 * - The first non-blank line must be the header (lead fields need names): a line with a
 *   column name we know (telefone, nome, cpf…) and no phone number in it, or naming the
 *   column --phone-column asks for.
 * - Phone column: the one asked for (name or 1-based number), else the best column whose
 *   name says phone and whose first values are phones, else the column whose first values
 *   are mostly phones. A separate DDD column completes 8/9-digit numbers.
 * - Name and external id: columns named nome/cliente… and id/código/matrícula…, when present.
 * - Every other column is a lead field (leads.data), keyed by its header as written,
 *   trimmed; empty cells are left out (so re-importing never blanks a field).
 * - Bad lines (unreadable CSV, wrong column count, no or bad phone, a value too long) are
 *   reported by line number with a reason; the rest is imported.
 * - A phone repeated in the file is counted as a duplicate and still sent: the database
 *   merges it into the same lead (newest values win).
 * - A phone cell may start with the apostrophe of a formula guard ("'+5511…", as the
 *   export writes it): the file exported from a campaign imports again as it is.
 * - A file that is not text (an .xlsx workbook, a zip, a PDF, any binary) is refused before
 *   anything is read from it.
 */
import { CsvEventReader, csvCell, EXPORT_DELIMITER, notCsvReason, shorten, strayQuoteRecord, type CsvDelimiter, type CsvEncoding, type CsvItem } from './csv';
import { DDD_COLUMN_NAMES, isKnownName, isPhoneCell, normaliseHeader, NOT_PHONE_WORDS, phoneNameRank, readPhone, SCIENTIFIC, words } from './opt-out-csv';

/** Header names (normalised) of the lead's name. */
export const NAME_COLUMN_NAMES = ['nome', 'name', 'nome_completo', 'nome_do_cliente', 'nome_cliente', 'cliente', 'razao_social', 'devedor', 'nome_devedor', 'contato_nome'];
/** Header names (normalised) of the lead's id in the customer's own system. */
export const ID_COLUMN_NAMES = ['external_id', 'id_externo', 'id', 'id_cliente', 'codigo', 'codigo_cliente', 'cod_cliente', 'matricula'];

/** Longest value of a lead field; name and external id have the database's limits. */
export const MAX_FIELD_CHARS = 1000;
const MAX_NAME_CHARS = 200;
const MAX_ID_CHARS = 100;
/** Most columns a lead file may have. */
export const MAX_COLUMNS = 200;

export interface LeadsCsvOptions {
  /** Phone column: header name (accents/case ignored) or 1-based number. */
  phoneColumn?: string;
  nameColumn?: string;
  idColumn?: string;
  delimiter?: CsvDelimiter;
  encoding?: CsvEncoding;
  /** Phones remembered to count repeats in the file (bounds memory; the database merges repeats further apart all the same). */
  rememberNumbers?: number;
  /** collectLeadsCsv stops (LeadsCsvTooManyRows) as soon as the file has more leads than this. */
  maxRows?: number;
}

/** A lead read from a line, as leads_import_batch takes it. */
export interface LeadRow {
  line: number;
  phone_number: string;
  name: string | null;
  external_id: string | null;
  data: Record<string, string>;
}

export interface LeadsCsvRejection {
  line: number;
  reason: string;
  input: string;
}

export type LeadsCsvEvent =
  | { kind: 'row'; row: LeadRow; duplicateOf?: number }
  | { kind: 'rejected'; rejection: LeadsCsvRejection }
  | { kind: 'warning'; warning: { line: number; message: string; input: string } };

/** Running counts; physicalLines = headerLines + blankLines + continuationLines + linesRead, linesRead = rows + rejected. */
export interface LeadsCsvStats {
  physicalLines: number;
  linesRead: number;
  headerLines: number;
  blankLines: number;
  continuationLines: number;
  rows: number;
  rejected: number;
  /** Rows whose phone came earlier in the file (merged into the same lead). */
  duplicates: number;
  warnings: number;
}

export interface LeadsCsvFormat {
  encoding: CsvEncoding;
  delimiter: CsvDelimiter;
  sepLine: boolean;
  header: string[];
  phoneColumn: { index: number; name: string };
  nameColumn: { index: number; name: string } | null;
  idColumn: { index: number; name: string } | null;
  /** The columns kept as lead fields, with the key each is stored under. */
  fields: { index: number; key: string }[];
}

/** A phone cell without the apostrophe a formula guard put before it ("'+5511…", as the export writes it). */
const unguard = (cell: string) => (cell.startsWith("'") ? cell.slice(1).trim() : cell);

/** The file cannot be read as a lead list at all (not CSV, no header, no phone column…): nothing is imported. */
export class LeadsCsvError extends Error {}

/** The file holds more leads than the caller takes (LeadsCsvOptions.maxRows); reading stopped there. */
export class LeadsCsvTooManyRows extends LeadsCsvError {
  constructor(readonly maxRows: number) {
    super(`the file has more than ${maxRows} leads`);
  }
}

/** Picks a column by name (normalised) or 1-based number, or throws naming what the header has. */
function columnByOption(option: string, header: string[], what: string): { index: number; name: string } {
  if (/^\s*\d+\s*$/.test(option)) {
    const index = Number(option.trim()) - 1;
    if (index < 0 || index >= header.length) throw new LeadsCsvError(`${what} column ${option} does not exist: the header has ${header.length} columns`);
    return { index, name: header[index]! };
  }
  const index = header.map(normaliseHeader).indexOf(normaliseHeader(option));
  if (index < 0) throw new LeadsCsvError(`no column named "${option}" in the header (${header.join(', ')})`);
  return { index, name: header[index]! };
}

/** The field keys of a header: each name as written, trimmed; empty → "coluna N"; repeated → "name (2)". */
function fieldKeys(header: string[]): string[] {
  const used = new Map<string, number>();
  return header.map((h, i) => {
    const base = h.trim() || `coluna ${i + 1}`;
    const n = (used.get(base) ?? 0) + 1;
    used.set(base, n);
    return n === 1 ? base : `${base} (${n})`;
  });
}

/**
 * The streaming lead reader (see CsvEventReader for write/end/read).
 */
export class LeadsCsvReader extends CsvEventReader<LeadsCsvEvent> {
  readonly stats: LeadsCsvStats = { physicalLines: 0, linesRead: 0, headerLines: 0, blankLines: 0, continuationLines: 0, rows: 0, rejected: 0, duplicates: 0, warnings: 0 };
  /** Known once the header and the first data lines are read. */
  format: LeadsCsvFormat | null = null;

  private checkedBytes = false;
  private sampleItems: CsvItem[] | null = [];
  private sampleRecords = 0;
  private headerSeen = false;
  private dddColumn: number | null = null;
  private seen = new Map<string, number>();
  private seenBefore = new Map<string, number>();
  private readonly remember: number;

  constructor(private readonly options: LeadsCsvOptions = {}) {
    super({ encoding: options.encoding, delimiter: options.delimiter });
    this.remember = options.rememberNumbers ?? 200_000;
  }

  /** Bytes in; the first ones are checked to be text at all (a workbook or a binary is refused before any row). */
  override write(chunk: Uint8Array): LeadsCsvEvent[] {
    if (!this.checkedBytes && chunk.length > 0) {
      this.checkedBytes = true;
      const why = notCsvReason(chunk);
      if (why) throw new LeadsCsvError(`this file is not CSV: ${why}`);
    }
    return super.write(chunk);
  }

  protected took(items: CsvItem[], eof: boolean): LeadsCsvEvent[] {
    this.stats.physicalLines = this.records.physicalLines;
    if (this.sampleItems) {
      // Blank lines before the first records are counted, not kept (a file of blank lines
      // must not grow the sample).
      for (const it of items) {
        if (it.kind === 'record' && it.fields.every((f) => f.trim() === '')) {
          this.stats.blankLines++;
          this.stats.continuationLines += (it.raw ? it.raw.length : 1) - 1;
          continue;
        }
        this.sampleItems.push(it);
        if (it.kind === 'record') this.sampleRecords++;
      }
      if (!eof && this.sampleRecords < 21) return [];
      const records = this.sampleItems.filter((it) => it.kind === 'record');
      items = this.sampleItems;
      this.sampleItems = null;
      if (records.length === 0) throw new LeadsCsvError('the file has no lines: nothing to import');
      this.decide(records as Extract<CsvItem, { kind: 'record' }>[]);
    }
    if (this.format) this.format.encoding = this.records.encoding;
    const events: LeadsCsvEvent[] = [];
    for (const it of items) this.item(it, events);
    return events;
  }

  /** The header, the phone, name and id columns, and the field keys, from the first records. */
  private decide(records: Extract<CsvItem, { kind: 'record' }>[]): void {
    const first = records[0]!;
    const header = first.fields.map((x) => x.trim());
    const asked = this.options.phoneColumn;
    const names = header.map(normaliseHeader);
    const namesAsked = asked !== undefined && !/^\s*\d+\s*$/.test(asked) && names.includes(normaliseHeader(asked));
    const isHeader = !header.some(isPhoneCell) && (header.some(isKnownName) || namesAsked || names.some((n) => NAME_COLUMN_NAMES.includes(n)));
    if (!isHeader) {
      throw new LeadsCsvError(
        `line ${first.line} is not a header: a lead file starts with a line naming its columns (telefone, nome, and any others), got "${shorten(header.join(this.records.delimiter ?? ';'))}"`,
      );
    }
    if (header.length > MAX_COLUMNS) throw new LeadsCsvError(`the header has ${header.length} columns; at most ${MAX_COLUMNS}`);
    const data = records.slice(1);
    const phone = asked !== undefined ? columnByOption(asked, header, 'phone') : this.pickPhoneColumn(header, data);
    const nameOpt = this.options.nameColumn;
    const idOpt = this.options.idColumn;
    const byNames = (list: readonly string[], skip: number[]) => {
      for (const wanted of list) {
        const index = names.findIndex((n, i) => n === wanted && !skip.includes(i));
        if (index >= 0) return { index, name: header[index]! };
      }
      return null;
    };
    const name = nameOpt !== undefined ? columnByOption(nameOpt, header, 'name') : byNames(NAME_COLUMN_NAMES, [phone.index]);
    const id = idOpt !== undefined ? columnByOption(idOpt, header, 'id') : byNames(ID_COLUMN_NAMES, [phone.index, ...(name ? [name.index] : [])]);
    if (name && name.index === phone.index) throw new LeadsCsvError('the name column cannot be the phone column');
    if (id && (id.index === phone.index || id.index === name?.index)) throw new LeadsCsvError('the id column must differ from the phone and name columns');
    const keys = fieldKeys(header);
    const taken = new Set([phone.index, name?.index, id?.index]);
    const ddd = names.findIndex((n, i) => DDD_COLUMN_NAMES.includes(n) && i !== phone.index);
    this.dddColumn = ddd >= 0 ? ddd : null;
    this.format = {
      encoding: this.records.encoding,
      delimiter: this.records.delimiter!,
      sepLine: this.records.sepLine,
      header,
      phoneColumn: phone,
      nameColumn: name,
      idColumn: id,
      fields: keys.flatMap((key, index) => (taken.has(index) ? [] : [{ index, key }])),
    };
    if (this.records.sepLine) this.stats.headerLines++;
  }

  /** The best phone column: named for phones and holding phones, else holding mostly phones. */
  private pickPhoneColumn(header: string[], data: readonly { fields: string[] }[]): { index: number; name: string } {
    const columns = header.map((name, index) => {
      const values = data.map((r) => unguard((r.fields[index] ?? '').trim())).filter((v) => v !== '');
      const phones = values.filter(isPhoneCell).length;
      const n = normaliseHeader(name);
      return { index, name, rank: phoneNameRank(n), vetoed: words(n).some((w) => NOT_PHONE_WORDS.includes(w)), values: values.length, share: values.length ? phones / values.length : 0 };
    });
    const named = columns.filter((c) => (c.rank === 2 ? c.values === 0 || c.share >= 0.2 : c.rank === 1 && c.share >= 0.5));
    const byValues = columns.filter((c) => !c.vetoed && c.share >= 0.5);
    const best = [...named].sort((x, y) => y.rank - x.rank || y.share - x.share || x.index - y.index)[0] ?? [...byValues].sort((x, y) => y.share - x.share || x.index - y.index)[0];
    if (!best) {
      throw new LeadsCsvError(
        `no phone column: no header name says phone (telefone, celular, fone, whatsapp, número…) and no column holds phone numbers in the first lines (header: ${header.join(', ')}); name it with --phone-column`,
      );
    }
    return { index: best.index, name: best.name };
  }

  private reject(events: LeadsCsvEvent[], line: number, reason: string, input: string): void {
    this.stats.rejected++;
    events.push({ kind: 'rejected', rejection: { line, reason, input: shorten(input) } });
  }

  private item(it: CsvItem, events: LeadsCsvEvent[]): void {
    const f = this.format!;
    if (it.kind === 'malformed') {
      this.stats.linesRead++;
      this.reject(events, it.line, `unreadable CSV: ${it.reason}; line ${it.line} skipped`, it.raw);
      return;
    }
    let fields = it.fields.map((x) => x.trim());
    const span = it.raw ? it.raw.length : 1;
    if (fields.every((x) => x === '')) {
      this.stats.blankLines++;
      this.stats.continuationLines += span - 1;
      return;
    }
    if (!this.headerSeen) {
      this.headerSeen = true;
      this.stats.headerLines++;
      this.stats.continuationLines += span - 1;
      return;
    }
    const width = f.header.length;
    if (fields.length > width && fields.slice(width).every((x) => x === '')) fields = fields.slice(0, width);
    if (it.raw && (fields.length !== width || /[\r\n]/.test(fields[f.phoneColumn.index] ?? ''))) {
      this.stats.linesRead++;
      const why = fields.length !== width ? `${fields.length} column${fields.length === 1 ? '' : 's'} instead of ${width}` : 'a line break in the phone number';
      const stray = strayQuoteRecord({ line: it.line, raw: it.raw }, f.delimiter, why);
      this.reject(events, it.line, stray.reason, it.raw[0]!);
      for (const next of stray.rest) this.item(next, events);
      return;
    }
    this.stats.linesRead++;
    this.stats.continuationLines += span - 1;
    if (fields.length > width) {
      return this.reject(events, it.line, `wrong number of columns: expected ${width}, found ${fields.length}`, it.fields.join(f.delimiter));
    }
    const cell = unguard(fields[f.phoneColumn.index] ?? '');
    if (cell === '') return this.reject(events, it.line, `empty phone number (column ${f.phoneColumn.name})`, '');
    if (SCIENTIFIC.test(cell)) {
      return this.reject(events, it.line, 'the spreadsheet wrote this number in scientific notation and lost its last digits: format the column as Text and export again', cell);
    }
    const parsed = readPhone(cell, this.dddColumn !== null ? fields[this.dddColumn] : undefined);
    if (!parsed.ok) return this.reject(events, it.line, parsed.reason, cell);
    const name = f.nameColumn ? fields[f.nameColumn.index] || null : null;
    const externalId = f.idColumn ? fields[f.idColumn.index] || null : null;
    if (name !== null && name.length > MAX_NAME_CHARS) return this.reject(events, it.line, `${f.nameColumn!.name}: longer than ${MAX_NAME_CHARS} characters`, name);
    if (externalId !== null && externalId.length > MAX_ID_CHARS) return this.reject(events, it.line, `${f.idColumn!.name}: longer than ${MAX_ID_CHARS} characters`, externalId);
    // A null-prototype object: a column named __proto__ or constructor is a field like any other.
    const data: Record<string, string> = Object.create(null) as Record<string, string>;
    for (const { index, key } of f.fields) {
      const v = fields[index];
      if (!v) continue;
      if (v.length > MAX_FIELD_CHARS) return this.reject(events, it.line, `${key}: longer than ${MAX_FIELD_CHARS} characters`, v);
      data[key] = v;
    }
    if (parsed.ninthDigitAdded) {
      this.stats.warnings++;
      events.push({ kind: 'warning', warning: { line: it.line, message: `8-digit mobile from before the ninth digit: imported as ${parsed.e164}`, input: cell } });
    }
    const first = this.seen.get(parsed.e164) ?? this.seenBefore.get(parsed.e164);
    if (first === undefined) {
      if (this.seen.size >= Math.max(1, Math.floor(this.remember / 2))) {
        this.seenBefore = this.seen;
        this.seen = new Map();
      }
      this.seen.set(parsed.e164, it.line);
    } else this.stats.duplicates++;
    this.stats.rows++;
    const row: LeadRow = { line: it.line, phone_number: parsed.e164, name, external_id: externalId, data };
    events.push(first === undefined ? { kind: 'row', row } : { kind: 'row', row, duplicateOf: first });
  }
}

/** Everything a whole file said (tests and small bodies such as an API upload). */
export async function collectLeadsCsv(
  source: AsyncIterable<Uint8Array>,
  options: LeadsCsvOptions = {},
): Promise<{ format: LeadsCsvFormat; stats: LeadsCsvStats; rows: LeadRow[]; rejected: LeadsCsvRejection[]; duplicates: { line: number; first_line: number }[] }> {
  const reader = new LeadsCsvReader(options);
  const rows: LeadRow[] = [];
  const rejected: LeadsCsvRejection[] = [];
  const duplicates: { line: number; first_line: number }[] = [];
  for await (const ev of reader.read(source)) {
    if (ev.kind === 'row') {
      rows.push(ev.row);
      if (options.maxRows !== undefined && rows.length > options.maxRows) throw new LeadsCsvTooManyRows(options.maxRows);
      if (ev.duplicateOf !== undefined) duplicates.push({ line: ev.row.line, first_line: ev.duplicateOf });
    } else if (ev.kind === 'rejected') rejected.push(ev.rejection);
  }
  if (!reader.format) throw new LeadsCsvError('the file has no lines: nothing to import');
  return { format: reader.format, stats: reader.stats, rows, rejected, duplicates };
}

/** One buffer as an async source (API bodies, tests). */
export async function* bytesSource(bytes: Uint8Array, chunk = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
}

// ---------------------------------------------------------------------------------------
// Export: CSV for Excel pt-BR

/** The export writes with the shared CSV writer (csv.ts). */
export { CSV_BOM, EXPORT_DELIMITER, csvCell } from './csv';

/** The export's fixed columns (pt-BR: people read them in Excel), before the lead fields. */
export const EXPORT_COLUMNS = ['id', 'telefone', 'nome', 'id_externo', 'status', 'tentativas', 'resultado', 'ultima_tentativa', 'proxima_tentativa', 'retorno_em'] as const;

/** A lead as leads_export_page returns it. */
export interface ExportLead {
  id: number;
  phone_number: string;
  name: string | null;
  external_id: string | null;
  status: string;
  attempts: number;
  outcome: string | null;
  last_attempt_at: string | null;
  next_attempt_at: string | null;
  callback_at: string | null;
  data: Record<string, unknown>;
}

/** A timestamp as São Paulo local time "AAAA-MM-DD HH:MM:SS" (what Excel pt-BR reads as a date). */
export function exportTime(iso: string | null): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  // Brazil has no daylight saving since 2019: São Paulo is UTC-3.
  return new Date(ms - 3 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** The header line: the fixed columns, then each lead field (a field named like a fixed column is prefixed "campo "). */
export function exportHeader(fieldNames: readonly string[]): string {
  const fixed = new Set<string>(EXPORT_COLUMNS);
  return [...EXPORT_COLUMNS, ...fieldNames.map((k) => (fixed.has(k) ? `campo ${k}` : k))].map(csvCell).join(EXPORT_DELIMITER);
}

/** One lead's line, its fields in the header's order. */
export function exportLine(lead: ExportLead, fieldNames: readonly string[]): string {
  const cells: unknown[] = [
    lead.id,
    lead.phone_number,
    lead.name,
    lead.external_id,
    lead.status,
    lead.attempts,
    lead.outcome,
    exportTime(lead.last_attempt_at),
    exportTime(lead.next_attempt_at),
    exportTime(lead.callback_at),
    // Own fields only: a field named like an Object.prototype member (constructor, toString,
    // __proto__) is the lead's value or empty, never the prototype's.
    ...fieldNames.map((k) => (lead.data && Object.hasOwn(lead.data, k) ? lead.data[k] : undefined)),
  ];
  return cells.map(csvCell).join(EXPORT_DELIMITER);
}
