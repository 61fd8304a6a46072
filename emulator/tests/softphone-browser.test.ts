/**
 * The stand-in Device in a real browser: Debian's Chromium (playwright-core) loads the bundle
 * the emulator serves at /softphone/device.js on the emulator's bare /softphone/ page, and the
 * page's Device registers, rings, answers, rejects, dials the TwiML App, sends digits and
 * refreshes its token against the emulator's voice engine.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { rigPerTest, vr, type Rig } from './helpers';
import { softphoneAccount, voiceToken, type SoftphoneAccount } from './softphone-helpers';

const CUSTOMER = '+5511999990001';

/** What the test puts on the page's `globalThis` (the page's own types; this program has no DOM lib). */
interface PageCall {
  parameters: Record<string, string>;
  customParameters: Map<string, string>;
  accept(): void;
  reject(): void;
  disconnect(): void;
  mute(m?: boolean): void;
  isMuted(): boolean;
  sendDigits(d: string): void;
  status(): string;
  on(e: string, l: (...a: unknown[]) => void): unknown;
}
interface PageDevice {
  state: string;
  identity: string | null;
  calls: PageCall[];
  register(): Promise<void>;
  unregister(): Promise<void>;
  connect(o?: { params?: Record<string, string> }): Promise<PageCall>;
  updateToken(t: string): void;
  destroy(): void;
  on(e: string, l: (...a: unknown[]) => void): unknown;
}
interface PageGlobals {
  DiscadorStandInDevice: { Device: (new (token: string, options?: Record<string, unknown>) => PageDevice) & { isStandIn: boolean }; Call: unknown; socketUrl?: string };
  device: PageDevice;
  call?: PageCall;
  events: unknown[];
}

let browser: Browser;
let page: Page;
let r: Rig;
let acct: SoftphoneAccount;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
});

