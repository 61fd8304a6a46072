/**
 * The CSV machinery shared by the spreadsheet readers (opt-out lists, campaign leads): bytes
 * to text in the encodings Brazilian spreadsheets write, text to physical lines, lines to
 * records (RFC 4180 quotes, a stray quote spoiling only its own line), the delimiter
 * choice, and the stream that ties them together in flat memory. What a record means
 * (which column is the phone, what a header is) belongs to each reader.
 *
 * - Encoding: a BOM decides (UTF-8, UTF-16LE, UTF-16BE); otherwise bytes that are valid
 *   UTF-8 are UTF-8 and anything else is Windows-1252 (Excel pt-BR's "CSV (separado por
 *   vírgulas)"). Windows-1252 is decoded with our own table: Node's TextDecoder decodes it
 *   as Latin-1 (nodejs/node#56542), which is wrong for bytes 0x80-0x9F.
 * - Delimiter: Excel's `sep=;` first line, else `;`, tab or `,`, whichever splits the first
 *   lines into the same number of fields (quotes honoured).
 */
import { TextDecoder } from 'node:util';

export type CsvDelimiter = ';' | ',' | '\t';
/** Encodings we read; `utf-8` covers plain ASCII too. */
export type CsvEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';

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
export const MAX_LINE_CHARS = 1 << 20;
/** A quoted field may span this many lines (or characters) before its opening quote is taken for a stray one. */
const MAX_RECORD_LINES = 20;
const MAX_RECORD_CHARS = 64 * 1024;

