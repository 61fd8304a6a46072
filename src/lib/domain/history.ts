/**
 * History and charts (docs/history.md): the report history_report answers, the query the
 * history URLs take (dates read in São Paulo time), and the tables the page shows and the CSV
 * export writes, column by column. No Node imports: the history page bundles this file too.
 */

export type HistoryGroup = 'hour' | 'day';

/** The figures of one row (a time bucket, a campaign or an agent). */
export interface HistoryFigures {
  dials: number;
  connects: number;
  ended: number;
  short: number;
  short_ratio: number | null;
  live: number;
  abandoned: number;
  abandon_rate: number;
  amd_estimated_abandons: number;
  abandon_rate_with_amd: number;
  amd_total: number;
  amd_human: number;
  amd_machine: number;
  amd_machine_start: number;
  amd_machine_end_beep: number;
  amd_machine_end_silence: number;
  amd_machine_end_other: number;
  amd_fax: number;
  amd_unknown: number;
  talk_seconds: number;
  staffed_seconds: number;
  paused_seconds: number;
  talk_minutes_per_agent_hour: number | null;
  dispositions: number;
}

export interface HistoryBucket extends HistoryFigures {
  /** São Paulo's local start: "YYYY-MM-DD HH:MM" (hour) or "YYYY-MM-DD" (day). */
  bucket: string;
  start: string;
  end: string;
  queue_entered: number;
  queue_answered: number;
  queue_answered_in_level: number;
  queue_abandoned: number;
  queue_ended: number;
  queue_service_level: number | null;
}

export interface HistoryCampaign extends HistoryFigures {
  campaign_id: number | null;
  campaign: string | null;
  abandon_cap: number | null;
  amd_human_accuracy: number | null;
}

export interface HistoryAgent extends HistoryFigures {
  agent_id: number;
  agent: string;
  campaign_id: number | null;
}

export interface HistoryQueue {
  queue: string;
  service_level_seconds: number;
  entered: number;
  answered: number;
  answered_in_level: number;
  abandoned: number;
  voicemail: number;
  callback: number;
  timeout: number;
  opted_out: number;
  error: number;
  waiting: number;
  ended: number;
  service_level: number | null;
  avg_wait_seconds: number | null;
  max_wait_seconds: number | null;
}

/** GET /api/history's answer (history_report). */
export interface HistoryReport {
  server_time: string;
  from: string;
  to: string;
  group: HistoryGroup;
  timezone: string;
  campaign_id: number | null;
  agent_id: number | null;
  short_call_seconds: number;
  /** The strictest abandon cap of the campaigns shown (the selected one's when filtered). */
  abandon_cap: number | null;
  buckets: HistoryBucket[];
  campaigns: HistoryCampaign[];
  agents: HistoryAgent[];
  dispositions: { code: string; count: number; share: number | null }[];
  amd: { answered_by: string; count: number; share: number | null }[];
  queues: HistoryQueue[];
}

// ---------------------------------------------------------------------------------------
// The query

/** The longest range a report covers, and grouped by hour. */
export const MAX_RANGE_DAYS = 62;
export const MAX_HOUR_RANGE_DAYS = 7;

export interface HistoryQuery {
  /** Inclusive start and exclusive end, ISO instants. */
  from: string;
  to: string;
  group: HistoryGroup;
  campaignId: number | null;
  agentId: number | null;
  /** The dates as given (for a file name): "YYYY-MM-DD" of the first and the last day. */
  fromDay: string;
  toDay: string;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;
const DAY_MS = 86_400_000;
/** Brazil has kept no daylight saving since 2019: São Paulo is UTC−3 all year. */
const SAO_PAULO_OFFSET_MS = -3 * 3600_000;

/** São Paulo's calendar day of an instant, "YYYY-MM-DD". */
export function saoPauloDay(ms: number): string {
  return new Date(ms + SAO_PAULO_OFFSET_MS).toISOString().slice(0, 10);
}

/** The instant São Paulo's day starts (its midnight), or null for a day that does not exist. */
function dayStart(day: string): number | null {
  const m = DAY.exec(day);
  if (!m) return null;
  const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(utc) || new Date(utc).toISOString().slice(0, 10) !== day) return null;
  return utc - SAO_PAULO_OFFSET_MS;
}

export class HistoryQueryError extends Error {}

function positiveId(name: string, raw: unknown): number | null {
  if (raw === undefined || raw === null || raw === '') return null;
  if (typeof raw !== 'string' && typeof raw !== 'number') throw new HistoryQueryError(`${name} must be a number`);
  const s = String(raw).trim();
  if (!/^[1-9]\d{0,15}$/.test(s)) throw new HistoryQueryError(`${name} must be a positive whole number`);
  return Number(s);
}

