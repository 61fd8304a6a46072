/**
 * Follow-me through the Twilio emulator, the real functions and Postgres: a customer calls an
 * agent who cannot take the call on the page, and the call goes down the agent's chain —
 * the softphone, the mobile with screening (key 1 or not), then the agent's voicemail or the
 * service queue. Each hop's real ring time is the configured one (Twilio's 5 s buffer
 * accounted for), and each hop's outcome is a call event. This file runs its own stack so the
 * emulator is in this process.
 */
import { sql as sqlAt } from '../helpers/db';
import { startEmulatedStack, type EmulatedStack } from '../helpers/emulated-stack';
import { newMobile } from '../helpers/twilio';
import { run as numbers } from '../../scripts/numbers';
import { createTwilioClient } from '../../src/lib/runtime/twilio-client';
import type { TimelineEntry } from '../../emulator/voice/leg';

jest.setTimeout(60000);
let s: EmulatedStack;
const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, s.stack.env.DATABASE_URL);
const fb = () => s.stack.env.FUNCTIONS_BASE_URL;
let seq = 0;

beforeAll(async () => {
  s = await startEmulatedStack({ speed: 50 });
});
afterAll(async () => s?.stop());

interface Setup {
  client?: string | null;
  mobile?: string | null;
  softphoneSeconds?: number;
  mobileSeconds?: number;
  then?: 'voicemail' | 'queue';
}

/** An offline agent with a DID of their own pointed at /voice/inbound, and their follow-me settings. */
async function agent(o: Setup): Promise<{ id: number; did: string; client: string | null; mobile: string | null }> {
  seq += 1;
  const did = `+5511300${String(Math.floor(Math.random() * 90000) + 10000)}`;
  const client = o.client === undefined ? `fm${Date.now() % 1e6}x${seq}` : o.client;
  const mobile = o.mobile === undefined ? newMobile() : o.mobile;
  const [row] = await sql<{ id: string }>(
    `with a as (insert into agents (name, phone_number, client_identity, status) values ($1, null, $2, 'offline') returning id)
     insert into phone_numbers (phone_number, assigned_agent_id) select $3, id from a returning assigned_agent_id as id`,
    [`Agente ${seq}`, client, did],
  );
  const id = Number(row!.id);
  const r = await sql<{ r: { agent_id: number } }>(`select follow_me_set($1, $2, $3, $4, $5, $6) as r`, [
    String(id), mobile ?? '', o.softphoneSeconds ?? null, o.mobileSeconds ?? null, o.then ?? null, o.then === 'queue' ? 'geral' : null,
  ]);
  expect(r[0]!.r.agent_id).toBe(id);
  s.emulator.addNumber({ phoneNumber: did, voiceUrl: `${fb()}/voice/inbound`, statusCallback: `${fb()}/webhooks/call-status` });
  return { id, did, client, mobile };
}

const path = (e: TimelineEntry) => (e.url ?? '').replace(fb(), '');
const webhooks = (tl: TimelineEntry[]) => tl.filter((e) => e.type === 'webhook').map((e) => [path(e), e.httpStatus] as const);
const hopEvents = (sid: string) =>
  sql<{ key: string; outcome: string | null; accepted: boolean | null }>(
    `select dedupe_key as key, params->>'follow_me_outcome' as outcome, (params->>'screen_accepted')::boolean as accepted
       from call_events where call_sid = $1 and kind = 'dial' order by id`,
    [sid],
  );
/** What the agent's page shows (agent_poll as the agent): the waiting and missed call SIDs. */
async function page(agentId: number): Promise<{ waiting: string[]; missed: string[] }> {
  const token = `${agentId}`.padStart(64, 'f');
  await sql(
    `with u as (insert into users (email, name, role, agent_id)
                select $1, 'Agente', 'agent', $2 where not exists (select 1 from users where agent_id = $2) returning id)
     insert into sessions (user_id, token_hash, expires_at) select id, $3, now() + interval '1 hour' from u`,
    [`fm-agent-${agentId}@x.br`, agentId, token],
  );
  const [r] = await sql<{ p: { waiting: { call_sid: string }[]; missed: { call_sid: string }[]; error?: string } }>('select agent_poll($1, 3600, 20) as p', [token]);
  expect(r!.p.error).toBeUndefined();
  return { waiting: r!.p.waiting.map((w) => w.call_sid), missed: r!.p.missed.map((m) => m.call_sid) };
}
const errors = (tl: TimelineEntry[]) => tl.filter((e) => e.type === 'error').map((e) => e.text);

