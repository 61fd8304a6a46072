/**
 * The admin scripts (subaccounts, numbers) run in-process against the Twilio emulator,
 * through the same twilio-node client they use against real Twilio. A counting proxy in
 * front of the emulator proves that --dry-run sends nothing.
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { startEmulator } from '../../emulator';
import type { Env, Io } from '../../scripts/lib/cli';
import { run as numbers } from '../../scripts/numbers';
import { run as subaccounts } from '../../scripts/subaccounts';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';

type Emulator = Awaited<ReturnType<typeof startEmulator>>;

const FUNCTIONS = 'https://discador-test.twil.io';
const ADDRESS_SID = 'AD' + 'ab'.repeat(16);

function capture() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const io: Io = { out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
  return { io, stdout, stderr, json: () => JSON.parse(stdout.join('\n')), errText: () => stderr.join('\n') };
}

async function cli(runner: typeof numbers, argv: string[], env: Env) {
  const c = capture();
  const code = await runner(argv, env, c.io);
  return { code, ...c };
}

/** Forwards every request to the emulator and remembers method + path. */
async function countingProxy(target: string): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      fetch(target.replace(/\/$/, '') + (req.url ?? '/'), {
        method: req.method,
        headers,
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      })
        .then(async (r) => {
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(Buffer.from(await r.arrayBuffer()));
        })
        .catch((e: Error) => {
          res.writeHead(502);
          res.end(e.message);
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

let emu: Emulator;
let env: Env;

beforeAll(async () => {
  emu = await startEmulator({ port: 0, requireAddressForBR: true });
  env = {
    TWILIO_ACCOUNT_SID: emu.accountSid,
    TWILIO_AUTH_TOKEN: emu.authToken,
    TWILIO_API_BASE_URL: emu.url,
    FUNCTIONS_BASE_URL: FUNCTIONS,
  };
});

afterAll(async () => {
  await emu?.stop();
});

describe('subaccounts', () => {
  test('create is idempotent by FriendlyName; list shows the main account and the subaccounts', async () => {
    const first = await cli(subaccounts, ['create', '--json'], env);
    expect(first.code).toBe(0);
    const created = first.json().subaccounts;
    expect(created.map((a: any) => [a.friendly_name, a.created])).toEqual([
      ['dev-discador', true],
      ['prod-discador', true],
    ]);
    for (const a of created) {
      expect(a.sid).toMatch(/^AC[0-9a-f]{32}$/);
      expect(a.sid).not.toBe(emu.accountSid);
      expect(a.owner_account_sid).toBe(emu.accountSid);
    }

    const again = await cli(subaccounts, ['create', 'dev-discador', 'prod-discador', 'qa-discador', '--json'], env);
    expect(again.code).toBe(0);
    const second = again.json().subaccounts;
    expect(second.map((a: any) => [a.friendly_name, a.created])).toEqual([
      ['dev-discador', false],
      ['prod-discador', false],
      ['qa-discador', true],
    ]);
    expect(second.slice(0, 2).map((a: any) => a.sid)).toEqual(created.map((a: any) => a.sid));

    const list = await cli(subaccounts, ['list', '--json'], env);
    expect(list.code).toBe(0);
    const accounts = list.json().accounts;
    const named = (n: string) => accounts.filter((a: any) => a.friendly_name === n);
    expect(named('dev-discador')).toHaveLength(1);
    expect(named('prod-discador')).toHaveLength(1);
    expect(accounts.find((a: any) => a.sid === emu.accountSid)?.kind).toBe('main');
    expect(named('dev-discador')[0].kind).toBe('subaccount');
  });

  test("create refuses a subaccount's credentials", async () => {
    const sub = await createTwilioClient(emu.accountSid, emu.authToken, emu.url).api.v2010.accounts.create({ friendlyName: 'sub-creds' });
    const r = await cli(subaccounts, ['create', 'x-discador'], { ...env, TWILIO_ACCOUNT_SID: sub.sid, TWILIO_AUTH_TOKEN: sub.authToken });
    expect(r.code).toBe(2);
    expect(r.errText()).toContain(`TWILIO_ACCOUNT_SID ${sub.sid} is a subaccount of ${emu.accountSid}`);
  });

  test('bad credentials are explained (Twilio 20003)', async () => {
    const r = await cli(subaccounts, ['list', '--json'], { ...env, TWILIO_AUTH_TOKEN: 'f'.repeat(32) });
    expect(r.code).toBe(1);
    const err = JSON.parse(r.errText()).error;
    expect(err.code).toBe(20003);
    expect(err.message).toMatch(
      new RegExp(`^Twilio rejected the credentials for account ${emu.accountSid}: check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN`),
    );
  });
});

describe('numbers', () => {
  test('search by area code and type', async () => {
    const mobile = await cli(numbers, ['search', '--type', 'mobile', '--area-code', '21', '--limit', '5', '--json'], env);
    expect(mobile.code).toBe(0);
    const found = mobile.json().numbers;
    expect(found.length).toBeGreaterThan(0);
    expect(found.length).toBeLessThanOrEqual(5);
    for (const n of found) {
      expect(n.phone_number).toMatch(/^\+55219\d{8}$/);
      expect(n.number_type).toBe('mobile');
    }

    const local = await cli(numbers, ['search', '--area-code', '11', '--json'], env);
    expect(local.code).toBe(0);
    expect(local.json().numbers.length).toBeGreaterThan(0);
    for (const n of local.json().numbers) expect(n.phone_number).toMatch(/^\+5511[2-5]\d{7}$/);

    const tollFree = await cli(numbers, ['search', '--type', 'toll-free', '--limit', '3', '--json'], env);
    expect(tollFree.code).toBe(0);
    expect(tollFree.json().numbers.length).toBeGreaterThan(0);
    for (const n of tollFree.json().numbers) expect(n.number_type).toBe('toll_free');
  });

  test('buy: 21631 explained without an Address; bought and pointed with one; point, list, release', async () => {
    const [candidate, second] = (await cli(numbers, ['search', '--type', 'mobile', '--area-code', '11', '--limit', '2', '--json'], env)).json().numbers;
    const e164: string = candidate.phone_number;
    const national = `(${e164.slice(3, 5)}) ${e164.slice(5, 10)}-${e164.slice(10)}`;

    const refused = await cli(numbers, ['buy', national], env);
    expect(refused.code).toBe(1);
    expect(refused.errText()).toContain(
      'an Address is required for this number type in Brazil: create one in the Console (Phone Numbers > Regulatory Compliance) or via the Addresses API, and pass --address-sid AD…',
    );
    expect(refused.errText()).toContain('Twilio error 21631');

    const bought = await cli(numbers, ['buy', national, '--address-sid', ADDRESS_SID, '--json'], env);
    expect(bought.code).toBe(0);
    const row = bought.json().bought;
    expect(row.phone_number).toBe(e164);
    expect(row.sid).toMatch(/^PN[0-9a-f]{32}$/);
    expect(row.pointed).toBe(true);

    // Bought without webhooks, then pointed.
    const plain = await cli(numbers, ['buy', second.phone_number, '--address-sid', ADDRESS_SID, '--no-point', '--json'], env);
    expect(plain.code).toBe(0);
    expect(plain.json().bought.voice_url).toBeNull();
    const pointed = await cli(numbers, ['point', second.phone_number, '--json'], env);
    expect(pointed.code).toBe(0);
    expect(pointed.json().numbers).toEqual([{ sid: plain.json().bought.sid, phone_number: second.phone_number, ok: true }]);

    const client = createTwilioClient(emu.accountSid, emu.authToken, emu.url);
    const fetched = await client.incomingPhoneNumbers(plain.json().bought.sid).fetch();
    expect([fetched.voiceUrl, fetched.voiceMethod, fetched.voiceFallbackUrl, fetched.voiceFallbackMethod, fetched.statusCallback, fetched.statusCallbackMethod, fetched.smsUrl, fetched.smsMethod]).toEqual([
      `${FUNCTIONS}/voice/inbound`,
      'POST',
      `${FUNCTIONS}/voice/fallback`,
      'POST',
      `${FUNCTIONS}/webhooks/call-status#rc=3&rp=5xx,ct,rt&ct=2000&rt=5000&tt=15000`,
      'POST',
      `${FUNCTIONS}/webhooks/sms`,
      'POST',
    ]);

    const listed = (await cli(numbers, ['list', '--json'], env)).json().numbers;
    expect(listed.filter((n: any) => [e164, second.phone_number].includes(n.phone_number)).map((n: any) => n.pointed)).toEqual([true, true]);

    const other = `${FUNCTIONS}/v2`;
    const all = await cli(numbers, ['point', 'all', '--json'], { ...env, FUNCTIONS_BASE_URL: other });
    expect(all.code).toBe(0);
    expect(all.json().numbers.length).toBe(listed.length);
    const repointed = await client.incomingPhoneNumbers(row.sid).fetch();
    expect([repointed.voiceUrl, repointed.smsUrl]).toEqual([`${other}/voice/inbound`, `${other}/webhooks/sms`]);

    const noYes = await cli(numbers, ['release', e164], env);
    expect(noYes.code).toBe(2);
    const released = await cli(numbers, ['release', e164, '--yes', '--json'], env);
    expect(released.code).toBe(0);
    expect(released.json().released).toEqual({ sid: row.sid, phone_number: e164 });
    const after = (await cli(numbers, ['list', '--json'], env)).json().numbers.map((n: any) => n.phone_number);
    expect(after).not.toContain(e164);
    expect(after).toContain(second.phone_number);

    const gone = await cli(numbers, ['release', e164, '--yes'], env);
    expect(gone.code).toBe(1);
    expect(gone.errText()).toContain(`${e164} is not a number of account ${emu.accountSid}`);
  });

  test('buy: 21649 explained when the account needs a regulatory Bundle; passes with --bundle-sid', async () => {
    const sub = emu.createSubaccount('bundle-required', { requireAddressForBR: false, requireBundleForBR: true });
    const subEnv = { ...env, TWILIO_ACCOUNT_SID: sub.sid, TWILIO_AUTH_TOKEN: sub.authToken };
    const [n] = (await cli(numbers, ['search', '--type', 'local', '--area-code', '31', '--limit', '1', '--json'], subEnv)).json().numbers;
    const refused = await cli(numbers, ['buy', n.phone_number, '--json'], subEnv);
    expect(refused.code).toBe(1);
    const err = JSON.parse(refused.errText()).error;
    expect(err.code).toBe(21649);
    expect(err.message).toMatch(/^a regulatory Bundle is required for this number type in Brazil: .* pass --bundle-sid BU… \(Twilio error 21649/);

    const bought = await cli(numbers, ['buy', n.phone_number, '--bundle-sid', 'BU' + '12'.repeat(16), '--json'], subEnv);
    expect(bought.code).toBe(0);
    expect(bought.json().bought.phone_number).toBe(n.phone_number);
  });

  test('--dry-run sends no request at all', async () => {
    const proxy = await countingProxy(emu.url);
    try {
      const viaProxy = { ...env, TWILIO_API_BASE_URL: proxy.url };
      // Sanity: the proxy does see real requests.
      expect((await cli(numbers, ['list', '--json'], viaProxy)).code).toBe(0);
      expect(proxy.seen.length).toBeGreaterThan(0);
      proxy.seen.length = 0;

      const runs: [typeof numbers, string[]][] = [
        [numbers, ['search', '--area-code', '11', '--dry-run']],
        [numbers, ['buy', '+5511912345678', '--address-sid', ADDRESS_SID, '--dry-run']],
        [numbers, ['point', 'all', '--dry-run']],
        [numbers, ['point', '+5511912345678', '--dry-run']],
        [numbers, ['list', '--dry-run']],
        [numbers, ['release', '+5511912345678', '--dry-run']],
        [subaccounts, ['create', 'dry-discador', '--dry-run']],
        [subaccounts, ['list', '--dry-run', '--json']],
      ];
      for (const [runner, argv] of runs) {
        const r = await cli(runner, argv, viaProxy);
        expect({ argv, code: r.code }).toEqual({ argv, code: 0 });
        expect(r.stdout.join('\n')).toMatch(/dry run|"dry_run": true/);
      }
      expect(proxy.seen).toEqual([]);
      const names = (await cli(subaccounts, ['list', '--json'], env)).json().accounts.map((a: any) => a.friendly_name);
      expect(names).not.toContain('dry-discador');
    } finally {
      await proxy.close();
    }
  });
});

test("every request the scripts sent respected Twilio's OpenAPI contract", () => {
  expect(emu.contractViolations()).toEqual([]);
});

test('the CLI runs end to end: `tsx scripts/numbers.ts --help`', () => {
  const root = path.resolve(__dirname, '..', '..');
  const r = spawnSync(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/numbers.ts', '--help'], { cwd: root, encoding: 'utf8', timeout: 20_000 });
  expect(r.status).toBe(0);
  for (const cmd of ['search', 'buy', 'point', 'list', 'sync', 'release']) expect(r.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'));

  const bad = spawnSync(path.join(root, 'node_modules', '.bin', 'tsx'), ['scripts/numbers.ts', 'buy', '123'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 20_000,
    env: { PATH: process.env.PATH ?? '', TWILIO_ACCOUNT_SID: 'AC' + '0'.repeat(32), TWILIO_AUTH_TOKEN: 'x' },
  });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/invalid phone number "123"/);
});
