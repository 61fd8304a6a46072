/**
 * The board as the page shows it: each section of a `GET /api/board` answer turned into rows
 * of text cells (pt-BR), each cell named by its field (the DOM's data-field) and each row by
 * a stable key (its data-testid), with the highlights a supervisor must not miss. Pure: the
 * same answer and the seconds since it arrived always give the same view, so the page can
 * redraw every second (the clocks tick between polls) and the unit tests read it as data.
 */
import type { BoardResponse } from '../../lib/domain/board';
import {
  AGENT_STATUS,
  CALL_STATUS,
  CAMPAIGN_MODE,
  CAMPAIGN_STATUS,
  NONE,
  SEVERITY_LABEL,
  agoText,
  formatAmdMix,
  formatClock,
  formatDec1,
  formatDec2,
  formatInt,
  formatPercent,
  formatPhone,
  formatTimeSP,
  label,
  num,
} from './format';

export type Level = 'warn' | 'alert' | null;

export interface Cell {
  field: string;
  text: string;
  level?: Level;
  /** A longer explanation (the cell's tooltip). */
  title?: string;
}

export interface Row {
  /** Stable across polls: the DOM row is updated in place (focus and inputs survive). */
  key: string;
  level: Level;
  cells: Cell[];
  /** The board's own record, for the row's actions. */
  data: Record<string, unknown>;
}

export interface AnatelView {
  /** The thresholds line, or null when no monitor answers (`anatel` null). */
  summary: string | null;
  rows: Row[];
}

export interface BoardView {
  totals: Cell[];
  agents: Row[];
  calls: Row[];
  queues: Row[];
  campaigns: Row[];
  callerIds: Row[];
  anatel: AnatelView;
  alerts: Row[];
}

/** When the page highlights: an agent available (idle) or paused or in wrap-up this long, a caller waiting this long. */
export const LIMITS = {
  idleWarnSeconds: 5 * 60,
  pauseWarnSeconds: 15 * 60,
  wrapUpWarnSeconds: 3 * 60,
  waitWarnSeconds: 60,
  waitAlertSeconds: 3 * 60,
  /** An abandon rate at this share of its cap is near it. */
  abandonNearShare: 0.8,
  /** A caller ID at this share of its daily cap is near it. */
  capNearShare: 0.9,
} as const;

/** The columns of each table: [field, header]. The view's cells come in this order. */
export const COLUMNS = {
  agents: [
    ['name', 'Agente'],
    ['status', 'Estado'],
    ['seconds_in_state', 'Tempo no estado'],
    ['pause_reason', 'Motivo da pausa'],
    ['campaign', 'Campanha'],
    ['customer', 'Cliente'],
  ],
  calls: [
    ['campaign', 'Campanha'],
    ['agent', 'Agente'],
    ['customer', 'Cliente'],
    ['status', 'Situação'],
    ['seconds', 'Duração'],
    ['recording', 'Gravação'],
  ],
  queues: [
    ['name', 'Fila'],
    ['waiting', 'Aguardando'],
    ['longest_wait', 'Maior espera'],
    ['service_level_today', 'Nível de serviço hoje'],
    ['answered_today', 'Atendidas hoje'],
    ['abandoned_today', 'Abandonadas hoje'],
  ],
  campaigns: [
    ['name', 'Campanha'],
    ['mode', 'Modo'],
    ['status', 'Situação'],
    ['dial_level', 'Nível de discagem'],
    ['lines_in_use', 'Linhas em uso'],
    ['agents_staffed', 'Agentes'],
    ['calls_last_hour', 'Ligações (1 h)'],
    ['connects_last_hour', 'Conexões (1 h)'],
    ['talk_minutes_per_agent_hour', 'Min. falados por agente-hora'],
    ['abandon_rate_today', 'Abandono hoje'],
    ['abandon_cap', 'Limite'],
    ['abandon_rate_with_amd_today', 'Abandono com estimativa AMD'],
    ['amd_estimated_abandons_today', 'Estimativa AMD (abandonos)'],
    ['amd_today', 'AMD hoje'],
  ],
  callerIds: [
    ['phone_number', 'Número'],
    ['calls_today', 'Ligações hoje'],
    ['daily_cap', 'Limite diário'],
    ['cap_use', 'Uso do limite'],
    ['ended_today', 'Encerradas hoje'],
    ['short_today', 'Curtas hoje'],
    ['short_ratio_today', '% curtas'],
    ['spam_flagged', 'Spam'],
  ],
  anatel: [
    ['subject', 'Origem'],
    ['calls_today', 'Ligações hoje'],
    ['short_today', 'Curtas hoje'],
    ['short_ratio', '% curtas'],
    ['projected_calls', 'Projeção de ligações'],
    ['projected_short', 'Projeção de curtas'],
    ['projected_ratio', 'Projeção % curtas'],
    ['state', 'Situação'],
  ],
  alerts: [
    ['severity', 'Gravidade'],
    ['title', 'Alerta'],
    ['subject', 'Sobre'],
    ['opened_at', 'Desde'],
  ],
} as const satisfies Record<string, readonly (readonly [string, string])[]>;

