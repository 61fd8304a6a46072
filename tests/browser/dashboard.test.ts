/**
 * The supervisor's board (/dashboard.html) in Chromium against a local stack of its own
 * (functions behind their front, PostgREST, Postgres; no Twilio emulator: the board reads
 * the database only). A floor is seeded (agents in four states with an hour of history, live
 * calls with one recorded, a service queue with callers waiting, a predictive campaign with
 * today's calls of several AMD results and an abandon, two caller IDs with short calls), and:
 *
 * - every figure the page shows for it equals what separate SQL over the tables gives,
 *   written the way the page writes it (clocks within 3 s);
 * - a change in the database (an agent pauses, a call starts) is on the page within 3 s;
 * - an agent session sees "acesso restrito" and nothing of the board;
 * - while /api/board fails the page keeps the last board, its clocks tick, a stale banner
 *   says so, and it recovers when the API answers again;
 * - the supervisor's actions send the contract's requests and show the API's refusals;
 * - the open alerts and the Anatel block are drawn from what the board answers.
 */
import { randomBytes } from 'node:crypto';
import type { Page, Route } from 'playwright-core';
import { sql as sqlAt } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { newCallSid, newMobile } from '../helpers/twilio';
import {
  AGENT_STATUS,
  CALL_STATUS,
  CAMPAIGN_MODE,
  CAMPAIGN_STATUS,
  NONE,
  formatAmdMix,
  formatDec1,
  formatDec2,
  formatInt,
  formatPercent,
  formatPhone,
} from '../../src/web/dashboard/format';
import { launch, type TestBrowser, steps } from './browser';

/* eslint-disable @typescript-eslint/no-explicit-any */

jest.setTimeout(60000);

const SUPERVISOR = { email: 'supervisor@discador.local', password: 'demo-supervisor' };
const AGENT = { email: 'ana@discador.local', password: 'demo-ana' };
const DAY_START = `date_trunc('day', now() at time zone 'America/Sao_Paulo') at time zone 'America/Sao_Paulo'`;

/** The action error line says the API refused the input. */
const ERROR_SHOWN = `(document.querySelector('[data-testid="action-error"]').textContent || '').startsWith('Dados inválidos.')`;

let stack: StackProcess;
let base: string;
const sql = <T = Record<string, any>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, stack.env.DATABASE_URL);

const tag = randomBytes(3).toString('hex');
let campaignId: number;
const agentIds: Record<string, number> = {};
const queueName = `painel-${tag}`;
const callerIds = [newMobile('11'), newMobile('21')] as const;
const live = { talking: newCallSid(), ringing: newCallSid(), inbound: newCallSid() };

const ago = (s: number) => `${s} seconds`;

/** `mm:ss` or `h:mm:ss` back to seconds. */
function clockSeconds(text: string): number {
  const parts = text.split(':').map(Number);
  return parts.reduce((acc, n) => acc * 60 + n, 0);
}

/** A pt-BR decimal (`12,5`, `33,3%`) back to a number. */
function ptNumber(text: string): number {
  return Number(text.replace('%', '').replace(/\./g, '').replace(',', '.'));
}

/** The text of every cell of a row, by field. */
async function rowFields(page: Page, testid: string): Promise<Record<string, string>> {
  return page.$eval(`tr[data-testid="${testid}"]`, (tr) =>
    Object.fromEntries([...tr.querySelectorAll('td[data-field]')].map((td) => [td.getAttribute('data-field')!, td.textContent ?? ''])),
  );
}

