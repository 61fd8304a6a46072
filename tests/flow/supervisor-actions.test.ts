/**
 * Supervisor actions through the Twilio emulator, the functions and the database: listen,
 * whisper and barge on an agent's call as a participant of the agent's room (who hears whom as
 * the emulator plays Twilio's conference), switching modes live, stopping, and the supervisor
 * taken out with the customer; the supervisor's leg never touching the call, room or agent rows;
 * refusals (ended call, agent session, unknown ids, malformed bodies) changing nothing and being
 * logged; an agent forced to paused / offline (seen by the agent's poll); a campaign paused,
 * resumed and re-paced; the action log; the supervisor's voice token. Runs its own stack with
 * the emulator in this process.
 */
import { createHash, randomBytes } from 'node:crypto';
import { agentRoomStack } from '../helpers/agent-room-stack';
import type { EmulatedStack } from '../helpers/emulated-stack';
import { newMobile } from '../helpers/twilio';
import { session } from '../helpers/db';
import { LOCAL } from '../../stack/defaults';
import { installRuntimeGlobals, makeContext } from '../helpers/function-context';
import { handler as voiceToken } from '../../src/functions/api/voice-token';

jest.setTimeout(60000);
let s: EmulatedStack;
const SESSION_NUMBER = '+551130009980';
const { sql, fb, agentWithLogin, until, agentRow, statusIs, startShift, api, history, hears, customerOnCall, roomSnapshot: roomRows, supervisorLog: logOf } = agentRoomStack(
  { speed: 5, sessionNumber: SESSION_NUMBER, didPrefix: '+5511300096' },
  (x) => (s = x),
);

interface Boss {
  id: string;
  email: string;
  token: string;
}

