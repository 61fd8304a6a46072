/**
 * The pacer on the emulated stack: /api/tick's HMAC (bad, old, missing → 401 and nothing
 * dialed), a power campaign dialed through the real functions with async AMD (the Calls create
 * request as the emulator received it), racing heartbeats that never over-dial, a supervisor's
 * "dial now", and every event trigger starting a round (pacer_rounds.trigger): agent status,
 * agent poll, disposition, a campaign call's final status.
 *
 * The functions reach the emulator through a recording proxy in this process, so the test
 * reads each Calls create request exactly as Twilio would receive it. The emulator runs in real
 * time, so calls to parties that never answer keep ringing through the test.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL } from '../../stack/defaults';
import { startEmulator, type Emulator } from '../../emulator';
import { tickHeader } from '../../src/lib/domain/dialer/tick-auth';
import { sql as sqlAt } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { newCallSid } from '../helpers/twilio';

jest.setTimeout(60000);

let emulator: Emulator;
let stack: StackProcess;
let proxy: Server;
/** Calls create requests the functions sent (form fields). */
const creates: URLSearchParams[] = [];

const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, stack.env.DATABASE_URL);
const fb = () => stack.env.FUNCTIONS_BASE_URL;

beforeAll(async () => {
  emulator = await startEmulator({ speed: 1, accountSid: LOCAL.accountSid, authToken: LOCAL.authToken, cps: 20 });
  proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && /\/Calls\.json$/.test(req.url ?? '')) creates.push(new URLSearchParams(body.toString()));
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      fetch(emulator.url + (req.url ?? '/'), { method: req.method, headers, ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body }) })
        .then(async (r) => {
          const out = Buffer.from(await r.arrayBuffer());
          res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
          res.end(out);
        })
        .catch((e: unknown) => {
          res.writeHead(502);
          res.end(String(e));
        });
    });
  });
  await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  stack = await startStackProcess(['--twilio-url', proxyUrl, '--functions-env', 'ACCOUNT_CPS=20']);
  // The pool's numbers (the seed's) belong to the emulator's account, as on a real account.
  for (const n of await sql<{ phone_number: string }>(`select phone_number from phone_numbers where is_active`)) emulator.addNumber({ phoneNumber: n.phone_number });
}, 120000);

afterAll(async () => {
  await stack?.stop();
  await emulator?.stop();
  await new Promise((r) => proxy?.close(r));
});

const ALWAYS_OPEN = {
  window_profile: 'custom', weekday_start: '00:00', weekday_end: '24:00', saturday_start: '00:00', saturday_end: '24:00',
  allow_sunday: true, sunday_start: '00:00', sunday_end: '24:00', skip_holidays: false,
};

/** A running power campaign with its own pool number (owned by the emulator's account). */
async function campaign(over: Record<string, unknown> = {}): Promise<number> {
  const cols = { name: `pacer-live-${randomBytes(4).toString('hex')}`, status: 'active', mode: 'power', dial_ratio: 1, calls_per_second: 20, ...ALWAYS_OPEN, ...over };
  const keys = Object.keys(cols);
  const [row] = await sql<{ id: string }>(`insert into campaigns (${keys.join(', ')}) values (${keys.map((_, i) => `$${i + 1}`).join(', ')}) returning id`, Object.values(cols));
  const number = `+551132${randomInt(100000, 999999)}`;
  await sql(`insert into phone_numbers (phone_number, daily_cap) values ($1, 100000)`, [number]);
  emulator.addNumber({ phoneNumber: number });
  return Number(row!.id);
}

let seq = randomInt(1_000_000, 8_000_000);
/** Leads whose numbers ring without answering (or behave as `outcome` says). */
async function leads(campaignId: number, n: number, outcome: 'no-answer' | 'busy' = 'no-answer'): Promise<string[]> {
  const phones: string[] = [];
  for (let i = 0; i < n; i++) {
    const phone = `+55119${String(seq++).padStart(8, '0')}`;
    emulator.addParty({ number: phone, outcome });
    await sql(`insert into leads (campaign_id, phone_number, name) values ($1, $2, $3)`, [campaignId, phone, `Lead ${i}`]);
    phones.push(phone);
  }
  return phones;
}

