import { parse } from 'csv-parse/sync';
import { parsePhone } from './phone';

/** Header names (accents and case ignored) that mark the phone column, in order of preference. */
export const PHONE_COLUMN_NAMES = ['phone', 'phone_number', 'telefone', 'numero', 'celular', 'fone', 'tel', 'whatsapp'];
/** Header names that mark an optional reason column. */
export const REASON_COLUMN_NAMES = ['reason', 'motivo', 'observacao', 'obs'];

/** How to read an opt-out CSV. */
export interface OptOutCsvOptions {
  /** Phone column: a header name (accents/case ignored) or a 1-based column number. Default: by header name, else the first column. */
  column?: string;
  /** Field delimiter; detected from the first line when absent. */
  delimiter?: ';' | ',';
  /** Reason stored for rows without a reason column value. */
  defaultReason?: string | null;
}

/** A line whose number parsed, ready for opt_out_import. */
export interface OptOutCsvRow {
  line: number;
  phone_number: string;
  reason: string | null;
}

/** A line that cannot be imported, and why (in words an operator understands). */
export interface OptOutCsvRejection {
  line: number;
  reason: string;
  /** The phone cell (or the raw line when the line itself is malformed). */
  input: string;
}

/** A line whose number was already seen earlier in the same file. */
export interface OptOutCsvDuplicate {
  line: number;
  phone_number: string;
  first_line: number;
}

/** Everything the CSV said: rows to import, rejected lines, in-file duplicates and counts. */
export interface OptOutCsvResult {
  rows: OptOutCsvRow[];
  rejected: OptOutCsvRejection[];
  duplicates: OptOutCsvDuplicate[];
  /** Data lines read (header and blank lines excluded) = rows + rejected + duplicates. */
  linesRead: number;
  blankLines: number;
  header: string[] | null;
  delimiter: ';' | ',';
  phoneColumn: { index: number; name: string | null };
  reasonColumn: { index: number; name: string } | null;
}

/** Thrown when the file cannot be read at all (e.g. the named column does not exist). */
export class OptOutCsvError extends Error {}

/** Lower case, accents stripped, spaces/dashes as underscores: "Número" → "numero". */
export function normaliseHeader(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
}

/** Guesses the delimiter from the first non-empty line: the more frequent of `;` and `,` outside quotes. */
export function detectDelimiter(text: string): ';' | ',' {
  const first = text.split('\n').find((l) => l.trim() !== '') ?? '';
  let inQuote = false;
  let semi = 0;
  let comma = 0;
  for (const ch of first) {
    if (ch === '"') inQuote = !inQuote;
    else if (!inQuote && ch === ';') semi++;
    else if (!inQuote && ch === ',') comma++;
  }
  return semi > 0 && semi >= comma ? ';' : ',';
}

interface RawRecord {
  kind: 'record' | 'error';
  fields: string[];
  raw: string;
  message?: string;
}

function looksLikeHeader(fields: string[]): boolean {
  const names = fields.map(normaliseHeader);
  if (names.some((n) => PHONE_COLUMN_NAMES.includes(n) || REASON_COLUMN_NAMES.includes(n))) return true;
  // No cell is a phone number and some cell has letters: a header we do not know the names of.
  return !fields.some((f) => parsePhone(f).ok) && fields.some((f) => /\p{L}/u.test(f));
}

function pickPhoneColumn(header: string[] | null, column: string | undefined): { index: number; name: string | null } {
  if (column !== undefined && /^\d+$/.test(column.trim())) {
    const index = Number(column.trim()) - 1;
    if (index < 0) throw new OptOutCsvError(`column numbers start at 1, got ${column}`);
    return { index, name: header?.[index] ?? null };
  }
  const names = header?.map(normaliseHeader) ?? [];
  if (column !== undefined) {
    if (!header) throw new OptOutCsvError(`column "${column}" was asked for, but the file has no header row`);
    const index = names.indexOf(normaliseHeader(column));
    if (index < 0) throw new OptOutCsvError(`no column named "${column}" in the header (${header.join(', ')})`);
    return { index, name: header[index] ?? null };
  }
  for (const wanted of PHONE_COLUMN_NAMES) {
    const index = names.indexOf(wanted);
    if (index >= 0) return { index, name: header?.[index] ?? null };
  }
  return { index: 0, name: header?.[0] ?? null };
}

function pickReasonColumn(header: string[] | null, phoneIndex: number): { index: number; name: string } | null {
  if (!header) return null;
  const names = header.map(normaliseHeader);
  for (const wanted of REASON_COLUMN_NAMES) {
    const index = names.indexOf(wanted);
    if (index >= 0 && index !== phoneIndex) return { index, name: header[index] as string };
  }
  return null;
}

