/**
 * One pacing round for the running campaigns. Placeholder with the pacer's signature so the
 * call flow can trigger a round after an AMD result; the pacer's implementation replaces this
 * file (it does nothing here).
 */
import type twilio from 'twilio';
import type { Config } from '../../runtime/config';
import type { Db } from '../../runtime/db';

/** What caused a pacing round. */
export type TickTrigger = 'heartbeat' | 'call_ended' | 'amd' | 'agent_status' | 'wrap_up' | 'poll' | 'campaign';

/** What a round did, per campaign it looked at. */
export interface TickResult {
  campaigns: { campaignId: number; wanted: number; claimed: number; placed: number; reason: string }[];
}

/** Runs one pacing round (campaignId: only that campaign). */
export async function runTick(
  _deps: { db: Db; twilio: twilio.Twilio; config: Config },
  _opts: { trigger: TickTrigger; campaignId?: number },
): Promise<TickResult> {
  return { campaigns: [] };
}
