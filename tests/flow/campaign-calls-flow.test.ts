/**
 * Campaign calls through the Twilio emulator, the functions and the database, as the pacer will
 * place them (async AMD, `?attempt=` on every URL): a live person → the agent reserved and
 * whispered to in their room while the customer hears the disclaimer, then the customer in the
 * room, recorded dual-channel with the channel map stored; a machine hung up on, or left a
 * voicemail at the beep; unknown taken as live; nobody free → abandoned after the grace with
 * a message naming the company; an AMD callback for an unknown attempt, or after the customer
 * hung up; an opt-out during the disclaimer. Prints the customer's silence between the
 * disclaimer's end and the agent's room. Runs its own stack with the emulator in this process.
 */
import { randomBytes } from 'node:crypto';
import { LOCAL } from '../../stack/defaults';
import { agentRoomStack, type RoomAgent } from '../helpers/agent-room-stack';
import type { EmulatedStack } from '../helpers/emulated-stack';
import { newCallSid, newMobile, signedPost } from '../helpers/twilio';
import { find, parseTwiml } from '../helpers/twiml';
import type { PartySpec } from '../../emulator/parties';

jest.setTimeout(120000);
let s: EmulatedStack;
const SESSION_NUMBER = '+551130009890';
// The campaign's caller ID (a pool number the emulator knows as the account's own).
const POOL = '+551130009801';
const SPEED = 4;

const { sql, fb, agentWithLogin, until, agentRow, statusIs, startShift, history } = agentRoomStack(
  { speed: SPEED, sessionNumber: SESSION_NUMBER, didPrefix: '+5511300096' },
  (x) => (s = x),
);

beforeAll(async () => {
  await sql(`insert into phone_numbers (phone_number) values ($1) on conflict do nothing`, [POOL]);
  s.emulator.addNumber({ phoneNumber: POOL, voiceUrl: `${fb()}/voice/inbound`, statusCallback: `${fb()}/webhooks/call-status` });
});

interface CampaignOpts {
  amd_machine?: 'hangup' | 'voicemail';
  amd_unknown?: 'connect' | 'hangup';
  whisper_template?: string | null;
  company_name?: string | null;
  voicemail_text?: string | null;
  abandon_treatment?: 'callback' | 'queue' | 'hangup';
}

async function campaign(o: CampaignOpts = {}): Promise<number> {
  const [row] = await sql<{ id: string }>(
    `insert into campaigns (name, status, mode, amd_machine, amd_unknown, whisper_template, company_name, voicemail_text, abandon_treatment)
     values ($1, 'active', 'power', $2, $3, $4, $5, $6, $7) returning id`,
    [
      `Cobrança ${randomBytes(4).toString('hex')}`, o.amd_machine ?? 'hangup', o.amd_unknown ?? 'connect',
      o.whisper_template === undefined ? 'Cliente {nome}, conta em atraso há {Dias Atraso} dias' : o.whisper_template,
      o.company_name === undefined ? 'Banco Exemplo' : o.company_name, o.voicemail_text ?? null, o.abandon_treatment ?? 'callback',
    ],
  );
  return Number(row!.id);
}

/** An agent working the campaign, shift leg in the room, available and polling. */
async function campaignAgent(campaignId: number): Promise<{ agent: RoomAgent; shift: string }> {
  const agent = await agentWithLogin();
  await sql(`update agents set campaign_id = $2 where id = $1`, [agent.id, campaignId]);
  const shift = await startShift(agent);
  return { agent, shift };
}

async function lead(campaignId: number, phone: string, name = 'João Silva'): Promise<number> {
  const [row] = await sql<{ id: string }>(
    `insert into leads (campaign_id, phone_number, name, data, status, attempts) values ($1, $2, $3, $4, 'dialing', 1) returning id`,
    [campaignId, phone, name, { 'dias_atraso': 30, contrato: 'A-77' }],
  );
  return Number(row!.id);
}

