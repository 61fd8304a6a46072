/**
 * Plumbing shared by the admin scripts (subaccounts, numbers, opt-out): environment reading
 * and validation, `.env` loading, --json / --dry-run handling, error wording and exit codes.
 * Each script exports `run(argv, env, io)` so tests drive it in-process; `cliMain` is the
 * process entry point.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { Command, CommanderError } from 'commander';
import type twilio from 'twilio';
import { createDb, DB_UNAVAILABLE, type Db } from '../../src/lib/runtime/db';
import { parsePhone } from '../../src/lib/domain/phone';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';
import { displayPath, readStackEnv } from '../../stack/env-file';

/** Environment as the scripts read it (process.env in production, a plain object in tests). */
export type Env = Record<string, string | undefined>;

/** Where a script writes: one call per line. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** Exit codes: 0 done, 1 the operation failed (Twilio/database said no), 2 bad usage or configuration. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/** An error meant for the operator: its message is printed as is, with this exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILED,
    /** Stable code for --json consumers (e.g. a Twilio error code or ENV_MISSING). */
    readonly code: string | number = 'FAILED',
  ) {
    super(message);
  }
}

/** The repository root (this file is scripts/lib/cli.ts). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Fills env from a `.env` file (default: the repo root's) without overriding what is already set. Returns the names it set. */
export function loadDotEnv(env: Env, file = path.join(REPO_ROOT, '.env')): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const set: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] === undefined && value !== undefined) {
      env[name] = value;
      set.push(name);
    }
  }
  return set;
}

/** The value of a required variable, or a CliError naming it. */
export function requireEnv(env: Env, name: string, why?: string): string {
  const value = env[name]?.trim();
  if (!value) {
    throw new CliError(
      `missing environment variable ${name}${why ? ` (${why})` : ''}: set it in the environment or in .env at the repository root (see .env.example), or start the local stack with \`npm start\``,
      EXIT.USAGE,
      'ENV_MISSING',
    );
  }
  return value;
}

/** Options every command takes. */
export interface CommonOptions {
  json?: boolean;
  dryRun?: boolean;
}

/** What an action needs: the environment, the output, and the common flags. */
export interface Ctx {
  env: Env;
  io: Io;
  json: boolean;
  dryRun: boolean;
}

/** Adds --json and --dry-run to a (sub)command, so each one lists them in its --help. */
export function withCommonOptions(cmd: Command): Command {
  return cmd
    .option('--json', 'machine-readable output (one JSON document on stdout)')
    .option('--dry-run', 'print the requests it would send and change nothing');
}

/** Builds the Ctx for an action from its parsed options. */
export function ctxOf(base: { env: Env; io: Io }, opts: CommonOptions): Ctx {
  return { env: base.env, io: base.io, json: opts.json === true, dryRun: opts.dryRun === true };
}

/** Prints a result: the JSON value with --json, otherwise the human lines. */
export function emit(ctx: Ctx, data: unknown, lines: () => string[]): void {
  if (ctx.json) ctx.io.out(JSON.stringify(data, null, 2));
  else for (const l of lines()) ctx.io.out(l);
}

// ---------------------------------------------------------------------------------------
// Dry runs: a list of the requests a command would send.

/** One request a command would send: a Twilio REST call or a database RPC. */
export type PlannedStep =
  | { kind: 'rest'; method: 'GET' | 'POST' | 'DELETE'; url: string; params: Record<string, string | number | boolean>; note?: string }
  | { kind: 'rpc'; fn: string; args: Record<string, unknown>; note?: string };

/** Prints the plan of a dry run (and nothing is sent). */
export function emitPlan(ctx: Ctx, steps: PlannedStep[], extra: Record<string, unknown> = {}, extraLines: string[] = []): void {
  emit(ctx, { dry_run: true, ...extra, steps }, () => [
    'dry run: nothing was sent. It would:',
    ...steps.map((s) => {
      const note = s.note ? `   # ${s.note}` : '';
      if (s.kind === 'rpc') return `  RPC ${s.fn}(${JSON.stringify(s.args, abbreviateArrays)})${note}`;
      const params = Object.entries(s.params).map(([k, v]) => `${k}=${String(v)}`);
      return `  ${s.method} ${s.url}${params.length ? '  ' + params.join(' ') : ''}${note}`;
    }),
    ...extraLines,
  ]);
}

