import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Ports handed out for services, below Linux's ephemeral range (32768-60999 by default). A
 * port from listen(0) comes from that range, and between our check and the service's own
 * listen, any outgoing connection on the machine may take it (tests make thousands); ports
 * below it are only ever taken on purpose.
 */
const PORT_RANGE = { from: 20000, to: 32000 };

/**
 * Where ports handed out are reserved, one file per port holding the pid that asked for it.
 * A stack chooses all its ports first and binds them one by one over seconds (Postgres starts
 * before the functions): without a reservation two stacks starting side by side could both be
 * given a port still unbound, and the second to bind would find another stack's service there
 * (Postgres still starts on ::1 alone, a readiness probe is answered by the other service).
 */
const RESERVATIONS = join(tmpdir(), 'discador-ports');
const mine = new Set<number>();
let cleanupInstalled = false;

/** True when `pid` is a live process (ours or anyone's). */
function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reserves `port` for this process; false when a live process holds it already. */
export function reservePort(port: number): boolean {
  mkdirSync(RESERVATIONS, { recursive: true, mode: 0o700 });
  const file = join(RESERVATIONS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      mine.add(port);
      if (!cleanupInstalled) {
        cleanupInstalled = true;
        process.once('exit', () => {
          for (const p of mine) releasePort(p);
        });
      }
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder: string | null = null;
      try {
        holder = readFileSync(file, 'utf8');
      } catch {
        // removed meanwhile: try again
      }
      // A file being written holds no pid yet: taken, not stale.
      if (holder === '' || (holder !== null && alive(Number(holder)))) return false;
      try {
        unlinkSync(file); // left by a process that is gone
      } catch {
        // someone else cleared it first
      }
    }
  }
  return false;
}

/** Gives a port reserved by freePort back (also done for every one of them when the process exits). */
export function releasePort(port: number): void {
  if (!mine.delete(port)) return;
  try {
    if (Number(readFileSync(join(RESERVATIONS, String(port)), 'utf8')) === process.pid) unlinkSync(join(RESERVATIONS, String(port)));
  } catch {
    // already gone
  }
}

/** True when 127.0.0.1:port can be listened on right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A TCP port free on 127.0.0.1 a moment ago and reserved for this process until it exits
 * (or releasePort), so that stacks and tests running side by side never share one.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = PORT_RANGE.from + Math.floor(Math.random() * (PORT_RANGE.to - PORT_RANGE.from));
    if (!reservePort(port)) continue;
    if (await canListen(port)) return port;
    releasePort(port);
  }
  throw new Error(`no free port between ${PORT_RANGE.from} and ${PORT_RANGE.to} on 127.0.0.1`);
}

/** Polls `check` every `everyMs` until it resolves true or `timeoutMs` passes. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}