/** Polls fn until it is true (or fails after `ms`). */
async function until(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function signIn(page: Page, who: { email: string; password: string }): Promise<void> {
  await page.goto(`${base}/dashboard.html`);
  await page.fill('#login-email', who.email);
  await page.fill('#login-password', who.password);
  await page.click('#login-submit');
}

beforeAll(async () => {
  stack = await startStackProcess(['--no-emulator']);
  base = stack.env.FUNCTIONS_BASE_URL;

  const [dayRow] = await sql<{ since: number }>(`select extract(epoch from now() - (${DAY_START}))::int as since`);
  // "Today" seeds stay after São Paulo's midnight (and within the last hour when it is early).
  const t = (s: number) => Math.min(dayRow!.since - 5, s);

  const [k] = await sql<{ id: string }>(
    `insert into campaigns (name, mode, status, dial_ratio, abandon_cap, amd_human_accuracy) values ($1, 'predictive', 'active', 2.5, 0.03, 0.9) returning id`,
    [`Painel ${tag}`],
  );
  campaignId = Number(k!.id);
  const agent = async (key: string, status: string, since: number, extra: { pause?: string; call?: string } = {}) => {
    const [a] = await sql<{ id: string }>(
      `insert into agents (name, client_identity, status, status_changed_at, pause_reason, current_call_sid, campaign_id, last_seen_at)
       values ($1, $2, $3, now() - $4::interval, $5, $6, $7, now()) returning id`,
      [`Painel ${key} ${tag}`, `painel-${key}-${tag}`, status, ago(since), extra.pause ?? null, extra.call ?? null, campaignId],
    );
    agentIds[key] = Number(a!.id);
  };
  await agent('livre', 'available', 95);
  await agent('pausa', 'paused', 1000, { pause: 'Almoço' });
  await agent('falando', 'busy', 40, { call: live.talking });
  await agent('pos', 'wrap_up', 12);
  const hist = (key: string, status: string, from: number, to: number | null) =>
    sql(
      `insert into agent_status_history (agent_id, status, source, started_at, ended_at)
       values ($1, $2, 'system', now() - $3::interval, case when $4::int is null then null else now() - $4::int * interval '1 second' end)`,
      [agentIds[key], status, ago(from), to],
    );
  await hist('falando', 'available', 3000, 1800);
  await hist('falando', 'busy', 1800, 600);
  await hist('falando', 'wrap_up', 600, 40);
  await hist('falando', 'busy', 40, null);
  await hist('livre', 'available', 1200, null);

  await sql(`insert into phone_numbers (phone_number, daily_cap, calls_today, calls_today_date) values ($1, 120, 7, (now() at time zone 'America/Sao_Paulo')::date)`, [callerIds[0]]);
  await sql(`insert into phone_numbers (phone_number, daily_cap, calls_today, calls_today_date, spam_flagged_at) values ($1, 10, 10, (now() at time zone 'America/Sao_Paulo')::date, now())`, [
    callerIds[1],
  ]);

  // Live calls: the busy agent's (recorded), one ringing, an inbound caller in the queue.
  await sql(
    `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, agent_id, status, created_at, started_at, answered_at, live_at, connected_at, amd_at, answered_by)
     values ($1, 'outbound-api', $2::text, $3, $2::text, $4, $5, 'in-progress', now() - interval '70 seconds', now() - interval '70 seconds', now() - interval '62 seconds',
             now() - interval '58 seconds', now() - interval '50 seconds', now() - interval '58 seconds', 'human')`,
    [live.talking, callerIds[0], newMobile('11'), campaignId, agentIds['falando']],
  );
  await sql(`insert into recordings (recording_sid, call_sid, status) values ($1, $2, 'in-progress')`, ['RE' + randomBytes(16).toString('hex'), live.talking]);
  await sql(`insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, status, created_at) values ($1, 'outbound-api', $2::text, $3, $2::text, $4, 'ringing', now() - interval '8 seconds')`, [
    live.ringing,
    callerIds[1],
    newMobile('21'),
    campaignId,
  ]);
  await sql(
    `insert into calls (call_sid, direction, from_number, to_number, status, created_at, started_at, answered_at)
     values ($1, 'inbound', $2, '+551130009999', 'in-progress', now() - interval '95 seconds', now() - interval '95 seconds', now() - interval '94 seconds')`,
    [live.inbound, newMobile('31')],
  );

  // The queue (served by an agent nobody routes to): two waiting now, one answered in level and one abandoned today.
  const [nobody] = await sql<{ id: string }>(`insert into agents (name, status) values ($1, 'offline') returning id`, [`ninguém ${tag}`]);
  await sql(`insert into service_queues (name, service_level_seconds, agent_ids) values ($1, 20, array[$2::bigint])`, [queueName, nobody!.id]);
  const entry = (sid: string, entered: number, left: number | null, result: string | null, waited: number | null) =>
    sql(
      `insert into queue_entries (call_sid, queue_name, entered_at, left_at, result, waited_seconds)
       values ($1, $2, now() - $3::interval, case when $4::int is null then null else now() - $4::int * interval '1 second' end, $5, $6)`,
      [sid, queueName, ago(entered), left, result, waited],
    );
  await entry(live.inbound, 90, null, null, null);
  await entry(newCallSid(), 30, null, null, null);
  await entry(newCallSid(), t(600), t(600) - 10, 'answered', 10);
  await entry(newCallSid(), t(500), t(500) - 40, 'abandoned', 40);

  // Ended campaign calls today.
  const ended = (o: { callerId: string; createdAgo: number; status: string; duration: number | null; answeredBy?: string; live?: boolean; abandoned?: boolean; connected?: boolean }) =>
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
  await ended({ callerId: callerIds[0], createdAgo: t(900), status: 'no-answer', duration: 0 });
  await ended({ callerId: callerIds[0], createdAgo: t(800), status: 'completed', duration: 3, answeredBy: 'machine_start' });
  await ended({ callerId: callerIds[0], createdAgo: t(700), status: 'completed', duration: 6, answeredBy: 'machine_end_beep' });
  await ended({ callerId: callerIds[0], createdAgo: t(650), status: 'completed', duration: 7, answeredBy: 'human', live: true, abandoned: true });
  await ended({ callerId: callerIds[0], createdAgo: t(600), status: 'completed', duration: 95, answeredBy: 'human', live: true, connected: true });
  await ended({ callerId: callerIds[1], createdAgo: t(500), status: 'busy', duration: null });
  await ended({ callerId: callerIds[1], createdAgo: t(400), status: 'completed', duration: 140, answeredBy: 'unknown', live: true, connected: true });
  // Not calls, and not lines in use: an attempt Twilio refused (no call SID) and a call queued 11 minutes ago that never went out.
  await sql(
    `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, status, duration, created_at, end_reason)
     values (null, 'outbound-api', $1::text, $2, $1::text, $3, 'failed', null, now() - interval '5 minutes', 'twilio_refused')`,
    [callerIds[0], newMobile('11'), campaignId],
  );
  await sql(
    `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, status, created_at)
     values ($1, 'outbound-api', $2::text, $3, $2::text, $4, 'queued', now() - interval '11 minutes')`,
    [newCallSid(), callerIds[1], newMobile('11'), campaignId],
  );
}, 120000);

afterAll(async () => {
  await stack?.stop();
});

/** On failure the page's errors and banners are added to the message. */
const pageSteps = (b: TestBrowser, fn: () => Promise<void>) => steps(b, fn, '.error:not([hidden]), .banner:not([hidden])');

describe('the supervisor board', () => {
  let b: TestBrowser | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
  });

  it('shows every figure as the database has it, and a change within 3 s', async () => {
    b = await launch('dashboard board equals database');
    const tb = b;
    await pageSteps(tb, async () => {
      const { page } = tb;
      const res = await page.goto(`${base}/dashboard.html`);
      expect(res?.status()).toBe(200);
      expect(await page.getAttribute('html', 'lang')).toBe('pt-BR');
      expect(await page.getAttribute('#history-link', 'href')).toBe('/history.html');
      await tb.shot('sign-in');
      await signIn(page, SUPERVISOR);
      await page.waitForSelector(`tr[data-testid="agent-${agentIds['falando']}"]`);
      await page.waitForSelector(`tr[data-testid="campaign-${campaignId}"]`);
      await tb.shot('board');
      expect(await page.textContent('#updated')).toMatch(/^atualizado há \d+ s$/);
      expect(await page.isVisible('#stale')).toBe(false);

      // Agents.
      const agents = await sql(
        `select a.id::int, a.name, a.status, a.pause_reason, k.name as campaign,
                extract(epoch from now() - a.status_changed_at)::float8 as secs,
                case when c.direction = 'inbound' then c.from_number else c.to_number end as customer
           from agents a left join campaigns k on k.id = a.campaign_id left join calls c on c.call_sid = a.current_call_sid
          where a.id = any($1::bigint[])`,
        [Object.values(agentIds)],
      );
      expect(agents).toHaveLength(4);
      for (const a of agents) {
        const f = await rowFields(page, `agent-${a.id}`);
        expect({ name: f['name'], status: f['status'], pause_reason: f['pause_reason'], campaign: f['campaign'], customer: f['customer'] }).toEqual({
          name: a.name,
          status: AGENT_STATUS[a.status],
          pause_reason: a.status === 'paused' ? a.pause_reason : NONE,
          campaign: a.campaign,
          customer: a.customer ? formatPhone(a.customer) : NONE,
        });
        expect(Math.abs(clockSeconds(f['seconds_in_state']!) - a.secs)).toBeLessThanOrEqual(3);
      }
      // Paused 1000 s (over 15 min): highlighted; the available agent (95 s) is not.
      expect(await page.getAttribute(`tr[data-testid="agent-${agentIds['pausa']}"]`, 'class')).toBe('lvl-warn');
      expect((await page.getAttribute(`tr[data-testid="agent-${agentIds['livre']}"]`, 'class')) ?? '').toBe('');

      // Calls in progress.
      const calls = await sql(
        `select c.call_sid, c.direction, c.status, k.name as campaign, coalesce(a.name, h.name) as agent,
                case when c.direction = 'inbound' then c.from_number else c.to_number end as customer,
                extract(epoch from now() - coalesce(c.answered_at, c.started_at, c.created_at))::float8 as secs,
                exists (select 1 from recordings r where r.call_sid = c.call_sid and r.status = 'in-progress') as recording
           from calls c left join campaigns k on k.id = c.campaign_id left join agents a on a.id = c.agent_id
           left join agents h on h.current_call_sid = c.call_sid
          where c.call_sid = any($1::text[])`,
        [Object.values(live)],
      );
      expect(calls).toHaveLength(3);
      for (const c of calls) {
        const f = await rowFields(page, `call-${c.call_sid}`);
        expect({ campaign: f['campaign'], agent: f['agent'], customer: f['customer'], status: f['status'], recording: f['recording'] }).toEqual({
          campaign: c.campaign ?? (c.direction === 'inbound' ? 'Receptiva' : NONE),
          agent: c.agent ?? NONE,
          customer: formatPhone(c.customer),
          status: CALL_STATUS[c.status],
          recording: c.recording ? 'Gravando' : 'Não',
        });
        expect(Math.abs(clockSeconds(f['seconds']!) - c.secs)).toBeLessThanOrEqual(3);
      }
      expect((await rowFields(page, `call-${live.talking}`))['recording']).toBe('Gravando');

      // The queue.
      const [q] = await sql(
        `select count(*) filter (where e.left_at is null)::int as waiting,
                max(extract(epoch from now() - e.entered_at)) filter (where e.left_at is null)::float8 as longest,
                count(*) filter (where e.entered_at >= ${DAY_START} and e.result = 'answered')::int as answered,
                count(*) filter (where e.entered_at >= ${DAY_START} and e.result = 'abandoned')::int as abandoned,
                (count(*) filter (where e.entered_at >= ${DAY_START} and e.result = 'answered' and e.waited_seconds <= 20))::float8
                  / nullif(count(*) filter (where e.entered_at >= ${DAY_START} and e.left_at is not null and e.result <> 'error'), 0) as level
           from queue_entries e where e.queue_name = $1`,
        [queueName],
      );
      const fq = await rowFields(page, `queue-${queueName}`);
      expect({ waiting: fq['waiting'], service_level_today: fq['service_level_today'], answered: fq['answered_today'], abandoned: fq['abandoned_today'] }).toEqual({
        waiting: formatInt(q!.waiting),
        service_level_today: formatPercent(q!.level),
        answered: formatInt(q!.answered),
        abandoned: formatInt(q!.abandoned),
      });
      expect(fq['service_level_today']).toBe('50,0%');
      expect(Math.abs(clockSeconds(fq['longest_wait']!) - q!.longest)).toBeLessThanOrEqual(3);
      // 90 s waiting: over a minute, highlighted.
      expect(await page.getAttribute(`tr[data-testid="queue-${queueName}"] td[data-field="longest_wait"]`, 'class')).toBe('lvl-warn');

      // The campaign.
      const [k] = await sql(
        `select k.name, k.mode, k.status, k.abandon_cap::float8 as cap, k.amd_human_accuracy::float8 as acc,
                count(c.*) filter (where c.created_at >= now() - interval '1 hour' and c.direction = 'outbound-api'
                                   and coalesce(c.end_reason, '') not in ('twilio_refused', 'never_placed'))::int as calls_hour,
                count(c.*) filter (where c.connected_at >= now() - interval '1 hour')::int as connects_hour,
                count(c.*) filter (where c.live_at >= ${DAY_START})::int as live,
                count(c.*) filter (where c.abandoned_at >= ${DAY_START})::int as abandoned,
                count(c.*) filter (where c.status in ('queued','initiated','ringing','in-progress') and c.ended_at is null and c.end_reason is null
                                   and (c.status = 'in-progress' or c.created_at > now() - interval '10 minutes'))::int as lines
           from campaigns k left join calls c on c.campaign_id = k.id where k.id = $1 group by k.id`,
        [campaignId],
      );
      const [staffed] = await sql(`select count(*)::int as n from agents where campaign_id = $1 and is_active and status <> 'offline'`, [campaignId]);
      const mix = await sql(`select answered_by, count(*)::int as n from calls where campaign_id = $1 and amd_at >= ${DAY_START} group by 1`, [campaignId]);
      const [talk] = await sql(
        `select sum(s) filter (where status = 'busy')::float8 as talk, sum(s) filter (where status <> 'offline')::float8 as staffed
           from (select h.status, extract(epoch from coalesce(h.ended_at, now()) - greatest(h.started_at, now() - interval '1 hour')) as s
                   from agent_status_history h join agents a on a.id = h.agent_id
                  where a.campaign_id = $1 and coalesce(h.ended_at, now()) > now() - interval '1 hour') x where s > 0`,
        [campaignId],
      );
      const est = (k!.live * (1 - k!.acc)) / k!.acc;
      const fk = await rowFields(page, `campaign-${campaignId}`);
      expect(fk).toMatchObject({
        name: k!.name,
        mode: CAMPAIGN_MODE[k!.mode],
        status: CAMPAIGN_STATUS[k!.status],
        dial_level: formatDec2(k!.lines / staffed!.n),
        lines_in_use: formatInt(k!.lines),
        agents_staffed: formatInt(staffed!.n),
        calls_last_hour: formatInt(k!.calls_hour),
        connects_last_hour: formatInt(k!.connects_hour),
        abandon_rate_today: formatPercent(k!.abandoned / k!.live),
        abandon_cap: formatPercent(k!.cap),
        abandon_rate_with_amd_today: formatPercent((k!.abandoned + est) / (k!.live + est)),
        amd_estimated_abandons_today: formatDec1(est),
        amd_today: formatAmdMix(Object.fromEntries(mix.map((m) => [m.answered_by, m.n]))),
      });
      expect(Math.abs(ptNumber(fk['talk_minutes_per_agent_hour']!) - talk!.talk / 60 / (talk!.staffed / 3600))).toBeLessThanOrEqual(0.2);
      // 1 abandoned of 3 live against a 3 % cap: over it, highlighted.
      expect(await page.getAttribute(`tr[data-testid="campaign-${campaignId}"] td[data-field="abandon_rate_today"]`, 'class')).toBe('lvl-alert');

      // Caller IDs.
      for (const n of callerIds) {
        const [c] = await sql(
          `select n.calls_today, n.daily_cap, n.spam_flagged_at is not null as flagged,
                  (select count(*)::int from calls c where c.caller_id = n.phone_number and c.status in ('completed','no-answer','busy','failed','canceled')
                      and c.call_sid is not null and coalesce(c.end_reason, '') not in ('twilio_refused', 'never_placed') and c.created_at >= ${DAY_START}) as ended,
                  (select count(*)::int from calls c where c.caller_id = n.phone_number and c.status in ('completed','no-answer','busy','failed','canceled')
                      and c.call_sid is not null and coalesce(c.end_reason, '') not in ('twilio_refused', 'never_placed')
                      and coalesce(c.duration, 0) <= 6 and c.created_at >= ${DAY_START}) as short
             from phone_numbers n where n.phone_number = $1`,
          [n],
        );
        const f = await rowFields(page, `caller-${n}`);
        expect(f).toEqual({
          phone_number: formatPhone(n),
          calls_today: formatInt(c!.calls_today),
          daily_cap: formatInt(c!.daily_cap),
          cap_use: formatPercent(c!.calls_today / c!.daily_cap),
          ended_today: formatInt(c!.ended),
          short_today: formatInt(c!.short),
          short_ratio_today: c!.ended ? formatPercent(c!.short / c!.ended) : NONE,
          spam_flagged: c!.flagged ? 'Marcado' : 'Não',
        });
      }
      expect((await rowFields(page, `caller-${callerIds[0]}`))['short_ratio_today']).toBe('60,0%');
      // At its cap and flagged: highlighted.
      expect(await page.getAttribute(`tr[data-testid="caller-${callerIds[1]}"]`, 'class')).toBe('lvl-alert');

      // The clocks move (the server's whole seconds and the page's ticking may differ by one;
      // the stale test shows them ticking with no poll at all).
      const before = clockSeconds((await rowFields(page, `agent-${agentIds['livre']}`))['seconds_in_state']!);
      await page.waitForTimeout(2100);
      expect(clockSeconds((await rowFields(page, `agent-${agentIds['livre']}`))['seconds_in_state']!)).toBeGreaterThanOrEqual(before + 1);

      // The database changes: the available agent pauses, a new call starts. On the page within 3 s.
      const newCall = newCallSid();
      await sql(`update agents set status = 'paused', pause_reason = 'Intervalo', status_changed_at = now() where id = $1`, [agentIds['livre']]);
      await sql(`insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, status, created_at) values ($1, 'outbound-api', $2::text, $3, $2::text, $4, 'ringing', now())`, [
        newCall,
        callerIds[0],
        newMobile('11'),
        campaignId,
      ]);
      const changed = Date.now();
      await page.waitForFunction(
        `(() => {
          const tr = document.querySelector('tr[data-testid="agent-${agentIds['livre']}"]');
          return tr?.querySelector('[data-field="status"]')?.textContent === 'Pausa' && tr.querySelector('[data-field="pause_reason"]')?.textContent === 'Intervalo'
            && !!document.querySelector('tr[data-testid="call-${newCall}"]');
        })()`,
        undefined,
        { timeout: 3000, polling: 100 },
      );
      const took = Date.now() - changed;
      expect(took).toBeLessThanOrEqual(3000);
      expect((await rowFields(page, `call-${newCall}`))['campaign']).toBe(k!.name);
      await tb.shot('agent paused and a new call');

      // The call ends: it leaves the list.
      await sql(`update calls set status = 'completed', ended_at = now() where call_sid = $1`, [newCall]);
      await page.waitForSelector(`tr[data-testid="call-${newCall}"]`, { state: 'detached', timeout: 3000 });
    });
  });

  it('an agent session sees that the page is restricted, and nothing of the board', async () => {
    b = await launch('dashboard agent restricted');
    const tb = b;
    await pageSteps(tb, async () => {
      const { page } = tb;
      const refused = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/board');
      await signIn(page, AGENT);
      expect((await refused).status()).toBe(403);
      await page.waitForSelector('[data-testid="restricted"]:not([hidden])');
      expect(await page.textContent('#restricted-title')).toBe('Acesso restrito a supervisores');
      expect(await page.isVisible('#board-view')).toBe(false);
      expect(await page.$$('tr[data-testid]')).toHaveLength(0);
      await tb.shot('restricted');
      // No more polls after the refusal.
      let polled = 0;
      page.on('request', (r) => {
        if (new URL(r.url()).pathname === '/api/board') polled += 1;
      });
      await page.waitForTimeout(2500);
      expect(polled).toBe(0);
      // Another account: back to the sign-in form.
      await page.click('#restricted-logout');
      await page.waitForSelector('#login-view:not([hidden])');
    });
  });

  it('a failing /api/board keeps the last board with a stale banner, and recovers', async () => {
    b = await launch('dashboard stale and recovery');
    const tb = b;
    await pageSteps(tb, async () => {
      const { page } = tb;
      await signIn(page, SUPERVISOR);
      const row = `tr[data-testid="agent-${agentIds['falando']}"]`;
      await page.waitForSelector(row);
      let inFlight = 0;
      let most = 0;
      page.on('request', (r) => {
        if (new URL(r.url()).pathname === '/api/board') most = Math.max(most, ++inFlight);
      });
      const done = (r: { url(): string }) => {
        if (new URL(r.url()).pathname === '/api/board') inFlight -= 1;
      };
      page.on('requestfinished', done);
      page.on('requestfailed', done);

      // The polls fail (the network refuses them): the banner says so, the board stays, clocks tick.
      await page.route('**/api/board', (route: Route) => route.abort('connectionrefused'));
      await page.waitForSelector('[data-testid="stale-banner"]:not([hidden])', { timeout: 5000 });
      expect(await page.textContent('#stale')).toMatch(/^Painel desatualizado: sem resposta do servidor há \d+ s\. Sem conexão com o servidor\. Verifique a rede\./);
      expect(await page.isVisible(row)).toBe(true);
      const t0 = clockSeconds((await rowFields(page, `agent-${agentIds['falando']}`))['seconds_in_state']!);
      await page.waitForTimeout(1100);
      expect(clockSeconds((await rowFields(page, `agent-${agentIds['falando']}`))['seconds_in_state']!)).toBeGreaterThanOrEqual(t0 + 1);
      await tb.shot('stale banner');

      // The API answers again: the banner goes within the backoff (at most 8 s) and the board is fresh.
      await page.unroute('**/api/board');
      await page.waitForSelector('[data-testid="stale-banner"]', { state: 'hidden', timeout: 10000 });
      await page.waitForFunction(`/^atualizado há [0-2] s$/.test(document.getElementById('updated').textContent)`, undefined, { timeout: 3000 });
      expect(most).toBe(1);
      await tb.shot('recovered');

      // The session is revoked: the next poll's 401 brings the sign-in form back, with why.
      await sql(`update sessions set revoked_at = now(), revoked_reason = 'admin' where revoked_at is null and user_id = (select id from users where email = $1)`, [SUPERVISOR.email]);
      await page.waitForSelector('#login-view:not([hidden])', { timeout: 4000 });
      expect(await page.textContent('#login-error')).toBe('Sua sessão expirou. Entre novamente.');
      expect(await page.isVisible('#board-view')).toBe(false);
      await tb.shot('session revoked');
    });
  });

  it('a reload while the API fails keeps the session and retries; a locked account counts down on the form', async () => {
    b = await launch('dashboard reload outage and lockout');
    const tb = b;
    await pageSteps(tb, async () => {
      const { page } = tb;
      await signIn(page, SUPERVISOR);
      const row = `tr[data-testid="agent-${agentIds['falando']}"]`;
      await page.waitForSelector(row);
      // The page is reloaded while /api/me answers 503: the token stays, the banner says so.
      await page.route('**/api/me', (route: Route) => route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'database_unavailable', message: 'down' }) }));
      await page.reload();
      await page.waitForSelector('[data-testid="stale-banner"]:not([hidden])', { timeout: 5000 });
      expect(await page.textContent('#stale')).toMatch(/^Não foi possível carregar o painel\. Sistema temporariamente indisponível\./);
      expect(await page.isVisible('#login-view')).toBe(false);
      expect(await page.evaluate(`sessionStorage.getItem('discador.session') !== null`)).toBe(true);
      await tb.shot('reload during an outage');
      // The API answers again: the board comes back without signing in.
      await page.unroute('**/api/me');
      await page.waitForSelector(row, { timeout: 10000 });
      await page.waitForSelector('[data-testid="stale-banner"]', { state: 'hidden', timeout: 5000 });

      // Signed out, a locked account: the countdown, the button off until it ends.
      await page.click('#logout');
      await page.waitForSelector('#login-view:not([hidden])');
      await page.route('**/api/login', (route: Route) =>
        route.fulfill({ status: 429, contentType: 'application/json', headers: { 'Retry-After': '2' }, body: JSON.stringify({ error: 'account_locked', message: 'locked', retry_after: 2 }) }),
      );
      await page.fill('#login-email', SUPERVISOR.email);
      await page.fill('#login-password', 'errada');
      await page.click('#login-submit');
      await page.waitForSelector('#login-error:not([hidden])');
      expect(await page.textContent('#login-error')).toMatch(/^Muitas tentativas sem sucesso\. Tente novamente em [12] segundos?\.$/);
      expect(await page.isDisabled('#login-submit')).toBe(true);
      await tb.shot('locked out');
      await page.waitForFunction(`!document.getElementById('login-submit').disabled`, undefined, { timeout: 5000 });
      expect(await page.textContent('#login-error')).toBe('Você já pode tentar entrar de novo.');
    });
  });

  it('draws open alerts and the Anatel block from the board; "—" while there is no Anatel monitor', async () => {
    b = await launch('dashboard alerts and anatel');
    const tb = b;
    await pageSteps(tb, async () => {
      const { page } = tb;
      await signIn(page, SUPERVISOR);
      const first = await (await page.waitForResponse((r) => new URL(r.url()).pathname === '/api/board' && r.status() === 200)).json();
      await page.waitForSelector(`tr[data-testid="campaign-${campaignId}"]`);
      // What the server answers is drawn: its alerts, its Anatel block or "—".
      for (const al of first.alerts) expect((await rowFields(page, `alert-${al.id}`))['title']).toBe(al.title);
      if (first.anatel === null) {
        expect(await page.textContent('[data-testid="anatel-none"]')).toBe('—');
        expect(await page.isVisible('[data-testid="anatel-none"]')).toBe(true);
      } else {
        expect((await rowFields(page, 'anatel-account'))['calls_today']).toBe(formatInt(first.anatel.account.calls_today));
      }
      if (first.alerts.length === 0) expect(await page.isVisible('[data-empty="alerts"]')).toBe(true);

      // A board with an open alert and an Anatel block (the server's answer, amended on its way).
      const opened = new Date(Date.now() - 5 * 60000).toISOString();
      const figures = (calls: number, short: number, near: boolean, over: boolean) => ({
        calls_today: calls, short_today: short, short_ratio: short / calls, projected_calls: calls * 3, projected_short: short * 3,
        projected_ratio: short / calls, near, over, causes: {},
      });
      await page.route('**/api/board', async (route: Route) => {
        const res = await route.fetch();
        const body = await res.json();
        body.alerts = [{ id: 991, rule: 'abandon_rate', subject: `Painel ${tag}`, severity: 'critical', title: `Abandono acima do limite em Painel ${tag}`, value: 0.33, threshold: 0.03, opened_at: opened, last_sent_at: null }];
        body.anatel = {
          short_call_seconds: 6, daily_calls_threshold: 100000, short_percent_threshold: 85, near_percent: 80,
          account: figures(1200, 300, false, false),
          caller_ids: [{ caller_id: callerIds[0], ...figures(900, 800, true, false) }],
        };
        await route.fulfill({ response: res, json: body });
      });
      await page.waitForSelector('tr[data-testid="alert-991"]', { timeout: 5000 });
      expect(await rowFields(page, 'alert-991')).toEqual({
        severity: 'Crítico',
        title: `Abandono acima do limite em Painel ${tag}`,
        subject: `Painel ${tag}`,
        opened_at: expect.stringMatching(/^\d\d:\d\d \(há (5|6) min\)$/),
      });
      expect(await page.getAttribute('tr[data-testid="alert-991"]', 'class')).toBe('lvl-alert');
      expect(await rowFields(page, 'anatel-account')).toEqual({
        subject: 'Conta (todos os números)', calls_today: '1.200', short_today: '300', short_ratio: '25,0%',
        projected_calls: '3.600', projected_short: '900', projected_ratio: '25,0%', state: 'Normal',
      });
      expect(await rowFields(page, `anatel-${callerIds[0]}`)).toMatchObject({ subject: formatPhone(callerIds[0]), short_ratio: '88,9%', state: 'Perto do limite' });
      expect(await page.isVisible('[data-testid="anatel-none"]')).toBe(false);
      expect(await page.textContent('#anatel-summary')).toContain('100.000 ligações/dia');
      await tb.shot('alert and anatel');
    });
  });

  it('supervisor actions send the contract requests, confirm the destructive ones and show the API refusals', async () => {
    b = await launch('dashboard actions');
    const tb = b;
    await pageSteps(tb, async () => {
      const { page } = tb;
      const sent: { path: string; body: any }[] = [];
      // The actions' answers as the contract gives them (the page is tested apart from the endpoints).
      await page.route('**/api/supervisor/**', async (route: Route) => {
        const path = new URL(route.request().url()).pathname;
        const body = route.request().postDataJSON();
        sent.push({ path, body });
        if (path === '/api/supervisor/monitor') return route.fulfill({ status: 409, json: { error: 'call_ended', message: 'the call has ended' } });
        if (path === '/api/supervisor/agent') return route.fulfill({ json: { agent: { id: body.agent_id, status: body.status, pause_reason: body.reason ?? null } } });
        return route.fulfill({ status: 400, json: { error: 'bad_request', message: 'dial_ratio must be 1-10' } });
      });
      const [calls0] = await sql(`select to_number as customer from calls where call_sid = $1`, [live.talking]);
      await signIn(page, SUPERVISOR);
      const pausa = `tr[data-testid="agent-${agentIds['pos']}"]`;
      await page.waitForSelector(pausa);

      // Force a pause: a dialog asks the reason; cancel sends nothing, confirm sends the contract's body.
      await page.click(`${pausa} button[data-action="force-pause"]`);
      await page.waitForSelector('#confirm[open]');
      expect(await page.$$eval('#confirm-reason option', (os) => os.map((o) => o.textContent))).toContain('Treinamento');
      await tb.shot('force pause dialog');
      await page.click('#confirm-cancel');
      expect(sent).toEqual([]);
      await page.click(`${pausa} button[data-action="force-pause"]`);
      await page.selectOption('#confirm-reason', 'Treinamento');
      await page.click('#confirm-ok');
      await until('the force-pause request', () => sent.length === 1);
      await page.waitForSelector('[data-testid="action-ok"]:not([hidden])');
      expect(sent).toEqual([{ path: '/api/supervisor/agent', body: { agent_id: agentIds['pos'], status: 'paused', reason: 'Treinamento' } }]);

      // Listening in the browser on a server without a softphone (this stack has no Twilio API
      // key: /api/voice-token answers 503): the page says so and asks the server nothing.
      sent.length = 0;
      await page.click(`tr[data-testid="call-${live.talking}"] button[data-action="listen"]`);
      await page.waitForFunction(`(document.querySelector('[data-testid="action-error"]').textContent || '').startsWith('O áudio no navegador')`);
      expect(await page.textContent('[data-testid="action-error"]')).toBe('O áudio no navegador não está configurado neste servidor. Para ouvir agora, escolha "telefone" e informe um número.');
      expect(sent).toEqual([]);

      // Listening on a phone to a call that has ended: the API's refusal is shown in pt-BR with its message.
      await page.check('#monitor-via-phone');
      await page.fill('#monitor-phone', '(11) 91234-5678');
      await page.click(`tr[data-testid="call-${live.talking}"] button[data-action="listen"]`);
      await until('the monitor request', () => sent.length >= 1);
      await page.waitForFunction(`(document.querySelector('[data-testid="action-error"]').textContent || '').startsWith('A ligação já terminou')`);
      expect(await page.textContent('[data-testid="action-error"]')).toBe('A ligação já terminou; nada foi feito. (the call has ended)');
      expect(sent[0]).toEqual({ path: '/api/supervisor/monitor', body: { call_sid: live.talking, mode: 'listen', to: '+5511912345678' } });
      expect(await page.isVisible('[data-testid="monitor-bar"]')).toBe(false);

      // The campaign's ratio: an impossible one is refused on the page; a refused one shows the API's message.
      sent.length = 0;
      const camp = `tr[data-testid="campaign-${campaignId}"]`;
      await page.fill(`${camp} input[data-action="campaign-ratio"]`, '11');
      await page.click(`${camp} button[data-action="campaign-apply"]`);
      expect(await page.textContent('[data-testid="action-error"]')).toBe('Razão inválida: use um número de 1 a 10.');
      expect(sent).toEqual([]);
      await page.fill(`${camp} input[data-action="campaign-ratio"]`, '3');
      await page.click(`${camp} button[data-action="campaign-apply"]`);
      await until('the ratio request', () => sent.length === 1);
      await page.waitForFunction(ERROR_SHOWN);
      expect(sent).toEqual([{ path: '/api/supervisor/campaign', body: { campaign_id: campaignId, dial_ratio: 3 } }]);
      expect(await page.textContent('[data-testid="action-error"]')).toBe('Dados inválidos. (dial_ratio must be 1-10)');

      // Pausing the campaign asks first.
      sent.length = 0;
      await page.click(`${camp} button[data-action="campaign-toggle"]`);
      await page.waitForSelector('#confirm[open]');
      expect(await page.textContent('#confirm-title')).toBe(`Pausar Painel ${tag}?`);
      await page.click('#confirm-ok');
      await until('the pause request', () => sent.length === 1);
      await page.waitForFunction(ERROR_SHOWN);
      expect(sent).toEqual([{ path: '/api/supervisor/campaign', body: { campaign_id: campaignId, status: 'paused' } }]);
      await tb.shot('action refused');

      // Monitoring accepted: the bar names the call and the mode; switching asks before barging; leaving ends it.
      await page.unroute('**/api/supervisor/**');
      sent.length = 0;
      await page.route('**/api/supervisor/monitor**', async (route: Route) => {
        const path = new URL(route.request().url()).pathname;
        const body = route.request().postDataJSON();
        sent.push({ path, body });
        if (path === '/api/supervisor/monitor/stop') return route.fulfill({ json: { ok: true } });
        const mode = body.mode;
        return route.fulfill({ json: { monitor: { monitor_id: 41, call_sid: live.talking, agent_id: agentIds['falando'], mode } } });
      });
      await page.click(`tr[data-testid="call-${live.talking}"] button[data-action="whisper"]`);
      await page.waitForSelector('[data-testid="monitor-bar"]:not([hidden])');
      expect(await page.textContent('#monitor-text')).toBe(`Monitorando (Sussurrar): Painel falando ${tag} com ${formatPhone(calls0!.customer)}`);
      expect(await page.getAttribute('#monitor-bar [data-monitor-mode="whisper"]', 'aria-pressed')).toBe('true');
      expect(await page.isVisible(`tr[data-testid="call-${live.talking}"] button[data-action="listen"]`)).toBe(false);
      await page.click('#monitor-bar [data-monitor-mode="barge"]');
      await page.waitForSelector('#confirm[open]');
      await page.click('#confirm-ok');
      await page.waitForSelector('#monitor-bar [data-monitor-mode="barge"][aria-pressed="true"]');
      await tb.shot('barging');
      await page.click('#monitor-stop');
      await page.waitForSelector('[data-testid="monitor-bar"]', { state: 'hidden' });
      expect(sent.map((x) => x.path)).toEqual(['/api/supervisor/monitor', '/api/supervisor/monitor/mode', '/api/supervisor/monitor/stop']);
      expect(sent[1]!.body).toEqual({ monitor_id: 41, mode: 'barge' });
      expect(sent[2]!.body).toEqual({ monitor_id: 41 });
    });
  });
});
