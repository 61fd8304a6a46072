/**
 * The agents CLI without a database: usage, the password policy, how passwords are read
 * (stdin, or a terminal prompt that echoes nothing), and --dry-run sending nothing (a
 * counting server stands where the database would be). The same CLI against the real
 * database: tests/flow/agents-cli.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { Env, Io } from '../../scripts/lib/cli';
import { run, type PasswordInput } from '../../scripts/agents';

let server: http.Server;
let seen: string[];
let env: Env;

beforeAll(async () => {
  seen = [];
  server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  env = { SUPABASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, SUPABASE_SERVICE_ROLE_KEY: 'service-role-key-for-cli-tests' };
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen.length = 0;
});

/** stdin as a pipe holding `text`. */
function piped(text: string): PasswordInput {
  const stream = new PassThrough();
  stream.end(text);
  return { stream, prompt: () => undefined };
}

/** stdin as a terminal on which the person types `lines` (each ends with Enter). */
function terminal(lines: string[]): PasswordInput & { shown: string[]; rawModes: boolean[] } {
  const stream = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode: (r: boolean) => void };
  const rawModes: boolean[] = [];
  stream.isTTY = true;
  stream.setRawMode = (r) => void rawModes.push(r);
  const shown: string[] = [];
  let next = 0;
  return {
    stream,
    rawModes,
    shown,
    prompt: (t) => {
      shown.push(t);
      // The person types once asked (a prompt that is not the closing newline).
      if (t !== '\n' && next < lines.length) {
        const line = lines[next++]!;
        setImmediate(() => stream.write(line + '\r'));
      }
    },
  };
}

async function cli(argv: string[], input: PasswordInput) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await run(argv, { ...env }, io, input);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('--help names every command; each command lists --json and --dry-run', async () => {
  const top = await cli(['--help'], piped(''));
  expect(top.code).toBe(0);
  for (const c of ['add', 'list', 'set-password', 'disable', 'assign-number', 'set-role']) expect(top.out).toContain(c);
  const add = await cli(['add', '--help'], piped(''));
  for (const o of ['--json', '--dry-run', '--password-stdin', '--role', '--name']) expect(add.out).toContain(o);
});

test('add --dry-run with --password-stdin: prints the RPC, never the password or a hash, sends nothing', async () => {
  const r = await cli(['add', 'Maria@Empresa.com.br', '--name', 'Maria Souza', '--phone', '(11) 98765-4321', '--password-stdin', '--dry-run', '--json'], piped('uma frase secreta longa\n'));
  expect(r.code).toBe(0);
  const plan = JSON.parse(r.out);
  expect(plan.steps).toEqual([
    {
      kind: 'rpc',
      fn: 'auth_create_user',
      args: { p_email: 'Maria@Empresa.com.br', p_name: 'Maria Souza', p_role: 'agent', p_hash: '<scrypt hash of the new password>', p_client_identity: 'Maria', p_phone_number: '+5511987654321' },
    },
  ]);
  expect(r.out + r.err).not.toContain('frase secreta');
  expect(seen).toEqual([]);
});

test.each([
  ['too short', 'curta123', 'at least 10 characters'],
  ['a common password', '1234567890', 'most common passwords'],
  ['a common password with digits added', 'flamengo2024', 'common password with digits'],
  ['the e-mail in it', 'maria@empresa.com.br!', 'must not contain the e-mail'],
])('a weak password (%s) is refused with exit 2 and nothing sent', async (_what, password, said) => {
  const r = await cli(['set-password', 'maria@empresa.com.br', '--password-stdin'], piped(password + '\n'));
  expect(r.code).toBe(2);
  expect(r.err).toContain(said);
  expect(r.err).toContain('nothing was changed');
  expect(seen).toEqual([]);
});

test('without --password-stdin and without a terminal it says how to give the password', async () => {
  const r = await cli(['set-password', 'maria@empresa.com.br'], piped('whatever long enough'));
  expect(r.code).toBe(2);
  expect(r.err).toContain('--password-stdin');
  expect(seen).toEqual([]);
});

test('on a terminal it asks twice in raw mode and echoes nothing of what is typed', async () => {
  const tty = terminal(['uma frase secreta longa', 'uma frase secreta longa']);
  const r = await cli(['set-password', 'maria@empresa.com.br', '--dry-run'], tty);
  expect(r.code).toBe(0);
  expect(tty.shown.join('')).toBe('password for maria@empresa.com.br: \nagain: \n');
  expect(tty.rawModes).toEqual([true, false, true, false]);
  expect(r.out).toContain('auth_set_password');
  expect(seen).toEqual([]);
});

test('two different answers on the terminal change nothing', async () => {
  const r = await cli(['set-password', 'maria@empresa.com.br'], terminal(['uma frase secreta longa', 'outra frase secreta']));
  expect(r.code).toBe(2);
  expect(r.err).toContain('differ');
  expect(seen).toEqual([]);
});

test.each([
  [['add', 'not-an-email', '--name', 'X', '--password-stdin'], 'not an e-mail address'],
  [['add', 'a@b.c', '--name', '  ', '--password-stdin'], '--name'],
  [['add', 'a@b.c', '--name', 'X', '--role', 'supervisor', '--phone', '11987654321', '--password-stdin'], 'agents only'],
  [['set-role', 'a@b.c', 'owner'], 'Allowed choices'],
  [['assign-number', 'a@b.c', '123'], 'invalid phone number'],
])('bad usage %j: exit 2, nothing sent', async (argv, said) => {
  const r = await cli(argv, piped('uma frase secreta longa'));
  expect(r.code).toBe(2);
  expect(r.err).toContain(said);
  expect(seen).toEqual([]);
});
