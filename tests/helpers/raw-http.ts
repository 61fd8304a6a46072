import { connect } from 'node:net';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

const root = join(__dirname, '..', '..');

/** What came back on a raw connection: the status line's code (0 if none), headers and body text, and how many body bytes were sent. */
export interface RawReply {
  status: number;
  head: string;
  body: string;
  sent: number;
}

/**
 * Sends bytes exactly as given on a fresh TCP connection (no client library normalises the
 * request line or headers), then optionally streams `stream.total` body bytes in
 * `stream.chunk`-byte pieces (chunked encoding when `stream.chunked`), stopping as soon as
 * an answer arrives or the connection closes. Bounded by `timeoutMs`.
 */
export function rawRequest(
  port: number,
  head: string,
  opts: { body?: string; stream?: { total: number; chunk: number; chunked: boolean }; timeoutMs?: number } = {},
): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let sent = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(got).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 0, head: split === -1 ? text : text.slice(0, split), body: split === -1 ? '' : text.slice(split + 4), sent });
    };
    const timer = setTimeout(finish, opts.timeoutMs ?? 10000);
    socket.on('data', (d: Buffer) => {
      got.push(d);
      const text = Buffer.concat(got).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const len = /\r\ncontent-length: *(\d+)/i.exec(text);
      if (split !== -1 && len && Buffer.byteLength(text.slice(split + 4), 'latin1') >= Number(len[1])) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('connect', async () => {
      socket.write(head);
      if (opts.body) socket.write(opts.body);
      const s = opts.stream;
      if (!s) return;
      const piece = Buffer.alloc(s.chunk, 'a');
      while (!done && sent < s.total) {
        const frame = s.chunked ? Buffer.concat([Buffer.from(piece.length.toString(16) + '\r\n'), piece, Buffer.from('\r\n')]) : piece;
        sent += piece.length;
        if (!socket.write(frame)) {
          await new Promise<void>((r) => {
            const t = setTimeout(r, 2000);
            socket.once('drain', () => (clearTimeout(t), r()));
            socket.once('close', () => (clearTimeout(t), r()));
          });
        }
      }
      if (!done && s.chunked) socket.write('0\r\n\r\n');
    });
  });
}

/** One listening TCP socket on this machine: its address, port and the pid holding it. */
export interface Listener {
  address: string;
  port: number;
  inode: string;
  pid?: number;
}

/** Every listening TCP socket (IPv4 and IPv6) from /proc, with the pid that holds it where readable. */
export function listeners(): Listener[] {
  const out: Listener[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      const [hexAddr, hexPort] = f[1]!.split(':') as [string, string];
      out.push({ address: decodeAddress(hexAddr), port: parseInt(hexPort, 16), inode: f[9]! });
    }
  }
  const byInode = new Map(out.map((l) => [l.inode, l]));
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        const l = m ? byInode.get(m[1]!) : undefined;
        if (l && l.pid === undefined) l.pid = Number(pid);
      } catch {
        /* the process or fd went away */
      }
    }
  }
  return out;
}

function decodeAddress(hex: string): string {
  if (hex.length === 8) return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
  // IPv6: four 32-bit words, each little-endian; written out in full, then the usual names.
  const words = [0, 1, 2, 3].map((w) => hex.slice(w * 8, w * 8 + 8).match(/../g)!.reverse().join(''));
  const groups = words.join('').match(/..../g)!.map((g) => parseInt(g, 16).toString(16));
  const full = groups.join(':');
  if (full === '0:0:0:0:0:0:0:0') return '::';
  if (full === '0:0:0:0:0:0:0:1') return '::1';
  if (full.startsWith('0:0:0:0:0:ffff:')) return decodeAddress(hex.slice(24, 32));
  return full;
}

/** The pid and every descendant of it (from /proc/<pid>/stat). */
export function processTree(root: number): Set<number> {
  const parent = new Map<number, number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(pid), ppid);
    } catch {
      /* gone */
    }
  }
  const tree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) if (tree.has(ppid) && !tree.has(pid)) (tree.add(pid), (grew = true));
  }
  return tree;
}

