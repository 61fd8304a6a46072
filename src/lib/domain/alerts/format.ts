/**
 * An alert message as each channel carries it: Slack Block Kit (a header, the title in a
 * section, a context line, and the top-level `text` Slack shows in notifications and where
 * blocks cannot be shown) and a WhatsApp/SMS text (a template's three variables, or a Body).
 * Pure: the same message always gives the same payload.
 *
 * Slack's limits (docs.slack.dev/reference/block-kit/blocks): a header's plain_text at most
 * 150 characters, a section's text and a context element's at most 3000; in mrkdwn, &, < and >
 * must be escaped (docs.slack.dev/messaging/formatting-message-text#escaping).
 */
import { ALERT_CONTEXT, ALERT_RULE_NAMES, alertHeadline, type AlertKind, type AlertRule, type AlertSeverity } from './texts';

/** What alert_enqueue froze into alert_deliveries.message. */
export interface AlertMessage {
  alert_id: number | null;
  rule: AlertRule | string;
  subject: string;
  subject_label: string;
  severity: AlertSeverity;
  title: string;
  value: number | null;
  threshold: number | null;
  detail: Record<string, unknown>;
  kind: AlertKind;
  /** When the message was queued (ISO). */
  at: string;
  opened_at: string;
}

export interface SlackPayload {
  text: string;
  blocks: (
    | { type: 'header'; text: { type: 'plain_text'; text: string; emoji: true } }
    | { type: 'section'; text: { type: 'mrkdwn'; text: string } }
    | { type: 'context'; elements: { type: 'mrkdwn'; text: string }[] }
  )[];
}

const brasilia = new Intl.DateTimeFormat('pt-BR', {
  timeZone: 'America/Sao_Paulo',
  day: '2-digit',
  month: '2-digit',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
});

/** 26/11/2026, 03:50 — São Paulo's wall clock. */
export function brasiliaTime(iso: string | Date): string {
  return brasilia.format(typeof iso === 'string' ? new Date(iso) : iso);
}

/** Cuts to at most n characters (code points), marking the cut. */
export function cut(s: string, n: number): string {
  const chars = [...s];
  return chars.length <= n ? s : chars.slice(0, n - 1).join('') + '…';
}

/** Slack mrkdwn: &, < and > are control characters. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function ruleName(rule: string): string {
  return (ALERT_RULE_NAMES as Record<string, string>)[rule] ?? rule;
}

/** The first line: what happened, and to which rule. */
export function headerLine(m: AlertMessage): string {
  return `${alertHeadline(m.kind, m.severity)}: ${ruleName(m.rule)}`;
}

/** The last line: where from, about what, and when (Brasília time). */
export function contextLine(m: AlertMessage): string {
  const parts = ['discador', m.subject_label, `${ALERT_CONTEXT.openedAt} ${brasiliaTime(m.opened_at)}`];
  if (m.kind === 'resolved') parts.push(`${ALERT_CONTEXT.resolvedAt} ${brasiliaTime(m.at)}`);
  else if (m.kind === 'worse') parts.push(`${ALERT_CONTEXT.at} ${brasiliaTime(m.at)}`);
  return `${parts.join(' · ')} ${ALERT_CONTEXT.brasilia}`;
}

/** The Slack incoming-webhook body. */
export function slackPayload(m: AlertMessage): SlackPayload {
  const header = headerLine(m);
  return {
    // The top-level text is mrkdwn too (docs.slack.dev/messaging/formatting-message-text): a
    // name holding "<!channel>" would otherwise ping the whole channel from a notification.
    text: cut(escapeMrkdwn(`${alertHeadline(m.kind, m.severity)}: ${m.title}`), 3000),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: cut(header, 150), emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: cut(escapeMrkdwn(m.title), 3000) } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: cut(escapeMrkdwn(contextLine(m)), 3000) }] },
    ],
  };
}

/**
 * The WhatsApp template's variables (ContentVariables): 1 the headline and rule, 2 the title,
 * 3 the context line. The template approved for alerts has fixed text around them (WhatsApp
 * refuses a template that starts or ends with a variable: docs/alerts.md). Twilio refuses
 * empty values (21656), and WhatsApp a variable with a newline, a tab or more than four spaces
 * in a row (63013 from WhatsApp's 1008/1009): each is one line, runs of spaces folded.
 */
export function whatsappVariables(m: AlertMessage): Record<'1' | '2' | '3', string> {
  const oneLine = (s: string, max: number) => cut(s.replace(/\s+/g, ' ').trim() || '-', max);
  return { '1': oneLine(headerLine(m), 200), '2': oneLine(m.title, 1000), '3': oneLine(contextLine(m), 300) };
}

/** A WhatsApp or SMS Body: the same three lines. */
export function messageBody(m: AlertMessage): string {
  const v = whatsappVariables(m);
  return `${v['1']}\n${v['2']}\n${v['3']}`;
}