rigPerTest(() => r, (x) => (r = x));
beforeEach(async () => {
  acct = await softphoneAccount(r, `${r.app.url}/agent-session`);
  page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${r.emu.url}/softphone/`);
});
afterEach(async () => {
  await page.close();
});

/** Makes `globalThis.device` on the page with `token`, recording its and its calls' events in `globalThis.events`. */
async function pageDevice(token: string, options: Record<string, unknown> = {}): Promise<void> {
  await page.evaluate(
    ([t, o]) => {
      const g = globalThis as unknown as PageGlobals;
      g.events = [];
      const d = new g.DiscadorStandInDevice.Device(t, o);
      g.device = d;
      const watch = (c: PageCall) => {
        for (const e of ['accept', 'disconnect', 'cancel', 'reject', 'ringing', 'mute', 'error']) {
          c.on(e, (...a: unknown[]) => g.events.push([`call:${e}`, e === 'error' ? (a[0] as { code: number }).code : e === 'mute' ? a[0] : null]));
        }
      };
      for (const e of ['registered', 'unregistered', 'tokenWillExpire', 'destroyed']) d.on(e, () => g.events.push([e]));
      d.on('error', (err: unknown) => g.events.push(['error', (err as { code: number }).code]));
      d.on('incoming', (c: unknown) => {
        const call = c as PageCall;
        g.call = call;
        watch(call);
        g.events.push(['incoming', call.parameters, Object.fromEntries(call.customParameters)]);
      });
      (g as unknown as { watch: typeof watch }).watch = watch;
    },
    [token, options] as const,
  );
}

async function events(): Promise<unknown[]> {
  return page.evaluate(() => (globalThis as unknown as PageGlobals).events);
}

async function waitForEvent(name: string): Promise<void> {
  await page.waitForFunction((n) => (globalThis as unknown as PageGlobals).events.some((e) => Array.isArray(e) && e[0] === n), name, { timeout: 10000 });
}

function dialClient(identity: string) {
  r.app.route('/inbound', () => {
    const t = vr();
    t.dial({ action: '/dial-done', timeout: 20 }).client({}, identity);
    return t;
  });
  r.app.route('/dial-done', () => vr().hangup());
}

test('the bundle is a stand-in that finds the emulator from its own URL, and carries the marker a dist/ check looks for', async () => {
  const g = await page.evaluate(() => {
    const s = (globalThis as unknown as PageGlobals).DiscadorStandInDevice;
    return { isStandIn: s.Device.isStandIn, socketUrl: s.socketUrl, call: typeof s.Call, name: String(new s.Device('x')) };
  });
  expect(g).toEqual({ isStandIn: true, socketUrl: r.emu.softphone.socketUrl, call: 'function', name: '[discador-stand-in-device]' });
  const res = await fetch(r.emu.softphone.scriptUrl);
  expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
  const js = await res.text();
  expect(js).toContain('discador-stand-in-device');
  expect(js).not.toMatch(/require\(|from ['"]@twilio\/voice-sdk['"]/); // self-contained, and no SDK code in it
});

test('an emulated call rings the page; accept bridges it, mute is recorded, disconnect ends the Dial completed', async () => {
  await pageDevice(voiceToken(r, acct, { identity: 'ana' }));
  await page.evaluate(() => (globalThis as unknown as PageGlobals).device.register());
  expect(await page.evaluate(() => [(globalThis as unknown as PageGlobals).device.state, (globalThis as unknown as PageGlobals).device.identity])).toEqual(['registered', 'ana']);
  dialClient('ana');
  const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
  await waitForEvent('incoming');
  const child = r.emu.calls().find((c) => c.parentCallSid === sid);
  expect((await events()).find((e) => Array.isArray(e) && e[0] === 'incoming')).toEqual(['incoming', { AccountSid: r.emu.accountSid, CallSid: child?.sid, From: CUSTOMER, To: 'client:ana' }, {}]);
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).call?.status())).toBe('pending');
  await page.evaluate(() => (globalThis as unknown as PageGlobals).call?.accept());
  await waitForEvent('call:accept');
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).call?.status())).toBe('open');
  await r.emu.waitForCall(sid, (c) => c.status === 'in-progress');
  await page.evaluate(() => (globalThis as unknown as PageGlobals).call?.mute(true));
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).call?.isMuted())).toBe(true);
  await r.emu.waitForCall(sid, () => r.emu.softphone.calls()[0]?.muted === true);
  await page.evaluate(() => (globalThis as unknown as PageGlobals).call?.disconnect());
  await r.emu.waitForCall(sid);
  expect(r.app.to('/dial-done')[0]?.params).toMatchObject({ DialCallStatus: 'completed', DialCallSid: child?.sid, DialBridged: 'true' });
  expect(r.emu.timeline(sid, { children: true }).map((e) => e.text)).toEqual(expect.arrayContaining(['browser softphone accepted the call', 'browser softphone muted its microphone', 'browser softphone hung up']));
  expect(await events()).toEqual([['registered'], expect.anything(), ['call:accept', null], ['call:mute', true], ['call:disconnect', null]]);
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).device.calls.length)).toBe(0);
});

test('reject on the page ends the Dial busy', async () => {
  await pageDevice(voiceToken(r, acct, { identity: 'ana' }));
  await page.evaluate(() => (globalThis as unknown as PageGlobals).device.register());
  dialClient('ana');
  const sid = await r.emu.placeInboundCall({ from: CUSTOMER, to: r.number });
  await waitForEvent('incoming');
  await page.evaluate(() => (globalThis as unknown as PageGlobals).call?.reject());
  await r.emu.waitForCall(sid);
  expect(r.app.to('/dial-done')[0]?.params.DialCallStatus).toBe('busy');
  expect((await events()).slice(-1)).toEqual([['call:reject', null]]);
});

test('connect() calls the TwiML App with the params; sendDigits reaches its Gather; the call ends on the page', async () => {
  r.app.route('/agent-session', () => {
    const t = vr();
    t.gather({ action: '/keys', numDigits: 2, timeout: 30 }).say('digite');
    return t;
  });
  r.app.route('/keys', () => vr().say('ok'));
  await pageDevice(voiceToken(r, acct, { identity: 'ana' }));
  await page.evaluate(async () => {
    const g = globalThis as unknown as PageGlobals & { watch: (c: PageCall) => void };
    g.call = await g.device.connect({ params: { To: '+5511988887777', lead: '5' } });
    g.watch(g.call);
  });
  await waitForEvent('call:accept');
  const [req] = r.app.to('/agent-session');
  expect(req?.params).toMatchObject({ Direction: 'inbound', From: 'client:ana', To: '+5511988887777', lead: '5', ApplicationSid: acct.appSid, CallStatus: 'ringing' });
  const callSid = req?.params.CallSid as string;
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).call?.parameters.CallSid)).toBe(callSid);
  await r.emu.waitForCall(callSid, () => r.emu.timeline(callSid).some((e) => e.verb === 'Gather'));
  await page.evaluate(() => (globalThis as unknown as PageGlobals).call?.sendDigits('42'));
  await waitForEvent('call:disconnect'); // the App says "ok" and the call ends
  expect(r.app.to('/keys')[0]?.params.Digits).toBe('42');
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).call?.status())).toBe('closed');
  expect((await events()).map((e) => (e as unknown[])[0])).toEqual(['call:ringing', 'call:accept', 'call:disconnect']);
  const illegal = await page.evaluate(() => {
    try {
      (globalThis as unknown as PageGlobals).call?.sendDigits('1x');
      return 'accepted';
    } catch (e) {
      return (e as Error).message;
    }
  });
  expect(illegal).toMatch(/Illegal character/);
});

test('a forged token: register() rejects and error fires with 20101; nothing registers', async () => {
  await pageDevice(voiceToken(r, acct, { identity: 'ana', secret: 'z'.repeat(32) }));
  const code = await page.evaluate(() =>
    (globalThis as unknown as PageGlobals).device.register().then(
      () => 0,
      (e: { code: number }) => e.code,
    ),
  );
  expect(code).toBe(20101);
  expect(await events()).toEqual([['error', 20101]]);
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).device.state)).toBe('unregistered');
  expect(r.emu.softphone.registered()).toEqual([]);
});

test('tokenWillExpire fires tokenRefreshMs before exp; updateToken keeps the Device registered', async () => {
  const madeAt = Date.now();
  await pageDevice(voiceToken(r, acct, { identity: 'ana', ttl: 4 }), { tokenRefreshMs: 2000 }); // exp in 3 to 4 s: fires after 1 to 2 s
  await page.evaluate(() => (globalThis as unknown as PageGlobals).device.register());
  await waitForEvent('tokenWillExpire');
  expect(Date.now() - madeAt).toBeGreaterThanOrEqual(900);
  await page.evaluate((t) => (globalThis as unknown as PageGlobals).device.updateToken(t), voiceToken(r, acct, { identity: 'ana' }));
  await new Promise((x) => setTimeout(x, Math.max(0, madeAt + 4500 - Date.now()))); // past the first token's exp
  expect(await events()).toEqual([['registered'], ['tokenWillExpire']]);
  expect(r.emu.softphone.registered()).toEqual(['ana']);
  await page.evaluate(() => (globalThis as unknown as PageGlobals).device.unregister());
  expect(r.emu.softphone.registered()).toEqual([]);
  await page.evaluate(() => (globalThis as unknown as PageGlobals).device.destroy());
  expect((await events()).slice(-2)).toEqual([['unregistered'], ['destroyed']]);
});
