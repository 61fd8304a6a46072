/**
 * What a newcomer does with `npm start` running in another terminal works as documented:
 * `npm run sim -- emulator/scenarios/discador/inbound.json` passes (it signs with the
 * stack's auth token, read from the stack's env file), and the admin CLIs run against the
 * stack without a hand-made .env, saying on stderr which stack and account they use.
 * The commands run as a person types them (npm run, a fresh process, an environment with
 * nothing of the stack's in it); DISCADOR_STACK_ENV stands for "the stack in the other
 * terminal", since this stack has free ports and a temporary data dir.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { resolveTarget, type Env } from '../../scripts/lib/cli';

jest.setTimeout(120000);
const root = join(__dirname, '..', '..');

let stack: StackProcess;
beforeAll(async () => {
  stack = await startStackProcess();
});
afterAll(async () => stack?.stop());

/** Runs `npm run <args>` in the repository with only PATH, HOME and `extra` in the environment. */
function npmRun(args: string[], extra: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'npm',
      ['run', '--silent', ...args],
      { cwd: root, timeout: 60000, env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? tmpdir(), ...extra } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

it('the stack leaves its env file, 0600, naming its own URLs and keys', () => {
  const file = stack.env.DISCADOR_STACK_ENV;
  expect(statSync(file).mode & 0o777).toBe(0o600);
});

it('`npm run sim -- emulator/scenarios/discador/inbound.json` passes against the running stack', async () => {
  const r = await npmRun(['sim', '--', 'emulator/scenarios/discador/inbound.json', '--quiet'], { DISCADOR_STACK_ENV: stack.env.DISCADOR_STACK_ENV });
  expect(r.stderr).toContain(`account ${stack.env.TWILIO_ACCOUNT_SID}`);
  expect(r.stdout).toContain('PASS emulator/scenarios/discador/inbound.json');
  expect(r.stdout).toContain('expectations: 7/7 passed');
  expect(r.code).toBe(0);
  // The call reached the stack's functions and its database.
  const rows = await sql("select status from calls where from_number = '+5521987654321' and direction = 'inbound'", [], stack.env.DATABASE_URL);
  expect(rows).toContainEqual({ status: 'completed' });
});

it('the sim still signs with the token it is given: a wrong one is refused by the front', async () => {
  const r = await npmRun(['sim', '--', 'emulator/scenarios/discador/inbound.json', '--quiet', '--app-url', stack.env.FUNCTIONS_BASE_URL], {
    DISCADOR_STACK_ENV: stack.env.DISCADOR_STACK_ENV,
    TWILIO_ACCOUNT_SID: stack.env.TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN: 'another0auth0token00000000000000',
  });
  expect(r.stdout).toContain('FAIL');
  expect(r.code).toBe(1);
});

it('the admin CLIs use the running stack without a .env, and say so on stderr', async () => {
  const env = { DISCADOR_STACK_ENV: stack.env.DISCADOR_STACK_ENV };
  const said = new RegExp(`using the local stack of .*stack\\.env: account ${stack.env.TWILIO_ACCOUNT_SID} on Twilio API ${stack.env.TWILIO_API_BASE_URL}, database ${stack.env.SUPABASE_URL}`);

  const numbers = await npmRun(['numbers', '--', 'list', '--json'], env);
  expect(numbers.stderr).toMatch(said);
  expect(numbers.code).toBe(0);
  const listed = (JSON.parse(numbers.stdout) as { numbers: { phone_number: string; voice_url: string }[] }).numbers;
  expect(listed).toContainEqual(expect.objectContaining({ phone_number: '+551130001000', voice_url: `${stack.env.FUNCTIONS_BASE_URL}/voice/inbound` }));

  const subaccounts = await npmRun(['subaccounts', '--', 'list', '--json'], env);
  expect(subaccounts.stderr).toMatch(said);
  expect(subaccounts.code).toBe(0);
  expect(JSON.parse(subaccounts.stdout)).toMatchObject({ accounts: [expect.objectContaining({ sid: stack.env.TWILIO_ACCOUNT_SID, kind: 'main' })] });

  const optOut = await npmRun(['opt-out', '--', 'add', '+5511987650000', '--json'], env);
  expect(optOut.stderr).toMatch(said);
  expect(optOut.code).toBe(0);
  expect(await sql("select source from opt_outs where phone_number = '+5511987650000'", [], stack.env.DATABASE_URL)).toHaveLength(1);
});

it('an environment that names an account wins over the stack, and the CLI says which it uses', async () => {
  const r = await npmRun(['subaccounts', '--', 'list', '--json'], {
    DISCADOR_STACK_ENV: stack.env.DISCADOR_STACK_ENV,
    TWILIO_ACCOUNT_SID: 'AC' + 'f'.repeat(32),
    TWILIO_AUTH_TOKEN: 'x'.repeat(32),
    TWILIO_API_BASE_URL: stack.env.TWILIO_API_BASE_URL,
  });
  expect(r.stderr).toContain(`using the environment: account AC${'f'.repeat(32)} on Twilio API ${stack.env.TWILIO_API_BASE_URL}`);
  expect(r.code).not.toBe(0); // the emulator does not know that account
});

it('with no stack running and no environment, the CLI says how to get one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'discador-nostack-'));
  try {
    const r = await npmRun(['subaccounts', '--', 'list'], { DISCADOR_STACK_ENV: join(dir, 'stack.env') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`DISCADOR_STACK_ENV names ${join(dir, 'stack.env')}, which does not exist`);
    expect(r.stderr).toMatch(/missing environment variable TWILIO_ACCOUNT_SID.*npm start/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('`npm run reconcile` with no arguments says which stack it uses; --help does not', async () => {
  const env = { DISCADOR_STACK_ENV: stack.env.DISCADOR_STACK_ENV };
  const r = await npmRun(['reconcile'], env);
  expect(r.stderr).toMatch(new RegExp(`using the local stack of .*stack\\.env: account ${stack.env.TWILIO_ACCOUNT_SID} on Twilio API ${stack.env.TWILIO_API_BASE_URL}, database ${stack.env.SUPABASE_URL}`));
  expect(r.code).toBe(0);
  const help = await npmRun(['reconcile', '--', '--help'], env);
  expect(help.code).toBe(0);
  expect(help.stderr).not.toContain('using');
});

describe('a .env at the repository root (as after `cp .env.example .env`)', () => {
  let dir: string;
  let dotEnv: string;
  const otherAccount = 'AC' + 'e'.repeat(32);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'discador-dotenv-'));
    dotEnv = join(dir, '.env');
    writeFileSync(dotEnv, `TWILIO_ACCOUNT_SID=${otherAccount}\nTWILIO_AUTH_TOKEN=${'t'.repeat(32)}\nSUPABASE_URL=https://example.supabase.co\nSUPABASE_SERVICE_ROLE_KEY=k\nDB_TIMEOUT_MS=1234\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('an explicit DISCADOR_STACK_ENV wins over it for the account and database; its other settings still apply', () => {
    const env: Env = { DISCADOR_STACK_ENV: stack.env.DISCADOR_STACK_ENV };
    const said = resolveTarget(env, dotEnv);
    expect(said).toMatch(/^using the local stack of .*stack\.env: /);
    expect(env).toMatchObject({
      TWILIO_ACCOUNT_SID: stack.env.TWILIO_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: stack.env.TWILIO_AUTH_TOKEN,
      TWILIO_API_BASE_URL: stack.env.TWILIO_API_BASE_URL,
      SUPABASE_URL: stack.env.SUPABASE_URL,
      SUPABASE_SERVICE_ROLE_KEY: stack.env.SUPABASE_SERVICE_ROLE_KEY,
      DB_TIMEOUT_MS: '1234',
    });
  });

  it('an explicit DISCADOR_STACK_ENV whose file is missing gives no account, not the one of .env', () => {
    const env: Env = { DISCADOR_STACK_ENV: join(dir, 'gone', 'stack.env') };
    expect(resolveTarget(env, dotEnv)).toContain('which does not exist');
    expect(env['TWILIO_ACCOUNT_SID']).toBeUndefined();
    expect(env['SUPABASE_URL']).toBeUndefined();
  });

  it('without DISCADOR_STACK_ENV, .env is used and said', () => {
    const env: Env = {};
    expect(resolveTarget(env, dotEnv)).toBe(`using .env: account ${otherAccount} on Twilio (api.twilio.com), database https://example.supabase.co`);
  });

  it('the environment still wins over both', () => {
    const env: Env = {
      DISCADOR_STACK_ENV: stack.env.DISCADOR_STACK_ENV,
      TWILIO_ACCOUNT_SID: 'AC' + 'f'.repeat(32),
      TWILIO_AUTH_TOKEN: 'x'.repeat(32),
      SUPABASE_URL: 'http://127.0.0.1:9',
      SUPABASE_SERVICE_ROLE_KEY: 'k',
    };
    expect(resolveTarget(env, dotEnv)).toBe(`using the environment: account AC${'f'.repeat(32)} on Twilio (api.twilio.com), database http://127.0.0.1:9`);
  });
});