/**
 * What the pacer does per claimed lead: the dial attempt row first, then Calls create with async
 * AMD and `?attempt=` on the answer, status and AMD URLs.
 */
async function placeCampaignCall(campaignId: number, to: string, amd: 'Enable' | 'DetectMessageEnd' = 'Enable'): Promise<{ sid: string; attempt: number; leadId: number }> {
  const leadId = await lead(campaignId, to);
  const [row] = await sql<{ id: string }>(
    `insert into calls (direction, from_number, to_number, caller_id, campaign_id, lead_id, status)
     values ('outbound-api', $1::text, $2, $1::text, $3, $4, 'queued') returning id`,
    [POOL, to, campaignId, leadId],
  );
  const attempt = Number(row!.id);
  const call = await s.twilio.calls.create({
    to, from: POOL,
    url: `${fb()}/voice/outbound?attempt=${attempt}`, method: 'POST',
    statusCallback: `${fb()}/webhooks/call-status?attempt=${attempt}`, statusCallbackMethod: 'POST',
    statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
    machineDetection: amd, asyncAmd: 'true',
    asyncAmdStatusCallback: `${fb()}/webhooks/amd?attempt=${attempt}`, asyncAmdStatusCallbackMethod: 'POST',
    timeout: 28,
  });
  await sql(`update calls set call_sid = $2 where id = $1 and call_sid is null`, [attempt, call.sid]);
  return { sid: call.sid, attempt, leadId };
}

function customer(spec: Omit<PartySpec, 'number'> = {}): string {
  const number = newMobile('31');
  s.emulator.addParty({ number, answerAfter: 1, ...spec });
  return number;
}

type CallRow = {
  answered_by: string | null; amd_ms: number | null; amd_action: string | null; outcome: string | null;
  live_at: Date | null; amd_at: Date | null; disclaimer_ended_at: Date | null; connected_at: Date | null; abandoned_at: Date | null;
  reserved_agent_id: string | null; reserved_by: string | null; agent_id: string | null; status: string;
};
async function callRow(sid: string): Promise<CallRow> {
  const [row] = await sql<CallRow>(
    `select answered_by, amd_ms, amd_action, outcome, live_at, amd_at, disclaimer_ended_at, connected_at, abandoned_at,
            reserved_agent_id, reserved_by, agent_id, status from calls where call_sid = $1`,
    [sid],
  );
  return row!;
}

const verbs = (sid: string) => s.emulator.timeline(sid).filter((e) => e.type === 'verb');
const said = (sid: string) => verbs(sid).filter((e) => e.verb === 'Say').map((e) => e.content ?? '');
const joinedAt = (sid: string, agentId: number) => s.emulator.timeline(sid).find((e) => e.type === 'conference' && e.text.startsWith(`joined conference agent-${agentId} `));
const connectRequests = (sid: string) => s.emulator.webhooks().filter((w) => w.callSid === sid && w.url.includes('/voice/outbound?') && w.url.includes('step=connect'));

/** Silence figures printed at the end (ms). */
const silences: { name: string; timelineMs: number; dbMs: number; agentWaitMs: number }[] = [];
afterAll(() => {
  if (!silences.length) return;
  const lines = silences.map(
    (x) => `  ${x.name}: customer silence ${x.timelineMs.toFixed(0)} ms (emulator timeline), ${x.dbMs.toFixed(0)} ms (disclaimer_ended_at → connected_at); agent reserved, waiting for the customer: ${Number.isNaN(x.agentWaitMs) ? '—' : `${(x.agentWaitMs / 1000).toFixed(1)} s of call time`}`,
  );
  console.log(`campaign calls (emulator speed ${SPEED}; the timeline runs at real time while a webhook is answered):\n${lines.join('\n')}`);
});