const worst = (...levels: Level[]): Level => (levels.includes('alert') ? 'alert' : levels.includes('warn') ? 'warn' : null);

const text = (v: unknown): string => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : NONE);

/** The highlight of a time in a state: idle (available), paused and wrap-up too long warn; twice as long alerts. */
export function stateLevel(status: unknown, seconds: number): Level {
  const limit =
    status === 'available' ? LIMITS.idleWarnSeconds : status === 'paused' ? LIMITS.pauseWarnSeconds : status === 'wrap_up' ? LIMITS.wrapUpWarnSeconds : null;
  if (limit === null || seconds < limit) return null;
  return seconds >= 2 * limit ? 'alert' : 'warn';
}

/** A caller waiting this long: warn, then alert. */
export function waitLevel(seconds: number): Level {
  return seconds >= LIMITS.waitAlertSeconds ? 'alert' : seconds >= LIMITS.waitWarnSeconds ? 'warn' : null;
}

/** An abandon rate against its cap: at the cap or over alerts, near it (80 %) warns. */
export function abandonLevel(rate: unknown, cap: unknown): Level {
  const r = num(rate);
  const c = num(cap);
  if (r === null || c === null || c <= 0) return null;
  if (r >= c) return 'alert';
  return r >= c * LIMITS.abandonNearShare ? 'warn' : null;
}

/** Today's picks of a caller ID against its cap. */
export function capLevel(calls: unknown, cap: unknown): Level {
  const n = num(calls);
  const c = num(cap);
  if (n === null || c === null || c <= 0) return null;
  if (n >= c) return 'alert';
  return n >= c * LIMITS.capNearShare ? 'warn' : null;
}

function agentRows(board: BoardResponse, elapsed: number): Row[] {
  return board.agents.map((a) => {
    const secs = (num(a['seconds_in_state']) ?? 0) + elapsed;
    const lvl = stateLevel(a['status'], secs);
    const call = a['call'] as { customer?: unknown } | null | undefined;
    return {
      key: `agent-${text(a['id'])}`,
      level: lvl,
      data: a,
      cells: [
        { field: 'name', text: text(a['name']) },
        { field: 'status', text: label(AGENT_STATUS, a['status']), level: a['status'] === 'paused' ? 'warn' : null },
        { field: 'seconds_in_state', text: formatClock(secs), level: lvl },
        { field: 'pause_reason', text: a['status'] === 'paused' ? text(a['pause_reason']) : NONE },
        { field: 'campaign', text: text(a['campaign']) },
        { field: 'customer', text: call ? formatPhone(call.customer) : NONE },
      ],
    };
  });
}

function callRows(board: BoardResponse, elapsed: number): Row[] {
  return board.calls.map((c) => {
    const campaign = c['campaign'] ?? (c['direction'] === 'inbound' ? 'Receptiva' : null);
    return {
      key: `call-${text(c['call_sid'])}`,
      level: null,
      data: c,
      cells: [
        { field: 'campaign', text: text(campaign) },
        { field: 'agent', text: text(c['agent']) },
        { field: 'customer', text: formatPhone(c['customer']) },
        { field: 'status', text: label(CALL_STATUS, c['status']) },
        { field: 'seconds', text: formatClock((num(c['seconds']) ?? 0) + elapsed) },
        { field: 'recording', text: c['recording'] === true ? 'Gravando' : 'Não' },
      ],
    };
  });
}

