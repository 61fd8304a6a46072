/**
 * The path the README promises a newcomer, through its own entry points: `npm start` (here
 * with `--ephemeral`, so it takes free ports and a temporary data dir and never meets a
 * developer's stack or another test's) prints a banner naming the agent page and the demo
 * logins; Ana signs in at that URL in Chromium and goes available; `npm run call --
 * +551130001000` (run as a person runs it, pointed at this stack by DISCADOR_STACK_ENV, the
 * file the banner names) rings the page with the seed's lead "Cliente Um"; she answers, hangs
 * up, the CLI reports the call completed, and her disposition is in the database. Nothing is
 * placed in-process: the emulator is the one `npm start` runs, at real-time speed.
 * `npm test` builds dist/ first; the stack is started with `--no-build` so that it does not
 * rewrite dist/ under the other browser tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { sql as sqlAt } from '../helpers/db';
import { formatPhoneBR } from '../../src/web/agent/format';
import { launch, type TestBrowser } from './browser';

jest.setTimeout(120000);

const root = join(__dirname, '..', '..');
const ANA = { email: 'ana@discador.local', password: 'demo-ana', did: '+551130001000' };
/** supabase/seed.sql's lead, the number `npm run call` calls from by default. */
const CLIENTE_UM = { name: 'Cliente Um', phone: '+5511987650001' };

/** A child process whose stdout is kept, line by line, and can be waited on. */
interface Child {
  proc: ChildProcess;
  lines: string[];
  stderr(): string;
  /** Resolves with the first line (already printed or to come) matching `re`. */
  line(re: RegExp, ms: number): Promise<string>;
  exited: Promise<number | null>;
}

function run(command: string, args: string[], opts: { env: NodeJS.ProcessEnv; detached?: boolean }): Child {
  const proc = spawn(command, args, { cwd: root, env: opts.env, detached: opts.detached, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { re: RegExp; ok: (l: string) => void }[] = [];
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of [...waiters]) {
      if (w.re.test(l)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.ok(l);
      }
    }
  });
  const exited = new Promise<number | null>((ok) => proc.once('exit', (code) => ok(code)));
  return {
    proc,
    lines,
    stderr: () => err,
    exited,
    line: (re, ms) =>
      new Promise((ok, fail) => {
        const seen = lines.find((l) => re.test(l));
        if (seen !== undefined) return ok(seen);
        const timer = setTimeout(() => fail(new Error(`no line matching ${re} in ${ms} ms; stdout:\n${lines.join('\n')}\nstderr:\n${err}`)), ms);
        waiters.push({ re, ok: (l) => (clearTimeout(timer), ok(l)) });
        void exited.then((code) => {
          clearTimeout(timer);
          fail(new Error(`exited (${code}) before printing a line matching ${re}; stdout:\n${lines.join('\n')}\nstderr:\n${err}`));
        });
      }),
  };
}

/** The environment a person's shell has: nothing of any stack's in it. */
const shellEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...extra });

let stack: Child;
let banner: string;
let agentPage: string;
let stackEnvFile: string;
let databaseUrl: string;
const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, databaseUrl);

/** Whether any process of `npm start`'s process group is still alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ctrl-C in the terminal: SIGINT to `npm start`'s whole process group. Resolves once every
 * process of the group is gone (npm itself leaves as soon as its child does); true when they
 * all went within 20 s (else they are killed).
 */
