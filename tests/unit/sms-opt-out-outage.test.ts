/**
 * An opt-out word by SMS/WhatsApp while the database is away (a closed port here): tried
 * twice, then raised to a person outside the database (a stand-in Slack webhook that records
 * what it received), and the customer is told the truth — the team will register it only
 * when the alert was accepted. A plain message is a 503 (it stays in Twilio's log).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handler as sms, SMS_OPT_OUT_ATTEMPTS } from '../../src/functions/webhooks/sms.protected';
import { MESSAGES } from '../../src/lib/domain/messages';
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';
import { parseTwiml, verbNames } from '../helpers/twiml';

const customer = '+5511987654321';
const message = (over: Record<string, string> = {}) => ({
  AccountSid: 'AC0000000000000000000000000000d15c',
  MessageSid: 'SM' + '4'.repeat(32),
  From: customer,
  To: '+551130002000',
  Body: 'SAIR',
  ...over,
});

let slack: { server: Server; url: string; received: string[]; status: number };

beforeAll(async () => {
  installRuntimeGlobals();
  const received: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push(body);
      res.writeHead(slack.status, { 'content-type': 'text/plain' }).end(slack.status === 200 ? 'ok' : 'no_service');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  slack = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/XXXX`, received, status: 200 };
});
afterAll(async () => new Promise<void>((r) => slack.server.close(() => r())));
let errors: jest.SpyInstance;
beforeEach(() => {
  slack.received.length = 0;
  slack.status = 200;
  errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

describe('SMS opt-out with the database down', () => {
  it('tries twice, alerts Slack with the number and the message, and says the team will register it', async () => {
    const res = await invoke(sms, makeContext({ ALERT_SLACK_WEBHOOK_URL: slack.url }), message({ From: 'whatsapp:+551187654321', To: 'whatsapp:+551130002000', Body: 'Parar, por favor' }));
    expect(res.status).toBe(200);
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Message']);
    expect(twiml.children[0]!.text).toBe(MESSAGES.messageOptOutReported);
    expect(slack.received).toHaveLength(1);
    const { text } = JSON.parse(slack.received[0]!) as { text: string };
    expect(text).toContain('Número: +5511987654321'); // the number the dialer calls (ninth digit added)
    expect(text).toContain(`Mensagem WhatsApp: SM${'4'.repeat(32)}`);
    expect(text).toContain('npm run opt-out -- add +5511987654321');
    expect(errors.mock.calls.filter((c) => /opt-out attempt \d\/\d failed/.test(String(c[0])))).toHaveLength(SMS_OPT_OUT_ATTEMPTS);
  });

  it('the alert refused, or no channel configured: never claims it was registered or passed on', async () => {
    slack.status = 404;
    const refused = parseTwiml((await invoke(sms, makeContext({ ALERT_SLACK_WEBHOOK_URL: slack.url }), message())).body);
    expect(refused.children.map((c) => c.text)).toEqual([MESSAGES.messageOptOutFailed]);
    const none = parseTwiml((await invoke(sms, makeContext(), message())).body);
    expect(none.children.map((c) => c.text)).toEqual([MESSAGES.messageOptOutFailed]);
  });

  it('answers within the Functions limit (10 s) with the database and the alert both slow', async () => {
    // A database and a Slack that accept the connection and never answer.
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const at = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const started = Date.now();
      const res = await invoke(sms, makeContext({ SUPABASE_URL: at, DB_TIMEOUT_MS: '5000', ALERT_SLACK_WEBHOOK_URL: `${at}/slack` }), message());
      const took = Date.now() - started;
      expect(res.status).toBe(200);
      expect(parseTwiml(res.body).children.map((c) => c.text)).toEqual([MESSAGES.messageOptOutFailed]);
      expect(took).toBeGreaterThan(4500); // both tries and the alert waited their budgets
      expect(took).toBeLessThan(8000);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  }, 15000);

  it('a plain message with the database down is a 503 (Twilio logs it; the message stays in its log)', async () => {
    const res = await invoke(sms, makeContext(), message({ Body: 'Olá' }));
    expect(res.status).toBe(503);
    expect(slack.received).toEqual([]);
  });
});
