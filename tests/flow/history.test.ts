/**
 * GET /api/history and /api/history/export through the local front (real HTTP, twilio-run,
 * PostgREST, Postgres) with real sessions. A campaign with two agents is seeded over two São
 * Paulo days (2025-03-10 and 11, far from every other suite's "now"): calls of every kind
 * (AMD results, a live answer abandoned across an hour edge, attempts Twilio refused or never
 * placed, a call at 23:30 local that is the next day in UTC), the agents' status periods,
 * dispositions, a second campaign, and a service queue. Every figure is asserted against
 * numbers worked out by hand in the comments; the CSV against its exact bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { callApi } from '../helpers/api-client';
import { sql } from '../helpers/db';
import { newCallSid, newMobile } from '../helpers/twilio';

/* eslint-disable @typescript-eslint/no-explicit-any */

async function session(role: 'agent' | 'supervisor' | 'admin', agentId: number | null = null): Promise<string> {
  const tag = randomBytes(6).toString('hex');
  const [u] = await sql<{ id: string }>(`insert into users (email, name, role, agent_id) values ($1, $2, $3, $4) returning id`, [`${tag}@history.test`, `Pessoa ${tag}`, role, agentId]);
  const token = randomBytes(32).toString('base64url');
  const hash = createHash('sha256').update(token).digest('hex');
  await sql(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '12 hours')`, [u!.id, hash]);
  return token;
}

const tag = randomBytes(4).toString('hex');
let k1: number;
let k2: number;
let a1: number;
let a2: number;
const a2Name = `=SOMA(1;2) ${tag}`;
const queueName = `hist-${tag}`;
let supervisor: string;
let agentToken: string;

/** A São Paulo local time "2025-03-10 09:10:00" as an instant (UTC−3). */
const sp = (local: string) => new Date(`${local.replace(' ', 'T')}-03:00`).toISOString();

beforeAll(async () => {
  supervisor = await session('supervisor');
  const [c1] = await sql<{ id: string }>(`insert into campaigns (name, mode, status, abandon_cap, amd_human_accuracy) values ($1, 'predictive', 'paused', 0.03, 0.9) returning id`, [`Histórico ${tag}`]);
  const [c2] = await sql<{ id: string }>(`insert into campaigns (name, mode, status, abandon_cap, amd_human_accuracy) values ($1, 'power', 'paused', 0.05, 0.96) returning id`, [`Histórico B ${tag}`]);
  k1 = Number(c1!.id);
  k2 = Number(c2!.id);
  const agent = async (name: string) =>
    Number((await sql<{ id: string }>(`insert into agents (name, client_identity, status, campaign_id) values ($1, $2, 'offline', $3) returning id`, [name, `hist-${randomBytes(4).toString('hex')}`, k1]))[0]!.id);
  a1 = await agent(`Ana Histórico ${tag}`);
  a2 = await agent(a2Name);
  agentToken = await session('agent', a1);
  const callerId = newMobile('11');

  const call = (o: {
    created: string;
    status: string;
    duration?: number | null;
    campaign?: number;
    agent?: number;
    answeredBy?: string;
    amd?: string;
    live?: string;
    connected?: string;
    abandoned?: string;
    endReason?: string;
  }) =>
    sql(
      `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, agent_id, status, duration, created_at, answered_by, amd_at, live_at, connected_at, abandoned_at, end_reason)
       values ($1, 'outbound-api', $2::text, $3, $2::text, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
      [
        o.endReason ? null : newCallSid(),
        callerId,
        newMobile('11'),
        o.campaign ?? k1,
        o.agent ?? null,
        o.status,
        o.duration ?? null,
        sp(o.created),
        o.answeredBy ?? null,
        o.amd ? sp(o.amd) : null,
        o.live ? sp(o.live) : null,
        o.connected ? sp(o.connected) : null,
        o.abandoned ? sp(o.abandoned) : null,
        o.endReason ?? null,
      ],
    );
  const sids: Record<string, string> = {};
  // 1: 09:10 machine, 4 s (short).
  await call({ created: '2025-03-10 09:10:00', status: 'completed', duration: 4, answeredBy: 'machine_start', amd: '2025-03-10 09:10:20' });
  // 2: 09:20 human, connected to Ana, 95 s.
  await call({ created: '2025-03-10 09:20:00', status: 'completed', duration: 95, agent: a1, answeredBy: 'human', amd: '2025-03-10 09:20:10', live: '2025-03-10 09:20:10', connected: '2025-03-10 09:20:15' });
  // 3: created 09:59:50, live at 10:00:05 and abandoned at 10:00:20 (10h), 7 s (not short).
  await call({ created: '2025-03-10 09:59:50', status: 'completed', duration: 7, answeredBy: 'human', amd: '2025-03-10 10:00:05', live: '2025-03-10 10:00:05', abandoned: '2025-03-10 10:00:20' });
  // 4: 10:30 no answer (short).
  await call({ created: '2025-03-10 10:30:00', status: 'no-answer', duration: 0 });
  // 5, 6: attempts Twilio refused or that were never placed: not calls.
  await call({ created: '2025-03-10 10:40:00', status: 'failed', endReason: 'twilio_refused' });
  await call({ created: '2025-03-10 10:41:00', status: 'failed', endReason: 'never_placed' });
  // 7: 23:30 local (02:30 UTC on the 11th): São Paulo's 10th; human, connected to the second agent, 30 s.
  await call({ created: '2025-03-10 23:30:00', status: 'completed', duration: 30, agent: a2, answeredBy: 'human', amd: '2025-03-10 23:30:10', live: '2025-03-10 23:30:10', connected: '2025-03-10 23:30:20' });
  // 8: the 11th 00:10, busy, no duration (short).
  await call({ created: '2025-03-11 00:10:00', status: 'busy', duration: null });
  // 9: the 11th 14:00, human, connected to Ana, 200 s.
  await call({ created: '2025-03-11 14:00:00', status: 'completed', duration: 200, agent: a1, answeredBy: 'human', amd: '2025-03-11 14:00:10', live: '2025-03-11 14:00:10', connected: '2025-03-11 14:00:12' });
  // 10: the other campaign, 09:30, a beep machine, 2 s.
  await call({ created: '2025-03-10 09:30:00', status: 'completed', duration: 2, campaign: k2, answeredBy: 'machine_end_beep', amd: '2025-03-10 09:30:30' });
  for (const r of await sql<{ call_sid: string; created_at: Date }>(`select call_sid, created_at from calls where campaign_id = $1 and call_sid is not null`, [k1]))
    sids[r.created_at.toISOString()] = r.call_sid;

  const disp = (created: string, agent: number, code: string, at: string) =>
    sql(`insert into call_dispositions (call_sid, agent_id, code, created_at) values ($1, $2, $3, $4)`, [sids[sp(created)], agent, code, sp(at)]);
  await disp('2025-03-10 09:20:00', a1, 'venda', '2025-03-10 09:22:00');
  await disp('2025-03-10 23:30:00', a2, 'promessa', '2025-03-10 23:31:10');
  await disp('2025-03-11 14:00:00', a1, 'promessa', '2025-03-11 14:04:00');

  const period = (agent: number, status: string, from: string, to: string) =>
    sql(`insert into agent_status_history (agent_id, status, source, started_at, ended_at) values ($1, $2, 'system', $3, $4)`, [agent, status, sp(from), sp(to)]);
  await period(a1, 'available', '2025-03-10 09:00:00', '2025-03-10 09:20:00');
  await period(a1, 'busy', '2025-03-10 09:20:00', '2025-03-10 09:21:35');
  await period(a1, 'wrap_up', '2025-03-10 09:21:35', '2025-03-10 09:22:00');
  await period(a1, 'available', '2025-03-10 09:22:00', '2025-03-10 09:50:00');
  await period(a1, 'paused', '2025-03-10 09:50:00', '2025-03-10 10:10:00');
  await period(a1, 'offline', '2025-03-10 10:10:00', '2025-03-11 14:00:00');
  await period(a1, 'busy', '2025-03-11 14:00:00', '2025-03-11 14:03:20');
  await period(a1, 'available', '2025-03-11 14:03:20', '2025-03-11 15:00:00');
  await period(a1, 'offline', '2025-03-11 15:00:00', '2025-03-11 16:00:00');
  await period(a2, 'available', '2025-03-10 23:00:00', '2025-03-10 23:30:20');
  await period(a2, 'busy', '2025-03-10 23:30:20', '2025-03-10 23:31:00');
  await period(a2, 'available', '2025-03-10 23:31:00', '2025-03-11 00:30:00');
  await period(a2, 'offline', '2025-03-11 00:30:00', '2025-03-11 01:00:00');

  // The queue (level 20 s): 09:05 answered in 10 s, 09:40 answered in 30 s, 10:15 abandoned after 40 s, 23:50 answered in 5 s.
  const [nobody] = await sql<{ id: string }>(`insert into agents (name, status) values ('ninguém', 'offline') returning id`);
  await sql(`insert into service_queues (name, service_level_seconds, agent_ids) values ($1, 20, array[$2::bigint])`, [queueName, nobody!.id]);
  const entry = (at: string, result: string, waited: number) =>
    sql(`insert into queue_entries (call_sid, queue_name, entered_at, left_at, result, waited_seconds) values ($1, $2, $3, $3::timestamptz + $4 * interval '1 second', $5, $4)`, [
      newCallSid(),
      queueName,
      sp(at),
      waited,
      result,
    ]);
  await entry('2025-03-10 09:05:00', 'answered', 10);
  await entry('2025-03-10 09:40:00', 'answered', 30);
  await entry('2025-03-10 10:15:00', 'abandoned', 40);
  await entry('2025-03-10 23:50:00', 'answered', 5);
});

