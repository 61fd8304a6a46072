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
import { TextDecoder } from 'node:util';
import { parsePhoneWithNinthDigit } from './phone';

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
const DDD_COLUMN_NAMES = ['ddd', 'cod_area', 'codigo_de_area', 'codigo_area'];
/** Other column names common in these lists: enough, with the above, to know a header when we see one. */
const OTHER_COLUMN_NAMES = ['nome', 'name', 'cliente', 'cpf', 'cnpj', 'cpf_cnpj', 'email', 'e_mail', 'data', 'date', 'id', 'codigo', 'cidade', 'uf', 'estado', 'origem', 'source'];

export type CsvDelimiter = ';' | ',' | '\t';
/** Encodings we read; `utf-8` covers plain ASCII too. */
export type CsvEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';

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
// Bytes → text

/** Windows-1252 bytes 0x80-0x9F (WHATWG index-windows-1252); every other byte is its Latin-1 code point. */
const CP1252_80_9F = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d, 0x17d, 0x8f,
  0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x9d, 0x17e, 0x178,
];

/** Decodes Windows-1252 bytes (the same on every Node build, with or without ICU). */
export function decodeWindows1252(bytes: Uint8Array): string {
  const latin1 = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  return /[\x80-\x9f]/.test(latin1) ? latin1.replace(/[\x80-\x9f]/g, (c) => String.fromCharCode(CP1252_80_9F[c.charCodeAt(0) - 0x80]!)) : latin1;
}

/** Checks the UTF-8 of bytes[from..]: valid, invalid, or valid but cut inside a final character. */
function checkUtf8(b: Uint8Array, from: number): 'valid' | 'invalid' | 'truncated' {
  let i = from;
  while (i < b.length) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return 'invalid';
    for (let k = 1; k <= need; k++) {
      if (i + k >= b.length) return 'truncated';
      const d = b[i + k]!;
      if (k === 1 ? d < lo || d > hi : d < 0x80 || d > 0xbf) return 'invalid';
    }
    i += need + 1;
  }
  return 'valid';
}

/** UTF-16 without a BOM: in text of Latin letters every other byte is zero. */
function sniffUtf16(b: Uint8Array): 'utf-16le' | 'utf-16be' | null {
  const n = Math.min(b.length, 1024) & ~1;
  if (n < 4) return null;
  let evenZeros = 0;
  let oddZeros = 0;
  for (let i = 0; i < n; i += 2) {
    if (b[i] === 0) evenZeros++;
    if (b[i + 1] === 0) oddZeros++;
  }
  const pairs = n / 2;
  if (oddZeros > pairs * 0.4 && evenZeros < pairs * 0.05) return 'utf-16le';
  if (evenZeros > pairs * 0.4 && oddZeros < pairs * 0.05) return 'utf-16be';
  return null;
}

/**
 * Bytes to text, chunk by chunk. Until the first non-ASCII byte the text is the same in
 * every encoding we read, so the choice between UTF-8 and Windows-1252 is made there, on
 * the bytes that follow it (not on the first chunk only).
 */
export class ByteDecoder {
  private mode: 'start' | 'ascii' | CsvEncoding;
  private pending: Buffer = Buffer.alloc(0);
  private utf8: TextDecoder | null = null;
  private utf16: TextDecoder | null = null;
  private swapCarry: number | null = null;

  constructor(private readonly forced?: CsvEncoding) {
    this.mode = 'start';
  }

  /** The encoding chosen so far (plain ASCII reads as UTF-8). */
  get encoding(): CsvEncoding {
    return this.mode === 'start' || this.mode === 'ascii' ? (this.forced ?? 'utf-8') : this.mode;
  }

  write(chunk: Uint8Array): string {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.pending = Buffer.alloc(0);
    return this.decode(buf, false);
  }

  end(): string {
    const buf = this.pending;
    this.pending = Buffer.alloc(0);
    return this.decode(buf, true) + (this.utf8?.decode() ?? '') + (this.utf16?.decode() ?? '');
  }

