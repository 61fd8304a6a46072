/**
 * The shipped queue scenarios (emulator/scenarios/discador/queue-*.json), run by the sim
 * against a local stack whose functions call the scenario's emulator (same port): each passes
 * its expectations, and the queue entries, leads and agent land in Postgres as they should.
 * What the scenario format cannot say (queues, service numbers, the agent's login and page)
 * is done here around it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { freePort } from '../../stack/ports';
import { join } from 'node:path';
import { LOCAL } from '../../stack/defaults';
import { startEmulator } from '../../emulator';
import { loadScenario, runScenario, type ScenarioResult } from '../../emulator/scenario';
import { sql as sqlAt } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';

jest.setTimeout(90000);
let stack: StackProcess;
let port: number;
const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, stack.env.DATABASE_URL);
const dir = join(__dirname, '../../emulator/scenarios/discador');

beforeAll(async () => {
  port = await freePort();
  // The stack provisions the softphone on the emulator it is given when it starts: an emulator
  // holds the port until then; each scenario then runs its own fresh emulator on that port.
  const placeholder = await startEmulator({ port, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken });
  try {
    stack = await startStackProcess(['--twilio-url', `http://127.0.0.1:${port}`]);
  } finally {
    await placeholder.stop();
  }
});
afterAll(async () => stack?.stop());

async function run(file: string): Promise<ScenarioResult> {
  return runScenario(loadScenario(join(dir, file)), {
    appUrl: stack.env.FUNCTIONS_BASE_URL, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken, port, quiet: true,
  });
}
async function serviceNumber(number: string, queue: string): Promise<void> {
  await sql(`insert into phone_numbers (phone_number) values ($1) on conflict do nothing`, [number]);
  await sql(`select phone_number_set_service($1, $2)`, [number, queue]);
}
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const entries = (queue: string) =>
  sql<{ call_sid: string; result: string | null; agent_id: string | null; waited_seconds: number | null; callback_lead_id: string | null; from_number: string }>(
    `select call_sid, result, agent_id, waited_seconds, callback_lead_id, from_number from queue_entries where queue_name = $1 order by id`,
    [queue],
  );

it('queue-agent-frees.json: announcements, then Bia becomes available and the caller is in her room, answered and recorded', async () => {
  const [a] = await sql<{ id: string }>(`insert into agents (name, client_identity, status) values ('Bia Fila', 'bia_fila', 'offline') returning id`);
  const agentId = Number(a!.id);
  const [u] = await sql<{ id: string }>(`insert into users (email, name, role, agent_id) values ('bia.fila@discador.test', 'Bia', 'agent', $1) returning id`, [agentId]);
  const token = randomBytes(32).toString('base64url');
  await sql(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '1 hour')`, [u!.id, createHash('sha256').update(token).digest('hex')]);
  await sql(`select queue_set($1::jsonb)`, [JSON.stringify({ name: 'suporte', agent_ids: [agentId], announce_every_seconds: 20 })]);
  await serviceNumber('+551130007100', 'suporte');

  const running = run('queue-agent-frees.json');
  // Her page: once the caller has waited a while (an announcement and some music), she goes available.
  const waiting = await until('caller in queue suporte', async () => ((await entries('suporte'))[0] ? (await entries('suporte'))[0] : undefined));
  await until('shift leg in the room', async () =>
    (await sql<{ shift_call_sid: string | null }>(`select shift_call_sid from agents where id = $1`, [agentId]))[0]!.shift_call_sid ? true : undefined,
  );
  await new Promise((r) => setTimeout(r, 1500));
  expect((await entries('suporte'))[0]).toMatchObject({ result: null, agent_id: null });
  await sql(`update agents set last_seen_at = now() where id = $1`, [agentId]);
  const res = await fetch(`${stack.env.FUNCTIONS_BASE_URL}/api/agent/status`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ status: 'available' }),
  });
  expect(res.status).toBe(200);

  const result = await running;
  expect(result.failures).toEqual([]);
  expect(result.ok).toBe(true);
  const sid = result.callSids['customer'];
  expect(waiting.call_sid).toBe(sid);
  const [e] = await entries('suporte');
  expect(e).toMatchObject({ call_sid: sid, result: 'answered', agent_id: String(agentId), from_number: '+5521987650001' });
  expect(e!.waited_seconds).toBeGreaterThanOrEqual(1);
  const [call] = await sql(`select direction, status, agent_id from calls where call_sid = $1`, [sid]);
  expect(call).toEqual({ direction: 'inbound', status: 'completed', agent_id: String(agentId) });
  const [rec] = await sql(`select channels, source from recordings where call_sid = $1`, [sid]);
  expect(rec).toEqual({ channels: 2, source: 'StartCallRecordingAPI' });
});

it('queue-timeout-voicemail.json: at the max wait the caller leaves the queue a voicemail', async () => {
  const [ghost] = await sql<{ id: string }>(`insert into agents (name, status) values ('ninguém', 'offline') returning id`);
  await sql(`select queue_set($1::jsonb)`, [JSON.stringify({ name: 'cobranca', agent_ids: [Number(ghost!.id)], max_wait_seconds: 30, on_max_wait: 'voicemail' })]);
  await serviceNumber('+551130007101', 'cobranca');
  const result = await run('queue-timeout-voicemail.json');
  expect(result.failures).toEqual([]);
  expect(result.ok).toBe(true);
  const [e] = await entries('cobranca');
  expect(e).toMatchObject({ call_sid: result.callSids['customer'], result: 'timeout' });
});

it('queue-callback.json: key 1 becomes a lead of the callback campaign, due now', async () => {
  const [ghost] = await sql<{ id: string }>(`insert into agents (name, status) values ('ninguém', 'offline') returning id`);
  const [k] = await sql<{ id: string }>(`insert into campaigns (name, status) values ('retorno-fila', 'active') returning id`);
  await sql(`select queue_set($1::jsonb)`, [JSON.stringify({ name: 'retorno', agent_ids: [Number(ghost!.id)], callback_campaign: 'retorno-fila' })]);
  await serviceNumber('+551130007102', 'retorno');
  const result = await run('queue-callback.json');
  expect(result.failures).toEqual([]);
  expect(result.ok).toBe(true);
  const [e] = await entries('retorno');
  expect(e).toMatchObject({ call_sid: result.callSids['customer'], result: 'callback' });
  const [lead] = await sql(`select campaign_id, phone_number, status, callback_at <= now() as due from leads where id = $1`, [e!.callback_lead_id]);
  expect(lead).toEqual({ campaign_id: k!.id, phone_number: '+5541987650003', status: 'pending', due: true });
});
