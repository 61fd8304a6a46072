/**
 * Debian's Chromium driven by playwright-core for the browser tests: a fresh profile per
 * browser, a fake microphone, and a screenshot of each step under
 * test-results/browser/<test>/<NN-step>.png for a person to open.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const root = join(__dirname, '..', '..');

/** Where Debian installs Chromium (CI installs the same package). */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Saves a screenshot of the page as the next numbered step; returns its path. */
  shot(step: string): Promise<string>;
  close(): Promise<void>;
}

/** Lowercase words joined by dashes: a folder or file name from a test's or step's title. */
export function slug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 80);
}

/**
 * Records every `new Notification(title, options)` the page makes into
 * `window.__notifications` ({title, body, tag}) and keeps the real one working, so a test
 * asserts exactly which desktop notifications were raised.
 */
export const CAPTURE_NOTIFICATIONS = `(() => {
  const Real = window.Notification;
  if (!Real) return;
  const seen = [];
  Object.defineProperty(window, '__notifications', { value: seen });
  class Recorded extends Real {
    constructor(title, options) {
      super(title, options);
      seen.push({ title, body: (options && options.body) || '', tag: (options && options.tag) || '' });
    }
  }
  Object.defineProperty(Recorded, 'permission', { get: () => Real.permission });
  Recorded.requestPermission = (...a) => Real.requestPermission(...a);
  window.Notification = Recorded;
})();`;

/**
 * Launches Chromium with a fresh profile at 1366×768; `testName` names the screenshot folder.
 * Notifications are granted only when asked (else their permission stays 'default').
 */
export async function launch(
  testName: string,
  opts: { notifications?: 'granted'; origin?: string; microphone?: 'fake' | 'refused' } = {},
): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'discador-chromium-'));
  const shots = join(root, 'test-results', 'browser', slug(testName));
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1366, height: 768 },
    locale: 'pt-BR',
    timezoneId: 'America/Sao_Paulo',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // A fake microphone (a beep); its permission prompt answered yes, or left to refuse.
      '--use-fake-device-for-media-stream',
      ...(opts.microphone === 'refused' ? ['--deny-permission-prompts'] : ['--use-fake-ui-for-media-stream']),
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  if (opts.notifications === 'granted') await context.grantPermissions(['notifications'], opts.origin ? { origin: opts.origin } : undefined);
  await context.addInitScript({ content: CAPTURE_NOTIFICATIONS });
  const page = context.pages()[0] ?? (await context.newPage());
  let n = 0;
  return {
    context,
    page,
    async shot(step) {
      n += 1;
      const path = join(shots, `${String(n).padStart(2, '0')}-${slug(step)}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The notifications the page raised so far (see CAPTURE_NOTIFICATIONS). */
export function notifications(page: Page): Promise<{ title: string; body: string; tag: string }[]> {
  return page.evaluate('window.__notifications ? [...window.__notifications] : []') as Promise<{ title: string; body: string; tag: string }[]>;
}

/**
 * Runs a test's steps; on failure saves a screenshot of the page and adds to the failure what
 * the page shows in `shownSelector` (its error messages, by default).
 */
export async function steps(b: TestBrowser, fn: () => Promise<void>, shownSelector = '.error:not([hidden])'): Promise<void> {
  try {
    await fn();
  } catch (e) {
    await b.shot('failure').catch(() => undefined);
    const shown = (await b.page.$$eval(shownSelector, (els) => els.map((el) => el.textContent)).catch(() => [])).filter(Boolean);
    if (e instanceof Error && shown.length) e.message += `\nerrors on the page: ${JSON.stringify(shown)}`;
    throw e;
  }
}
