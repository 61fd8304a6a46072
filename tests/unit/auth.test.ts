/**
 * Sign-in pieces without a database: scrypt hashes (format, cost, verify, re-hash, the dummy
 * hash), the password policy, session tokens, and the /api glue (token extraction, bodies,
 * refusals before the database is asked, an unreachable database).
 */
import { createHash } from 'node:crypto';
import { CURRENT_PARAMS, DUMMY_HASH, hashPassword, needsRehash, parseHash, verifyPassword } from '../../src/lib/domain/auth/password';
import { commonPasswords, MIN_LENGTH, passwordProblem } from '../../src/lib/domain/auth/policy';
import { newSessionToken, sessionTokenHash } from '../../src/lib/domain/auth/token';
import { apiFunction, bool, clearedSessionCookie, requestToken, sessionCookie } from '../../src/lib/runtime/api';
import { text } from '../../src/lib/runtime/validate';
import { installRuntimeGlobals, makeContext } from '../helpers/function-context';

describe('password hashes', () => {
  it('are scrypt$N$r$p$salt$key with the current cost, a 16-byte salt and a 32-byte key, and verify', async () => {
    const hash = await hashPassword('uma frase secreta');
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(parseHash(hash)!.params).toEqual({ N: 32768, r: 8, p: 1 });
    expect(await verifyPassword('uma frase secreta', hash)).toBe(true);
    expect(await verifyPassword('uma frase secreta ', hash)).toBe(false);
    expect(await verifyPassword('Uma frase secreta', hash)).toBe(false);
  });

  it('use a new salt every time', async () => {
    expect(await hashPassword('mesma senha longa')).not.toBe(await hashPassword('mesma senha longa'));
  });

  it('match the format the users table accepts (its check constraint)', async () => {
    const constraint = /^scrypt\$[0-9]+\$[0-9]+\$[0-9]+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/;
    expect(await hashPassword('x'.repeat(20))).toMatch(constraint);
    expect(DUMMY_HASH).toMatch(constraint);
  });

  it('verify the same password in another Unicode normalisation (NFC)', async () => {
    const hash = await hashPassword('escritório'.normalize('NFC'));
    expect(await verifyPassword('escritório'.normalize('NFD'), hash)).toBe(true);
  });

  it('with a lower cost still verify, and ask for a re-hash', async () => {
    const old = await hashPassword('senha antiga longa', { N: 2 ** 14, r: 8, p: 1 });
    expect(await verifyPassword('senha antiga longa', old)).toBe(true);
    expect(needsRehash(old)).toBe(true);
    expect(needsRehash(await hashPassword('senha nova longa'))).toBe(false);
  });

  it('that are malformed or ask for an absurd cost never verify', async () => {
    for (const bad of ['', 'plain', 'scrypt$3$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', `scrypt$${2 ** 22}$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==`, 'bcrypt$10$abc']) {
      expect(await verifyPassword('whatever', bad)).toBe(false);
      expect(needsRehash(bad)).toBe(true);
    }
  });

  it('the dummy hash has the current cost (an unknown e-mail takes as long) and no password verifies against it', async () => {
    expect(parseHash(DUMMY_HASH)!.params).toEqual(CURRENT_PARAMS);
    expect(await verifyPassword('', DUMMY_HASH)).toBe(false);
    expect(await verifyPassword('demo-ana', DUMMY_HASH)).toBe(false);
  });
});

describe('password policy', () => {
  it('ships a list of several hundred common passwords, Brazilian favourites included', () => {
    const list = commonPasswords();
    expect(list.size).toBeGreaterThan(500);
    for (const p of ['123456', 'senha123', 'brasil', 'flamengo', 'corinthians', '1q2w3e4r', 'mudar123', 'qwertyuiop', 'password']) expect(list.has(p)).toBe(true);
  });

  it.each([
    ['', `at least ${MIN_LENGTH}`],
    ['curta', `at least ${MIN_LENGTH}`],
    ['1234567890', 'most common'],
    ['QwertyUiop', 'most common'],
    ['palmeiras1914', 'digits or symbols added'],
    ['!!corinthians!!', 'digits or symbols added'],
    ['joao.silva-2024', 'name of the e-mail'],
    ['xx joao.silva@empresa.com.br', 'e-mail address'],
    ['aaaaaaaaaaaa', 'repeated'],
    ['abababababab', 'repeated'],
    ['x'.repeat(257), 'at most'],
  ])('refuses %j (%s)', (password, said) => {
    expect(passwordProblem(password, 'joao.silva@empresa.com.br')).toContain(said);
  });

  it.each(['cadeira azul do escritório', 'Tr3m-de-ferro-lento', 'flamengo e vasco no domingo'])('accepts %j', (password) => {
    expect(passwordProblem(password, 'joao.silva@empresa.com.br')).toBeNull();
  });

  it('counts characters, not bytes (ten accented letters are enough)', () => {
    expect(passwordProblem('çãõéíóúâêô', 'a@b.c')).toBeNull();
  });
});

