/**
 * The campaign call functions on the database, through PostgREST as the functions call them:
 * concurrent AMD results never reserve one agent twice; the lead's callback agent first, else
 * the agent available the longest; repeats change nothing; the connect step's grace, unknown
 * rule and abandon; and the recording callback (idempotent, monotonic, channel map), also over
 * HTTP with Twilio's signature.
 */
import { randomBytes } from 'node:crypto';
import { env, sql, testDb } from '../helpers/db';
import { newCallSid, newMobile, signedPost } from '../helpers/twilio';

const db = testDb();
const rpc = async <T>(fn: string, args: Record<string, unknown>): Promise<T> => {
  const { data, error } = await db.rpc<T>(fn, args);
  if (error) throw new Error(`${fn}: ${error.message}`);
  return data as T;
};

async function campaign(cols: Record<string, string> = {}): Promise<number> {
  const names = Object.keys(cols);
  const [row] = await sql<{ id: string }>(
    `insert into campaigns (name, status${names.map((n) => `, ${n}`).join('')}) values ($1, 'active'${names.map((_, i) => `, $${i + 2}`).join('')}) returning id`,
    [`c-${randomBytes(5).toString('hex')}`, ...Object.values(cols)],
  );
  return Number(row!.id);
}

/** A routable agent of the campaign (shift leg set, page polled now), available since `since` seconds ago. */
async function agent(campaignId: number, since = 0): Promise<number> {
  const [row] = await sql<{ id: string }>(
    `insert into agents (name, status, status_changed_at, shift_call_sid, last_seen_at, campaign_id)
     values ($1, 'available', now() - make_interval(secs => $2), $3, now(), $4) returning id`,
    [`A ${randomBytes(3).toString('hex')}`, since, newCallSid(), campaignId],
  );
  return Number(row!.id);
}

/** An answered campaign call (attempt row with its CallSid). */
async function call(campaignId: number, leadCols: { callback_agent_id?: number } = {}): Promise<{ sid: string; id: number; to: string }> {
  const to = newMobile('41');
  const [l] = await sql<{ id: string }>(`insert into leads (campaign_id, phone_number, name, callback_agent_id) values ($1, $2, 'Ana', $3) returning id`, [campaignId, to, leadCols.callback_agent_id ?? null]);
  const sid = newCallSid();
  const [c] = await sql<{ id: string }>(
    `insert into calls (call_sid, direction, from_number, to_number, campaign_id, lead_id, status, answered_at)
     values ($1, 'outbound-api', '+551130009801', $2, $3, $4, 'in-progress', now()) returning id`,
    [sid, to, campaignId, l!.id],
  );
  return { sid, id: Number(c!.id), to };
}

const amd = (c: { sid: string; id: number }, answeredBy: string, ms = 2400) =>
  rpc<{ action: string; reason: string | null; agent: { id: number } | null; whisper: Record<string, unknown> | null }>('campaign_amd_result', {
    p_event: { call_sid: c.sid, attempt_id: c.id, answered_by: answeredBy, amd_ms: ms, presence_seconds: 20, params: { AnsweredBy: answeredBy } },
  });
const connectStep = (c: { sid: string; id: number; to: string }) =>
  rpc<Record<string, unknown>>('campaign_connect_step', {
    p_event: { call_sid: c.sid, attempt_id: c.id, call_status: 'in-progress', direction: 'outbound-api', to: c.to, presence_seconds: 20, grace_seconds: 2, params: {} },
  });

