/**
 * The people who sign in: agents, supervisors, admins.
 *   npm run agents -- add maria@empresa.com.br --name "Maria Souza"            (asks the password)
 *   printf '%s\n' "$SENHA" | npm run agents -- set-password maria@empresa.com.br --password-stdin
 *   npm run agents -- assign-number maria@empresa.com.br "(11) 3000-1002"
 *   npm run agents -- set-role joao@empresa.com.br supervisor
 *   npm run agents -- set-follow-me maria@empresa.com.br --mobile "(11) 98765-4321" --softphone-seconds 20 --mobile-seconds 25 --then queue:geral
 *   npm run agents -- disable maria@empresa.com.br
 *   npm run agents -- list --json
 * Passwords are read from stdin (--password-stdin) or asked on the terminal without echo,
 * never from the command line (it would stay in the shell history and in `ps`); they must
 * pass the password policy (src/lib/domain/auth/policy.ts) and are stored as scrypt hashes.
 * Every change goes through one SQL function (supabase/migrations/*_auth.sql).
 */
import { Command, Option } from 'commander';
import { hashPassword } from '../src/lib/domain/auth/password';
import { parsePhone } from '../src/lib/domain/phone';
import { passwordProblem } from '../src/lib/domain/auth/policy';
import {
  CliError,
  cliMain,
  ctxOf,
  emit,
  emitPlan,
  EXIT,
  openDb,
  phoneArg,
  rpcOrThrow,
  runProgram,
  withCommonOptions,
  type CommonOptions,
  type Ctx,
  type Env,
  type Io,
} from './lib/cli';

const ROLES = ['agent', 'supervisor', 'admin'] as const;
type Role = (typeof ROLES)[number];

/** Where the password comes from: a stream (stdin) and whether it is a terminal one can prompt on. */
export interface PasswordInput {
  stream: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** Where the prompt is written (stderr: stdout may be --json). */
  prompt: (text: string) => void;
}

const EMAIL = /^[^@\s]{1,64}@[^@\s]{1,189}$/;
const CLIENT_IDENTITY = /^[A-Za-z0-9_.-]{1,120}$/;

function emailArg(input: string): string {
  const email = input.trim();
  if (!EMAIL.test(email)) throw new CliError(`"${input}" is not an e-mail address`, EXIT.USAGE, 'USAGE');
  return email;
}