describe('session tokens', () => {
  it('are 32 random bytes in base64url, different each time; the stored form is their SHA-256 hex', () => {
    const a = newSessionToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(newSessionToken()).not.toBe(a);
    expect(sessionTokenHash(a)).toBe(createHash('sha256').update(a).digest('hex'));
    expect(sessionTokenHash(a)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the /api glue', () => {
  const token = 'A'.repeat(43);

  it('takes the bearer token first, else the cookie; something not shaped like a token is null', () => {
    expect(requestToken({ headers: { authorization: `Bearer ${token}` }, cookies: { discador_session: 'B'.repeat(43) } })).toBe(token);
    expect(requestToken({ headers: {}, cookies: { discador_session: token } })).toBe(token);
    expect(requestToken({ headers: {}, cookies: {} })).toBeUndefined();
    expect(requestToken({ headers: { authorization: 'Basic abc' }, cookies: { discador_session: token } })).toBeNull();
    expect(requestToken({ headers: { authorization: `Bearer ${token}x` }, cookies: {} })).toBeNull();
    expect(requestToken({ headers: {}, cookies: { discador_session: 'short' } })).toBeNull();
  });

  it('writes the session cookie HttpOnly, Secure, SameSite=Strict, Path=/ and clears it the same way', () => {
    expect(sessionCookie(token, 3600)).toBe(`discador_session=${token}; Max-Age=3600; Path=/; HttpOnly; Secure; SameSite=Strict`);
    expect(clearedSessionCookie()).toBe('discador_session=; Max-Age=0; Path=/; HttpOnly; Secure; SameSite=Strict');
  });

  describe('apiFunction', () => {
    beforeAll(installRuntimeGlobals);
    let handled = 0;
    const echo = apiFunction({ roles: 'public', body: { name: text({ max: 20 }), on: bool().optional() } }, async ({ body }) => {
      handled += 1;
      return { body };
    });
    const guarded = apiFunction({ roles: ['agent'] }, async () => {
      handled += 1;
      return { ok: true };
    });
    const call = (handler: typeof echo, event: Record<string, unknown>, headers: Record<string, string> = {}, cookies: Record<string, string> = {}) =>
      new Promise<{ status: number; body: Record<string, unknown>; headers: Record<string, unknown> }>((resolve) => {
        handler(makeContext() as never, { ...event, request: { headers, cookies } }, (_e, res) => {
          const r = res as unknown as { statusCode: number; body: Record<string, unknown>; headers: Record<string, unknown> };
          resolve({ status: r.statusCode, body: r.body, headers: r.headers });
        });
      });
    const json = { 'content-type': 'application/json', 'content-length': '30' };

    beforeEach(() => {
      handled = 0;
    });

    it('reads JSON strings, booleans and numbers through the shape', async () => {
      const r = await call(echo, { name: 'Ana', on: true }, json);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ body: { name: 'Ana', on: true } });
      expect(r.headers['Cache-Control']).toBe('no-store');
    });

    it.each([
      ['a missing field', {}, json, 400, 'bad_request'],
      ['an object where text is expected', { name: { $gt: '' } }, json, 400, 'bad_request'],
      ['text with NUL', { name: 'a\u0000b' }, json, 400, 'bad_request'],
      ['a boolean field that is not one', { name: 'x', on: 'yes' }, json, 400, 'bad_request'],
      ['a form body', { name: 'x' }, { 'content-type': 'application/x-www-form-urlencoded' }, 400, 'bad_request'],
      ['no content type (a GET with query parameters)', { name: 'x' }, {}, 400, 'bad_request'],
      ['a body over 64 KiB', { name: 'x' }, { 'content-type': 'application/json', 'content-length': String(65 * 1024) }, 413, 'body_too_large'],
    ])('refuses %s without running the handler', async (_what, event, headers, status, code) => {
      const r = await call(echo, event, headers);
      expect(r.status).toBe(status);
      expect(r.body).toEqual({ error: code, message: expect.any(String) });
      expect(handled).toBe(0);
    });

    it('401 unauthenticated without a token and without asking the database', async () => {
      const r = await call(guarded, {});
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('unauthenticated');
      expect(handled).toBe(0);
    });

    it('503 database_unavailable when the session cannot be checked', async () => {
      const r = await call(guarded, {}, { authorization: `Bearer ${token}` });
      expect(r.status).toBe(503);
      expect(r.body.error).toBe('database_unavailable');
      expect(handled).toBe(0);
    });
  });
});
