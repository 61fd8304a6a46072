/**
 * The opt-out key while the database is away (a closed port here): retried within the call
 * with the key carried along, then raised to a person outside the database (a stand-in Slack
 * webhook that records what it received), and the caller is told the truth.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handler as optOut, OPT_OUT_ATTEMPTS } from '../../src/functions/voice/opt-out.protected';
import { MESSAGES } from '../../src/lib/domain/messages';
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';
import { parseTwiml, verbNames } from '../helpers/twiml';

const base = 'https://discador-1234-dev.twil.io';
const customer = '+5511987654321';
const pressed = {
  CallSid: 'CA' + '3'.repeat(32),
  AccountSid: 'AC0000000000000000000000000000d15c',
  From: '+551130002000',
  To: customer,
  CallStatus: 'in-progress',
  Direction: 'outbound-api',
  Digits: '9',
};

/** A stand-in Slack incoming webhook: records every request; answers `status`. */
let slack: { server: Server; url: string; received: { method: string; contentType: string; body: string }[]; status: number };

beforeAll(async () => {
  installRuntimeGlobals();
  const received: { method: string; contentType: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push({ method: req.method ?? '', contentType: req.headers['content-type'] ?? '', body });
      res.writeHead(slack.status, { 'content-type': 'text/plain' }).end(slack.status === 200 ? 'ok' : 'no_service');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  slack = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/XXXX`, received, status: 200 };
});
afterAll(async () => new Promise<void>((r) => slack.server.close(() => r())));
beforeEach(() => {
  slack.received.length = 0;
  slack.status = 200;
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

describe('opt-out key with the database down', () => {
  it('first attempts: "aguarde um instante", a pause, and a Redirect back with the next attempt and the key', async () => {
    for (let attempt = 1; attempt < OPT_OUT_ATTEMPTS; attempt++) {
      const event = attempt === 1 ? pressed : { ...pressed, attempt: String(attempt) };
      const res = await invoke(optOut, makeContext({ ALERT_SLACK_WEBHOOK_URL: slack.url }), event);
      expect(res.status).toBe(200);
      const twiml = parseTwiml(res.body);
      expect(verbNames(twiml)).toEqual(['Say', 'Pause', 'Redirect']);
      expect(twiml.children[0]!.text).toBe(MESSAGES.optOutWait);
      expect(Number(twiml.children[1]!.attrs['length'])).toBeGreaterThanOrEqual(1);
      expect(twiml.children[2]!.attrs['method']).toBe('POST');
      expect(twiml.children[2]!.text).toBe(`${base}/voice/opt-out?attempt=${attempt + 1}&Digits=9`);
    }
    expect(slack.received).toEqual([]); // no alert while attempts remain
  });

  it('last attempt: alerts Slack with the number, the call and the time, and says the team was told', async () => {
    const before = Date.now();
    const res = await invoke(optOut, makeContext({ ALERT_SLACK_WEBHOOK_URL: slack.url }), { ...pressed, attempt: String(OPT_OUT_ATTEMPTS) });
    const twiml = parseTwiml(res.body);
    expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
    expect(twiml.children[0]!.text).toBe(MESSAGES.optOutFailedReported);

    expect(slack.received).toHaveLength(1);
    const sent = slack.received[0]!;
    expect(sent.method).toBe('POST');
    expect(sent.contentType).toBe('application/json');
    const { text } = JSON.parse(sent.body) as { text: string };
    expect(text).toContain(`Número: ${customer}`);
    expect(text).toContain(`Ligação: ${pressed.CallSid}`);
    const iso = /Horário: (\S+)/.exec(text)![1]!;
    expect(Date.parse(iso)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(iso)).toBeLessThanOrEqual(Date.now());
    expect(text).toContain(`npm run opt-out -- add ${customer}`);
  });

  it('last attempt with the alert refused (or no channel configured): says only that it could not be registered', async () => {
    slack.status = 404;
    const refused = parseTwiml((await invoke(optOut, makeContext({ ALERT_SLACK_WEBHOOK_URL: slack.url }), { ...pressed, attempt: '3' })).body);
    expect(refused.children[0]!.text).toBe(MESSAGES.optOutFailed);
    expect(slack.received).toHaveLength(1);

    const none = parseTwiml((await invoke(optOut, makeContext(), { ...pressed, attempt: '3' })).body);
    expect(verbNames(none)).toEqual(['Say', 'Hangup']);
    expect(none.children[0]!.text).toBe(MESSAGES.optOutFailed);
  });

  it('an SMS alert that cannot be sent is reported as not delivered, never thrown', async () => {
    // makeContext's getTwilioClient throws, as a broken Twilio client would.
    const res = await invoke(optOut, makeContext({ ALERT_SMS_TO: '+5511912345678' }), { ...pressed, attempt: '3' });
    expect(res.status).toBe(200);
    expect(parseTwiml(res.body).children[0]!.text).toBe(MESSAGES.optOutFailed);
  });

  it('an attempt number out of range counts as the last one (no endless loop)', async () => {
    const twiml = parseTwiml((await invoke(optOut, makeContext(), { ...pressed, attempt: '99' })).body);
    expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
  });
});
