/**
 * Sign-in and sessions end to end: real HTTP through the local front into twilio-run, the
 * real SQL functions in Postgres. Each test signs in from its own loopback source address
 * (127.x.y.z) so the per-address lockout keys of tests stay apart, and asserts the rows.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { hashPassword } from '../../src/lib/domain/auth/password';
import { env, sql } from '../helpers/db';
import { callApi, createUser, freshAddress, signIn } from '../helpers/api-client';
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';

jest.setTimeout(60000);

const PASSWORD = 'correct horse battery staple';
let hash: string;
beforeAll(async () => {
  hash = await hashPassword(PASSWORD);
});

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const sessionsOf = (userId: string) =>
  sql<{ token_hash: string; address: string | null; user_agent: string | null; revoked_reason: string | null; expires_at: Date; created_at: Date }>(
    'select token_hash, address, user_agent, revoked_reason, expires_at, created_at from sessions where user_id = $1 order by created_at',
    [userId],
  );
const throttle = (key: string) => sql<{ failures: number; locked: boolean }>(
  'select failures, coalesce(locked_until > now(), false) as locked from login_throttle where key = $1',
  [key],
);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('POST /api/login', () => {
  it('opens a session: token in the JSON and in an HttpOnly Secure SameSite=Strict cookie; the row holds only its hash', async () => {
    const user = await createUser('supervisor', hash);
    const from = freshAddress();
    const res = await callApi('/api/login', { body: { email: user.email.toUpperCase(), password: PASSWORD }, from, headers: { 'user-agent': 'jest-auth/1.0' } });
    expect(res.status).toBe(200);
    const token = res.json.token as string;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(res.json.user).toEqual({ id: user.id, email: user.email, name: 'Teste supervisor', role: 'supervisor', agent_id: null });
    expect(Math.abs(Date.parse(res.json.expires_at) - (Date.now() + 12 * 3600_000))).toBeLessThan(60_000);
    const cookie = String(res.headers['set-cookie']);
    expect(cookie).toMatch(new RegExp(`^discador_session=${token};`));
    for (const attr of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/', `Max-Age=${12 * 3600}`]) expect(cookie.split(/;\s*/)).toContain(attr);
    expect(res.headers['cache-control']).toBe('no-store');

    const rows = await sessionsOf(user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ token_hash: sha256(token), address: from, user_agent: 'jest-auth/1.0', revoked_reason: null });
    // The token itself is nowhere in the database's session row.
    const [raw] = await sql<{ row: string }>('select s::text as row from sessions s where user_id = $1', [user.id]);
    expect(raw!.row).not.toContain(token);

    // The cookie and the bearer header both open /api/me.
    expect((await callApi('/api/me', { cookie: `discador_session=${token}` })).json.user.id).toBe(user.id);
    expect((await callApi('/api/me', { token })).json.user.id).toBe(user.id);
  });

  it('a wrong password and an unknown e-mail get the same 401 and open no session', async () => {
    const user = await createUser('agent', hash);
    const wrong = await callApi('/api/login', { body: { email: user.email, password: 'not the password at all' }, from: freshAddress() });
    const unknown = await callApi('/api/login', { body: { email: `nobody-${Date.now()}@example.test`, password: PASSWORD }, from: freshAddress() });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.json).toEqual({ error: 'invalid_credentials', message: expect.any(String) });
    expect(unknown.text).toBe(wrong.text);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect(await sessionsOf(user.id)).toEqual([]);
    expect(await throttle(`user:${user.email}`)).toEqual([{ failures: 1, locked: false }]);
  });

  it('an unknown e-mail takes as long as a known one with a wrong password (median ratio within 0.7–1.4)', async () => {
    const user = await createUser('agent', hash);
    const from = freshAddress();
    const known: number[] = [];
    const unknown: number[] = [];
    const time = async (email: string) => {
      // Each sample starts with clean lockout keys, so no answer is a quick 429.
      await sql(`delete from login_throttle where key in ($1, $2)`, [`user:${email.toLowerCase()}`, `addr:${from}`]);
      const started = process.hrtime.bigint();
      const res = await callApi('/api/login', { body: { email, password: 'wrong password 123' }, from });
      expect(res.status).toBe(401);
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    for (let i = 0; i < 8; i++) {
      known.push(await time(user.email));
      unknown.push(await time(`ghost-${i}-${Date.now()}@example.test`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(unknown) / median(known);
    console.log(`login timing: known-wrong median ${median(known).toFixed(1)} ms, unknown median ${median(unknown).toFixed(1)} ms, ratio ${ratio.toFixed(2)}`);
    // Both include the scrypt check (~90 ms); without the dummy hash the unknown case would take a few ms.
    expect(median(known)).toBeGreaterThan(40);
    expect(ratio).toBeGreaterThan(0.7);
    expect(ratio).toBeLessThan(1.4);
  });

  it('a disabled user is refused like a wrong password, and their sessions end', async () => {
    const user = await createUser('agent', hash);
    const token = await signIn(user.email, PASSWORD, freshAddress());
    await sql('select auth_disable_user($1)', [user.email]);
    const res = await callApi('/api/login', { body: { email: user.email, password: PASSWORD }, from: freshAddress() });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_credentials');
    const me = await callApi('/api/me', { token });
    expect(me.status).toBe(401);
    expect(me.json.error).toBe('session_expired');
    expect((await sessionsOf(user.id)).map((s) => s.revoked_reason)).toEqual(['user_disabled']);
    expect(await sql('select is_active from agents where id = $1', [user.agentId])).toEqual([{ is_active: false }]);
  });

  it('locks an account after 5 failures, waiting longer after each further one; a locked attempt is not even checked', async () => {
    const user = await createUser('agent', hash);
    const key = `user:${user.email}`;
    const attempt = (password: string) => callApi('/api/login', { body: { email: user.email, password }, from: freshAddress() });
    for (let i = 1; i <= 5; i++) expect((await attempt(`wrong password ${i}`)).status).toBe(401);
    expect(await throttle(key)).toEqual([{ failures: 5, locked: true }]);
    // Locked for 1 s: even the right password is refused, and the attempt is not counted.
    const locked = await attempt(PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.json).toEqual({ error: 'account_locked', message: expect.any(String), retry_after: 1 });
    expect(locked.headers['retry-after']).toBe('1');
    expect(await throttle(key)).toEqual([{ failures: 5, locked: true }]);
    await sleep(1100);
    expect((await attempt('wrong password 6')).status).toBe(401);
    const longer = await attempt(PASSWORD);
    expect(longer.status).toBe(429);
    expect(longer.json.retry_after).toBe(2);
    await sleep(2100);
    expect((await attempt('wrong password 7')).status).toBe(401);
    expect((await attempt(PASSWORD)).json.retry_after).toBe(4);
    await sleep(4100);
    // The right password once the wait is over: signed in, and the account starts again.
    expect((await attempt(PASSWORD)).status).toBe(200);
    expect(await throttle(key)).toEqual([]);
    expect(await sessionsOf(user.id)).toHaveLength(1);
  });

  it('locks a source address after 20 failures on any accounts; another address is not affected', async () => {
    const from = freshAddress();
    for (let i = 0; i < 20; i++) {
      const res = await callApi('/api/login', { body: { email: `spray-${i}-${Date.now()}@example.test`, password: 'guess 1234567' }, from });
      expect(res.status).toBe(401);
    }
    expect(await throttle(`addr:${from}`)).toEqual([{ failures: 20, locked: true }]);
    const user = await createUser('agent', hash);
    const blocked = await callApi('/api/login', { body: { email: user.email, password: PASSWORD }, from });
    expect(blocked.status).toBe(429);
    expect(blocked.json.error).toBe('account_locked');
    expect((await callApi('/api/login', { body: { email: user.email, password: PASSWORD }, from: freshAddress() })).status).toBe(200);
  });

  it('the client address is the connection\'s, whatever the client claims in the header', async () => {
    const user = await createUser('supervisor', hash);
    const from = freshAddress();
    const res = await callApi('/api/login', { body: { email: user.email, password: PASSWORD }, from, headers: { 'x-discador-client-address': '10.9.8.7' } });
    expect(res.status).toBe(200);
    expect((await sessionsOf(user.id))[0]!.address).toBe(from);
  });

  it('re-hashes a password stored with a lower cost at the next sign-in', async () => {
    const user = await createUser('supervisor', await hashPassword(PASSWORD, { N: 2 ** 14, r: 8, p: 1 }));
    await signIn(user.email, PASSWORD, freshAddress());
    const [row] = await sql<{ password_hash: string }>('select password_hash from users where id = $1', [user.id]);
    expect(row!.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    await signIn(user.email, PASSWORD, freshAddress());
  });

  describe('bad input changes nothing', () => {
    const noTrace = async (email: string) => {
      expect(await throttle(`user:${email}`)).toEqual([]);
      expect(await sql('select 1 from sessions s join users u on u.id = s.user_id where u.email = $1', [email])).toEqual([]);
    };

    it.each([
      ['a body that is not JSON', 400, 'invalid_json', { raw: '{"email": "x@example.test", "password": ' }],
      ['a JSON array', 400, 'invalid_json', { raw: '[1, 2]' }],
      ['a JSON string', 400, 'invalid_json', { raw: '"hello"' }],
      ['a missing password', 400, 'bad_request', { body: { email: 'x@example.test' } }],
      ['a password that is an object', 400, 'bad_request', { body: { email: 'x@example.test', password: { $ne: '' } } }],
      ['an empty e-mail', 400, 'bad_request', { body: { email: '', password: 'whatever 123' } }],
      ['a form instead of JSON', 400, 'bad_request', { raw: 'email=x%40example.test&password=abc', contentType: 'application/x-www-form-urlencoded' }],
      ['a body over the API limit (64 KiB)', 413, 'body_too_large', { body: { email: 'x@example.test', password: 'a'.repeat(70 * 1024) } }],
      ['a body over the front limit (6 MB)', 413, 'body_too_large', { body: { email: 'x@example.test', password: 'a'.repeat(7 * 1024 * 1024) } }],
    ] as const)('%s: %i %s', async (_what, status, code, call) => {
      const res = await callApi('/api/login', { ...call, from: freshAddress() });
      expect(res.status).toBe(status);
      expect(res.json).toEqual({ error: code, message: expect.any(String) });
      await noTrace('x@example.test');
    });

    it('a parameter named "request" (which the runtime would merge over the request\'s headers) is refused', async () => {
      const forged = { headers: { 'x-discador-client-address': '10.1.2.3' }, cookies: {} };
      const inBody = await callApi('/api/login', { body: { email: 'x@example.test', password: 'whatever 123', request: forged }, from: freshAddress() });
      expect(inBody.status).toBe(400);
      expect(inBody.json.error).toBe('bad_request');
      const inQuery = await callApi('/api/login?request[headers][x-discador-client-address]=10.1.2.3', { body: { email: 'x@example.test', password: 'whatever 123' }, from: freshAddress() });
      expect(inQuery.status).toBe(400);
      expect(inQuery.json.error).toBe('bad_request');
      await noTrace('x@example.test');
    });
  });
});

describe('sessions', () => {
  it('401 unauthenticated without a token or with one not shaped like a token; 401 session_expired for a tampered one', async () => {
    const user = await createUser('agent', hash);
    const token = await signIn(user.email, PASSWORD, freshAddress());
    expect((await callApi('/api/me')).json).toEqual({ error: 'unauthenticated', message: expect.any(String) });
    expect((await callApi('/api/me', { token: 'abc' })).json.error).toBe('unauthenticated');
    expect((await callApi('/api/me', { cookie: 'discador_session=abc' })).json.error).toBe('unauthenticated');
    const tampered = (token[0] === 'A' ? 'B' : 'A') + token.slice(1);
    for (const res of [await callApi('/api/me', { token: tampered }), await callApi('/api/me', { cookie: `discador_session=${tampered}` })]) {
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('session_expired');
    }
    expect((await callApi('/api/me', { token })).status).toBe(200);
  });

  it('ends after SESSION_IDLE_MINUTES (30) without use, and use slides the window', async () => {
    const user = await createUser('agent', hash);
    const token = await signIn(user.email, PASSWORD, freshAddress());
    await sql(`update sessions set last_seen_at = now() - interval '29 minutes' where user_id = $1`, [user.id]);
    expect((await callApi('/api/me', { token })).status).toBe(200);
    const [seen] = await sql<{ age: number }>(`select extract(epoch from now() - last_seen_at)::float as age from sessions where user_id = $1`, [user.id]);
    expect(seen!.age).toBeLessThan(30);
    await sql(`update sessions set last_seen_at = now() - interval '31 minutes' where user_id = $1`, [user.id]);
    const res = await callApi('/api/me', { token });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('session_expired');
  });

  it('ends at its absolute expiry however active', async () => {
    const user = await createUser('agent', hash);
    const token = await signIn(user.email, PASSWORD, freshAddress());
    await sql(`update sessions set expires_at = now() - interval '1 second', created_at = now() - interval '12 hours' where user_id = $1`, [user.id]);
    expect((await callApi('/api/me', { token })).json.error).toBe('session_expired');
  });

  it('logout revokes the session and clears the cookie; the token is dead afterwards', async () => {
    const user = await createUser('agent', hash);
    const token = await signIn(user.email, PASSWORD, freshAddress());
    const other = await signIn(user.email, PASSWORD, freshAddress());
    const res = await callApi('/api/logout', { method: 'POST', cookie: `discador_session=${token}` });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ ok: true });
    expect(String(res.headers['set-cookie'])).toMatch(/^discador_session=; Max-Age=0; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    expect((await callApi('/api/me', { token })).json.error).toBe('session_expired');
    // Only that session: the user's other one lives on.
    expect((await callApi('/api/me', { token: other })).status).toBe(200);
    expect((await sessionsOf(user.id)).map((s) => s.revoked_reason)).toEqual(['logout', null]);
    expect((await callApi('/api/logout', { method: 'POST' })).json.error).toBe('unauthenticated');
  });

  it('a password change revokes every session of the user', async () => {
    const user = await createUser('agent', hash);
    const tokens = [await signIn(user.email, PASSWORD, freshAddress()), await signIn(user.email, PASSWORD, freshAddress())];
    await sql('select auth_set_password($1, $2)', [user.email, await hashPassword('a brand new passphrase')]);
    for (const token of tokens) expect((await callApi('/api/me', { token })).json.error).toBe('session_expired');
    expect((await sessionsOf(user.id)).map((s) => s.revoked_reason)).toEqual(['password_changed', 'password_changed']);
    expect((await callApi('/api/login', { body: { email: user.email, password: PASSWORD }, from: freshAddress() })).status).toBe(401);
    await signIn(user.email, 'a brand new passphrase', freshAddress());
  });

  it('a role change revokes every session, and the next sign-in carries the new role', async () => {
    const user = await createUser('supervisor', hash);
    const token = await signIn(user.email, PASSWORD, freshAddress());
    await sql('select auth_set_role($1, $2)', [user.email, 'agent']);
    expect((await callApi('/api/me', { token })).json.error).toBe('session_expired');
    expect((await sessionsOf(user.id)).map((s) => s.revoked_reason)).toEqual(['role_changed']);
    const me = await callApi('/api/me', { token: await signIn(user.email, PASSWORD, freshAddress()) });
    expect(me.json.user.role).toBe('agent');
    expect(me.json.agent).toMatchObject({ id: me.json.user.agent_id, status: 'offline' });
  });
});

describe('GET /api/me', () => {
  it('an agent sees their agent row, dedicated number, pause reasons and disposition codes', async () => {
    const token = await signIn('ana@discador.local', 'demo-ana', freshAddress());
    const res = await callApi('/api/me', { token });
    expect(res.status).toBe(200);
    expect(res.json.user).toMatchObject({ email: 'ana@discador.local', role: 'agent' });
    expect(res.json.agent).toMatchObject({ id: res.json.user.agent_id, name: 'Ana Souza', phone_number: '+551130001000', client_identity: 'ana' });
    expect(res.json.pause_reasons).toEqual(['Intervalo', 'Almoço', 'Banheiro', 'Treinamento', 'Feedback']);
    expect(res.json.disposition_codes).toContain('promessa_pagamento');
    expect(['twilio', 'emulator']).toContain(res.json.softphone.kind);
  });

  it('a supervisor has no agent', async () => {
    const res = await callApi('/api/me', { token: await signIn('supervisor@discador.local', 'demo-supervisor', freshAddress()) });
    expect(res.json.user.role).toBe('supervisor');
    expect(res.json.agent).toBeNull();
  });

  it('names the stand-in softphone script when SOFTPHONE_STANDIN_URL is set, the Twilio SDK otherwise', async () => {
    installRuntimeGlobals();
    const token = await signIn('bruno@discador.local', 'demo-bruno', freshAddress());
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { handler } = require(join(__dirname, '..', '..', 'dist', 'functions', 'api', 'me.js')) as { handler: Parameters<typeof invoke>[0] };
    const db = { SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY'), PUBLIC_BASE_URL: 'http://127.0.0.1:3000' };
    const ask = async (extra: Record<string, string>) => {
      const answer = await invokeWith(handler, makeContext({ ...db, ...extra }), { authorization: `Bearer ${token}` });
      return JSON.parse(answer.body) as { softphone: unknown };
    };
    expect((await ask({ SOFTPHONE_STANDIN_URL: '/softphone/standin.js' })).softphone).toEqual({ kind: 'emulator', script_url: 'http://127.0.0.1:3000/softphone/standin.js' });
    expect((await ask({})).softphone).toEqual({ kind: 'twilio' });
  });

  it('answers 503 database_unavailable when the database does not answer', async () => {
    installRuntimeGlobals();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { handler } = require(join(__dirname, '..', '..', 'dist', 'functions', 'api', 'me.js')) as { handler: Parameters<typeof invoke>[0] };
    const answer = await invokeWith(handler, makeContext(), { authorization: `Bearer ${'A'.repeat(43)}` });
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({ error: 'database_unavailable', message: expect.any(String) });
  });
});

/** Runs a built handler in-process with these request headers. */
function invokeWith(handler: Parameters<typeof invoke>[0], context: Record<string, unknown>, headers: Record<string, string>) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    handler(context as never, { request: { headers, cookies: {} } } as never, (err, res) => {
      if (err) return reject(err instanceof Error ? err : new Error(String(err)));
      const r = res as { statusCode: number; body: unknown };
      resolve({ status: r.statusCode, body: typeof r.body === 'string' ? r.body : JSON.stringify(r.body) });
    });
  });
}
