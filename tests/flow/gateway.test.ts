/**
 * The local gateway cannot be bypassed or killed: the signature front in front of twilio-run
 * (paths as twilio-run routes them, Host, body size, Content-Type casing, error pages),
 * twilio-run reachable only through it, the /rest/v1 gateway's failures, and the modes of
 * the files that hold keys. Raw requests go through node:net so no client library
 * normalises them first; after each attack the front must still serve a signed request.
 */
import { cpSync, mkdtempSync, rmSync, statSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import twilio from 'twilio';
import { env, sql } from '../helpers/db';
import { newCallSid, newMobile, signedPost, voiceRequest } from '../helpers/twilio';
import { parseTwiml } from '../helpers/twiml';
import { cmdline, holdRequest, listeners, processTree, rawRequest, rssBytes, startFrontProcess, type FrontProcess } from '../helpers/raw-http';
import { createRestGateway } from '../../stack/rest-api';
import { BODY_BUDGET_BYTES, FRONT_SECRET_HEADER, MAX_BODY_BYTES, MAX_CONNECTIONS, REQUEST_TIMEOUT_MS, startFunctions } from '../../stack/functions';
import { freePort } from '../../stack/ports';
import { LOCAL } from '../../stack/defaults';

jest.setTimeout(60000);

const base = () => env('FUNCTIONS_BASE_URL');
const port = () => Number(new URL(base()).port);
const token = () => env('TWILIO_AUTH_TOKEN');
const params = (over: Record<string, string> = {}) =>
  voiceRequest({ CallSid: newCallSid(), From: newMobile(), To: '+551130009999', ...over }, env('TWILIO_ACCOUNT_SID'));

async function callRows(callSid: string): Promise<number> {
  const [r] = await sql<{ n: string }>('select count(*) as n from calls where call_sid = $1', [callSid]);
  return Number(r!.n);
}
async function optedOut(phone: string): Promise<boolean> {
  return (await sql('select 1 from opt_outs where phone_number = $1', [phone])).length > 0;
}

/** The front still answers a correctly signed request with TwiML (and the function ran). */
async function frontServesSignedRequest(at = base()): Promise<void> {
  const p = params();
  const res = await signedPost(`${at}/voice/inbound`, p, token());
  expect(res.status).toBe(200);
  expect(parseTwiml(await res.text()).children.length).toBeGreaterThan(0);
  expect(await callRows(p['CallSid']!)).toBe(1);
}

const form = (p: Record<string, string>) => new URLSearchParams(p).toString();
const post = (path: string, body: string, headers: Record<string, string> = {}, to = port()) => {
  const h = { Host: `127.0.0.1:${to}`, 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close', ...headers };
  return `POST ${path} HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
};

/** The pid of the process serving the front (the stack), from /proc. */
function stackPid(): number {
  const l = listeners().find((x) => x.port === port() && x.pid !== undefined);
  if (!l?.pid) throw new Error(`no process found listening on ${port()}`);
  return l.pid;
}

describe('paths are judged as twilio-run will route them', () => {
  const variants = [
    '/voice/./opt-out',
    '/voice/x/../opt-out',
    '/voice/x/../inbound',
    '/voice//inbound',
    '//voice/inbound',
    '/voice/opt-out#x',
    '/voice/inbound#',
    '/voice/%6Fpt-out',
    '/voice/opt%2Dout',
    '/voice%2Fopt-out',
    '/VOICE/opt-out',
    '/Voice/Inbound',
    '/voice/inbound/',
    '/voice\\opt-out',
    `http://127.0.0.1:${'PORT'}/voice/opt-out`,
    '/voice/inbound;x',
  ];
  it.each(variants)('an unsigned request to %s is refused with 401 (80625) and changes nothing', async (variant) => {
    const p = params({ Digits: '9' });
    const path = variant.replace('PORT', String(port()));
    const reply = await rawRequest(port(), post(path, form(p)), { body: form(p) });
    expect(reply.status).toBe(401);
    expect(JSON.parse(reply.body)).toMatchObject({ code: 80625 });
    expect(await callRows(p['CallSid']!)).toBe(0);
    expect(await optedOut(p['From']!)).toBe(false);
    await frontServesSignedRequest();
  });

  it('a non-canonical path that names no function is 404, not forwarded', async () => {
    const reply = await rawRequest(port(), post('/x/../disclaimer.mp3', ''), {});
    expect(reply.status).toBe(404);
  });
});

