/**
 * GET /api/board through the local front (real HTTP, twilio-run, PostgREST, Postgres) with
 * real sessions: a floor is seeded (agents in several states, live calls, a service queue
 * with waiting callers, a campaign with today's calls, caller IDs with short calls), and
 * every figure the board shows for it equals what independent SQL over the tables gives.
 * An agent session gets 403, no session 401.
 */
import { createHash, randomBytes } from 'node:crypto';
import { callApi } from '../helpers/api-client';
import { sql } from '../helpers/db';
import { newCallSid, newMobile } from '../helpers/twilio';

/* eslint-disable @typescript-eslint/no-explicit-any */

async function session(role: 'agent' | 'supervisor' | 'admin', agentId: number | null = null): Promise<string> {
  const tag = randomBytes(6).toString('hex');
  const [u] = await sql<{ id: string }>(`insert into users (email, name, role, agent_id) values ($1, $2, $3, $4) returning id`, [`${tag}@board.test`, `Pessoa ${tag}`, role, agentId]);
  const token = randomBytes(32).toString('base64url');
  const hash = createHash('sha256').update(token).digest('hex');
  await sql(`insert into sessions (user_id, token_hash, expires_at) values ($1, $2, now() + interval '12 hours')`, [u!.id, hash]);
  return token;
}

const tag = randomBytes(4).toString('hex');
let campaignId: number;
const agentIds: Record<string, number> = {};
const queueName = `board-${tag}`;
const callerIds: [string, string] = [newMobile('11'), newMobile('21')];
const liveSids = { talking: newCallSid(), ringing: newCallSid(), queued: newCallSid() };

/** Seconds ago as an SQL interval argument. */
const ago = (s: number) => `${s} seconds`;