/** JSON.stringify replacer for human output: long arrays show their first 3 items and a count (--json keeps everything). */
function abbreviateArrays(_key: string, value: unknown): unknown {
  return Array.isArray(value) && value.length > 3 ? [...value.slice(0, 3), `… ${value.length - 3} more`] : value;
}

/** twilio-node's camelCase parameter names → the REST API's (voiceUrl → VoiceUrl). */
export function wireParams(params: Record<string, string | number | boolean | undefined>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined) out[k.charAt(0).toUpperCase() + k.slice(1)] = v;
  return out;
}

// ---------------------------------------------------------------------------------------
// Twilio

/** Twilio settings read from the environment. */
export interface TwilioSettings {
  accountSid: string;
  authToken: string;
  /** Set only for the local emulator; real Twilio when absent. */
  apiBaseUrl: string | undefined;
}

/** Reads and checks TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN / TWILIO_API_BASE_URL. A dry run needs no token. */
export function twilioSettings(env: Env, opts: { dryRun?: boolean } = {}): TwilioSettings {
  const accountSid = requireEnv(env, 'TWILIO_ACCOUNT_SID');
  if (!/^AC[0-9a-fA-F]{32}$/.test(accountSid)) {
    throw new CliError(`TWILIO_ACCOUNT_SID must be "AC" followed by 32 hex digits, got "${accountSid}"`, EXIT.USAGE, 'ENV_INVALID');
  }
  const authToken = opts.dryRun ? (env.TWILIO_AUTH_TOKEN ?? '') : requireEnv(env, 'TWILIO_AUTH_TOKEN');
  const apiBaseUrl = env.TWILIO_API_BASE_URL?.trim() || undefined;
  if (apiBaseUrl) checkUrl('TWILIO_API_BASE_URL', apiBaseUrl);
  return { accountSid, authToken, apiBaseUrl };
}

/** A Twilio REST client for these settings (pointed at the emulator when TWILIO_API_BASE_URL is set). */
export function twilioClient(s: TwilioSettings): twilio.Twilio {
  return createTwilioClient(s.accountSid, s.authToken, s.apiBaseUrl);
}

/** Full URL of a 2010-04-01 API path, as a dry run prints it. */
export function twilioUrl(s: TwilioSettings, pathAfterVersion: string): string {
  return `${(s.apiBaseUrl ?? 'https://api.twilio.com').replace(/\/$/, '')}/2010-04-01${pathAfterVersion}`;
}

/** Plain-words explanations of the Twilio errors an operator can fix. */
const TWILIO_HINTS: Record<number, (s: TwilioSettings) => string> = {
  20003: (s) => `Twilio rejected the credentials for account ${s.accountSid}: check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN`,
  20404: () => 'Twilio has no such resource in this account',
  21421: () => 'Twilio says the phone number is invalid',
  21422: () => 'that number is no longer available to buy: run `numbers search` again and pick another',
  21452: () => 'Twilio found no available numbers matching the search',
  21631:
    () =>
      'an Address is required for this number type in Brazil: create one in the Console (Phone Numbers > Regulatory Compliance) or via the Addresses API, and pass --address-sid AD…',
  21649:
    () =>
      'a regulatory Bundle is required for this number type in Brazil: create a Bundle with the identity documents Twilio asks for (Console > Phone Numbers > Regulatory Compliance > Bundles), wait for it to be approved, and pass --bundle-sid BU…',
};

interface RestExceptionLike {
  status: number;
  code?: number;
  message: string;
  moreInfo?: string;
}

function isRestException(e: unknown): e is RestExceptionLike {
  return typeof e === 'object' && e !== null && typeof (e as { status?: unknown }).status === 'number' && 'message' in e;
}

