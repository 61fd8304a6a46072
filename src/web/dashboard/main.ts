/**
 * The supervisor's live board: sign-in (supervisor and admin sessions; an agent session is
 * told the page is restricted), one GET /api/board poll at a time every 2 s (backing off and
 * saying so while it fails, the last board kept on screen), the board drawn from view.ts
 * (clocks ticking every second between polls), and the supervisor's actions on calls
 * (listen, whisper, barge through ./monitor, heard in this browser through the softphone
 * the agent page uses, or on a phone the supervisor types), agents (force a pause, sign out)
 * and campaigns (pause, resume, mode, ratio).
 */
import { Api, ApiError } from '../agent/api';
import type { BoardResponse } from '../../lib/domain/board';
import { CAMPAIGN_MODE, actionErrorText, agoText, formatPhone, label } from './format';
import { deviceFactory, type SoftDevice } from '../agent/softphone';
import type { MeReply } from '../agent/types';
import { micErrorText } from '../agent/mic';
import { MicrophoneError, audioSetupErrorText, monitorPhone } from './audio';
import { createMonitor, type Monitor, type MonitorMode } from './monitor';
import { Poller, backoffMs } from './poller';
import { SignInForm } from '../shared/sign-in';
import { COLUMNS, boardView, type Cell, type Row } from './view';

/** How often the board is polled while polls succeed. */
const POLL_MS = 2000;
/** The longest wait between polls while they fail. */
const MAX_BACKOFF_MS = 8000;
/** A poll not answered by then is abandoned (and counts as a failure). */
const POLL_TIMEOUT_MS = 5000;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

const api = new Api();
/** The signed-in user as /api/me answered (the softphone to load comes from it). */
let me: MeReply | null = null;
/** Where the monitoring in progress is heard; null while there is none. */
let audio: { phone: string | null; connected: boolean } | null = null;
/** The Devices this session's monitor made: destroyed at sign-out (a Device is one supervisor's identity). */
let devices: SoftDevice[] = [];
/** The microphone opened once already (the browser keeps the permission for the page). */
let micChecked = false;
/** The phone the next start rings, or null for the browser (read by the monitor at each start). */
let startPhone: string | null = null;
/** Set once a start's POST has been sent: a failure before it is the browser audio's, not the server's. */
let startPosted = false;
/** The page itself is starting or stopping a monitoring (an end nobody asked for is announced). */
let monitorBusy = false;
let monitor: Monitor = makeMonitor();
let pauseReasons: string[] = [];
let board: BoardResponse | null = null;
/** When the shown board arrived (this browser's clock) and the server's clock minus ours. */
let receivedAt = 0;
let clockOffsetMs = 0;
let failures = 0;
let lastError = '';
let retryAt = 0;
let tickTimer: number | undefined;
/** The next try of the page's first /api/me after it failed (the token kept). */
let enterTimer: number | undefined;

const MONITOR_LABEL: Record<MonitorMode, string> = { listen: 'Ouvir', whisper: 'Sussurrar', barge: 'Entrar na ligação' };

const poller = new Poller<BoardResponse>({
  fetch: (signal) => api.request<BoardResponse>('GET', '/api/board', undefined, signal),
  onData: (b) => {
    board = b;
    receivedAt = Date.now();
    clockOffsetMs = Date.parse(b.server_time) - receivedAt || 0;
    failures = 0;
    lastError = '';
    render();
  },
  onError: (e, n, retryInMs) => {
    if (e instanceof ApiError && e.code === 'forbidden_role') {
      restricted();
      return false;
    }
    if (e instanceof ApiError && (e.code === 'unauthenticated' || e.code === 'session_expired')) {
      signedOut('Sua sessão expirou. Entre novamente.');
      return false;
    }
    failures = n;
    lastError = e instanceof ApiError ? actionErrorText(e.status, e.code, e.code === 'network' ? '' : e.message) : 'Erro inesperado.';
    retryAt = Date.now() + retryInMs;
    renderStatus();
    return true;
  },
  intervalMs: POLL_MS,
  maxBackoffMs: MAX_BACKOFF_MS,
  timeoutMs: POLL_TIMEOUT_MS,
});

// ---------------------------------------------------------------- small helpers