function queueRows(board: BoardResponse, elapsed: number): Row[] {
  return board.queues.map((q) => {
    const waiting = num(q['waiting']) ?? 0;
    const longest = waiting > 0 ? (num(q['longest_wait_seconds']) ?? 0) + elapsed : 0;
    const lvl = waiting > 0 ? waitLevel(longest) : null;
    return {
      key: `queue-${text(q['name'])}`,
      level: lvl,
      data: q,
      cells: [
        { field: 'name', text: text(q['name']) },
        { field: 'waiting', text: formatInt(waiting), level: waiting > 0 ? 'warn' : null },
        { field: 'longest_wait', text: formatClock(longest), level: lvl },
        {
          field: 'service_level_today',
          text: formatPercent(q['service_level_today']),
          title: `Atendidas em até ${formatInt(q['service_level_seconds'])} s: ${formatInt(q['answered_in_level_today'])} de ${formatInt(q['entered_today'])} que entraram hoje`,
        },
        { field: 'answered_today', text: formatInt(q['answered_today']) },
        { field: 'abandoned_today', text: formatInt(q['abandoned_today']) },
      ],
    };
  });
}

function campaignRows(board: BoardResponse): Row[] {
  return board.campaigns.map((k) => {
    const own = abandonLevel(k['abandon_rate_today'], k['abandon_cap']);
    const withAmd = abandonLevel(k['abandon_rate_with_amd_today'], k['abandon_cap']);
    const maxLines = num(k['max_lines']);
    return {
      key: `campaign-${text(k['id'])}`,
      level: worst(own, withAmd),
      data: k,
      cells: [
        { field: 'name', text: text(k['name']) },
        { field: 'mode', text: label(CAMPAIGN_MODE, k['mode']) },
        { field: 'status', text: label(CAMPAIGN_STATUS, k['status']), level: k['status'] === 'paused' ? 'warn' : null },
        { field: 'dial_level', text: formatDec2(k['dial_level']), title: `Linhas por agente; razão configurada: ${formatDec2(k['dial_ratio'])}` },
        { field: 'lines_in_use', text: formatInt(k['lines_in_use']), title: maxLines === null ? undefined : `Máximo de linhas: ${formatInt(maxLines)}` },
        { field: 'agents_staffed', text: formatInt(k['agents_staffed']) },
        { field: 'calls_last_hour', text: formatInt(k['calls_last_hour']) },
        { field: 'connects_last_hour', text: formatInt(k['connects_last_hour']) },
        { field: 'talk_minutes_per_agent_hour', text: formatDec1(k['talk_minutes_per_agent_hour']) },
        {
          field: 'abandon_rate_today',
          text: formatPercent(k['abandon_rate_today']),
          level: own,
          title: `${formatInt(k['abandoned_today'])} abandonadas de ${formatInt(k['live_today'])} atendidas por pessoas hoje`,
        },
        { field: 'abandon_cap', text: formatPercent(k['abandon_cap']) },
        { field: 'abandon_rate_with_amd_today', text: formatPercent(k['abandon_rate_with_amd_today']), level: withAmd, title: 'Contando como abandono as pessoas que o AMD deve ter desligado' },
        {
          field: 'amd_estimated_abandons_today',
          text: formatDec1(k['amd_estimated_abandons_today']),
          title: `Precisão do AMD com pessoas: ${formatPercent(k['amd_human_accuracy'])}`,
        },
        { field: 'amd_today', text: formatAmdMix(k['amd_today']) },
      ],
    };
  });
}

function callerIdRows(board: BoardResponse): Row[] {
  return board.caller_ids.map((n) => {
    const cap = capLevel(n['calls_today'], n['daily_cap']);
    const calls = num(n['calls_today']);
    const dailyCap = num(n['daily_cap']);
    const flagged = n['spam_flagged'] === true;
    return {
      key: `caller-${text(n['phone_number'])}`,
      level: worst(cap, flagged ? 'alert' : null),
      data: n,
      cells: [
        { field: 'phone_number', text: formatPhone(n['phone_number']) },
        { field: 'calls_today', text: formatInt(calls), level: cap },
        { field: 'daily_cap', text: formatInt(dailyCap) },
        { field: 'cap_use', text: calls !== null && dailyCap ? formatPercent(calls / dailyCap) : NONE, level: cap },
        { field: 'ended_today', text: formatInt(n['ended_today']) },
        { field: 'short_today', text: formatInt(n['short_today']) },
        { field: 'short_ratio_today', text: formatPercent(n['short_ratio_today']), title: `Encerradas com até ${formatInt(board.short_call_seconds)} s` },
        { field: 'spam_flagged', text: flagged ? 'Marcado' : 'Não', level: flagged ? 'alert' : null },
      ],
    };
  });
}

