/**
 * Anatel's short-call rule (../shared/reference/brazil.md, docs/anatel.md): a caller that
 * places at least ANATEL_DAILY_CALLS calls in a day, at least ANATEL_SHORT_PERCENT % of them
 * short (at most SHORT_CALL_SECONDS, answered or not), is blocked for 15 days. Here: the
 * thresholds the short-call monitor (SQL short_call_monitor), the board, the alerts and the
 * pacer's guard are given, from configuration, and the guard's decision (pure).
 */
import type { Config } from '../runtime/config';
import type { PacingSnapshot } from './pacing';

/** The thresholds as the SQL functions take them (p_settings). */
export interface AnatelSettings {
  short_call_seconds: number;
  anatel_daily_calls: number;
  anatel_short_percent: number;
  anatel_near_percent: number;
}

export type AnatelConfig = Pick<Config, 'SHORT_CALL_SECONDS' | 'ANATEL_DAILY_CALLS' | 'ANATEL_SHORT_PERCENT' | 'ANATEL_NEAR_PERCENT'>;

export function anatelSettings(config: AnatelConfig): AnatelSettings {
  return {
    short_call_seconds: config.SHORT_CALL_SECONDS,
    anatel_daily_calls: config.ANATEL_DAILY_CALLS,
    anatel_short_percent: config.ANATEL_SHORT_PERCENT,
    anatel_near_percent: config.ANATEL_NEAR_PERCENT,
  };
}

/**
 * Seconds a round may reuse the account's figures computed earlier (they read the whole day's
 * calls; the projection moves over minutes, rounds run many times a second).
 */
export const GUARD_CACHE_SECONDS = 10;

/**
 * Seconds a round that may not recompute (one with a time budget, started by a webhook or an
 * agent) still uses the kept figures; older, the state is unknown and the round is not limited
 * until the heartbeat (or the board) recomputes them.
 */
export const GUARD_STALE_SECONDS = 60;

/** What pacer_round_begin is given when the guard is on (null when SHORT_CALL_GUARD=off). */
export function guardSettings(
  config: AnatelConfig & Pick<Config, 'SHORT_CALL_GUARD'>,
  compute = true,
): (AnatelSettings & { cache_seconds: number; stale_seconds: number; compute: boolean }) | null {
  return config.SHORT_CALL_GUARD === 'slow' ? { ...anatelSettings(config), cache_seconds: GUARD_CACHE_SECONDS, stale_seconds: GUARD_STALE_SECONDS, compute } : null;
}

/** Why today's short calls were short: the setting (or the customer) that fed them. */
export type ShortCallCause =
  | 'busy'
  | 'failed'
  | 'no_answer'
  | 'canceled'
  | 'opted_out'
  | 'abandoned'
  | 'short_talk'
  | 'voicemail_drop'
  | 'amd_hangup'
  | 'amd_unknown_hangup'
  | 'disclaimer_hangup'
  | 'waiting_hangup'
  | 'answered_hangup';

/**
 * Each cause (the monitor's `causes` keys), what feeds it (the campaign setting to look at,
 * null when none does) and a pt-BR label for the pages.
 */
export const SHORT_CALL_CAUSES: Readonly<Record<ShortCallCause, { setting: string | null; label: string }>> = Object.freeze({
  busy: { setting: null, label: 'Ocupado' },
  failed: { setting: null, label: 'Falha na chamada' },
  no_answer: { setting: 'ring_timeout', label: 'Não atendida (tempo de toque)' },
  canceled: { setting: null, label: 'Cancelada enquanto tocava' },
  opted_out: { setting: null, label: 'Número descadastrado (desligada)' },
  abandoned: { setting: 'dial_ratio', label: 'Abandonada (sem agente livre)' },
  short_talk: { setting: null, label: 'Conversa curta' },
  voicemail_drop: { setting: 'amd_machine', label: 'Recado na caixa postal' },
  amd_hangup: { setting: 'amd_machine', label: 'Secretária eletrônica desligada (AMD)' },
  amd_unknown_hangup: { setting: 'amd_unknown', label: 'AMD indeciso desligado' },
  disclaimer_hangup: { setting: 'disclaimer_seconds', label: 'Desligou durante o aviso' },
  waiting_hangup: { setting: 'dial_ratio', label: 'Desligou aguardando agente' },
  answered_hangup: { setting: null, label: 'Desligou ao atender' },
});

/** The guard's state as pacer_round_begin answers it (short_call_guard: the account's figures). */
export interface GuardState {
  calls_today: number;
  short_today: number;
  short_ratio: number | null;
  calls_last_hour: number;
  short_last_hour: number;
  projected_calls: number;
  projected_short: number;
  projected_ratio: number | null;
  reached: boolean;
  near: boolean;
  over: boolean;
  computed_at: string;
  near_caller_ids: string[];
}

/**
 * Seconds past a campaign's ring timeout after which a call still counted as ringing (queued,
 * initiated, ringing) is no longer taken as on its way to an agent: Twilio ends an unanswered
 * call at its Timeout, so such a row is a Calls create that failed or timed out, or a lost
 * callback, left to the sweep (minutes later); it must not hold an available agent's line.
 */
export const GUARD_RING_MARGIN_SECONDS = 30;

/**
 * The guard's limit on one round: while the account's projection is near (or over) Anatel's
 * thresholds, a power or predictive campaign dials 1:1, no line ahead of its available agents
 * (lines in flight not yet with an agent count against them; with `ringTimeoutSeconds`, only
 * ringing calls younger than the ring timeout plus GUARD_RING_MARGIN_SECONDS). Dialing ahead is
 * what turns dials into short calls the pacer could avoid (abandons, and the extra no-answer /
 * busy / machine attempts made for agents who are not there), and 1:1 brings the day's volume
 * down to the agents' own pace. Answers null when the guard does not limit `dial`.
 */
export function guardLimit(
  snapshot: Pick<PacingSnapshot, 'agents' | 'calls'> & Partial<Pick<PacingSnapshot, 'ringingSinceMs' | 'nowMs'>>,
  dial: number,
  guard: GuardState | null | undefined,
  ringTimeoutSeconds?: number,
): { dial: number; explanation: string } | null {
  if (!guard || !(guard.near || guard.over)) return null;
  const available = snapshot.agents.filter((a) => a.activity === 'available').length;
  const { detecting, waiting } = snapshot.calls;
  let ringing = snapshot.calls.ringing;
  if (ringTimeoutSeconds !== undefined && snapshot.ringingSinceMs && snapshot.nowMs !== undefined) {
    const oldest = snapshot.nowMs - (ringTimeoutSeconds + GUARD_RING_MARGIN_SECONDS) * 1000;
    ringing = snapshot.ringingSinceMs.filter((t) => t >= oldest).length;
  }
  const room = Math.max(0, available - ringing - detecting - waiting);
  if (dial <= room) return null;
  const ratio = guard.projected_ratio === null ? '—' : `${(100 * Number(guard.projected_ratio)).toFixed(1)} %`;
  return {
    dial: room,
    explanation:
      `Short-call guard: the day is projected at ${guard.projected_calls} call(s), ${ratio} short (${guard.over ? 'over' : 'near'} Anatel's thresholds); ` +
      `dialing 1:1: ${available} available agent(s), ${ringing + detecting + waiting} call(s) in flight, ${room} dial(s) instead of ${dial}.`,
  };
}
