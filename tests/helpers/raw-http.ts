import { connect } from 'node:net';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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
