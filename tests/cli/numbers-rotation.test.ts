/**
 * The numbers CLI's rotation commands without a database: --help, usage errors (nothing
 * sent), and --dry-run printing the one RPC it would send (a counting server stands where
 * the database would be). Against the real database: tests/flow/caller-id-rotation.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Env, Io } from '../../scripts/lib/cli';
import { run } from '../../scripts/numbers';

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

async function cli(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await run(argv, { ...env }, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('--help names the rotation commands; each lists --json and --dry-run', async () => {
  const top = await cli(['--help']);
  for (const c of ['flag-spam', 'unflag-spam', 'set-cap', 'set-cooldown']) expect(top.out).toContain(c);
  const flag = await cli(['flag-spam', '--help']);
  for (const o of ['--note', '--json', '--dry-run']) expect(flag.out).toContain(o);
});

test.each([
  [['flag-spam', '(11) 3000-2000', '--note', 'app X'], { p_phone_number: '+551130002000', p_settings: { spam: true, spam_note: 'app X' } }],
  [['flag-spam', '+551130002000'], { p_phone_number: '+551130002000', p_settings: { spam: true } }],
  [['unflag-spam', '+551130002000'], { p_phone_number: '+551130002000', p_settings: { spam: false } }],
  [['set-cap', '+551130002000', '120'], { p_phone_number: '+551130002000', p_settings: { daily_cap: 120 } }],
  [['set-cooldown', '+551130002000', '0'], { p_phone_number: '+551130002000', p_settings: { cooldown_seconds: 0 } }],
])('%j --dry-run prints the caller_id_configure call and sends nothing', async (argv, args) => {
  const r = await cli([...argv, '--dry-run', '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out)).toEqual({ dry_run: true, steps: [{ kind: 'rpc', fn: 'caller_id_configure', args }] });
  expect(seen).toEqual([]);
});

test.each([
  [['set-cap', '+551130002000', '0'], /<calls> must be a whole number from 1 to 100000/],
  [['set-cap', '+551130002000', '2.5'], /<calls> must be a whole number/],
  [['set-cap', '+551130002000', '100001'], /<calls> must be a whole number/],
  [['set-cooldown', '+551130002000', '86401'], /<seconds> must be a whole number from 0 to 86400/],
  [['set-cooldown', '+551130002000', 'soon'], /<seconds> must be a whole number/],
  [['flag-spam', '+551130002000', '--note', '   '], /--note must be 1 to 200 characters/],
  [['flag-spam', '+551130002000', '--note', 'x'.repeat(201)], /--note must be 1 to 200 characters/],
  [['unflag-spam', '12345'], /invalid phone number "12345"/],
])('%j: a usage error, nothing sent', async (argv, message) => {
  const r = await cli(argv);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(message);
  expect(seen).toEqual([]);
});

test('a database that fails: exit 1 saying so; only caller_id_configure was asked', async () => {
  const r = await cli(['set-cap', '+551130002000', '10']);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/could not reach the database/);
  expect(seen.length).toBeGreaterThan(0);
  expect(new Set(seen)).toEqual(new Set(['POST /rest/v1/rpc/caller_id_configure']));
});
