/**
 * An alert reaches both the supervisor's board and Slack (docs/alerts.md, docs/dashboard.md):
 * Chromium on /dashboard.html against a local stack of its own (no Twilio emulator; the
 * stack's Slack stand-in receives the incoming-webhook posts), the real /api/jobs heartbeat.
 *
 * This file's own conditions: a caller ID of its own flagged as spam (critical) and a customer
 * waiting in a queue of its own (served only by an agent of its own) past the threshold
 * (warning). After a heartbeat each alert row is on the page within 3 s with the title and
 * severity the alerts table holds, and the stand-in got exactly one post per alert whose
 * Block Kit JSON equals one built here from the row (not by the app's formatter). The wait
 * growing past twice the threshold within the cool-down turns the row critical on the page
 * and sends nothing. Cleared, the next heartbeat takes the rows off the page and posts one
 * "resolved" message each.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { tickHeader } from '../../src/lib/domain/dialer/tick-auth';
import { sql as sqlAt } from '../helpers/db';
import { slackStandin } from '../helpers/slack-standin';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { newCallSid, newMobile } from '../helpers/twilio';
import { launch, type TestBrowser } from './browser';

jest.setTimeout(60000);

const SUPERVISOR = { email: 'supervisor@discador.local', password: 'demo-supervisor' };
const tag = randomBytes(3).toString('hex');
const number = newMobile('11');
const queue = `alerta-painel-${tag}`;
const waitingSid = newCallSid();
// A campaign name holding Slack's control characters: the page shows it as typed, Slack gets it escaped.
const campaign = `Vendas <!channel> & Co ${tag}`;
const campaignAbout = `Co ${tag}`;
let campaignId: string;

let stack: StackProcess;
let base: string;
const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, stack.env.DATABASE_URL);
const slack = () => slackStandin(stack.env.SLACK_STANDIN_URL);

interface AlertRow {
  id: string;
  status: string;
  severity: 'warning' | 'critical';
  title: string;
  subject_label: string;
  opened_at: Date;
  resolved_at: Date | null;
  last_sent_at: Date | null;
  notifications: number;
}
async function alertOf(rule: string, subject: string): Promise<AlertRow> {
  const rows = await sql<AlertRow>(
    `select id::text, status, severity, title, subject_label, opened_at, resolved_at, last_sent_at, notifications from alerts where rule = $1 and subject = $2 order by id`,
    [rule, subject],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!;
}

async function heartbeat(): Promise<void> {
  const res = await fetch(`${base}/api/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-discador-tick': tickHeader(stack.env.TICK_SECRET) },
    body: '{}',
  });
  expect(res.status).toBe(200);
  await res.text();
}

// Slack Block Kit as docs/alerts.md specifies it, written here from the row's data.
const SEVERITY_ON_PAGE = { warning: 'Atenção', critical: 'Crítico' } as const;
const RULE_NAME: Record<string, string> = { caller_id_spam: 'Número marcado como spam', queue_wait: 'Espera na fila', abandon: 'Abandono' };
const brasilia = (d: Date) =>
  new Intl.DateTimeFormat('pt-BR', { timeZone: 'America/Sao_Paulo', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' }).format(d);
const mrkdwn = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function expectedPost(rule: string, a: AlertRow, kind: 'opened' | 'worse' | 'resolved') {
  const headline = kind === 'resolved' ? '✅ Resolvido' : (a.severity === 'critical' ? '🔴 Alerta crítico' : '🟠 Alerta') + (kind === 'worse' ? ' (piorou)' : '');
  const when = kind === 'resolved' ? ` · resolvido em ${brasilia(a.resolved_at!)}` : kind === 'worse' ? ` · em ${brasilia(a.last_sent_at!)}` : '';
  return {
    text: mrkdwn(`${headline}: ${a.title}`),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: `${headline}: ${RULE_NAME[rule]}`, emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: mrkdwn(a.title) } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: mrkdwn(`discador · ${a.subject_label} · aberto em ${brasilia(a.opened_at)}${when} (Brasília)`) }] },
    ],
  };
}

/** The stand-in's posts about one subject, as parsed JSON; each one checked to be a Slack incoming-webhook POST. */
async function postsAbout(about: string): Promise<unknown[]> {
  const posts = await slack().posts(about);
  for (const p of posts) {
    expect(p.path).toBe('/services/T00000000/B00000000/local-standin');
    expect(p.headers['content-type']).toBe('application/json');
  }
  return posts.map((p) => JSON.parse(p.body) as unknown);
}

