import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request, STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import querystring from 'node:querystring';
import { join, relative } from 'node:path';
import twilio from 'twilio';
import { killOnExit, stopChild } from './rest-api';
import { waitFor } from './ports';

const root = join(__dirname, '..');

/** How a built function or asset may be reached, from its file name. */
export type Visibility = 'public' | 'protected' | 'private';

/** Visibility from a file name, as the Serverless toolkit reads it (`.protected.`/`.private.` before the extension). */
function visibilityOf(name: string): Visibility {
  return name.includes('.protected.') ? 'protected' : name.includes('.private.') ? 'private' : 'public';
}

/** Every file under dir, as paths relative to it with forward slashes. Throws when the tree changes under it. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path).replace(/\\/g, '/'));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** Maps each URL path of dist/functions to its visibility (`voice/inbound.protected.js` → `/voice/inbound`). */
export function functionRoutes(functionsDir: string): Map<string, Visibility> {
  const routes = new Map<string, Visibility>();
  for (const rel of filesUnder(functionsDir)) {
    if (rel.endsWith('.js')) routes.set('/' + rel.replace(/(\.protected|\.private)?\.js$/, ''), visibilityOf(rel));
  }
  return routes;
}

/** Maps each URL path of dist/assets to its visibility (`a/b.protected.mp3` → `/a/b.mp3`), as twilio-run serves them. */
export function assetRoutes(assetsDir: string): Map<string, Visibility> {
  const routes = new Map<string, Visibility>();
  for (const rel of filesUnder(assetsDir)) routes.set('/' + rel.replace(/\.(protected|private)(\.[^./]*)$/, '$2').replace(/\s/g, '-'), visibilityOf(rel));
  return routes;
}

/** The functions and assets of a dist/ directory, by URL path. Throws when dist/ changes while it is read. */
export function distRoutes(distDir: string): Map<string, Visibility> {
  return new Map([...assetRoutes(join(distDir, 'assets')), ...functionRoutes(join(distDir, 'functions'))]);
}

/**
 * The routes the front acts on after a new scan of dist/: the scan, except that a path once
 * seen protected or private keeps that visibility when the scan no longer shows it (dist/ is
 * being rebuilt) or shows it public, for the life of the front. A path the front does not
 * know is never forwarded, so a rebuild can only make paths unreachable, never open.
 */
export function mergeRoutes(known: ReadonlyMap<string, Visibility>, scanned: ReadonlyMap<string, Visibility>): Map<string, Visibility> {
  const out = new Map(scanned);
  for (const [path, v] of known) if (v !== 'public' && (out.get(path) ?? 'public') === 'public') out.set(path, v);
  return out;
}

/**
 * Largest request body the front accepts: 6 MB, the limit Twilio's own Functions runtime
 * applies to request bodies (@twilio/runtime-handler's dev server, `DEFAULT_BODY_SIZE_LAMBDA`,
 * mirroring the AWS Lambda payload limit the hosted runtime runs under). Larger bodies get
 * 413 with Twilio's error 20413 "Request Entity Too Large" (twilio.com/docs/api/errors/20413).
 */
export const MAX_BODY_BYTES = 6 * 1024 * 1024;

/**
 * Most request-body bytes the front holds at once, across all requests (bodies are buffered
 * until their signature is checked). 64 MB: ten bodies at the 6 MB limit, or thousands of
 * real Twilio webhooks (a few kB each) at once, far beyond what one machine's flows send; the
 * front's memory then stays within about twice that above its idle size whatever clients
 * do. A chunk that would go beyond it gets 503 with Retry-After, as a busy gateway answers.
 */
export const BODY_BUDGET_BYTES = 64 * 1024 * 1024;

/** Seconds a client refused for the budget is told to wait (Retry-After). */
export const RETRY_AFTER_SECONDS = 1;

/**
 * Most open client connections (server.maxConnections; beyond it new ones are closed at once).
 * Each costs a few kB idle and at most a header block of 16 kB; bodies are under the budget.
 */