describe('twilio-run is reachable only through the front', () => {
  it('every socket the stack listens on is loopback, twilio-run on 127.0.0.1', () => {
    const tree = processTree(stackPid());
    const mine = listeners().filter((l) => l.pid !== undefined && tree.has(l.pid));
    expect(mine.length).toBeGreaterThanOrEqual(5);
    for (const l of mine) expect(['127.0.0.1', '::1']).toContain(l.address);
    const twilioRun = mine.filter((l) => /twilio-run/.test(cmdline(l.pid!)));
    expect(twilioRun).toHaveLength(1);
    expect(twilioRun[0]!.address).toBe('127.0.0.1');
    expect(twilioRun[0]!.port).not.toBe(port());
  });

  /** twilio-run's port, from /proc (the stack's process tree). */
  function twilioRunPort(): number {
    const tree = processTree(stackPid());
    const l = listeners().find((x) => x.pid !== undefined && tree.has(x.pid) && /twilio-run/.test(cmdline(x.pid)));
    if (!l) throw new Error('twilio-run is not listening');
    return l.port;
  }

  it.each([
    ['unsigned', () => ({})],
    ['with a valid Twilio signature', (p: Record<string, string>, url: string) => ({ 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(token(), url, p) })],
    ['with a guessed front secret', () => ({ [FRONT_SECRET_HEADER]: 'f'.repeat(64) })],
  ])('a request straight to twilio-run (%s) gets 403 with no body, and no function runs', async (_what, headers) => {
    const direct = twilioRunPort();
    for (const path of ['/voice/inbound', '/voice/opt-out', '/disclaimer.mp3']) {
      const p = params({ Digits: '9' });
      const reply = await rawRequest(direct, post(path, form(p), headers(p, `http://127.0.0.1:${direct}${path}`), direct), { body: form(p) });
      expect(reply.status).toBe(403);
      expect(reply.body).toBe('');
      expect(await callRows(p['CallSid']!)).toBe(0);
      expect(await optedOut(p['From']!)).toBe(false);
    }
    // Through the front the same function is served, and the asset too.
    await frontServesSignedRequest();
    expect((await fetch(`${base()}/disclaimer.mp3`)).status).toBe(200);
  });
});

