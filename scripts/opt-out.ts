/**
 * The opt-out list (task 4): numbers that must never be dialed.
 *   npm run opt-out -- add "(11) 99999-9999" --reason "pediu por telefone"
 *   npm run opt-out -- check 11999999999
 *   npm run opt-out -- import nao-me-perturbe.csv --source nao_me_perturbe
 */
import fs from 'node:fs';
import os from 'node:os';
import { Command, Option } from 'commander';
import { batches, OptOutCsvError, parseOptOutCsv } from '../src/lib/domain/opt-out-csv';
import {
  CliError,
  cliMain,
  ctxOf,
  emit,
  emitPlan,
  EXIT,
  openDb,
  phoneArg,
  positiveInt,
  rpcOrThrow,
  runProgram,
  withCommonOptions,
  type CommonOptions,
  type Env,
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
        .description('import a CSV (header optional, ; or , delimited); bad lines are reported with their line number, the rest imported')
        .argument('<file>', 'CSV file')
        .addOption(new Option('--source <source>', 'where the list came from').choices([...IMPORT_SOURCES]).default('import'))
        .option('--column <name|n>', 'phone column by header name or 1-based number (default: phone/telefone/numero/celular…, else the first)')
        .option('--reason <text>', 'reason stored for rows without a reason/motivo column value')
        .option('--batch-size <n>', 'rows per opt_out_import call', positiveInt('--batch-size', 10_000), 1000),
    ).action(async (file: string, opts: CommonOptions & { source: string; column?: string; reason?: string; batchSize: number }) => {
      const c = ctxOf({ env, io }, opts);
      let content: Buffer;
      try {
        content = fs.readFileSync(file);
      } catch (e) {
        throw new CliError(`cannot read ${file}: ${(e as Error).message}`, EXIT.USAGE, 'FILE');
      }
      let parsed;
      try {
        parsed = parseOptOutCsv(content, { column: opts.column, defaultReason: opts.reason ?? null });
      } catch (e) {
        if (e instanceof OptOutCsvError) throw new CliError(`${file}: ${e.message}`, EXIT.USAGE, 'CSV');
        throw e;
      }
      const by = createdBy(env);
      const chunks = batches(
        parsed.rows.map((r) => ({ phone_number: r.phone_number, reason: r.reason })),
        opts.batchSize,
      );
      const report = {
        file,
        source: opts.source,
        delimiter: parsed.delimiter,
        header: parsed.header,
        phone_column: parsed.phoneColumn,
        lines_read: parsed.linesRead,
        valid: parsed.rows.length,
        duplicates_in_file: parsed.duplicates.length,
        rejected: parsed.rejected,
        batches: chunks.length,
      };
      const rejectedLines = parsed.rejected.map((r) => `line ${r.line}: ${r.reason}${r.input ? ` ("${r.input}")` : ''}`);
      if (c.dryRun) {
        emitPlan(
          c,
          chunks.map((rows, i) => ({
            kind: 'rpc' as const,
            fn: 'opt_out_import',
            args: { p_rows: rows, p_source: opts.source, p_created_by: by },
            note: `batch ${i + 1}/${chunks.length}: ${rows.length} rows`,
          })),
          report,
          [...rejectedLines, summaryLine(report, null)],
        );
        return;
      }
      if (!c.json) for (const l of rejectedLines) io.err(l);
      const db = chunks.length ? openDb(env) : null;
      const totals = { added: 0, already_listed: 0 };
      for (const [i, rows] of chunks.entries()) {
        let r: ImportCounts;
        try {
          r = await rpcOrThrow<ImportCounts>(db!, env, 'opt_out_import', { p_rows: rows, p_source: opts.source, p_created_by: by });
        } catch (e) {
          const done = i * opts.batchSize;
          const err = e as CliError;
          throw new CliError(
            `${err.message}\nbatch ${i + 1} of ${chunks.length} failed after ${done} rows were imported (${totals.added} added); importing the same file again is safe`,
            err.exitCode,
            err.code,
          );
        }
        totals.added += r.added;
        totals.already_listed += r.already_listed;
      }
      emit(c, { ...report, ...totals }, () => [summaryLine(report, totals)]);
    });

    return program;
  });
}

function summaryLine(
  r: { lines_read: number; valid: number; duplicates_in_file: number; rejected: unknown[] },
  totals: { added: number; already_listed: number } | null,
): string {
  const imported = totals ? `${totals.added} added, ${totals.already_listed} already listed` : `${r.valid} would be sent`;
  return `${r.lines_read} lines read: ${imported}, ${r.duplicates_in_file} repeated in the file, ${r.rejected.length} rejected`;
}

if (require.main === module) cliMain(run);
