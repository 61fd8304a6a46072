/**
 * Placing a campaign call for a lead the pacer claimed (claim_leads recorded the attempt,
 * picked the caller ID and checked the opt-out list).
 */
import type twilio from 'twilio';
import { urlFor, type Config } from '../../runtime/config';
import type { Db } from '../../runtime/db';
import { statusCallbackUrl, voiceFallbackUrl } from '../callback-urls';
import { ATTEMPT_PARAM } from '../call-events';
import { STATUS_EVENTS, twilioRefusal } from './calls-create';

/** A lead claimed for dialing (claim_leads): its dial attempt, number, caller ID and fields. */
export interface ClaimedLead {
  attempt_id: number;
  lead_id: number;
  to: string;
  caller_id: string;
  name: string | null;
  fields: Record<string, unknown>;
}

/** The campaign settings a campaign call is placed with. */
export interface CampaignCallSettings {
  id: number;
  amd_machine: 'hangup' | 'voicemail';
  ring_timeout: number;
}

/** The outcome of placeCampaignCall. */
export type CampaignCallResult =
  | { placed: true; attemptId: number; callSid: string }
  | { placed: false; attemptId: number; reason: 'twilio_refused' | 'twilio_error'; detail: string; twilioCode?: number };

/** The async AMD callback of a campaign call: /webhooks/amd with the attempt id. */
export function amdCallbackUrl(config: Config, attemptId: number): string {
  return `${urlFor(config, '/webhooks/amd')}?${ATTEMPT_PARAM}=${attemptId}`;
}

/**
 * Places a campaign call for a lead the pacer claimed (the attempt is already recorded, the
 * caller ID picked and the opt-out list checked, by claim_leads). Every campaign call asks
 * for async AMD (twilio.com/docs/voice/answering-machine-detection): the customer's flow
 * (/voice/outbound, the disclaimer) starts at once while AMD listens, and the result arrives
 * at /webhooks/amd. A campaign that leaves voicemails waits for the end of the greeting
 * (DetectMessageEnd); one that hangs up on machines only needs the first verdict (Enable).
 * The call rings for the campaign's ring_timeout.
 * Twilio refused (4xx) → the attempt is failed, the caller ID's count given back and the lead
 * released for a later round (release_dial_attempt). Another Twilio error (network, 5xx: the
 * call may exist) leaves the attempt to the webhooks and the reconciler. Accepted → the CallSid
 * is attached (best effort: the webhooks attach it too). Never throws for Twilio's answer.
 */
export async function placeCampaignCall(
  deps: { db: Db; twilio: twilio.Twilio; config: Config },
  claimed: ClaimedLead,
  campaign: CampaignCallSettings,
): Promise<CampaignCallResult> {
  const attemptId = claimed.attempt_id;
  const withAttempt = (path: string) => `${urlFor(deps.config, path)}?${ATTEMPT_PARAM}=${attemptId}`;
  let call: { sid: string; accountSid: string };
  try {
    call = await deps.twilio.calls.create({
      to: claimed.to,
      from: claimed.caller_id,
      url: withAttempt('/voice/outbound'),
      method: 'POST',
      fallbackUrl: voiceFallbackUrl(deps.config),
      fallbackMethod: 'POST',
      statusCallback: statusCallbackUrl(deps.config, { [ATTEMPT_PARAM]: String(attemptId) }),
      statusCallbackMethod: 'POST',
      statusCallbackEvent: STATUS_EVENTS,
      machineDetection: campaign.amd_machine === 'voicemail' ? 'DetectMessageEnd' : 'Enable',
      asyncAmd: 'true',
      asyncAmdStatusCallback: amdCallbackUrl(deps.config, attemptId),
      asyncAmdStatusCallbackMethod: 'POST',
      timeout: campaign.ring_timeout,
    });
  } catch (e) {
    const refusal = twilioRefusal(e);
    if (!refusal) {
      const detail = e instanceof Error ? e.message : String(e);
      console.error(`[discador] campaign ${campaign.id} attempt ${attemptId}: Twilio did not answer Calls create: ${detail}`);
      return { placed: false, attemptId, reason: 'twilio_error', detail };
    }
    try {
      const released = await deps.db.rpc('release_dial_attempt', { p_attempt_id: attemptId, p_error_code: refusal.code ?? null });
      if (released.error) console.error(`[discador] attempt ${attemptId} refused by Twilio but not released: ${released.error.message}`);
    } catch (err) {
      console.error(`[discador] attempt ${attemptId} refused by Twilio but not released: ${err instanceof Error ? err.message : String(err)}`);
    }
    return {
      placed: false,
      attemptId,
      reason: 'twilio_refused',
      detail: `Twilio refused the call (HTTP ${refusal.status}${refusal.code ? `, error ${refusal.code}` : ''}): ${refusal.message}`,
      ...(refusal.code ? { twilioCode: refusal.code } : {}),
    };
  }
  try {
    const attached = await deps.db.rpc('attach_call_sid', { p_attempt_id: attemptId, p_call_sid: call.sid, p_account_sid: call.accountSid });
    if (attached.error) console.error(`[discador] call ${call.sid} (attempt ${attemptId}) not attached yet: ${attached.error.message}`);
  } catch (e) {
    console.error(`[discador] call ${call.sid} (attempt ${attemptId}) not attached yet: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { placed: true, attemptId, callSid: call.sid };
}
