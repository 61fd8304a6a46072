/**
 * Preview mode on the emulated stack (Twilio emulator in this process, the functions,
 * PostgREST, Postgres): the agent of a running preview campaign asks for a lead (claimed for
 * them alone, opted-out numbers skipped and marked, shown by the poll), skips one, dials the
 * next (the one dialing path, from a pool number, the agent reserved, the customer in the
 * agent's room), and the call's end and the agent's disposition set the lead. A busy customer
 * is retried per the rules; a due callback goes to the agent who promised it first; refusals
 * change nothing.
 */
import { randomBytes } from 'node:crypto';
import { agentRoomStack, type RoomAgent } from '../helpers/agent-room-stack';
import type { EmulatedStack } from '../helpers/emulated-stack';
import { newMobile } from '../helpers/twilio';

jest.setTimeout(120000);
let s: EmulatedStack;
const SESSION_NUMBER = '+551130009980';
const POOL_NUMBER = '+551130009970';

const { sql, fb, agentWithLogin, until, agentRow, statusIs, startShift, api } = agentRoomStack({ speed: 5, sessionNumber: SESSION_NUMBER, didPrefix: '+5511300096' }, (x) => (s = x));

beforeAll(async () => {
  // The campaign's caller ID: a pool number the emulated account owns.
  await sql(`insert into phone_numbers (phone_number) values ($1) on conflict do nothing`, [POOL_NUMBER]);
  await sql(`update phone_numbers set is_active = false where assigned_agent_id is null and phone_number <> $1`, [POOL_NUMBER]);
  s.emulator.addNumber({ phoneNumber: POOL_NUMBER, voiceUrl: `${fb()}/voice/inbound`, statusCallback: `${fb()}/webhooks/call-status` });
});

/** A running preview campaign open around the clock. */
async function previewCampaign(over: Record<string, unknown> = {}): Promise<number> {
  const cols = {
    name: `preview-${randomBytes(5).toString('hex')}`, mode: 'preview', status: 'active', window_profile: 'custom',
    weekday_start: '00:00', weekday_end: '23:59', saturday_start: '00:00', saturday_end: '23:59',
    allow_sunday: true, sunday_start: '00:00', sunday_end: '23:59', skip_holidays: false, ...over,
  };
  const keys = Object.keys(cols);
  const [r] = await sql<{ id: string }>(`insert into campaigns (${keys.join(', ')}) values (${keys.map((_, i) => `$${i + 1}`).join(', ')}) returning id`, Object.values(cols));
  return Number(r!.id);
}

async function addLead(campaignId: number, name: string, over: { phone?: string; data?: Record<string, unknown> } = {}): Promise<{ id: number; phone: string }> {
  const phone = over.phone ?? newMobile('21');
  const [r] = await sql<{ id: string }>(`insert into leads (campaign_id, phone_number, name, data) values ($1, $2, $3, $4) returning id`, [campaignId, phone, name, JSON.stringify(over.data ?? {})]);
  return { id: Number(r!.id), phone };
}

async function working(campaignId: number): Promise<RoomAgent> {
  const agent = await agentWithLogin();
  await sql(`update agents set campaign_id = $1 where id = $2`, [campaignId, agent.id]);
  return agent;
}

const preview = (agent: RoomAgent, action: string, extra: Record<string, unknown> = {}) => api('/api/agent/preview', agent.token, { action, ...extra });
const leadRow = async (id: number) =>
  (await sql<{ status: string; outcome: string | null; attempts: number; preview_agent_id: string | null; deferred: boolean }>(
    `select status, outcome, attempts, preview_agent_id, coalesce(next_attempt_at > now(), false) as deferred from leads where id = $1`,
    [id],
  ))[0]!;