/** Call time (emulator clock) from the AMD callback that reserved the agent to the customer's join. */
function agentWait(sid: string, joinedT: number): number {
  const amd = s.emulator.webhooks().find((w) => w.callSid === sid && w.purpose === 'amd');
  return amd ? joinedT - amd.sentAt : NaN;
}

describe('AMD human', () => {
  it('reserves the agent, whispers the lead to the agent alone, then the customer joins the room, recorded with its channel map', async () => {
    const id = await campaign();
    const { agent, shift } = await campaignAgent(id);
    const to = customer({ hangupAfter: 25 });
    const { sid, attempt, leadId } = await placeCampaignCall(id, to);

    // The agent is reserved while the customer still hears the disclaimer; the agent page shows the lead.
    await until('agent reserved', async () => ((await agentRow(agent.id)).status === 'reserved' ? true : undefined));
    expect((await agentRow(agent.id)).current_call_sid).toBe(sid);
    const state = await fetch(`${fb()}/api/agent/state`, { headers: { authorization: `Bearer ${agent.token}` } });
    const page = (await state.json()) as { call: { call_sid: string; lead: { id: number; name: string; fields: Record<string, unknown> } } };
    expect(page.call).toMatchObject({ call_sid: sid, lead: { id: leadId, name: 'João Silva', fields: { dias_atraso: 30 } } });

    await until('customer in the room', async () => (s.emulator.hears(sid).has(shift) && s.emulator.hears(shift).has(sid) ? true : undefined), 30000);
    await s.emulator.waitForCall(sid);

    const row = await callRow(sid);
    expect(row).toMatchObject({ answered_by: 'human', amd_ms: 2400, amd_action: 'whisper', outcome: 'human', reserved_agent_id: String(agent.id), reserved_by: 'amd', agent_id: String(agent.id), status: 'completed' });
    for (const k of ['amd_at', 'live_at', 'disclaimer_ended_at', 'connected_at'] as const) expect(row[k]).toBeInstanceOf(Date);
    expect(row.abandoned_at).toBeNull();
    const [amdEvent] = await sql<{ params: Record<string, string> }>(`select params from call_events where call_sid = $1 and kind = 'amd'`, [sid]);
    expect(amdEvent!.params).toMatchObject({ AnsweredBy: 'human', MachineDetectionDuration: '2400' });

    // The whisper: fetched from /voice/whisper?call=<sid>, said to the agent's leg only, before the customer joined.
    const announce = s.emulator.webhooks().find((w) => w.purpose === 'announce' && w.url === `${fb()}/voice/whisper?call=${sid}`);
    expect(announce?.status).toBe(200);
    const say = find(parseTwiml(announce!.body), 'Say');
    expect(say?.text).toBe('Cliente João Silva, conta em atraso há 30 dias');
    const whisperOnAgent = s.emulator.timeline(shift).find((e) => e.type === 'verb' && e.verb === 'Say' && e.content === say!.text);
    expect(whisperOnAgent).toBeDefined();
    expect(said(sid)).not.toContain(say!.text);
    const joined = joinedAt(sid, agent.id);
    expect(joined).toBeDefined();
    expect(whisperOnAgent!.t).toBeLessThan(joined!.t);
    // The customer was still in the disclaimer when the whisper started: the first connect step came later.
    const [firstConnect] = connectRequests(sid);
    expect(whisperOnAgent!.t).toBeLessThan(firstConnect!.sentAt);
    expect((await history(agent.id)).filter(([, , c]) => c === sid).map(([st]) => st).slice(0, 2)).toEqual(['reserved', 'busy']);

    // The recording callback is stored with its channel map.
    const rec = s.emulator.recordings().find((r) => r.callSid === sid);
    expect(rec).toMatchObject({ source: 'StartCallRecordingAPI', channels: 2, status: 'completed' });
    const cbs = s.emulator.webhooks().filter((w) => w.purpose === 'recording' && w.params['RecordingSid'] === rec!.sid);
    expect(cbs.map((w) => [w.url, w.params['RecordingStatus'], w.status])).toEqual([
      [`${fb()}/webhooks/recording`, 'in-progress', 204],
      [`${fb()}/webhooks/recording`, 'completed', 204],
    ]);
    const [stored] = await sql(
      `select status, channels, duration, source, agent_id, campaign_id, agent_channel, customer_channel, kind, twilio_url from recordings where recording_sid = $1`,
      [rec!.sid],
    );
    expect(stored).toEqual({
      status: 'completed', channels: 2, duration: rec!.durationS, source: 'StartCallRecordingAPI', agent_id: String(agent.id), campaign_id: String(id),
      agent_channel: 2, customer_channel: 1, kind: 'call', twilio_url: cbs[1]!.params['RecordingUrl'],
    });

    // Silence: the disclaimer's end (the first connect-step request) to the join, on the emulator's clock and in the database.
    const silence = joined!.t - firstConnect!.sentAt;
    expect(silence).toBeGreaterThanOrEqual(0);
    silences.push({ name: 'human, agent reserved at AMD', timelineMs: silence, dbMs: row.connected_at!.getTime() - row.disclaimer_ended_at!.getTime(), agentWaitMs: agentWait(sid, joined!.t) });
    expect(attempt).toBeGreaterThan(0);
  });

  it('unknown with amd_unknown=connect is taken as live: whisper and room', async () => {
    const id = await campaign({ amd_unknown: 'connect' });
    const { agent, shift } = await campaignAgent(id);
    const to = customer({ hangupAfter: 20, answeredBy: 'unknown' });
    const { sid } = await placeCampaignCall(id, to);
    await until('customer in the room', async () => (s.emulator.hears(sid).has(shift) ? true : undefined), 30000);
    await s.emulator.waitForCall(sid);
    const row = await callRow(sid);
    expect(row).toMatchObject({ answered_by: 'unknown', amd_action: 'whisper', reserved_by: 'amd', outcome: 'human', agent_id: String(agent.id) });
    expect(row.live_at).toBeInstanceOf(Date);
    const joined = joinedAt(sid, agent.id)!;
    const [firstConnect] = connectRequests(sid);
    silences.push({ name: 'unknown → connect', timelineMs: joined.t - firstConnect!.sentAt, dbMs: row.connected_at!.getTime() - row.disclaimer_ended_at!.getTime(), agentWaitMs: agentWait(sid, joined.t) });
  });

  it('unknown with amd_unknown=hangup: hung up, nobody reserved', async () => {
    const id = await campaign({ amd_unknown: 'hangup' });
    const { agent } = await campaignAgent(id);
    const { sid } = await placeCampaignCall(id, customer({ hangupAfter: 40, answeredBy: 'unknown' }));
    await s.emulator.waitForCall(sid);
    expect(await callRow(sid)).toMatchObject({ answered_by: 'unknown', amd_action: 'hangup', outcome: 'machine', reserved_agent_id: null, connected_at: null, status: 'completed' });
    expect((await agentRow(agent.id)).status).toBe('available');
  });
});

