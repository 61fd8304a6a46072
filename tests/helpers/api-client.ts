import { randomBytes, randomUUID } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';
import { env, sql } from './db';

/** An /api answer: status, headers, the body as text and parsed (null when not JSON). */
export interface ApiAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface ApiCall {
  method?: 'GET' | 'POST';
  /** Sent as JSON (Content-Type: application/json) unless `raw` is given. */
  body?: unknown;
  raw?: string | Buffer;
  contentType?: string;
  token?: string;
  cookie?: string;
  /** Source address of the connection (any 127.0.0.0/8 address: the front sees it as the client's). */
  from?: string;
  headers?: Record<string, string>;
}

/** Calls an /api function through the local front with real HTTP. */
export function callApi(path: string, opts: ApiCall = {}): Promise<ApiAnswer> {
  const url = new URL(path, env('FUNCTIONS_BASE_URL'));
  const payload = opts.raw !== undefined ? Buffer.from(opts.raw) : opts.body !== undefined ? Buffer.from(JSON.stringify(opts.body)) : null;
  const headers: Record<string, string> = { ...opts.headers };
  if (payload) {
    headers['content-type'] = opts.contentType ?? 'application/json';
    headers['content-length'] = String(payload.length);
  }
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  if (opts.cookie) headers['cookie'] = opts.cookie;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method: opts.method ?? (payload ? 'POST' : 'GET'), headers, localAddress: opts.from },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = null;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    req.end(payload ?? undefined);
  });
}

/** A random loopback source address (127.16-250.x.y): per-address lockout keys of different tests stay apart. */
export function freshAddress(): string {
  const b = randomBytes(3);
  return `127.${16 + (b[0]! % 235)}.${b[1]!}.${1 + (b[2]! % 254)}`;
}

/** A new user created as `npm run agents -- add` does (auth_create_user), with a precomputed hash. */
export async function createUser(role: 'admin' | 'supervisor' | 'agent', hash: string): Promise<{ id: string; email: string; agentId: number | null }> {
  const email = `t-${randomUUID().slice(0, 12)}@example.test`;
  const [row] = await sql<{ r: { user: { id: string; agent_id: number | null } } }>(
    `select auth_create_user($1, $2, $3, $4) as r`,
    [email, `Teste ${role}`, role, hash],
  );
  return { id: row!.r.user.id, email, agentId: row!.r.user.agent_id };
}

/** Signs in through /api/login and returns the token (fails the test on any other answer). */
export async function signIn(email: string, password: string, from?: string): Promise<string> {
  const res = await callApi('/api/login', { body: { email, password }, from });
  if (res.status !== 200) throw new Error(`sign-in of ${email} answered ${res.status}: ${res.text}`);
  return res.json.token as string;
}