function announce(text: string): void {
  const el = $('events');
  el.textContent = '';
  window.setTimeout(() => (el.textContent = text), 30);
}

function showText(id: string, text: string | null): void {
  const el = $(id);
  el.textContent = text ?? '';
  el.hidden = !text;
}

/** An error whose message is already the sentence to show. */
class Shown extends Error {}

function describe(e: unknown): string {
  if (e instanceof Shown) return e.message;
  if (e instanceof ApiError) return actionErrorText(e.status, e.code, e.message);
  return e instanceof Error && e.message ? `Erro: ${e.message}` : 'Erro inesperado.';
}

let okTimer: number | undefined;

/** Runs a supervisor action from a button: disabled meanwhile, the API's refusal shown, the board refreshed after. */
async function act(button: HTMLButtonElement | null, done: string, fn: () => Promise<unknown>): Promise<void> {
  if (button) button.disabled = true;
  showText('action-error', null);
  try {
    await fn();
    showText('action-ok', done);
    announce(done);
    window.clearTimeout(okTimer);
    okTimer = window.setTimeout(() => showText('action-ok', null), 5000);
  } catch (e) {
    if (e instanceof ApiError && (e.code === 'unauthenticated' || e.code === 'session_expired')) return signedOut(describe(e));
    showText('action-ok', null);
    showText('action-error', describe(e));
    announce(describe(e));
  } finally {
    if (button) button.disabled = false;
    poller.pollNow();
    render();
  }
}

/** Asks before an action that changes the floor; resolves with the chosen pause reason (or '' without one), or null when cancelled. */
function confirmAction(title: string, text: string, opts: { reasons?: string[]; ok?: string } = {}): Promise<string | null> {
  const dialog = $<HTMLDialogElement>('confirm');
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = opts.ok ?? 'Confirmar';
  const box = $('confirm-reason-box');
  const select = $<HTMLSelectElement>('confirm-reason');
  box.hidden = !opts.reasons;
  if (opts.reasons) select.replaceChildren(...opts.reasons.map((r) => new Option(r, r)));
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok' ? (opts.reasons ? select.value : '') : null), { once: true });
    dialog.showModal();
    (opts.reasons ? select : $('confirm-cancel')).focus();
  });
}

function button(text: string, cls: string, action: string, onClick: (b: HTMLButtonElement) => void): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = cls;
  b.dataset['action'] = action;
  b.addEventListener('click', () => onClick(b));
  return b;
}

// ---------------------------------------------------------------- drawing

/** Row keys → the function that refreshes that row's action controls from its latest data. */
const actionUpdaters = new WeakMap<HTMLTableRowElement, (data: Record<string, unknown>) => void>();

type Section = keyof typeof COLUMNS;

/** Builds a row's action controls (once) and returns how to refresh them; null: the section has no actions. */
function actionsFor(section: Section, cell: HTMLElement): ((data: Record<string, unknown>) => void) | null {
  if (section === 'calls') return callActions(cell);
  if (section === 'agents') return agentActions(cell);
  if (section === 'campaigns') return campaignActions(cell);
  return null;
}

function setCell(td: HTMLTableCellElement, c: Cell): void {
  if (td.textContent !== c.text) td.textContent = c.text;
  const cls = c.level ? `lvl-${c.level}` : '';
  if (td.className !== cls) td.className = cls;
  if (c.title) td.title = c.title;
  else td.removeAttribute('title');
}

/**
 * Draws one table's rows, keyed: an existing row's cells get new text in place (its buttons,
 * select and inputs, and the focus, survive), new rows are added, gone rows removed, order
 * follows the board's.
 */