export const MAX_CONNECTIONS = 512;

/**
 * How long a client has to send its headers, and its whole request: 15 s, the time Twilio
 * waits for a webhook's whole HTTP answer ("Twilio's HTTP timeout is 15 seconds",
 * twilio.com/docs/api/errors/11205). A client that trickles its request slower is dropped (408).
 */
export const REQUEST_TIMEOUT_MS = 15000;

/** The header the front adds to every forwarded request, and its per-start secret (see twilio-run-guard.cjs). */
export const FRONT_SECRET_HEADER = 'x-discador-front';
const FRONT_SECRET_ENV = 'DISCADOR_FRONT_SECRET';
/** Answered by twilio-run-guard.cjs itself with twilio-run's pid (the front's readiness probe). */
const READY_PATH = '/__discador_ready';

/** Most form parameters the functions' body parser accepts (body-parser's parameterLimit); more is 413 there too. */
export const MAX_FORM_PARAMS = 1000;

/**
 * How much a refused client may still send before the front stops reading (TCP then holds the
 * client back), and how long the connection is kept for the client to read the answer.
 */
const LINGER_BYTES = 4 * 1024 * 1024;
/** The same for a client refused because the body budget is spent: reading much more would defeat the budget. */
const BUSY_LINGER_BYTES = 64 * 1024;
const LINGER_MS = 5000;

/**
 * The header that carries the client's address to the functions (their CLIENT_ADDRESS_HEADER):
 * the Functions runtime strips x-forwarded-for and x-real-ip, and a function cannot see the
 * socket. The front removes any value the client sent and writes the socket's address.
 */
export const CLIENT_ADDRESS_HEADER = 'x-discador-client-address';

/** The socket's remote address as the functions see it (IPv4-mapped IPv6 written as IPv4). */
export function clientAddressOf(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
}

/**
 * The /api functions answer every refusal as JSON {error, message} with a stable code; the
 * refusals that happen before a function runs (a body too large, a body that is not JSON,
 * which the runtime's body parser rejects with an HTML page) are answered the same way here.
 */
const API_PREFIX = '/api/';
export function apiRefusal(status: number): string {
  const [error, message] =
    status === 400 ? ['invalid_json', 'the body is not a JSON object']
    : status === 413 ? ['body_too_large', 'the body is too large']
    : status === 415 ? ['bad_request', 'the body encoding is not supported; send UTF-8 JSON']
    : status >= 500 ? ['internal_error', 'something went wrong on our side']
    : ['bad_request', STATUS_CODES[status] ?? 'the request was refused'];
  return JSON.stringify({ error, message });
}

const UNAUTHORIZED = JSON.stringify({ code: 80625, message: 'Unauthorized Request. Signature is missing or is invalid' });
const TOO_LARGE = JSON.stringify({ code: 20413, message: 'Request Entity Too Large' });
const BUSY = JSON.stringify({ message: 'Service Unavailable' });

/** The media type of a Content-Type header, lower-cased as body-parser (type-is) compares it, and its charset. */
export function mediaType(header: string | undefined): { type: string; charset: string | undefined } {
  const [type = '', ...params] = String(header ?? '').split(';');
  let charset: string | undefined;
  for (const p of params) {
    const m = /^\s*charset\s*=\s*"?([^";]*)"?\s*$/i.exec(p);
    if (m) charset = m[1]!.toLowerCase();
  }
  return { type: type.trim().toLowerCase(), charset };
}

/**
 * The parameters the function will see in its event from this body, parsed the way
 * twilio-run's body parser parses them (form: node's querystring, repeated names become
 * arrays; JSON is covered by the bodySHA256 signature instead). `null` when the body parser
 * would refuse the body (non-UTF-8 form charset, too many parameters).
 */
