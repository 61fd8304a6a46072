/**
 * The history page (/history.html, docs/history.md): a supervisor or an admin signs in (the
 * agent page's API client and the shared sign-in form: the token in this tab), picks a
 * period, a grouping and optionally a campaign or an agent, and sees /api/history as charts,
 * each group's table under its charts with a link that downloads it as CSV
 * (/api/history/export with the same filters, fetched with this tab's token; a refusal is
 * shown, never saved as the file).
 */
import { Api, ApiError } from '../agent/api';
import { SignInForm } from '../shared/sign-in';
import { HISTORY_TABLES, type HistoryReport, type HistoryTableName } from '../../lib/domain/history';
import { doughnut, seriesChart } from './charts';

const api = new Api();
const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el as T;
};

// ------------------------------------------------------------------------------- formatting

const int = new Intl.NumberFormat('pt-BR', { maximumFractionDigits: 0 });
const dec = new Intl.NumberFormat('pt-BR', { maximumFractionDigits: 2 });
const pct = new Intl.NumberFormat('pt-BR', { style: 'percent', maximumFractionDigits: 2 });

/** A ratio (0-1) as a percentage for a chart (2 decimals), null kept. */
const asPercent = (v: number | null | undefined) => (v === null || v === undefined ? null : Math.round(v * 10000) / 100);

const AMD_LABELS: Record<string, string> = {
  human: 'Pessoa',
  machine_start: 'Máquina (início)',
  machine_end_beep: 'Máquina (bipe)',
  machine_end_silence: 'Máquina (silêncio)',
  machine_end_other: 'Máquina (outro)',
  fax: 'Fax',
  unknown: 'Indefinido',
};

function cell(kind: string, v: unknown): { text: string; num: boolean } {
  if (v === null || v === undefined) return { text: '—', num: kind !== 'text' };
  if (kind === 'text') return { text: String(v), num: false };
  const n = Number(v);
  if (kind === 'ratio') return { text: pct.format(n), num: true };
  if (kind === 'decimal') return { text: dec.format(n), num: true };
  return { text: int.format(n), num: true };
}

/** Renders one table of the report (every column the CSV has, the same pt-BR headers). */
function renderTable(name: HistoryTableName, report: HistoryReport): void {
  const t = HISTORY_TABLES[name];
  const rows = t.rows(report);
  const table = document.createElement('table');
  table.dataset['table'] = name;
  const head = table.createTHead().insertRow();
  for (const col of t.columns) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = col.label;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const col of t.columns) {
      const td = tr.insertCell();
      const value = name === 'amd' && col.key === 'answered_by' ? AMD_LABELS[String(row[col.key])] ?? row[col.key] : name === 'campaigns' && col.key === 'campaign' && row[col.key] === null ? 'Sem campanha' : row[col.key];
      const c = cell(col.kind, value);
      td.textContent = c.text;
      if (c.num) td.className = 'num';
    }
  }
  if (rows.length === 0) {
    const td = body.insertRow().insertCell();
    td.colSpan = t.columns.length;
    td.className = 'empty';
    td.textContent = 'Nada no período.';
  }
  $(`table-${name}`).replaceChildren(table);
}

// ------------------------------------------------------------------------------- the report

/** The filters as the URLs take them. */
function filters(): URLSearchParams {
  const q = new URLSearchParams();
  q.set('from', $<HTMLInputElement>('f-from').value);
  q.set('to', $<HTMLInputElement>('f-to').value);
  q.set('group', $<HTMLSelectElement>('f-group').value);
  const campaign = $<HTMLSelectElement>('f-campaign').value;
  const agent = $<HTMLSelectElement>('f-agent').value;
  if (campaign) q.set('campaign_id', campaign);
  if (agent) q.set('agent_id', agent);
  return q;
}

/** Adds the report's campaigns and agents to the filter lists (kept across reports). */
function learnOptions(report: HistoryReport): void {
  const add = (select: HTMLSelectElement, id: number | null, name: string | null) => {
    if (id === null || [...select.options].some((o) => o.value === String(id))) return;
    select.add(new Option(name ?? `#${id}`, String(id)));
  };
  for (const k of report.campaigns) add($<HTMLSelectElement>('f-campaign'), k.campaign_id, k.campaign);
  for (const a of report.agents) add($<HTMLSelectElement>('f-agent'), a.agent_id, a.agent);
}