/** A supervisor (or admin) with a live session. */
async function bossWithLogin(role: 'supervisor' | 'admin' = 'supervisor'): Promise<Boss> {
  const tag = randomBytes(5).toString('hex');
  const email = `chefe_${tag}@discador.test`;
  const [u] = await sql<{ id: string }>(`insert into users (email, name, role) values ($1, $2, $3) returning id`, [email, `Chefe ${tag}`, role]);
  const token = randomBytes(32).toString('base64url');
  await sql(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '12 hours')`, [u!.id, createHash('sha256').update(token).digest('hex')]);
  return { id: u!.id, email, token };
}

async function get(path: string, token: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${fb()}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Everything the supervisor's leg must not change: the room's rows and the recordings. */
async function roomSnapshot(agentId: number, callSid: string) {
  return { ...(await roomRows(agentId, callSid)), recordings: s.emulator.recordings().map((r) => [r.callSid, r.status === 'in-progress' ? 'live' : 'done']) };
}

/** The monitor's leg CallSid once the supervisor joined the room. */
async function joinedLeg(monitorId: number): Promise<string> {
  return until(`monitor ${monitorId} joined`, async () => {
    const [m] = await sql<{ status: string; participant_call_sid: string | null }>(`select status, participant_call_sid from supervisor_monitors where id = $1`, [monitorId]);
    return m?.status === 'joined' && m.participant_call_sid ? m.participant_call_sid : undefined;
  });
}

describe('listen, whisper and barge', () => {
  it('the supervisor joins the room as a participant; each mode routes audio as Twilio does; stop leaves the call as it was', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const sid = await customerOnCall(agent);
    const boss = await bossWithLogin();
    const before = await roomSnapshot(agent.id, sid);

    const started = await api('/api/supervisor/monitor', boss.token, { call_sid: sid, mode: 'listen' });
    expect(started.status).toBe(200);
    const monitor = started.json['monitor'] as { monitor_id: number };
    expect(started.json['monitor']).toMatchObject({ call_sid: sid, agent_id: agent.id, mode: 'listen', endpoint: `client:supervisor-${boss.id}` });
    const leg = await joinedLeg(monitor.monitor_id);

    // The Participants create request: the supervisor's browser, called from the agent's number,
    // labelled, no beep, never ending the room, muted.
    const room = s.emulator.conferences().find((c) => c.friendlyName === `agent-${agent.id}` && c.status === 'in-progress')!;
    const p = await s.twilio.conferences(room.sid).participants(leg).fetch();
    expect([p.label, p.muted, p.coaching, p.endConferenceOnExit, p.startConferenceOnEnter]).toEqual([`supervisor-${monitor.monitor_id}`, true, false, false, true]);
    const call = s.emulator.calls().find((c) => c.sid === leg)!;
    expect([call.to, call.from]).toEqual([`client:supervisor-${boss.id}`, agent.did]);

    // listen: hears both, heard by nobody.
    await until('listening', async () => (hears(leg, sid) && hears(leg, shift) ? true : undefined));
    expect([hears(sid, leg), hears(shift, leg), hears(sid, shift), hears(shift, sid)]).toEqual([false, false, true, true]);

    // whisper: heard by the agent only.
    const w = await api('/api/supervisor/monitor/mode', boss.token, { monitor_id: monitor.monitor_id, mode: 'whisper' });
    expect(w).toMatchObject({ status: 200, json: { monitor: { monitor_id: monitor.monitor_id, mode: 'whisper' } } });
    await until('whispering', async () => (hears(shift, leg) ? true : undefined));
    expect([hears(sid, leg), hears(leg, sid), hears(leg, shift), hears(sid, shift)]).toEqual([false, true, true, true]);
    const coached = await s.twilio.conferences(room.sid).participants(leg).fetch();
    expect([coached.muted, coached.coaching, coached.callSidToCoach]).toEqual([false, true, shift]);

    // barge: heard by all.
    expect((await api('/api/supervisor/monitor/mode', boss.token, { monitor_id: monitor.monitor_id, mode: 'barge' })).status).toBe(200);
    await until('barging', async () => (hears(sid, leg) && hears(shift, leg) ? true : undefined));

    // back to listen: heard by nobody again.
    expect((await api('/api/supervisor/monitor/mode', boss.token, { monitor_id: monitor.monitor_id, mode: 'listen' })).status).toBe(200);
    await until('listening again', async () => (!hears(sid, leg) && !hears(shift, leg) ? true : undefined));
    expect(hears(leg, sid) && hears(leg, shift)).toBe(true);

    // The supervisor's leg changed nothing of the call, the room or the agent, and is no call of the dialer.
    expect(await roomSnapshot(agent.id, sid)).toEqual(before);
    expect(await sql(`select 1 from calls where call_sid = $1 union all select 1 from call_events where call_sid = $1`, [leg])).toEqual([]);

    expect(await api('/api/supervisor/monitor/stop', boss.token, { monitor_id: monitor.monitor_id })).toEqual({ status: 200, json: { ok: true } });
    await s.emulator.waitForCall(leg);
    await until('monitor ended', async () => ((await sql<{ status: string }>(`select status from supervisor_monitors where id = $1`, [monitor.monitor_id]))[0]!.status === 'ended' ? true : undefined));
    // The room goes on: customer and agent still hear each other, and nothing changed.
    expect(s.emulator.conferences().find((c) => c.sid === room.sid)!.status).toBe('in-progress');
    expect([hears(sid, shift), hears(shift, sid)]).toEqual([true, true]);
    expect(await roomSnapshot(agent.id, sid)).toEqual(before);
    // The leg's callbacks reached /webhooks/call-status with its monitor id and the room's reached /webhooks/conference; all applied.
    const cbs = s.emulator.webhooks().filter((x) => x.callSid === leg && (x.purpose === 'status' || x.purpose === 'conference'));
    expect(cbs.length).toBeGreaterThan(2);
    for (const cb of cbs) expect([cb.url.split('?')[0], cb.status]).toEqual([cb.purpose === 'status' ? `${fb()}/webhooks/call-status` : `${fb()}/webhooks/conference`, 204]);
    expect(cbs.filter((x) => x.purpose === 'status').every((x) => x.url === `${fb()}/webhooks/call-status?monitor=${monitor.monitor_id}`)).toBe(true);
    // A second stop is answered ok and asks nothing of Twilio.
    expect((await api('/api/supervisor/monitor/stop', boss.token, { monitor_id: monitor.monitor_id })).status).toBe(200);
    expect(s.emulator.contractViolations()).toEqual([]);

    const log = await logOf(boss.id);
    expect(log.map((r) => [r.action, r.target, r.result])).toEqual([
      ['monitor_start', `call:${sid}`, 'ok'],
      ['monitor_mode', `monitor:${monitor.monitor_id}`, 'ok'],
      ['monitor_mode', `monitor:${monitor.monitor_id}`, 'ok'],
      ['monitor_mode', `monitor:${monitor.monitor_id}`, 'ok'],
      ['monitor_stop', `monitor:${monitor.monitor_id}`, 'ok'],
      ['monitor_stop', `monitor:${monitor.monitor_id}`, 'ok'],
    ]);
    expect(log.every((r) => r.user_email === boss.email && r.role === 'supervisor' && r.address !== null)).toBe(true);
    expect(log.slice(1, 4).map((r) => [r.detail['from_mode'], r.detail['mode']])).toEqual([['listen', 'whisper'], ['whisper', 'barge'], ['barge', 'listen']]);
  });

  it('to a phone: the supervisor leaves with the customer, and the agent wraps up exactly as without them', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const sid = await customerOnCall(agent, { hangupAfter: 25 });
    const admin = await bossWithLogin('admin');
    const phone = newMobile('11');
    const started = await api('/api/supervisor/monitor', admin.token, { call_sid: sid, mode: 'barge', to: phone });
    expect(started.status).toBe(200);
    const monitorId = (started.json['monitor'] as { monitor_id: number }).monitor_id;
    const leg = await joinedLeg(monitorId);
    expect(s.emulator.calls().find((c) => c.sid === leg)!.to).toBe(phone);
    await until('barging', async () => (hears(sid, leg) && hears(shift, leg) ? true : undefined));

    // The customer hangs up: the room's customer-leave takes the supervisor out too.
    await s.emulator.waitForCall(sid);
    await s.emulator.waitForCall(leg);
    await until('monitor ended', async () => ((await sql<{ status: string }>(`select status from supervisor_monitors where id = $1`, [monitorId]))[0]!.status === 'ended' ? true : undefined));
    await statusIs(agent.id, 'wrap_up');
    expect((await history(agent.id)).slice(-4)).toEqual([
      ['available', 'agent', null],
      ['reserved', 'system', sid],
      ['busy', 'agent', sid],
      ['wrap_up', 'system', sid],
    ]);
    // The shift leg is still in the room, alone.
    expect(s.emulator.conferences().find((c) => c.friendlyName === `agent-${agent.id}` && c.status === 'in-progress')?.participants).toEqual([shift]);
    expect(await sql(`select 1 from calls where call_sid = $1`, [leg])).toEqual([]);

    // Now the call is over: a mode change is refused, nothing asked of Twilio; a new monitor too.
    const requestsBefore = s.emulator.calls().length;
    expect(await api('/api/supervisor/monitor/mode', admin.token, { monitor_id: monitorId, mode: 'listen' })).toMatchObject({ status: 409, json: { error: 'monitor_ended' } });
    expect(await api('/api/supervisor/monitor', admin.token, { call_sid: sid, mode: 'listen' })).toMatchObject({ status: 409, json: { error: 'call_ended' } });
    expect(s.emulator.calls().length).toBe(requestsBefore);
    expect(await sql(`select count(*)::int as n from supervisor_monitors where call_sid = $1`, [sid])).toEqual([{ n: 1 }]);
    expect((await logOf(admin.id)).map((r) => [r.action, r.result, r.role])).toEqual([
      ['monitor_start', 'ok', 'admin'],
      ['monitor_mode', 'monitor_ended', 'admin'],
      ['monitor_start', 'call_ended', 'admin'],
    ]);
  });
});

describe('refusals change nothing and are logged', () => {
  it('ended call, no agent, unknown ids, malformed bodies, agent sessions', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const sid = await customerOnCall(agent);
    const boss = await bossWithLogin();
    const started = await api('/api/supervisor/monitor', boss.token, { call_sid: sid, mode: 'listen' });
    const monitorId = (started.json['monitor'] as { monitor_id: number }).monitor_id;
    const leg = await joinedLeg(monitorId);

    // An agent session: 403, logged with the agent's own e-mail and role.
    for (const [path, body] of [
      ['/api/supervisor/monitor', { call_sid: sid, mode: 'barge' }],
      ['/api/supervisor/monitor/mode', { monitor_id: monitorId, mode: 'barge' }],
      ['/api/supervisor/monitor/stop', { monitor_id: monitorId }],
      ['/api/supervisor/agent', { agent_id: agent.id, status: 'offline' }],
      ['/api/supervisor/campaign', { campaign_id: 1, status: 'paused' }],
    ] as const) {
      expect(await api(path, agent.token, body)).toMatchObject({ status: 403, json: { error: 'forbidden_role' } });
    }
    expect((await get('/api/supervisor/actions', agent.token)).status).toBe(403);
    // The same refusal again within a minute counts on the last row instead of adding rows.
    for (let i = 0; i < 4; i++) expect((await api('/api/supervisor/agent', agent.token, { agent_id: agent.id, status: 'offline' })).status).toBe(403);
    const [agentUser] = await sql<{ id: string }>(`select id from users where agent_id = $1`, [agent.id]);
    expect((await logOf(agentUser!.id)).map((r) => [r.action, r.result, r.role])).toEqual([
      ['monitor_start', 'forbidden_role', 'agent'],
      ['monitor_mode', 'forbidden_role', 'agent'],
      ['monitor_stop', 'forbidden_role', 'agent'],
      ['agent_status', 'forbidden_role', 'agent'],
      ['campaign', 'forbidden_role', 'agent'],
    ]);
    expect((await logOf(agentUser!.id))[3]!.detail).toMatchObject({ repeats: 5 });

    // Malformed: 400.
    for (const [path, body] of [
      ['/api/supervisor/monitor', { call_sid: 'CA123', mode: 'listen' }],
      ['/api/supervisor/monitor', { call_sid: sid, mode: 'shout' }],
      ['/api/supervisor/monitor', { call_sid: sid, mode: 'listen', to: '11999' }],
      ['/api/supervisor/monitor/mode', { monitor_id: 'x', mode: 'barge' }],
      ['/api/supervisor/agent', { agent_id: agent.id, status: 'available' }],
      ['/api/supervisor/agent', { agent_id: agent.id, status: 'offline', reason: 'x' }],
      ['/api/supervisor/campaign', { campaign_id: 1 }],
    ] as const) {
      expect({ path, ...(await api(path, boss.token, body)) }).toMatchObject({ path, status: 400, json: { error: 'bad_request' } });
    }
    expect((await get('/api/supervisor/actions?limit=0', boss.token)).status).toBe(400);
    // Unknown ids: 404.
    expect(await api('/api/supervisor/monitor', boss.token, { call_sid: 'CA' + 'f'.repeat(32), mode: 'listen' })).toMatchObject({ status: 404, json: { error: 'not_found' } });
    expect(await api('/api/supervisor/monitor/mode', boss.token, { monitor_id: 999999999, mode: 'barge' })).toMatchObject({ status: 404, json: { error: 'not_found' } });
    expect(await api('/api/supervisor/monitor/stop', boss.token, { monitor_id: 999999999 })).toMatchObject({ status: 404, json: { error: 'not_found' } });
    expect(await api('/api/supervisor/agent', boss.token, { agent_id: 999999999, status: 'offline' })).toMatchObject({ status: 404, json: { error: 'not_found' } });
    // A live call nobody is talking to in a room: no_agent.
    const other = await agentWithLogin();
    const ringing = await s.emulator.placeInboundCall({ from: newMobile('31'), to: other.did, party: { hangupAfter: 30 } });
    await until('ringing call recorded', async () => ((await sql(`select 1 from calls where call_sid = $1`, [ringing])).length ? true : undefined));
    expect(await api('/api/supervisor/monitor', boss.token, { call_sid: ringing, mode: 'listen' })).toMatchObject({ status: 409, json: { error: 'no_agent' } });
    // The supervisor is still listening, untouched by any of it.
    expect([hears(leg, sid), hears(sid, leg), hears(shift, leg)]).toEqual([true, false, false]);

    // The agent hangs up: the call ends; the monitor's mode can no longer change, nothing asked of Twilio.
    expect((await api('/api/agent/hangup', agent.token, { call_sid: sid })).status).toBe(200);
    await s.emulator.waitForCall(sid);
    await statusIs(agent.id, 'wrap_up');
    const calls = s.emulator.calls().length;
    const modeAfter = await api('/api/supervisor/monitor/mode', boss.token, { monitor_id: monitorId, mode: 'barge' });
    expect(modeAfter.status).toBe(409);
    expect(['call_ended', 'monitor_ended']).toContain(modeAfter.json['error']);
    expect(await api('/api/supervisor/monitor', boss.token, { call_sid: sid, mode: 'barge' })).toMatchObject({ status: 409, json: { error: 'call_ended' } });
    expect(s.emulator.calls().length).toBe(calls);
    expect(await sql(`select count(*)::int as n from supervisor_monitors where call_sid = $1`, [sid])).toEqual([{ n: 1 }]);

    const results = (await logOf(boss.id)).map((r) => [r.action, r.result]);
    expect(results).toEqual([
      ['monitor_start', 'ok'],
      ['monitor_start', 'bad_request'],
      ['monitor_start', 'bad_request'],
      ['monitor_start', 'bad_request'],
      ['monitor_mode', 'bad_request'],
      ['agent_status', 'bad_request'],
      ['agent_status', 'bad_request'],
      ['campaign', 'bad_request'],
      ['monitor_start', 'not_found'],
      ['monitor_mode', 'not_found'],
      ['monitor_stop', 'not_found'],
      ['agent_status', 'not_found'],
      ['monitor_start', 'no_agent'],
      ['monitor_mode', modeAfter.json['error']],
      ['monitor_start', 'call_ended'],
    ]);
  });
});

describe('a call that ends while Twilio adds the supervisor', () => {
  it('ends the monitor, logged call_ended, and asks the caller to take the supervisor out again', async () => {
    const agent = await agentWithLogin();
    await startShift(agent);
    const sid = await customerOnCall(agent);
    const boss = await bossWithLogin();
    const actor = { user_id: boss.id, email: boss.email, role: 'supervisor', address: '127.0.0.1' };
    const [b] = await sql<{ r: { monitor: { monitor_id: number } } }>(`select supervisor_monitor_begin($1::jsonb, $2, 'listen', 'client:x') as r`, [JSON.stringify(actor), sid]);
    const id = b!.r.monitor.monitor_id;
    // The customer's final status lands between the check and the answer of Participants create.
    await sql(`update calls set status = 'completed', ended_at = now() where call_sid = $1`, [sid]);
    const leg = 'CA' + 'e'.repeat(32);
    const [r] = await sql<{ r: { call_over: boolean; monitor: { status: string } } }>(`select supervisor_monitor_started($1::jsonb, $2, $3, 'ok', '{}'::jsonb) as r`, [JSON.stringify(actor), id, leg]);
    expect([r!.r.call_over, r!.r.monitor.status]).toEqual([true, 'ended']);
    expect((await logOf(boss.id)).map((x) => [x.action, x.result])).toEqual([['monitor_start', 'call_ended']]);
    // A leave of the customer from the room names every live monitor of the call by its label.
    const [m2] = await sql<{ id: string }>(
      `insert into supervisor_monitors (user_id, agent_id, call_sid, coached_call_sid, conference_sid, mode, endpoint) values ($1, $2, $3, $3, $4, 'listen', 'client:x') returning id`,
      [boss.id, agent.id, sid, 'CF' + '1'.repeat(32)],
    );
    const [ev] = await sql<{ r: { remove: unknown[] } }>(`select supervisor_conference_event($1::jsonb) as r`, [
      JSON.stringify({ conference_name: `agent-${agent.id}`, conference_sid: 'CF' + '1'.repeat(32), event: 'participant-leave', call_sid: sid, label: `customer-${sid}`, sequence_number: 99, wrap_up_seconds: 30 }),
    ]);
    expect(ev!.r.remove).toEqual([{ monitor_id: Number(m2!.id), conference_sid: 'CF' + '1'.repeat(32), participant: `supervisor-${m2!.id}` }]);
  });
});

describe('forcing an agent', () => {
  it('paused with a reason, then offline: the agent page sees it on its next poll; a busy agent is refused', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const boss = await bossWithLogin();
    const paused = await api('/api/supervisor/agent', boss.token, { agent_id: agent.id, status: 'paused', reason: 'Feedback' });
    expect(paused).toEqual({ status: 200, json: { agent: { id: agent.id, status: 'paused', pause_reason: 'Feedback' } } });
    const state = await get('/api/agent/state', agent.token);
    expect(state.json['agent']).toMatchObject({ status: 'paused', pause_reason: 'Feedback' });
    const [h] = await sql<{ status: string; source: string; changed_by: string; reason: string }>(
      `select status, source, changed_by, reason from agent_status_history where agent_id = $1 order by id desc limit 1`, [agent.id],
    );
    expect(h).toEqual({ status: 'paused', source: 'supervisor', changed_by: boss.id, reason: 'Feedback' });
    // Without a reason: the default one.
    expect((await api('/api/supervisor/agent', boss.token, { agent_id: agent.id, status: 'paused' })).json).toEqual({
      agent: { id: agent.id, status: 'paused', pause_reason: 'Pausado pelo supervisor' },
    });
    expect(await api('/api/supervisor/agent', boss.token, { agent_id: agent.id, status: 'offline' })).toEqual({
      status: 200, json: { agent: { id: agent.id, status: 'offline', pause_reason: null } },
    });
    expect(((await get('/api/agent/state', agent.token)).json['agent'] as { status: string }).status).toBe('offline');
    // Offline closes the room: the shift leg is hung up, and its end changes nothing more.
    await s.emulator.waitForCall(shift);
    await until('shift cleared', async () => ((await agentRow(agent.id)).shift_call_sid === null ? true : undefined));
    expect((await agentRow(agent.id)).status).toBe('offline');
    expect((await history(agent.id)).slice(-1)).toEqual([['offline', 'supervisor', null]]);

    // Busy: refused, nothing changed.
    const busy = await agentWithLogin();
    await startShift(busy);
    const sid = await customerOnCall(busy);
    const before = await roomSnapshot(busy.id, sid);
    expect(await api('/api/supervisor/agent', boss.token, { agent_id: busy.id, status: 'offline' })).toMatchObject({ status: 409, json: { error: 'agent_busy' } });
    expect(await roomSnapshot(busy.id, sid)).toEqual(before);
    expect((await logOf(boss.id)).map((r) => [r.action, r.target, r.result, r.detail['status']])).toEqual([
      ['agent_status', `agent:${agent.id}`, 'ok', 'paused'],
      ['agent_status', `agent:${agent.id}`, 'ok', 'paused'],
      ['agent_status', `agent:${agent.id}`, 'ok', 'offline'],
      ['agent_status', `agent:${busy.id}`, 'agent_busy', 'offline'],
    ]);
  });
});

describe('campaigns live', () => {
  it('pause, resume, mode and ratio through the campaign functions; their refusals unchanged and logged', async () => {
    const boss = await bossWithLogin();
    const agent = await agentWithLogin();
    const [c] = await sql<{ r: { id: number } }>(`select campaign_create($1::jsonb) as r`, [JSON.stringify({ name: `Supervisão ${randomBytes(4).toString('hex')}`, mode: 'power', dial_ratio: 1 })]);
    const id = c!.r.id;
    await sql(`update agents set campaign_id = $1 where id = $2`, [id, agent.id]);
    await sql(`insert into phone_numbers (phone_number) values ($1) on conflict do nothing`, ['+551130009699']);
    const row = async () => (await sql<{ status: string; mode: string; dial_ratio: string }>(`select status, mode, dial_ratio::text from campaigns where id = $1`, [id]))[0];

    expect(await api('/api/supervisor/campaign', boss.token, { campaign_id: id, status: 'running' })).toEqual({
      status: 200, json: { campaign: { id, status: 'active', mode: 'power', dial_ratio: 1 } },
    });
    expect(await api('/api/supervisor/campaign', boss.token, { campaign_id: id, mode: 'power', dial_ratio: 2.5 })).toEqual({
      status: 200, json: { campaign: { id, status: 'active', mode: 'power', dial_ratio: 2.5 } },
    });
    expect(await api('/api/supervisor/campaign', boss.token, { campaign_id: id, status: 'paused', mode: 'predictive' })).toEqual({
      status: 200, json: { campaign: { id, status: 'paused', mode: 'predictive', dial_ratio: 2.5 } },
    });
    // The schema's limits: nothing changes.
    expect(await api('/api/supervisor/campaign', boss.token, { campaign_id: id, dial_ratio: 20 })).toMatchObject({ status: 400, json: { error: 'invalid_settings' } });
    expect(await row()).toEqual({ status: 'paused', mode: 'predictive', dial_ratio: '2.50' });
    // A refusal of the status undoes the settings given with it.
    await sql(`update agents set campaign_id = null where id = $1`, [agent.id]);
    expect(await api('/api/supervisor/campaign', boss.token, { campaign_id: id, status: 'running', mode: 'preview' })).toMatchObject({ status: 409, json: { error: 'campaign_without_agents' } });
    expect(await row()).toEqual({ status: 'paused', mode: 'predictive', dial_ratio: '2.50' });
    expect(await api('/api/supervisor/campaign', boss.token, { campaign_id: 999999999, status: 'paused' })).toMatchObject({ status: 404, json: { error: 'campaign_not_found' } });

    const log = await logOf(boss.id);
    expect(log.map((r) => [r.action, r.target, r.result])).toEqual([
      ['campaign', `campaign:${id}`, 'ok'],
      ['campaign', `campaign:${id}`, 'ok'],
      ['campaign', `campaign:${id}`, 'ok'],
      ['campaign', `campaign:${id}`, 'invalid_settings'],
      ['campaign', `campaign:${id}`, 'campaign_without_agents'],
      ['campaign', 'campaign:999999999', 'campaign_not_found'],
    ]);
    expect(log[1]!.detail).toEqual({ mode: 'power', dial_ratio: 2.5, from: { status: 'active', mode: 'power', dial_ratio: 1 } });

    // The log, newest first, with its exact shape.
    const listed = await get('/api/supervisor/actions?limit=500', boss.token);
    expect(listed.status).toBe(200);
    const mine = (listed.json['actions'] as { user_email: string; id: number }[]).filter((a) => a.user_email === boss.email);
    expect(mine.map((a) => a.id)).toEqual([...mine.map((a) => a.id)].sort((a, b) => b - a));
    expect(Object.keys(mine[0]!).sort()).toEqual(['action', 'address', 'at', 'detail', 'id', 'result', 'role', 'target', 'user_email', 'user_id']);
    expect(mine[0]).toMatchObject({ action: 'campaign', target: 'campaign:999999999', result: 'campaign_not_found', role: 'supervisor' });
    expect(((await get('/api/supervisor/actions?limit=2', boss.token)).json['actions'] as unknown[]).length).toBe(2);
  });
});

describe('GET /api/voice-token for a supervisor', () => {
  it("gives the listening identity supervisor-<user id>, incoming only", async () => {
    const boss = await bossWithLogin();
    const r = await get('/api/voice-token', boss.token);
    expect(r.status).toBe(200);
    expect(r.json['identity']).toBe(`supervisor-${boss.id}`);
    const claims = JSON.parse(Buffer.from(String(r.json['token']).split('.')[1]!, 'base64url').toString()) as { grants: { identity: string; voice: Record<string, unknown> } };
    expect(claims.grants).toEqual({ identity: `supervisor-${boss.id}`, voice: { incoming: { allow: true } } });
  });

  it('needs the API key and secret only: no TwiML App (an agent without one is still refused)', async () => {
    installRuntimeGlobals();
    const boss = await bossWithLogin();
    const agent = await agentWithLogin();
    const invoke = (token: string, extra: Record<string, string>) =>
      new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
        const context = makeContext({
          SUPABASE_URL: s.stack.env.SUPABASE_URL, SUPABASE_SERVICE_ROLE_KEY: s.stack.env.SUPABASE_SERVICE_ROLE_KEY, DB_TIMEOUT_MS: '5000',
          TWILIO_API_KEY: 'SK' + 'c'.repeat(32), TWILIO_API_SECRET: 'listener-signing-secret', ...extra,
        });
        voiceToken(context as never, { request: { headers: { authorization: `Bearer ${token}` }, cookies: {} } } as never, (err, res) => {
          if (err) return reject(err instanceof Error ? err : new Error(String(err)));
          const r = res as unknown as { statusCode: number; body: unknown };
          resolve({ status: r.statusCode, body: JSON.parse(typeof r.body === 'string' ? r.body : JSON.stringify(r.body)) as Record<string, unknown> });
        });
      });
    expect(await invoke(boss.token, { TWILIO_TWIML_APP_SID: '' })).toMatchObject({ status: 200, body: { identity: `supervisor-${boss.id}` } });
    expect(await invoke(agent.token, { TWILIO_TWIML_APP_SID: '' })).toMatchObject({ status: 503, body: { error: 'softphone_not_configured' } });
    expect(await invoke(boss.token, { TWILIO_TWIML_APP_SID: '', TWILIO_API_SECRET: '' })).toMatchObject({ status: 503, body: { error: 'softphone_not_configured' } });
  });

  it("an agent's softphone identity can never take the supervisors' prefix", async () => {
    const agent = await agentWithLogin();
    await expect(sql(`update agents set client_identity = $2 where id = $1`, [agent.id, `supervisor-${randomBytes(4).toString('hex')}`])).rejects.toThrow(/agents_client_identity_not_supervisor/);
  });
});

describe('the room callbacks with many monitors', () => {
  it('a leg labelled agent or customer-CA… is never cast to a monitor id, whatever plan the lookup gets', async () => {
    const agent = await agentWithLogin();
    const boss = await bossWithLogin();
    const { client } = await session(s.stack.env.DATABASE_URL);
    const cf = 'CF' + randomBytes(16).toString('hex');
    try {
      await client.query('begin');
      // Enough ended monitors for an index plan (a floor's weeks of listening), analyzed.
      const ids = (await client.query<{ id: string }>(
        `insert into supervisor_monitors (user_id, agent_id, call_sid, coached_call_sid, conference_sid, mode, endpoint, status, participant_call_sid)
         select $1, $2, 'CA' || md5('c' || g), 'CA' || md5('s' || g), $3, 'listen', 'client:x', 'ended', 'CA' || md5('p' || $3 || g)
           from generate_series(1, 2000) g returning id`, [boss.id, agent.id, cf])).rows.map((r) => Number(r.id));
      await client.query('analyze supervisor_monitors');
      const leg = 'CA' + randomBytes(16).toString('hex');
      const customer = 'CA' + randomBytes(16).toString('hex');
      const known = (await client.query<{ p: string }>(`select participant_call_sid as p from supervisor_monitors where id = $1`, [ids[7]])).rows[0]!.p;
      const lookup = async (label: string | null, sid: string | null) =>
        (await client.query<{ id: string | null }>(`select (supervisor_monitor_of($1, $2)).id`, [label, sid])).rows[0]!.id;
      const event = async (label: string, sid: string) =>
        (await client.query<{ r: Record<string, unknown> }>(`select supervisor_conference_event($1::jsonb) as r`, [
          JSON.stringify({ conference_name: 'not-a-room', conference_sid: cf, event: 'participant-join', call_sid: sid, label, sequence_number: 1, wrap_up_seconds: 30 }),
        ])).rows[0]!.r;
      // The generic plan (PG 18 switches to it after five calls; older servers always plan SQL function bodies so), then index scans forced.
      for (const settings of ['set local plan_cache_mode = force_generic_plan', 'set local enable_seqscan = off']) {
        await client.query(settings);
        for (let i = 0; i < 7; i++) {
          expect(await lookup(`supervisor-${ids[3]}`, null)).toBe(String(ids[3]));
          expect(await lookup('agent', leg)).toBeNull();
          expect(await lookup(`customer-${customer}`, customer)).toBeNull();
          expect(await lookup(null, known)).toBe(String(ids[7]));
          expect(await lookup('supervisor-0', null)).toBeNull();
          expect(await event('agent', leg)).toMatchObject({ applied: false });
          expect(await event(`customer-${customer}`, customer)).toMatchObject({ applied: false });
        }
      }
    } finally {
      await client.query('rollback').catch(() => undefined);
      await client.end();
    }
  });
});

describe('a supervisor never stays in the room without the customer, whatever order the callbacks come in', () => {
  /** The room event as /webhooks/conference hands it to the database. */
  const roomEvent = async (room: string, agentId: number, event: string, sid: string, label: string, seq: number) =>
    (await sql<{ r: { remove?: { monitor_id: number; conference_sid: string; participant: string }[]; supervisor?: boolean } }>(
      `select supervisor_conference_event($1::jsonb) as r`,
      [JSON.stringify({ conference_name: `agent-${agentId}`, conference_sid: room, event, call_sid: sid, label, sequence_number: seq, wrap_up_seconds: 30 })],
    ))[0]!.r;
  const monitorStatus = async (id: number) =>
    (await sql<{ status: string; end_reason: string | null }>(`select status, end_reason from supervisor_monitors where id = $1`, [id]))[0];

  it("the customer's room leave before Participants create answers, before the call's final status; the supervisor's join after it", async () => {
    const agent = await agentWithLogin();
    await startShift(agent);
    const sid = await customerOnCall(agent);
    const boss = await bossWithLogin();
    const actor = JSON.stringify({ user_id: boss.id, email: boss.email, role: 'supervisor', address: '127.0.0.1' });
    const [b] = await sql<{ r: { monitor: { monitor_id: number }; conference_sid: string } }>(`select supervisor_monitor_begin($1::jsonb, $2, 'barge', '+5511987650001') as r`, [actor, sid]);
    const id = b!.r.monitor.monitor_id;
    const room = b!.r.conference_sid;
    // The room's leave of the customer arrives first: the monitor is still dialing (no CallSid), so it is named by its label.
    const left = await roomEvent(room, agent.id, 'participant-leave', sid, `customer-${sid}`, 1000);
    expect(left.remove).toEqual([{ monitor_id: id, conference_sid: room, participant: `supervisor-${id}` }]);
    await statusIs(agent.id, 'wrap_up');
    // The customer's completed status has not come yet: the call is not over in the calls table.
    expect((await sql<{ over: boolean }>(`select call_is_over($1) as over`, [sid]))[0]!.over).toBe(false);
    // Then Participants create answers (the delete by label had found nothing yet): the start is over, and the caller removes the leg.
    const leg = 'CA' + randomBytes(16).toString('hex');
    const [st] = await sql<{ r: { call_over: boolean; monitor: { status: string } } }>(`select supervisor_monitor_started($1::jsonb, $2, $3, 'ok', '{}'::jsonb) as r`, [actor, id, leg]);
    expect([st!.r.call_over, st!.r.monitor.status]).toEqual([true, 'ended']);
    // And should that removal fail too, the leg's own join into the room is answered with its removal.
    const joined = await roomEvent(room, agent.id, 'participant-join', leg, `supervisor-${id}`, 1001);
    expect(joined).toMatchObject({ supervisor: true, remove: [{ monitor_id: id, conference_sid: room, participant: leg }] });
    expect(await monitorStatus(id)).toEqual({ status: 'ended', end_reason: 'call_ended' });
    expect((await logOf(boss.id)).map((x) => [x.action, x.result])).toEqual([['monitor_start', 'call_ended']]);
  });

  it("the supervisor's join after the customer's room leave, the create's answer after both", async () => {
    const agent = await agentWithLogin();
    await startShift(agent);
    const sid = await customerOnCall(agent);
    const boss = await bossWithLogin();
    const actor = JSON.stringify({ user_id: boss.id, email: boss.email, role: 'supervisor', address: '127.0.0.1' });
    const [b] = await sql<{ r: { monitor: { monitor_id: number }; conference_sid: string } }>(`select supervisor_monitor_begin($1::jsonb, $2, 'listen', 'client:x') as r`, [actor, sid]);
    const id = b!.r.monitor.monitor_id;
    const room = b!.r.conference_sid;
    await roomEvent(room, agent.id, 'participant-leave', sid, `customer-${sid}`, 1000);
    await statusIs(agent.id, 'wrap_up');
    const leg = 'CA' + randomBytes(16).toString('hex');
    expect(await roomEvent(room, agent.id, 'participant-join', leg, `supervisor-${id}`, 1001)).toMatchObject({ remove: [{ monitor_id: id, participant: leg }] });
    const [st] = await sql<{ r: { call_over: boolean } }>(`select supervisor_monitor_started($1::jsonb, $2, $3, 'ok', '{}'::jsonb) as r`, [actor, id, leg]);
    expect(st!.r.call_over).toBe(true);
    expect(await monitorStatus(id)).toEqual({ status: 'ended', end_reason: 'call_ended' });
  });

  it("a supervisor left behind (the customer's leave lost, or its removal failed) is taken out when the agent's next customer joins", async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const first = await customerOnCall(agent, { hangupAfter: 15 });
    const boss = await bossWithLogin();
    const started = await api('/api/supervisor/monitor', boss.token, { call_sid: first, mode: 'barge', to: newMobile('11') });
    expect(started.status).toBe(200);
    const id = (started.json['monitor'] as { monitor_id: number }).monitor_id;
    const leg = await joinedLeg(id);
    const room = (await sql<{ c: string }>(`select room_conference_sid as c from agents where id = $1`, [agent.id]))[0]!.c;
    await s.emulator.waitForCall(first);
    await s.emulator.waitForCall(leg);
    await statusIs(agent.id, 'wrap_up');
    // As if the customer's leave never came, or its removal failed: the row still says the supervisor is in the room.
    await sql(`update supervisor_monitors set status = 'joined', ended_at = null, end_reason = null where id = $1`, [id]);
    expect((await api('/api/agent/status', agent.token, { status: 'available' })).status).toBe(200);
    const second = await customerOnCall(agent);
    // The next customer's join (replayed: repeated callbacks end in the same state) names the supervisor left behind.
    const seq = 1;
    const joined = await roomEvent(room, agent.id, 'participant-join', second, `customer-${second}`, seq);
    expect(joined.remove).toEqual([{ monitor_id: id, conference_sid: room, participant: `supervisor-${id}` }]);
    // A supervisor of the second customer is not named.
    const again = await api('/api/supervisor/monitor', boss.token, { call_sid: second, mode: 'listen' });
    expect(again.status).toBe(200);
    const id2 = (again.json['monitor'] as { monitor_id: number }).monitor_id;
    await joinedLeg(id2);
    expect((await roomEvent(room, agent.id, 'participant-join', second, `customer-${second}`, seq)).remove!.map((m) => m.monitor_id)).toEqual([id]);
    expect([hears(second, shift), hears(shift, second)]).toEqual([true, true]);
  });
});

describe("the heartbeat's sweep", () => {
  it('a supervisor the room callbacks never took out (lost, or the removal failed) is taken out by /api/jobs, and only once', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const sid = await customerOnCall(agent, { hangupAfter: 20 });
    const boss = await bossWithLogin();
    const started = await api('/api/supervisor/monitor', boss.token, { call_sid: sid, mode: 'barge', to: newMobile('11') });
    expect(started.status).toBe(200);
    const id = (started.json['monitor'] as { monitor_id: number }).monitor_id;
    const leg = await joinedLeg(id);
    // The room's callbacks no longer name supervisors to take out (as when Twilio's callback is
    // lost or every delete fails): the rest of the room's handling is unchanged.
    const [{ def }] = (await sql<{ def: string }>(`select pg_get_functiondef('public.supervisor_conference_event(jsonb)'::regprocedure) as def`)) as [{ def: string }];
    await sql(`create or replace function public.supervisor_conference_event(p_event jsonb) returns jsonb language sql set search_path = '' as $$ select public.apply_conference_event(p_event) $$`);
    try {
      await s.emulator.waitForCall(sid);
      await statusIs(agent.id, 'wrap_up');
      expect(hears(leg, shift)).toBe(true); // left behind: still hears the agent
      // Within the grace period (the start may still be under way) the sweep leaves it alone.
      const early = await api('/api/jobs', boss.token, {});
      expect(early.status).toBe(200);
      expect((early.json['supervisors'] as { removed: number[] }).removed).not.toContain(id);
      await sql(`update supervisor_monitors set created_at = created_at - interval '1 minute' where id = $1`, [id]);
      const swept = await api('/api/jobs', boss.token, {});
      expect(swept.status).toBe(200);
      expect(swept.json['supervisors']).toMatchObject({ removed: expect.arrayContaining([id]), failed: [] });
      await until('the leg left the room', async () => (hears(leg, shift) ? undefined : true));
      const [m] = await sql<{ status: string; end_reason: string }>(`select status, end_reason from supervisor_monitors where id = $1`, [id]);
      expect(m).toEqual({ status: 'ended', end_reason: 'swept' });
      const again = await api('/api/jobs', boss.token, {});
      expect((again.json['supervisors'] as { removed: number[] }).removed).not.toContain(id);
    } finally {
      await sql(def);
    }
  });
});

describe('who the supervisor may be called on', () => {
  it("refuses the account's own numbers, opted-out numbers and numbers outside Brazil; nothing asked of Twilio", async () => {
    const agent = await agentWithLogin();
    await startShift(agent);
    const sid = await customerOnCall(agent);
    const boss = await bossWithLogin();
    const optedOut = newMobile('11');
    await sql(`insert into opt_outs (phone_number, source) values ($1, 'manual') on conflict do nothing`, [optedOut]);
    const calls = s.emulator.calls().length;
    for (const [to, status, error] of [
      [agent.did, 400, 'to_own_number'],
      [optedOut, 400, 'to_opted_out'],
      ['+14155550100', 400, 'bad_request'],
      ['+5501987650000', 400, 'bad_request'],
    ] as const) {
      expect({ to, ...(await api('/api/supervisor/monitor', boss.token, { call_sid: sid, mode: 'listen', to })) }).toMatchObject({ to, status, json: { error } });
    }
    expect(s.emulator.calls().length).toBe(calls);
    expect(await sql(`select 1 from supervisor_monitors where call_sid = $1`, [sid])).toEqual([]);
    expect((await logOf(boss.id)).map((r) => r.result)).toEqual(['to_own_number', 'to_opted_out', 'bad_request', 'bad_request']);
  });
});

describe("Twilio's refusals and legs the database lost track of", () => {
  it('whisper without Agent Conference is 409 whisper_unavailable; a room that ended under the request is 409 no_agent, not 502', async () => {
    const agent = await agentWithLogin();
    await startShift(agent);
    const sid = await customerOnCall(agent);
    const boss = await bossWithLogin();
    s.emulator.configureAccount(LOCAL.accountSid, { agentConference: false });
    try {
      expect(await api('/api/supervisor/monitor', boss.token, { call_sid: sid, mode: 'whisper' })).toMatchObject({ status: 409, json: { error: 'whisper_unavailable' } });
      const listen = await api('/api/supervisor/monitor', boss.token, { call_sid: sid, mode: 'listen' });
      expect(listen.status).toBe(200);
      const id = (listen.json['monitor'] as { monitor_id: number }).monitor_id;
      await joinedLeg(id);
      expect(await api('/api/supervisor/monitor/mode', boss.token, { monitor_id: id, mode: 'whisper' })).toMatchObject({ status: 409, json: { error: 'whisper_unavailable' } });
      expect((await sql<{ mode: string; status: string }>(`select mode, status from supervisor_monitors where id = $1`, [id]))[0]).toEqual({ mode: 'listen', status: 'joined' });
      expect((await api('/api/supervisor/monitor/stop', boss.token, { monitor_id: id })).status).toBe(200);
    } finally {
      s.emulator.configureAccount(LOCAL.accountSid, { agentConference: true });
    }
    // The agent's room as the database last knew it is gone (a lost conference-end): Twilio answers 404.
    const [{ c: room }] = (await sql<{ c: string }>(`select room_conference_sid as c from agents where id = $1`, [agent.id])) as [{ c: string }];
    await sql(`update agents set room_conference_sid = $2 where id = $1`, [agent.id, 'CF' + randomBytes(16).toString('hex')]);
    try {
      expect(await api('/api/supervisor/monitor', boss.token, { call_sid: sid, mode: 'listen' })).toMatchObject({ status: 409, json: { error: 'no_agent' } });
    } finally {
      await sql(`update agents set room_conference_sid = $2 where id = $1`, [agent.id, room]);
    }
    expect((await logOf(boss.id)).map((r) => [r.action, r.result])).toEqual([
      ['monitor_start', 'whisper_unavailable'],
      ['monitor_start', 'ok'],
      ['monitor_mode', 'whisper_unavailable'],
      ['monitor_stop', 'ok'],
      ['monitor_start', 'no_agent'],
    ]);
    // (The stopped one's end is 'stopped' or 'left', whichever of the stop's answer and the leg's leave came first.)
    expect(await sql(`select status, end_reason from supervisor_monitors where user_id = $1 and end_reason not in ('stopped', 'left') order by id`, [boss.id])).toEqual([
      { status: 'ended', end_reason: 'whisper_unavailable' },
      { status: 'ended', end_reason: 'no_agent' },
    ]);
  });

  it('a stop before the leg has a CallSid stored still takes the leg out (by its label, while it rings)', async () => {
    const agent = await agentWithLogin();
    const shift = await startShift(agent);
    const sid = await customerOnCall(agent);
    const boss = await bossWithLogin();
    const actor = JSON.stringify({ user_id: boss.id, email: boss.email, role: 'supervisor', address: '127.0.0.1' });
    const phone = newMobile('11');
    s.emulator.addParty({ number: phone, answerAfter: 20 });
    const [b] = await sql<{ r: { monitor: { monitor_id: number }; conference_sid: string; from: string } }>(`select supervisor_monitor_begin($1::jsonb, $2, 'barge', $3) as r`, [actor, sid, phone]);
    const id = b!.r.monitor.monitor_id;
    // Participants create reached Twilio, but its answer never came back (a timeout): no CallSid in the row.
    const p = await s.twilio.conferences(b!.r.conference_sid).participants.create({ from: b!.r.from, to: phone, label: `supervisor-${id}`, beep: 'false', endConferenceOnExit: false });
    expect(await api('/api/supervisor/monitor/stop', boss.token, { monitor_id: id })).toEqual({ status: 200, json: { ok: true } });
    await s.emulator.waitForCall(p.callSid);
    // Removed by its label while still ringing: it never joined the room.
    expect(s.emulator.webhooks().filter((x) => x.callSid === p.callSid && x.params['StatusCallbackEvent'] === 'participant-join')).toEqual([]);
    expect(hears(sid, p.callSid) || hears(shift, p.callSid)).toBe(false);
    expect(s.emulator.conferences().find((c) => c.sid === b!.r.conference_sid)!.participants.sort()).toEqual([sid, shift].sort());
    expect((await sql<{ status: string }>(`select status from supervisor_monitors where id = $1`, [id]))[0]!.status).toBe('ended');
  });
});