export function bodyParams(headers: IncomingMessage['headers'], body: string): Record<string, string | string[]> | null {
  const { type, charset } = mediaType(headers['content-type']);
  if (type !== 'application/x-www-form-urlencoded') return {};
  if (charset !== undefined && charset !== 'utf-8') return null;
  if (body.split('&').length > MAX_FORM_PARAMS) return null;
  return { ...querystring.parse(body, '&', '=', { maxKeys: MAX_FORM_PARAMS }) } as Record<string, string | string[]>;
}

/** True when the request carries a valid X-Twilio-Signature for `url` over the params the function will see. Never throws. */
export function hasValidSignature(authToken: string, url: string, headers: IncomingMessage['headers'], body: string): boolean {
  const signature = headers['x-twilio-signature'];
  if (typeof signature !== 'string' || signature === '') return false;
  try {
    if (mediaType(headers['content-type']).type === 'application/json') return twilio.validateRequestWithBody(authToken, signature, url, body);
    const params = bodyParams(headers, body);
    return params !== null && twilio.validateRequest(authToken, signature, url, params);
  } catch {
    return false;
  }
}

/** A Host header the front accepts: a DNS name or IPv4 address, or a bracketed IPv6 address, and an optional port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Path segments the front forwards: unreserved characters only (no %-escapes, no empty, `.` or `..` segment). */
const SEGMENT = /^[A-Za-z0-9\-_.~]+$/;

/**
 * Splits a request-target into its path and query when it is in canonical origin form:
 * the path twilio-run (Express, parseurl) will route is then exactly this string, so the
 * front's decision and twilio-run's route agree. Anything else (fragments, absolute form,
 * `.`/`..`/empty segments, %-escapes, backslashes) is `null`: the front never forwards it.
 */
export function canonicalTarget(rawUrl: string): { path: string; query: string } | null {
  if (!rawUrl.startsWith('/') || rawUrl.includes('#') || rawUrl.includes('\\')) return null;
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = q === -1 ? '' : rawUrl.slice(q);
  if (path !== '/') {
    const segments = path.slice(1).split('/');
    if (segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..')) return null;
  }
  return { path, query };
}

/**
 * The function path a non-canonical request-target could be meant to reach, normalised the
 * forgiving way (fragment and authority dropped, %-escapes decoded, backslashes as slashes,
 * dot segments resolved, empty segments removed, lower case). Only used to choose the answer
 * to a refused request (401 for a protected function, as for any unsigned request; else 404).
 */
export function looseFunctionPath(rawUrl: string): string {
  let t = rawUrl.split('#')[0] ?? '';
  t = t.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?]*/, '');
  t = t.split('?')[0] ?? '';
  for (let i = 0; i < 3 && t.includes('%'); i++) {
    try {
      t = decodeURIComponent(t);
    } catch {
      break;
    }
  }
  const out: string[] = [];
  for (const seg of t.replace(/\\/g, '/').split('/')) {
    const s = seg.split(';')[0]!.trim();
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  return ('/' + out.join('/')).toLowerCase();
}

