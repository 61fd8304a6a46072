import type twilio from 'twilio';
import { urlFor, type Config } from '../runtime/config';
import { unwrap, type Db } from '../runtime/db';
import { statusCallbackUrl, voiceFallbackUrl } from './callback-urls';
import { ATTEMPT_PARAM } from './call-events';
import { parsePhone } from './phone';
import { STATUS_EVENTS, twilioRefusal } from './dialer/calls-create';

export { STATUS_EVENTS } from './dialer/calls-create';
// Campaign calls (the pacer's) live apart so the functions that run pacing rounds do not load
// the phone-number library placeCall needs.
export { amdCallbackUrl, placeCampaignCall, type CampaignCallResult, type CampaignCallSettings, type ClaimedLead } from './dialer/campaign-call';

/** What to dial. The caller ID is picked from the pool unless `callerId` names one. */
export interface CallRequest {
  to: string;
  callerId?: string;
  agentId?: number;
  /**
   * Reserve the agent for this call in the same SQL call that records the attempt (refused
   * with 'agent_busy' unless the agent is free with a live, present shift leg); released when
   * the call is not placed.
   */
  reserveAgent?: boolean;
  campaignId?: number;
  leadId?: number;
}

/** Why a call was not placed (stable codes to branch on). */
export type RefusalReason =
  | 'invalid_number'
  | 'opted_out'
  | 'no_caller_id_available'
  | 'caller_id_not_in_pool'
  | 'caller_id_dedicated_to_agent'
  | 'caller_id_at_daily_cap'
  | 'caller_id_spam_flagged'
  | 'agent_busy'
  | 'cps_limit'
  | 'twilio_refused';

/** How long placeCall retries a dial refused for the account's CPS, and how often. */
export const CPS_RETRY_MS = 1200;
const CPS_RETRY_STEP_MS = 150;

/** The outcome of placeCall. `attemptId` is the calls row recorded before Twilio was asked. */
export type PlaceCallResult =
  | { placed: true; callSid: string; to: string; callerId: string; attemptId: number }
  | { placed: false; reason: RefusalReason; detail: string; attemptId?: number; twilioCode?: number };


interface AttemptDecision {
  allowed: boolean;
  reason?: RefusalReason;
  attempt_id?: number;
  caller_id?: string;
}

/**
 * Places an outbound call. The only place in discador that creates calls:
 *  1. the number is normalised;
 *  2. one SQL call (start_dial_attempt) refuses opted-out numbers, picks the caller ID and
 *     records the dial attempt (campaign, lead, agent, caller ID, destination), serialized
 *     with opt_out_add on the same number;
 *  3. Twilio is asked, with the attempt id in the answer and status callback URLs, so every
 *     webhook of the call finds its row (and /voice/outbound checks the opt-out list again
 *     when the customer answers);
 *     (with reserveAgent, the agent is reserved in that same call, or the call is refused);
 *  4. Twilio refused → the attempt is marked failed with Twilio's code and the caller ID's
 *     daily count is given back. Twilio accepted → attaching the CallSid is best effort (the
 *     webhooks attach it too): nothing after Twilio accepted can make placeCall fail.
 * A Twilio error that is not a refusal (network, 5xx: the call may exist) is rethrown and
 * the attempt is left as it is, counted against the cap. Either failure releases an agent the
 * attempt reserved (a call that exists after all finds no reservation and is not connected).
 */