const get = (query: string, token = supervisor) => callApi(`/api/history?${query}`, { token });

describe('GET /api/history', () => {
  it('no session → 401; an agent → 403 (even with bad input); an unknown token → 401', async () => {
    const none = await callApi('/api/history');
    expect([none.status, none.json.error]).toEqual([401, 'unauthenticated']);
    const refused = await get('from=2025-03-10', agentToken);
    expect([refused.status, refused.json.error]).toEqual([403, 'forbidden_role']);
    const refusedBad = await get('from=yesterday', agentToken);
    expect([refusedBad.status, refusedBad.json.error]).toEqual([403, 'forbidden_role']);
    const bogus = await get('from=2025-03-10', randomBytes(32).toString('base64url'));
    expect([bogus.status, bogus.json.error]).toEqual([401, 'session_expired']);
    const bogusBad = await get('from=yesterday', randomBytes(32).toString('base64url'));
    expect([bogusBad.status, bogusBad.json.error]).toEqual([401, 'session_expired']);
    const admin = await get(`from=2025-03-10&to=2025-03-10&campaign_id=${k1}`, await session('admin'));
    expect(admin.status).toBe(200);
  });

  it('bad ranges and filters → 400 / 404 with a clear message', async () => {
    const cases: [string, number, string][] = [
      ['from=2025-03-11&to=2025-03-10', 400, 'the range must end after it starts (to before from)'],
      ['from=2025-01-01&to=2025-03-04', 400, 'the range can be at most 62 days'],
      ['from=2025-03-01&to=2025-03-08&group=hour', 400, 'grouped by hour, the range can be at most 7 days'],
      ['from=2025-03-10&group=week', 400, 'group must be hour or day'],
      ['from=2025-02-30', 400, 'from is not a real date: 2025-02-30'],
      ['from=10/03/2025', 400, 'from must be a date (YYYY-MM-DD, São Paulo time) or an instant (ISO 8601 with offset): 10/03/2025'],
      ['from=2025-03-10&campaign_id=abc', 400, 'campaign_id must be a positive whole number'],
      ['from=2025-03-10&to=2025-03-10&campaign_id=999999999', 404, 'no campaign with that id'],
      ['from=2025-03-10&to=2025-03-10&agent_id=999999999', 404, 'no agent with that id'],
      // Brazil's last daylight saving began on 2018-11-04.
      ['from=2018-11-01&to=2018-11-10', 400, "the range crosses a change of the America/Sao_Paulo UTC offset (daylight saving, before 2019): split it there"],
    ];
    for (const [q, status, message] of cases) {
      const res = await get(q);
      expect({ q, status: res.status, message: res.json?.message }).toEqual({ q, status, message });
    }
    // 62 days exactly is allowed; 7 days by hour too.
    expect((await get(`from=2025-01-01&to=2025-03-03&campaign_id=${k1}`)).status).toBe(200);
    expect((await get(`from=2025-03-05&to=2025-03-11&group=hour&campaign_id=${k1}`)).status).toBe(200);
  });

  it('by hour, in São Paulo time: every figure of the 10th', async () => {
    const res = await get(`from=2025-03-10&to=2025-03-10&group=hour&campaign_id=${k1}`);
    expect(res.status).toBe(200);
    const r = res.json;
    expect(r.from).toBe('2025-03-10T03:00:00+00:00');
    expect(r.to).toBe('2025-03-11T03:00:00+00:00');
    expect(r.abandon_cap).toBe(0.03);
    expect(r.buckets.map((b: any) => b.bucket)).toEqual(Array.from({ length: 24 }, (_, h) => `2025-03-10 ${String(h).padStart(2, '0')}:00`));
    const at = (h: string) => r.buckets.find((b: any) => b.bucket === `2025-03-10 ${h}`);
    // 09h: calls 1, 2, 3 dialled and ended; 1 short; 2 connected and live; AMD of 1 (machine) and 2 (human).
    // Ana: available 1200 s + busy 95 + wrap-up 25 + available 1680 + paused 600 = 3600 staffed; 95/60 min per 1 h = 1.6.
    expect(at('09:00')).toMatchObject({
      dials: 3, ended: 3, short: 1, short_ratio: 0.3333, connects: 1, live: 1, abandoned: 0, abandon_rate: 0,
      amd_total: 2, amd_human: 1, amd_machine: 1, amd_machine_start: 1,
      talk_seconds: 95, staffed_seconds: 3600, paused_seconds: 600, talk_minutes_per_agent_hour: 1.6, dispositions: 1,
      queue_entered: 2, queue_answered: 2, queue_answered_in_level: 1, queue_abandoned: 0, queue_service_level: 0.5,
    });
    // 10h: call 4 (short); the refused and never placed attempts are nothing; call 3 live and abandoned (AMD 1 × 0.1/0.9 = 0.11).
    expect(at('10:00')).toMatchObject({
      dials: 1, ended: 1, short: 1, short_ratio: 1, connects: 0, live: 1, abandoned: 1, abandon_rate: 1,
      amd_estimated_abandons: 0.11, abandon_rate_with_amd: 1, amd_total: 1, amd_human: 1,
      talk_seconds: 0, staffed_seconds: 600, paused_seconds: 600, talk_minutes_per_agent_hour: 0,
      queue_entered: 1, queue_answered: 0, queue_abandoned: 1, queue_service_level: 0,
    });
    // 23h: the 23:30 call is the 10th's; the second agent: 1820 + 40 + 1740 s staffed, 40 busy → 0.7.
    expect(at('23:00')).toMatchObject({
      dials: 1, ended: 1, short: 0, connects: 1, live: 1, amd_human: 1,
      talk_seconds: 40, staffed_seconds: 3600, talk_minutes_per_agent_hour: 0.7, dispositions: 1,
      queue_entered: 1, queue_answered: 1, queue_answered_in_level: 1, queue_service_level: 1,
    });
    expect(at('11:00')).toMatchObject({ dials: 0, connects: 0, staffed_seconds: 0, talk_minutes_per_agent_hour: null, short_ratio: null, queue_service_level: null });
    // The hour buckets add up to the day.
    const sum = (k: string) => r.buckets.reduce((s: number, b: any) => s + b[k], 0);
    expect([sum('dials'), sum('ended'), sum('short'), sum('connects'), sum('live'), sum('abandoned'), sum('amd_total')]).toEqual([5, 5, 2, 2, 3, 1, 4]);
  });

  it('by day: the 23:30 call stays on the 10th; campaigns, agents, dispositions, AMD, queues', async () => {
    const res = await get(`from=2025-03-10&to=2025-03-11&campaign_id=${k1}`);
    expect(res.status).toBe(200);
    const r = res.json;
    expect(r.buckets.map((b: any) => [b.bucket, b.start, b.end])).toEqual([
      ['2025-03-10', '2025-03-10T03:00:00+00:00', '2025-03-11T03:00:00+00:00'],
      ['2025-03-11', '2025-03-11T03:00:00+00:00', '2025-03-12T03:00:00+00:00'],
    ]);
    // The 10th: calls 1, 2, 3, 4, 7; live 2, 3, 7, abandoned 3: 1/3; AMD estimate 3 × 0.1/0.9 = 0.33; with it (1 + 1/3) / (3 + 1/3) = 0.4.
    // Talk: 95 + 40 s over Ana's 4200 s and the second agent's 3600 s: 2.25 min / 2.1667 h = 1.0.
    expect(r.buckets[0]).toMatchObject({
      dials: 5, ended: 5, short: 2, short_ratio: 0.4, connects: 2, live: 3, abandoned: 1, abandon_rate: 0.3333,
      amd_estimated_abandons: 0.33, abandon_rate_with_amd: 0.4, amd_total: 4, amd_human: 3, amd_machine: 1,
      talk_seconds: 135, staffed_seconds: 7800, paused_seconds: 1200, talk_minutes_per_agent_hour: 1, dispositions: 2,
      queue_entered: 4, queue_answered: 3, queue_answered_in_level: 2, queue_abandoned: 1, queue_ended: 4, queue_service_level: 0.5,
    });
    // The 11th: calls 8 (short) and 9; 0.11 / 1.11 = 0.1; staffed 1800 + 3600, busy 200 → 3.33 min / 1.5 h = 2.2.
    expect(r.buckets[1]).toMatchObject({
      dials: 2, ended: 2, short: 1, short_ratio: 0.5, connects: 1, live: 1, abandoned: 0, abandon_rate: 0,
      amd_estimated_abandons: 0.11, abandon_rate_with_amd: 0.1, amd_human: 1,
      talk_seconds: 200, staffed_seconds: 5400, talk_minutes_per_agent_hour: 2.2, dispositions: 1, queue_entered: 0,
    });

    // The filter keeps the other campaign out.
    expect(r.campaigns.map((k: any) => k.campaign_id)).toEqual([k1]);
    expect(r.campaigns[0]).toMatchObject({
      campaign: `Histórico ${tag}`, abandon_cap: 0.03, amd_human_accuracy: 0.9,
      dials: 7, ended: 7, short: 3, short_ratio: 0.4286, connects: 3, live: 4, abandoned: 1, abandon_rate: 0.25,
      amd_estimated_abandons: 0.44, abandon_rate_with_amd: 0.325, talk_seconds: 335, staffed_seconds: 13200,
      talk_minutes_per_agent_hour: 1.5, dispositions: 3,
    });
    // Agents: Ana 2 calls, 295 s busy over 7800 s → 2.3; the second agent 1 call, 40 s over 5400 s → 0.4.
    const byId = Object.fromEntries(r.agents.map((a: any) => [a.agent_id, a]));
    expect(Object.keys(byId).map(Number).sort()).toEqual([a1, a2].sort());
    expect(byId[a1]).toMatchObject({ dials: 2, connects: 2, ended: 2, short: 0, talk_seconds: 295, staffed_seconds: 7800, paused_seconds: 1200, talk_minutes_per_agent_hour: 2.3, dispositions: 2 });
    expect(byId[a2]).toMatchObject({ agent: a2Name, dials: 1, connects: 1, talk_seconds: 40, staffed_seconds: 5400, talk_minutes_per_agent_hour: 0.4, dispositions: 1 });
    expect(r.dispositions).toEqual([
      { code: 'promessa', count: 2, share: 0.6667 },
      { code: 'venda', count: 1, share: 0.3333 },
    ]);
    expect(r.amd).toEqual([
      { answered_by: 'human', count: 4, share: 0.8 },
      { answered_by: 'machine_start', count: 1, share: 0.2 },
      { answered_by: 'machine_end_beep', count: 0, share: 0 },
      { answered_by: 'machine_end_silence', count: 0, share: 0 },
      { answered_by: 'machine_end_other', count: 0, share: 0 },
      { answered_by: 'fax', count: 0, share: 0 },
      { answered_by: 'unknown', count: 0, share: 0 },
    ]);
    const q = r.queues.find((x: any) => x.queue === queueName);
    expect(q).toEqual({
      queue: queueName, service_level_seconds: 20, entered: 4, answered: 3, answered_in_level: 2, abandoned: 1,
      voicemail: 0, callback: 0, timeout: 0, opted_out: 0, error: 0, waiting: 0, ended: 4, service_level: 0.5,
      avg_wait_seconds: 21.3, max_wait_seconds: 40,
    });
    // queue_stats agrees (the same service level).
    const [st] = await sql<{ service_level: string }>(`select service_level from queue_stats($1, $2, $3)`, [sp('2025-03-10 00:00:00'), sp('2025-03-11 00:00:00'), queueName]);
    expect(Number(st!.service_level)).toBe(0.5);
  });

  it('the 11th alone leaves the 23:30 call out; an agent filter keeps only that agent', async () => {
    const day = (await get(`from=2025-03-11&to=2025-03-11&campaign_id=${k1}`)).json;
    expect(day.buckets.map((b: any) => [b.bucket, b.dials, b.connects])).toEqual([['2025-03-11', 2, 1]]);
    const inUtc = (await get(`from=2025-03-11T00:00:00Z&to=2025-03-12T00:00:00Z&group=hour&campaign_id=${k1}`)).json;
    // Read as UTC instants, the 23:30 local call (02:30 UTC) is inside: the bucket labels stay São Paulo's.
    expect(inUtc.buckets[0].bucket).toBe('2025-03-10 21:00');
    expect(inUtc.buckets.find((b: any) => b.bucket === '2025-03-10 23:00').dials).toBe(1);
    const ana = (await get(`from=2025-03-10&to=2025-03-11&agent_id=${a1}`)).json;
    expect(ana.agents.map((a: any) => a.agent_id)).toEqual([a1]);
    expect(ana.buckets.map((b: any) => [b.dials, b.connects, b.talk_seconds, b.dispositions])).toEqual([
      [1, 1, 95, 1],
      [1, 1, 200, 1],
    ]);
    // Without the campaign filter, the other campaign has its own row.
    const all = (await get(`from=2025-03-10&to=2025-03-10`)).json;
    const other = all.campaigns.find((k: any) => k.campaign_id === k2);
    expect(other).toMatchObject({ dials: 1, ended: 1, short: 1, amd_machine: 1, amd_machine_end_beep: 1, abandon_cap: 0.05 });
  });

  it('an abandon counts in the hour of its live answer: no 0 % hour with an abandon, no rate over 100 %', async () => {
    const [c] = await sql<{ id: string }>(`insert into campaigns (name, mode, status, abandon_cap, amd_human_accuracy) values ($1, 'predictive', 'paused', 0.03, 1) returning id`, [`Histórico C ${tag}`]);
    const ins = (created: string, live: string, abandoned: string | null) =>
      sql(
        `insert into calls (call_sid, direction, from_number, to_number, campaign_id, status, duration, created_at, answered_by, amd_at, live_at, abandoned_at)
         values ($1, 'outbound-api', $2, $3, $4, 'completed', 9, $5, 'human', $6, $6, $7)`,
        [newCallSid(), newMobile('11'), newMobile('11'), c!.id, sp(created), sp(live), abandoned ? sp(abandoned) : null],
      );
    // Live at 11:59:58, abandoned at 12:00:01; another call live in 12h and not abandoned.
    await ins('2025-03-12 11:59:40', '2025-03-12 11:59:58', '2025-03-12 12:00:01');
    await ins('2025-03-12 12:10:00', '2025-03-12 12:10:10', null);
    const r = (await get(`from=2025-03-12&to=2025-03-12&group=hour&campaign_id=${c!.id}`)).json;
    const at = (h: string) => r.buckets.find((b: any) => b.bucket === `2025-03-12 ${h}`);
    expect(at('11:00')).toMatchObject({ live: 1, abandoned: 1, abandon_rate: 1, abandon_rate_with_amd: 1 });
    expect(at('12:00')).toMatchObject({ live: 1, abandoned: 0, abandon_rate: 0 });
    for (const b of r.buckets) expect(b.abandon_rate).toBeLessThanOrEqual(1);
  });
});

