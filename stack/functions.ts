import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { join, relative } from 'node:path';
import twilio from 'twilio';
import { killOnExit, stopChild } from './rest-api';
import { waitFor } from './ports';

const root = join(__dirname, '..');

/** How a built function may be reached, from its file name. */
export type Visibility = 'public' | 'protected' | 'private';

/** Maps each URL path of dist/functions to its visibility (`voice/inbound.protected.js` → `/voice/inbound`). */
export function functionRoutes(functionsDir: string): Map<string, Visibility> {
  const routes = new Map<string, Visibility>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.js')) {
        const rel = '/' + relative(functionsDir, path).replace(/\\/g, '/');
        const visibility: Visibility = rel.includes('.protected.') ? 'protected' : rel.includes('.private.') ? 'private' : 'public';
        routes.set(rel.replace(/(\.protected|\.private)?\.js$/, ''), visibility);
      }
    }
  };
  if (existsSync(functionsDir)) walk(functionsDir);
  return routes;
}

/** True when the request carries a valid X-Twilio-Signature for `url` (form or JSON body). */
export function hasValidSignature(authToken: string, url: string, headers: IncomingMessage['headers'], body: string): boolean {
  const signature = headers['x-twilio-signature'];
  if (typeof signature !== 'string' || signature === '') return false;
  const type = String(headers['content-type'] ?? '');
  if (type.includes('application/json')) return twilio.validateRequestWithBody(authToken, signature, url, body);
  const params = type.includes('application/x-www-form-urlencoded') ? Object.fromEntries(new URLSearchParams(body)) : {};
  return twilio.validateRequest(authToken, signature, url, params);
}

/** twilio-run serving dist/, behind a front that checks signatures as Twilio's gateway does. */
export interface LocalFunctions {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts `twilio-run` on `twilioRunPort` with the given environment, and a front on `port`
 * that answers 401 (Twilio error 80625) to a `.protected` function whose X-Twilio-Signature
 * is missing or wrong, 404 to `.private` ones, and forwards everything else.
 */
export async function startFunctions(opts: {
  port: number;
  twilioRunPort: number;
  env: Record<string, string>;
  envFile: string;
  authToken: string;
  live?: boolean;
  log?: (l: string) => void;
}): Promise<LocalFunctions> {
  const functionsDir = join(root, 'dist', 'functions');
  if (!existsSync(functionsDir)) throw new Error('dist/functions is missing: run `npm run build` first');
  writeFileSync(opts.envFile, Object.entries(opts.env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const args = [
    require.resolve('twilio-run/bin/twilio-run.js'), 'start',
    '--functions-folder', 'dist/functions', '--assets-folder', 'dist/assets',
    '--port', String(opts.twilioRunPort), '--env', opts.envFile,
    // One process: ~2 ms a request instead of ~200 ms. Handlers never throw (src/lib/runtime/handler.ts).
    '--no-fork-process', '--log-level', 'error', '--no-logs',
    opts.live ? '--live' : '--no-live',
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  child.stdout?.on('data', (d: Buffer) => opts.log?.(`twilio-run: ${d.toString().trim()}`));
  child.stderr?.on('data', (d: Buffer) => opts.log?.(`twilio-run: ${d.toString().trim()}`));
  killOnExit(child);
  const upstream = `http://127.0.0.1:${opts.twilioRunPort}`;
  await waitFor('twilio-run', async () => {
    if (child.exitCode !== null) throw new Error(`twilio-run exited with ${child.exitCode}`);
    return (await fetch(upstream + '/__discador_ready')).status > 0;
  }, 60000, 200);

  let routes = functionRoutes(functionsDir);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (opts.live) routes = functionRoutes(functionsDir);
      const visibility = routes.get(path);
      if (visibility === 'private') {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not found"}');
        return;
      }
      if (visibility === 'protected') {
        const fullUrl = `http://${req.headers.host ?? `127.0.0.1:${opts.port}`}${req.url ?? '/'}`;
        if (!hasValidSignature(opts.authToken, fullUrl, req.headers, body.toString('utf8'))) {
          res.writeHead(401, { 'content-type': 'application/json' }).end(
            JSON.stringify({ code: 80625, message: 'Unauthorized Request. Signature is missing or is invalid' }),
          );
          return;
        }
      }
      const up = request(upstream + (req.url ?? '/'), { method: req.method, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', (e) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`front: ${e.message}`);
      });
      up.end(body);
    });
  });
  server.keepAliveTimeout = 30000;
  await new Promise<void>((r) => server.listen(opts.port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${opts.port}`,
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await stopChild(child);
    },
  };
}