/** The alert row's cells on the page, or null when it is not there. */
async function rowOnPage(page: Page, id: string): Promise<Record<string, string> | null> {
  const tr = await page.$(`tr[data-testid="alert-${id}"]`);
  if (!tr) return null;
  return tr
    .evaluate((el) => ({
      ...Object.fromEntries([...el.querySelectorAll('td[data-field]')].map((td) => [td.getAttribute('data-field')!, td.textContent ?? ''])),
      class: el.getAttribute('class') ?? '',
    }))
    .catch(() => null); // redrawn away between the two calls
}

/** Waits (at most ms) until the row shows what the database holds: its severity in words and colour, its title and subject. */
async function expectRowWithin(page: Page, a: AlertRow, ms: number): Promise<number> {
  const t = Date.now();
  const want = { severity: SEVERITY_ON_PAGE[a.severity], title: a.title, subject: a.subject_label, class: a.severity === 'critical' ? 'lvl-alert' : 'lvl-warn' };
  let seen: Record<string, string> | null = null;
  while (Date.now() - t < ms) {
    seen = await rowOnPage(page, a.id);
    if (seen && Object.entries(want).every(([k, v]) => seen![k] === v)) return Date.now() - t;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`alert ${a.id} not on the page as ${JSON.stringify(want)} within ${ms} ms; seen ${JSON.stringify(seen)}`);
}

async function expectGoneWithin(page: Page, id: string, ms: number): Promise<number> {
  const t = Date.now();
  while (Date.now() - t < ms) {
    if ((await rowOnPage(page, id)) === null) return Date.now() - t;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`alert ${id} still on the page after ${ms} ms`);
}

beforeAll(async () => {
  stack = await startStackProcess(['--no-emulator']);
  base = stack.env.FUNCTIONS_BASE_URL;
  await sql(`insert into phone_numbers (phone_number, daily_cap, calls_today) values ($1, 100, 0)`, [number]);
  const [agent] = await sql<{ id: string }>(`insert into agents (name, status) values ($1, 'offline') returning id`, [`Alerta Painel ${tag}`]);
  await sql(`insert into service_queues (name, service_level_seconds, agent_ids) values ($1, 20, array[$2::bigint])`, [queue, agent!.id]);
  const [k] = await sql<{ id: string }>(`insert into campaigns (name, mode, status, abandon_cap, amd_human_accuracy) values ($1, 'predictive', 'paused', 0.03, 1) returning id`, [campaign]);
  campaignId = k!.id;
}, 120000);

afterAll(async () => {
  await stack?.stop();
});

