/**
 * The overflow queue through the Twilio emulator, the functions and the database: a caller of
 * a service number hears the disclaimer, waits with announcements and music, and is handed to
 * the agent who frees up (whisper to the agent alone, customer in the room, recorded
 * dual-channel, entry answered); the max wait ends in the queue's voicemail; key 1 schedules a
 * callback lead; hanging up is an abandon; and the hand-over's races (caller gone, agent gone,
 * two dispatchers at once). Runs its own stack with the emulator in this process.
 */
import { randomBytes } from 'node:crypto';
import { dispatchQueue, handOver, type Assignment } from '../../src/lib/domain/queue';
import { loadConfig } from '../../src/lib/runtime/config';
import { createDb } from '../../src/lib/runtime/db';
import { agentRoomStack, type RoomAgent } from '../helpers/agent-room-stack';
import type { EmulatedStack } from '../helpers/emulated-stack';
import { newMobile } from '../helpers/twilio';

jest.setTimeout(60000);
let s: EmulatedStack;
const SESSION_NUMBER = '+551130009890';
const { sql, fb, agentWithLogin, until, agentRow, statusIs, startShift, api } = agentRoomStack({ speed: 20, sessionNumber: SESSION_NUMBER, didPrefix: '+5511300096' }, (x) => (s = x));

let serviceSeq = 0;
/** A queue of its own served only by `agents` (none: an agent nobody routes to), and a service number pointed at /voice/service. */
async function serviceQueue(agents: number[], settings: Record<string, unknown> = {}): Promise<{ queue: string; number: string }> {
  const queue = `fila-${randomBytes(3).toString('hex')}`;
  const ids = agents.length ? agents : [Number((await sql<{ id: string }>(`insert into agents (name, status) values ('ninguém', 'offline') returning id`))[0]!.id)];
  await sql(`select queue_set($1::jsonb)`, [JSON.stringify({ name: queue, agent_ids: ids, ...settings })]);
  const number = `+5511300097${String(serviceSeq++).padStart(2, '0')}`;
  await sql(`insert into phone_numbers (phone_number) values ($1)`, [number]);
  await sql(`select phone_number_set_service($1, $2)`, [number, queue]);
  s.emulator.addNumber({ phoneNumber: number, voiceUrl: `${fb()}/voice/service`, statusCallback: `${fb()}/webhooks/call-status` });
  return { queue, number };
}
const entry = async (sid: string) =>
  (await sql<{ result: string | null; agent_id: string | null; waited_seconds: number | null; entered_at: Date; left_at: Date | null; callback_lead_id: string | null; queue_name: string; source: string }>(
    `select result, agent_id, waited_seconds, entered_at, left_at, callback_lead_id, queue_name, source from queue_entries where call_sid = $1 order by id desc limit 1`,
    [sid],
  ))[0];
const says = (sid: string) => s.emulator.timeline(sid).filter((e) => e.type === 'verb' && e.verb === 'Say').map((e) => e.content ?? '');
const verbs = (sid: string) => s.emulator.timeline(sid).filter((e) => e.type === 'verb').map((e) => e.verb);
const hooksTo = (path: string, sid?: string) => s.emulator.webhooks().filter((w) => w.url.startsWith(`${fb()}${path}`) && (sid === undefined || w.callSid === sid || w.params['CallSid'] === sid));
const hearsEachOther = (a: string, b: string) => s.emulator.hears(a).has(b) && s.emulator.hears(b).has(a);
async function paused(agent: RoomAgent): Promise<string> {
  const shift = await startShift(agent);
  await sql(`select agent_transition($1, 'paused', null, 'agent', null)`, [agent.id]);
  return shift;
}
/** The functions' view, in this process: config, database and the emulator's REST API. */
function deps() {
  const env = s.stack.env;
  const config = loadConfig({ SUPABASE_URL: env.SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: env.SUPABASE_SERVICE_ROLE_KEY, PUBLIC_BASE_URL: fb() });
  return { config, db: createDb({ url: env.SUPABASE_URL, serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY, timeoutMs: 5000 }), twilio: s.twilio as never };
}
async function waiting(sid: string): Promise<void> {
  await until('caller waiting in the queue', async () => (verbs(sid).includes('Enqueue') && hooksTo('/voice/queue-wait', sid).length ? true : undefined));
}