function render(report: HistoryReport, q: URLSearchParams): void {
  // pt-BR labels: "10/03" (day), "10/03 14:00" (hour).
  const labels = report.buckets.map((x) => `${x.bucket.slice(8, 10)}/${x.bucket.slice(5, 7)}${report.group === 'hour' ? ' ' + x.bucket.slice(11) : ''}`);
  const b = report.buckets;
  seriesChart($<HTMLCanvasElement>('chart-dials'), labels, [
    { label: 'Discagens', data: b.map((x) => x.dials) },
    { label: 'Conexões', data: b.map((x) => x.connects) },
  ]);
  const cap = asPercent(report.abandon_cap);
  seriesChart(
    $<HTMLCanvasElement>('chart-abandon'),
    labels,
    [
      { label: 'Abandono', data: b.map((x) => asPercent(x.abandon_rate)), kind: 'line' },
      { label: 'Abandono com AMD (estimativa)', data: b.map((x) => asPercent(x.abandon_rate_with_amd)), kind: 'line', dashed: true },
      ...(cap === null ? [] : [{ label: 'Limite', data: b.map(() => cap), kind: 'line' as const, color: '#b3261e', dashed: true }]),
    ],
    { percent: true },
  );
  seriesChart($<HTMLCanvasElement>('chart-short'), labels, [{ label: `Curtas (≤ ${report.short_call_seconds} s)`, data: b.map((x) => asPercent(x.short_ratio)), kind: 'line' }], { percent: true });
  seriesChart($<HTMLCanvasElement>('chart-service'), labels, [{ label: 'Nível de serviço', data: b.map((x) => asPercent(x.queue_service_level)), kind: 'line' }], { percent: true });

  const k = report.campaigns;
  seriesChart(
    $<HTMLCanvasElement>('chart-campaigns'),
    k.map((x) => x.campaign ?? 'Sem campanha'),
    [
      { label: 'Abandono', data: k.map((x) => asPercent(x.abandon_rate)) },
      { label: 'Abandono com AMD (estimativa)', data: k.map((x) => asPercent(x.abandon_rate_with_amd)) },
      { label: 'Limite', data: k.map((x) => asPercent(x.abandon_cap)), kind: 'line', color: '#b3261e', dashed: true },
    ],
    { percent: true },
  );
  seriesChart(
    $<HTMLCanvasElement>('chart-agents'),
    report.agents.map((x) => x.agent),
    [{ label: 'Fala (min) por agente-hora', data: report.agents.map((x) => x.talk_minutes_per_agent_hour) }],
    { horizontal: true },
  );
  doughnut(
    $<HTMLCanvasElement>('chart-amd'),
    report.amd.map((x) => AMD_LABELS[x.answered_by] ?? x.answered_by),
    report.amd.map((x) => x.count),
  );
  seriesChart($<HTMLCanvasElement>('chart-dispositions'), report.dispositions.map((x) => x.code), [{ label: 'Tabulações', data: report.dispositions.map((x) => x.count) }], { horizontal: true });
  seriesChart($<HTMLCanvasElement>('chart-queues'), report.queues.map((x) => x.queue), [{ label: 'Nível de serviço', data: report.queues.map((x) => asPercent(x.service_level)) }], { percent: true });

  for (const name of Object.keys(HISTORY_TABLES) as HistoryTableName[]) renderTable(name, report);
  for (const a of document.querySelectorAll<HTMLAnchorElement>('a.export')) {
    const e = new URLSearchParams(q);
    e.set('table', a.dataset['table']!);
    a.href = `/api/history/export?${e.toString()}`;
  }
  document.body.dataset['loaded'] = report.server_time;
}

function showError(id: string, message: string | null): void {
  const el = $(id);
  el.textContent = message ?? '';
  el.hidden = message === null;
}

