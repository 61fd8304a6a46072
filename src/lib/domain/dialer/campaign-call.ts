/**
 * Placing a campaign call for a lead the pacer claimed (claim_leads recorded the attempt,
 * picked the caller ID and checked the opt-out list).
 */
import type twilio from 'twilio';
import { urlFor, type Config } from '../../runtime/config';
import type { Db } from '../../runtime/db';
import { statusCallbackUrl, voiceFallbackUrl } from '../callback-urls';
import { ATTEMPT_PARAM } from '../call-events';
import { refusalKind, STATUS_EVENTS, twilioRefusal, type RefusalKind } from './calls-create';
import { within } from '../../runtime/deadline';

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
  | { placed: false; attemptId: number; reason: 'twilio_refused' | 'twilio_error' | 'no_time'; detail: string; twilioCode?: number; kind?: RefusalKind };

/** Below this many milliseconds left in a round's budget, a claimed lead is released, not dialed. */
export const MIN_PLACE_MS = 400;

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
 * handled by what the refusal means (refusalKind, release_dial_attempt): a number Twilio will
 * never call is marked invalid (attempt counted, never dialed again); a caller ID Twilio rejects
 * is taken out of rotation and the lead, like one refused for a passing reason (429, unknown
 * codes), goes back to pending for a later round (RELEASE_BACKOFF_SECONDS, attempt not counted).
 * Another Twilio error (network, 5xx, no answer before the deadline: the call may exist) leaves
 * the attempt to the webhooks and the reconciler. With `deadlineMs` (a round started by an
 * event has a budget), a lead is released without asking Twilio when less than MIN_PLACE_MS is
 * left, and Calls create is given up (not cancelled) at the deadline. Accepted → the CallSid
 * is attached (best effort: the webhooks attach it too). Never throws for Twilio's answer.
 */
export async function placeCampaignCall(
  deps: { db: Db; twilio: twilio.Twilio; config: Config },
  claimed: ClaimedLead,
  campaign: CampaignCallSettings,
  opts: { deadlineMs?: number } = {},
): Promise<CampaignCallResult> {
  const attemptId = claimed.attempt_id;
  const withAttempt = (path: string) => `${urlFor(deps.config, path)}?${ATTEMPT_PARAM}=${attemptId}`;
  const left = opts.deadlineMs === undefined ? Infinity : opts.deadlineMs - Date.now();
  if (left < MIN_PLACE_MS) {
    await release(deps, attemptId, null, 'transient');
    return { placed: false, attemptId, reason: 'no_time', detail: 'The round ran out of time before asking Twilio; the lead is released.', kind: 'transient' };
  }
  let call: { sid: string; accountSid: string };
  try {
    call = await within(deps.twilio.calls.create({
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
    }), left);
  } catch (e) {
    const refusal = twilioRefusal(e);
    if (!refusal) {
      const detail = e instanceof Error ? e.message : String(e);
      console.error(`[discador] campaign ${campaign.id} attempt ${attemptId}: Twilio did not answer Calls create: ${detail}`);
      return { placed: false, attemptId, reason: 'twilio_error', detail };
    }
    const kind = refusalKind(refusal);
    await release(deps, attemptId, refusal.code ?? null, kind);
    if (kind === 'caller_id') console.error(`[discador] caller ID ${claimed.caller_id} refused by Twilio (error ${refusal.code}): taken out of rotation`);
    return {
      placed: false,
      attemptId,
      reason: 'twilio_refused',
      detail: `Twilio refused the call (HTTP ${refusal.status}${refusal.code ? `, error ${refusal.code}` : ''}): ${refusal.message}`,
      kind,
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

/** Seconds a lead released for a passing reason waits before a round dials it again. */
export const RELEASE_BACKOFF_SECONDS = 60;

/** release_dial_attempt, logged on failure (the sweep ends what is left dialing). */
async function release(deps: { db: Db }, attemptId: number, code: number | null, kind: RefusalKind): Promise<void> {
  try {
    const released = await deps.db.rpc('release_dial_attempt', {
      p_attempt_id: attemptId,
      p_error_code: code,
      p_kind: kind,
      p_backoff_seconds: RELEASE_BACKOFF_SECONDS,
    });
    if (released.error) console.error(`[discador] attempt ${attemptId} not placed and not released: ${released.error.message}`);
  } catch (err) {
    console.error(`[discador] attempt ${attemptId} not placed and not released: ${err instanceof Error ? err.message : String(err)}`);
  }
}