/** The body as UTF-8 JSON whose top level is an object (what the runtime's JSON parser takes and the /api functions read), else null. */
function jsonObject(body: Buffer): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** True when a parameter name would land on event.request (`request`, or qs's `request[...]` / `request.x`). */
function namesRequest(keys: string[]): boolean {
  return keys.some((k) => /^request($|[[.])/.test(k));
}

const SHADOWS_REQUEST = JSON.stringify({ error: 'bad_request', message: 'a parameter named "request" is not accepted' });

/** Headers that belong to one connection and are not forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', FRONT_SECRET_HEADER]);

/** twilio-run serving dist/, behind a front that checks signatures as Twilio's gateway does. */
export interface LocalFunctions {
  url: string;
  /** Where twilio-run itself listens (loopback; it serves only requests carrying the front's secret). */
  upstream: { host: string; port: number; pid: number | undefined };
  /** Request-body bytes the front holds right now (at most BODY_BUDGET_BYTES). */
  bodyBytesInFlight(): number;
  stop(): Promise<void>;
}

/**
 * Starts `twilio-run` on 127.0.0.1:`twilioRunPort` with the given environment, and a front on
 * `port` that is the only way in (twilio-run refuses any request without the secret header the
 * front adds, see twilio-run-guard.cjs). The front:
 *  - forwards only canonical request paths (see canonicalTarget); any other answers 401
 *    (Twilio error 80625) when it could mean a protected function, else 404;
 *  - forwards only paths it knows from dist/ (functions and assets; see mergeRoutes: a
 *    protected path stays protected while dist/ is rebuilt); anything else is 404;
 *  - answers 401 (80625) to a `.protected` function whose X-Twilio-Signature is missing or
 *    wrong for the URL and the parameters the function will see, and 404 to `.private` ones;
 *  - refuses bodies over MAX_BODY_BYTES with 413 (20413), counting as it reads and stopping
 *    there, compressed bodies with 415, a GET with a body with 403 (as Twilio Functions do),
 *    and malformed Host headers with 400;
 *  - holds at most BODY_BUDGET_BYTES of bodies across requests (503 beyond), MAX_CONNECTIONS
 *    connections, and drops a request not received within REQUEST_TIMEOUT_MS;
 *  - replaces HTML error pages from twilio-run (Express prints stack traces) with a plain status.
 */
export async function startFunctions(opts: {
  port: number;
  twilioRunPort: number;
  env: Record<string, string>;
  envFile: string;
  authToken: string;
  live?: boolean;
  /** The built project to serve (default dist/ of the repository). */
  distDir?: string;
  log?: (l: string) => void;
}): Promise<LocalFunctions> {
  const distDir = opts.distDir ?? join(root, 'dist');
  const functionsDir = join(distDir, 'functions');
  if (!existsSync(functionsDir)) throw new Error(`${relative(root, functionsDir)} is missing: run \`npm run build\` first`);
  const secret = randomBytes(32).toString('hex');
  writeFileSync(opts.envFile, Object.entries(opts.env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n', { mode: 0o600 });
  chmodSync(opts.envFile, 0o600); // holds the auth token and the service role key
  const args = [
    '--require', join(__dirname, 'twilio-run-guard.cjs'),
    require.resolve('twilio-run/bin/twilio-run.js'), 'start',
    '--functions-folder', relative(root, functionsDir), '--assets-folder', relative(root, join(distDir, 'assets')),
    '--port', String(opts.twilioRunPort), '--env', opts.envFile,
    // One process: ~2 ms a request instead of ~200 ms. Handlers never throw (src/lib/runtime/handler.ts).
    '--no-fork-process', '--log-level', 'error', '--no-logs',
    opts.live ? '--live' : '--no-live',
  ];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0', [FRONT_SECRET_ENV]: secret } });
  child.stdout?.on('data', (d: Buffer) => opts.log?.(`twilio-run: ${d.toString().trim()}`));
  child.stderr?.on('data', (d: Buffer) => opts.log?.(`twilio-run: ${d.toString().trim()}`));
  killOnExit(child);
  const upstreamHost = '127.0.0.1';
  let foreign = '';
  await waitFor('twilio-run', async () => {
    if (child.exitCode !== null) throw new Error(`twilio-run exited with ${child.exitCode}`);
    // Only this twilio-run answers its own pid. Anything else on the port means twilio-run
    // could not bind it (it does not exit then): give up at once rather than forward to a stranger.
    const r = await fetch(`http://${upstreamHost}:${opts.twilioRunPort}${READY_PATH}`, { headers: { [FRONT_SECRET_HEADER]: secret } });
    const body = await r.text();
    if (r.status !== 200 || body !== String(child.pid)) foreign = `status ${r.status}`;
    return true;
  }, 60000, 200);
  if (foreign) {
    await stopChild(child);
    throw new Error(`127.0.0.1:${opts.twilioRunPort} is served by another process (${foreign}), not by the twilio-run started here`);
  }

  let routes = distRoutes(distDir);
  const lowerRoutes = () => new Map([...routes].map(([path, v]) => [path.toLowerCase(), v]));
  let routesByLowerPath = lowerRoutes();
  /** Reads dist/ again (live mode); a scan that fails while dist/ is rewritten keeps the last good routes. */
  const rescan = () => {
    try {
      routes = mergeRoutes(routes, distRoutes(distDir));
    } catch {
      routes = mergeRoutes(routes, new Map());
    }
    routesByLowerPath = lowerRoutes();
  };

  let bodyBytes = 0;

  const answer = (req: IncomingMessage, res: ServerResponse, status: number, body: string, close = false) => {
    if (close) return refuse(req, res, status, body);
    if (res.headersSent) return void res.destroy();
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  };
  /**
   * Answers a request whose body is not (or no longer) wanted, and closes the connection the
   * way nginx's lingering close does: the answer and a FIN go out, what the client still sends
   * is discarded (up to LINGER_BYTES, then reading stops and TCP holds the client back), and the
   * socket is destroyed after LINGER_MS. Closing at once, or while the client is still pushing,
   * would reset the connection with the answer unread (a reset drops it from the client's
   * receive buffer): the client would see a reset instead of the answer, more often the busier
   * the machine.
   */
  const refuse = (req: IncomingMessage, res: ServerResponse, status: number, body: string, extra = '', lingerBytes = LINGER_BYTES) => {
    const socket = req.socket;
    if (res.headersSent || socket.destroyed || lingering.has(socket)) return void socket.destroy();
    lingering.add(socket);
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}connection: close\r\n\r\n${body}`,
    );
    socket.end();
    let discarded = 0;
    req.removeAllListeners('data');
    req.on('data', (c: Buffer) => {
      discarded += c.length;
      if (discarded > lingerBytes) req.pause();
    });
    req.resume();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
  const lingering = new WeakSet<object>();
  const plain = (status: number) => JSON.stringify({ message: STATUS_CODES[status] ?? 'Error' });

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const host = req.headers.host;
    if (typeof host !== 'string' || !HOST.test(host)) return answer(req, res, 400, plain(400), true);
    const rawUrl = req.url ?? '/';
    const target = canonicalTarget(rawUrl);
    if (opts.live) rescan();
    if (!target) {
      const meant = routesByLowerPath.get(looseFunctionPath(rawUrl));
      return meant === 'protected' ? answer(req, res, 401, UNAUTHORIZED, true) : answer(req, res, 404, plain(404), true);
    }
    // twilio-run routes on the exact path; a path that differs only in case is refused here too.
    const visibility = routes.get(target.path) ?? routesByLowerPath.get(target.path.toLowerCase());
    const exact = routes.has(target.path);
    if (visibility === undefined || visibility === 'private') return answer(req, res, 404, plain(404), true);
    if (visibility === 'public' && !exact) return answer(req, res, 404, plain(404), true);
    if (visibility === 'protected' && !exact) return answer(req, res, 401, UNAUTHORIZED, true);
    const isApi = target.path.startsWith(API_PREFIX);
    const tooLarge = isApi ? apiRefusal(413) : TOO_LARGE;
    // The runtime merges query and body over event.request (headers, cookies): a parameter
    // named `request` would replace what the function reads as the request's headers.
    if (isApi && namesRequest(Object.keys(querystring.parse(target.query.slice(1))))) return answer(req, res, 400, SHADOWS_REQUEST, true);
    const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (encoding !== 'identity') return answer(req, res, 415, plain(415), true);
    const declared = req.headers['content-length'];
    // Twilio Functions answer 403 to a GET that carries a body (Function Request Flow, "Supported requests").
    if ((req.method === 'GET' || req.method === 'HEAD') && ((declared !== undefined && declared !== '0') || req.headers['transfer-encoding'] !== undefined)) {
      return answer(req, res, 403, plain(403), true);
    }
    if (declared !== undefined && !(Number(declared) <= MAX_BODY_BYTES)) return answer(req, res, 413, tooLarge, true);

    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    // What this request holds of the budget, given back when its answer is done or it goes away.
    let held = 0;
    const release = () => {
      bodyBytes -= held;
      held = 0;
    };
    res.on('close', release); // the answer is done, or the connection went away
    req.on('data', (c: Buffer) => {
      if (refused) return;
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        refused = true;
        chunks.length = 0;
        release();
        answer(req, res, 413, tooLarge, true);
        return;
      }
      if (bodyBytes + c.length > BODY_BUDGET_BYTES) {
        refused = true;
        chunks.length = 0;
        release();
        refuse(req, res, 503, BUSY, `retry-after: ${RETRY_AFTER_SECONDS}\r\n`, BUSY_LINGER_BYTES);
        return;
      }
      bodyBytes += c.length;
      held += c.length;
      chunks.push(c);
    });
    req.on('end', () => {
      if (refused) return;
      try {
        const body = Buffer.concat(chunks);
        chunks.length = 0;
        if (visibility === 'protected') {
          const text = body.toString('utf8');
          const { type, charset } = mediaType(req.headers['content-type']);
          if (type === 'application/x-www-form-urlencoded' && charset !== undefined && charset !== 'utf-8') return answer(req, res, 415, plain(415));
          if (bodyParams(req.headers, text) === null) return answer(req, res, 413, TOO_LARGE);
          if (!hasValidSignature(opts.authToken, `http://${host}${rawUrl}`, req.headers, text)) return answer(req, res, 401, UNAUTHORIZED);
        }
        if (isApi && body.length > 0 && mediaType(req.headers['content-type']).type === 'application/json') {
          const parsed = jsonObject(body);
          if (!parsed) return answer(req, res, 400, apiRefusal(400));
          if (namesRequest(Object.keys(parsed))) return answer(req, res, 400, SHADOWS_REQUEST);
        }
        if (isApi && mediaType(req.headers['content-type']).type === 'application/x-www-form-urlencoded' && namesRequest(Object.keys(bodyParams(req.headers, body.toString('utf8')) ?? {}))) {
          return answer(req, res, 400, SHADOWS_REQUEST);
        }
        forward(req, res, rawUrl, body);
      } catch (e) {
        opts.log?.(`front: ${String(e)}`);
        answer(req, res, 500, plain(500));
      }
    });
  };

  const forward = (req: IncomingMessage, res: ServerResponse, path: string, body: Buffer) => {
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    headers['content-length'] = body.length;
    headers[FRONT_SECRET_HEADER] = secret;
    headers[CLIENT_ADDRESS_HEADER] = clientAddressOf(req);
    const up = request({ host: upstreamHost, port: opts.twilioRunPort, method: req.method, path, headers }, (upRes) => {
      const status = upRes.statusCode ?? 502;
      const type = String(upRes.headers['content-type'] ?? '').toLowerCase();
      if (status >= 400 && (type === '' || type.startsWith('text/html'))) {
        // twilio-run's and Express's error pages carry stack traces and file paths.
        upRes.resume();
        return answer(req, res, status, path.startsWith(API_PREFIX) ? apiRefusal(status) : plain(status));
      }
      res.writeHead(status, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', (e) => {
      opts.log?.(`front: twilio-run: ${e.message}`);
      answer(req, res, 502, plain(502), true);
    });
    up.end(body);
  };

  const server: Server = createServer({ headersTimeout: REQUEST_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1000 }, (req, res) => {
    req.on('error', () => undefined); // a client that goes away mid-body
    res.on('error', () => undefined);
    try {
      handle(req, res);
    } catch (e) {
      opts.log?.(`front: ${String(e)}`);
      answer(req, res, 500, plain(500), true);
    }
  });
  server.keepAliveTimeout = REQUEST_TIMEOUT_MS;
  server.maxConnections = MAX_CONNECTIONS;
  await new Promise<void>((r) => server.listen(opts.port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${opts.port}`,
    upstream: { host: upstreamHost, port: opts.twilioRunPort, pid: child.pid },
    bodyBytesInFlight: () => bodyBytes,
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await stopChild(child);
    },
  };
}