/** One end of the range: a São Paulo day (its midnight; `to` the next midnight, so the day is in) or an instant with its offset. */
function edge(name: 'from' | 'to', raw: unknown): { ms: number; day: string } | null {
  if (raw === undefined || raw === null || raw === '') return null;
  if (typeof raw !== 'string') throw new HistoryQueryError(`${name} must be a date (YYYY-MM-DD) or an instant (ISO 8601 with offset)`);
  const s = raw.trim();
  if (DAY.test(s)) {
    const start = dayStart(s);
    if (start === null) throw new HistoryQueryError(`${name} is not a real date: ${s}`);
    return name === 'from' ? { ms: start, day: s } : { ms: start + DAY_MS, day: s };
  }
  if (INSTANT.test(s)) {
    const ms = Date.parse(s);
    if (!Number.isNaN(ms)) {
      // Date.parse rolls an impossible date over (02-30 → 03-02): the text's own date and
      // clock, read back at its own offset, must be what was written.
      const off = /(Z|[+-]\d{2}:\d{2})$/.exec(s)![1]!;
      const offMs = off === 'Z' ? 0 : (off[0] === '-' ? -1 : 1) * (Number(off.slice(1, 3)) * 3600_000 + Number(off.slice(4, 6)) * 60_000);
      if (new Date(ms + offMs).toISOString().slice(0, 16) !== s.slice(0, 16)) throw new HistoryQueryError(`${name} is not a real date and time: ${s.slice(0, 40)}`);
      return { ms, day: saoPauloDay(name === 'to' ? ms - 1 : ms) };
    }
  }
  throw new HistoryQueryError(`${name} must be a date (YYYY-MM-DD, São Paulo time) or an instant (ISO 8601 with offset): ${s.slice(0, 40)}`);
}

/**
 * Reads the query of /api/history and /api/history/export: from, to (YYYY-MM-DD in São Paulo
 * time, both days included; or instants, `to` excluded), group (hour | day; default day),
 * campaign_id, agent_id. Without dates: the last 7 days up to today (today alone by hour).
 * Throws HistoryQueryError with a message for a person.
 */
export function parseHistoryQuery(q: Record<string, unknown>, nowMs: number): HistoryQuery {
  const groupRaw = q['group'] === undefined || q['group'] === '' ? 'day' : q['group'];
  if (groupRaw !== 'hour' && groupRaw !== 'day') throw new HistoryQueryError('group must be hour or day');
  const group: HistoryGroup = groupRaw;
  const campaignId = positiveId('campaign_id', q['campaign_id']);
  const agentId = positiveId('agent_id', q['agent_id']);
  const today = saoPauloDay(nowMs);
  let to = edge('to', q['to']);
  let from = edge('from', q['from']);
  if (!to) to = { ms: dayStart(today)! + DAY_MS, day: today };
  if (!from) {
    const back = group === 'hour' ? 0 : 6;
    const lastDay = saoPauloDay(to.ms - 1);
    const ms = dayStart(lastDay)! - back * DAY_MS;
    from = { ms, day: saoPauloDay(ms) };
  }
  if (to.ms <= from.ms) throw new HistoryQueryError('the range must end after it starts (to before from)');
  if (to.ms - from.ms > MAX_RANGE_DAYS * DAY_MS) throw new HistoryQueryError(`the range can be at most ${MAX_RANGE_DAYS} days`);
  if (group === 'hour' && to.ms - from.ms > MAX_HOUR_RANGE_DAYS * DAY_MS)
    throw new HistoryQueryError(`grouped by hour, the range can be at most ${MAX_HOUR_RANGE_DAYS} days`);
  return {
    from: new Date(from.ms).toISOString(),
    to: new Date(to.ms).toISOString(),
    group,
    campaignId,
    agentId,
    fromDay: from.day,
    toDay: to.day,
  };
}

// ---------------------------------------------------------------------------------------
// The tables (page and CSV)

/** How a column's value is written: a count, a ratio (0-1, shown as %), a decimal, seconds, text. */
export type ColumnKind = 'int' | 'ratio' | 'decimal' | 'text';

export interface HistoryColumn {
  key: string;
  /** pt-BR header (the page's and the CSV's). */
  label: string;
  kind: ColumnKind;
}

const c = (key: string, label: string, kind: ColumnKind): HistoryColumn => ({ key, label, kind });