describe('AMD machine', () => {
  it('amd_machine=hangup: the call is completed, no agent reserved', async () => {
    const id = await campaign({ amd_machine: 'hangup' });
    const { agent } = await campaignAgent(id);
    const { sid } = await placeCampaignCall(id, customer({ kind: 'machine', hangupAfter: 60 }));
    await s.emulator.waitForCall(sid);
    const row = await callRow(sid);
    expect(row).toMatchObject({ answered_by: 'machine_start', amd_ms: 3200, amd_action: 'hangup', outcome: 'machine', reserved_agent_id: null, live_at: null, connected_at: null, status: 'completed' });
    expect(s.emulator.conferences().some((c) => c.participants.includes(sid))).toBe(false);
    expect(joinedAt(sid, agent.id)).toBeUndefined();
    expect((await agentRow(agent.id)).status).toBe('available');
    expect((await history(agent.id)).some(([st]) => st === 'reserved')).toBe(false);
    // Hung up by Calls update while the disclaimer played: the customer never reached the connect step.
    expect(s.emulator.timeline(sid).some((e) => e.type === 'status' && e.status === 'completed')).toBe(true);
  });

  it('amd_machine=voicemail (DetectMessageEnd): at the beep the campaign message is left, then the call ends', async () => {
    const text = 'Olá, aqui é do Banco Exemplo. Retorne no 0800 000 0000.';
    const id = await campaign({ amd_machine: 'voicemail', voicemail_text: text });
    const { agent } = await campaignAgent(id);
    const { sid, attempt } = await placeCampaignCall(id, customer({ kind: 'machine', machine: { greetingSeconds: 4 }, hangupAfter: 60 }), 'DetectMessageEnd');
    await s.emulator.waitForCall(sid);
    const drop = s.emulator.webhooks().find((w) => w.callSid === sid && w.url === `${fb()}/voice/voicemail-drop?attempt=${attempt}`);
    expect(drop?.status).toBe(200);
    const twiml = parseTwiml(drop!.body);
    expect(twiml.children.map((c) => [c.name, c.text])).toEqual([['Say', text], ['Hangup', '']]);
    expect(said(sid)).toContain(text);
    expect(await callRow(sid)).toMatchObject({ answered_by: 'machine_end_beep', amd_action: 'voicemail', outcome: 'machine_voicemail', reserved_agent_id: null, connected_at: null });
    expect((await agentRow(agent.id)).status).toBe('available');
  });
});