describe('campaign_amd_result', () => {
  it('five live answers at once, two agents: two whispers with distinct agents, three waits', async () => {
    const k = await campaign();
    const a = [await agent(k, 30), await agent(k, 10)];
    const calls = await Promise.all([0, 1, 2, 3, 4].map(() => call(k)));
    const results = await Promise.all(calls.map((c) => amd(c, 'human')));
    const whispered = results.filter((r) => r.action === 'whisper');
    expect(whispered.map((r) => r.agent!.id).sort()).toEqual([...a].sort());
    expect(results.filter((r) => r.action === 'wait')).toHaveLength(3);
    const rows = await sql<{ id: string; status: string; current_call_sid: string }>(`select id, status, current_call_sid from agents where id = any($1) order by id`, [a]);
    expect(rows.every((r) => r.status === 'reserved')).toBe(true);
    expect(new Set(rows.map((r) => r.current_call_sid)).size).toBe(2);
  });

  it("the lead's callback agent first; else the agent available the longest; the whisper carries the lead", async () => {
    const k = await campaign({ whisper_template: 'Cliente {nome}' });
    const longest = await agent(k, 60);
    const promised = await agent(k, 1);
    const first = await amd(await call(k, { callback_agent_id: promised }), 'human');
    expect(first).toMatchObject({ action: 'whisper', agent: { id: promised }, whisper: { name: 'Ana', template: 'Cliente {nome}' } });
    const second = await amd(await call(k), 'human');
    expect(second.agent!.id).toBe(longest);
  });

  it('a repeat is a duplicate and changes nothing; a machine after the customer was connected changes nothing', async () => {
    const k = await campaign();
    const c = await call(k);
    expect((await amd(c, 'machine_start', 3200)).action).toBe('hangup');
    expect(await amd(c, 'human', 999)).toMatchObject({ action: 'none', reason: 'duplicate' });
    expect(await sql(`select answered_by, amd_ms, amd_action, outcome from calls where id = $1`, [c.id])).toEqual([
      { answered_by: 'machine_start', amd_ms: 3200, amd_action: 'hangup', outcome: 'machine' },
    ]);
    expect(await sql(`select count(*)::int as n, max(received_count) as r from call_events where call_sid = $1 and kind = 'amd'`, [c.sid])).toEqual([{ n: 1, r: 1 }]);

    const d = await call(k);
    await sql(`update calls set connected_at = now() where id = $1`, [d.id]);
    expect(await amd(d, 'machine_start')).toMatchObject({ action: 'none', reason: 'already_decided' });
    expect((await sql<{ outcome: string | null }>(`select outcome from calls where id = $1`, [d.id]))[0]!.outcome).toBeNull();
  });

  it('a machine_end_* result with amd_machine=voicemail is a voicemail drop; fax and unknown (hangup rule) hang up', async () => {
    const k = await campaign({ amd_machine: 'voicemail', amd_unknown: 'hangup' });
    expect((await amd(await call(k), 'machine_end_beep', 6400)).action).toBe('voicemail');
    expect((await amd(await call(k), 'machine_start', 3200)).action).toBe('hangup');
    expect((await amd(await call(k), 'fax', 2000)).action).toBe('hangup');
    expect(await amd(await call(k), 'unknown', 30000)).toMatchObject({ action: 'hangup', reason: 'unknown' });
  });

  it('an opted-out number is hung up on and nobody is reserved', async () => {
    const k = await campaign();
    const a = await agent(k);
    const c = await call(k);
    await sql(`select opt_out_add($1)`, [c.to]);
    expect(await amd(c, 'human')).toMatchObject({ action: 'hangup', reason: 'opted_out', agent: null });
    expect((await sql<{ status: string }>(`select status from agents where id = $1`, [a]))[0]!.status).toBe('available');
    expect(await sql(`select opted_out, outcome from calls where id = $1`, [c.id])).toEqual([{ opted_out: true, outcome: 'opted_out' }]);
  });
});