describe('follow-me', () => {
  it('the mobile presses 1: bridged with the customer; the ring times are the configured ones', async () => {
    const a = await agent({ softphoneSeconds: 12, mobileSeconds: 15 });
    const customer = newMobile('21');
    s.emulator.addParty({ number: `client:${a.client}`, outcome: 'no-answer' });
    s.emulator.addParty({ number: a.mobile!, answerAfter: 2, gather: ['1'], talkSeconds: 10 });
    const sid = await s.emulator.placeInboundCall({ from: customer, to: a.did });
    await s.emulator.waitForCall(sid);
    const tl = s.emulator.timeline(sid, { children: true });
    expect(errors(tl)).toEqual([]);
    expect(s.emulator.contractViolations()).toEqual([]);

    const hooks = webhooks(tl);
    expect(hooks).toEqual(expect.arrayContaining([
      ['/voice/inbound', 200],
      [`/voice/follow-me?agent=${a.id}&hop=softphone`, 200],
      [`/voice/screen?agent=${a.id}`, 200],
      [`/voice/screen?agent=${a.id}&step=key`, 200],
      [`/voice/follow-me?agent=${a.id}&hop=mobile`, 200],
    ]));
    // The softphone rang 12 s in real (virtual) time: Dial timeout 7 + Twilio's 5 s buffer.
    const own = s.emulator.timeline(sid);
    const dials = own.filter((e) => e.type === 'verb' && e.verb === 'Dial' && e.attrs);
    expect(dials.map((d) => d.attrs!['timeout'])).toEqual(['7', '10']);
    const softphoneEnd = own.find((e) => e.type === 'webhook' && path(e).endsWith('hop=softphone'))!;
    const rang = (softphoneEnd.t - dials[0]!.t) / 1000;
    expect(rang).toBeGreaterThanOrEqual(11.5);
    expect(rang).toBeLessThan(13.5);
    // The mobile heard the agent's name before anything was bridged.
    expect(tl.some((e) => e.verb === 'Say' && e.content === `Ligação para Agente ${seq}; digite 1 para atender.`)).toBe(true);

    const [call] = await sql('select status, agent_id::int as agent, answered_at is not null as answered from calls where call_sid = $1', [sid]);
    expect(call).toEqual({ status: 'completed', agent: a.id, answered: true });
    expect(await hopEvents(sid)).toEqual([
      { key: 'dial:follow-me:softphone', outcome: 'no-answer', accepted: null },
      { key: 'dial:follow-me:screen', outcome: null, accepted: true },
      { key: 'dial:follow-me:mobile', outcome: 'answered', accepted: null },
    ]);
    // The follow-me leaves the agent's state alone, and the bridged talk was recorded as the agent's call.
    expect(await sql('select status from agents where id = $1', [a.id])).toEqual([{ status: 'offline' }]);
    expect(await sql('select kind, agent_id::int as agent, channels from recordings where call_sid = $1', [sid])).toEqual([{ kind: 'call', agent: a.id, channels: 2 }]);
    // The agent talked to the caller: not a missed call on their page.
    expect(await sql('select owner_agent_id::int as owner, follow_me_answered_at is not null as fm from calls where call_sid = $1', [sid])).toEqual([{ owner: a.id, fm: true }]);
    expect((await page(a.id)).missed).not.toContain(sid);
  });

  it("the mobile's own voicemail answers and presses nothing: no answer, then the customer leaves a voicemail for the agent", async () => {
    const a = await agent({ softphoneSeconds: 10, mobileSeconds: 20 });
    const customer = newMobile('21');
    s.emulator.addParty({ number: customer, record: { speakSeconds: 5, then: 'hangup' } });
    s.emulator.addParty({ number: `client:${a.client}`, outcome: 'no-answer' });
    s.emulator.addParty({ number: a.mobile!, answerAfter: 6, kind: 'machine', gather: [null] });
    const sid = await s.emulator.placeInboundCall({ from: customer, to: a.did });
    await s.emulator.waitForCall(sid);
    const tl = s.emulator.timeline(sid, { children: true });
    expect(errors(tl)).toEqual([]);

    const mobileEnd = tl.find((e) => e.type === 'webhook' && path(e).endsWith('hop=mobile'))!;
    expect(mobileEnd.params?.['DialCallStatus']).toBe('no-answer');
    expect(tl.some((e) => e.type === 'webhook' && path(e) === `/voice/screen?agent=${a.id}&step=key`)).toBe(false);
    const record = tl.find((e) => e.type === 'verb' && e.verb === 'Record' && e.attrs)!;
    expect(record.attrs).toMatchObject({ playBeep: 'true', trim: 'trim-silence', recordingStatusCallback: `${fb()}/webhooks/recording?kind=voicemail&agent=${a.id}` });

    expect(await hopEvents(sid)).toEqual([
      { key: 'dial:follow-me:softphone', outcome: 'no-answer', accepted: null },
      { key: 'dial:follow-me:mobile', outcome: 'no-answer', accepted: null },
    ]);
    // The voicemail is the agent's (kind and agent from the call here; /webhooks/recording's
    // kind/agent query parameters carry the same owner).
    const rows = await sql<{ kind: string; agent: number; duration: number }>('select kind, agent_id::int as agent, duration from recordings where call_sid = $1', [sid]);
    expect(rows).toEqual([{ kind: 'voicemail', agent: a.id, duration: expect.any(Number) }]);
    expect(rows[0]!.duration).toBeGreaterThan(0);
    // Nobody took the call: it has no agent, its owner sees it as missed, with the voicemail.
    expect(await sql('select agent_id, owner_agent_id::int as owner from calls where call_sid = $1', [sid])).toEqual([{ agent_id: null, owner: a.id }]);
    expect((await page(a.id)).missed).toContain(sid);
  });

  it("while the agent talks on the mobile the caller is not 'waiting' on the page; after, not 'missed'", async () => {
    const a = await agent({});
    const sid = `CA${Date.now().toString(16).padStart(32, '0')}`;
    const customer = newMobile('21');
    const ev = (status: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ call_sid: sid, call_status: status, direction: 'inbound', from: customer, to: a.did, params: {}, ...extra });
    const [start] = await sql<{ r: { route: string } }>('select start_inbound_call($1::jsonb) as r', [ev('ringing')]);
    expect(start!.r.route).toBe('follow-me');
    await sql(`select follow_me_hop_ended($1::jsonb, $2, 'softphone', 'no-answer')`, [ev('in-progress'), a.id]);
    expect((await page(a.id)).waiting).toContain(sid);
    // The mobile pressed 1: bridged, talking.
    await sql(`select follow_me_screen($1, $2, '1')`, [a.id, sid]);
    expect((await page(a.id)).waiting).not.toContain(sid);
    await sql(`select follow_me_hop_ended($1::jsonb, $2, 'mobile', 'answered')`, [ev('in-progress'), a.id]);
    await sql(`select apply_call_event($1::jsonb)`, [ev('completed', { kind: 'status', dedupe_key: 'status:completed', params: { CallDuration: '120' } })]);
    expect(await page(a.id)).toEqual({ waiting: [], missed: expect.not.arrayContaining([sid]) });
    expect(await sql('select agent_id::int as agent from calls where call_sid = $1', [sid])).toEqual([{ agent: a.id }]);
  });

  it("handed to the queue and answered there by another agent: that agent's call and recording, not the owner's", async () => {
    const a = await agent({ client: null, mobile: null, then: 'queue' });
    const [b] = await sql<{ id: string }>(`insert into agents (name, client_identity, status) values ('Servidor B', $1, 'available') returning id`, [`srvb${Date.now() % 1e6}`]);
    const bId = Number(b!.id);
    const sid = `CA${(Date.now() + 7).toString(16).padStart(32, '0')}`;
    const customer = newMobile('21');
    const ev = JSON.stringify({ call_sid: sid, call_status: 'ringing', direction: 'inbound', from: customer, to: a.did, params: {} });
    const [start] = await sql<{ r: { route: string; follow_me: { final: unknown } } }>('select start_inbound_call($1::jsonb) as r', [ev]);
    expect(start!.r).toMatchObject({ route: 'follow-me', follow_me: { final: { kind: 'queue', queue: 'geral' } } });
    expect(await sql('select agent_id, owner_agent_id::int as owner from calls where call_sid = $1', [sid])).toEqual([{ agent_id: null, owner: a.id }]);
    // While it waits in the queue the owner sees the caller waiting.
    await sql(`update calls set status = 'in-progress' where call_sid = $1`, [sid]);
    expect((await page(a.id)).waiting).toContain(sid);
    // The queue reserves B and B's room takes the customer (what /voice/queue-connect and the
    // conference's join do).
    await sql(`select agent_transition($1, 'reserved', null, 'system', null, $2)`, [bId, sid]);
    await sql(`select agent_customer_joined($1, $2)`, [bId, sid]);
    expect(await sql('select agent_id::int as agent, owner_agent_id::int as owner from calls where call_sid = $1', [sid])).toEqual([{ agent: bId, owner: a.id }]);
    expect((await page(a.id)).waiting).not.toContain(sid);
    await sql(
      `select recording_status($1::jsonb)`,
      [JSON.stringify({ recording_sid: `RE${sid.slice(2)}`, call_sid: sid, status: 'completed', duration: '300', source: 'StartCallRecordingAPI', channels: '2', params: {} })],
    );
    const [rec] = await sql<{ agent: number; a_may: boolean; b_may: boolean }>(
      `select agent_id::int as agent, recording_permitted('agent', $2, r) as a_may, recording_permitted('agent', $3, r) as b_may
         from recordings r where call_sid = $1`,
      [sid, a.id, bId],
    );
    expect(rec).toEqual({ agent: bId, a_may: false, b_may: true });
    await sql(`select apply_call_event($1::jsonb)`, [JSON.stringify({ call_sid: sid, call_status: 'completed', direction: 'inbound', from: customer, to: a.did, kind: 'status', dedupe_key: 'status:completed', params: {} })]);
    // B talked to the caller: missed for nobody.
    expect((await page(a.id)).missed).not.toContain(sid);
    expect((await page(bId)).missed).not.toContain(sid);
  });

  it('the softphone answers at hop 1: the mobile never rings', async () => {
    const a = await agent({});
    const customer = newMobile('21');
    s.emulator.addParty({ number: `client:${a.client}`, answerAfter: 3, talkSeconds: 8 });
    s.emulator.addParty({ number: a.mobile!, answerAfter: 1, gather: ['1'] });
    const sid = await s.emulator.placeInboundCall({ from: customer, to: a.did });
    await s.emulator.waitForCall(sid);
    const tl = s.emulator.timeline(sid, { children: true });
    expect(errors(tl)).toEqual([]);
    expect(s.emulator.calls().some((c) => c.to === a.mobile)).toBe(false);
    expect(webhooks(tl).filter(([p]) => p.startsWith('/voice/follow-me') || p.startsWith('/voice/screen'))).toEqual([[`/voice/follow-me?agent=${a.id}&hop=softphone`, 200]]);
    expect(await hopEvents(sid)).toEqual([{ key: 'dial:follow-me:softphone', outcome: 'answered', accepted: null }]);
    expect(await sql('select status, answered_at is not null as answered from calls where call_sid = $1', [sid])).toEqual([{ status: 'completed', answered: true }]);
  });

  it('an agent without a softphone starts at the mobile; busy moves on; the last hop redirects to the service queue', async () => {
    const a = await agent({ client: null, then: 'queue' });
    const customer = newMobile('21');
    s.emulator.addParty({ number: a.mobile!, outcome: 'busy', answerAfter: 1 });
    const sid = await s.emulator.placeInboundCall({ from: customer, to: a.did });
    await s.emulator.waitForCall(sid);
    const own = s.emulator.timeline(sid);
    const redirect = own.find((e) => e.type === 'verb' && e.verb === 'Redirect');
    expect(redirect?.content ?? redirect?.text).toContain(`/voice/queue?queue=geral&agent=${a.id}`);
    expect(webhooks(own).map(([p]) => p)).toEqual(expect.arrayContaining(['/voice/inbound', `/voice/follow-me?agent=${a.id}&hop=mobile`]));
    // Twilio then requests the queue's URL (/voice/queue is the service queue's function).
    expect(own.some((e) => (e.type === 'webhook' || e.type === 'error') && path(e) === `/voice/queue?queue=geral&agent=${a.id}`)).toBe(true);
    expect(await hopEvents(sid)).toEqual([{ key: 'dial:follow-me:mobile', outcome: 'busy', accepted: null }]);
  });

  it('a service number nobody owns, pointed at /voice/inbound (as `numbers point all` leaves it), still sends its callers to its queue after the disclaimer', async () => {
    const did = `+5511300${String(Math.floor(Math.random() * 90000) + 10000)}`;
    await sql(`insert into phone_numbers (phone_number, service_queue) values ($1, 'geral')`, [did]);
    s.emulator.addNumber({ phoneNumber: did, voiceUrl: `${fb()}/voice/inbound`, statusCallback: `${fb()}/webhooks/call-status` });
    const sid = await s.emulator.placeInboundCall({ from: newMobile('21'), to: did });
    await s.emulator.waitForCall(sid);
    const own = s.emulator.timeline(sid);
    const verbs = own.filter((e) => e.type === 'verb').map((e) => e.verb);
    // the disclaimer (Say or Play) first, then the redirect to the queue
    expect(verbs.slice(0, 2)).toEqual([expect.stringMatching(/^(Say|Play)$/), 'Redirect']);
    const redirect = own.find((e) => e.type === 'verb' && e.verb === 'Redirect');
    expect(redirect?.content ?? redirect?.text).toContain('/voice/queue?queue=geral');
    expect(own.some((e) => (e.type === 'webhook' || e.type === 'error') && path(e) === '/voice/queue?queue=geral')).toBe(true);

    // `numbers point` keeps a service number on /voice/service when it can read the pool.
    const out: string[] = [];
    const code = await numbers(['point', did, '--json'], {
      TWILIO_ACCOUNT_SID: s.stack.env.TWILIO_ACCOUNT_SID,
      TWILIO_AUTH_TOKEN: s.stack.env.TWILIO_AUTH_TOKEN,
      TWILIO_API_BASE_URL: s.emulator.url,
      FUNCTIONS_BASE_URL: fb(),
      SUPABASE_URL: s.stack.env.SUPABASE_URL,
      SUPABASE_SERVICE_ROLE_KEY: s.stack.env.SUPABASE_SERVICE_ROLE_KEY,
    }, { out: (l) => out.push(l), err: (l) => out.push(l) });
    expect({ code, out }).toMatchObject({ code: 0 });
    const tw = createTwilioClient(s.stack.env.TWILIO_ACCOUNT_SID!, s.stack.env.TWILIO_AUTH_TOKEN!, s.emulator.url);
    const [n] = (await tw.incomingPhoneNumbers.list({ phoneNumber: did })).filter((x) => x.phoneNumber === did);
    expect([n!.voiceUrl, n!.smsUrl]).toEqual([`${fb()}/voice/service`, `${fb()}/webhooks/sms`]);
  });

  it('an agent working from the page (shift leg) is not rung on the softphone: straight to the mobile', async () => {
    const a = await agent({});
    await sql(`update agents set shift_call_sid = 'CA' || md5(random()::text), status = 'paused' where id = $1`, [a.id]);
    const [d] = await sql<{ r: { route: string; follow_me: { hops: { kind: string }[] } } }>(
      `select start_inbound_call(jsonb_build_object('call_sid', 'CA' || md5(random()::text), 'call_status', 'ringing', 'direction', 'inbound',
         'from', $1::text, 'to', $2::text, 'params', '{}'::jsonb)) as r`,
      [newMobile('21'), a.did],
    );
    expect(d!.r.route).toBe('follow-me');
    expect(d!.r.follow_me.hops.map((h) => h.kind)).toEqual(['mobile']);
  });
});
