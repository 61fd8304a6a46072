/**
 * The shapes of the supervisor's board (`GET /api/board`, docs/board.md) shared by the
 * function and the dashboard page: the board as board_snapshot answers it.
 */

/**
 * The short-call figures of one caller ID, or of the whole account, for São Paulo's day
 * (docs/anatel.md). A call counts once it ended: placed by Twilio from one of the account's
 * numbers (attempts Twilio refused or never placed are not calls); short when it lasted at most
 * short_call_seconds, answered or not.
 */
export interface ShortCallFigures {
  calls_today: number;
  short_today: number;
  /** short_today / calls_today (4 decimals); null with no calls. */
  short_ratio: number | null;
  /** The same counts over the last hour (since midnight in the day's first hour): the pace. */
  calls_last_hour: number;
  short_last_hour: number;
  /**
   * Calls and short calls the day is projected to end with: today's count plus the last
   * hour's pace times the calling time left today (AnatelBoard.seconds_left).
   */
  projected_calls: number;
  projected_short: number;
  /** projected_short / projected_calls; null with none. */
  projected_ratio: number | null;
  /** Today's own figures already meet both thresholds. */
  reached: boolean;
  /**
   * near: the projection reaches near_percent of both thresholds (projected_calls >=
   * near % x daily_calls_threshold and projected_ratio >= near % x short_percent_threshold);
   * over: it reaches both thresholds. over implies near.
   */
  near: boolean;
  over: boolean;
  /** Today's short calls by cause (SHORT_CALL_CAUSES in src/lib/domain/anatel.ts: what feeds each); causes with none are absent. */
  causes: Record<string, number>;
}

/** One campaign's short calls today, and the settings that feed them. */
export interface AnatelCampaign {
  /** null: dials without a campaign (click-to-call). */
  campaign_id: number | null;
  name: string | null;
  calls_today: number;
  short_today: number;
  short_ratio: number | null;
  causes: Record<string, number>;
  /** null for dials without a campaign. */
  settings: {
    mode: string;
    dial_ratio: number;
    ring_timeout: number;
    amd_machine: string;
    amd_unknown: string;
    disclaimer_seconds: number;
    abandon_cap: number;
  } | null;
}

/** The Anatel short-call monitor's part of the board; null until a monitor answers it. */
export interface AnatelBoard extends Record<string, unknown> {
  short_call_seconds: number;
  daily_calls_threshold: number;
  short_percent_threshold: number;
  near_percent: number;
  /** São Paulo's midnight that began the day. */
  day_start: string;
  /** When today's calling is taken to end: the latest window end today of the campaigns that may still dial (active or paused). */
  calling_ends_at: string;
  /** Seconds from now to calling_ends_at (what the projection multiplies the pace by). */
  seconds_left: number;
  /** Seconds the pace (calls_last_hour) was measured over: 3600, or since midnight in the day's first hour. */
  rate_window_seconds: number;
  account: ShortCallFigures;
  /** Active numbers and any number that placed calls today, by number. */
  caller_ids: (ShortCallFigures & { caller_id: string })[];
  /** Campaigns with calls today, most short calls first. */
  campaigns: AnatelCampaign[];
}

/** One open alert as the board shows it (board_alerts, docs/alerts.md), newest first. */
export interface BoardAlert extends Record<string, unknown> {
  id: number;
  /** An AlertRule (src/lib/domain/alerts/texts.ts): abandon, short_calls, queue_wait, …, rule_failed */
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
