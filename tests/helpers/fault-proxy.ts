/**
 * An HTTP proxy in front of a real server (s3rver) that injects faults on the way in: down
 * (connections reset), a body cut after N bytes (the connection dies mid-upload), or one byte
 * of a request body flipped (the server stores corrupted bytes and answers 200). Counts the
 * requests it saw by method.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Fault =
  | { kind: 'pass' }
  | { kind: 'down' }
  /** The next `times` requests of `method` with a body are cut after `bytes` body bytes. */
  | { kind: 'cut'; method: string; bytes: number; times: number }
  /** The next `times` requests of `method` have body byte `at` flipped. */
  | { kind: 'flip'; method: string; at: number; times: number };

export interface FaultProxy {
  url: string;
  fault: Fault;
  /** Requests seen: method and path. */
  seen: { method: string; path: string }[];
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const t = new URL(target);
  const sockets = new Set<Socket>();
  const proxy: FaultProxy = { url: '', fault: { kind: 'pass' }, seen: [], stop: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    proxy.seen.push({ method: req.method ?? 'GET', path: req.url ?? '/' });
    const f = proxy.fault;
    if (f.kind === 'down') {
      req.socket.destroy();
      return;
    }
    let cutAt: number | undefined;
    let flipAt: number | undefined;
    if ((f.kind === 'cut' || f.kind === 'flip') && f.times > 0 && req.method === f.method && Number(req.headers['content-length'] ?? 0) > 0) {
      f.times--;
      if (f.kind === 'cut') cutAt = f.bytes;
      else flipAt = f.at;
    }
    const up = request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    let seen = 0;
    req.on('data', (chunk: Buffer) => {
      if (cutAt !== undefined && seen + chunk.length >= cutAt) {
        up.write(chunk.subarray(0, Math.max(0, cutAt - seen)));
        up.destroy();
        req.socket.destroy();
        return;
      }
      if (flipAt !== undefined && flipAt >= seen && flipAt < seen + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[flipAt - seen] = chunk[flipAt - seen]! ^ 0xff;
      }
      seen += chunk.length;
      up.write(chunk);
    });
    req.on('end', () => up.end());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.stop = () =>
    new Promise<void>((ok) => {
      for (const s of sockets) s.destroy();
      server.close(() => ok());
    });
  return proxy;
}
