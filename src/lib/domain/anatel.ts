/**
 * Anatel's short-call rule (../shared/reference/brazil.md): the thresholds the short-call
 * monitor (SQL short_call_monitor), the board and the alerts are given, from configuration.
 */
import type { Config } from '../runtime/config';

/** The thresholds as the SQL functions take them (p_settings). */
export interface AnatelSettings {
  short_call_seconds: number;
}

export function anatelSettings(config: Pick<Config, 'SHORT_CALL_SECONDS'>): AnatelSettings {
  return { short_call_seconds: config.SHORT_CALL_SECONDS };
}