  private use(mode: CsvEncoding): void {
    this.mode = mode;
    if (mode === 'utf-8') this.utf8 = new TextDecoder('utf-8');
    if (mode === 'utf-16le' || mode === 'utf-16be') this.utf16 = new TextDecoder('utf-16le');
  }

  private decode(buf: Buffer, eof: boolean): string {
    if (this.mode === 'start') {
      // Enough bytes for the BOM and for spotting UTF-16 without one.
      if (buf.length < 512 && !eof) {
        this.pending = buf;
        return '';
      }
      const bom: [CsvEncoding, number] | null =
        buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf
          ? ['utf-8', 3]
          : buf[0] === 0xff && buf[1] === 0xfe
            ? ['utf-16le', 2]
            : buf[0] === 0xfe && buf[1] === 0xff
              ? ['utf-16be', 2]
              : null;
      if (bom && (!this.forced || this.forced === bom[0])) {
        this.use(bom[0]);
        buf = buf.subarray(bom[1]);
      } else if (this.forced) {
        this.use(this.forced);
      } else {
        const utf16 = sniffUtf16(buf);
        if (utf16) this.use(utf16);
        else this.mode = 'ascii';
      }
    }
    if (this.mode === 'ascii') {
      let i = 0;
      while (i < buf.length && buf[i]! < 0x80) i++;
      if (i === buf.length) return buf.toString('latin1');
      const head = buf.subarray(0, i).toString('latin1');
      const rest = buf.subarray(i);
      const verdict = checkUtf8(rest, 0);
      if (verdict === 'truncated' && !eof) {
        // A character is cut by the chunk's end: decide when the next chunk completes it.
        this.pending = Buffer.from(rest);
        return head;
      }
      this.use(verdict === 'invalid' || (verdict === 'truncated' && eof) ? 'windows-1252' : 'utf-8');
      return head + this.decode(rest, eof);
    }
    switch (this.mode) {
      case 'utf-8':
        return this.utf8!.decode(buf, { stream: !eof });
      case 'windows-1252':
        return decodeWindows1252(buf);
      case 'utf-16le':
        return this.utf16!.decode(buf, { stream: !eof });
      case 'utf-16be': {
        // Swap each byte pair and read it as UTF-16LE (Node's UTF-16BE decoder needs full ICU).
        let bytes = this.swapCarry === null ? buf : Buffer.concat([Buffer.from([this.swapCarry]), buf]);
        this.swapCarry = null;
        if (bytes.length % 2 === 1) {
          this.swapCarry = bytes[bytes.length - 1]!;
          bytes = bytes.subarray(0, bytes.length - 1);
        }
        return this.utf16!.decode(Buffer.from(bytes).swap16(), { stream: !eof });
      }
      default:
        return '';
    }
  }
}

// ---------------------------------------------------------------------------------------
// Text → physical lines → records

/** Longest physical line kept; longer ones are reported, not buffered. */
const MAX_LINE_CHARS = 1 << 20;
/** A quoted field may span this many lines (or characters) before its opening quote is taken for a stray one. */
const MAX_RECORD_LINES = 20;
const MAX_RECORD_CHARS = 64 * 1024;

/** Splits text into lines at CRLF, LF or a lone CR (old Mac exports); `null` stands for a line over MAX_LINE_CHARS. */
class LineSplitter {
  private rest = '';
  private crPending = false;
  private overlong = false;