/** Resident memory of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** A process's command line, space-separated. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** A connection that sent its request head and some body bytes, and is held open. */
export interface HeldRequest {
  /** Resolves when the bytes are all written, or the front answered or closed first. */
  sent: Promise<void>;
  /** Resolves with the status the front answered (0 when it closed without one) once the connection ends. */
  ended: Promise<{ status: number; head: string; afterMs: number }>;
  close(): void;
}

/**
 * Sends `head`, then `bytes` body bytes in 1 MB pieces, and keeps the connection open
 * (the body unfinished when the head declares more) until the server ends it or close().
 */
export function holdRequest(port: number, head: string, bytes: number): HeldRequest {
  const socket = connect(port, '127.0.0.1');
  const started = Date.now();
  const got: Buffer[] = [];
  let closed = false;
  const ended = new Promise<{ status: number; head: string; afterMs: number }>((resolve) => {
    const done = () => {
      closed = true;
      const text = Buffer.concat(got).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : 0, head: text.split('\r\n\r\n')[0] ?? '', afterMs: Date.now() - started });
    };
    socket.on('close', done);
    socket.on('error', () => socket.destroy());
  });
  socket.on('data', (d: Buffer) => got.push(d));
  const sent = new Promise<void>((resolve) => {
    socket.on('close', () => resolve());
    socket.on('connect', async () => {
      socket.write(head);
      const piece = Buffer.alloc(1024 * 1024, 'a');
      let left = bytes;
      while (!closed && got.length === 0 && left > 0) {
        const n = Math.min(left, piece.length);
        left -= n;
        if (!socket.write(n === piece.length ? piece : piece.subarray(0, n))) {
          await new Promise<void>((r) => {
            const t = setTimeout(r, 2000);
            socket.once('drain', () => (clearTimeout(t), r()));
            socket.once('close', () => (clearTimeout(t), r()));
          });
        }
      }
      resolve();
    });
  });
  return { sent, ended, close: () => socket.destroy() };
}

/** A signature front and its twilio-run, alone in a child process (no Postgres or emulator of its own). */
export interface FrontProcess {
  url: string;
  port: number;
  /** The process running the front (its RSS is the front's memory; tsx runs it under a parent of its own). */
  pid: number;
  upstream: { host: string; port: number; pid: number | undefined };
  stop(): Promise<void>;
}

/**
 * Starts stack/functions.ts's front and twilio-run in a child process (tsx), serving `distDir`
 * on `port`, with the functions' environment `env`. Stops when stop() closes its stdin.
 */
export function startFrontProcess(opts: { port: number; twilioRunPort: number; distDir: string; live: boolean; authToken: string; env: Record<string, string>; envFile: string }): Promise<FrontProcess> {
  const code = `
    const { startFunctions } = require(${JSON.stringify(join(root, 'stack', 'functions.ts'))});
    const opts = JSON.parse(process.env.FRONT_OPTIONS);
    startFunctions(opts).then((f) => {
      console.log(JSON.stringify({ ready: true, pid: process.pid, url: f.url, upstream: f.upstream }));
      process.stdin.on('end', () => f.stop().then(() => process.exit(0)));
      process.stdin.resume();
    }, (e) => { console.error(String(e)); process.exit(1); });`;
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), '-e', code], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, FRONT_OPTIONS: JSON.stringify(opts) },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`front did not start in 60 s\n${stderr}`)), 60000);
    child.once('exit', (c) => reject(new Error(`front exited with ${c}\n${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: { ready?: boolean; pid: number; url: string; upstream: FrontProcess['upstream'] };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (!msg.ready) return;
      clearTimeout(timer);
      resolve({
        url: msg.url,
        port: opts.port,
        pid: msg.pid,
        upstream: msg.upstream,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.stdin!.end();
            setTimeout(() => child.kill('SIGKILL'), 10000).unref();
          }),
      });
    });
  });
}
