/**
 * The customer presses the opt-out key while Postgres is frozen, on a whole call through the
 * Twilio emulator and a stack of this file's own:
 * - frozen for good: the request is retried within the call (the caller hears "aguarde um
 *   instante", then the flow redirects back with the attempt and the key), and after the last
 *   try a person is alerted outside the database, on a stand-in Slack incoming webhook (a
 *   local server that records exactly what it got) and by SMS through the emulator's Messages;
 *   the caller is told the truth.
 * - thawed within the retry window: the opt-out lands in opt_outs and nobody is alerted.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startEmulator, type Emulator, type TimelineEntry } from '../../emulator';
import { LOCAL } from '../../stack/defaults';
import { loadConfig } from '../../src/lib/runtime/config';
import { createDb } from '../../src/lib/runtime/db';
import { placeCall } from '../../src/lib/domain/dialer';
import { MESSAGES } from '../../src/lib/domain/messages';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';
import { OPT_OUT_ATTEMPTS, OPT_OUT_RETRY_PAUSE_S } from '../../src/functions/voice/opt-out.protected';
import { sql as sqlAt } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { newMobile } from '../helpers/twilio';

jest.setTimeout(120000);
const POOL = ['+551130002000', '+551130002001', '+552130002002']; // supabase/seed.sql
const ALERT_PHONE = '+5511912340000';
let emulator: Emulator;
let stack: StackProcess;
let slack: { server: Server; url: string; received: { at: number; contentType: string; body: string }[] };

const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, stack.env.DATABASE_URL);
const twilioRest = () => createTwilioClient(LOCAL.accountSid, LOCAL.authToken, emulator.url);
const deps = () => {
  const config = loadConfig({ SUPABASE_URL: stack.env.SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: stack.env.SUPABASE_SERVICE_ROLE_KEY, PUBLIC_BASE_URL: stack.env.FUNCTIONS_BASE_URL });
  return { config, db: createDb({ url: config.SUPABASE_URL, serviceRoleKey: config.SUPABASE_SERVICE_ROLE_KEY }), twilio: twilioRest() };
};

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 30000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const optOutHooks = (sid: string) => emulator.webhooks().filter((w) => w.callSid === sid && w.url.includes('/voice/opt-out'));
const verbs = (sid: string) => emulator.timeline(sid).filter((e: TimelineEntry) => e.type === 'verb' && !/timed out|finished/.test(e.text));

/** Places a dialer call whose customer presses the opt-out key 5 s into the disclaimer; resolves once the answer URL was served. */
async function callPressingOptOut(customer: string): Promise<{ sid: string; callerId: string }> {
  emulator.addParty({ number: customer, answerAfter: 1, digits: [{ at: 5, digits: '9' }], hangupAfter: 120 });
  const placed = await placeCall(deps(), { to: customer });
  if (!placed.placed) throw new Error(placed.detail);
  await until('the answer URL', () =>
    emulator.webhooks().some((w) => w.callSid === placed.callSid && w.url.includes('/voice/outbound?') && w.status === 200) ? true : undefined,
  );
  return { sid: placed.callSid, callerId: placed.callerId };
}

