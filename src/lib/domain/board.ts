/**
 * The shapes of the supervisor's board (`GET /api/board`, docs/board.md) shared by the
 * function and the dashboard page: the board as board_snapshot answers it.
 */

/** The short-call figures of one caller ID, or of the whole account, for São Paulo's day. */
export interface ShortCallFigures {
  calls_today: number;
  short_today: number;
  /** short_today / calls_today; null with no calls. */
  short_ratio: number | null;
  /** Calls and short calls the day is projected to end with at today's pace. */
  projected_calls: number;
  projected_short: number;
  projected_ratio: number | null;
  /** The projection reaches ANATEL_NEAR_PERCENT of both thresholds; over: it reaches them. */
  near: boolean;
  over: boolean;
  /** Where today's short calls came from (the settings that feed them). */
  causes: Record<string, number>;
}

/** The Anatel short-call monitor's part of the board; null until a monitor answers it. */
export interface AnatelBoard extends Record<string, unknown> {
  short_call_seconds: number;
  daily_calls_threshold: number;
  short_percent_threshold: number;
  near_percent: number;
  account: ShortCallFigures;
  caller_ids: (ShortCallFigures & { caller_id: string })[];
}

/** One open alert as the board shows it (board_alerts, docs/alerts.md), newest first. */
export interface BoardAlert extends Record<string, unknown> {
  id: number;
  /** abandon, short_calls, queue_wait, no_agent, caller_id_cap, caller_id_spam, recording_transfers, twilio_debugger, channel_failing, db_unreachable */
  rule: string;
  /** What the alert is about: campaign:<id>, queue:<name>, caller_id:<+E.164>, debugger:<code>, channel:<slack|whatsapp|sms>, recordings, account… */
  subject: string;
  severity: 'warning' | 'critical';
  /** pt-BR one-liner, as sent to Slack and WhatsApp. */
  title: string;
  /** The measured figure and its threshold, in the rule's unit (docs/alerts.md: abandon and short calls as ratios 0–1, queue wait in minutes, counts). */
  value: number | null;
  threshold: number | null;
  opened_at: string;
  last_sent_at: string | null;
  /** The subject's name for people: the campaign's or queue's name, the number, "Conta"… */
  subject_label: string;
  /** Messages sent about it so far (opened, worse). */
  notifications: number;
  /** Seconds since it opened, at the board's instant. */
  seconds_open: number;
  /** Rule-specific figures (e.g. live_today/abandoned_today, waiting/longest_wait_seconds, last_error). */
  detail: Record<string, unknown>;
}

export interface BoardResponse {
  server_time: string;
  day_start: string;
  short_call_seconds: number;
  agents: Record<string, unknown>[];
  calls: Record<string, unknown>[];
  queues: Record<string, unknown>[];
  campaigns: Record<string, unknown>[];
  caller_ids: Record<string, unknown>[];
  anatel: AnatelBoard | null;
  alerts: BoardAlert[];
}