describe('campaign_connect_step', () => {
  it('AMD pending within the grace: wait; past it with amd_unknown=hangup: hangup', async () => {
    const k = await campaign({ amd_unknown: 'hangup' });
    const c = await call(k);
    expect(await connectStep(c)).toMatchObject({ action: 'wait', reason: 'amd_pending' });
    await sql(`update calls set disclaimer_ended_at = now() - interval '3 seconds' where id = $1`, [c.id]);
    expect(await connectStep(c)).toEqual({ action: 'hangup', reason: 'unknown' });
  });

  it('AMD pending when the grace ends with amd_unknown=connect: taken as live, a free agent reserved without whisper', async () => {
    const k = await campaign();
    const a = await agent(k);
    const c = await call(k);
    // No grace at all (ABANDON_GRACE_SECONDS=0): the first request applies the unknown rule at once.
    expect(await rpc('campaign_connect_step', {
      p_event: { call_sid: c.sid, attempt_id: c.id, call_status: 'in-progress', direction: 'outbound-api', to: c.to, presence_seconds: 20, grace_seconds: 0, params: {} },
    })).toEqual({ action: 'room', agent_id: a, reserved_by: 'connect' });
    const [row] = await sql<{ live_at: Date | null; reserved_by: string }>(`select live_at, reserved_by from calls where id = $1`, [c.id]);
    expect(row!.live_at).toBeInstanceOf(Date);
    expect(row!.reserved_by).toBe('connect');
    // A late AMD human then reserves nobody else.
    expect(await amd(c, 'human')).toMatchObject({ action: 'none', reason: 'already_decided' });
  });

  it('AMD pending past the grace with amd_unknown=connect: live and not in a room within the grace, so abandoned', async () => {
    const k = await campaign();
    const a = await agent(k);
    const c = await call(k);
    expect(await connectStep(c)).toMatchObject({ action: 'wait', reason: 'amd_pending' });
    await sql(`update calls set disclaimer_ended_at = now() - interval '3 seconds' where id = $1`, [c.id]);
    expect(await connectStep(c)).toMatchObject({ action: 'abandon' });
    expect(await sql(`select live_at is not null as live, outcome from calls where id = $1`, [c.id])).toEqual([{ live: true, outcome: 'abandoned' }]);
    expect((await sql<{ status: string }>(`select status from agents where id = $1`, [a]))[0]!.status).toBe('available');
  });

  it('live, nobody free, past the grace: abandoned once (outcome abandoned), the treatment and company named', async () => {
    const k = await campaign({ company_name: 'Banco Z', abandon_treatment: 'queue' });
    const c = await call(k);
    expect((await amd(c, 'human')).action).toBe('wait');
    expect(await connectStep(c)).toMatchObject({ action: 'wait', reason: 'no_agent' });
    await sql(`update calls set disclaimer_ended_at = now() - interval '2.5 seconds' where id = $1`, [c.id]);
    expect(await connectStep(c)).toEqual({ action: 'abandon', treatment: 'queue', company_name: 'Banco Z' });
    const [row] = await sql<{ abandoned_at: Date; outcome: string }>(`select abandoned_at, outcome from calls where id = $1`, [c.id]);
    expect(row!.outcome).toBe('abandoned');
    // An agent freed afterwards does not take an abandoned customer.
    await agent(k);
    expect(await connectStep(c)).toMatchObject({ action: 'abandon' });
    expect((await sql<{ abandoned_at: Date }>(`select abandoned_at from calls where id = $1`, [c.id]))[0]!.abandoned_at).toEqual(row!.abandoned_at);
  });

  it('a call of no campaign takes the click-to-call decision in the same round trip', async () => {
    const sid = newCallSid();
    const to = newMobile();
    const r = await rpc<{ action: string; answer: { connect: boolean; agent: null } }>('campaign_connect_step', {
      p_event: { call_sid: sid, call_status: 'in-progress', direction: 'outbound-api', to, presence_seconds: 20, params: {} },
    });
    expect(r).toEqual({ action: 'not_campaign', answer: { connect: true, agent: null } });
  });
});