async function state(agent: RoomAgent): Promise<Record<string, unknown>> {
  const res = await fetch(`${fb()}/api/agent/state`, { headers: { authorization: `Bearer ${agent.token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

describe('preview: next, skip, dial, talk, disposition', () => {
  it('the whole card cycle on the emulated stack', async () => {
    const k = await previewCampaign({ whisper_template: 'Cliente {nome}, atraso de {dias} dias' });
    const first = await addLead(k, 'Ana Lima', { data: { dias: 30, contrato: 'X-1' } });
    const listed = await addLead(k, 'Bruno Opt');
    const third = await addLead(k, 'Carla Dias', { data: { dias: 12 } });
    await sql(`select opt_out_add($1)`, [listed.phone]);
    const agent = await working(k);
    const shift = await startShift(agent);

    // next: the first lead, claimed for this agent alone; asking again shows the same one.
    const n1 = await preview(agent, 'next');
    expect(n1.status).toBe(200);
    expect(n1.json['lead']).toMatchObject({ id: first.id, name: 'Ana Lima', phone_number: first.phone, fields: { dias: 30, contrato: 'X-1' }, attempts: 0, campaign_id: k });
    expect(await leadRow(first.id)).toMatchObject({ status: 'previewing', preview_agent_id: String(agent.id) });
    expect((await preview(agent, 'next')).json['lead']).toMatchObject({ id: first.id });
    // The poll shows the card and the campaign.
    const st = await state(agent);
    expect(st['preview']).toMatchObject({ id: first.id, name: 'Ana Lima' });
    expect(st['campaign']).toMatchObject({ id: k, mode: 'preview', whisper_template: 'Cliente {nome}, atraso de {dias} dias', dispositions: null });

    // skip: back to pending, deferred; next skips the opted-out number (marking it) for the third lead.
    expect(await preview(agent, 'skip', { lead_id: String(first.id) })).toEqual({ status: 200, json: { skipped: first.id } });
    expect(await leadRow(first.id)).toMatchObject({ status: 'pending', preview_agent_id: null, deferred: true, attempts: 0 });
    expect((await preview(agent, 'next')).json['lead']).toMatchObject({ id: third.id });
    expect(await leadRow(listed.id)).toMatchObject({ status: 'opted_out' });

    // dial: from the pool number, the agent reserved, the customer joins the agent's room.
    s.emulator.addParty({ number: third.phone, answerAfter: 2, hangupAfter: 20 });
    const d = await preview(agent, 'dial', { lead_id: String(third.id) });
    expect(d.status).toBe(200);
    const sid = d.json['call_sid'] as string;
    expect(d.json).toMatchObject({ call_sid: expect.stringMatching(/^CA[0-9a-f]{32}$/), lead_id: third.id });
    const [call] = await sql(`select from_number, to_number, campaign_id, lead_id, agent_id from calls where call_sid = $1`, [sid]);
    expect(call).toEqual({ from_number: POOL_NUMBER, to_number: third.phone, campaign_id: String(k), lead_id: String(third.id), agent_id: String(agent.id) });
    expect(await leadRow(third.id)).toMatchObject({ status: 'dialing', attempts: 1 });
    expect((await agentRow(agent.id)).status).toBe('reserved');
    await until('customer in the room', async () => (s.emulator.hears(sid).has(shift) && s.emulator.hears(shift).has(sid) ? true : undefined), 30000);
    // While connected, the poll's call carries the lead with its campaign (the page's screen pop and whisper).
    const live = await state(agent);
    expect(live['call']).toMatchObject({ call_sid: sid, lead: { id: third.id, name: 'Carla Dias', fields: { dias: 12 }, campaign: { id: k, whisper_template: 'Cliente {nome}, atraso de {dias} dias' } } });

    // The customer hangs up: call outcome human, lead done/connected until the disposition.
    await s.emulator.waitForCall(sid);
    await statusIs(agent.id, 'wrap_up');
    await until('call outcome', async () => ((await sql<{ outcome: string | null }>(`select outcome from calls where call_sid = $1`, [sid]))[0]!.outcome ?? undefined));
    expect(await sql(`select outcome from calls where call_sid = $1`, [sid])).toEqual([{ outcome: 'human' }]);
    expect(await leadRow(third.id)).toMatchObject({ status: 'done', outcome: 'connected' });
    const disp = await api('/api/agent/disposition', agent.token, { call_sid: sid, code: 'promessa_pagamento' });
    expect(disp.status).toBe(200);
    expect(await leadRow(third.id)).toMatchObject({ status: 'done', outcome: 'promessa_pagamento' });
    expect((await agentRow(agent.id)).status).toBe('available');

    // Nothing callable left now (the skipped lead waits out its delay): {lead: null}, the request kept for the pacer.
    expect((await preview(agent, 'next')).json).toEqual({ lead: null });
    expect(await sql(`select preview_requested_at is not null as asked from agents where id = $1`, [agent.id])).toEqual([{ asked: true }]);
  });

  it('a busy customer: the lead is retried per the busy rule, the agent free again', async () => {
    const k = await previewCampaign();
    const lead = await addLead(k, 'Davi Busy');
    const agent = await working(k);
    await startShift(agent);
    s.emulator.addParty({ number: lead.phone, outcome: 'busy' });
    expect((await preview(agent, 'next')).json['lead']).toMatchObject({ id: lead.id });
    const d = await preview(agent, 'dial');
    expect(d.status).toBe(200);
    await s.emulator.waitForCall(d.json['call_sid'] as string);
    await until('lead retried', async () => ((await leadRow(lead.id)).status === 'pending' ? true : undefined));
    expect(await leadRow(lead.id)).toMatchObject({ status: 'pending', outcome: 'busy', attempts: 1, deferred: true, preview_agent_id: null });
    await statusIs(agent.id, 'available');
  });
});

describe('callbacks in preview', () => {
  it('a due callback goes to the agent who promised it before any other lead', async () => {
    const k = await previewCampaign();
    const promiser = await working(k);
    const other = await working(k);
    await startShift(promiser);
    const fresh = await addLead(k, 'Lead novo');
    const promised = await addLead(k, 'Retorno prometido');
    const theirs = await addLead(k, 'Retorno de outro');
    await sql(`update leads set callback_at = now() - interval '1 minute', callback_agent_id = $2, attempts = 1 where id = $1`, [promised.id, promiser.id]);
    await sql(`update leads set callback_at = now() - interval '2 minutes', callback_agent_id = $2, attempts = 1 where id = $1`, [theirs.id, other.id]);
    expect((await preview(promiser, 'next')).json['lead']).toMatchObject({ id: promised.id, callback_at: expect.any(String) });
    expect(await leadRow(fresh.id)).toMatchObject({ status: 'pending' });
  });
});

describe('refused, nothing changed', () => {
  it('an agent without a preview campaign, a campaign not running, a dial or skip with nothing on the card, a lead that is not theirs', async () => {
    const power = await previewCampaign({ mode: 'power' });
    const a = await working(power);
    expect(await preview(a, 'next')).toMatchObject({ status: 409, json: { error: 'not_preview_campaign' } });

    const paused = await previewCampaign({ status: 'paused' });
    const l = await addLead(paused, 'Eva Paused');
    const b = await working(paused);
    await startShift(b);
    expect(await preview(b, 'next')).toMatchObject({ status: 409, json: { error: 'campaign_not_running' } });
    expect(await leadRow(l.id)).toMatchObject({ status: 'pending', preview_agent_id: null });

    const k = await previewCampaign();
    const mine = await addLead(k, 'Fabio');
    const c = await working(k);
    await startShift(c);
    const before = s.emulator.calls().length;
    expect(await preview(c, 'dial')).toMatchObject({ status: 409, json: { error: 'conflict' } });
    expect(await preview(c, 'skip')).toMatchObject({ status: 409, json: { error: 'conflict' } });
    expect((await preview(c, 'next')).json['lead']).toMatchObject({ id: mine.id });
    expect(await preview(c, 'dial', { lead_id: String(mine.id + 999) })).toMatchObject({ status: 409, json: { error: 'conflict' } });
    expect(await preview(c, 'jump')).toMatchObject({ status: 400, json: { error: 'bad_request' } });
    expect(s.emulator.calls().length).toBe(before);
    expect(await leadRow(mine.id)).toMatchObject({ status: 'previewing', attempts: 0 });
  });

  it('a number opted out after it was shown: dial refused with opted_out, no call, the lead opted_out', async () => {
    const k = await previewCampaign();
    const lead = await addLead(k, 'Gil');
    const agent = await working(k);
    await startShift(agent);
    expect((await preview(agent, 'next')).json['lead']).toMatchObject({ id: lead.id });
    await sql(`select opt_out_add($1)`, [lead.phone]);
    const before = s.emulator.calls().length;
    expect(await preview(agent, 'dial')).toMatchObject({ status: 409, json: { error: 'opted_out' } });
    expect(s.emulator.calls().length).toBe(before);
    expect(await leadRow(lead.id)).toMatchObject({ status: 'opted_out', attempts: 0 });
    expect((await agentRow(agent.id)).status).toBe('available');
  });

  it('an agent whose softphone is not in the room: dial refused with agent_busy, the lead back on the card', async () => {
    const k = await previewCampaign();
    const lead = await addLead(k, 'Hugo');
    const agent = await working(k);
    await sql(`select agent_transition($1, 'available', null, 'agent', null)`, [agent.id]);
    await sql(`update agents set last_seen_at = now() where id = $1`, [agent.id]);
    expect((await preview(agent, 'next')).json['lead']).toMatchObject({ id: lead.id });
    expect(await preview(agent, 'dial')).toMatchObject({ status: 409, json: { error: 'agent_busy' } });
    expect(await leadRow(lead.id)).toMatchObject({ status: 'previewing', attempts: 0, preview_agent_id: String(agent.id) });
  });
});
