/**
 * `npm run call` (stack/call.ts) run as a person runs it, a fresh process whose only link to
 * a stack is DISCADOR_STACK_ENV, against an emulator in this process standing for the
 * stack's: it places the call and follows it to the end, and every refusal says what is
 * wrong, exits 1 and places no call.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../emulator';
import { writeStackEnv } from '../../stack/env-file';

jest.setTimeout(60000);

const root = join(__dirname, '..', '..');
const ANA = '+551130001000';
let emu: Emulator;
let dir: string;
let stackEnv: string;

/** Runs `tsx stack/call.ts <args>` with nothing but PATH, HOME and DISCADOR_STACK_ENV. */
function call(args: string[], file = stackEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [require.resolve('tsx/cli'), 'stack/call.ts', ...args],
      { cwd: root, timeout: 30000, env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? tmpdir(), DISCADOR_STACK_ENV: file } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

beforeAll(async () => {
  // Fast enough that a whole call ends in a moment; the CLI itself polls in real time.
  emu = await startEmulator({ speed: 20 });
  emu.addNumber({ phoneNumber: ANA, voiceUrl: 'http://127.0.0.1:9/unreachable' });
  dir = mkdtempSync(join(tmpdir(), 'discador-call-'));
  stackEnv = join(dir, 'stack.env');
  writeStackEnv(stackEnv, { TWILIO_API_BASE_URL: emu.url, TWILIO_ACCOUNT_SID: emu.accountSid, TWILIO_AUTH_TOKEN: emu.authToken });
});
afterAll(async () => {
  await emu?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('places the call from the demo lead and follows it until it ends', async () => {
  // The number's VoiceUrl does not answer, so the emulator plays its fallback and hangs up.
  const before = emu.calls().length;
  const r = await call([ANA]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const sid = /^\+5511987650001 is calling \+551130001000: (CA[0-9a-f]{32})$/m.exec(r.stdout)?.[1];
  expect(sid).toBeDefined();
  expect(r.stdout).toMatch(/^\s+\d\d:\d\d:\d\d completed/m);
  expect(emu.calls().slice(before)).toEqual([expect.objectContaining({ sid, direction: 'inbound', from: '+5511987650001', to: ANA })]);
});

it('--no-follow prints the CallSid and returns', async () => {
  const r = await call([ANA, '--from', '+5511987650002', '--no-follow']);
  expect(r.code).toBe(0);
  expect(r.stdout.trim()).toMatch(/^\+5511987650002 is calling \+551130001000: CA[0-9a-f]{32}$/);
});

describe('refusals: exit 1, a message that says what to do, no call', () => {
  let before: number;
  beforeEach(() => (before = emu.calls().length));
  afterEach(() => expect(emu.calls().length).toBe(before));

  it('no stack running at the file DISCADOR_STACK_ENV names', async () => {
    const gone = join(dir, 'gone', 'stack.env');
    const r = await call([ANA], gone);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(`DISCADOR_STACK_ENV names ${gone}, which does not exist (is that stack running?)`);
  });

  it('a stack that left its file behind but no longer answers', async () => {
    const stale = join(dir, 'stale.env');
    const port = await closedPort();
    writeStackEnv(stale, { TWILIO_API_BASE_URL: `http://127.0.0.1:${port}`, TWILIO_ACCOUNT_SID: emu.accountSid, TWILIO_AUTH_TOKEN: emu.authToken });
    const r = await call([ANA], stale);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the stack of ${stale} does not answer at http://127.0.0.1:${port} (connect ECONNREFUSED`);
    expect(r.stderr).toContain('is it still running? Start it again with `npm start`');
  });

  it('a file that names no emulator', async () => {
    const noEmulator = join(dir, 'no-emulator.env');
    writeStackEnv(noEmulator, { SUPABASE_URL: 'http://127.0.0.1:1' });
    const r = await call([ANA], noEmulator);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`${noEmulator} names no Twilio emulator`);
  });

  it("another stack's token", async () => {
    const other = join(dir, 'other.env');
    writeStackEnv(other, { TWILIO_API_BASE_URL: emu.url, TWILIO_ACCOUNT_SID: emu.accountSid, TWILIO_AUTH_TOKEN: 'another0auth0token00000000000000' });
    const r = await call([ANA], other);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`the emulator at ${emu.url} refused the account and token of ${other}: is that file another stack's?`);
  });

  it("a number that is not the stack's: the refusal lists the stack's numbers", async () => {
    const r = await call(['551130001000']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("the emulator refused the call: To must be one of this account's numbers; 551130001000 is not");
    expect(r.stderr).toContain(`the stack's numbers: ${ANA}`);
  });

  it('a caller that is not a phone number, and seconds that are not whole seconds', async () => {
    const from = await call([ANA, '--from', '11 98765']);
    expect(from.code).toBe(1);
    expect(from.stderr).toContain('the emulator refused the call: From must be an E.164 number');
    const talk = await call([ANA, '--talk', '0']);
    expect(talk.code).toBe(1);
    expect(talk.stderr).toContain("option '--talk <seconds>' argument '0' is invalid. expected whole seconds from 1 to 14400.");
  });
});
