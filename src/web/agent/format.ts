/** What the agent reads: Brazilian phone numbers, times, durations, and the API's error codes in pt-BR. */

/**
 * An E.164 number as Brazilians write it: `+5511990000001` → `(11) 99000-0001`,
 * `+551130001000` → `(11) 3000-1000`, `+5508001234567` → `0800 123 4567`. Anything else
 * (foreign numbers, `client:…`, anonymous callers) is returned unchanged.
 */
export function formatPhoneBR(raw: string | null | undefined): string {
  if (!raw) return 'Número desconhecido';
  const m = /^\+55(\d+)$/.exec(raw.trim());
  if (!m) return raw;
  const d = m[1]!;
  if (/^0[3589]00\d{7}$/.test(d)) return `${d.slice(0, 4)} ${d.slice(4, 7)} ${d.slice(7)}`;
  if (/^[1-9][1-9]9\d{8}$/.test(d)) return `(${d.slice(0, 2)}) ${d.slice(2, 7)}-${d.slice(7)}`;
  if (/^[1-9][1-9][2-8]\d{7}$/.test(d)) return `(${d.slice(0, 2)}) ${d.slice(2, 6)}-${d.slice(6)}`;
  return raw;
}

/** Seconds as `m:ss` (or `h:mm:ss`), never negative. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** A timestamp as São Paulo wall-clock date and time, e.g. `25/11/2026 14:03`. */
export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString('pt-BR', { timeZone: 'America/Sao_Paulo', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** Statuses as the page names them. */
export const STATUS_LABEL: Record<string, string> = {
  available: 'Disponível',
  paused: 'Pausa',
  offline: 'Offline',
  reserved: 'Chamando',
  busy: 'Em ligação',
  wrap_up: 'Pós-atendimento',
};

/** Disposition codes as the page names them; an unknown code is shown as it is. */
export const DISPOSITION_LABEL: Record<string, string> = {
  acordo: 'Acordo',
  promessa_pagamento: 'Promessa de pagamento',
  recusa: 'Recusa',
  numero_errado: 'Número errado',
  retornar: 'Retornar depois',
  sem_interesse: 'Sem interesse',
  nao_ligar: 'Não ligar mais',
  venda: 'Venda',
  outro: 'Outro',
};

/**
 * What each default disposition code does to the lead (as src/lib/domain/outcomes.ts's
 * DEFAULT_DISPOSITIONS): the form asks a date-time for a callback.
 */
export const DISPOSITION_OUTCOME: Record<string, 'done' | 'retry' | 'callback' | 'opt_out' | 'invalid'> = {
  numero_errado: 'invalid',
  retornar: 'callback',
  nao_ligar: 'opt_out',
};

/** A lead's outcome (leads.outcome) in words; a disposition code is shown by its label. */
export const OUTCOME_LABEL: Record<string, string> = {
  connected: 'Atendido por agente',
  busy: 'Ocupado',
  no_answer: 'Não atendeu',
  machine: 'Caixa postal',
  machine_voicemail: 'Recado deixado na caixa postal',
  failed: 'Falha na ligação',
  abandoned: 'Abandonada (sem agente livre)',
  hangup: 'Desligou antes do atendimento',
  canceled: 'Cancelada',
  opted_out: 'Pediu para não ligar',
  invalid_number: 'Número inválido',
};

/** A date-time for an <input type="datetime-local"> in the browser's time zone (`2026-11-27T14:00`). */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** A sentence for an /api error code, in pt-BR (the sign-in form and every action show it). */
export function errorText(code: string, retryAfter: number | null = null): string {
  switch (code) {
    case 'invalid_credentials':
      return 'E-mail ou senha incorretos.';
    case 'account_locked':
      return retryAfter !== null && retryAfter > 0
        ? `Muitas tentativas sem sucesso. Tente novamente em ${waitText(retryAfter)}.`
        : 'Muitas tentativas sem sucesso. Aguarde um pouco e tente novamente.';
    case 'unauthenticated':
    case 'session_expired':
      return 'Sua sessão expirou. Entre novamente.';
    case 'forbidden_role':
      return 'Esta página é só para agentes. Use a conta de agente.';
    case 'agent_busy':
      return 'Não é possível mudar o status durante uma ligação.';
    case 'conflict':
      return 'A ação não pôde ser feita no estado atual. Tente de novo.';
    case 'not_found':
      return 'Ligação não encontrada (talvez já tenha terminado).';
    case 'bad_request':
    case 'invalid_json':
      return 'Dados inválidos. Confira os campos.';
    case 'database_unavailable':
      return 'Sistema temporariamente indisponível. Tente em alguns segundos.';
    case 'softphone_not_configured':
      return 'O softphone não está configurado neste ambiente. Avise o administrador.';
    case 'opted_out':
      return 'Este número está na lista de não ligar. A ligação não foi feita.';
    case 'not_preview_campaign':
      return 'Você não está em uma campanha de prévia.';
    case 'campaign_not_running':
      return 'A campanha não está em andamento.';
    case 'offer_gone':
      return 'O cliente desligou ou a chamada não espera mais por você.';
    case 'twilio_refused':
      return 'A operadora recusou a ligação. Confira o número.';
    case 'body_too_large':
      return 'Texto grande demais. Encurte as observações.';
    case 'network':
      return 'Sem conexão com o servidor. Verifique a rede.';
    default:
      // The code helps whoever supports the agent find the cause.
      return `Erro inesperado (${code}). Tente novamente.`;
  }
}

/** A wait in seconds as words: `45 segundos`, `2 minutos`, `1 minuto e 30 segundos`. */
export function waitText(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 60) return s === 1 ? '1 segundo' : `${s} segundos`;
  const m = Math.floor(s / 60);
  const r = s % 60;
  const mins = m === 1 ? '1 minuto' : `${m} minutos`;
  return r === 0 ? mins : `${mins} e ${r === 1 ? '1 segundo' : `${r} segundos`}`;
}

/** "WhatsApp" or "SMS": the channel a text message came by. */
export function channelLabel(channel: string): string {
  return channel === 'whatsapp' ? 'WhatsApp' : 'SMS';
}

/** The text cut to `max` characters (with an ellipsis), whitespace folded. */
export function clip(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Why a recording cannot be played, from /api/recordings/listen's refusal. */
export function listenErrorText(status: number, code: string, retryAfter: number | null = null): string {
  if (status === 403) return 'Você não tem permissão para ouvir este recado.';
  if (status === 404) return 'Recado não encontrado: a gravação não está disponível para ouvir.';
  if (status === 409) return 'A gravação ainda não está disponível. Tente novamente em instantes.';
  return errorText(code, retryAfter);
}