function drawTable(section: Section, rows: Row[]): void {
  const table = document.querySelector<HTMLTableElement>(`table[data-section="${section}"]`)!;
  const hasActions = section === 'calls' || section === 'agents' || section === 'campaigns';
  const thead = table.tHead!;
  if (!thead.rows.length) {
    const tr = thead.insertRow();
    for (const [field, text] of COLUMNS[section]) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = text;
      th.dataset['field'] = field;
      tr.append(th);
    }
    if (hasActions) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = 'Ações';
      tr.append(th);
    }
  }
  const tbody = table.tBodies[0]!;
  const existing = new Map<string, HTMLTableRowElement>();
  for (const tr of [...tbody.rows]) existing.set(tr.dataset['testid'] ?? '', tr);
  let prev: HTMLTableRowElement | null = null;
  for (const row of rows) {
    let tr = existing.get(row.key);
    if (tr) existing.delete(row.key);
    else {
      tr = document.createElement('tr');
      tr.dataset['testid'] = row.key;
      for (const c of row.cells) {
        const td = document.createElement('td');
        td.dataset['field'] = c.field;
        tr.append(td);
      }
      if (hasActions) {
        const td = document.createElement('td');
        const box = document.createElement('div');
        box.className = 'actions';
        td.append(box);
        tr.append(td);
        const update = actionsFor(section, box);
        if (update) actionUpdaters.set(tr, update);
      }
    }
    row.cells.forEach((c, i) => setCell(tr!.cells[i]!, c));
    const cls = row.level ? `lvl-${row.level}` : '';
    if (tr.className !== cls) tr.className = cls;
    actionUpdaters.get(tr)?.(row.data);
    const want: ChildNode | null = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== tr) tbody.insertBefore(tr, want);
    prev = tr;
  }
  for (const tr of existing.values()) tr.remove();
  const empty = document.querySelector<HTMLElement>(`[data-empty="${section}"]`);
  if (empty) empty.hidden = rows.length > 0;
  table.hidden = rows.length === 0;
}

function drawTotals(cells: Cell[]): void {
  const ul = $('totals');
  if (!ul.children.length) {
    for (const c of cells) {
      const li = document.createElement('li');
      li.dataset['field'] = c.field;
      const n = document.createElement('strong');
      const t = document.createElement('span');
      t.textContent = c.title ?? c.field;
      li.append(n, t);
      ul.append(li);
    }
  }
  cells.forEach((c, i) => {
    const li = ul.children[i] as HTMLElement;
    const n = li.firstElementChild as HTMLElement;
    if (n.textContent !== c.text) n.textContent = c.text;
    li.className = c.level ? `lvl-${c.level}` : '';
  });
}

const serverNow = () => Date.now() + clockOffsetMs;

function render(): void {
  renderStatus();
  if (!board) return;
  const v = boardView(board, (Date.now() - receivedAt) / 1000, serverNow());
  $('loading').hidden = true;
  $('board-body').hidden = false;
  drawTotals(v.totals);
  drawTable('alerts', v.alerts);
  drawTable('agents', v.agents);
  drawTable('calls', v.calls);
  drawTable('queues', v.queues);
  drawTable('campaigns', v.campaigns);
  drawTable('callerIds', v.callerIds);
  drawTable('anatel', v.anatel.rows);
  showText('anatel-summary', v.anatel.summary);
  renderMonitor();
  endMonitorOfEndedCall();
}

/**
 * A monitored call that left the board has ended: the monitoring ends on the page too (a phone
 * leg sends the page nothing; the server has taken the supervisor out already, and a stop of a
 * monitoring that is over asks nothing of Twilio).
 */
function endMonitorOfEndedCall(): void {
  const s = monitor.state;
  if (!s || monitorBusy || !board || board.calls.some((c) => c['call_sid'] === s.call_sid)) return;
  const text = 'Monitoria encerrada: a ligação terminou.';
  void stopMonitor().then(
    () => {
      showText('action-ok', text);
      announce(text);
    },
    () => undefined,
  );
}

/** "atualizado há N s" and, while polls fail, the banner saying the board is stale. */
function renderStatus(): void {
  const updated = $('updated');
  const banner = $('stale');
  if (board) {
    updated.hidden = false;
    updated.textContent = `atualizado ${agoText((Date.now() - receivedAt) / 1000)}`;
  }
  if (failures > 0) {
    const retry = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    const when = retry > 0 ? `nova tentativa em ${retry} s` : 'tentando de novo agora';
    banner.textContent = board
      ? `Painel desatualizado: sem resposta do servidor ${agoText((Date.now() - receivedAt) / 1000)}. ${lastError} (${when})`
      : `Não foi possível carregar o painel. ${lastError} (${when})`;
    banner.hidden = false;
    updated.classList.add('stale');
    $('loading').textContent = 'Sem conexão com o servidor.';
  } else {
    banner.hidden = true;
    updated.classList.remove('stale');
  }
}