/** Turns whatever the Twilio client threw into a CliError worded for the operator. */
export function twilioError(e: unknown, s: TwilioSettings): CliError {
  if (e instanceof CliError) return e;
  if (isRestException(e)) {
    const code = e.code ?? e.status;
    const hint = e.code !== undefined ? TWILIO_HINTS[e.code] : undefined;
    const head = hint ? hint(s) : `Twilio refused the request: ${e.message}`;
    const tail = ` (Twilio error ${code}, HTTP ${e.status}${e.moreInfo ? `, ${e.moreInfo}` : ''})`;
    return new CliError(head + tail, EXIT.FAILED, code);
  }
  const err = e as { code?: unknown; message?: unknown };
  const msg = typeof err?.message === 'string' ? err.message : String(e);
  if (typeof err?.code === 'string' && /^(ECONNREFUSED|ENOTFOUND|ECONNRESET|ETIMEDOUT|EAI_AGAIN)$/.test(err.code)) {
    return new CliError(`could not reach Twilio at ${s.apiBaseUrl ?? 'https://api.twilio.com'}: ${msg}`, EXIT.FAILED, 'TWILIO_UNREACHABLE');
  }
  return new CliError(`Twilio request failed: ${msg}`, EXIT.FAILED, 'TWILIO_FAILED');
}

// ---------------------------------------------------------------------------------------
// Database

/** Reads SUPABASE_URL / SUPABASE_SERVICE_ROLE_KEY. */
export function dbSettings(env: Env): { url: string; serviceRoleKey: string } {
  const url = requireEnv(env, 'SUPABASE_URL');
  checkUrl('SUPABASE_URL', url);
  return { url, serviceRoleKey: requireEnv(env, 'SUPABASE_SERVICE_ROLE_KEY') };
}

/** A Db for the scripts (longer timeout than webhooks: imports send big batches). */
export function openDb(env: Env): Db {
  const s = dbSettings(env);
  return createDb({ url: s.url, serviceRoleKey: s.serviceRoleKey, timeoutMs: 60_000 });
}

/** Calls one SQL function and turns its error into a CliError worded for the operator. */
export async function rpcOrThrow<T>(db: Db, env: Env, fn: string, args: Record<string, unknown>): Promise<T> {
  const { data, error } = await db.rpc<T>(fn, args);
  if (!error) return data as T;
  const where = env.SUPABASE_URL ?? 'SUPABASE_URL';
  let message: string;
  if (error.code === DB_UNAVAILABLE) message = `could not reach the database at ${where}: ${error.message}`;
  else if (error.code === 'PGRST202') message = `the database has no function ${fn}: apply the migrations in supabase/migrations (${error.message})`;
  else if (error.code === '42501' || /^PGRST30/.test(error.code))
    message = `the database refused SUPABASE_SERVICE_ROLE_KEY for ${fn}: use the project's service_role key (${error.message})`;
  else message = `database call ${fn} failed: ${error.message}`;
  throw new CliError(`${message} [${error.code}]`, EXIT.FAILED, error.code);
}

// ---------------------------------------------------------------------------------------
// Arguments

/** E.164 of a phone argument, or a usage error carrying parsePhone's reason. */
export function phoneArg(input: string): string {
  const r = parsePhone(input);
  if (!r.ok) throw new CliError(`invalid phone number "${input}": ${r.reason}`, EXIT.USAGE, 'INVALID_PHONE');
  return r.e164;
}

/** Throws a usage error unless value is an absolute http(s) URL. */
export function checkUrl(name: string, value: string): void {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new CliError(`${name} must be an absolute http(s) URL, got "${value}"`, EXIT.USAGE, 'ENV_INVALID');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw new CliError(`${name} must be an http(s) URL, got "${value}"`, EXIT.USAGE, 'ENV_INVALID');
  }
}

/** Opens an input file for streaming: its descriptor, or a usage error naming why it cannot be read. */
export function openInputFile(file: string): number {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    if (!fs.fstatSync(fd).isFile()) throw new Error('not a regular file');
    return fd;
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, EXIT.USAGE, 'FILE');
  }
}