/** Reads all of stdin; the one line break a shell `echo`/`printf` adds at the end is not part of the password. */
async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Asks for a line on the terminal without echoing it (raw mode; backspace edits, Ctrl-C aborts). */
function askHidden(input: PasswordInput, text: string): Promise<string> {
  const { stream } = input;
  return new Promise((resolve, reject) => {
    input.prompt(text);
    let value = '';
    stream.setRawMode?.(true);
    stream.resume();
    const done = (err: Error | null) => {
      stream.removeListener('data', onData);
      stream.setRawMode?.(false);
      stream.pause();
      input.prompt('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003' || ch === '\u0004') return done(new CliError('cancelled', EXIT.USAGE, 'CANCELLED'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    stream.on('data', onData);
  });
}

/** The new password of `email`: from stdin or the terminal (twice), checked against the policy. */
async function newPassword(email: string, fromStdin: boolean, input: PasswordInput): Promise<string> {
  let password: string;
  if (fromStdin) {
    password = await readAll(input.stream);
  } else {
    if (!input.stream.isTTY) {
      throw new CliError('no terminal to ask the password on: pipe it in with --password-stdin', EXIT.USAGE, 'NO_TTY');
    }
    password = await askHidden(input, `password for ${email}: `);
    const again = await askHidden(input, 'again: ');
    if (again !== password) throw new CliError('the two passwords differ; nothing was changed', EXIT.USAGE, 'PASSWORD_MISMATCH');
  }
  const problem = passwordProblem(password, email);
  if (problem) throw new CliError(`${problem}; nothing was changed`, EXIT.USAGE, 'WEAK_PASSWORD');
  return password;
}

/** Calls an auth SQL function; its "no such user/number" and conflict errors become plain sentences. */
async function call<T>(c: Ctx, fn: string, args: Record<string, unknown>): Promise<T> {
  try {
    return await rpcOrThrow<T>(openDb(c.env), c.env, fn, args);
  } catch (e) {
    if (e instanceof CliError && typeof e.code === 'string') {
      const said = e.message.replace(/^database call \S+ failed: /, '').replace(/ \[[^\]]+\]$/, '');
      if (e.code === 'P0002') throw new CliError(said, EXIT.FAILED, 'NOT_FOUND');
      if (e.code === '23505') throw new CliError(said, EXIT.FAILED, 'CONFLICT');
      if (e.code === '22023' || e.code === '23514') throw new CliError(said, EXIT.FAILED, 'INVALID');
    }
    throw e;
  }
}

/** Follow-me ring times, seconds (the agent_follow_me table's bounds). */
const RING_SECONDS_MIN = 10;
const RING_SECONDS_MAX = 120;
const QUEUE_NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;
const DEFAULT_QUEUE = 'geral';

function ringSecondsArg(name: string, input: string | undefined): number | null {
  if (input === undefined) return null;
  if (!/^[0-9]{1,4}$/.test(input) || Number(input) < RING_SECONDS_MIN || Number(input) > RING_SECONDS_MAX) {
    throw new CliError(`${name} must be a whole number of seconds from ${RING_SECONDS_MIN} to ${RING_SECONDS_MAX}, got "${input}"`, EXIT.USAGE, 'USAGE');
  }
  return Number(input);
}

/**
 * The follow-me mobile: a Brazilian mobile number (DDD + 9 digits starting with 9). Screening
 * is made for a mobile's own voicemail, and the account may call Brazil only by default
 * (geographic permissions); "none" clears it (the agent's own phone is used).
 */
function mobileArg(input: string | undefined): string | null {
  if (input === undefined) return null;
  if (input.trim().toLowerCase() === 'none') return '';
  const r = parsePhone(input);
  if (!r.ok) throw new CliError(`invalid phone number "${input}": ${r.reason}`, EXIT.USAGE, 'INVALID_PHONE');
  if (!r.e164.startsWith('+55') || r.type !== 'MOBILE') {
    throw new CliError(`--mobile must be a Brazilian mobile number (DDD + 9 digits starting with 9), got "${input}"`, EXIT.USAGE, 'INVALID_PHONE');
  }
  return r.e164;
}

/** --then voicemail | queue | queue:<name> → [final hop, queue name]. */
function thenArg(input: string | undefined): [string | null, string | null] {
  if (input === undefined) return [null, null];
  if (input === 'voicemail') return ['voicemail', null];
  const m = /^queue(?::(.*))?$/.exec(input);
  if (!m) throw new CliError(`--then must be voicemail, queue or queue:<name>, got "${input}"`, EXIT.USAGE, 'USAGE');
  const name = m[1] ?? DEFAULT_QUEUE;
  if (!QUEUE_NAME.test(name)) throw new CliError(`queue name must be 1-40 of a-z, 0-9, _ and - (starting with a letter or digit), got "${name}"`, EXIT.USAGE, 'USAGE');
  return ['queue', name];
}

/** What the dry run shows instead of a hash: the password is never printed. */
const HASH_PLACEHOLDER = '<scrypt hash of the new password>';

interface UserJson {
  id: string;
  email: string;
  name: string;
  role: Role;
  agent_id: number | null;
}

interface ListedUser extends UserJson {
  active: boolean;
  agent_status: string | null;
  client_identity: string | null;
  numbers: string[];
  open_sessions: number;
  locked_until: string | null;
}

/** Runs the agents CLI; returns the exit code. `input` is where passwords are read (stdin by default). */
export function run(argv: string[], env: Env, io: Io, input?: PasswordInput): Promise<number> {
  const passwordInput: PasswordInput = input ?? { stream: process.stdin, prompt: (t) => process.stderr.write(t) };
  return runProgram(argv, io, () => {
    const program = new Command('agents').description('users who sign in (agents, supervisors, admins): create, list, passwords, roles, numbers');
    const ctx = (opts: CommonOptions): Ctx => ctxOf({ env, io }, opts);

    withCommonOptions(
      program
        .command('add')
        .description('create a user; an agent also gets an agents row (the existing one with the same e-mail, if no user has it)')
        .argument('<email>', 'sign-in e-mail (unique, any casing)')
        .requiredOption('--name <name>', 'full name shown on the pages')
        .addOption(new Option('--role <role>', 'what the user may do').choices([...ROLES]).default('agent'))
        .option('--client-identity <id>', "agent's softphone identity (default: the e-mail's name part)")
        .option('--phone <number>', "agent's own phone (follow-me), any Brazilian format")
        .option('--password-stdin', 'read the password from stdin instead of asking'),
    ).action(async (email: string, opts: CommonOptions & { name: string; role: Role; clientIdentity?: string; phone?: string; passwordStdin?: boolean }) => {
      const c = ctx(opts);
      const address = emailArg(email);
      const name = opts.name.trim();
      if (name === '' || name.length > 200) throw new CliError('--name must have 1 to 200 characters', EXIT.USAGE, 'USAGE');
      const identity = opts.role === 'agent' ? (opts.clientIdentity ?? address.split('@')[0]!.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 120)) : null;
      if (identity !== null && !CLIENT_IDENTITY.test(identity)) {
        throw new CliError(`--client-identity must be 1-120 letters, digits, _ . or -, got "${identity}"`, EXIT.USAGE, 'USAGE');
      }
      if (opts.role !== 'agent' && (opts.clientIdentity || opts.phone)) throw new CliError('--client-identity and --phone are for agents only', EXIT.USAGE, 'USAGE');
      const phone = opts.phone ? phoneArg(opts.phone) : null;
      const password = await newPassword(address, opts.passwordStdin === true, passwordInput);
      const args = { p_email: address, p_name: name, p_role: opts.role, p_hash: HASH_PLACEHOLDER, p_client_identity: identity, p_phone_number: phone };
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'auth_create_user', args }]);
      const r = await call<{ user: UserJson; agent_id: number | null; agent_created: boolean }>(c, 'auth_create_user', { ...args, p_hash: await hashPassword(password) });
      emit(c, r, () => [
        `created ${r.user.role} ${r.user.email} (${r.user.name})` +
          (r.agent_id !== null ? `, agent #${r.agent_id}${r.agent_created ? ' (new agents row)' : ' (existing agents row)'}` : ''),
      ]);
    });

    withCommonOptions(program.command('list').description('every user: role, active, agent status, dedicated numbers, open sessions, lockout')).action(
      async (opts: CommonOptions) => {
        const c = ctx(opts);
        if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'auth_list_users', args: {} }]);
        const users = await call<ListedUser[]>(c, 'auth_list_users', {});
        emit(c, { users }, () =>
          users.length
            ? users.map(
                (u) =>
                  `${u.email.padEnd(32)} ${u.role.padEnd(10)} ${u.active ? 'active  ' : 'disabled'}` +
                  (u.agent_id !== null ? `  agent #${u.agent_id} ${u.agent_status ?? ''}${u.numbers.length ? ' ' + u.numbers.join(',') : ''}` : '') +
                  `  sessions ${u.open_sessions}${u.locked_until ? `  locked until ${u.locked_until}` : ''}`,
              )
            : ['no users'],
        );
      },
    );

    withCommonOptions(
      program
        .command('set-password')
        .description("set a user's password; ends all their sessions and lifts their sign-in lockout")
        .argument('<email>', 'the user')
        .option('--password-stdin', 'read the password from stdin instead of asking'),
    ).action(async (email: string, opts: CommonOptions & { passwordStdin?: boolean }) => {
      const c = ctx(opts);
      const address = emailArg(email);
      const password = await newPassword(address, opts.passwordStdin === true, passwordInput);
      const args = { p_email: address, p_hash: HASH_PLACEHOLDER };
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'auth_set_password', args }]);
      const r = await call<{ user: UserJson; sessions_revoked: number }>(c, 'auth_set_password', { ...args, p_hash: await hashPassword(password) });
      emit(c, r, () => [`password of ${r.user.email} changed; ${r.sessions_revoked} session(s) ended`]);
    });

    withCommonOptions(
      program.command('disable').description('stop a user from signing in and end their sessions (an agent goes offline unless on a call)').argument('<email>', 'the user'),
    ).action(async (email: string, opts: CommonOptions) => {
      const c = ctx(opts);
      const args = { p_email: emailArg(email) };
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'auth_disable_user', args }]);
      const r = await call<{ user: UserJson; sessions_revoked: number; already_disabled: boolean }>(c, 'auth_disable_user', args);
      emit(c, r, () => [r.already_disabled ? `${r.user.email} was already disabled` : `disabled ${r.user.email}; ${r.sessions_revoked} session(s) ended`]);
    });

    withCommonOptions(
      program
        .command('assign-number')
        .description("dedicate a pool number to an agent: calls to it reach that agent, and it leaves the campaigns' caller-ID rotation")
        .argument('<email>', 'the agent user')
        .argument('<number>', 'a number of the phone_numbers pool (see `npm run numbers -- sync`)'),
    ).action(async (email: string, number: string, opts: CommonOptions) => {
      const c = ctx(opts);
      const args = { p_email: emailArg(email), p_phone_number: phoneArg(number) };
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'auth_assign_number', args }]);
      const r = await call<{ phone_number: string; agent_id: number; changed: boolean }>(c, 'auth_assign_number', args);
      emit(c, r, () => [r.changed ? `${r.phone_number} now belongs to agent #${r.agent_id} (${args.p_email})` : `${r.phone_number} already belonged to agent #${r.agent_id}`]);
    });

    withCommonOptions(
      program
        .command('set-role')
        .description("change a user's role; ends their sessions so no page keeps the old role's rights")
        .argument('<email>', 'the user')
        .addArgument(new Command().createArgument('<role>', 'agent, supervisor or admin').choices([...ROLES])),
    ).action(async (email: string, role: Role, opts: CommonOptions) => {
      const c = ctx(opts);
      const args = { p_email: emailArg(email), p_role: role };
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'auth_set_role', args }]);
      const r = await call<{ user: UserJson; sessions_revoked: number; changed: boolean }>(c, 'auth_set_role', args);
      emit(c, r, () => [r.changed ? `${r.user.email} is now ${r.user.role}; ${r.sessions_revoked} session(s) ended` : `${r.user.email} was already ${r.user.role}`]);
    });

    withCommonOptions(
      program
        .command('set-follow-me')
        .description("where a call to the agent's number goes when they cannot take it on the page: softphone, then mobile (with screening), then voicemail or a queue")
        .argument('<agent>', "the agent's e-mail or agent id")
        .option('--mobile <number>', 'a Brazilian mobile (screened: the mobile must press 1); "none" = the agent\'s own phone')
        .option('--softphone-seconds <n>', `seconds the softphone rings (${RING_SECONDS_MIN}-${RING_SECONDS_MAX}, default 20)`)
        .option('--mobile-seconds <n>', `seconds the mobile rings (${RING_SECONDS_MIN}-${RING_SECONDS_MAX}, default 25)`)
        .option('--then <final>', `last hop: voicemail (default), queue (the "${DEFAULT_QUEUE}" queue) or queue:<name>`),
    ).action(async (agent: string, opts: CommonOptions & { mobile?: string; softphoneSeconds?: string; mobileSeconds?: string; then?: string }) => {
      const c = ctx(opts);
      const who = agent.trim();
      if (!/^[1-9][0-9]{0,17}$/.test(who)) emailArg(who);
      const [finalHop, queue] = thenArg(opts.then);
      const args = {
        p_agent: who,
        p_mobile: mobileArg(opts.mobile),
        p_softphone_seconds: ringSecondsArg('--softphone-seconds', opts.softphoneSeconds),
        p_mobile_seconds: ringSecondsArg('--mobile-seconds', opts.mobileSeconds),
        p_final_hop: finalHop,
        p_queue_name: queue,
      };
      if (c.dryRun) return emitPlan(c, [{ kind: 'rpc', fn: 'follow_me_set', args }]);
      type Answer = { agent_id: number; settings: Record<string, unknown>; chain: { hops: { kind: string; seconds: number; client?: string; number?: string }[]; final: { kind: string; queue?: string } }; changed: boolean };
      const r = await call<Answer>(c, 'follow_me_set', args).catch((e: unknown) => {
        // a queue name nobody created is a mistake in the arguments
        if (e instanceof CliError && /^no service queue /.test(e.message)) throw new CliError(e.message, EXIT.USAGE, 'USAGE');
        throw e;
      });
      emit(c, r, () => [
        `agent #${r.agent_id} follow-me${r.changed ? '' : ' (unchanged)'}: ` +
          [
            ...r.chain.hops.map((h) => `${h.kind} ${h.client ?? h.number} ${h.seconds} s`),
            r.chain.final.kind === 'queue' ? `queue ${r.chain.final.queue}` : 'voicemail',
          ].join(' → '),
      ]);
    });

    return program;
  });
}

if (require.main === module) cliMain(run);
