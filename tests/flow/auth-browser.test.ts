/**
 * The session cookie in a real browser (Debian's Chromium through playwright-core): set by
 * /api/login over plain http on 127.0.0.1 although it is Secure (Chromium treats loopback as
 * a secure context), sent back on the page's own requests, invisible to scripts (HttpOnly),
 * and gone after /api/logout.
 */
import { chromium, type Browser } from 'playwright-core';
import { env } from '../helpers/db';

jest.setTimeout(60000);

let browser: Browser;
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
});
afterAll(async () => {
  await browser?.close();
});

test('sign in, the cookie carries the session, scripts cannot read it, sign out ends it', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const base = env('FUNCTIONS_BASE_URL');
  // Any page of the functions' origin: the requests below are then same-origin, as the agent page's are.
  await page.goto(`${base}/api/me`);
  const result = await page.evaluate(async () => {
    const post = (path: string, body?: unknown) =>
      fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const login = await post('/api/login', { email: 'bruno@discador.local', password: 'demo-bruno' });
    const me = await fetch('/api/me');
    const visible = (globalThis as unknown as { document: { cookie: string } }).document.cookie;
    const logout = await post('/api/logout');
    const after = await fetch('/api/me');
    return { login: login.status, me: me.status, user: ((await me.json()) as { user: { email: string } }).user.email, visible, logout: logout.status, after: after.status, afterBody: await after.json() };
  });
  expect(result).toEqual({ login: 200, me: 200, user: 'bruno@discador.local', visible: '', logout: 200, after: 401, afterBody: { error: 'unauthenticated', message: expect.any(String) } });
  await context.close();
});

test('the cookie is stored as HttpOnly, Secure and SameSite=Strict for the functions\' host', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const base = env('FUNCTIONS_BASE_URL');
  await page.goto(`${base}/api/me`);
  await page.evaluate(() =>
    fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'ana@discador.local', password: 'demo-ana' }) }),
  );
  const cookies = await context.cookies();
  expect(cookies.map((c) => ({ name: c.name, domain: c.domain, path: c.path, httpOnly: c.httpOnly, secure: c.secure, sameSite: c.sameSite }))).toEqual([
    { name: 'discador_session', domain: new URL(base).hostname, path: '/', httpOnly: true, secure: true, sameSite: 'Strict' },
  ]);
  await context.close();
});
