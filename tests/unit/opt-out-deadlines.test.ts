/**
 * The opt-out key's deadlines when things hang rather than refuse: a database that accepts the
 * connection and never answers (as a frozen Postgres behind PostgREST looks), a Slack webhook
 * that never answers, a Twilio API that never answers. On the last attempt the caller must
 * still hear the truth within the voice deadline, and a person must still be told through
 * every channel that works. Each case fails if the timeout that bounds it is removed:
 * - the per-attempt database budget (OPT_OUT_DB_BUDGET_MS, under a DB_TIMEOUT_MS of 8 s);
 * - the per-channel alert timeout (ALERT_CHANNEL_TIMEOUT_MS), on Slack and on the SMS.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { handler as optOut, OPT_OUT_ATTEMPTS, OPT_OUT_DB_BUDGET_MS } from '../../src/functions/voice/opt-out.protected';
import { ALERT_CHANNEL_TIMEOUT_MS } from '../../src/lib/domain/urgent-alert';
import { MESSAGES } from '../../src/lib/domain/messages';
import { startEmulator, type Emulator } from '../../emulator';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';
import { installRuntimeGlobals, invoke, makeContext } from '../helpers/function-context';
import { parseTwiml, verbNames } from '../helpers/twiml';

/** The runtime's limit for a voice URL's answer (src/lib/runtime/handler.ts) and Twilio's read timeout margin. */
const VOICE_DEADLINE_MS = 6000;
const customer = '+5511987654321';
const ours = '+551130002000';
const alertTo = '+5511912345678';
const last = {
  CallSid: 'CA' + '4'.repeat(32),
  AccountSid: 'AC0000000000000000000000000000d15c',
  From: ours,
  To: customer,
  CallStatus: 'in-progress',
  Direction: 'outbound-api',
  Digits: '9',
  attempt: String(OPT_OUT_ATTEMPTS),
};

/** A TCP server that accepts connections and never writes a byte. */
function hangingTcp(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => {
          for (const s of sockets) s.destroy();
          return new Promise<void>((r) => server.close(() => r()));
        },
      }),
    ),
  );
}

/** A stand-in Slack incoming webhook that records each request; answers 200, or never when `hang`. */
let slack: { server: Server; url: string; received: { text: string }[]; hang: boolean };
let db: Awaited<ReturnType<typeof hangingTcp>>;
let twilioDown: Awaited<ReturnType<typeof hangingTcp>>;
let emu: Emulator;

beforeAll(async () => {
  installRuntimeGlobals();
  db = await hangingTcp();
  twilioDown = await hangingTcp();
  emu = await startEmulator({ speed: 1 });
  emu.addNumber({ phoneNumber: ours });
  const received: { text: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      received.push(JSON.parse(body) as { text: string });
      if (!slack.hang) res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  slack = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T000/B000/XXXX`, received, hang: false };
});
afterAll(async () => {
  slack.server.closeAllConnections();
  await new Promise<void>((r) => slack.server.close(() => r()));
  await db.close();
  await twilioDown.close();
  await emu.stop();
});
beforeEach(() => {
  slack.received.length = 0;
  slack.hang = false;
  jest.spyOn(console, 'error').mockImplementation(() => undefined);
  jest.spyOn(console, 'warn').mockImplementation(() => undefined);
});
afterEach(() => jest.restoreAllMocks());

/** The function's context as the runtime builds it: the database hangs, DB_TIMEOUT_MS is its maximum. */
function context(env: Record<string, string>, apiBaseUrl?: string): Record<string, unknown> {
  return {
    ...makeContext({ SUPABASE_URL: db.url, DB_TIMEOUT_MS: '8000', ...(apiBaseUrl ? { TWILIO_API_BASE_URL: apiBaseUrl } : {}), ...env }),
    // As the runtime does: a client of the function's account, with the options the function passes.
    getTwilioClient: (opts?: twilio.ClientOpts) => twilio(emu.accountSid, emu.authToken, opts),
  };
}

async function lastAttempt(ctx: Record<string, unknown>) {
  const t0 = Date.now();
  const res = await invoke(optOut, ctx, last);
  const elapsedMs = Date.now() - t0;
  expect(res.status).toBe(200);
  const twiml = parseTwiml(res.body);
  expect(verbNames(twiml)).toEqual(['Say', 'Hangup']);
  return { said: twiml.children[0]!.text, elapsedMs };
}

async function smsSentTo(to: string) {
  return (await createTwilioClient(emu.accountSid, emu.authToken, emu.url).messages.list({ to })).map((m) => ({ from: m.from, body: m.body }));
}

describe('opt-out key, last attempt, with a database that accepts and never answers (DB_TIMEOUT_MS=8000)', () => {
  it('stops waiting after the per-attempt budget, alerts Slack and tells the caller the team was told, within the voice deadline', async () => {
    expect(OPT_OUT_DB_BUDGET_MS).toBeLessThan(VOICE_DEADLINE_MS);
    const { said, elapsedMs } = await lastAttempt(context({ ALERT_SLACK_WEBHOOK_URL: slack.url }));
    expect(said).toBe(MESSAGES.optOutFailedReported);
    expect(slack.received).toHaveLength(1);
    expect(slack.received[0]!.text).toContain(`Número: ${customer}`);
    expect(slack.received[0]!.text).toContain(`Ligação: ${last.CallSid}`);
    expect(elapsedMs).toBeGreaterThanOrEqual(OPT_OUT_DB_BUDGET_MS - 50);
    expect(elapsedMs).toBeLessThan(VOICE_DEADLINE_MS);
  });

  it('a Slack webhook that never answers does not hold the caller: the SMS goes out and the caller hears the team was told', async () => {
    slack.hang = true;
    const { said, elapsedMs } = await lastAttempt(context({ ALERT_SLACK_WEBHOOK_URL: slack.url, ALERT_SMS_TO: alertTo }, emu.url));
    expect(said).toBe(MESSAGES.optOutFailedReported);
    expect(slack.received).toHaveLength(1); // it was asked, and did not answer
    const sms = await smsSentTo(alertTo);
    expect(sms).toHaveLength(1);
    expect(sms[0]!.from).toBe(ours);
    expect(sms[0]!.body).toContain(`Número: ${customer}`);
    expect(elapsedMs).toBeGreaterThanOrEqual(OPT_OUT_DB_BUDGET_MS + ALERT_CHANNEL_TIMEOUT_MS - 50);
    expect(elapsedMs).toBeLessThan(VOICE_DEADLINE_MS);
  });

  it("a Twilio API that never answers does not hold the caller: Slack gets the alert and the caller hears the team was told", async () => {
    const { said, elapsedMs } = await lastAttempt(context({ ALERT_SLACK_WEBHOOK_URL: slack.url, ALERT_SMS_TO: '+5511912340000' }, twilioDown.url));
    expect(said).toBe(MESSAGES.optOutFailedReported);
    expect(slack.received).toHaveLength(1);
    expect(elapsedMs).toBeGreaterThanOrEqual(OPT_OUT_DB_BUDGET_MS + ALERT_CHANNEL_TIMEOUT_MS - 50);
    expect(elapsedMs).toBeLessThan(VOICE_DEADLINE_MS);
  });
});