const MESSAGES: Record<string, string> = {
  network: 'Sem conexão com o servidor.',
  invalid_credentials: 'E-mail ou senha incorretos.',
  forbidden_role: 'Esta página é só para supervisores e administradores.',
  session_expired: 'Sua sessão terminou. Entre de novo.',
  unauthenticated: 'Entre para ver o histórico.',
  database_unavailable: 'Sistema temporariamente indisponível. Tente em alguns segundos.',
  report_timeout: 'O relatório demorou demais para ser calculado. Escolha um período menor, agrupe por dia ou filtre uma campanha.',
};

const describe = (e: unknown): string =>
  e instanceof ApiError ? (MESSAGES[e.code] ?? e.message) : e instanceof Error && e.message ? `Erro: ${e.message}` : String(e);

/**
 * Back to the sign-in form, with a message. The token is forgotten only when the server no
 * longer knows it (401) or on sign-out: a 403 is a live session of another role, maybe the
 * agent page's in this same tab, which must keep working.
 */
function signedOut(message: string | null, forget = true): void {
  if (forget) api.forget();
  $('report-view').hidden = true;
  $('logout').hidden = true;
  $('user-name').hidden = true;
  $('login-view').hidden = false;
  signIn.reset(message);
}

async function load(): Promise<void> {
  const q = filters();
  const submit = $<HTMLButtonElement>('f-submit');
  submit.disabled = true;
  showError('report-error', null);
  try {
    const report = await api.request<HistoryReport>('GET', `/api/history?${q.toString()}`);
    $('login-view').hidden = true;
    $('report-view').hidden = false;
    $('logout').hidden = false;
    learnOptions(report);
    render(report, q);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) signedOut(describe(e), e.status === 401);
    else if (e instanceof ApiError && (e.status === 400 || e.status === 404)) showError('report-error', `Filtros inválidos: ${e.message}`);
    else showError('report-error', e instanceof ApiError ? (MESSAGES[e.code] ?? 'Não foi possível carregar o histórico. Tente de novo.') : describe(e));
  } finally {
    submit.disabled = false;
  }
}

const signIn = new SignInForm({
  api,
  enter: async (reply) => {
    if (reply.user.role === 'agent') {
      await api.logout().catch(() => undefined);
      throw new ApiError(403, 'forbidden_role', 'forbidden_role');
    }
    $('user-name').textContent = reply.user.name;
    $('user-name').hidden = false;
    await load();
  },
  describe,
});

/** "Exportar CSV": the file fetched with this tab's session and saved; a refusal is said on the page. */
async function download(a: HTMLAnchorElement): Promise<void> {
  if (a.getAttribute('href') === '#' || a.dataset['busy']) return;
  a.dataset['busy'] = '1';
  showError('report-error', null);
  try {
    const { blob, name } = await api.file(a.getAttribute('href')!, `historico-${a.dataset['table']}.csv`);
    const url = URL.createObjectURL(blob);
    const save = document.createElement('a');
    save.href = url;
    save.download = name;
    document.body.appendChild(save);
    save.click();
    save.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) signedOut(describe(e), e.status === 401);
    else showError('report-error', `Não foi possível exportar o CSV: ${describe(e)}`);
  } finally {
    delete a.dataset['busy'];
  }
}

/** São Paulo's date of now minus `days`, YYYY-MM-DD (Brazil keeps UTC−3 all year). */
function spDate(daysBack: number): string {
  return new Date(Date.now() - 3 * 3600_000 - daysBack * 86_400_000).toISOString().slice(0, 10);
}

function start(): void {
  const params = new URLSearchParams(location.search);
  $<HTMLInputElement>('f-from').value = params.get('from') ?? spDate(6);
  $<HTMLInputElement>('f-to').value = params.get('to') ?? spDate(0);
  if (params.get('group') === 'hour') $<HTMLSelectElement>('f-group').value = 'hour';
  signIn.wire();
  for (const a of document.querySelectorAll<HTMLAnchorElement>('a.export'))
    a.addEventListener('click', (e) => {
      e.preventDefault();
      void download(a);
    });
  $('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    void load();
  });
  $('logout').addEventListener('click', () => void api.logout().finally(() => signedOut(null)));
  if (api.signedIn) void load();
}

start();
