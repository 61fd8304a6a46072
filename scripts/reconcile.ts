/**
 * Repairs calls the database still thinks are live after their final status callback was
 * lost (the database was away when Twilio delivered it): reads each one from Twilio's Calls
 * resource and applies the final state; and settles dial attempts that never got a CallSid
 * (attaches the call Twilio has for them, or marks them never placed and gives the caller ID's
 * daily count back). Safe to run at any time and repeatedly.
 *   npm run reconcile
 *   npm run reconcile -- --dry-run --json --older-than 60 --attempts-older-than 600 --limit 200
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

/** Parses a number of seconds option: a whole number from 0 to a day. */
function seconds(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n > 86_400) throw new CliError(`${flag} must be a whole number of seconds from 0 to 86400, got "${value}"`, EXIT.USAGE, 'USAGE');
    return n;
  };
}

function lines(r: ReconcileReport): string[] {
  const head = r.dry_run ? 'dry run: nothing was written. ' : '';
  const a = r.attempts;
  const out = [
    `${head}${a.candidates} dial attempts without a CallSid: ${a.attached} ${r.dry_run ? 'would be attached' : 'attached'} to the call Twilio has, ${a.never_placed} ${r.dry_run ? 'would be marked' : 'marked'} never placed, ${a.ambiguous} ambiguous (left alone), ${a.errors} failed`,
  ];
  for (const i of a.items) {
    const found = i.twilio_calls.length ? i.twilio_calls.join(',') : 'no call at Twilio';
    const after = i.status_after ? ` → ${i.status_after}` : '';
    out.push(`  attempt ${i.attempt_id}  ${i.from} → ${i.to}  ${found}  ${i.outcome}${i.call_sid ? ` ${i.call_sid}` : ''}${after}${i.error ? `: ${i.error}` : ''}`);
  }
  out.push(
    `${head}${r.candidates} calls not terminal in the database: ${r.applied} ${r.dry_run ? 'would be repaired' : 'repaired'}, ${r.live} still live at Twilio, ${r.not_found} unknown to Twilio, ${r.errors} failed`,
  );
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
        .description(
          "apply Twilio's final state to calls the database still thinks are live (lost status callbacks), and settle dial attempts that never got a CallSid; --dry-run reads Twilio and writes nothing",
        )
        .option('--older-than <seconds>', 'only calls with no event for this long (0: every call not terminal)', seconds('--older-than'), 60)
        .option('--attempts-older-than <seconds>', 'only dial attempts without a CallSid recorded this long ago (0: all of them)', seconds('--attempts-older-than'), 600)
        .option('--limit <n>', 'at most this many calls per run (1-500)', positiveInt('--limit', 500), 100),
    );
    program.action(async (opts: CommonOptions & { olderThan: number; attemptsOlderThan: number; limit: number }) => {
      const c = ctxOf({ env, io }, opts);
      const s = twilioSettings(env);
      let report: ReconcileReport;
      try {
        report = await reconcileCalls({ db: openDb(env), twilio: twilioClient(s) }, {
          olderThanSeconds: opts.olderThan,
          attemptsOlderThanSeconds: opts.attemptsOlderThan,
          limit: opts.limit,
          dryRun: c.dryRun,
        });
      } catch (e) {
        if (e instanceof DbUnavailable) throw new CliError(`could not reach the database at ${env.SUPABASE_URL}: ${e.message}`, EXIT.FAILED, 'DB_UNAVAILABLE');
        throw e;
      }
      emit(c, report, () => lines(report));
      if (report.errors > 0) throw new CliError(`${report.errors} of ${report.candidates} calls could not be reconciled`, EXIT.FAILED, 'PARTIAL');
      if (report.attempts.errors > 0) {
        throw new CliError(`${report.attempts.errors} of ${report.attempts.candidates} dial attempts could not be settled`, EXIT.FAILED, 'PARTIAL');
      }
    });
    return program;
  });
}

if (require.main === module) cliMain(run);