describe('a caller of a service number', () => {
  it('waits with announcements and music, then goes to the agent who frees up: whisper to the agent, customer in the room, recorded, entry answered', async () => {
    const agent = await agentWithLogin();
    const shift = await paused(agent);
    const { queue, number } = await serviceQueue([agent.id], { announce_every_seconds: 20 });
    const customer = newMobile('21');
    const sid = await s.emulator.placeInboundCall({ from: customer, to: number, party: { hangupAfter: 400 } });

    // Disclaimer, then the queue (the entry made after the disclaimer), with two announcements heard.
    await until('two announcements', async () => (says(sid).filter((t) => t.startsWith('Você é o próximo a ser atendido.')).length >= 2 ? true : undefined));
    expect(verbs(sid).slice(0, 3)).toEqual(['Play', 'Redirect', 'Enqueue']);
    expect(s.emulator.timeline(sid).find((e) => e.type === 'verb')?.content).toMatch(/\/disclaimer\.mp3$/);
    expect(s.emulator.timeline(sid).some((e) => e.type === 'verb' && e.verb === 'Play' && (e.content ?? '').endsWith('/queue-music.wav'))).toBe(true);
    expect(says(sid).find((t) => t.startsWith('Você é'))).toContain('Para deixar um recado, digite 2.');
    // About every 20 s (the setting), counting the announcement: music plays that fit, then a pause, never a whole play over.
    const at = s.emulator.timeline(sid).filter((x) => x.type === 'verb' && x.verb === 'Say' && (x.content ?? '').startsWith('Você é')).map((x) => x.t);
    expect(verbs(sid)).toContain('Pause');
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(17000);
    expect(at[1]! - at[0]!).toBeLessThan(23000);
    expect((await agentRow(agent.id)).status).toBe('paused');
    expect(await entry(sid)).toMatchObject({ queue_name: queue, source: 'service', result: null, agent_id: null });

    // The agent becomes available: nothing else to do.
    await sql(`update agents set last_seen_at = now() where id = $1`, [agent.id]);
    expect((await api('/api/agent/status', agent.token, { status: 'available' })).status).toBe(200);
    await until('customer and agent hear each other', async () => (hearsEachOther(sid, shift) ? true : undefined));

    const whisper = hooksTo('/voice/queue-whisper');
    expect(whisper).toHaveLength(1);
    const w = new URL(whisper[0]!.url);
    expect(w.searchParams.get('queue')).toBe(queue);
    expect(Number(w.searchParams.get('waited'))).toBeGreaterThanOrEqual(1);
    expect(whisper[0]!.body).toContain(`Cliente aguardando há`);
    expect(whisper[0]!.body).toContain(`fila ${queue}.`);
    // The whisper was played while the agent was alone, before the customer joined.
    const joined = s.emulator.timeline(sid).find((e) => e.type === 'conference' && e.text.startsWith(`joined conference agent-${agent.id} `));
    expect(joined).toBeDefined();
    expect(whisper[0]!.doneAt).toBeLessThanOrEqual(joined!.t);
    // Out of the queue by the redirect (the Enqueue action hears "redirected"), then the room.
    expect(hooksTo('/voice/queue-result', sid).map((h) => h.params['QueueResult'])).toEqual(['redirected']);
    expect(hooksTo('/voice/queue-connect', sid).map((h) => h.status)).toEqual([200]);
    // The room's participant-join callback makes the agent busy with this customer.
    await statusIs(agent.id, 'busy');
    expect((await agentRow(agent.id)).current_call_sid).toBe(sid);
    const e = await entry(sid);
    expect(e).toMatchObject({ result: 'answered', agent_id: String(agent.id) });
    expect(e!.waited_seconds).toBeGreaterThanOrEqual(1);
    // Recorded like every agent call: the customer leg's own dual-channel recording.
    const recs = s.emulator.recordings().filter((r) => r.callSid === sid);
    expect(recs.map((r) => [r.source, r.channels, r.track])).toEqual([['StartCallRecordingAPI', 2, 'both']]);

    await s.twilio.calls(sid).update({ status: 'completed' });
    await statusIs(agent.id, 'wrap_up');
  });

  it('with an agent free and nobody waiting longer, goes straight to the room after the disclaimer (whisper first)', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const { queue, number } = await serviceQueue([agent.id]);
    const sid = await s.emulator.placeInboundCall({ from: newMobile('27'), to: number, party: { hangupAfter: 60 } });
    await until('customer and agent hear each other', async () => (hearsEachOther(sid, shift) ? true : undefined));
    expect(verbs(sid)).not.toContain('Enqueue');
    const whisper = hooksTo('/voice/queue-whisper').filter((w) => new URL(w.url).searchParams.get('queue') === queue);
    expect(whisper).toHaveLength(1);
    const joined = s.emulator.timeline(sid).find((e) => e.type === 'conference' && e.text.startsWith(`joined conference agent-${agent.id} `));
    expect(whisper[0]!.doneAt).toBeLessThanOrEqual(joined!.t);
    expect(await entry(sid)).toMatchObject({ result: 'answered', agent_id: String(agent.id) });
    expect(s.emulator.recordings().filter((r) => r.callSid === sid)).toHaveLength(1);
    await s.twilio.calls(sid).update({ status: 'completed' });
  });

  it('at the max wait leaves a voicemail that is the queue’s', async () => {
    const { queue, number } = await serviceQueue([], { max_wait_seconds: 30, on_max_wait: 'voicemail' });
    const sid = await s.emulator.placeInboundCall({ from: newMobile('31'), to: number, party: { record: { speakSeconds: 4, then: 'hangup' } } });
    await s.emulator.waitForCall(sid);
    expect(verbs(sid)).toContain('Leave');
    expect(hooksTo('/voice/queue-result', sid).map((h) => h.params['QueueResult'])).toEqual(['leave']);
    const record = s.emulator.timeline(sid).find((x) => x.type === 'verb' && x.verb === 'Record');
    expect(record?.attrs?.['recordingStatusCallback']).toBe(`${fb()}/webhooks/recording?kind=voicemail&queue=${queue}`);
    const e = await entry(sid);
    expect(e).toMatchObject({ result: 'timeout' });
    expect(e!.waited_seconds).toBeGreaterThanOrEqual(1);
    // The voicemail's recording callback names the queue (the recording webhook files it as the queue's voicemail).
    const cb = await until('voicemail recording callback', async () =>
      s.emulator.webhooks().find((w) => w.purpose === 'recording' && w.params['CallSid'] === sid && w.params['RecordingStatus'] === 'completed'),
    );
    expect(cb.url).toBe(`${fb()}/webhooks/recording?kind=voicemail&queue=${queue}`);
  });

  it('pressing 1 asks for a callback: a lead of the callback campaign, due now; the entry ends as callback', async () => {
    const campaign = `retorno-${randomBytes(3).toString('hex')}`;
    await sql(`insert into campaigns (name, status) values ($1, 'active')`, [campaign]);
    const { queue, number } = await serviceQueue([], { callback_campaign: campaign });
    const customer = newMobile('41');
    const sid = await s.emulator.placeInboundCall({ from: customer, to: number, party: { gather: [{ digits: '1', afterSeconds: 8 }] } });
    await s.emulator.waitForCall(sid);
    expect(says(sid).find((t) => t.startsWith('Você é'))).toContain('Para receber uma ligação de volta, digite 1.');
    expect(hooksTo('/voice/queue-key', sid).map((h) => h.params['Digits'])).toEqual(['1']);
    expect(hooksTo('/voice/queue-result', sid).map((h) => h.params['QueueResult'])).toEqual(['leave']);
    expect(says(sid).at(-1)).toBe('Pronto. Vamos ligar para você em breve neste número. Obrigado e até logo.');
    const e = await entry(sid);
    expect(e).toMatchObject({ result: 'callback', queue_name: queue });
    const [lead] = await sql<{ phone_number: string; status: string; due: boolean; campaign: string }>(
      `select l.phone_number, l.status, l.callback_at <= now() as due, k.name as campaign from leads l join campaigns k on k.id = l.campaign_id where l.id = $1`,
      [e!.callback_lead_id],
    );
    expect(lead).toEqual({ phone_number: customer, status: 'pending', due: true, campaign });
  });

  it('hanging up while waiting is an abandon in the queue', async () => {
    const { number } = await serviceQueue([]);
    const sid = await s.emulator.placeInboundCall({ from: newMobile('51'), to: number, party: { hangupAfter: 25 } });
    await s.emulator.waitForCall(sid);
    expect(hooksTo('/voice/queue-result', sid).map((h) => h.params['QueueResult'])).toEqual(['hangup']);
    const e = await until('entry ended', async () => ((await entry(sid))?.result ? entry(sid) : undefined));
    expect(e).toMatchObject({ result: 'abandoned' });
  });
});