/** An agent of the campaign, routable (shift leg in the room, page polled just now), with a login. */
async function agent(campaignId: number, status = 'available', role: 'agent' | 'supervisor' = 'agent'): Promise<{ id: number; token: string }> {
  const tag = randomBytes(4).toString('hex');
  const [a] = await sql<{ id: string }>(
    `insert into agents (name, campaign_id, status, shift_call_sid, last_seen_at, pause_reason) values ($1, $2, $3, $4, now(), case when $3 = 'paused' then 'Intervalo' end) returning id`,
    [`Agente ${tag}`, campaignId, status, newCallSid()],
  );
  const id = Number(a!.id);
  const [u] = await sql<{ id: string }>(`insert into users (email, name, role, agent_id) values ($1, $2, $3, $4) returning id`, [`${tag}@pacer.test`, `Pessoa ${tag}`, role, role === 'agent' ? id : null]);
  const token = randomBytes(32).toString('base64url');
  await sql(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '12 hours')`, [u!.id, createHash('sha256').update(token).digest('hex')]);
  return { id, token };
}

async function postTick(headers: Record<string, string>, body: Record<string, unknown> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${fb()}/api/tick`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
const heartbeat = () => ({ 'x-discador-tick': tickHeader(stack.env.TICK_SECRET) });
const callsOf = (c: number) => sql<{ id: string; call_sid: string | null; to_number: string; status: string }>(`select id, call_sid, to_number, status from calls where campaign_id = $1 order by id`, [c]);
const roundsOf = (c: number) => sql<{ trigger: string; placed: number; reason: string }>(`select trigger, placed, reason from pacer_rounds where campaign_id = $1 order by id`, [c]);

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('/api/tick', () => {
  it('a bad, old or missing credential is 401 and nothing is dialed; the heartbeat then dials with async AMD', async () => {
    const c = await campaign();
    await agent(c);
    await agent(c);
    await leads(c, 4);
    const secret = stack.env.TICK_SECRET;
    expect(secret.length).toBeGreaterThanOrEqual(32);

    const refusals = [
      await postTick({ 'x-discador-tick': tickHeader('x'.repeat(40)) }),
      await postTick({ 'x-discador-tick': tickHeader(secret, Date.now() - 120_000) }),
      await postTick({}),
      await postTick({}, { t: Math.floor(Date.now() / 1000), v1: 'f'.repeat(64) }),
    ];
    expect(refusals.map((r) => [r.status, r.json['error']])).toEqual([
      [401, 'tick_bad_signature'],
      [401, 'tick_stale'],
      [401, 'unauthenticated'],
      [401, 'tick_bad_signature'],
    ]);
    expect(await callsOf(c)).toEqual([]);
    expect(await roundsOf(c)).toEqual([]);

    const before = creates.length;
    const ok = await postTick(heartbeat(), { campaign_id: c });
    expect(ok.status).toBe(200);
    expect(ok.json['rounds']).toEqual([{ campaign_id: c, dial: 2, wanted: 2, claimed: 2, placed: 2, reason: 'power_ratio' }]);
    const rows = await callsOf(c);
    expect(rows).toHaveLength(2);
    const sent = creates.slice(before);
    expect(sent).toHaveLength(2);
    for (const row of rows) {
      expect(row.call_sid).toMatch(/^CA[0-9a-f]{32}$/);
      const req = sent.find((p) => p.get('To') === row.to_number)!;
      expect(req).toBeDefined();
      expect(req.get('Url')).toBe(`${fb()}/voice/outbound?attempt=${row.id}`);
      expect(req.get('MachineDetection')).toBe('Enable');
      expect(req.get('AsyncAmd')).toBe('true');
      expect(req.get('AsyncAmdStatusCallback')).toBe(`${fb()}/webhooks/amd?attempt=${row.id}`);
      expect(req.get('AsyncAmdStatusCallbackMethod')).toBe('POST');
      expect(req.get('Timeout')).toBe('28');
      expect(req.get('StatusCallback')).toContain(`/webhooks/call-status?attempt=${row.id}#`);
      // The emulator placed it: the leg exists and rings (the party never answers).
      const leg = emulator.calls().find((l) => l.sid === row.call_sid);
      expect(leg?.to).toBe(row.to_number);
    }
    expect(emulator.contractViolations()).toEqual([]);
    expect(await roundsOf(c)).toEqual([{ trigger: 'heartbeat', placed: 2, reason: 'power_ratio' }]);
  });

  it('racing heartbeats never over-dial: the calls created are what one decision asked for', async () => {
    const c = await campaign({ dial_ratio: 2 });
    await agent(c);
    await agent(c);
    await leads(c, 10);
    const answers = await Promise.all(Array.from({ length: 5 }, () => postTick(heartbeat(), { campaign_id: c })));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const placed = answers.flatMap((a) => a.json['rounds'] as { placed: number }[]).reduce((n, r) => n + r.placed, 0);
    expect(placed).toBe(4);
    expect(await callsOf(c)).toHaveLength(4);
  });

  it('a supervisor may start a round; an agent may not', async () => {
    const c = await campaign();
    const worker = await agent(c);
    await leads(c, 1);
    const sup = await agent(c, 'offline', 'supervisor');
    expect((await postTick({ authorization: `Bearer ${worker.token}` }, { campaign_id: c })).status).toBe(403);
    const r = await postTick({ authorization: `Bearer ${sup.token}` }, { campaign_id: c });
    expect(r.status).toBe(200);
    expect(r.json['rounds']).toEqual([expect.objectContaining({ campaign_id: c, placed: 1 })]);
    expect(await roundsOf(c)).toEqual([{ trigger: 'campaign', placed: 1, reason: 'power_ratio' }]);
  });
});

describe('event triggers', () => {
  async function api(path: string, token: string, body?: unknown): Promise<number> {
    const res = await fetch(`${fb()}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    await res.text();
    return res.status;
  }

  it('an agent going available starts a round that dials for them', async () => {
    const c = await campaign();
    const a = await agent(c, 'paused');
    await leads(c, 2);
    expect(await api('/api/agent/status', a.token, { status: 'available' })).toBe(200);
    expect(await roundsOf(c)).toEqual([{ trigger: 'agent_status', placed: 1, reason: 'power_ratio' }]);
    expect(await callsOf(c)).toHaveLength(1);
  });

  it("the agent page's poll starts a round, at most once per TICK_POLL_MIN_SECONDS", async () => {
    const c = await campaign();
    const a = await agent(c);
    await leads(c, 3);
    expect(await api('/api/agent/state', a.token)).toBe(200);
    expect(await api('/api/agent/state', a.token)).toBe(200);
    expect(await roundsOf(c)).toEqual([{ trigger: 'poll', placed: 1, reason: 'power_ratio' }]);
  });

  it('a disposition starts a round', async () => {
    const c = await campaign();
    const a = await agent(c, 'wrap_up');
    const sid = newCallSid();
    await sql(`insert into calls (call_sid, direction, campaign_id, agent_id, status, to_number) values ($1, 'outbound-api', $2, $3, 'completed', '+5511955550002')`, [sid, c, a.id]);
    expect(await api('/api/agent/disposition', a.token, { call_sid: sid, code: 'acordo' })).toBe(200);
    expect((await roundsOf(c)).map((r) => r.trigger)).toEqual(['wrap_up']);
  });

  it("a campaign call's final status starts a round for its campaign", async () => {
    const c = await campaign();
    await agent(c);
    await leads(c, 1, 'busy');
    await leads(c, 1);
    const r = await postTick(heartbeat(), { campaign_id: c });
    expect(r.json['rounds']).toEqual([expect.objectContaining({ placed: 1 })]);
    // The busy lead's call ends at once; its status callback frees the line and a round places the next lead.
    const rounds = await until('a call_ended round', async () => {
      const rs = await roundsOf(c);
      return rs.some((x) => x.trigger === 'call_ended') ? rs : undefined;
    });
    expect(rounds[0]).toEqual({ trigger: 'heartbeat', placed: 1, reason: 'power_ratio' });
    expect(rounds.find((x) => x.trigger === 'call_ended')).toEqual({ trigger: 'call_ended', placed: 1, reason: 'power_ratio' });
    expect((await callsOf(c)).map((x) => x.status)).toEqual(['busy', expect.stringMatching(/^(queued|initiated|ringing)$/)]);
  });
});