/** Splits text into lines at CRLF, LF or a lone CR (old Mac exports); `null` stands for a line over MAX_LINE_CHARS. */
export class LineSplitter {
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
export function parseRecord(lines: readonly string[], d: string): RecordParse {
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
export type CsvItem = { kind: 'record'; line: number; fields: string[]; raw?: string[] } | { kind: 'malformed'; line: number; reason: string; raw: string };

export function shorten(s: string, max = 80): string {
  const one = s.replace(/\n/g, '\\n');
  return one.length > max ? one.slice(0, max - 1) + '…' : one;
}

/** Physical lines in, records out; a record that cannot be read is reported on its first line and reading resumes on the next. */
export class RecordAssembler {
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
export function mode(values: readonly number[]): { value: number; share: number } {
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

export const SEP_LINE = /^\s*"?sep=([;,\t|])"?\s*$/i;

/**
 * Bytes in, records out, with physical line numbers: the first lines are held until the
 * delimiter is chosen (a `sep=` line, the option, or detection over up to 50 non-blank lines
 * or 64 KiB), then every completed record is returned as soon as its last line is in.
 */
export class CsvRecordStream {
  /** Physical lines seen so far (every line of the file). */
  physicalLines = 0;
  /** Known once the first lines are read. */
  delimiter: CsvDelimiter | null = null;
  /** True when the first line was Excel's `sep=` hint (it is not returned as a record). */
  sepLine = false;

  private readonly decoder: ByteDecoder;
  private readonly splitter = new LineSplitter();
  private assembler: RecordAssembler | null = null;
  private sampleLines: (string | null)[] = [];
  private sampleChars = 0;
  private nonBlankSample = 0;

  constructor(private readonly options: { encoding?: CsvEncoding; delimiter?: CsvDelimiter } = {}) {
    this.decoder = new ByteDecoder(options.encoding);
  }

  /** The encoding chosen so far (decided at the first non-ASCII byte). */
  get encoding(): CsvEncoding {
    return this.decoder.encoding;
  }

  write(chunk: Uint8Array): CsvItem[] {
    return this.lines(this.decoder.write(chunk), false);
  }

  end(): CsvItem[] {
    return this.lines(this.decoder.end(), true);
  }

  private lines(text: string, eof: boolean): CsvItem[] {
    const lines: (string | null)[] = [];
    this.splitter.write(text, lines);
    if (eof) this.splitter.end(lines);
    const items: CsvItem[] = [];
    for (const l of lines) {
      const lineNo = ++this.physicalLines;
      if (this.assembler) this.assembler.push(lineNo, l, items);
      else {
        this.sampleLines.push(l);
        this.sampleChars += l?.length ?? 0;
        if (l !== null && l.trim() !== '') this.nonBlankSample++;
        if (this.nonBlankSample >= 50 || this.sampleChars > 64 * 1024) this.startRecords(items);
      }
    }
    if (eof) {
      if (!this.assembler) this.startRecords(items);
      this.assembler!.end(items);
    }
    return items;
  }

  /** The first lines are in: choose the delimiter and start reading records. */
  private startRecords(items: CsvItem[]): void {
    const sample = this.sampleLines;
    this.sampleLines = [];
    const sep = sample[0] != null ? SEP_LINE.exec(sample[0]) : null;
    this.sepLine = sep !== null;
    this.delimiter = (this.options.delimiter ??
      (sep ? sep[1] : detectDelimiter(sample.slice(sep ? 1 : 0).filter((l): l is string => l !== null)))) as CsvDelimiter;
    this.assembler = new RecordAssembler(this.delimiter);
    sample.forEach((l, i) => {
      if (i > 0 || !sep) this.assembler!.push(i + 1, l, items);
    });
  }
}

/**
 * A streaming reader of one file: `write` bytes as they come and `end` at the end; each
 * returns the events of the records completed so far (`took` turns records into events).
 * `read` does the same over an async source (a file stream).
 */
export abstract class CsvEventReader<E> {
  protected readonly records: CsvRecordStream;

  constructor(options: { encoding?: CsvEncoding; delimiter?: CsvDelimiter }) {
    this.records = new CsvRecordStream(options);
  }

  write(chunk: Uint8Array): E[] {
    return this.took(this.records.write(chunk), false);
  }

  end(): E[] {
    return this.took(this.records.end(), true);
  }

  /** Reads a whole source (e.g. fs.createReadStream), yielding events as lines complete. */
  async *read(source: AsyncIterable<Uint8Array>): AsyncGenerator<E> {
    for await (const chunk of source) yield* this.write(chunk);
    yield* this.end();
  }

  /** The events of these records (`eof`: the file has ended). */
  protected abstract took(items: CsvItem[], eof: boolean): E[];
}

/**
 * Why the first bytes of a file say it is not text at all (an Excel workbook, a zip, a PDF,
 * an image, any binary), or null when they may be CSV. UTF-16 text has NUL bytes: it is
 * recognised by its BOM or its alternate zeros before NULs count against it.
 */
export function notCsvReason(first: Uint8Array): string | null {
  const b = first;
  const starts = (...sig: number[]) => sig.every((x, i) => b[i] === x);
  if (starts(0x50, 0x4b, 0x03, 0x04) || starts(0x50, 0x4b, 0x05, 0x06)) {
    return 'it is a zip archive (an Excel .xlsx workbook or an OpenDocument .ods is one): open it in the spreadsheet and save it as CSV';
  }
  if (starts(0xd0, 0xcf, 0x11, 0xe0)) return 'it is an old Excel .xls workbook: open it in the spreadsheet and save it as CSV';
  if (starts(0x25, 0x50, 0x44, 0x46)) return 'it is a PDF document, not a spreadsheet export';
  if (starts(0x89, 0x50, 0x4e, 0x47) || starts(0xff, 0xd8, 0xff) || starts(0x47, 0x49, 0x46, 0x38)) return 'it is an image, not a spreadsheet export';
  if (starts(0x1f, 0x8b)) return 'it is gzip-compressed: uncompress it first';
  if (starts(0xff, 0xfe) || starts(0xfe, 0xff) || sniffUtf16(b) !== null) return null;
  const n = Math.min(b.length, 4096);
  let control = 0;
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c === 0) return 'it holds NUL bytes: it is a binary file, not text';
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c) control++;
  }
  return n > 0 && control / n > 0.01 ? 'it holds control characters: it is a binary file, not text' : null;
}

/**
 * A record whose quoted field swallowed line breaks and then did not fit the columns is a
 * stray quote, not a multi-line cell: the reason its first line is reported with, and the
 * records of the lines it swallowed, read again one by one.
 */
export function strayQuoteRecord(it: { line: number; raw: string[] }, delimiter: string, why: string): { reason: string; rest: CsvItem[] } {
  const span = it.raw.length;
  const rest = it.raw.slice(1).map((raw, k): CsvItem => {
    const line = it.line + 1 + k;
    const r = parseRecord([raw], delimiter);
    if (r.status === 'ok') return { kind: 'record', line, fields: r.fields };
    return { kind: 'malformed', line, reason: r.status === 'bad' ? r.reason : `a quote (") opened on line ${line} is never closed`, raw };
  });
  return { reason: `unreadable CSV: a quote (") on line ${it.line} runs to line ${it.line + span - 1} and leaves ${why}; line ${it.line} skipped`, rest };
}

// ---------------------------------------------------------------------------------------
// Writing: CSV for Excel pt-BR (the leads export, the history export)

/** UTF-8 byte order mark: Excel reads the file as UTF-8 only with it. */
export const CSV_BOM = '\ufeff';
/** Excel pt-BR's list separator (the comma is the decimal separator there). */
export const EXPORT_DELIMITER = ';';

/**
 * One cell: a value a spreadsheet would run as a formula (starting with = + - @, tab or CR)
 * gets a leading apostrophe (OWASP's CSV injection advice), and a value holding the
 * separator, a quote or a line break is quoted with quotes doubled.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[;"\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