/** The figures every row has, in the order the tables show them. */
const FIGURES: HistoryColumn[] = [
  c('dials', 'discagens', 'int'),
  c('connects', 'conexões', 'int'),
  c('talk_seconds', 'fala (s)', 'int'),
  c('staffed_seconds', 'logado (s)', 'int'),
  c('paused_seconds', 'pausa (s)', 'int'),
  c('talk_minutes_per_agent_hour', 'fala (min) por agente-hora', 'decimal'),
  c('live', 'atendidas por pessoa', 'int'),
  c('abandoned', 'abandonos', 'int'),
  c('abandon_rate', 'taxa de abandono', 'ratio'),
  c('amd_estimated_abandons', 'abandonos estimados do AMD', 'decimal'),
  c('abandon_rate_with_amd', 'taxa de abandono com AMD', 'ratio'),
  c('amd_total', 'AMD total', 'int'),
  c('amd_human', 'AMD pessoa', 'int'),
  c('amd_machine', 'AMD máquina', 'int'),
  c('amd_fax', 'AMD fax', 'int'),
  c('amd_unknown', 'AMD indefinido', 'int'),
  c('ended', 'chamadas encerradas', 'int'),
  c('short', 'chamadas curtas', 'int'),
  c('short_ratio', 'taxa de curtas', 'ratio'),
  c('dispositions', 'tabulações', 'int'),
];

export const HISTORY_TABLES = {
  buckets: {
    file: 'periodos',
    title: 'Por período',
    rows: (r: HistoryReport) => r.buckets as unknown as Record<string, unknown>[],
    columns: [
      c('bucket', 'período', 'text'),
      ...FIGURES,
      c('queue_entered', 'fila: entradas', 'int'),
      c('queue_answered', 'fila: atendidas', 'int'),
      c('queue_answered_in_level', 'fila: atendidas no nível', 'int'),
      c('queue_abandoned', 'fila: abandonos', 'int'),
      c('queue_service_level', 'fila: nível de serviço', 'ratio'),
    ],
  },
  campaigns: {
    file: 'campanhas',
    title: 'Por campanha',
    rows: (r: HistoryReport) => r.campaigns as unknown as Record<string, unknown>[],
    columns: [c('campaign_id', 'id', 'int'), c('campaign', 'campanha', 'text'), c('abandon_cap', 'limite de abandono', 'ratio'), ...FIGURES],
  },
  agents: {
    file: 'agentes',
    title: 'Por agente',
    rows: (r: HistoryReport) => r.agents as unknown as Record<string, unknown>[],
    columns: [c('agent_id', 'id', 'int'), c('agent', 'agente', 'text'), ...FIGURES],
  },
  dispositions: {
    file: 'tabulacoes',
    title: 'Tabulações',
    rows: (r: HistoryReport) => r.dispositions as unknown as Record<string, unknown>[],
    columns: [c('code', 'tabulação', 'text'), c('count', 'quantidade', 'int'), c('share', 'participação', 'ratio')],
  },
  amd: {
    file: 'amd',
    title: 'Resultados do AMD',
    rows: (r: HistoryReport) => r.amd as unknown as Record<string, unknown>[],
    columns: [c('answered_by', 'resultado', 'text'), c('count', 'quantidade', 'int'), c('share', 'participação', 'ratio')],
  },
  queues: {
    file: 'filas',
    title: 'Filas de atendimento',
    rows: (r: HistoryReport) => r.queues as unknown as Record<string, unknown>[],
    columns: [
      c('queue', 'fila', 'text'),
      c('entered', 'entradas', 'int'),
      c('answered', 'atendidas', 'int'),
      c('answered_in_level', 'atendidas no nível', 'int'),
      c('service_level_seconds', 'nível (s)', 'int'),
      c('service_level', 'nível de serviço', 'ratio'),
      c('abandoned', 'abandonos', 'int'),
      c('voicemail', 'correio de voz', 'int'),
      c('callback', 'retorno', 'int'),
      c('timeout', 'tempo esgotado', 'int'),
      c('opted_out', 'descadastro', 'int'),
      c('error', 'erro', 'int'),
      c('waiting', 'aguardando', 'int'),
      c('avg_wait_seconds', 'espera média (s)', 'decimal'),
      c('max_wait_seconds', 'espera máxima (s)', 'int'),
    ],
  },
} satisfies Record<string, { file: string; title: string; rows: (r: HistoryReport) => Record<string, unknown>[]; columns: HistoryColumn[] }>;

export type HistoryTableName = keyof typeof HISTORY_TABLES;
export const HISTORY_TABLE_NAMES = Object.keys(HISTORY_TABLES) as HistoryTableName[];

/** A number written the pt-BR way: comma decimals, no thousands separator (what Excel pt-BR reads as a number). */
export function ptNumber(v: number, digits?: number): string {
  const s = digits === undefined ? String(v) : v.toFixed(digits);
  return s.replace('.', ',');
}

/** One value as a cell: ratios as fractions (0,0345; a spreadsheet formats them as %), decimals with a comma, empty for null. */
export function cellText(col: HistoryColumn, v: unknown): string {
  if (v === null || v === undefined) return '';
  if (col.kind === 'text') return String(v);
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) return String(v);
  return ptNumber(n);
}
