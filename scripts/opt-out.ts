/**
 * The opt-out list: numbers that must never be dialed.
 *   npm run opt-out -- add "(11) 99999-9999" --reason "pediu por telefone"
 *   npm run opt-out -- check 11999999999
 *   npm run opt-out -- import nao-me-perturbe.csv --source nao_me_perturbe
 */
import fs from 'node:fs';
import os from 'node:os';
import { Command, Option } from 'commander';
import {
  OptOutCsvError,
  OptOutCsvReader,
  type CsvEncoding,
  type OptOutCsvFormat,
  type OptOutCsvOptions,
  type OptOutCsvRejection,
  type OptOutCsvStats,
  type OptOutCsvWarning,
} from '../src/lib/domain/opt-out-csv';
import {
  CliError,
  cliMain,
  ctxOf,
  emit,
  emitPlan,
  EXIT,
  openDb,
  openInputFile,
  phoneArg,
  positiveInt,
  rpcOrThrow,
  runProgram,
  withCommonOptions,
  type CommonOptions,
  type Ctx,
  type Env,
  type PlannedStep,
  type Io,
} from './lib/cli';

/** Sources an import may record (the opt_outs.source check allows these and more). */
export const IMPORT_SOURCES = ['import', 'nao_me_perturbe', 'procon_sp'] as const;

interface ImportCounts {
  received: number;
  distinct: number;
  added: number;
  already_listed: number;
}