beforeAll(async () => {
  const received: { at: number; contentType: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ at: Date.now(), contentType: req.headers['content-type'] ?? '', body });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'); // what Slack answers
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  slack = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T0001/B0001/secret`, received };

  emulator = await startEmulator({ speed: 2, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
  stack = await startStackProcess([
    '--twilio-url', emulator.url,
    '--functions-env', `ALERT_SLACK_WEBHOOK_URL=${slack.url}`,
    '--functions-env', `ALERT_SMS_TO=${ALERT_PHONE}`,
  ]);
  for (const n of POOL) emulator.addNumber({ phoneNumber: n });
  emulator.addParty({ number: '+5511955550000', answerAfter: 1 }); // FALLBACK_NUMBER
});
afterAll(async () => {
  await stack?.stop();
  await emulator?.stop();
  await new Promise<void>((r) => (slack?.server ? slack.server.close(() => r()) : r()));
});

describe('opt-out key with Postgres frozen', () => {
  it('retries within the call, then alerts Slack and SMS with number, call and time, and tells the caller the truth', async () => {
    const customer = newMobile();
    const { sid, callerId } = await callPressingOptOut(customer);
    await stack.freezeDb();
    let thawed = false;
    try {
      const pressedAt = Date.now();
      await until('the last opt-out attempt', () => (optOutHooks(sid).length === OPT_OUT_ATTEMPTS ? true : undefined), 60000);
      await until('the caller to hear the outcome', () => (verbs(sid).some((v) => v.verb === 'Hangup') ? true : undefined));

      // The retries, in order, each with the key carried along and a pause between them.
      const hooks = optOutHooks(sid);
      const base = stack.env.FUNCTIONS_BASE_URL;
      expect(hooks.map((w) => [w.url, w.status])).toEqual([
        [`${base}/voice/opt-out`, 200],
        [`${base}/voice/opt-out?attempt=2&Digits=9`, 200],
        [`${base}/voice/opt-out?attempt=3&Digits=9`, 200],
      ]);
      expect(hooks[0]!.params['Digits']).toBe('9');
      for (let i = 1; i < hooks.length; i++) expect(hooks[i]!.sentAt - hooks[i - 1]!.doneAt).toBeGreaterThanOrEqual(OPT_OUT_RETRY_PAUSE_S * 1000);
      const heard = verbs(sid).filter((v) => v.t >= hooks[0]!.doneAt).map((v) => [v.verb, v.verb === 'Say' ? v.content : v.verb === 'Pause' ? v.content : '']);
      expect(heard).toEqual([
        ['Say', MESSAGES.optOutWait],
        ['Pause', String(OPT_OUT_RETRY_PAUSE_S)],
        ['Redirect', ''],
        ['Say', MESSAGES.optOutWait],
        ['Pause', String(OPT_OUT_RETRY_PAUSE_S)],
        ['Redirect', ''],
        ['Say', MESSAGES.optOutFailedReported],
        ['Hangup', ''],
      ]);

      // Slack: exactly one alert, naming the number, the call and a time inside the test.
      expect(slack.received).toHaveLength(1);
      expect(slack.received[0]!.contentType).toBe('application/json');
      // The alerts' Block Kit format (docs/alerts.md): header, the text in a section, a context
      // line, and the same text as the notification fallback.
      const { text, blocks } = JSON.parse(slack.received[0]!.body) as { text: string; blocks: { type: string; text?: { text: string } }[] };
      expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
      expect(blocks[0]!.text!.text).toBe('🔴 Alerta crítico: Opt-out não registrado');
      expect(text).toBe(`🔴 Alerta crítico: ${blocks[1]!.text!.text}`);
      expect(text).toContain(`Número: ${customer}`);
      expect(text).toContain(`Ligação: ${sid}`);
      const at = Date.parse(/Horário: (\S+)/.exec(text)![1]!);
      expect(at).toBeGreaterThanOrEqual(pressedAt);
      expect(at).toBeLessThanOrEqual(Date.now());

      // SMS through Twilio's Messages API, from the number the call used, with the same text.
      const sms = await twilioRest().messages.list({ to: ALERT_PHONE });
      expect(sms.map((m) => ({ from: m.from, to: m.to }))).toEqual([{ from: callerId, to: ALERT_PHONE }]);
      expect(sms[0]!.body.split('\n').slice(0, 2)).toEqual(['🔴 Alerta crítico: Opt-out não registrado', blocks[1]!.text!.text]);
      expect(emulator.contractViolations()).toEqual([]);

      await stack.thawDb();
      thawed = true;
    } finally {
      if (!thawed) await stack.thawDb();
    }
  });

  it('with the database back within the retry window, the opt-out lands and nobody is alerted', async () => {
    const alertsBefore = slack.received.length;
    const customer = newMobile();
    const { sid } = await callPressingOptOut(customer);
    await stack.freezeDb();
    let thawed = false;
    try {
      await until('the first opt-out attempt to fail', () => (optOutHooks(sid).length === 1 ? true : undefined), 30000);
      await stack.thawDb();
      thawed = true;
    } finally {
      if (!thawed) await stack.thawDb();
    }
    await emulator.waitForCall(sid, (c) => c.ended, { timeoutMs: 60000 });
    const hooks = optOutHooks(sid);
    expect(hooks.map((w) => w.url.replace(stack.env.FUNCTIONS_BASE_URL, ''))).toEqual(['/voice/opt-out', '/voice/opt-out?attempt=2&Digits=9']);
    const said = verbs(sid).filter((v) => v.verb === 'Say').map((v) => v.content);
    expect(said).toContain(MESSAGES.optOutWait);
    expect(said[said.length - 1]).toBe(MESSAGES.optOutConfirmed);
    expect(await sql('select source, created_by from opt_outs where phone_number = $1', [customer])).toEqual([{ source: 'ivr', created_by: sid }]);
    expect(await sql('select opted_out from calls where call_sid = $1', [sid])).toEqual([{ opted_out: true }]);
    expect(slack.received.length).toBe(alertsBefore);
    expect((await twilioRest().messages.list({ to: ALERT_PHONE })).length).toBe(1); // only the first test's
  });
});
