/**
 * Ports for stacks and tests running side by side (stack/ports.ts): a port handed to one
 * process is never handed to another while the first lives, even before anyone binds it (a
 * stack chooses all its ports, then starts its services one by one over seconds), and the
 * reservations of a process that is gone are taken over.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, releasePort, reservePort } from '../../stack/ports';

jest.setTimeout(60000);

const root = join(__dirname, '..', '..');
const reservation = (port: number) => join(tmpdir(), 'discador-ports', String(port));

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Runs `count` freePort() calls in a fresh process; returns its pid, the ports it got (none bound) and its exit. */
function portsOfAnotherProcess(
  dir: string,
  name: string,
  count: number,
  hold: string,
): Promise<{ pid: number; ports: number[]; exited: Promise<number | null> }> {
  const script = join(dir, `${name}.ts`);
  writeFileSync(
    script,
    `import { writeFileSync, existsSync, renameSync } from 'node:fs';
import { freePort } from ${JSON.stringify(join(root, 'stack', 'ports'))};
(async () => {
  const ports: number[] = [];
  for (let i = 0; i < ${count}; i++) ports.push(await freePort());
  // Written whole, then renamed into place: the test never reads it half-written.
  writeFileSync(${JSON.stringify(join(dir, `${name}.json.part`))}, JSON.stringify({ pid: process.pid, ports }));
  renameSync(${JSON.stringify(join(dir, `${name}.json.part`))}, ${JSON.stringify(join(dir, `${name}.json`))});
  // Alive, holding its reservations, until told to go.
  while (!existsSync(${JSON.stringify(hold)})) await new Promise((r) => setTimeout(r, 50));
})();
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: 'ignore' });
  children.push(child);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return new Promise((resolve, reject) => {
    const out = join(dir, `${name}.json`);
    const poll = setInterval(() => {
      if (!existsSync(out)) return;
      clearInterval(poll);
      try {
        resolve({ ...(JSON.parse(readFileSync(out, 'utf8')) as { pid: number; ports: number[] }), exited });
      } catch (e) {
        reject(e as Error);
      }
    }, 50);
    child.once('exit', (code) => {
      if (!existsSync(out)) {
        clearInterval(poll);
        reject(new Error(`reserving process exited with ${code}`));
      }
    });
  });
}

it('two processes asking at once for 400 ports each never get the same one, and a process that exits gives its ports back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'discador-ports-test-'));
  const hold = join(dir, 'go');
  try {
    // 400 random picks each over 12,000 ports: about 13 shared ones expected without reservations.
    const [a, b] = await Promise.all([portsOfAnotherProcess(dir, 'a', 400, hold), portsOfAnotherProcess(dir, 'b', 400, hold)]);
    expect(new Set(a.ports).size).toBe(400);
    expect(new Set(b.ports).size).toBe(400);
    expect(a.ports.filter((p) => b.ports.includes(p))).toEqual([]);
    expect(readFileSync(reservation(a.ports[0]!), 'utf8')).toBe(String(a.pid));
    writeFileSync(hold, '');
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0]);
    // Gone, or already reserved anew by another process on the machine (stacks of other suites).
    const holder = (p: number) => {
      try {
        return readFileSync(reservation(p), 'utf8');
      } catch {
        return null;
      }
    };
    expect(a.ports.filter((p) => holder(p) === String(a.pid))).toEqual([]);
    expect(b.ports.filter((p) => holder(p) === String(b.pid))).toEqual([]);
  } finally {
    writeFileSync(hold, '');
    await new Promise((r) => setTimeout(r, 200));
    rmSync(dir, { recursive: true, force: true });
  }
});

it("a reservation left by a process that is gone is taken over; one held by a live process is not", async () => {
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const living = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    const port = await freePort();
    releasePort(port);
    expect(existsSync(reservation(port))).toBe(false);

    writeFileSync(reservation(port), String(living.pid));
    expect(reservePort(port)).toBe(false);
    expect(readFileSync(reservation(port), 'utf8')).toBe(String(living.pid));

    writeFileSync(reservation(port), String(Number(dead.stdout)));
    expect(reservePort(port)).toBe(true);
    expect(readFileSync(reservation(port), 'utf8')).toBe(String(process.pid));
    expect(reservePort(port)).toBe(false); // ours now: not handed out twice, even to us
    releasePort(port);
    expect(existsSync(reservation(port))).toBe(false);
  } finally {
    living.kill();
  }
});