function countNewlines(s: string): number {
  let n = 0;
  for (const ch of s) if (ch === '\n') n++;
  return n;
}

function shorten(s: string, max = 80): string {
  const one = s.replace(/\n/g, '\\n');
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

/**
 * Reads an opt-out list exported from a spreadsheet (Não Me Perturbe, Procon-SP, our own):
 * optional header row, `;` or `,` delimiter, BOM, quoted fields, CRLF. Every number is
 * normalised to E.164 with parsePhone; every line that cannot be imported is reported with
 * its 1-based line number in the file and the reason. Blank lines are skipped silently.
 */
export function parseOptOutCsv(input: string | Buffer, options: OptOutCsvOptions = {}): OptOutCsvResult {
  const text = (typeof input === 'string' ? input : input.toString('utf8')).replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const delimiter = options.delimiter ?? detectDelimiter(text);

  // Records and unreadable chunks in file order, each with the raw text it came from
  // (the raw text is how we know which lines it spans).
  const records: RawRecord[] = [];
  parse(text, {
    delimiter,
    raw: true,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: false,
    skip_records_with_error: true,
    // With `raw: true` csv-parse hands on_record {record, raw}; its typings say string[].
    on_record: (r: unknown) => {
      const { record, raw } = r as { record: string[]; raw: string };
      records.push({ kind: 'record', fields: record, raw });
      return record;
    },
    on_skip: (err, raw) => {
      records.push({ kind: 'error', fields: [], raw: raw ?? '', message: err?.message ?? 'unreadable line' });
      return undefined;
    },
  });

  const result: OptOutCsvResult = {
    rows: [],
    rejected: [],
    duplicates: [],
    linesRead: 0,
    blankLines: 0,
    header: null,
    delimiter,
    phoneColumn: { index: 0, name: null },
    reasonColumn: null,
  };
  const seen = new Map<string, number>();
  let expectedColumns: number | null = null;
  let headerDecided = false;
  let nextLine = 1;

  for (const rec of records) {
    const line = nextLine;
    const span = countNewlines(rec.raw.replace(/\n$/, ''));
    nextLine += span + 1;

    if (rec.kind === 'error') {
      result.linesRead++;
      const where = span > 0 ? `lines ${line}-${line + span}` : `line ${line}`;
      const why = /quote/i.test(rec.message ?? '') ? `a quote (") opened on line ${line} is never closed` : rec.message;
      result.rejected.push({ line, reason: `unreadable CSV: ${why}; ${where} skipped`, input: shorten(rec.raw) });
      continue;
    }
    const fields = rec.fields.map((f) => f.trim());
    if (fields.every((f) => f === '')) {
      result.blankLines++;
      continue;
    }

    if (!headerDecided) {
      headerDecided = true;
      if (looksLikeHeader(fields)) {
        result.header = fields;
        result.phoneColumn = pickPhoneColumn(fields, options.column);
        result.reasonColumn = pickReasonColumn(fields, result.phoneColumn.index);
        expectedColumns = fields.length;
        continue;
      }
      result.phoneColumn = pickPhoneColumn(null, options.column);
    }

    result.linesRead++;
    expectedColumns ??= fields.length;
    if (fields.length !== expectedColumns) {
      result.rejected.push({
        line,
        reason: `wrong number of columns: expected ${expectedColumns}, found ${fields.length}`,
        input: shorten(rec.raw.replace(/\n$/, '')),
      });
      continue;
    }
    const cell = fields[result.phoneColumn.index] ?? '';
    if (cell === '') {
      result.rejected.push({ line, reason: 'empty phone number', input: cell });
      continue;
    }
    const parsed = parsePhone(cell);
    if (!parsed.ok) {
      result.rejected.push({ line, reason: parsed.reason, input: cell });
      continue;
    }
    const first = seen.get(parsed.e164);
    if (first !== undefined) {
      result.duplicates.push({ line, phone_number: parsed.e164, first_line: first });
      continue;
    }
    seen.set(parsed.e164, line);
    const reasonCell = result.reasonColumn ? (fields[result.reasonColumn.index] ?? '') : '';
    result.rows.push({ line, phone_number: parsed.e164, reason: reasonCell !== '' ? reasonCell : (options.defaultReason ?? null) });
  }
  return result;
}

/** Splits rows into batches for opt_out_import (one RPC per batch). */
export function batches<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`batch size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