beforeAll(async () => {
  const [dayRow] = await sql<{ since: number }>(
    `select extract(epoch from now() - (date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo'))::int as since`,
  );
  // Seconds since São Paulo's midnight; "today" seeds stay within it (and within the hour when it is early).
  const today = Math.min(dayRow!.since - 5, 50 * 60);
  const yesterday = dayRow!.since + 120;

  const [k] = await sql<{ id: string }>(
    `insert into campaigns (name, mode, status, dial_ratio, abandon_cap, amd_human_accuracy) values ($1, 'predictive', 'active', 2.5, 0.03, 0.9) returning id`,
    [`Quadro ${tag}`],
  );
  campaignId = Number(k!.id);
  const agent = async (key: string, status: string, since: number, extra: { pause?: string; call?: string; campaign?: boolean } = {}) => {
    const [a] = await sql<{ id: string }>(
      `insert into agents (name, client_identity, status, status_changed_at, pause_reason, current_call_sid, campaign_id, last_seen_at)
       values ($1, $2, $3, now() - $4::interval, $5, $6, $7, now()) returning id`,
      [`Quadro ${key} ${tag}`, `board-${key}-${tag}`, status, ago(since), extra.pause ?? null, extra.call ?? null, extra.campaign === false ? null : campaignId],
    );
    agentIds[key] = Number(a!.id);
  };
  await agent('livre', 'available', 95);
  await agent('pausa', 'paused', 300, { pause: 'almoço' });
  await agent('falando', 'busy', 40, { call: liveSids.talking });
  await agent('pos', 'wrap_up', 12);
  await agent('fora', 'offline', 4000, { campaign: false });

  // Status history of the last hour (talk minutes per agent-hour): the talking agent was
  // available 50 → 30 min ago, busy 30 → 10, wrap-up 10 → 40 s, busy since; the available
  // agent available since 20 min.
  const hist = async (key: string, status: string, from: number, to: number | null) =>
    sql(`insert into agent_status_history (agent_id, status, source, started_at, ended_at) values ($1, $2, 'system', now() - $3::interval, case when $4::int is null then null else now() - $4::int * interval '1 second' end)`, [
      agentIds[key],
      status,
      ago(from),
      to,
    ]);
  await hist('falando', 'available', 3000, 1800);
  await hist('falando', 'busy', 1800, 600);
  await hist('falando', 'wrap_up', 600, 40);
  await hist('falando', 'busy', 40, null);
  await hist('livre', 'available', 1200, null);
  await hist('livre', 'busy', 7000, 5000); // outside the hour

  for (const n of callerIds) await sql(`insert into phone_numbers (phone_number, daily_cap, calls_today, calls_today_date) values ($1, 120, 7, (now() at time zone 'America/Sao_Paulo')::date)`, [n]);

  // Live calls: a campaign call with the busy agent (recording), one ringing, an inbound caller in the queue.
  const customerTalking = newMobile('11');
  await sql(
    `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, agent_id, status, created_at, started_at, answered_at, live_at, connected_at, amd_at, answered_by)
     values ($1, 'outbound-api', $2::text, $3, $2::text, $4, $5, 'in-progress', now() - interval '70 seconds', now() - interval '70 seconds', now() - interval '62 seconds', now() - interval '58 seconds', now() - interval '50 seconds', now() - interval '58 seconds', 'human')`,
    [liveSids.talking, callerIds[0], customerTalking, campaignId, agentIds['falando']],
  );
  await sql(`insert into recordings (recording_sid, call_sid, status) values ($1, $2, 'in-progress')`, ['RE' + randomBytes(16).toString('hex'), liveSids.talking]);
  await sql(`insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, status, created_at) values ($1, 'outbound-api', $2::text, $3, $2::text, $4, 'ringing', now() - interval '8 seconds')`, [
    liveSids.ringing,
    callerIds[1],
    newMobile('21'),
    campaignId,
  ]);
  await sql(`insert into calls (call_sid, direction, from_number, to_number, status, created_at, started_at, answered_at) values ($1, 'inbound', $2, '+551130009999', 'in-progress', now() - interval '95 seconds', now() - interval '95 seconds', now() - interval '94 seconds')`, [
    liveSids.queued,
    newMobile('31'),
  ]);

  // The queue: two waiting now, one answered in level today, one abandoned today, one answered yesterday.
  // Served only by an agent nobody routes to: its waiting callers (fake calls) must never be
  // handed to other suites' agents by the dispatcher that runs before every pacing round.
  const [nobody] = await sql<{ id: string }>(`insert into agents (name, status) values ('ninguém', 'offline') returning id`);
  await sql(`insert into service_queues (name, service_level_seconds, agent_ids) values ($1, 20, array[$2::bigint])`, [queueName, nobody!.id]);
  const entry = (sid: string, entered: number, left: number | null, result: string | null, waited: number | null) =>
    sql(`insert into queue_entries (call_sid, queue_name, entered_at, left_at, result, waited_seconds) values ($1, $2, now() - $3::interval, case when $4::int is null then null else now() - $4::int * interval '1 second' end, $5, $6)`, [
      sid,
      queueName,
      ago(entered),
      left,
      result,
      waited,
    ]);
  await entry(liveSids.queued, 90, null, null, null);
  await entry(newCallSid(), 30, null, null, null);
  await entry(newCallSid(), Math.min(today, 600), Math.min(today, 600) - 10, 'answered', 10);
  await entry(newCallSid(), Math.min(today, 500), Math.min(today, 500) - 40, 'abandoned', 40);
  await entry(newCallSid(), yesterday, yesterday - 5, 'answered', 5);

  // Ended campaign calls: today (various durations and AMD results), one yesterday.
  const ended = async (o: { callerId: string; createdAgo: number; status: string; duration: number | null; answeredBy?: string; live?: boolean; abandoned?: boolean; connected?: boolean }) =>
    sql(
      `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, status, duration, created_at, ended_at, answered_at, answered_by, amd_at, live_at, abandoned_at, connected_at)
       values ($1, 'outbound-api', $2::text, $3, $2::text, $4, $5, $6, now() - $7::interval, now() - $7::interval + interval '20 seconds',
               case when $8::text is not null then now() - $7::interval + interval '5 seconds' end, $8,
               case when $8::text is not null then now() - $7::interval + interval '7 seconds' end,
               case when $9 then now() - $7::interval + interval '7 seconds' end,
               case when $10 then now() - $7::interval + interval '12 seconds' end,
               case when $11 then now() - $7::interval + interval '9 seconds' end)`,
      [newCallSid(), o.callerId, newMobile('11'), campaignId, o.status, o.duration, ago(o.createdAgo), o.answeredBy ?? null, o.live ?? false, o.abandoned ?? false, o.connected ?? false],
    );
  const t = (s: number) => Math.min(today, s);
  await ended({ callerId: callerIds[0], createdAgo: t(900), status: 'no-answer', duration: 0 });
  await ended({ callerId: callerIds[0], createdAgo: t(800), status: 'completed', duration: 3, answeredBy: 'machine_start' });
  await ended({ callerId: callerIds[0], createdAgo: t(700), status: 'completed', duration: 6, answeredBy: 'machine_end_beep' });
  await ended({ callerId: callerIds[0], createdAgo: t(650), status: 'completed', duration: 7, answeredBy: 'human', live: true, abandoned: true });
  await ended({ callerId: callerIds[0], createdAgo: t(600), status: 'completed', duration: 95, answeredBy: 'human', live: true, connected: true });
  await ended({ callerId: callerIds[1], createdAgo: t(500), status: 'busy', duration: null });
  // Attempts Twilio never placed (refused at create, or never sent): not calls, never short ones.
  for (const reason of ['twilio_refused', 'never_placed'])
    await sql(`insert into calls (direction, to_number, caller_id, campaign_id, status, end_reason, created_at) values ('outbound-api', $1, $2::text, $3, 'failed', $4, now() - $5::interval)`, [
      newMobile('11'),
      callerIds[0],
      campaignId,
      reason,
      ago(t(300)),
    ]);
  await ended({ callerId: callerIds[1], createdAgo: t(400), status: 'completed', duration: 140, answeredBy: 'unknown', live: true, connected: true });
  await ended({ callerId: callerIds[1], createdAgo: yesterday, status: 'completed', duration: 2, answeredBy: 'machine_start' });
});

