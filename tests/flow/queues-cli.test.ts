/**
 * `npm run queues` and `npm run numbers -- set-service` against the local stack's database and
 * Twilio emulator (in-process CLIs): a queue created and changed from flags, listed, shown and
 * its figures read; a number made a service number (pool row and Twilio's VoiceUrl) and back;
 * bad input refused with nothing changed, in the database or on Twilio.
 */
import { randomBytes } from 'node:crypto';
import type { Env, Io } from '../../scripts/lib/cli';
import { run as numbers } from '../../scripts/numbers';
import { run as queues } from '../../scripts/queues';
import { LOCAL } from '../../stack/defaults';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';
import { env, sql } from '../helpers/db';

jest.setTimeout(30000);
const FUNCTIONS = 'https://discador-fila.example.com';
const cliEnv = (): Env => ({
  SUPABASE_URL: env('SUPABASE_URL'), SUPABASE_SERVICE_ROLE_KEY: env('SUPABASE_SERVICE_ROLE_KEY'),
  TWILIO_ACCOUNT_SID: LOCAL.accountSid, TWILIO_AUTH_TOKEN: LOCAL.authToken, TWILIO_API_BASE_URL: env('TWILIO_API_BASE_URL'), FUNCTIONS_BASE_URL: FUNCTIONS,
});
async function cli(run: typeof queues, argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await run(argv, cliEnv(), io);
  let json: unknown = null;
  try {
    json = JSON.parse(out.join('\n'));
  } catch {
    json = null;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { code, out: out.join('\n'), err: err.join('\n'), json: json as any };
}

test('queues set / show / list / stats', async () => {
  const name = `cli-${randomBytes(3).toString('hex')}`;
  const campaign = `retorno-${randomBytes(3).toString('hex')}`;
  await sql(`insert into campaigns (name) values ($1)`, [campaign]);
  const [a] = await sql<{ id: string }>(`insert into agents (name) values ('Fila CLI') returning id`);
  const set = await cli(queues, ['set', name, '--announce-every', '30', '--max-wait', '240', '--on-max-wait', 'callback', '--service-level', '20',
    '--agents', a!.id, '--callback-campaign', campaign, '--json']);
  expect(set.code).toBe(0);
  expect(set.json.queue).toMatchObject({ name, announce_every_seconds: 30, max_wait_seconds: 240, on_max_wait: 'callback', service_level_seconds: 20,
    agent_ids: [Number(a!.id)], callback_campaign: campaign, callback: true });
  // Options left out keep their value; "all" and "none" undo the lists.
  const changed = await cli(queues, ['set', name, '--agents', 'all', '--callback-campaign', 'none', '--json']);
  expect(changed.json.queue).toMatchObject({ max_wait_seconds: 240, agent_ids: null, callback_campaign: null, callback: false });
  const shown = await cli(queues, ['show', name]);
  expect(shown.code).toBe(0);
  expect(shown.out).toContain('every routable agent');
  const listed = await cli(queues, ['list', '--json']);
  expect(listed.json.queues.map((q: { name: string }) => q.name)).toEqual(expect.arrayContaining(['geral', name]));
  const stats = await cli(queues, ['stats', '--from', '2026-11-01', '--to', '2026-11-02', '--queue', name, '--json']);
  expect(stats).toMatchObject({ code: 0, json: { stats: [] } });
});

test('queues: bad input is refused with nothing written', async () => {
  const name = `cli-${randomBytes(3).toString('hex')}`;
  expect((await cli(queues, ['set', 'Fila Ruim'])).code).toBe(2);
  expect((await cli(queues, ['set', name, '--agents', '1,x'])).code).toBe(2);
  expect((await cli(queues, ['set', name, '--callback-key', '12'])).code).toBe(2);
  expect((await cli(queues, ['stats', '--from', '01/11/2026', '--to', '2026-11-02'])).code).toBe(2);
  const noCampaign = await cli(queues, ['set', name, '--callback-campaign', 'nao-existe']);
  expect(noCampaign.code).toBe(1);
  expect(noCampaign.err).toContain('no campaign named nao-existe');
  expect(await sql(`select 1 from service_queues where name = $1`, [name])).toEqual([]);
  expect((await cli(queues, ['show', name])).code).toBe(1);
});

test('numbers set-service: the pool row names the queue and Twilio calls /voice/service; unknown queue changes nothing', async () => {
  const twilio = createTwilioClient(LOCAL.accountSid, LOCAL.authToken, env('TWILIO_API_BASE_URL'));
  const phone = `+55113000${String(Math.floor(Math.random() * 9000) + 1000)}`;
  const bought = await twilio.incomingPhoneNumbers.create({ phoneNumber: phone, voiceUrl: `${FUNCTIONS}/voice/inbound` });
  await sql(`insert into phone_numbers (phone_number) values ($1) on conflict do nothing`, [phone]);

  const bad = await cli(numbers, ['set-service', phone, '--queue', 'nao-existe']);
  expect(bad.code).toBe(1);
  expect(bad.err).toContain('no service queue nao-existe');
  expect((await twilio.incomingPhoneNumbers(bought.sid).fetch()).voiceUrl).toBe(`${FUNCTIONS}/voice/inbound`);
  expect((await sql(`select service_queue from phone_numbers where phone_number = $1`, [phone]))[0]).toEqual({ service_queue: null });

  const ok = await cli(numbers, ['set-service', phone, '--queue', 'geral', '--json']);
  expect(ok.code).toBe(0);
  expect(ok.json.number).toMatchObject({ phone_number: phone, service_queue: 'geral', voice_url: `${FUNCTIONS}/voice/service` });
  const after = await twilio.incomingPhoneNumbers(bought.sid).fetch();
  expect([after.voiceUrl, after.voiceMethod, after.statusCallback?.startsWith(`${FUNCTIONS}/webhooks/call-status`)]).toEqual([`${FUNCTIONS}/voice/service`, 'POST', true]);
  expect((await sql(`select service_queue from phone_numbers where phone_number = $1`, [phone]))[0]).toEqual({ service_queue: 'geral' });

  const undo = await cli(numbers, ['set-service', phone, '--queue', 'none']);
  expect(undo.code).toBe(0);
  expect((await twilio.incomingPhoneNumbers(bought.sid).fetch()).voiceUrl).toBe(`${FUNCTIONS}/voice/inbound`);
  expect((await sql(`select service_queue from phone_numbers where phone_number = $1`, [phone]))[0]).toEqual({ service_queue: null });
});