describe('other ways in and other triggers', () => {
  it("an agent's wrap-up running out (noticed by their page's poll) hands them the waiting caller", async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const { number } = await serviceQueue([agent.id]);
    await sql(`select agent_transition($1, 'wrap_up', null, 'system', null, null, 600)`, [agent.id]);
    const sid = await s.emulator.placeInboundCall({ from: newMobile('11'), to: number, party: { hangupAfter: 400 } });
    await waiting(sid);
    expect((await agentRow(agent.id)).status).toBe('wrap_up');
    await sql(`update agents set wrap_up_until = now() - interval '1 second', last_seen_at = now() where id = $1`, [agent.id]);
    const poll = await fetch(`${fb()}/api/agent/state`, { headers: { authorization: `Bearer ${agent.token}` } });
    expect(poll.status).toBe(200);
    await until('customer with the agent', async () => (hearsEachOther(sid, shift) ? true : undefined));
    expect((await entry(sid))?.result).toBe('answered');
    await s.twilio.calls(sid).update({ status: 'completed' });
  });

  it('a campaign customer sent to the queue (abandon treatment queue) waits as the callee, source campaign', async () => {
    const { queue, number } = await serviceQueue([]);
    const customer = newMobile('19');
    const call = await s.twilio.calls.create({ to: customer, from: number, url: `${fb()}/voice/queue?queue=${queue}&source=campaign` });
    await waiting(call.sid);
    expect(await entry(call.sid)).toMatchObject({ queue_name: queue, source: 'campaign', result: null });
    const [row] = await sql<{ from_number: string }>(`select from_number from queue_entries where call_sid = $1`, [call.sid]);
    expect(row!.from_number).toBe(customer);
    await s.twilio.calls(call.sid).update({ status: 'completed' });
    await s.emulator.waitForCall(call.sid);
    expect((await until('entry ended', async () => ((await entry(call.sid))?.result ? entry(call.sid) : undefined)))?.result).toBe('abandoned');
  });
  it('a campaign customer who opts out while waiting is never handed to an agent: told why, hung up, entry opted_out', async () => {
    const agent = await agentWithLogin();
    await paused(agent);
    const { queue, number } = await serviceQueue([agent.id]);
    const customer = newMobile('19');
    const call = await s.twilio.calls.create({ to: customer, from: number, url: `${fb()}/voice/queue?queue=${queue}&source=campaign` });
    await waiting(call.sid);
    await sql(`select opt_out_add($1, 'SAIR por SMS', 'sms', 'sms')`, [customer]);
    await sql(`select agent_transition($1, 'available', null, 'agent', null)`, [agent.id]);
    await sql(`update agents set last_seen_at = now() where id = $1`, [agent.id]);
    await dispatchQueue(deps(), { agentId: agent.id });
    await s.emulator.waitForCall(call.sid);
    expect(says(call.sid)).toContain('Seu número está na nossa lista de não contato e não será mais chamado. Desculpe o incômodo. Até logo.');
    expect(await entry(call.sid)).toMatchObject({ result: 'opted_out', agent_id: null });
    expect((await agentRow(agent.id)).status).toBe('available');
    const reserved = await sql(`select 1 from agent_status_history where agent_id = $1 and status = 'reserved'`, [agent.id]);
    expect(reserved).toEqual([]);
  });
});

