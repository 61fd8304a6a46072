/**
 * The history page in Chromium against a local stack of its own (no emulator: nothing rings).
 * Two days of a campaign are seeded (2025-03-10 and 11, São Paulo time); the supervisor signs
 * in, the page draws every chart (each canvas has painted pixels) and each chart's data, read
 * back from Chart.js, equals /api/history's figures and the database's own counts; the
 * periods table shows the same numbers; an "Exportar CSV" link downloads the table; a
 * campaign filter and hour grouping redraw the charts; an agent is turned away.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { sql as sqlAt } from '../helpers/db';
import { startStackProcess, type StackProcess } from '../helpers/stack';
import { newCallSid, newMobile } from '../helpers/twilio';
import { launch, type TestBrowser, steps } from './browser';

jest.setTimeout(60000);

/* eslint-disable @typescript-eslint/no-explicit-any */

let stack: StackProcess;
let base: string;
const sql = <T = Record<string, unknown>>(q: string, p: unknown[] = []) => sqlAt<T>(q, p, stack.env.DATABASE_URL);
const SUPERVISOR = { email: 'supervisor@discador.local', password: 'demo-supervisor' };
const ANA = { email: 'ana@discador.local', password: 'demo-ana' };
const tag = randomBytes(3).toString('hex');
let campaignId: number;

const sp = (local: string) => new Date(`${local.replace(' ', 'T')}-03:00`).toISOString();

beforeAll(async () => {
  stack = await startStackProcess(['--no-emulator']);
  base = stack.env.FUNCTIONS_BASE_URL;
  const [k] = await sql<{ id: string }>(`insert into campaigns (name, mode, status, abandon_cap, amd_human_accuracy) values ($1, 'predictive', 'paused', 0.03, 0.9) returning id`, [`Cobrança ${tag}`]);
  campaignId = Number(k!.id);
  const [a] = await sql<{ id: string }>(`insert into agents (name, client_identity, status, campaign_id) values ($1, $2, 'offline', $3) returning id`, [`Bia ${tag}`, `hist-b-${tag}`, campaignId]);
  const agentId = Number(a!.id);
  const callerId = newMobile('11');
  // Per day: a few calls every other hour: machines (short), humans connected, one abandoned.
  for (const day of ['2025-03-10', '2025-03-11']) {
    for (let h = 8; h <= 18; h += 2) {
      const t = (m: number, s = 0) => sp(`${day} ${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`);
      const human = h % 4 === 0;
      await sql(
        `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, agent_id, status, duration, created_at, answered_by, amd_at, live_at, connected_at, abandoned_at)
         values ($1, 'outbound-api', $2::text, $3, $2::text, $4, $5, 'completed', $6, $7, $8, $9, $10, $11, $12)`,
        [newCallSid(), callerId, newMobile('11'), campaignId, human ? agentId : null, human ? 120 : 3, t(5), human ? 'human' : 'machine_start', t(5, 10), human ? t(5, 10) : null, human ? t(5, 15) : null, null],
      );
      if (human)
        await sql(`insert into call_dispositions (call_sid, agent_id, code, created_at) select call_sid, agent_id, $2, $3 from calls where created_at = $1 and agent_id = $4`, [
          t(5),
          h === 8 ? 'venda' : 'promessa',
          t(9),
          agentId,
        ]);
      await sql(
        `insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, status, duration, created_at, answered_by, amd_at, live_at, abandoned_at)
         values ($1, 'outbound-api', $2::text, $3, $2::text, $4, 'completed', 9, $5, 'human', $6, $6, $7)`,
        [newCallSid(), callerId, newMobile('11'), campaignId, t(30), t(30, 8), t(30, 20)],
      );
      await sql(`insert into calls (call_sid, direction, from_number, to_number, caller_id, campaign_id, status, duration, created_at) values ($1, 'outbound-api', $2::text, $3, $2::text, $4, 'no-answer', 0, $5)`, [
        newCallSid(),
        callerId,
        newMobile('11'),
        campaignId,
        t(45),
      ]);
    }
    await sql(`insert into agent_status_history (agent_id, status, source, started_at, ended_at) values ($1, 'available', 'system', $2, $3), ($1, 'busy', 'system', $3, $4)`, [
      agentId,
      sp(`${day} 08:00:00`),
      sp(`${day} 12:00:00`),
      sp(`${day} 12:30:00`),
    ]);
  }
  // A queue on the 10th (level 20 s): answered in 10 s, answered in 45 s → 50 %.
  const [nobody] = await sql<{ id: string }>(`insert into agents (name, status) values ('ninguém', 'offline') returning id`);
  await sql(`insert into service_queues (name, service_level_seconds, agent_ids) values ($1, 20, array[$2::bigint])`, [`hist-${tag}`, nobody!.id]);
  for (const [at, waited] of [['2025-03-10 09:00:00', 10], ['2025-03-10 15:00:00', 45]] as const)
    await sql(`insert into queue_entries (call_sid, queue_name, entered_at, left_at, result, waited_seconds) values ($1, $2, $3, $3::timestamptz + $4 * interval '1 second', 'answered', $4)`, [
      newCallSid(),
      `hist-${tag}`,
      sp(at),
      waited,
    ]);
}, 120000);

