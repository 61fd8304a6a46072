/**
 * WhatsApp alert deliveries Twilio accepts and fails later (docs/alerts.md "WhatsApp"): on a
 * stack of its own whose WhatsApp channel has no Content Template, so messages go as a Body,
 * which WhatsApp refuses outside the 24-hour customer service window (63016, reported on the
 * message's status after the create answered 201 queued). The heartbeat fetches the status of
 * what it sent: a failure is retried, then given up and reported on Slack; a delivered
 * message is confirmed and not fetched again.
 */
import { startEmulator, type Emulator } from '../../emulator';
import { LOCAL } from '../../stack/defaults';
import { tickHeader } from '../../src/lib/domain/dialer/tick-auth';
import { sql as sqlAt } from '../helpers/db';
import { slackStandin } from '../helpers/slack-standin';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { newMobile } from '../helpers/twilio';

jest.setTimeout(60000);

const WA_TO = 'whatsapp:+5511988886666';
const WA_FROM = '+551130009875';

let emulator: Emulator;
let stack: StackProcess;
const q = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => sqlAt<T>(text, params, stack.env.DATABASE_URL);
const slack = () => slackStandin(stack.env.SLACK_STANDIN_URL);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function jobs(): Promise<void> {
  const res = await fetch(`${stack.env.FUNCTIONS_BASE_URL}/api/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-discador-tick': tickHeader(stack.env.TICK_SECRET) },
    body: '{}',
  });
  expect(res.status).toBe(200);
  await res.text();
}

async function advance(seconds: number): Promise<void> {
  await q(
    `insert into app_clock (id, virtual_at, real_at, speed) values (true, app_now() + make_interval(secs => $1), clock_timestamp(), 1)
     on conflict (id) do update set virtual_at = excluded.virtual_at, real_at = excluded.real_at`,
    [seconds],
  );
}

const whatsappOf = (alertId: string) =>
  q<{ status: string; attempts: number; message_sid: string | null; confirmed_at: Date | null; last_error: string | null }>(
    `select status, attempts, message_sid, confirmed_at, last_error from alert_deliveries where alert_id = $1 and channel = 'whatsapp' order by id`,
    [alertId],
  );

beforeAll(async () => {
  emulator = await startEmulator({ speed: 1, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
  emulator.addNumber({ phoneNumber: WA_FROM });
  stack = await startStackProcess([
    '--twilio-url', emulator.url,
    '--functions-env', `ALERT_WHATSAPP_TO=${WA_TO}`,
    '--functions-env', `ALERT_WHATSAPP_FROM=whatsapp:${WA_FROM}`,
    '--functions-env', 'ALERT_DELIVERY_ATTEMPTS=2',
    '--functions-env', 'ALERT_RETRY_SECONDS=1',
  ]);
  await q(`update campaigns set status = 'finished' where status <> 'finished'`);
  await q(`update phone_numbers set spam_flagged_at = null, calls_today = 0`);
  await jobs();
  await slack().clear();
});

afterAll(async () => {
  await stack?.stop();
  await emulator?.stop();
});

it('outside the 24-hour window: accepted, then failed with 63016 on its status; retried, given up, reported on Slack', async () => {
  const number = newMobile('11');
  await q(`insert into phone_numbers (phone_number, spam_flagged_at) values ($1, app_now())`, [number]);
  await jobs();
  const [a] = await q<{ id: string }>(`select id from alerts where rule = 'caller_id_spam' and subject = $1`, [`caller_id:${number}`]);
  let [d] = await whatsappOf(a!.id);
  expect(d).toMatchObject({ status: 'sent', attempts: 1, confirmed_at: null });
  expect(d!.message_sid).toMatch(/^SM[0-9a-f]{32}$/);
  const first = emulator.messages().find((m) => m.sid === d!.message_sid)!;
  expect(first.json['body']).toContain(`Número ${number} marcado como spam`);

  await sleep(800); // the emulator fails the message 500 ms after accepting it
  await jobs(); // fetches the status: failed (63016), a retry is due in 1 s
  [d] = await whatsappOf(a!.id);
  expect(d).toMatchObject({ status: 'pending', attempts: 1, message_sid: null });
  expect(d!.last_error).toContain('63016');

  await advance(2);
  await jobs(); // sent again
  [d] = await whatsappOf(a!.id);
  expect(d).toMatchObject({ status: 'sent', attempts: 2 });
  await sleep(800);
  await jobs(); // failed again, the last attempt: given up, reported on the other channels
  [d] = await whatsappOf(a!.id);
  expect(d).toMatchObject({ status: 'failed', attempts: 2 });
  expect(d!.last_error).toContain('63016');
  const [failing] = await q<{ status: string; title: string }>(`select status, title from alerts where rule = 'channel_failing' and subject = 'channel:whatsapp'`);
  expect(failing).toMatchObject({ status: 'open' });
  expect(failing!.title).toContain('63016');
  await jobs();
  const posts = await slack().posts('Canal de alertas WhatsApp falhando');
  expect(posts).toHaveLength(1);
  await q(`update phone_numbers set spam_flagged_at = null where phone_number = $1`, [number]);
});

it('inside the window (the recipient wrote in the last 24 h): delivered, confirmed, the failure report closes', async () => {
  await emulator.sendInboundMessage({ from: WA_TO, to: `whatsapp:${WA_FROM}`, body: 'ok' });
  const number = newMobile('21');
  await q(`insert into phone_numbers (phone_number, spam_flagged_at) values ($1, app_now())`, [number]);
  await jobs();
  const [a] = await q<{ id: string }>(`select id from alerts where rule = 'caller_id_spam' and subject = $1`, [`caller_id:${number}`]);
  expect((await whatsappOf(a!.id))[0]).toMatchObject({ status: 'sent', confirmed_at: null });
  await sleep(2300); // sent at 500 ms, delivered at 2 s
  await jobs();
  const [d] = await whatsappOf(a!.id);
  expect(d).toMatchObject({ status: 'sent', attempts: 1, last_error: null });
  expect(d!.confirmed_at).not.toBeNull();
  expect(await q(`select status from alerts where rule = 'channel_failing' and subject = 'channel:whatsapp'`)).toEqual([{ status: 'resolved' }]);
});