/** Parses a positive integer option value. */
export function positiveInt(name: string, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new CliError(`${name} must be a whole number from 1 to ${max}, got "${value}"`, EXIT.USAGE, 'USAGE');
    return n;
  };
}

// ---------------------------------------------------------------------------------------
// Running

/**
 * Parses argv with the program `build` makes and runs the chosen action; never throws.
 * Returns the exit code. Errors go to io.err (as JSON with --json).
 */
export async function runProgram(argv: readonly string[], io: Io, build: () => Command): Promise<number> {
  const json = argv.includes('--json');
  const program = build();
  const configure = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
    });
    cmd.commands.forEach(configure);
  };
  configure(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.OK;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end here with exit code 0; usage errors were already printed.
      return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const err =
      e instanceof CliError ? e : new CliError(e instanceof Error ? e.message : String(e), EXIT.FAILED, 'UNEXPECTED');
    if (json) io.err(JSON.stringify({ error: { code: err.code, message: err.message } }));
    else io.err(`error: ${err.message}`);
    return err.exitCode;
  }
}

/** The variables that say which Twilio account and database a script works on. */
const TARGET_VARS = ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'TWILIO_API_BASE_URL', 'SUPABASE_URL', 'SUPABASE_SERVICE_ROLE_KEY'] as const;

/**
 * Completes env for a script run. The account and database (TWILIO_*, SUPABASE_*) come, in
 * order, from: the environment; the stack named by an explicit DISCADOR_STACK_ENV in the
 * environment; `.env`; the default local stack's env file (`npm start`). A stack's file is
 * used whole, never mixed with account or database settings from elsewhere; `.env` still
 * fills the other settings. An explicit DISCADOR_STACK_ENV whose file is missing gives no
 * account rather than falling back on `.env`. Returns one line saying what is used.
 */
export function resolveTarget(env: Env, dotEnvFile?: string): string {
  const isTarget = (k: string) => (TARGET_VARS as readonly string[]).includes(k);
  const givenInEnv = TARGET_VARS.some((k) => env[k]?.trim());
  const explicitStack = !givenInEnv && Boolean(env['DISCADOR_STACK_ENV']?.trim());
  let source = 'the environment';
  if (explicitStack) {
    const dotEnv: Env = {};
    loadDotEnv(dotEnv, dotEnvFile);
    for (const [k, v] of Object.entries(dotEnv)) if (!isTarget(k) && k !== 'DISCADOR_STACK_ENV' && env[k] === undefined) env[k] = v;
  } else if (loadDotEnv(env, dotEnvFile).some(isTarget)) {
    source = '.env';
  }
  const given = TARGET_VARS.some((k) => env[k]?.trim());
  if (!given) {
    const stack = readStackEnv(env);
    if (!stack) {
      return explicitStack
        ? `using no account: DISCADOR_STACK_ENV names ${env['DISCADOR_STACK_ENV']?.trim()}, which does not exist (is that stack running?)`
        : 'using no account: set TWILIO_* and SUPABASE_* (see .env.example), or start the local stack with `npm start`';
    }
    for (const k of TARGET_VARS) if (stack.values[k] !== undefined) env[k] = stack.values[k];
    source = `the local stack of ${displayPath(stack.file)}`;
  }
  const twilioAt = env.TWILIO_API_BASE_URL?.trim() ? `Twilio API ${env.TWILIO_API_BASE_URL.trim()}` : 'Twilio (api.twilio.com)';
  return `using ${source}: account ${env.TWILIO_ACCOUNT_SID?.trim() || '(none)'} on ${twilioAt}, database ${env.SUPABASE_URL?.trim() || '(none)'}`;
}

/** Process entry point: finds its account and database (environment, .env, the running local stack), says which on stderr, runs, and sets the exit code. */
export function cliMain(run: (argv: string[], env: Env, io: Io) => Promise<number>): void {
  const target = resolveTarget(process.env);
  const io: Io = { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') };
  const argv = process.argv.slice(2);
  if (!argv.includes('--help') && !argv.includes('-h')) io.err(target);
  void run(argv, process.env, io).then((code) => {
    process.exitCode = code;
  });
}