function anatelView(board: BoardResponse): AnatelView {
  const a = board.anatel;
  if (!a) return { summary: null, rows: [] };
  const row = (key: string, subject: string, f: Record<string, unknown>): Row => {
    const lvl: Level = f['over'] === true ? 'alert' : f['near'] === true ? 'warn' : null;
    return {
      key,
      level: lvl,
      data: f,
      cells: [
        { field: 'subject', text: subject },
        { field: 'calls_today', text: formatInt(f['calls_today']) },
        { field: 'short_today', text: formatInt(f['short_today']) },
        { field: 'short_ratio', text: formatPercent(f['short_ratio']) },
        { field: 'projected_calls', text: formatInt(f['projected_calls']) },
        { field: 'projected_short', text: formatInt(f['projected_short']) },
        { field: 'projected_ratio', text: formatPercent(f['projected_ratio']) },
        { field: 'state', text: lvl === 'alert' ? 'Acima do limite' : lvl === 'warn' ? 'Perto do limite' : 'Normal', level: lvl },
      ],
    };
  };
  const rows = [row('anatel-account', 'Conta (todos os números)', (a.account ?? {}) as unknown as Record<string, unknown>)];
  for (const c of a.caller_ids ?? []) rows.push(row(`anatel-${c.caller_id}`, formatPhone(c.caller_id), c as unknown as Record<string, unknown>));
  const summary =
    `Curtas: até ${formatInt(a.short_call_seconds)} s. Bloqueio a partir de ${formatInt(a.daily_calls_threshold)} ligações/dia ` +
    `com ${formatDec1(a.short_percent_threshold)}% curtas; "perto" a ${formatDec1(a.near_percent)}% desses limites.`;
  return { summary, rows };
}

function alertRows(board: BoardResponse, nowMs: number): Row[] {
  return (board.alerts ?? []).map((al) => {
    const opened = Date.parse(String(al.opened_at));
    const lvl: Level = al.severity === 'critical' ? 'alert' : 'warn';
    return {
      key: `alert-${text(al.id)}`,
      level: lvl,
      data: al,
      cells: [
        { field: 'severity', text: label(SEVERITY_LABEL, al.severity), level: lvl },
        { field: 'title', text: text(al.title) },
        { field: 'subject', text: text(al.subject_label || al.subject) },
        {
          field: 'opened_at',
          text: Number.isNaN(opened) ? NONE : `${formatTimeSP(al.opened_at, nowMs)} (${agoText((nowMs - opened) / 1000)})`,
        },
      ],
    };
  });
}

function totals(board: BoardResponse): Cell[] {
  const by = (s: string) => board.agents.filter((a) => a['status'] === s).length;
  const signedIn = board.agents.filter((a) => a['status'] !== 'offline').length;
  const waiting = board.queues.reduce((n, q) => n + (num(q['waiting']) ?? 0), 0);
  return [
    { field: 'signed_in', text: formatInt(signedIn), title: 'Agentes conectados' },
    { field: 'talking', text: formatInt(by('busy') + by('reserved')), title: 'Em ligação ou chamando' },
    { field: 'available', text: formatInt(by('available')), title: 'Disponíveis' },
    { field: 'paused', text: formatInt(by('paused')), title: 'Em pausa' },
    { field: 'calls', text: formatInt(board.calls.length), title: 'Ligações em andamento' },
    { field: 'waiting', text: formatInt(waiting), title: 'Clientes aguardando nas filas', level: waiting > 0 ? 'warn' : null },
    { field: 'alerts', text: formatInt((board.alerts ?? []).length), title: 'Alertas abertos', level: (board.alerts ?? []).length ? 'alert' : null },
  ];
}

/**
 * The board's view `elapsed` seconds after the answer arrived (clocks advance by it);
 * `nowMs` is the server's clock now (for "since when").
 */
export function boardView(board: BoardResponse, elapsed: number, nowMs: number): BoardView {
  const e = Math.max(0, elapsed);
  return {
    totals: totals(board),
    agents: agentRows(board, e),
    calls: callRows(board, e),
    queues: queueRows(board, e),
    campaigns: campaignRows(board),
    callerIds: callerIdRows(board),
    anatel: anatelView(board),
    alerts: alertRows(board, nowMs),
  };
}