describe('an alert on the board and on Slack', () => {
  let b: TestBrowser | undefined;
  afterAll(async () => {
    await b?.close();
  });

  it('opens on both, is not repeated within the cool-down, and resolves on both', async () => {
    b = await launch('dashboard alerts board and slack');
    const { page } = b;
    const shot = b.shot;
    try {
      await page.goto(`${base}/dashboard.html`);
      await page.fill('#login-email', SUPERVISOR.email);
      await page.fill('#login-password', SUPERVISOR.password);
      await page.click('#login-submit');
      await page.waitForSelector(`tr[data-testid="queue-${queue}"]`, { timeout: 10000 }); // the first board is drawn
      await shot('signed in');

      // The conditions: the caller ID flagged as spam; a customer waiting 4 min (threshold 3).
      await sql(`update phone_numbers set spam_flagged_at = app_now() where phone_number = $1`, [number]);
      await sql(
        `insert into calls (call_sid, direction, from_number, to_number, status, created_at, started_at, answered_at)
         values ($1, 'inbound', $2, '+551130009999', 'in-progress', app_now() - interval '245 seconds', app_now() - interval '245 seconds', app_now() - interval '244 seconds')`,
        [waitingSid, newMobile('21')],
      );
      await sql(`insert into queue_entries (call_sid, queue_name, entered_at) values ($1, $2, app_now() - interval '240 seconds')`, [waitingSid, queue]);
      // The campaign: 20 live answers today, one abandoned (5 %, over its 3 % cap).
      await sql(
        `insert into calls (call_sid, direction, from_number, to_number, status, campaign_id, created_at, live_at, abandoned_at)
         select 'CA' || md5(random()::text || g), 'outbound-api', '+551130002000', '+5511970000000', 'completed', $1, app_now(), app_now(), case when g = 1 then app_now() end
           from generate_series(1, 20) g`,
        [campaignId],
      );
      await heartbeat();

      const spam = await alertOf('caller_id_spam', `caller_id:${number}`);
      const wait = await alertOf('queue_wait', `queue:${queue}`);
      expect(spam).toMatchObject({ status: 'open', severity: 'critical', title: `Número ${number} marcado como spam`, subject_label: number, notifications: 1 });
      expect(wait).toMatchObject({ status: 'open', severity: 'warning', title: `Cliente esperando há 4 min na fila "${queue}" (limite 3 min; na fila: 1)`, subject_label: queue, notifications: 1 });
      await expectRowWithin(page, spam, 3000);
      await expectRowWithin(page, wait, 3000);
      const abandon = await alertOf('abandon', `campaign:${campaignId}`);
      expect(abandon).toMatchObject({ status: 'open', severity: 'critical', title: `Abandono acima do limite: campanha "${campaign}" em 5,0% hoje (limite 3,0%)`, subject_label: campaign, notifications: 1 });
      await expectRowWithin(page, abandon, 3000);
      await shot('alerts on the board');
      expect(await postsAbout(campaignAbout)).toEqual([expectedPost('abandon', abandon, 'opened')]);
      expect(await postsAbout(number)).toEqual([expectedPost('caller_id_spam', spam, 'opened')]);
      expect(await postsAbout(queue)).toEqual([expectedPost('queue_wait', wait, 'opened')]);

      // Within the cool-down: the same spam flag (nothing new), and the wait now over twice the
      // threshold (critical): an escalation, on the board and on Slack at once.
      await sql(`update queue_entries set entered_at = app_now() - interval '400 seconds' where call_sid = $1`, [waitingSid]);
      await heartbeat();
      const worse = await alertOf('queue_wait', `queue:${queue}`);
      expect(worse).toMatchObject({ id: wait.id, status: 'open', severity: 'critical', title: `Cliente esperando há 6 min na fila "${queue}" (limite 3 min; na fila: 1)`, notifications: 2 });
      expect(await alertOf('caller_id_spam', `caller_id:${number}`)).toMatchObject({ id: spam.id, status: 'open', notifications: 1 });
      await expectRowWithin(page, worse, 3000);
      await shot('worse within the cool-down');
      expect(await postsAbout(number)).toHaveLength(1);
      expect(await postsAbout(queue)).toEqual([expectedPost('queue_wait', wait, 'opened'), expectedPost('queue_wait', worse, 'worse')]);
      expect(await postsAbout(campaignAbout)).toHaveLength(1);

      // Cleared: off the board, and one "resolved" post each.
      await sql(`update phone_numbers set spam_flagged_at = null where phone_number = $1`, [number]);
      await sql(`update queue_entries set left_at = app_now(), result = 'abandoned', waited_seconds = 400 where call_sid = $1`, [waitingSid]);
      await sql(`update calls set status = 'completed', ended_at = app_now() where call_sid = $1`, [waitingSid]);
      await sql(`update calls set abandoned_at = null where campaign_id = $1`, [campaignId]);
      await heartbeat();
      const spamDone = await alertOf('caller_id_spam', `caller_id:${number}`);
      const waitDone = await alertOf('queue_wait', `queue:${queue}`);
      expect(spamDone).toMatchObject({ status: 'resolved' });
      expect(waitDone).toMatchObject({ status: 'resolved' });
      await expectGoneWithin(page, spam.id, 3000);
      await expectGoneWithin(page, wait.id, 3000);
      const abandonDone = await alertOf('abandon', `campaign:${campaignId}`);
      expect(abandonDone).toMatchObject({ status: 'resolved' });
      await expectGoneWithin(page, abandon.id, 3000);
      await shot('resolved off the board');
      expect(await postsAbout(number)).toEqual([expectedPost('caller_id_spam', spam, 'opened'), expectedPost('caller_id_spam', spamDone, 'resolved')]);
      expect(await postsAbout(queue)).toEqual([expectedPost('queue_wait', wait, 'opened'), expectedPost('queue_wait', worse, 'worse'), expectedPost('queue_wait', waitDone, 'resolved')]);
      expect(await postsAbout(campaignAbout)).toEqual([expectedPost('abandon', abandon, 'opened'), expectedPost('abandon', abandonDone, 'resolved')]);

      // Nothing more on a further heartbeat.
      await heartbeat();
      expect(await postsAbout(number)).toHaveLength(2);
      expect(await postsAbout(queue)).toHaveLength(3);
      expect(await postsAbout(campaignAbout)).toHaveLength(2);
    } catch (e) {
      await shot('failure').catch(() => undefined);
      throw e;
    }
  });
});