describe('hand-over races', () => {
  it('the caller hangs up while being assigned: the redirect fails, the agent is free again, the entry is abandoned', async () => {
    const agent = await agentWithLogin();
    await paused(agent);
    const { number } = await serviceQueue([agent.id]);
    const sid = await s.emulator.placeInboundCall({ from: newMobile('61'), to: number });
    await waiting(sid);
    const d = deps();
    await sql(`update agents set status = 'available', last_seen_at = now() where id = $1`, [agent.id]);
    const { data: got } = await d.db.rpc<Assignment>('queue_assign', { p_agent_id: agent.id, p_presence_seconds: 20 });
    expect(got?.call_sid).toBe(sid);
    expect((await agentRow(agent.id)).status).toBe('reserved');
    // The caller hangs up between the reservation and the redirect.
    await s.twilio.calls(sid).update({ status: 'completed' });
    await s.emulator.waitForCall(sid);
    expect(await handOver(d, got!)).toBe('caller_gone');
    expect((await agentRow(agent.id)).status).toBe('available');
    expect((await entry(sid))?.result).toBe('abandoned');
  });

  it('the agent vanishes before the caller reaches the room: the reservation is released and the caller is back in the queue, in place', async () => {
    const agent = await agentWithLogin();
    const shift = await paused(agent);
    const { number } = await serviceQueue([agent.id]);
    const sid = await s.emulator.placeInboundCall({ from: newMobile('71'), to: number, party: { hangupAfter: 400 } });
    await waiting(sid);
    const before = await entry(sid);
    const d = deps();
    await sql(`update agents set status = 'available', last_seen_at = now() where id = $1`, [agent.id]);
    const { data: got } = await d.db.rpc<Assignment>('queue_assign', { p_agent_id: agent.id, p_presence_seconds: 20 });
    expect(got?.call_sid).toBe(sid);
    // The agent's softphone drops: no room any more.
    await s.twilio.calls(shift).update({ status: 'completed' });
    await statusIs(agent.id, 'reserved').catch(() => true);
    await until('agent without a room', async () => ((await agentRow(agent.id)).shift_call_sid === null ? true : undefined));
    expect(await handOver(d, got!)).toBe('moved');
    await until('back in the queue', async () => (verbs(sid).filter((v) => v === 'Enqueue').length === 2 ? true : undefined));
    expect(hooksTo('/voice/queue-connect', sid)).toHaveLength(1);
    expect(s.emulator.conferences().some((c) => c.participants.includes(sid))).toBe(false);
    expect((await agentRow(agent.id)).status).not.toBe('reserved');
    const after = await entry(sid);
    expect(after).toMatchObject({ result: null, agent_id: null });
    expect(after!.entered_at.getTime()).toBe(before!.entered_at.getTime());
    await s.twilio.calls(sid).update({ status: 'completed' });
  });

  it('the agent clicks offline while reserved for a queue caller: the caller goes back to the queue in place, never to the agent’s voicemail', async () => {
    const agent = await agentWithLogin();
    await paused(agent);
    const { number, queue } = await serviceQueue([agent.id]);
    const sid = await s.emulator.placeInboundCall({ from: newMobile('72'), to: number, party: { hangupAfter: 400 } });
    await waiting(sid);
    const before = await entry(sid);
    await sql(`update queue_entries set entered_at = entered_at - interval '100 seconds' where call_sid = $1 and left_at is null`, [sid]);
    const d = deps();
    await sql(`update agents set status = 'available', last_seen_at = now() where id = $1`, [agent.id]);
    const { data: got } = await d.db.rpc<Assignment>('queue_assign', { p_agent_id: agent.id, p_presence_seconds: 20 });
    expect(got?.call_sid).toBe(sid);
    const r = await api('/api/agent/status', agent.token, { status: 'offline' });
    expect(r.status).toBe(200);
    await until('back in the queue', async () => (verbs(sid).filter((v) => v === 'Enqueue').length === 2 ? true : undefined));
    expect(hooksTo('/voice/voicemail', sid)).toHaveLength(0);
    expect(hooksTo(`/voice/queue?queue=${queue}`, sid).length).toBeGreaterThanOrEqual(1);
    const after = await entry(sid);
    expect(after).toMatchObject({ result: null, agent_id: null });
    expect(after!.entered_at.getTime()).toBe(before!.entered_at.getTime() - 100_000);
    // The new Enqueue's wait document knows what the caller already waited (Twilio's QueueTime restarted).
    await until('new wait document', async () => (hooksTo('/voice/queue-wait', sid).some((w) => /[?&]waited=1\d\d/.test(w.url)) ? true : undefined));
    expect((await agentRow(agent.id)).status).toBe('offline');
    await s.twilio.calls(sid).update({ status: 'completed' });
  });

  it('two dispatchers at once, two callers, one agent: one caller moved, never two agents nor two callers', async () => {
    const agent = await agentWithLogin();
    const shift = await paused(agent);
    const { number } = await serviceQueue([agent.id]);
    const a = await s.emulator.placeInboundCall({ from: newMobile('81'), to: number, party: { hangupAfter: 400 } });
    await waiting(a);
    const b = await s.emulator.placeInboundCall({ from: newMobile('82'), to: number, party: { hangupAfter: 400 } });
    await waiting(b);
    await sql(`update agents set status = 'available', last_seen_at = now() where id = $1`, [agent.id]);
    const d = deps();
    const moved = await Promise.all([dispatchQueue(d), dispatchQueue(d), dispatchQueue(d, { agentId: agent.id })]);
    expect(moved.reduce((x, y) => x + y, 0)).toBe(1);
    await until('first caller with the agent', async () => (hearsEachOther(a, shift) ? true : undefined));
    expect(s.emulator.hears(b).has(shift)).toBe(false);
    expect((await entry(a))?.result).toBe('answered');
    expect(await entry(b)).toMatchObject({ result: null, agent_id: null });
    await s.twilio.calls(a).update({ status: 'completed' });
    await s.twilio.calls(b).update({ status: 'completed' });
  });
});