// ---------------------------------------------------------------- actions

function callActions(td: HTMLElement): (data: Record<string, unknown>) => void {
  let sid = '';
  const start = (mode: MonitorMode, b: HTMLButtonElement) =>
    void (async () => {
      const via = audioChoice();
      if (via === undefined) return;
      if (mode === 'barge' && (await confirmAction('Entrar na ligação?', 'O cliente e o agente vão ouvir você.', { ok: 'Entrar' })) === null) return;
      if (monitor.state) await act(b, 'Monitoria anterior encerrada.', () => stopMonitor());
      const where = via ? `; o telefone ${formatPhone(via)} vai tocar` : ' (áudio no navegador)';
      await act(b, `Monitoria iniciada: ${MONITOR_LABEL[mode]}${where}.`, () => startMonitor(sid, mode, via));
    })();
  const listen = button('Ouvir', 'secondary small', 'listen', (b) => start('listen', b));
  const whisper = button('Sussurrar', 'secondary small', 'whisper', (b) => start('whisper', b));
  const barge = button('Entrar na ligação', 'secondary small', 'barge', (b) => start('barge', b));
  const watching = document.createElement('span');
  watching.className = 'tag';
  watching.textContent = 'Monitorando';
  td.append(listen, whisper, barge, watching);
  return (data) => {
    sid = String(data['call_sid'] ?? '');
    const mine = monitor.state?.call_sid === sid;
    const hasAgent = data['agent_id'] !== null && data['agent_id'] !== undefined;
    for (const b of [listen, whisper, barge]) {
      b.hidden = mine;
      // Only an agent's call can be monitored (the API answers no_agent otherwise).
      b.disabled = !hasAgent;
    }
    watching.hidden = !mine;
  };
}

function agentActions(td: HTMLElement): (data: Record<string, unknown>) => void {
  let agent: Record<string, unknown> = {};
  const name = () => String(agent['name'] ?? 'o agente');
  const pause = button('Forçar pausa', 'secondary small', 'force-pause', (b) =>
    void (async () => {
      const reason = await confirmAction(`Forçar pausa de ${name()}?`, 'O agente deixa de receber ligações até sair da pausa.', { reasons: pauseReasons, ok: 'Pausar agente' });
      if (reason === null) return;
      await act(b, `${name()} foi colocado em pausa.`, () =>
        api.request('POST', '/api/supervisor/agent', { agent_id: agent['id'], status: 'paused', ...(reason ? { reason } : {}) }),
      );
    })(),
  );
  const out = button('Deslogar', 'danger small', 'force-offline', (b) =>
    void (async () => {
      if ((await confirmAction(`Deslogar ${name()}?`, 'O agente fica offline e deixa de receber ligações.', { ok: 'Deslogar' })) === null) return;
      await act(b, `${name()} foi deslogado.`, () => api.request('POST', '/api/supervisor/agent', { agent_id: agent['id'], status: 'offline' }));
    })(),
  );
  td.append(pause, out);
  return (data) => {
    agent = data;
    pause.disabled = data['status'] === 'paused' || data['status'] === 'offline';
    out.disabled = data['status'] === 'offline';
  };
}