afterAll(async () => {
  await stack?.stop();
});

async function apiHistory(query: string): Promise<any> {
  const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(SUPERVISOR) });
  const { token } = (await login.json()) as { token: string };
  const res = await fetch(`${base}/api/history?${query}`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  return res.json();
}

/** What a chart drew: its data read back from Chart.js, and how many pixels of its canvas are painted. */
async function chartOf(b: TestBrowser, id: string): Promise<{ labels: string[]; datasets: { label: string; data: (number | null)[] }[]; painted: number }> {
  // Runs in the page (a string: this file is compiled without the DOM's types).
  return b.page.evaluate(`(() => {
    const canvas = document.getElementById(${JSON.stringify(id)});
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
    return { ...JSON.parse(canvas.dataset.chart || '{}'), painted };
  })()`);
}

describe('the history page', () => {
  let b: TestBrowser | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
  });

  it('a supervisor sees the charts, equal to the API and the database, and downloads a table', async () => {
    b = await launch('history charts');
    const tb = b;
    await steps(tb, async () => {
      const { page } = tb;
      await page.goto(`${base}/history.html?from=2025-03-10&to=2025-03-11`);
      expect(await page.getAttribute('html', 'lang')).toBe('pt-BR');
      expect(await page.getAttribute('a.back', 'href')).toBe('/dashboard.html');
      await page.fill('#login-email', SUPERVISOR.email);
      await page.fill('#login-password', SUPERVISOR.password);
      await page.click('#login-submit');
      await page.waitForSelector('body[data-loaded]');
      await tb.shot('history by day');

      const api = await apiHistory('from=2025-03-10&to=2025-03-11');
      // Every chart painted something.
      for (const id of ['chart-dials', 'chart-abandon', 'chart-short', 'chart-service', 'chart-campaigns', 'chart-agents', 'chart-amd', 'chart-dispositions', 'chart-queues']) {
        const c = await chartOf(tb, id);
        expect({ id, painted: c.painted > 500 }).toEqual({ id, painted: true });
      }
      const dials = await chartOf(tb, 'chart-dials');
      expect(dials.labels).toEqual(['10/03', '11/03']);
      expect(dials.datasets).toEqual([
        { label: 'Discagens', data: api.buckets.map((x: any) => x.dials) },
        { label: 'Conexões', data: api.buckets.map((x: any) => x.connects) },
      ]);
      // The database's own count: 18 calls a day, 3 of them (8, 12, 16 h) connected.
      const db = await sql<{ day: string; dials: number; connects: number }>(
        `select to_char(created_at at time zone 'America/Sao_Paulo', 'YYYY-MM-DD') as day, count(*)::int as dials, count(connected_at)::int as connects
           from calls where campaign_id = $1 group by 1 order by 1`,
        [campaignId],
      );
      expect(db).toEqual([
        { day: '2025-03-10', dials: 18, connects: 3 },
        { day: '2025-03-11', dials: 18, connects: 3 },
      ]);
      expect(dials.datasets[0]!.data).toEqual([18, 18]);
      expect(dials.datasets[1]!.data).toEqual([3, 3]);

      // Abandon: 6 abandoned of 9 live a day = 66.67 %; with the AMD estimate (9 × 0.1/0.9 = 1) 7/10 = 70 %; the cap 3 %.
      const abandon = await chartOf(tb, 'chart-abandon');
      expect(abandon.datasets).toEqual([
        { label: 'Abandono', data: [66.67, 66.67] },
        { label: 'Abandono com AMD (estimativa)', data: [70, 70] },
        { label: 'Limite', data: [3, 3] },
      ]);
      expect(api.buckets.map((x: any) => x.abandon_rate)).toEqual([0.6667, 0.6667]);
      // The database's own abandon and short-call rates per São Paulo day (the page's %).
      const rates = await sql<{ abandon: number; short: number }>(
        `select round(100.0 * count(abandoned_at) / nullif(count(live_at), 0), 2)::float8 as abandon,
                round(100.0 * count(*) filter (where coalesce(duration, 0) <= 6 and call_sid is not null and caller_id is not null and status in ('completed', 'no-answer', 'busy', 'failed', 'canceled'))
                      / nullif(count(*) filter (where call_sid is not null and caller_id is not null and status in ('completed', 'no-answer', 'busy', 'failed', 'canceled')), 0), 2)::float8 as short
           from calls where campaign_id = $1 group by to_char(created_at at time zone 'America/Sao_Paulo', 'YYYY-MM-DD') order by 1`,
        [campaignId],
      );
      expect(abandon.datasets[0]!.data).toEqual(rates.map((r) => r.abandon));
      expect((await chartOf(tb, 'chart-short')).datasets[0]!.data).toEqual(rates.map((r) => r.short));
      // Short calls: 3 machines (3 s) and 6 unanswered (0 s) of 18 = 50 %.
      expect((await chartOf(tb, 'chart-short')).datasets[0]!.data).toEqual(api.buckets.map((x: any) => x.short_ratio * 100));
      expect(api.buckets.map((x: any) => x.short_ratio)).toEqual([0.5, 0.5]);
      // Talk minutes per agent-hour: 30 busy minutes in 4.5 staffed hours a day → 6.7.
      const agents = await chartOf(tb, 'chart-agents');
      const bia = api.agents.find((x: any) => x.agent === `Bia ${tag}`);
      expect(bia.talk_minutes_per_agent_hour).toBe(6.7);
      // The database's own: busy minutes per staffed hour of Bia's status periods.
      const [talk] = await sql<{ v: number }>(
        `select round(((sum(extract(epoch from ended_at - started_at)) filter (where status = 'busy') / 60)
                       / (sum(extract(epoch from ended_at - started_at)) filter (where status <> 'offline') / 3600))::numeric, 1)::float8 as v
           from agent_status_history where agent_id = $1`,
        [bia.agent_id],
      );
      expect(agents.datasets[0]!.data[agents.labels.indexOf(`Bia ${tag}`)]).toBe(talk!.v);
      expect(agents.labels).toEqual(api.agents.map((x: any) => x.agent));
      expect(agents.datasets[0]!.data).toEqual(api.agents.map((x: any) => x.talk_minutes_per_agent_hour));
      const amd = await chartOf(tb, 'chart-amd');
      expect(amd.datasets[0]!.data).toEqual(api.amd.map((x: any) => x.count));
      expect(amd.labels.slice(0, 2)).toEqual(['Pessoa', 'Máquina (início)']);
      expect(amd.datasets[0]!.data.slice(0, 2)).toEqual([18, 6]);

      // Dispositions: the 8 h call of each day a sale, the 12 and 16 h ones promises.
      const disp = await chartOf(tb, 'chart-dispositions');
      expect({ labels: disp.labels, data: disp.datasets[0]!.data }).toEqual({ labels: ['promessa', 'venda'], data: [4, 2] });
      expect(api.dispositions.map((x: any) => [x.code, x.count])).toEqual([['promessa', 4], ['venda', 2]]);
      const queues = await chartOf(tb, 'chart-queues');
      expect({ labels: queues.labels, data: queues.datasets[0]!.data }).toEqual({ labels: [`hist-${tag}`], data: [50] });
      expect((await chartOf(tb, 'chart-service')).datasets[0]!.data).toEqual([50, null]);

      // The periods table shows the same figures (pt-BR).
      const firstRow = await page.$$eval('#table-buckets tbody tr:first-child td', (tds) => tds.map((td) => td.textContent));
      expect(firstRow.slice(0, 3)).toEqual(['2025-03-10', '18', '3']);

      // Export: the campaigns table as a CSV download.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('a.export[data-table="campaigns"]')]);
      expect(download.suggestedFilename()).toBe('historico-campanhas-2025-03-10_2025-03-11.csv');
      const csv = readFileSync((await download.path())!, 'utf8');
      expect(csv.startsWith('\ufeffid;campanha;limite de abandono;discagens;conexões;')).toBe(true);
      expect(csv).toContain(`\r\n${campaignId};Cobrança ${tag};0,03;36;6;`);

      // Someone signs in as an agent in another tab: the shared cookie is now the agent's. The
      // export still goes with this tab's session (its bearer token), not the cookie.
      await page.evaluate(
        `fetch('/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(${JSON.stringify(ANA)}) }).then((r) => r.status)`,
      );
      const [again] = await Promise.all([page.waitForEvent('download'), page.click('a.export[data-table="campaigns"]')]);
      expect(readFileSync((await again.path())!, 'utf8')).toBe(csv);

      // A refused export is said on the page; nothing is saved.
      await page.route('**/api/history/export?**', (route) =>
        route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: 'report_timeout', message: 'slow' }) }),
      );
      let saved = 0;
      page.on('download', () => (saved += 1));
      await page.click('a.export[data-table="agents"]');
      await page.waitForSelector('#report-error:not([hidden])');
      expect(await page.textContent('#report-error')).toBe(
        'Não foi possível exportar o CSV: O relatório demorou demais para ser calculado. Escolha um período menor, agrupe por dia ou filtre uma campanha.',
      );
      await page.waitForTimeout(300);
      expect(saved).toBe(0);
      await page.unroute('**/api/history/export?**');

      // A campaign, by hour: 24 hours of the 10th.
      await page.fill('#f-to', '2025-03-10');
      await page.selectOption('#f-group', 'hour');
      await page.selectOption('#f-campaign', String(campaignId));
      const before = await page.getAttribute('body', 'data-loaded');
      await page.click('#f-submit');
      await page.waitForFunction(`document.body.dataset.loaded !== ${JSON.stringify(before)}`);
      const hourly = await chartOf(tb, 'chart-dials');
      expect(hourly.labels.length).toBe(24);
      expect(hourly.labels[8]).toBe('10/03 08:00');
      const apiHourly = await apiHistory(`from=2025-03-10&to=2025-03-10&group=hour&campaign_id=${campaignId}`);
      expect(hourly.datasets[0]!.data).toEqual(apiHourly.buckets.map((x: any) => x.dials));
      expect(hourly.datasets[0]!.data[8]).toBe(3);
      expect(hourly.datasets[0]!.data[9]).toBe(0);
      expect(await page.getAttribute('a.export[data-table="buckets"]', 'href')).toBe(
        `/api/history/export?from=2025-03-10&to=2025-03-10&group=hour&campaign_id=${campaignId}&table=buckets`,
      );
      await tb.shot('history by hour for a campaign');

      // Bad range: a clear message, the charts kept.
      await page.fill('#f-to', '2025-03-20');
      await page.click('#f-submit');
      await page.waitForSelector('#report-error:not([hidden])');
      expect(await page.textContent('#report-error')).toBe('Filtros inválidos: grouped by hour, the range can be at most 7 days');
      await tb.shot('bad range');
    });
  });

  it('an agent is turned away', async () => {
    b = await launch('history agent refused');
    const tb = b;
    await steps(tb, async () => {
      const { page } = tb;
      await page.goto(`${base}/history.html`);
      await page.fill('#login-email', ANA.email);
      await page.fill('#login-password', ANA.password);
      await page.click('#login-submit');
      await page.waitForSelector('#login-error:not([hidden])');
      expect(await page.textContent('#login-error')).toBe('Esta página é só para supervisores e administradores.');
      expect(await page.isVisible('#report-view')).toBe(false);
      await tb.shot('agent refused');

      // The agent page's session in this tab: opening history here (403) leaves it alone.
      await page.goto(`${base}/agent.html`);
      await page.fill('#login-email', ANA.email);
      await page.fill('#login-password', ANA.password);
      await page.click('#login-submit');
      await page.waitForSelector('#app-view:not([hidden])');
      const token = await page.evaluate(`sessionStorage.getItem('discador.session')`);
      expect(token).toEqual(expect.any(String));
      await page.goto(`${base}/history.html`);
      await page.waitForSelector('#login-error:not([hidden])');
      expect(await page.textContent('#login-error')).toBe('Esta página é só para supervisores e administradores.');
      expect(await page.evaluate(`sessionStorage.getItem('discador.session')`)).toBe(token);
      await page.goto(`${base}/agent.html`);
      await page.waitForSelector('#app-view:not([hidden])');
      await page.click('#logout');
      await page.waitForSelector('#login-view:not([hidden])');
    });
  });
});