async function stopStack(): Promise<boolean> {
  const pgid = stack.proc.pid!;
  if (groupAlive(pgid)) process.kill(-pgid, 'SIGINT');
  const deadline = Date.now() + 20000;
  while (groupAlive(pgid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (!groupAlive(pgid)) return true;
  process.kill(-pgid, 'SIGKILL');
  return false;
}

beforeAll(async () => {
  // Its own process group, as a terminal gives a command, so Ctrl-C can be sent to all of it.
  stack = run('npm', ['start', '--', '--ephemeral', '--no-build'], { env: shellEnv(), detached: true });
  try {
    await stack.line(/^Ctrl-C stops everything\.$/, 90000);
  } catch (e) {
    await stopStack();
    throw e;
  }
  banner = stack.lines.join('\n');
  agentPage = /^\s+Agent page\s+(http:\/\/127\.0\.0\.1:\d+\/agent\.html)$/m.exec(banner)?.[1] ?? '';
  stackEnvFile = /^\s+DISCADOR_STACK_ENV=(.+)$/m.exec(banner)?.[1] ?? '';
  databaseUrl = /^\s+DATABASE_URL=(.+)$/m.exec(banner)?.[1] ?? '';
}, 100000);
afterAll(async () => {
  if (stack) await stopStack();
});

it('npm start prints the agent page, the demo logins and how to place a call', () => {
  expect(agentPage).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/agent\.html$/);
  expect(banner).toContain('ana@discador.local / demo-ana');
  expect(banner).toContain('bruno@discador.local / demo-bruno');
  expect(banner).toContain('supervisor@discador.local / demo-supervisor');
  expect(banner).toContain('admin@discador.local / demo-admin');
  // An ephemeral stack's env file is not the one the CLIs find by default: the banner says
  // how to point them at it, in the command a person copies.
  expect(banner).toContain(`DISCADOR_STACK_ENV=${stackEnvFile} npm run call -- ${ANA.did}`);
  expect(statSync(stackEnvFile).mode & 0o777).toBe(0o600);
});

it('Ana signs in at the printed URL, goes available, and takes the call `npm run call` places', async () => {
  const b: TestBrowser = await launch('npm start');
  try {
    const { page } = b;
    await page.goto(agentPage);
    await page.fill('#login-email', ANA.email);
    await page.fill('#login-password', ANA.password);
    await b.shot('sign-in filled');
    await page.click('#login-submit');
    await page.waitForSelector('#app-view:not([hidden])');
    expect(await page.textContent('#agent-name')).toBe('Ana Souza');
    await b.shot('signed in');

    // Disponível: the softphone's shift leg joins her room on the stack's emulator.
    await page.click('#go-available');
    await page.waitForFunction(`document.getElementById('phone-state').textContent === 'Conectado — aguardando clientes'`, undefined, { timeout: 20000 });
    const deadline = Date.now() + 15000;
    let shift: string | null = null;
    while (!shift && Date.now() < deadline) {
      const [a] = await sql<{ status: string; shift_call_sid: string | null }>(`select status, shift_call_sid from agents where client_identity = 'ana'`);
      if (a?.status === 'available') shift = a.shift_call_sid;
      if (!shift) await new Promise((r) => setTimeout(r, 200));
    }
    expect(shift).toMatch(/^CA[0-9a-f]{32}$/);
    await b.shot('available');

    // The customer: `npx tsx stack/call.ts` is what `npm run call` runs.
    const call = run('npx', ['tsx', 'stack/call.ts', ANA.did, '--hangup-after', '60'], { env: shellEnv({ DISCADOR_STACK_ENV: stackEnvFile }) });
    try {
      const placed = await call.line(/ is calling /, 20000);
      const callSid = new RegExp(`^\\${CLIENTE_UM.phone} is calling \\${ANA.did}: (CA[0-9a-f]{32})$`).exec(placed)?.[1];
      expect(callSid).toBeDefined();

      // Disclaimer, then the page rings with the screen pop of the seed's lead.
      await page.waitForSelector('#offer-box:not([hidden])', { timeout: 30000 });
      expect(await page.textContent('#offer-from')).toBe(formatPhoneBR(CLIENTE_UM.phone));
      expect(await page.textContent('#pop-number')).toBe(formatPhoneBR(CLIENTE_UM.phone));
      expect(await page.textContent('#pop-name')).toBe(CLIENTE_UM.name);
      // The lead's imported fields, as a Brazilian operator's file has them.
      const fields = await page.$$eval('#pop-fields dt, #pop-fields dd', (els) => els.map((e) => e.textContent));
      expect(fields).toEqual(['Saldo', '1.250,00', 'Dias atraso', '30']);
      // Notifications not allowed: the ringing call is a notice in the page.
      const offerToast = `#toasts li[data-key="offer:${callSid}"]`;
      expect(await page.textContent(offerToast)).toBe(`Chamada recebida${formatPhoneBR(CLIENTE_UM.phone)} — ${CLIENTE_UM.name}Fechar`);
      await b.shot('ringing with screen pop');

      await page.click('#answer');
      await page.waitForFunction(`document.getElementById('phone-state').textContent === 'Em ligação'`, undefined, { timeout: 20000 });
      expect(await sql(`select status, current_call_sid from agents where client_identity = 'ana'`)).toEqual([{ status: 'busy', current_call_sid: callSid }]);
      await call.line(/^\s+\d\d:\d\d:\d\d in-progress$/, 5000);
      expect(call.proc.exitCode).toBeNull(); // the customer is still on the line
      // Answered, the call no longer rings: its notice is gone.
      await page.waitForSelector(offerToast, { state: 'detached', timeout: 5000 });
      await b.shot('in call');

      await page.click('#hangup');
      await page.waitForSelector('#disposition:not([hidden])', { timeout: 20000 });
      await call.line(/^\s+\d\d:\d\d:\d\d completed \(\d+ s\)$/, 15000);
      expect(await call.exited).toBe(0);
      expect(call.stderr()).toBe('');
      expect(await page.textContent('#disposition-customer')).toBe(`${CLIENTE_UM.name} (${formatPhoneBR(CLIENTE_UM.phone)})`);
      await b.shot('wrap-up with disposition form');

      await page.selectOption('#disposition-code', 'promessa_pagamento');
      await page.fill('#disposition-notes', 'Paga dia 10');
      await page.click('#disposition-submit');
      await page.waitForSelector('#disposition', { state: 'hidden' });
      expect(
        await sql(`select d.code, d.notes, d.agent_id = a.id as by_ana from call_dispositions d, agents a where a.client_identity = 'ana' and d.call_sid = $1`, [callSid]),
      ).toEqual([{ code: 'promessa_pagamento', notes: 'Paga dia 10', by_ana: true }]);
      await b.shot('disposition saved');

      // Hanging up ended the customer's leg, not her shift leg: Disponível again and she
      // waits for the next customer on the same leg.
      await page.click('#go-available');
      await page.waitForFunction(`document.getElementById('phone-state').textContent === 'Conectado — aguardando clientes'`, undefined, { timeout: 10000 });
      expect(await sql(`select status, shift_call_sid, current_call_sid from agents where client_identity = 'ana'`)).toEqual([
        { status: 'available', shift_call_sid: shift, current_call_sid: null },
      ]);
      await b.shot('available for the next call');
    } finally {
      if (call.proc.exitCode === null) call.proc.kill('SIGTERM');
    }
  } catch (e) {
    await b.shot('failure').catch(() => undefined);
    throw e;
  } finally {
    await b.close();
  }
});

it('Ctrl-C stops the stack and removes its env file; `npm run call` then says no stack is running', async () => {
  expect(await stopStack()).toBe(true);
  expect(existsSync(stackEnvFile)).toBe(false);
  expect(existsSync(dirname(stackEnvFile))).toBe(false); // the temporary data dir too
  const call = run('npx', ['tsx', 'stack/call.ts', ANA.did], { env: shellEnv({ DISCADOR_STACK_ENV: stackEnvFile }) });
  expect(await call.exited).toBe(1);
  expect(call.stderr()).toContain(`DISCADOR_STACK_ENV names ${stackEnvFile}, which does not exist`);
});