export async function placeCall(deps: { db: Db; twilio: twilio.Twilio; config: Config }, req: CallRequest): Promise<PlaceCallResult> {
  const to = parsePhone(req.to);
  if (!to.ok) return { placed: false, reason: 'invalid_number', detail: `${to.reason}: "${to.input}"` };
  let callerId: string | undefined;
  if (req.callerId !== undefined) {
    const parsed = parsePhone(req.callerId);
    if (!parsed.ok) return { placed: false, reason: 'invalid_number', detail: `caller ID ${parsed.reason}: "${parsed.input}"` };
    callerId = parsed.e164;
  }

  const startAttempt = async () =>
    unwrap(
      await deps.db.rpc<AttemptDecision>('start_dial_attempt', {
        p_to: to.e164,
        p_caller_id: callerId ?? null,
        p_agent_id: req.agentId ?? null,
        p_campaign_id: req.campaignId ?? null,
        p_lead_id: req.leadId ?? null,
        // The account's CPS, shared with the pacer's claims: a full second is refused ('cps_limit').
        p_account_cps: deps.config.ACCOUNT_CPS,
        ...(req.reserveAgent ? { p_reserve_agent: true, p_presence_seconds: deps.config.AGENT_PRESENCE_SECONDS } : {}),
      }),
    );
  // A full second frees up within a second: retried for CPS_RETRY_MS before refusing.
  let attempt = await startAttempt();
  const retryUntil = Date.now() + CPS_RETRY_MS;
  while (!attempt.allowed && attempt.reason === 'cps_limit' && Date.now() < retryUntil) {
    await new Promise((r) => setTimeout(r, CPS_RETRY_STEP_MS));
    attempt = await startAttempt();
  }
  if (!attempt.allowed || !attempt.caller_id || !attempt.attempt_id) {
    const reason = attempt.reason ?? 'no_caller_id_available';
    return { placed: false, reason, detail: refusalText(reason, to.e164, callerId) };
  }
  const attemptId = attempt.attempt_id;
  const withAttempt = (path: string) => `${urlFor(deps.config, path)}?${ATTEMPT_PARAM}=${attemptId}`;

  let call: { sid: string; accountSid: string };
  try {
    call = await deps.twilio.calls.create({
      to: to.e164,
      from: attempt.caller_id,
      url: withAttempt('/voice/outbound'),
      method: 'POST',
      // If /voice/outbound itself fails, the customer hears an apology instead of Twilio's
      // application error; /voice/fallback never connects a dialer call (see there).
      fallbackUrl: voiceFallbackUrl(deps.config),
      fallbackMethod: 'POST',
      statusCallback: statusCallbackUrl(deps.config, { [ATTEMPT_PARAM]: String(attemptId) }),
      statusCallbackMethod: 'POST',
      statusCallbackEvent: STATUS_EVENTS,
    });
  } catch (e) {
    if (req.reserveAgent && req.agentId !== undefined) await releaseAgent(deps.db, req.agentId, attemptId);
    const refusal = twilioRefusal(e);
    if (!refusal) throw e;
    const failed = await deps.db.rpc('fail_dial_attempt', { p_attempt_id: attemptId, p_error_code: refusal.code ?? null });
    if (failed.error) console.error(`[discador] dial attempt ${attemptId} refused by Twilio but not marked failed: ${failed.error.message}`);
    return {
      placed: false,
      reason: 'twilio_refused',
      detail: `Twilio refused the call (HTTP ${refusal.status}${refusal.code ? `, error ${refusal.code}` : ''}): ${refusal.message}`,
      attemptId,
      ...(refusal.code ? { twilioCode: refusal.code } : {}),
    };
  }

  // Best effort: the answer and status webhooks carry the attempt id and attach the CallSid too.
  try {
    const attached = await deps.db.rpc('attach_call_sid', { p_attempt_id: attemptId, p_call_sid: call.sid, p_account_sid: call.accountSid });
    if (attached.error) console.error(`[discador] call ${call.sid} (attempt ${attemptId}) not attached yet: ${attached.error.message}`);
  } catch (e) {
    console.error(`[discador] call ${call.sid} (attempt ${attemptId}) not attached yet: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { placed: true, callSid: call.sid, to: to.e164, callerId: attempt.caller_id, attemptId };
}

/**
 * The agent reserved for an attempt that was not placed is available again. Logged, never
 * thrown: the caller reports why the call failed.
 */
async function releaseAgent(db: Db, agentId: number, attemptId: number): Promise<void> {
  try {
    const released = await db.rpc('agent_release_outbound', { p_agent_id: agentId, p_attempt_id: attemptId });
    if (released.error) console.error(`[discador] agent ${agentId} not released after attempt ${attemptId}: ${released.error.message}`);
  } catch (e) {
    console.error(`[discador] agent ${agentId} not released after attempt ${attemptId}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function refusalText(reason: RefusalReason, to: string, callerId: string | undefined): string {
  switch (reason) {
    case 'opted_out':
      return `${to} is on the opt-out list`;
    case 'caller_id_not_in_pool':
      return `the requested caller ID ${callerId ?? ''} is not an active number of the pool`;
    case 'caller_id_dedicated_to_agent':
      return `the requested caller ID ${callerId ?? ''} is dedicated to an agent`;
    case 'caller_id_at_daily_cap':
      return `the requested caller ID ${callerId ?? ''} has reached its daily cap`;
    case 'caller_id_spam_flagged':
      return `the requested caller ID ${callerId ?? ''} is flagged as spam-labelled and out of rotation (npm run numbers -- unflag-spam)`;
    case 'no_caller_id_available':
      return 'no caller ID available: every pool number is inactive, assigned to an agent, flagged as spam, cooling down or at its daily cap';
    case 'invalid_number':
      return `${to} is not a valid number`;
    case 'agent_busy':
      return 'the agent is not free to take a call (on a call, paused, or their softphone is not in the room)';
    case 'cps_limit':
      return "the account's calls per second (ACCOUNT_CPS) are taken by other calls right now: try again in a second";
    case 'twilio_refused':
      return 'Twilio refused the call';
  }
}