describe('GET /api/board', () => {
  it('no session → 401; an agent session → 403 forbidden_role', async () => {
    const none = await callApi('/api/board');
    expect(none.status).toBe(401);
    expect(none.json.error).toBe('unauthenticated');
    const agentToken = await session('agent', agentIds['livre']!);
    const refused = await callApi('/api/board', { token: agentToken });
    expect(refused.status).toBe(403);
    expect(refused.json.error).toBe('forbidden_role');
    const bogus = await callApi('/api/board', { token: randomBytes(32).toString('base64url') });
    expect(bogus.status).toBe(401);
    expect(bogus.json.error).toBe('session_expired');
  });

  it('a supervisor and an admin see the board; every figure equals the tables', async () => {
    const admin = await callApi('/api/board', { token: await session('admin') });
    expect(admin.status).toBe(200);
    const res = await callApi('/api/board', { token: await session('supervisor') });
    expect(res.status).toBe(200);
    const board = res.json;
    // The open alerts (docs/alerts.md), newest first, each as its alerts row says (other suites'
    // heartbeats may open or close some meanwhile: compare the ones shown with their rows).
    const shown = board.alerts as { id: number; rule: string; subject: string; severity: string; title: string; opened_at: string }[];
    expect(shown.map((a) => Date.parse(a.opened_at))).toEqual(shown.map((a) => Date.parse(a.opened_at)).sort((x, y) => y - x));
    const rows = await sql<any>(`select id, rule, subject, severity, title, opened_at from alerts where id = any($1::bigint[])`, [shown.map((a) => a.id)]);
    for (const a of shown) {
      const row = rows.find((r: any) => Number(r.id) === a.id);
      expect({ rule: a.rule, subject: a.subject, severity: a.severity, title: a.title }).toEqual({ rule: row.rule, subject: row.subject, severity: row.severity, title: row.title });
    }
    expect(board.short_call_seconds).toBe(6);

    // Agents.
    const agents = await sql<any>(
      `select a.id::int, a.name, a.status, a.pause_reason, a.campaign_id::int, k.name as campaign, a.current_call_sid,
              extract(epoch from now() - a.status_changed_at)::float8 as secs
         from agents a left join campaigns k on k.id = a.campaign_id where a.id = any($1::bigint[])`,
      [Object.values(agentIds)],
    );
    for (const row of agents) {
      const shown = board.agents.find((x: any) => x.id === row.id);
      expect(shown).toBeDefined();
      expect({ name: shown.name, status: shown.status, pause_reason: shown.pause_reason, campaign_id: shown.campaign_id, campaign: shown.campaign }).toEqual({
        name: row.name,
        status: row.status,
        pause_reason: row.pause_reason,
        campaign_id: row.campaign_id,
        campaign: row.campaign,
      });
      expect(Math.abs(shown.seconds_in_state - row.secs)).toBeLessThanOrEqual(3);
      expect(shown.call?.call_sid ?? null).toBe(row.current_call_sid);
    }
    const talking = board.agents.find((x: any) => x.id === agentIds['falando']);
    const [cust] = await sql<{ to_number: string }>(`select to_number from calls where call_sid = $1`, [liveSids.talking]);
    expect(talking.call.customer).toBe(cust!.to_number);

    // Calls in progress.
    const live = await sql<any>(
      `select c.call_sid, c.direction, c.campaign_id::int, c.agent_id::int,
              case when c.direction = 'inbound' then c.from_number else c.to_number end as customer,
              extract(epoch from now() - coalesce(c.answered_at, c.started_at, c.created_at))::float8 as secs,
              exists (select 1 from recordings r where r.call_sid = c.call_sid and r.status = 'in-progress') as recording
         from calls c where c.call_sid = any($1::text[])`,
      [Object.values(liveSids)],
    );
    expect(live).toHaveLength(3);
    for (const row of live) {
      const shown = board.calls.find((x: any) => x.call_sid === row.call_sid);
      expect(shown).toBeDefined();
      expect({ direction: shown.direction, campaign_id: shown.campaign_id, agent_id: shown.agent_id, customer: shown.customer, recording: shown.recording }).toEqual({
        direction: row.direction,
        campaign_id: row.campaign_id,
        agent_id: row.agent_id,
        customer: row.customer,
        recording: row.recording,
      });
      expect(Math.abs(shown.seconds - row.secs)).toBeLessThanOrEqual(3);
    }
    expect(board.calls.find((x: any) => x.call_sid === liveSids.talking).recording).toBe(true);
    // Nothing ended is listed (other tests' calls may come and go meanwhile: no exact count).
    const listed = board.calls.map((x: any) => x.call_sid);
    const [over] = await sql<{ n: number }>(`select count(*)::int as n from calls where call_sid = any($1::text[]) and ended_at is not null and ended_at < now() - interval '5 seconds'`, [listed]);
    expect(over!.n).toBe(0);

    // The queue.
    const [q] = await sql<any>(
      `with d as (select date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo' as start)
       select count(*) filter (where e.left_at is null)::int as waiting,
              floor(max(extract(epoch from now() - e.entered_at)) filter (where e.left_at is null))::int as longest,
              count(*) filter (where e.entered_at >= d.start and e.result = 'answered')::int as answered,
              count(*) filter (where e.entered_at >= d.start and e.result = 'abandoned')::int as abandoned,
              (count(*) filter (where e.entered_at >= d.start and e.result = 'answered' and e.waited_seconds <= 20))::numeric
                / nullif(count(*) filter (where e.entered_at >= d.start and e.left_at is not null and e.result <> 'error'), 0) as level
         from queue_entries e, d where e.queue_name = $1`,
      [queueName],
    );
    const shownQ = board.queues.find((x: any) => x.name === queueName);
    expect(shownQ.waiting).toBe(q.waiting);
    expect(q.waiting).toBe(2);
    expect(Math.abs(shownQ.longest_wait_seconds - q.longest)).toBeLessThanOrEqual(3);
    expect(shownQ.answered_today).toBe(q.answered);
    expect(shownQ.abandoned_today).toBe(q.abandoned);
    expect(Number(shownQ.service_level_today)).toBeCloseTo(Number(q.level), 4);

    // The campaign.
    const [k] = await sql<any>(
      `with d as (select date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo' as start)
       select count(*) filter (where c.created_at >= now() - interval '1 hour' and c.direction = 'outbound-api' and coalesce(c.end_reason, '') not in ('twilio_refused', 'never_placed'))::int as calls_hour,
              count(*) filter (where c.connected_at >= now() - interval '1 hour')::int as connects_hour,
              count(*) filter (where c.live_at >= d.start)::int as live,
              count(*) filter (where c.abandoned_at >= d.start)::int as abandoned,
              count(*) filter (where c.status in ('queued','initiated','ringing','in-progress') and c.ended_at is null)::int as lines
         from calls c, d where c.campaign_id = $1`,
      [campaignId],
    );
    const mix = await sql<{ answered_by: string; n: number }>(
      `select answered_by, count(*)::int as n from calls where campaign_id = $1
          and amd_at >= date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo' group by 1`,
      [campaignId],
    );
    const [talk] = await sql<{ talk: number; staffed: number }>(
      `select sum(s) filter (where status = 'busy')::float8 as talk, sum(s) filter (where status <> 'offline')::float8 as staffed
         from (select h.status, extract(epoch from coalesce(h.ended_at, now()) - greatest(h.started_at, now() - interval '1 hour')) as s
                 from agent_status_history h join agents a on a.id = h.agent_id
                where a.campaign_id = $1 and coalesce(h.ended_at, now()) > now() - interval '1 hour') x where s > 0`,
      [campaignId],
    );
    const [staffed] = await sql<{ n: number }>(`select count(*)::int as n from agents where campaign_id = $1 and is_active and status <> 'offline'`, [campaignId]);
    const shownK = board.campaigns.find((x: any) => x.id === campaignId);
    expect(shownK).toMatchObject({ mode: 'predictive', status: 'active', calls_last_hour: k.calls_hour, connects_last_hour: k.connects_hour, live_today: k.live, abandoned_today: k.abandoned, lines_in_use: k.lines, agents_staffed: staffed!.n });
    expect(Number(shownK.dial_ratio)).toBe(2.5);
    expect(Number(shownK.abandon_cap)).toBe(0.03);
    expect(Number(shownK.dial_level)).toBeCloseTo(k.lines / staffed!.n, 2);
    expect(Number(shownK.abandon_rate_today)).toBeCloseTo(k.abandoned / k.live, 4);
    const est = (k.live * (1 - 0.9)) / 0.9;
    expect(Number(shownK.amd_estimated_abandons_today)).toBeCloseTo(est, 2);
    expect(Number(shownK.abandon_rate_with_amd_today)).toBeCloseTo((k.abandoned + est) / (k.live + est), 4);
    expect(shownK.amd_today).toEqual(Object.fromEntries(mix.map((m) => [m.answered_by, m.n])));
    expect(Math.abs(Number(shownK.talk_minutes_per_agent_hour) - talk!.talk / 60 / (talk!.staffed / 3600))).toBeLessThanOrEqual(0.2);

    // Caller IDs: today's picks vs cap; short calls (ended, duration ≤ 6 s, answered or not).
    for (const n of callerIds) {
      const [c] = await sql<any>(
        `select n.calls_today, n.daily_cap,
                (select count(*)::int from calls c where c.caller_id = n.phone_number and c.status in ('completed','no-answer','busy','failed','canceled')
                    and c.call_sid is not null and coalesce(c.end_reason, '') not in ('twilio_refused', 'never_placed')
                    and c.created_at >= date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo') as ended,
                (select count(*)::int from calls c where c.caller_id = n.phone_number and c.status in ('completed','no-answer','busy','failed','canceled')
                    and c.call_sid is not null and coalesce(c.end_reason, '') not in ('twilio_refused', 'never_placed')
                    and coalesce(c.duration, 0) <= 6
                    and c.created_at >= date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo') as short
           from phone_numbers n where n.phone_number = $1`,
        [n],
      );
      const shown = board.caller_ids.find((x: any) => x.phone_number === n);
      expect(shown).toMatchObject({ calls_today: c.calls_today, daily_cap: c.daily_cap, ended_today: c.ended, short_today: c.short });
      expect(Number(shown.short_ratio_today)).toBeCloseTo(c.short / c.ended, 4);
    }
    expect(board.caller_ids.find((x: any) => x.phone_number === callerIds[0])).toMatchObject({ ended_today: 5, short_today: 3 });
  });
});