describe('malformed requests cannot crash, bypass or grow the front', () => {
  it.each([
    ['an IPv6 bracket left open', '['],
    ['a space in the name', 'a b'],
    ['a URL as host', 'http://evil/'],
    ['a port out of range', '127.0.0.1:99999999'],
    ['a user part', 'user@127.0.0.1'],
    ['an empty value', ''],
  ])('a Host header with %s gets 400, even with a signature header', async (_what, host) => {
    const p = params();
    const reply = await rawRequest(port(), post('/voice/inbound', form(p), { Host: host, 'X-Twilio-Signature': 'x' }), { body: form(p) });
    expect(reply.status).toBe(400);
    expect(await callRows(p['CallSid']!)).toBe(0);
    await frontServesSignedRequest();
  });

  it('a request with no Host header at all is refused', async () => {
    const reply = await rawRequest(port(), 'POST /voice/inbound HTTP/1.1\r\nContent-Length: 0\r\nX-Twilio-Signature: x\r\n\r\n');
    expect(reply.status).toBe(400);
    await frontServesSignedRequest();
  });

  it(`a body declared over ${MAX_BODY_BYTES} bytes gets 413 (20413) before any of it is read`, async () => {
    const reply = await rawRequest(port(), post('/voice/inbound', '', { 'Content-Length': String(400 * 1024 * 1024) }), {
      stream: { total: 400 * 1024 * 1024, chunk: 1024 * 1024, chunked: false },
    });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toMatchObject({ code: 20413 });
    expect(reply.sent).toBeLessThan(64 * 1024 * 1024);
    await frontServesSignedRequest();
  });

  it('a chunked body of hundreds of MB is counted as it streams: 413 past the limit, reading stops, memory stays flat', async () => {
    const pid = stackPid();
    const before = rssBytes(pid);
    const head = post('/voice/inbound', '', { 'Transfer-Encoding': 'chunked' }).replace(/Content-Length: 0\r\n/, '');
    const reply = await rawRequest(port(), head, { stream: { total: 300 * 1024 * 1024, chunk: 1024 * 1024, chunked: true }, timeoutMs: 20000 });
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toMatchObject({ code: 20413 });
    // The front stopped reading soon after the limit: the client could not push the rest.
    expect(reply.sent).toBeLessThan(64 * 1024 * 1024);
    expect(rssBytes(pid) - before).toBeLessThan(48 * 1024 * 1024);
    await frontServesSignedRequest();
  });

  it('a body just under the limit on a public path is read and forwarded', async () => {
    const body = 'a'.repeat(MAX_BODY_BYTES - 10);
    const reply = await rawRequest(port(), post('/disclaimer.mp3', body), { body, timeoutMs: 20000 });
    expect(reply.status).toBe(200);
  });

  it('a Content-Type in another casing is parsed as the function will parse it: the signature covers its parameters', async () => {
    const url = `${base()}/voice/inbound`;
    const p = params();
    const upper = 'APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8';
    // A signature over the URL alone (no parameters) must not carry a body of parameters in.
    const urlOnly = twilio.getExpectedTwilioSignature(token(), url, {});
    const forged = await fetch(url, { method: 'POST', headers: { 'content-type': upper, 'x-twilio-signature': urlOnly }, body: form(p) });
    expect(forged.status).toBe(401);
    expect(await callRows(p['CallSid']!)).toBe(0);
    // Signed over the parameters, the same casing is accepted and the function sees them.
    const good = await fetch(url, { method: 'POST', headers: { 'content-type': upper, 'x-twilio-signature': twilio.getExpectedTwilioSignature(token(), url, p) }, body: form(p) });
    expect(good.status).toBe(200);
    expect(await callRows(p['CallSid']!)).toBe(1);
    await frontServesSignedRequest();
  });

  it('a form in a charset the function would refuse is refused here with 415, before anything runs', async () => {
    const p = params();
    const url = `${base()}/voice/inbound`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=ISO-8859-1', 'x-twilio-signature': twilio.getExpectedTwilioSignature(token(), url, p) },
      body: form(p),
    });
    expect(res.status).toBe(415);
    expect(await callRows(p['CallSid']!)).toBe(0);
  });

  it('a compressed body (which the function would inflate into other parameters) is refused with 415', async () => {
    const p = params();
    const url = `${base()}/voice/inbound`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip', 'x-twilio-signature': twilio.getExpectedTwilioSignature(token(), url, p) },
      body: form(p),
    });
    expect(res.status).toBe(415);
    expect(await callRows(p['CallSid']!)).toBe(0);
  });

  it('a GET with a body is refused with 403, as Twilio Functions do', async () => {
    const p = params();
    const url = `${base()}/voice/inbound?${form(p)}`;
    const head = `GET /voice/inbound?${form(p)} HTTP/1.1\r\nHost: 127.0.0.1:${port()}\r\nX-Twilio-Signature: ${twilio.getExpectedTwilioSignature(token(), url, {})}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5\r\nConnection: close\r\n\r\n`;
    const reply = await rawRequest(port(), head, { body: 'a=b&c' });
    expect(reply.status).toBe(403);
    expect(await callRows(p['CallSid']!)).toBe(0);
    // The same GET without a body is served: its query is signed as part of the URL.
    const ok = await fetch(url, { headers: { 'x-twilio-signature': twilio.getExpectedTwilioSignature(token(), url, {}) } });
    expect(ok.status).toBe(200);
    expect(await callRows(p['CallSid']!)).toBe(1);
  });

  it('a client that hangs up mid-body does not take the front down', async () => {
    const head = post('/voice/inbound', '', { 'Content-Length': String(5 * 1024 * 1024) });
    await rawRequest(port(), head, { stream: { total: 1024 * 1024, chunk: 64 * 1024, chunked: false }, timeoutMs: 300 });
    await frontServesSignedRequest();
  });
});