describe('no agent free', () => {
  it('the live customer hears a short hold, then after the grace an abandon message naming the company', async () => {
    const id = await campaign({ company_name: 'Banco Exemplo' });
    const { sid } = await placeCampaignCall(id, customer({ hangupAfter: 90 }));
    await s.emulator.waitForCall(sid);
    const row = await callRow(sid);
    expect(row).toMatchObject({ answered_by: 'human', amd_action: 'wait', outcome: 'abandoned', reserved_agent_id: null, connected_at: null });
    expect(row.abandoned_at!.getTime() - row.disclaimer_ended_at!.getTime()).toBeGreaterThanOrEqual(2000);
    const answers = connectRequests(sid).map((w) => parseTwiml(w.body));
    expect(answers.length).toBeGreaterThanOrEqual(2);
    // Every answer but the last: the hold, then back to the connect step; the last: the message and hang up.
    for (const t of answers.slice(0, -1)) {
      expect(t.children.map((c) => c.name)).toEqual(['Say', 'Redirect']);
      expect(t.children[0]!.text).toBe('Um momento, por favor.');
    }
    const last = answers[answers.length - 1]!;
    expect(last.children.map((c) => c.name)).toEqual(['Say', 'Hangup']);
    expect(last.children[0]!.text).toBe('Aqui é da Banco Exemplo. No momento todos os nossos atendentes estão ocupados. Vamos retornar a sua ligação em breve. Obrigado.');
    expect(s.emulator.conferences().some((c) => c.participants.includes(sid))).toBe(false);
  });
});

