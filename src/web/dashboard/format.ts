/**
 * How the supervisor's board writes its figures: pt-BR numbers and percents, durations as
 * mm:ss or h:mm:ss, the board's codes (statuses, modes, AMD results) in words, and the
 * /api errors of the supervisor's actions as sentences. Pure functions (unit-tested).
 */

/** The placeholder for a figure that does not exist (null, or not computed yet). */
export const NONE = '—';

const intFmt = new Intl.NumberFormat('pt-BR', { maximumFractionDigits: 0 });
const dec1 = new Intl.NumberFormat('pt-BR', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const dec2 = new Intl.NumberFormat('pt-BR', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** A JSON number or numeric string (PostgREST answers numerics as numbers) as a number, else null. */
export function num(v: unknown): number | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** A whole count: `1.234`; null → —. */
export function formatInt(v: unknown): string {
  const n = num(v);
  return n === null ? NONE : intFmt.format(Math.round(n));
}

/** One decimal: `12,5`; null → —. */
export function formatDec1(v: unknown): string {
  const n = num(v);
  return n === null ? NONE : dec1.format(n);
}

/** Two decimals: `2,50`; null → —. */
export function formatDec2(v: unknown): string {
  const n = num(v);
  return n === null ? NONE : dec2.format(n);
}

/** A ratio (0.0312) as a percent with one decimal: `3,1%`; null → —. */
export function formatPercent(ratio: unknown): string {
  const n = num(ratio);
  return n === null ? NONE : `${dec1.format(n * 100)}%`;
}

/** Seconds as `mm:ss` (under an hour) or `h:mm:ss`; never negative; null → —. */
export function formatClock(seconds: unknown): string {
  const n = num(seconds);
  if (n === null) return NONE;
  const s = Math.max(0, Math.floor(n));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** "há N s" / "há N min" for how long ago something happened. */
export function agoText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 120) return `há ${s} s`;
  if (s < 7200) return `há ${Math.floor(s / 60)} min`;
  return `há ${Math.floor(s / 3600)} h`;
}

/** A timestamp as São Paulo's wall clock: `14:03` today's, else `25/11 14:03`. */
export function formatTimeSP(iso: unknown, nowMs: number): string {
  if (typeof iso !== 'string') return NONE;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return NONE;
  const day = (t: Date) => t.toLocaleDateString('pt-BR', { timeZone: 'America/Sao_Paulo', day: '2-digit', month: '2-digit' });
  const time = d.toLocaleTimeString('pt-BR', { timeZone: 'America/Sao_Paulo', hour: '2-digit', minute: '2-digit' });
  return day(d) === day(new Date(nowMs)) ? time : `${day(d)} ${time}`;
}

export const AGENT_STATUS: Record<string, string> = {
  available: 'Disponível',
  reserved: 'Chamando',
  busy: 'Em ligação',
  wrap_up: 'Pós-atendimento',
  paused: 'Pausa',
  offline: 'Offline',
};

export const CALL_STATUS: Record<string, string> = {
  queued: 'Na fila de discagem',
  initiated: 'Discando',
  ringing: 'Chamando',
  'in-progress': 'Em andamento',
};

export const CAMPAIGN_MODE: Record<string, string> = {
  preview: 'Prévia',
  power: 'Power',
  predictive: 'Preditiva',
};

export const CAMPAIGN_STATUS: Record<string, string> = {
  draft: 'Rascunho',
  active: 'Em andamento',
  running: 'Em andamento',
  paused: 'Pausada',
  finished: 'Encerrada',
};

/** AMD results (calls.answered_by), in the order the mix is written. */
export const AMD_LABEL: [string, string][] = [
  ['human', 'Humano'],
  ['machine_start', 'Máquina'],
  ['machine_end_beep', 'Máq. bipe'],
  ['machine_end_silence', 'Máq. silêncio'],
  ['machine_end_other', 'Máq. outro'],
  ['fax', 'Fax'],
  ['unknown', 'Indefinido'],
];

export const SEVERITY_LABEL: Record<string, string> = { warning: 'Atenção', critical: 'Crítico' };

/** A code in words, or the code itself when the page does not know it. */
export function label(map: Record<string, string>, code: unknown): string {
  if (typeof code !== 'string' || code === '') return NONE;
  return map[code] ?? code;
}

/** The AMD mix as one line: `Humano 3 · Secretária (início) 1`; unknown results after the known ones; empty → —. */
export function formatAmdMix(mix: unknown): string {
  if (!mix || typeof mix !== 'object') return NONE;
  const counts = { ...(mix as Record<string, unknown>) };
  // The board names a call with an AMD time but no result 'none'; history counts it as
  // 'unknown' ("Indefinido"): one figure, one word on both pages.
  const none = num(counts['none']) ?? 0;
  if (none) counts['unknown'] = (num(counts['unknown']) ?? 0) + none;
  delete counts['none'];
  const known = new Set(AMD_LABEL.map(([k]) => k));
  const parts: string[] = [];
  for (const [k, text] of AMD_LABEL) if (num(counts[k])) parts.push(`${text} ${formatInt(counts[k])}`);
  for (const k of Object.keys(counts).sort()) if (!known.has(k) && num(counts[k])) parts.push(`${k} ${formatInt(counts[k])}`);
  return parts.length ? parts.join(' · ') : NONE;
}

/**
 * A Brazilian E.164 number as people write it (`+5511990000001` → `(11) 99000-0001`);
 * anything else unchanged; null → —.
 */
export function formatPhone(raw: unknown): string {
  if (typeof raw !== 'string' || raw === '') return NONE;
  const m = /^\+55(\d+)$/.exec(raw.trim());
  if (!m) return raw;
  const d = m[1]!;
  if (/^0[3589]00\d{7}$/.test(d)) return `${d.slice(0, 4)} ${d.slice(4, 7)} ${d.slice(7)}`;
  if (/^[1-9][1-9]9\d{8}$/.test(d)) return `(${d.slice(0, 2)}) ${d.slice(2, 7)}-${d.slice(7)}`;
  if (/^[1-9][1-9][2-8]\d{7}$/.test(d)) return `(${d.slice(0, 2)}) ${d.slice(2, 6)}-${d.slice(6)}`;
  return raw;
}

/**
 * A refused supervisor action as a pt-BR sentence, with the API's own message after it (the
 * code's detail for whoever supports the supervisor). `status` 404 without the API's
 * `not_found` code means the URL itself is missing on this server.
 */
export function actionErrorText(status: number, code: string, message: string): string {
  const detail = message && message !== code ? ` (${message})` : '';
  switch (code) {
    case 'call_ended':
      return `A ligação já terminou; nada foi feito.${detail}`;
    case 'no_agent':
      return `Não há agente nesta ligação.${detail}`;
    case 'not_found':
      return `Não encontrado (talvez já tenha terminado).${detail}`;
    case 'forbidden_role':
      return 'Acesso restrito a supervisores.';
    case 'unauthenticated':
    case 'session_expired':
      return 'Sua sessão expirou. Entre novamente.';
    case 'bad_request':
    case 'invalid_json':
      return `Dados inválidos.${detail}`;
    case 'conflict':
    case 'agent_busy':
      return `Não foi possível no estado atual.${detail}`;
    case 'database_unavailable':
      return 'Sistema temporariamente indisponível. Tente em alguns segundos.';
    case 'network':
      return 'Sem conexão com o servidor. Verifique a rede.';
    default:
      if (status === 404) return 'Esta ação não está disponível neste servidor (404).';
      return `Erro ${status || ''} (${code})${message ? `: ${message}` : ''}`.replace('Erro  (', 'Erro (');
  }
}