function campaignActions(td: HTMLElement): (data: Record<string, unknown>) => void {
  let k: Record<string, unknown> = {};
  const name = () => String(k['name'] ?? 'a campanha');
  const toggle = button('Pausar', 'secondary small', 'campaign-toggle', (b) =>
    void (async () => {
      if (k['status'] === 'paused') {
        await act(b, `${name()} retomada.`, () => api.request('POST', '/api/supervisor/campaign', { campaign_id: k['id'], status: 'running' }));
        return;
      }
      if ((await confirmAction(`Pausar ${name()}?`, 'A campanha para de discar; as ligações em andamento continuam.', { ok: 'Pausar' })) === null) return;
      await act(b, `${name()} pausada.`, () => api.request('POST', '/api/supervisor/campaign', { campaign_id: k['id'], status: 'paused' }));
    })(),
  );
  const mode = document.createElement('select');
  mode.dataset['action'] = 'campaign-mode';
  mode.setAttribute('aria-label', 'Modo');
  for (const [value, text] of Object.entries(CAMPAIGN_MODE)) mode.append(new Option(text, value));
  const ratio = document.createElement('input');
  ratio.type = 'number';
  ratio.min = '1';
  ratio.max = '10';
  ratio.step = '0.1';
  ratio.dataset['action'] = 'campaign-ratio';
  ratio.setAttribute('aria-label', 'Razão de discagem (linhas por agente)');
  ratio.className = 'ratio';
  // What the controls were last set to from the board: a control the supervisor changed is left alone.
  let shownMode = '';
  let shownRatio = '';
  const apply = button('Aplicar', 'small', 'campaign-apply', (b) =>
    void (async () => {
      const body: Record<string, unknown> = { campaign_id: k['id'] };
      if (mode.value !== String(k['mode'])) body['mode'] = mode.value;
      const r = Number(ratio.value.replace(',', '.'));
      if (ratio.value !== shownRatio) {
        if (!Number.isFinite(r) || r < 1 || r > 10) {
          showText('action-error', 'Razão inválida: use um número de 1 a 10.');
          ratio.focus();
          return;
        }
        body['dial_ratio'] = r;
      }
      if (Object.keys(body).length === 1) {
        showText('action-error', 'Nada mudou: escolha outro modo ou outra razão.');
        return;
      }
      if (body['mode'] && (await confirmAction(`Mudar o modo de ${name()}?`, `Novo modo: ${label(CAMPAIGN_MODE, body['mode'])}.`, { ok: 'Mudar' })) === null) return;
      await act(b, `${name()} atualizada.`, async () => {
        await api.request('POST', '/api/supervisor/campaign', body);
        shownMode = '';
        shownRatio = '';
      });
    })(),
  );
  td.classList.add('wrap');
  td.append(mode, ratio, apply, toggle);
  return (data) => {
    k = data;
    toggle.textContent = data['status'] === 'paused' ? 'Retomar' : 'Pausar';
    toggle.disabled = data['status'] !== 'paused' && data['status'] !== 'active' && data['status'] !== 'running';
    const m = String(data['mode'] ?? '');
    if (mode.value === shownMode || !shownMode) {
      mode.value = m;
      shownMode = m;
    }
    const r = data['dial_ratio'] === null || data['dial_ratio'] === undefined ? '' : String(Number(data['dial_ratio']));
    if (document.activeElement !== ratio && (ratio.value === shownRatio || !shownRatio)) {
      ratio.value = r;
      shownRatio = r;
    }
  };
}

/** The bar of the monitoring in progress: which call, which mode, switch, leave. */
function renderMonitor(): void {
  const s = monitor.state;
  const bar = $('monitor-bar');
  bar.hidden = !s;
  if (!s) return;
  const call = board?.calls.find((c) => c['call_sid'] === s.call_sid);
  const who = call ? `${String(call['agent'] ?? 'agente')} com ${formatPhone(call['customer'])}` : 'ligação encerrada';
  $('monitor-text').textContent = `Monitorando (${MONITOR_LABEL[s.mode]}): ${who}`;
  const heard = !audio ? '' : audio.phone ? `Áudio: no telefone ${formatPhone(audio.phone)}` : audio.connected ? 'Áudio: no navegador' : 'Áudio: conectando ao navegador…';
  if ($('monitor-audio').textContent !== heard) $('monitor-audio').textContent = heard;
  for (const b of bar.querySelectorAll<HTMLButtonElement>('[data-monitor-mode]')) b.setAttribute('aria-pressed', String(b.dataset['monitorMode'] === s.mode));
}