describe('an agent free only at the end of the disclaimer', () => {
  it('is reserved at the connect step (no whisper: reserved_by connect) and gets the customer', async () => {
    const id = await campaign();
    const { agent, shift } = await campaignAgent(id);
    await sql(`select agent_transition($1, 'paused', 'Intervalo', 'agent', null)`, [agent.id]);
    const { sid } = await placeCampaignCall(id, customer({ hangupAfter: 25 }));
    await until('AMD: live, nobody free', async () => ((await callRow(sid)).amd_action === 'wait' ? true : undefined));
    await sql(`select agent_transition($1, 'available', null, 'agent', null)`, [agent.id]);
    await sql(`update agents set last_seen_at = now() where id = $1`, [agent.id]);
    await until('customer in the room', async () => (s.emulator.hears(sid).has(shift) ? true : undefined), 30000);
    await s.emulator.waitForCall(sid);
    const row = await callRow(sid);
    expect(row).toMatchObject({ answered_by: 'human', amd_action: 'wait', reserved_by: 'connect', reserved_agent_id: String(agent.id), outcome: 'human', abandoned_at: null });
    expect(s.emulator.webhooks().some((w) => w.purpose === 'announce' && w.url.includes(sid))).toBe(false);
    const joined = joinedAt(sid, agent.id)!;
    const [firstConnect] = connectRequests(sid);
    silences.push({ name: 'human, agent reserved at the connect step', timelineMs: joined.t - firstConnect!.sentAt, dbMs: row.connected_at!.getTime() - row.disclaimer_ended_at!.getTime(), agentWaitMs: NaN });
  });
});

describe('AMD callbacks that decide nothing', () => {
  it('for an unknown attempt: 200, nothing written', async () => {
    const sid = newCallSid();
    const url = `${fb()}/webhooks/amd?attempt=987654321`;
    const res = await signedPost(url, { AccountSid: LOCAL.accountSid, CallSid: sid, AnsweredBy: 'human', MachineDetectionDuration: '2100' }, LOCAL.authToken);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ action: 'none', reason: 'unknown_call' });
    expect(await sql(`select 1 from calls where call_sid = $1 or id = 987654321`, [sid])).toEqual([]);
    expect(await sql(`select 1 from call_events where call_sid = $1`, [sid])).toEqual([]);
  });

  it('after the customer hung up: nothing reserved', async () => {
    const id = await campaign();
    const { agent } = await campaignAgent(id);
    // Hangs up before AMD decides: the emulator, like Twilio, sends no AMD result for it.
    const { sid, attempt } = await placeCampaignCall(id, customer({ hangupAfter: 1, amdMs: 5000 }));
    await s.emulator.waitForCall(sid);
    await until('call completed in the database', async () => ((await callRow(sid)).status === 'completed' ? true : undefined));
    const res = await signedPost(`${fb()}/webhooks/amd?attempt=${attempt}`, { AccountSid: LOCAL.accountSid, CallSid: sid, AnsweredBy: 'human', MachineDetectionDuration: '5000' }, LOCAL.authToken);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ action: 'none', reason: 'call_over' });
    expect(await callRow(sid)).toMatchObject({ answered_by: 'human', amd_action: 'none', reserved_agent_id: null, live_at: null });
    expect((await agentRow(agent.id)).status).toBe('available');
    // A repeat is acknowledged as a duplicate.
    const again = await signedPost(`${fb()}/webhooks/amd?attempt=${attempt}`, { AccountSid: LOCAL.accountSid, CallSid: sid, AnsweredBy: 'human', MachineDetectionDuration: '5000' }, LOCAL.authToken);
    expect(await again.json()).toEqual({ action: 'none', reason: 'duplicate' });
  });
});

describe('opt-out during the disclaimer', () => {
  it('the customer is never connected; the agent reserved by AMD is released', async () => {
    const id = await campaign();
    const { agent } = await campaignAgent(id);
    const to = customer({ hangupAfter: 60, gather: ['9'] });
    const { sid } = await placeCampaignCall(id, to);
    await s.emulator.waitForCall(sid);
    await statusIs(agent.id, 'available');
    const row = await callRow(sid);
    expect(row.connected_at).toBeNull();
    expect(row.agent_id).toBeNull();
    expect(s.emulator.conferences().some((c) => c.participants.includes(sid))).toBe(false);
    expect(joinedAt(sid, agent.id)).toBeUndefined();
    expect(await sql(`select 1 from opt_outs where phone_number = $1`, [to])).toHaveLength(1);
    expect(connectRequests(sid)).toEqual([]);
  });
});