/** Who is recorded as opted_out.created_by for CLI changes. */
function createdBy(env: Env): string {
  let user = env.USER ?? env.USERNAME;
  if (!user) {
    try {
      user = os.userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  return `cli:${user}`;
}

/** Runs the opt-out CLI with these arguments; returns the exit code. */
export function run(argv: string[], env: Env, io: Io): Promise<number> {
  return runProgram(argv, io, () => {
    const program = new Command('opt-out').description('the opt-out list: numbers that must never be dialed');

    withCommonOptions(
      program
        .command('add')
        .description('add a number to the opt-out list (adding it again keeps the first entry)')
        .argument('<number>', 'any Brazilian format, e.g. "(11) 99999-9999"')
        .option('--reason <text>', 'why (kept for LGPD accountability)'),
    ).action(async (number: string, opts: CommonOptions & { reason?: string }) => {
      const c = ctxOf({ env, io }, opts);
      const args = { p_phone: phoneArg(number), p_reason: opts.reason ?? null, p_source: 'manual', p_created_by: createdBy(env) };
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'opt_out_add', args }]);
      const r = await rpcOrThrow<{ phone_number: string; added: boolean }>(openDb(env), env, 'opt_out_add', args);
      emit(c, r, () => [r.added ? `added ${r.phone_number} to the opt-out list` : `${r.phone_number} was already on the opt-out list`]);
    });

    withCommonOptions(
      program.command('remove').description('take a number off the opt-out list').argument('<number>', 'the number'),
    ).action(async (number: string, opts: CommonOptions) => {
      const c = ctxOf({ env, io }, opts);
      const args = { p_phone: phoneArg(number) };
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'opt_out_remove', args }]);
      const r = await rpcOrThrow<{ phone_number: string; removed: boolean }>(openDb(env), env, 'opt_out_remove', args);
      emit(c, r, () => [r.removed ? `removed ${r.phone_number} from the opt-out list` : `${r.phone_number} was not on the opt-out list`]);
    });

    withCommonOptions(
      program.command('check').description('is this number on the opt-out list?').argument('<number>', 'the number'),
    ).action(async (number: string, opts: CommonOptions) => {
      const c = ctxOf({ env, io }, opts);
      const args = { p_phone: phoneArg(number) };
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'opt_out_check', args }]);
      const r = await rpcOrThrow<{ phone_number: string; opted_out: boolean; reason?: string | null; source?: string; created_at?: string }>(
        openDb(env),
        env,
        'opt_out_check',
        args,
      );
      emit(c, r, () => [
        r.opted_out
          ? `${r.phone_number} is opted out (source ${r.source}, since ${r.created_at}${r.reason ? `, reason: ${r.reason}` : ''})`
          : `${r.phone_number} is not on the opt-out list`,
      ]);
    });

    withCommonOptions(
      program
        .command('import')
        .description(
          'import a spreadsheet export (CSV or Excel "Unicode text"; see docs/opt-out-import.md): bad lines are reported with their line number, the rest imported',
        )
        .argument('<file>', 'the file: Windows-1252, UTF-8 or UTF-16; ; , or tab separated; header optional')
        .addOption(new Option('--source <source>', 'where the list came from').choices([...IMPORT_SOURCES]).default('import'))
        .option('--column <name|n>', 'read only this phone column, by header name or 1-based number (default: every column named telefone/celular/fone/whatsapp…, a bare número only if it holds phones, else the columns holding numbers)')
        .option('--reason <text>', 'reason stored for rows without a motivo/observação column value')
        .addOption(new Option('--delimiter <d>', 'field separator (default: sep= line, else detected)').choices([';', ',', 'tab']))
        .addOption(new Option('--encoding <e>', 'text encoding (default: BOM, else UTF-8 when valid, else Windows-1252)').choices([...ENCODINGS]))
        .option('--strict', 'check the whole file first and import nothing if any line is rejected (exit 1)')
        .option('--progress', 'progress on stderr every second (default: on unless --json)')
        .option('--no-progress', 'no progress lines')
        .addOption(new Option('--progress-ms <ms>', 'progress interval').argParser(Number).default(1000).hideHelp())
        .option('--batch-size <n>', 'rows per opt_out_import call', positiveInt('--batch-size', 10_000), 1000),
    ).action(async (file: string, opts: ImportOptions) => {
      const c = ctxOf({ env, io }, opts);
      const by = createdBy(env);
      const readOptions: OptOutCsvOptions = {
        column: opts.column,
        defaultReason: opts.reason ?? null,
        delimiter: opts.delimiter === 'tab' ? '\t' : opts.delimiter,
        encoding: opts.encoding,
      };
      const showProgress = opts.progress ?? !c.json;
      const rpcArgs = (rows: ImportRow[]) => ({ p_rows: rows, p_source: opts.source, p_created_by: by });

      if (opts.strict) {
        const check = await scanFile(file, readOptions, c, showProgress ? opts.progressMs : null, null, opts.batchSize);
        if (check.stats.rejected > 0) {
          const report = reportOf(file, opts.source, check);
          emit(c, report, () => [...formatLines(report), summaryLine(report, null)]);
          throw new CliError(`--strict: ${check.stats.rejected} line(s) rejected, nothing was imported`, EXIT.FAILED, 'REJECTED_LINES');
        }
      }

      const steps: PlannedStep[] = [];
      const db = c.dryRun ? null : openDb(env);
      const totals = { added: 0, already_listed: 0 };
      let sent = 0;
      const send = async (rows: ImportRow[], index: number): Promise<void> => {
        if (!db) {
          steps.push({ kind: 'rpc', fn: 'opt_out_import', args: rpcArgs(rows), note: `batch ${index + 1}: ${rows.length} rows` });
          return;
        }
        let r: ImportCounts;
        try {
          r = await rpcOrThrow<ImportCounts>(db, env, 'opt_out_import', rpcArgs(rows));
        } catch (e) {
          const err = e as CliError;
          throw new CliError(
            `${err.message}\nbatch ${index + 1} failed after ${sent} rows were imported (${totals.added} added); importing the same file again is safe`,
            err.exitCode,
            err.code,
          );
        }
        sent += rows.length;
        totals.added += r.added;
        totals.already_listed += r.already_listed;
      };
      const scan = await scanFile(file, readOptions, c, showProgress ? opts.progressMs : null, send, opts.batchSize, !opts.strict);
      const report = reportOf(file, opts.source, scan);
      const nothing = scan.stats.rows === 0;
      if (c.dryRun) emitPlan(c, steps, report, [...formatLines(report), summaryLine(report, null)]);
      else emit(c, { ...report, ...totals }, () => [...formatLines(report), summaryLine(report, totals)]);
      if (nothing) throw new CliError(`nothing imported: no line of ${file} holds a number that can be imported`, EXIT.FAILED, 'NOTHING_IMPORTED');
    });

    return program;
  });
}

const ENCODINGS = ['utf-8', 'windows-1252', 'utf-16le', 'utf-16be'] as const;

interface ImportOptions extends CommonOptions {
  source: string;
  column?: string;
  reason?: string;
  delimiter?: ';' | ',' | 'tab';
  encoding?: CsvEncoding;
  strict?: boolean;
  progress?: boolean;
  progressMs: number;
  batchSize: number;
}

interface ImportRow {
  phone_number: string;
  reason: string | null;
}

/** Rejected lines and warnings kept for the --json report (all are printed to stderr otherwise). */
const KEEP_IN_REPORT = 10_000;

interface Scan {
  format: OptOutCsvFormat | null;
  stats: OptOutCsvStats;
  rejected: OptOutCsvRejection[];
  warnings: OptOutCsvWarning[];
  batches: number;
}

/**
 * Streams the file through the reader: rejected lines and warnings go to stderr as they
 * come (kept for the report with --json), rows go to `send` in batches, in file order and
 * one batch at a time, so memory does not grow with the file.
 */
