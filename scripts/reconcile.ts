/**
 * Repairs calls the database still thinks are live after their final status callback was
 * lost (the database was away when Twilio delivered it): reads each one from Twilio's Calls
 * resource and applies the final state. Safe to run at any time and repeatedly.
 *   npm run reconcile
 *   npm run reconcile -- --dry-run --json --older-than 60 --limit 200
 */
import { Command } from 'commander';
import { reconcileCalls, type ReconcileReport } from '../src/lib/domain/reconcile';
import { DbUnavailable } from '../src/lib/runtime/db';
import {
  CliError,
  cliMain,
  ctxOf,
  emit,
  EXIT,
  openDb,
  positiveInt,
  runProgram,
  twilioClient,
  twilioSettings,
  withCommonOptions,
  type CommonOptions,
  type Env,
  type Io,
} from './lib/cli';

/** Parses --older-than: a whole number of seconds from 0 to a day. */
function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 86_400) throw new CliError(`--older-than must be a whole number of seconds from 0 to 86400, got "${value}"`, EXIT.USAGE, 'USAGE');
  return n;
}

function lines(r: ReconcileReport): string[] {
  const head = r.dry_run ? 'dry run: nothing was written. ' : '';
  const out = [
    `${head}${r.candidates} calls not terminal in the database: ${r.applied} ${r.dry_run ? 'would be repaired' : 'repaired'}, ${r.live} still live at Twilio, ${r.not_found} unknown to Twilio, ${r.errors} failed`,
  ];
  for (const i of r.items) {
    const after = i.status_after ? ` → ${i.status_after}${i.duration !== null && i.duration !== undefined ? ` (${i.duration} s)` : ''}` : '';
    out.push(`  ${i.call_sid}  ${i.status_before.padEnd(11)} twilio: ${(i.twilio_status ?? '-').padEnd(11)} ${i.outcome}${after}${i.error ? `: ${i.error}` : ''}`);
  }
  return out;
}

/** Runs the reconcile CLI with these arguments; returns the exit code. */
export function run(argv: string[], env: Env, io: Io): Promise<number> {
  return runProgram(argv, io, () => {
    const program = withCommonOptions(
      new Command('reconcile')
        .description("apply Twilio's final state to calls the database still thinks are live (lost status callbacks); --dry-run reads Twilio and writes nothing")
        .option('--older-than <seconds>', 'only calls with no event for this long (0: every call not terminal)', seconds, 60)
        .option('--limit <n>', 'at most this many calls per run (1-500)', positiveInt('--limit', 500), 100),
    );
    program.action(async (opts: CommonOptions & { olderThan: number; limit: number }) => {
      const c = ctxOf({ env, io }, opts);
      const s = twilioSettings(env);
      let report: ReconcileReport;
      try {
        report = await reconcileCalls({ db: openDb(env), twilio: twilioClient(s) }, { olderThanSeconds: opts.olderThan, limit: opts.limit, dryRun: c.dryRun });
      } catch (e) {
        if (e instanceof DbUnavailable) throw new CliError(`could not reach the database at ${env.SUPABASE_URL}: ${e.message}`, EXIT.FAILED, 'DB_UNAVAILABLE');
        throw e;
      }
      emit(c, report, () => lines(report));
      if (report.errors > 0) throw new CliError(`${report.errors} of ${report.candidates} calls could not be reconciled`, EXIT.FAILED, 'PARTIAL');
    });
    return program;
  });
}

if (require.main === module) cliMain(run);