  write(text: string, out: (string | null)[]): void {
    if (text === '') return;
    if (this.crPending && text.startsWith('\n')) text = text.slice(1);
    this.crPending = false;
    const s = this.rest + text;
    let start = 0;
    for (;;) {
      let i = s.indexOf('\n', start);
      const cr = s.indexOf('\r', start);
      if (cr >= 0 && (i < 0 || cr < i)) i = cr;
      if (i < 0) break;
      out.push(this.overlong ? null : s.slice(start, i));
      this.overlong = false;
      if (s.charCodeAt(i) === 13) {
        if (i + 1 === s.length) this.crPending = true;
        else if (s.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.rest = s.slice(start);
    if (this.rest.length > MAX_LINE_CHARS) {
      this.overlong = true;
      this.rest = '';
    }
  }

  end(out: (string | null)[]): void {
    if (this.rest !== '' || this.overlong) out.push(this.overlong ? null : this.rest);
    this.rest = '';
    this.overlong = false;
  }
}

type RecordParse =
  | { status: 'ok'; fields: string[]; used: number }
  | { status: 'open' }
  | { status: 'bad'; reason: string; multiline: boolean };

/** Parses one record from the start of `lines` (a quoted field may continue on the next lines). */
function parseRecord(lines: readonly string[], d: string): RecordParse {
  const fields: string[] = [];
  let li = 0;
  let line = lines[0]!;
  let i = 0;
  for (;;) {
    let j = i;
    while (line.charCodeAt(j) === 32) j++;
    if (line.charCodeAt(j) === 34) {
      let value = '';
      let k = j + 1;
      for (;;) {
        const q = line.indexOf('"', k);
        if (q < 0) {
          value += line.slice(k) + '\n';
          li++;
          if (li >= lines.length) return { status: 'open' };
          line = lines[li]!;
          k = 0;
          continue;
        }
        if (line.charCodeAt(q + 1) === 34) {
          value += line.slice(k, q) + '"';
          k = q + 2;
          continue;
        }
        value += line.slice(k, q);
        k = q + 1;
        break;
      }
      while (line.charCodeAt(k) === 32) k++;
      fields.push(value);
      if (k >= line.length) return { status: 'ok', fields, used: li + 1 };
      if (!line.startsWith(d, k)) return { status: 'bad', reason: `stray quote (") in field ${fields.length}`, multiline: li > 0 };
      i = k + d.length;
      continue;
    }
    const next = line.indexOf(d, i);
    if (next < 0) {
      fields.push(line.slice(i));
      return { status: 'ok', fields, used: li + 1 };
    }
    fields.push(line.slice(i, next));
    i = next + d.length;
  }
}

/** A record, with its physical lines when it spans more than one (to re-read them one by one if it turns out wrong). */
type CsvItem = { kind: 'record'; line: number; fields: string[]; raw?: string[] } | { kind: 'malformed'; line: number; reason: string; raw: string };

function shorten(s: string, max = 80): string {
  const one = s.replace(/\n/g, '\\n');
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

/** Physical lines in, records out; a record that cannot be read is reported on its first line and reading resumes on the next. */
class RecordAssembler {
  private lines: string[] = [];
  private firstLine = 1;
  private open = false;
  /** Characters in `lines`. */
  private chars = 0;

  constructor(private readonly delimiter: string) {}

  push(lineNo: number, text: string | null, out: CsvItem[]): void {
    if (text === null) {
      this.drain(out, true);
      out.push({ kind: 'malformed', line: lineNo, reason: `line longer than ${MAX_LINE_CHARS} characters`, raw: '' });
      this.firstLine = lineNo + 1;
      return;
    }
    if (this.lines.length === 0) this.firstLine = lineNo;
    this.lines.push(text);
    this.chars += text.length;
    // Still inside a quoted field and this line has no quote to close it: nothing to parse yet.
    if (this.open && !text.includes('"') && this.lines.length < MAX_RECORD_LINES && this.chars < MAX_RECORD_CHARS) return;
    this.drain(out, false);
  }

  end(out: CsvItem[]): void {
    this.drain(out, true);
  }

  private drain(out: CsvItem[], eof: boolean): void {
    this.open = false;
    while (this.lines.length) {
      const r = parseRecord(this.lines, this.delimiter);
      if (r.status === 'ok') {
        const used = this.lines.splice(0, r.used);
        out.push(r.used > 1 ? { kind: 'record', line: this.firstLine, fields: r.fields, raw: used } : { kind: 'record', line: this.firstLine, fields: r.fields });
        for (const l of used) this.chars -= l.length;
        this.firstLine += r.used;
        continue;
      }
      if (r.status === 'open') {
        if (!eof && this.lines.length < MAX_RECORD_LINES && this.chars < MAX_RECORD_CHARS) {
          this.open = true;
          return;
        }
      }
      const reason = r.status === 'bad' && !r.multiline ? r.reason : `a quote (") opened on line ${this.firstLine} is never closed`;
      out.push({ kind: 'malformed', line: this.firstLine, reason, raw: this.lines[0]! });
      this.chars -= this.lines.shift()!.length;
      this.firstLine++;
    }
  }
}

/** Field counts per record when `lines` are split with `d`. */
function fieldCounts(lines: readonly string[], d: string): number[] {
  const items: CsvItem[] = [];
  const a = new RecordAssembler(d);
  lines.forEach((l, i) => a.push(i + 1, l, items));
  a.end(items);
  return items.flatMap((it) => (it.kind === 'record' && it.fields.some((f) => f.trim() !== '') ? [it.fields.length] : []));
}

/** The most frequent value and the share of items that have it. */
function mode(values: readonly number[]): { value: number; share: number } {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = { value: 0, n: 0 };
  for (const [value, n] of counts) if (n > best.n || (n === best.n && value > best.value)) best = { value, n };
  return { value: best.value, share: values.length ? best.n / values.length : 0 };
}

/**
 * Picks the delimiter that splits the first lines into the same number (2 or more) of
 * fields, quotes honoured: `;` (Excel pt-BR), tab (Excel "Unicode text"), then `,`.
 * A file with a single column has nothing to split: `;`.
 */
export function detectDelimiter(lines: readonly string[]): CsvDelimiter {
  let best: { d: CsvDelimiter; score: number } = { d: ';', score: 0 };
  for (const d of [';', '\t', ','] as const) {
    const m = mode(fieldCounts(lines, d));
    const score = m.value >= 2 ? m.share : 0;
    if (score > best.score) best = { d, score };
  }
  return best.d;
}

const SEP_LINE = /^\s*"?sep=([;,\t|])"?\s*$/i;

// ---------------------------------------------------------------------------------------
// Records → opt-out rows

/** The words of a normalised header name, trailing digits dropped ("telefone_2" → telefone; "cel1" → cel). */
function words(name: string): string[] {
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
function isKnownName(cell: string): boolean {
  if (/\d{3}/.test(cell)) return false;
  const name = normaliseHeader(cell);
  if (REASON_COLUMN_NAMES.includes(name) || DDD_COLUMN_NAMES.includes(name) || OTHER_COLUMN_NAMES.includes(name)) return true;
  const ws = words(name);
  return ws.some((w) => PHONE_NAME_WORDS.includes(w) || WEAK_PHONE_WORDS.includes(w) || NOT_PHONE_WORDS.includes(w));
}

/** A cell that reads as a phone number, as a data line's cell would. */
function isPhoneCell(cell: string): boolean {
  return /\d/.test(cell) && parsePhoneWithNinthDigit(cell.trim()).ok;
}

/**
 * A first line is a header when one of its cells is a column name we know, and none of its
 * cells is a phone number or any other run of digits (a headerless file's first line may
 * hold a name or the word "email" next to its number, good or bad).
 */
function looksLikeHeader(fields: readonly string[]): boolean {
  return fields.some(isKnownName) && !fields.some((f) => isPhoneCell(f) || /\d{3}/.test(f));
}

const SCIENTIFIC = /^\d+(?:[.,]\d+)?E\+?\d+$/i;

/** Reads the phone cell (prefixed with the separate DDD cell when the list has one and the cell lacks it). */
function readPhone(cell: string, dddCell: string | undefined) {
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
export class OptOutCsvReader {
  readonly stats: OptOutCsvStats = { physicalLines: 0, linesRead: 0, headerLines: 0, continuationLines: 0, blankLines: 0, rows: 0, rejected: 0, duplicates: 0, warnings: 0 };
  /** Known once the first lines are read. */
  format: OptOutCsvFormat | null = null;

  private readonly decoder: ByteDecoder;
  private readonly splitter = new LineSplitter();
  private assembler: RecordAssembler | null = null;
  private sampleLines: (string | null)[] = [];
  private sampleChars = 0;
  private sampleItems: CsvItem[] | null = [];
  private headerSeen = false;
  private expectedColumns = 0;
  private dddColumn: number | null = null;
  /** Numbers seen, in two generations: the older one is dropped when the newer fills half of `remember` (O(1), bounded memory). */
  private seen = new Map<string, number>();
  private seenBefore = new Map<string, number>();
  private readonly remember: number;

  constructor(private readonly options: OptOutCsvOptions = {}) {
    this.decoder = new ByteDecoder(options.encoding);
    this.remember = options.rememberNumbers ?? 100_000;
  }

  write(chunk: Uint8Array): OptOutCsvEvent[] {
    return this.lines(this.decoder.write(chunk), false);
  }

  end(): OptOutCsvEvent[] {
    return this.lines(this.decoder.end(), true);
  }

  /** Reads a whole source (e.g. fs.createReadStream), yielding events as lines complete. */
  async *read(source: AsyncIterable<Uint8Array>): AsyncGenerator<OptOutCsvEvent> {
    for await (const chunk of source) yield* this.write(chunk);
    yield* this.end();
  }

  private lines(text: string, eof: boolean): OptOutCsvEvent[] {
    const lines: (string | null)[] = [];
    this.splitter.write(text, lines);
    if (eof) this.splitter.end(lines);
    const items: CsvItem[] = [];
    for (const l of lines) {
      const lineNo = ++this.stats.physicalLines;
      if (this.assembler) this.assembler.push(lineNo, l, items);
      else {
        this.sampleLines.push(l);
        this.sampleChars += l?.length ?? 0;
        if (this.sampleLines.filter((s) => s !== null && s.trim() !== '').length >= 50 || this.sampleChars > 64 * 1024) this.startRecords(items);
      }
    }
    if (eof) {
      if (!this.assembler) this.startRecords(items);
      this.assembler!.end(items);
    }
    // The encoding may be decided after the first lines (at the first non-ASCII byte).
    if (this.format) this.format.encoding = this.decoder.encoding;
    return this.items(items, eof);
  }

  /** The first lines are in: choose the delimiter and start reading records. */
  private startRecords(items: CsvItem[]): void {
    const sample = this.sampleLines;
    this.sampleLines = [];
    const sep = sample[0] != null ? SEP_LINE.exec(sample[0]) : null;
    const delimiter = (this.options.delimiter ??
      (sep ? sep[1] : detectDelimiter(sample.slice(sep ? 1 : 0).filter((l): l is string => l !== null)))) as CsvDelimiter;
    this.format = {
      encoding: this.decoder.encoding,
      delimiter,
      sepLine: sep !== null,
      header: null,
      phoneColumn: { index: 0, name: null },
      phoneColumns: [{ index: 0, name: null }],
      reasonColumn: null,
    };
    this.assembler = new RecordAssembler(delimiter);
    sample.forEach((l, i) => {
      if (i === 0 && sep) {
        this.stats.headerLines++;
        return;
      }
      this.assembler!.push(i + 1, l, items);
    });
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
        const [firstRaw, ...rest] = it.raw;
        this.stats.linesRead++;
        const why = fields.length !== this.expectedColumns ? `${fields.length} column${fields.length === 1 ? '' : 's'} instead of ${this.expectedColumns}` : 'a line break in the phone number';
        this.reject(events, it.line, `unreadable CSV: a quote (") on line ${it.line} runs to line ${it.line + span - 1} and leaves ${why}; line ${it.line} skipped`, shorten(firstRaw!));
        rest.forEach((raw, k) => {
          const line = it.line + 1 + k;
          const r = parseRecord([raw], f.delimiter);
          if (r.status === 'ok') this.item({ kind: 'record', line, fields: r.fields }, events);
          else this.item({ kind: 'malformed', line, reason: r.status === 'bad' ? r.reason : `a quote (") opened on line ${line} is never closed`, raw }, events);
        });
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