describe('error pages show no stack traces, paths or database messages', () => {
  const leaks = /\bat [\w.<>]+ \(|node_modules|\/work\/|SyntaxError|ECONNREFUSED|127\.0\.0\.1|postgres/i;

  it('the front: a malformed request gets a plain status', async () => {
    const reply = await rawRequest(port(), post('/voice/inbound', '', { Host: '[' }));
    expect(reply.status).toBe(400);
    expect(reply.body).not.toMatch(leaks);
    expect(JSON.parse(reply.body)).toEqual({ message: 'Bad Request' });
  });

  it("twilio-run's error page (its body parser failing on bad JSON) does not reach the client", async () => {
    const res = await fetch(`${base()}/disclaimer.mp3`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(res.status).toBe(400);
    const text = await res.text();
    expect(text).not.toMatch(leaks);
    expect(JSON.parse(text)).toEqual({ message: 'Bad Request' });
    await frontServesSignedRequest();
  });

  it('the /rest/v1 gateway: PostgREST unreachable gives a plain 502, without the address or the error', async () => {
    const deadPort = await freePort();
    const gateway = createRestGateway({ upstreamPort: deadPort, keys: [LOCAL.serviceRoleKey] });
    await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', r));
    const gwPort = (gateway.address() as { port: number }).port;
    try {
      const res = await fetch(`http://127.0.0.1:${gwPort}/rest/v1/rpc/opt_out_add`, { method: 'POST', headers: { apikey: LOCAL.serviceRoleKey, 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(502);
      const text = await res.text();
      expect(text).not.toMatch(leaks);
      expect(text).not.toContain(String(deadPort));
      expect(JSON.parse(text)).toEqual({ message: 'Bad Gateway' });
    } finally {
      await new Promise<void>((r) => gateway.close(() => r()));
    }
  });

  it('the /rest/v1 gateway forwards only /rest/v1 paths, and only to PostgREST', async () => {
    const rest = new URL(env('SUPABASE_URL'));
    // `/rest/v1@host/…` once became a request to another host.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: rest.hostname, port: rest.port, path: '/rest/v1@127.0.0.2/x', headers: { apikey: env('SUPABASE_SERVICE_ROLE_KEY') } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(404);
    const key = env('SUPABASE_SERVICE_ROLE_KEY');
    const ok = await fetch(`${env('SUPABASE_URL')}/rest/v1/agents?select=id&limit=1`, { headers: { apikey: key, authorization: `Bearer ${key}` } });
    expect(ok.status).toBe(200);
  });
});

describe('files that hold keys are readable by their owner only', () => {
  const stackEnv = () => env('DISCADOR_STACK_ENV');
  const mode = (p: string) => statSync(p).mode & 0o777;

  it('the env files the stack writes are 0600, the data dir only traversable by others', () => {
    const dataDir = dirname(stackEnv());
    expect(mode(stackEnv())).toBe(0o600);
    expect(mode(join(dataDir, 'functions.env'))).toBe(0o600);
    expect(readFileSync(join(dataDir, 'functions.env'), 'utf8')).toContain('AUTH_TOKEN=');
    expect(mode(dataDir)).toBe(0o711);
    expect(mode(join(dataDir, 'postgres'))).toBe(0o700);
    expect(mode(join(dataDir, 's3'))).toBe(0o700);
  });

  it('nothing under the data dir can be read by another user', () => {
    // The data dir itself is 0711: others reach an entry only by name, so each entry must be
    // closed to them (a closed directory hides what is below it).
    const dataDir = dirname(stackEnv());
    const exposed = readdirSync(dataDir)
      .map((name) => join(dataDir, name))
      .filter((p) => (statSync(p).mode & 0o077) !== 0)
      .map((p) => `${p} ${mode(p).toString(8)}`);
    expect(exposed).toEqual([]);
  });
});

describe("twilio-run's port answered by another process", () => {
  it('the front refuses to start at once instead of forwarding calls to a stranger', async () => {
    // Another local service (here one answering 404 to everything, as PostgREST's gateway
    // does) already listens where twilio-run was told to: twilio-run cannot bind and does not
    // exit, and a front that took any answer for "ready" would forward every call there.
    const taken = await freePort();
    const stranger = createServer((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"no route matched"}'));
    await new Promise<void>((r) => stranger.listen(taken, '127.0.0.1', r));
    const dir = mkdtempSync(join(tmpdir(), 'discador-front-'));
    try {
      const t = Date.now();
      await expect(
        startFunctions({ port: await freePort(), twilioRunPort: taken, env: { ACCOUNT_SID: env('TWILIO_ACCOUNT_SID'), AUTH_TOKEN: token() }, envFile: join(dir, 'functions.env'), authToken: token() }),
      ).rejects.toThrow(`127.0.0.1:${taken} is served by another process (status 404)`);
      expect(Date.now() - t).toBeLessThan(20000); // not the 60 s readiness timeout
    } finally {
      await new Promise<void>((r) => stranger.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a front of its own: dist/ rebuilt under it, and many large bodies at once', () => {
  let front: FrontProcess;
  let dist: string;

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), 'discador-front-'));
    cpSync(join(__dirname, '..', '..', 'dist'), join(dist, 'dist'), { recursive: true });
    // The built functions require the packages the runtime provides (twilio) from node_modules.
    symlinkSync(join(__dirname, '..', '..', 'node_modules'), join(dist, 'node_modules'));
    const frontPort = await freePort();
    front = await startFrontProcess({
      port: frontPort,
      twilioRunPort: await freePort(),
      distDir: join(dist, 'dist'),
      live: true, // as under `npm start`: the front reads dist/ again on every request
      authToken: token(),
      envFile: join(dist, 'functions.env'),
      env: {
        ACCOUNT_SID: env('TWILIO_ACCOUNT_SID'),
        AUTH_TOKEN: token(),
        SUPABASE_URL: env('SUPABASE_URL'),
        SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY'),
        PUBLIC_BASE_URL: `http://127.0.0.1:${frontPort}`,
        TWILIO_API_BASE_URL: env('TWILIO_API_BASE_URL'),
        FALLBACK_NUMBER: '+5511955550000',
      },
    });
  }, 90000);
  afterAll(async () => {
    await front?.stop();
    if (dist) rmSync(dist, { recursive: true, force: true });
  });

  const holders = Math.ceil((4 * BODY_BUDGET_BYTES) / MAX_BODY_BYTES); // 4 × what the budget holds
  it(`${holders} near-limit bodies held open at once: memory bounded by the body budget, the rest 503, slow clients dropped after ${REQUEST_TIMEOUT_MS / 1000} s`, async () => {
    const n = holders;
    const before = rssBytes(front.pid);
    const head = post('/voice/inbound', '', { 'Content-Length': String(MAX_BODY_BYTES) }, front.port);
    const held = Array.from({ length: n }, () => holdRequest(front.port, head, MAX_BODY_BYTES - 1));
    try {
      await Promise.all(held.map((h) => h.sent));
      await new Promise((r) => setTimeout(r, 500));
      // Without the budget the front would hold n × 6 MB (4 × the budget); with it, the budget
      // plus allocation overhead (socket reads land in larger buffers) and what refused
      // clients pushed before they were stopped (garbage not yet collected).
      const grown = rssBytes(front.pid) - before;
      console.log(`front under ${n} near-limit bodies held open: RSS +${Math.round(grown / 2 ** 20)} MB (budget ${BODY_BUDGET_BYTES / 2 ** 20} MB, bound ${(BODY_BUDGET_BYTES * 2) / 2 ** 20} MB)`);
      expect(grown).toBeLessThan(BODY_BUDGET_BYTES * 2);
    } catch (e) {
      held.forEach((h) => h.close());
      throw e;
    }
    const ends = await Promise.all(held.map((h) => h.ended));
    const busy = ends.filter((e) => e.status === 503);
    expect(busy.length).toBeGreaterThanOrEqual(n - Math.floor(BODY_BUDGET_BYTES / (MAX_BODY_BYTES - 1)));
    for (const b of busy) expect(b.head).toMatch(/\r\nretry-after: \d+\r\n/i);
    // Those that fit in the budget were never finished by their client: the front drops them (408).
    const slow = ends.filter((e) => e.status !== 503);
    expect(slow.length).toBeGreaterThan(0);
    for (const e of slow) {
      expect(e.status).toBe(408);
      expect(e.afterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 5000);
    }
    await frontServesSignedRequest(front.url);
  }, REQUEST_TIMEOUT_MS + 30000);

  it('while dist/ is deleted and written again, no unsigned request is forwarded (every one 401) and no row is written', async () => {
    const functions = join(dist, 'dist', 'functions');
    const copy = join(dist, 'functions-copy');
    cpSync(functions, copy, { recursive: true });
    let rebuilding = true;
    const rebuilds = (async () => {
      for (let i = 0; i < 40; i++) {
        rmSync(functions, { recursive: true, force: true });
        await new Promise((r) => setTimeout(r, 40));
        cpSync(copy, functions, { recursive: true });
        await new Promise((r) => setTimeout(r, 40));
      }
      rebuilding = false;
    })();
    const statuses = new Map<number, number>();
    const sids: string[] = [];
    const sender = async () => {
      while (rebuilding) {
        const p = params({ Digits: '9' });
        sids.push(p['CallSid']!);
        const path = sids.length % 2 ? '/voice/inbound' : '/voice/opt-out';
        const res = await fetch(`${front.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form(p) });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all([rebuilds, sender(), sender(), sender(), sender()]);
    expect(sids.length).toBeGreaterThan(100);
    expect(Object.fromEntries(statuses)).toEqual({ 401: sids.length });
    const [r] = await sql<{ n: string }>('select count(*) as n from calls where call_sid = any($1)', [sids]);
    expect(Number(r!.n)).toBe(0);
    // dist/ is whole again: once twilio-run has reloaded it, a signed request is served.
    for (let i = 0; ; i++) {
      try {
        await frontServesSignedRequest(front.url);
        break;
      } catch (e) {
        if (i === 20) throw e;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }, 60000);

  it(`no more than ${MAX_CONNECTIONS} connections are kept open; the front serves again once they go`, async () => {
    const extra = 8;
    const sockets = await Promise.all(
      Array.from({ length: MAX_CONNECTIONS + extra }, () => new Promise<Socket>((resolve) => {
        const s = connect(front.port, '127.0.0.1', () => resolve(s));
        s.on('error', () => undefined);
      })),
    );
    try {
      await new Promise((r) => setTimeout(r, 1000));
      // The front may also hold a few keep-alive connections of the tests before this one.
      const open = sockets.filter((s) => !s.destroyed && !s.readableEnded).length;
      expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS);
      expect(sockets.length - open).toBeGreaterThanOrEqual(extra);
    } finally {
      sockets.forEach((s) => s.destroy());
    }
    await new Promise((r) => setTimeout(r, 300));
    await frontServesSignedRequest(front.url);
  });

  it('a path the front has never seen in dist/ is 404 and not forwarded', async () => {
    const reply = await rawRequest(front.port, post('/voice/not-a-function', 'a=b', {}, front.port), { body: 'a=b' });
    expect(reply.status).toBe(404);
    expect(JSON.parse(reply.body)).toEqual({ message: 'Not Found' });
  });
});
