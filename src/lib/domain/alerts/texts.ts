/**
 * What people read in alerts (pt-BR), in one place: the one-line titles (templates whose
 * {placeholders} the SQL evaluation fills, so the board and the messages say the same thing),
 * the rules' names, and the messages' headlines.
 */

export type AlertRule =
  | 'abandon'
  | 'short_calls'
  | 'queue_wait'
  | 'no_agent'
  | 'caller_id_cap'
  | 'caller_id_spam'
  | 'recording_transfers'
  | 'twilio_debugger'
  | 'channel_failing'
  | 'db_unreachable'
  | 'opt_out_not_stored'
  | 'voicemail'
  | 'rule_failed';

export type AlertSeverity = 'warning' | 'critical';
export type AlertKind = 'opened' | 'worse' | 'resolved';

/** Title templates by rule and severity ({label} is the subject's name; the rest per rule, docs/alerts.md). */
export const ALERT_TITLES: Record<string, Partial<Record<AlertSeverity, string>>> = {
  abandon: {
    warning: 'Abandono perto do limite: campanha "{label}" em {rate} hoje (limite {cap}{amd})',
    critical: 'Abandono acima do limite: campanha "{label}" em {rate} hoje (limite {cap}{amd})',
  },
  short_calls: {
    warning: 'Chamadas curtas perto do limite da Anatel ({label}): projeção de {ratio} de chamadas curtas em {calls} chamadas hoje (limites {threshold} e {daily} chamadas)',
    critical: 'Chamadas curtas acima do limite da Anatel ({label}): projeção de {ratio} de chamadas curtas em {calls} chamadas hoje (limites {threshold} e {daily} chamadas)',
  },
  queue_wait: {
    warning: 'Cliente esperando há {minutes} min na fila "{label}" (limite {limit} min; na fila: {waiting})',
    critical: 'Cliente esperando há {minutes} min na fila "{label}" (limite {limit} min; na fila: {waiting})',
  },
  no_agent: {
    critical: 'Nenhum agente trabalhando na campanha "{label}" com a janela de discagem aberta (em pausa: {paused})',
  },
  caller_id_cap: { warning: 'Número {label} atingiu o limite diário: {calls} de {cap} ligações hoje' },
  caller_id_spam: { critical: 'Número {label} marcado como spam' },
  recording_transfers: {
    warning: 'Transferências de gravação para o S3 falhando: {total} (tentando de novo: {retrying})',
    critical: 'Transferências de gravação para o S3 falhando: {total} (sem novas tentativas: {given_up})',
  },
  twilio_debugger: {
    warning: 'Twilio: aviso {code}, eventos nos últimos {minutes} min: {count} (recurso {resource})',
    critical: 'Twilio: erro {code}, eventos nos últimos {minutes} min: {count} (recurso {resource})',
  },
  channel_failing: { critical: 'Canal de alertas {label} falhando: mensagens não entregues: {count} ({error})' },
  db_unreachable: { critical: 'Banco de dados inacessível pelas funções por {minutes} min' },
  voicemail: { warning: 'Novo recado de voz para {label}: {seconds} s de {from}, ainda não ouvido' },
  rule_failed: { critical: 'A regra de alerta "{label}" falhou e não está sendo avaliada: {error}' },
};

/** The parts of the rules' evaluation, as a failed part's alert names it (alert_conditions). */
export const ALERT_RULE_PARTS = {
  abandon: 'Abandono',
  short_calls: 'Chamadas curtas (Anatel)',
  queue_wait: 'Espera na fila',
  no_agent: 'Campanha sem agentes',
  caller_ids: 'Números (limite diário e spam)',
  recording_transfers: 'Gravações',
  twilio_debugger: 'Erros da Twilio',
  voicemail: 'Recado de voz',
} as const;

/** Subjects that are not a row's name. */
export const ALERT_LABELS = {
  account: 'Conta',
  recordings: 'Gravações',
  database: 'Banco de dados',
  slack: 'Slack',
  whatsapp: 'WhatsApp',
  sms: 'SMS',
  // after the abandon alert's cap when the campaign uses AMD: the rate with AMD's estimate
  abandon_amd: '; com a estimativa do AMD: {rate}',
} as const;

/** Each rule's name, as a message's header says it. */
export const ALERT_RULE_NAMES: Record<AlertRule, string> = {
  abandon: 'Abandono',
  short_calls: 'Chamadas curtas (Anatel)',
  queue_wait: 'Espera na fila',
  no_agent: 'Campanha sem agentes',
  caller_id_cap: 'Limite diário do número',
  caller_id_spam: 'Número marcado como spam',
  recording_transfers: 'Gravações',
  twilio_debugger: 'Erros da Twilio',
  channel_failing: 'Canal de alertas',
  db_unreachable: 'Banco de dados',
  opt_out_not_stored: 'Opt-out não registrado',
  voicemail: 'Recado de voz',
  rule_failed: 'Regra de alerta com falha',
};

/** A message's headline: what happened to the alert. */
export function alertHeadline(kind: AlertKind, severity: AlertSeverity): string {
  if (kind === 'resolved') return '✅ Resolvido';
  const level = severity === 'critical' ? '🔴 Alerta crítico' : '🟠 Alerta';
  return kind === 'worse' ? `${level} (piorou)` : level;
}

/** The database-unreachable alert the functions send on their own (the database cannot word it). */
export const DB_UNREACHABLE_OPENED = 'Banco de dados inacessível pelas funções desde {since}: chamadas seguem pelo caminho de contingência';

/** The words of a message's context line. */
export const ALERT_CONTEXT = {
  openedAt: 'aberto em',
  resolvedAt: 'resolvido em',
  at: 'em',
  value: 'valor',
  threshold: 'limite',
  brasilia: '(Brasília)',
} as const;
