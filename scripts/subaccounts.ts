/**
 * Twilio subaccounts that keep environments apart: `create` (idempotent by
 * FriendlyName) and `list`. Needs the MAIN account's credentials.
 *   npm run subaccounts -- create                 # dev-discador and prod-discador
 *   npm run subaccounts -- create acme-discador --json
 */
import { Command } from 'commander';
import {
  CliError,
  cliMain,
  ctxOf,
  emit,
  emitPlan,
  EXIT,
  runProgram,
  twilioClient,
  twilioError,
  twilioSettings,
  twilioUrl,
  withCommonOptions,
  type CommonOptions,
  type Env,
  type Io,
} from './lib/cli';

/** Names created when `create` gets none (the user's plan: one subaccount per environment). */
export const DEFAULT_SUBACCOUNTS = ['dev-discador', 'prod-discador'];

/** One account as the script reports it. */
export interface AccountRow {
  sid: string;
  friendly_name: string;
  status: string;
  kind: 'main' | 'subaccount';
  owner_account_sid: string;
  created?: boolean;
}

/** Runs the subaccounts CLI with these arguments; returns the exit code. */
export function run(argv: string[], env: Env, io: Io): Promise<number> {
  return runProgram(argv, io, () => {
    const program = new Command('subaccounts').description('Twilio subaccounts (one per environment or client); needs main-account credentials');

    withCommonOptions(
      program
        .command('create')
        .description('create subaccounts by FriendlyName; one that already exists (and is not closed) is reported, not created again')
        .argument('[friendly-name...]', `names of the subaccounts (default: ${DEFAULT_SUBACCOUNTS.join(' ')})`),
    ).action(async (names: string[], opts: CommonOptions) => {
      const ctx = ctxOf({ env, io }, opts);
      const wanted = names.length ? names : DEFAULT_SUBACCOUNTS;
      for (const n of wanted) {
        if (n.trim() === '' || n.length > 64) throw new CliError(`friendly name must be 1 to 64 characters, got "${n}"`, EXIT.USAGE, 'USAGE');
      }
      const s = twilioSettings(env, { dryRun: ctx.dryRun });
      if (ctx.dryRun) {
        emitPlan(ctx, [
          { kind: 'rest', method: 'GET', url: twilioUrl(s, `/Accounts/${s.accountSid}.json`), params: {}, note: 'check these are main-account credentials' },
          ...wanted.flatMap((name) => [
            { kind: 'rest' as const, method: 'GET' as const, url: twilioUrl(s, '/Accounts.json'), params: { FriendlyName: name }, note: 'already there?' },
            { kind: 'rest' as const, method: 'POST' as const, url: twilioUrl(s, '/Accounts.json'), params: { FriendlyName: name }, note: 'only if not' },
          ]),
        ]);
        return;
      }
      const client = twilioClient(s);
      const rows: AccountRow[] = [];
      try {
        const self = await client.api.v2010.accounts(s.accountSid).fetch();
        if (self.ownerAccountSid && self.ownerAccountSid !== self.sid) {
          throw new CliError(
            `TWILIO_ACCOUNT_SID ${s.accountSid} is a subaccount of ${self.ownerAccountSid}: subaccounts are created with the main account's SID and auth token`,
            EXIT.USAGE,
            'NOT_MAIN_ACCOUNT',
          );
        }
        for (const name of wanted) {
          const existing = (await client.api.v2010.accounts.list({ friendlyName: name })).find(
            (a) => a.friendlyName === name && a.status !== 'closed' && a.sid !== s.accountSid,
          );
          const acc = existing ?? (await client.api.v2010.accounts.create({ friendlyName: name }));
          rows.push({
            sid: acc.sid,
            friendly_name: acc.friendlyName,
            status: acc.status,
            kind: 'subaccount',
            owner_account_sid: acc.ownerAccountSid,
            created: !existing,
          });
        }
      } catch (e) {
        throw twilioError(e, s);
      }
      emit(ctx, { subaccounts: rows }, () =>
        rows.map((r) => `${r.created ? 'created' : 'exists '}  ${r.sid}  ${r.friendly_name}  (${r.status})`),
      );
    });

    withCommonOptions(program.command('list').description('list the main account and its subaccounts')).action(async (opts: CommonOptions) => {
      const ctx = ctxOf({ env, io }, opts);
      const s = twilioSettings(env, { dryRun: ctx.dryRun });
      if (ctx.dryRun) {
        emitPlan(ctx, [{ kind: 'rest', method: 'GET', url: twilioUrl(s, '/Accounts.json'), params: {} }]);
        return;
      }
      let rows: AccountRow[];
      try {
        const accounts = await twilioClient(s).api.v2010.accounts.list();
        rows = accounts.map((a) => ({
          sid: a.sid,
          friendly_name: a.friendlyName,
          status: a.status,
          kind: a.sid === a.ownerAccountSid || !a.ownerAccountSid ? ('main' as const) : ('subaccount' as const),
          owner_account_sid: a.ownerAccountSid,
        }));
      } catch (e) {
        throw twilioError(e, s);
      }
      emit(ctx, { accounts: rows }, () =>
        rows.length ? rows.map((r) => `${r.sid}  ${r.kind.padEnd(10)}  ${r.status.padEnd(9)}  ${r.friendly_name}`) : ['no accounts'],
      );
    });

    return program;
  });
}

if (require.main === module) cliMain(run);