function wireMonitorBar(): void {
  for (const b of $('monitor-bar').querySelectorAll<HTMLButtonElement>('[data-monitor-mode]')) {
    b.addEventListener('click', () =>
      void (async () => {
        const mode = b.dataset['monitorMode'] as MonitorMode;
        if (monitor.state?.mode === mode) return;
        if (mode === 'barge' && (await confirmAction('Entrar na ligação?', 'O cliente e o agente vão ouvir você.', { ok: 'Entrar' })) === null) return;
        await act(b, `Modo da monitoria: ${MONITOR_LABEL[mode]}.`, () => monitor.setMode(mode));
      })(),
    );
  }
  $('monitor-stop').addEventListener('click', () => void act($<HTMLButtonElement>('monitor-stop'), 'Monitoria encerrada.', () => stopMonitor()));
  const phone = $<HTMLInputElement>('monitor-phone');
  for (const r of document.querySelectorAll<HTMLInputElement>('input[name="monitor-via"]')) {
    r.addEventListener('change', () => {
      phone.hidden = !$<HTMLInputElement>('monitor-via-phone').checked;
      if (!phone.hidden) phone.focus();
    });
  }
}

// ---------------------------------------------------------------- the monitoring's audio

/**
 * A monitor for this session: the supervisor's audio in this browser through the softphone
 * /api/me names (the Voice SDK, or the local stack's stand-in), registered on the first start
 * (a supervisor who only watches the board is never asked for the microphone), or on a phone.
 */
function makeMonitor(): Monitor {
  const m = createMonitor(
    {
      post: <T>(path: string, body: unknown) => {
        if (path === '/api/supervisor/monitor') startPosted = true;
        return api.request<T>('POST', path, body);
      },
    },
    {
      deviceFactory: async () => {
        if (!me) throw new Error('sem sessão');
        const make = await deviceFactory(me.softphone);
        return (token: string) => {
          const d = make(token);
          devices.push(d);
          return d;
        };
      },
      voiceToken: () => api.voiceToken(),
      phone: () => startPhone,
      onError: (message) => {
        const text = `Monitoria: ${message}.`;
        showText('action-ok', null);
        showText('action-error', text);
        announce(text);
      },
    },
  );
  m.onChange((s) => {
    if (!s && audio && !monitorBusy && m === monitor) {
      // The leg ended without the page asking: the customer left, or the audio dropped.
      const text = 'Monitoria encerrada: a ligação terminou ou o áudio caiu.';
      showText('action-ok', text);
      announce(text);
    }
    if (!s) audio = null;
    if (m === monitor) render();
  });
  return m;
}

/**
 * The phone chosen for the next monitoring (E.164), null for the browser, or undefined (the
 * error shown, nothing sent) when "telefone" is chosen with a number that is not one.
 */
function audioChoice(): string | null | undefined {
  if (!$<HTMLInputElement>('monitor-via-phone').checked) return null;
  const input = $<HTMLInputElement>('monitor-phone');
  const phone = monitorPhone(input.value);
  if (!phone) {
    showText('action-ok', null);
    showText('action-error', 'Telefone inválido para a monitoria: informe DDD e número, por exemplo (11) 91234-5678.');
    input.focus();
    return undefined;
  }
  return phone;
}

/**
 * Opens the microphone once and closes it again, so the browser's permission prompt comes
 * before the Device is created (Twilio's advice for error 31401, "UserMedia Permission
 * Denied": twilio.com/docs/api/errors/31401). The Voice SDK's accept() opens the microphone
 * for every call it answers, listening included, so every browser monitoring needs it.
 */
async function ensureMicrophone(): Promise<void> {
  if (!navigator.mediaDevices?.getUserMedia) throw new MicrophoneError(micErrorText(null));
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  } catch (e) {
    throw new MicrophoneError(micErrorText(e));
  }
  for (const t of stream.getTracks()) t.stop();
}

/** Starts monitoring `callSid`: a failure before the server was asked is the browser audio's, said so. */
async function startMonitor(callSid: string, mode: MonitorMode, phone: string | null): Promise<void> {
  startPhone = phone;
  startPosted = false;
  monitorBusy = true;
  audio = { phone, connected: false };
  try {
    // The microphone first (the browser's prompt), before a token is asked for or a Device made.
    if (!phone && !micChecked) {
      await ensureMicrophone();
      micChecked = true;
    }
    await monitor.start(callSid, mode);
    if (monitor.state) audio = { phone, connected: true };
  } catch (e) {
    if (!monitor.state) audio = null;
    if (e instanceof ApiError && (e.code === 'unauthenticated' || e.code === 'session_expired')) throw e;
    if (!startPosted) throw new Shown(audioSetupErrorText(e));
    // The server refused (its own sentence), or the browser leg never arrived (the monitor stopped it).
    if (e instanceof ApiError) throw e;
    throw new Shown(`A monitoria não começou: ${e instanceof Error ? e.message : String(e)}.`);
  } finally {
    monitorBusy = false;
  }
}