async function scanFile(
  file: string,
  options: OptOutCsvOptions,
  c: Ctx,
  progressMs: number | null,
  send: ((rows: ImportRow[], index: number) => Promise<void>) | null,
  batchSize: number,
  printLines = true,
): Promise<Scan> {
  const fd = openInputFile(file);
  const reader = new OptOutCsvReader(options);
  const scan: Scan = { format: null, stats: reader.stats, rejected: [], warnings: [], batches: 0 };
  const started = Date.now();
  let lastProgress = started;
  let batch: ImportRow[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    if (send) await send(rows, scan.batches);
    scan.batches++;
  };
  try {
    let n = 0;
    for await (const ev of reader.read(fs.createReadStream(file, { fd, highWaterMark: 64 * 1024 }))) {
      if (ev.kind === 'row') {
        batch.push({ phone_number: ev.row.phone_number, reason: ev.row.reason });
        if (batch.length >= batchSize) await flush();
      } else if (ev.kind === 'rejected') {
        if (c.json) {
          if (scan.rejected.length < KEEP_IN_REPORT) scan.rejected.push(ev.rejection);
        } else if (printLines) c.io.err(`line ${ev.rejection.line}: ${ev.rejection.reason}${ev.rejection.input ? ` ("${ev.rejection.input}")` : ''}`);
      } else if (ev.kind === 'warning') {
        if (c.json) {
          if (scan.warnings.length < KEEP_IN_REPORT) scan.warnings.push(ev.warning);
        } else if (printLines) c.io.err(`line ${ev.warning.line}: warning: ${ev.warning.message} ("${ev.warning.input}")`);
      }
      if (progressMs !== null && ++n % 1000 === 0 && Date.now() - lastProgress >= progressMs) {
        lastProgress = Date.now();
        const s = reader.stats;
        c.io.err(
          `… ${s.physicalLines.toLocaleString('en')} lines read, ${s.rows.toLocaleString('en')} valid, ${s.rejected.toLocaleString('en')} rejected (${((lastProgress - started) / 1000).toFixed(1)} s)`,
        );
      }
    }
    await flush();
  } catch (e) {
    if (e instanceof OptOutCsvError) throw new CliError(`${file}: ${e.message}`, EXIT.USAGE, 'CSV');
    if (e instanceof CliError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new CliError(`cannot read ${file}: ${(e as Error).message}`, EXIT.USAGE, 'FILE');
    throw e;
  }
  scan.format = reader.format;
  return scan;
}

function reportOf(file: string, source: string, scan: Scan) {
  const f = scan.format;
  return {
    file,
    source,
    encoding: f?.encoding ?? null,
    delimiter: f?.delimiter ?? null,
    header: f?.header ?? null,
    phone_column: f?.phoneColumn ?? null,
    phone_columns: f?.phoneColumns ?? null,
    reason_column: f?.reasonColumn ?? null,
    lines_read: scan.stats.linesRead,
    valid: scan.stats.rows,
    duplicates_in_file: scan.stats.duplicates,
    rejected_count: scan.stats.rejected,
    rejected: scan.rejected,
    warnings_count: scan.stats.warnings,
    warnings: scan.warnings,
    batches: scan.batches,
  };
}

function formatLines(r: ReturnType<typeof reportOf>): string[] {
  if (r.encoding === null) return [];
  const delimiter = r.delimiter === '\t' ? 'tab' : `'${r.delimiter}'`;
  const header = r.header
    ? `header ${r.header.join(' | ')}; ${(r.phone_columns?.length ?? 1) > 1 ? `phone columns ${r.phone_columns!.map((c) => `"${c.name}"`).join(', ')}` : `phone column "${r.phone_column?.name}"`}${r.reason_column ? `, reason column "${r.reason_column.name}"` : ''}`
    : `no header; phone column${(r.phone_columns?.length ?? 1) > 1 ? 's' : ''} ${(r.phone_columns ?? [r.phone_column]).map((c) => (c?.index ?? 0) + 1).join(', ')}`;
  return [`${r.file}: ${r.encoding}, ${delimiter} separated, ${header}`];
}

function summaryLine(
  r: { lines_read: number; valid: number; duplicates_in_file: number; rejected_count: number; warnings_count: number; phone_columns: unknown[] | null },
  totals: { added: number; already_listed: number } | null,
): string {
  // With several phone columns a line holds several numbers: the counts are per number.
  const numbers = (r.phone_columns?.length ?? 1) > 1 ? ` (${r.valid + r.duplicates_in_file + r.rejected_count} numbers)` : '';
  const imported = totals ? `${totals.added} added, ${totals.already_listed} already listed` : `${r.valid} would be sent`;
  const warned = r.warnings_count ? `, ${r.warnings_count} with the mobile ninth digit added` : '';
  return `${r.lines_read} lines read${numbers}: ${imported}, ${r.duplicates_in_file} repeated in the file, ${r.rejected_count} rejected${warned}`;
}

if (require.main === module) cliMain(run);