describe('recording_status', () => {
  const rec = (sid: string, status: string, over: Record<string, unknown> = {}) =>
    rpc<Record<string, unknown>>('recording_status', {
      p_event: { recording_sid: over['recording_sid'] ?? REC, call_sid: sid, status, duration: status === 'completed' ? 42 : 0, channels: 2, source: 'StartCallRecordingAPI', track: 'both', url: 'https://api.twilio.com/x/RE1', started_at: '2026-11-26T10:00:00.000Z', error_code: 0, params: {}, ...over },
    });
  const REC = 'RE' + randomBytes(16).toString('hex');

  it('upserts once, moves only forward, keeps the duration, maps customer 1 / agent 2 and the call agent and campaign', async () => {
    const k = await campaign();
    const a = await agent(k);
    const c = await call(k);
    await sql(`update calls set agent_id = $2 where id = $1`, [c.id, a]);
    await rec(c.sid, 'in-progress');
    await rec(c.sid, 'completed');
    await rec(c.sid, 'in-progress');
    await rec(c.sid, 'completed');
    expect(await sql(`select status, duration, channels, agent_channel, customer_channel, agent_id, campaign_id, kind, error_code from recordings where recording_sid = $1`, [REC])).toEqual([
      { status: 'completed', duration: 42, channels: 2, agent_channel: 2, customer_channel: 1, agent_id: String(a), campaign_id: String(k), kind: 'call', error_code: null },
    ]);
    expect(await sql(`select dedupe_key, received_count from call_events where call_sid = $1 and kind = 'recording' order by dedupe_key`, [c.sid])).toEqual([
      { dedupe_key: `recording:${REC}:completed`, received_count: 2 },
      { dedupe_key: `recording:${REC}:in-progress`, received_count: 2 },
    ]);
  });

  it('a conference recording puts the agent on channel 1; a mono one has no map; a Record verb one is a voicemail', async () => {
    const k = await campaign();
    const c = await call(k);
    const conf = 'RE' + randomBytes(16).toString('hex');
    const mono = 'RE' + randomBytes(16).toString('hex');
    const vm = 'RE' + randomBytes(16).toString('hex');
    await rec(c.sid, 'completed', { recording_sid: conf, source: 'Conference' });
    await rec(c.sid, 'completed', { recording_sid: mono, channels: 1 });
    await rec(c.sid, 'completed', { recording_sid: vm, channels: 1, source: 'RecordVerb' });
    expect(await sql(`select recording_sid, agent_channel, customer_channel, kind from recordings where recording_sid = any($1) order by recording_sid`, [[conf, mono, vm]])).toEqual(
      [
        { recording_sid: conf, agent_channel: 1, customer_channel: 2, kind: 'call' },
        { recording_sid: mono, agent_channel: null, customer_channel: null, kind: 'call' },
        { recording_sid: vm, agent_channel: null, customer_channel: null, kind: 'voicemail' },
      ].sort((x, y) => x.recording_sid.localeCompare(y.recording_sid)),
    );
  });

  it('over HTTP: an unknown call is acknowledged and not stored; malformed parameters are refused (400), nothing written', async () => {
    const url = `${env('FUNCTIONS_BASE_URL')}/webhooks/recording`;
    const token = env('TWILIO_AUTH_TOKEN');
    const sid = newCallSid();
    const recSid = 'RE' + randomBytes(16).toString('hex');
    const base = {
      AccountSid: env('TWILIO_ACCOUNT_SID'), CallSid: sid, RecordingSid: recSid, RecordingStatus: 'completed', RecordingUrl: 'https://api.twilio.com/2010-04-01/x',
      RecordingDuration: '12', RecordingChannels: '2', RecordingSource: 'StartCallRecordingAPI', RecordingTrack: 'both', RecordingStartTime: 'Thu, 26 Nov 2026 10:00:00 +0000', ErrorCode: '0',
    };
    const unknown = await signedPost(url, base, token);
    expect([unknown.status, await unknown.json()]).toEqual([200, { stored: false, reason: 'unknown_call' }]);
    expect(await sql(`select 1 from recordings where recording_sid = $1`, [recSid])).toEqual([]);

    const k = await campaign();
    const c = await call(k);
    expect((await signedPost(url, { ...base, CallSid: c.sid, RecordingStatus: 'done' }, token)).status).toBe(400);
    expect((await signedPost(url, { ...base, CallSid: c.sid, RecordingSid: 'RE-bad' }, token)).status).toBe(400);
    expect(await sql(`select 1 from recordings where call_sid = $1`, [c.sid])).toEqual([]);
    expect((await signedPost(url, { ...base, CallSid: c.sid }, token)).status).toBe(204);
    expect(await sql(`select status, duration, started_at from recordings where recording_sid = $1`, [recSid])).toEqual([
      { status: 'completed', duration: 12, started_at: new Date('2026-11-26T10:00:00Z') },
    ]);
  });
});