async function stopMonitor(): Promise<void> {
  monitorBusy = true;
  try {
    await monitor.stop();
  } finally {
    monitorBusy = false;
  }
}

/** Sign-out: the monitoring ended, the Device gone, a new monitor for the next supervisor. */
async function resetMonitor(): Promise<void> {
  if (monitor.state) await stopMonitor().catch(() => undefined);
  for (const d of devices) {
    try {
      d.destroy();
    } catch {
      // A Device that failed half-way: nothing to release.
    }
  }
  devices = [];
  audio = null;
  monitor = makeMonitor();
}

// ---------------------------------------------------------------- sign-in and sign-out

function show(view: 'login' | 'board' | 'restricted'): void {
  $('login-view').hidden = view !== 'login';
  $('board-view').hidden = view !== 'board';
  $('restricted-view').hidden = view !== 'restricted';
  $('logout').hidden = view === 'login';
  $('user-name').hidden = view === 'login';
}

function stopPolling(): void {
  poller.stop();
  window.clearTimeout(enterTimer);
  enterTimer = undefined;
  window.clearInterval(tickTimer);
  tickTimer = undefined;
  board = null;
  failures = 0;
  // Nothing of this session's board stays on screen for the next one.
  $('board-body').hidden = true;
  for (const tbody of document.querySelectorAll('#board-body tbody')) tbody.replaceChildren();
  $('updated').hidden = true;
  $('stale').hidden = true;
}

/** Back to the sign-in form (session gone, or signed out). */
function signedOut(message: string | null): void {
  stopPolling();
  me = null;
  void resetMonitor();
  api.forget();
  show('login');
  signIn.reset(message);
  $('login-email').focus();
}

/** An agent session: nothing of the board, a clear message, a way to sign in with another account. */
function restricted(): void {
  stopPolling();
  show('restricted');
  announce('Acesso restrito a supervisores.');
}

async function enter(): Promise<void> {
  me = await api.me();
  window.clearTimeout(enterTimer);
  failures = 0;
  pauseReasons = me.pause_reasons;
  $('user-name').textContent = me.user.name;
  show('board');
  $('loading').hidden = false;
  $('loading').textContent = 'Carregando o painel…';
  poller.start();
  window.clearInterval(tickTimer);
  tickTimer = window.setInterval(render, 1000);
}

const signIn = new SignInForm({
  api,
  enter: () => enter(),
  describe: (e) => (e instanceof ApiError && e.code === 'invalid_credentials' ? 'E-mail ou senha incorretos.' : describe(e)),
});

/**
 * The page opened with a session kept in this tab: only a session the server refuses (401)
 * goes back to the form; any other failure (no network, a 503, a cold start) keeps the token,
 * says so on the stale banner and tries again with the poller's backoff.
 */
async function enterOnLoad(attempt = 1): Promise<void> {
  try {
    await enter();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return signedOut('Sua sessão expirou. Entre novamente.');
    const wait = backoffMs(attempt, POLL_MS, MAX_BACKOFF_MS);
    show('board');
    $('loading').hidden = false;
    failures = attempt;
    lastError = describe(e);
    retryAt = Date.now() + wait;
    window.clearInterval(tickTimer);
    tickTimer = window.setInterval(render, 1000);
    render();
    window.clearTimeout(enterTimer);
    enterTimer = window.setTimeout(() => void enterOnLoad(attempt + 1), wait);
  }
}

async function onLogout(): Promise<void> {
  await resetMonitor();
  await api.logout().catch(() => undefined);
  signedOut(null);
  announce('Você saiu.');
}

function init(): void {
  signIn.wire();
  $('logout').addEventListener('click', () => void onLogout());
  $('restricted-logout').addEventListener('click', () => void onLogout());
  wireMonitorBar();
  if (api.signedIn) {
    void enterOnLoad();
  } else {
    show('login');
  }
}

init();