describe('GET /api/history/export', () => {
  it('a table as CSV for Excel pt-BR: BOM, ";", pt-BR header and decimals, a formula guarded', async () => {
    const res = await callApi(`/api/history/export?table=agents&from=2025-03-10&to=2025-03-11&campaign_id=${k1}`, { token: supervisor });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="historico-agentes-2025-03-10_2025-03-11.csv"');
    const [ana, other] = [`${a1};Ana Histórico ${tag}`, `${a2};"'=SOMA(1;2) ${tag}"`];
    const header =
      'id;agente;discagens;conexões;fala (s);logado (s);pausa (s);fala (min) por agente-hora;atendidas por pessoa;abandonos;taxa de abandono;' +
      'abandonos estimados do AMD;taxa de abandono com AMD;AMD total;AMD pessoa;AMD máquina;AMD fax;AMD indefinido;chamadas encerradas;chamadas curtas;taxa de curtas;tabulações';
    const rows = {
      // Ana: calls 2 and 9, both live and connected (AMD estimate 2 × 0.1/0.9 = 0.22; 0.22 / 2.22 = 0.1).
      [a1]: `${ana};2;2;295;7800;1200;2,3;2;0;0;0,22;0,1;2;2;0;0;0;2;0;0;2`,
      [a2]: `${other};1;1;40;5400;0;0,4;1;0;0;0,11;0,1;1;1;0;0;0;1;0;0;1`,
    };
    // Rows in the order /api/history lists the agents (by name).
    const order = (await get(`from=2025-03-10&to=2025-03-11&campaign_id=${k1}`)).json.agents.map((a: any) => a.agent_id as number);
    const expected = '\ufeff' + [header, ...order.map((id: number) => rows[id]!)].map((l) => l + '\r\n').join('');
    expect(res.text).toBe(expected);
    // The bytes: the UTF-8 BOM first.
    const raw = Buffer.from(res.text, 'utf8');
    expect([...raw.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
  });

  it('every table exports; a bad table or range is 400; an agent is 403', async () => {
    for (const [table, file] of [['buckets', 'periodos'], ['campaigns', 'campanhas'], ['dispositions', 'tabulacoes'], ['amd', 'amd'], ['queues', 'filas']]) {
      const res = await callApi(`/api/history/export?table=${table}&from=2025-03-10&to=2025-03-10&group=hour&campaign_id=${k1}`, { token: supervisor });
      expect(res.status).toBe(200);
      expect(res.headers['content-disposition']).toBe(`attachment; filename="historico-${file}-2025-03-10-por-hora.csv"`);
      expect(res.text.startsWith('\ufeff')).toBe(true);
    }
    const buckets = await callApi(`/api/history/export?table=buckets&from=2025-03-10&to=2025-03-10&group=hour&campaign_id=${k1}`, { token: supervisor });
    const lines = buckets.text.split('\r\n');
    expect(lines.length).toBe(1 + 24 + 1);
    expect(lines[10]).toBe('2025-03-10 09:00;3;1;95;3600;600;1,6;1;0;0;0,11;0,1;2;1;1;0;0;3;1;0,3333;1;2;2;1;0;0,5');
    const disp = await callApi(`/api/history/export?table=dispositions&from=2025-03-10&to=2025-03-11&campaign_id=${k1}`, { token: supervisor });
    expect(disp.text).toBe('\ufefftabulação;quantidade;participação\r\npromessa;2;0,6667\r\nvenda;1;0,3333\r\n');

    const bad = await callApi(`/api/history/export?table=leads&from=2025-03-10`, { token: supervisor });
    expect([bad.status, bad.json.message]).toEqual([400, 'table must be one of buckets, campaigns, agents, dispositions, amd, queues']);
    const badRange = await callApi(`/api/history/export?table=agents&from=2025-03-10&to=2025-03-01`, { token: supervisor });
    expect([badRange.status, badRange.json.error]).toEqual([400, 'bad_request']);
    const agent = await callApi(`/api/history/export?table=leads`, { token: agentToken });
    expect([agent.status, agent.json.error]).toEqual([403, 'forbidden_role']);
  });
});
