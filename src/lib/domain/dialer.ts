import type twilio from 'twilio';
import { urlFor, type Config } from '../runtime/config';
import { unwrap, type Db } from '../runtime/db';
import { statusCallbackUrl } from './callback-urls';
import { parsePhone } from './phone';

/** What to dial. The caller ID is picked from the pool unless `callerId` names one. */
export interface CallRequest {
  to: string;
  callerId?: string;
  agentId?: number;
  campaignId?: number;
  leadId?: number;
}

/** Why a call was not placed (stable codes to branch on). */
export type RefusalReason = 'invalid_number' | 'opted_out' | 'no_caller_id_available' | 'caller_id_not_in_pool';

/** The outcome of placeCall. */
export type PlaceCallResult =
  | { placed: true; callSid: string; to: string; callerId: string }
  | { placed: false; reason: RefusalReason; detail: string };

/** Status callback events discador asks Twilio for on every call. */
export const STATUS_EVENTS = ['initiated', 'ringing', 'answered', 'completed'];

/**
 * Places an outbound call. The only place in discador that creates calls: the number is
 * normalised, then one SQL call refuses opted-out numbers and picks the caller ID; only
 * then does a request reach Twilio. The call is registered with its campaign/lead/agent.
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

  const prepared = unwrap(
    await deps.db.rpc<{ allowed: boolean; reason?: RefusalReason; caller_id?: string }>('prepare_outbound_call', {
      p_to: to.e164,
      p_caller_id: callerId ?? null,
    }),
  );
  if (!prepared.allowed || !prepared.caller_id) {
    const reason = prepared.reason ?? 'no_caller_id_available';
    return { placed: false, reason, detail: refusalText(reason, to.e164) };
  }

  const call = await deps.twilio.calls.create({
    to: to.e164,
    from: prepared.caller_id,
    url: urlFor(deps.config, '/voice/outbound'),
    method: 'POST',
    statusCallback: statusCallbackUrl(deps.config),
    statusCallbackMethod: 'POST',
    statusCallbackEvent: STATUS_EVENTS,
  });
  unwrap(
    await deps.db.rpc('register_outbound_call', {
      p_call: {
        call_sid: call.sid,
        account_sid: call.accountSid,
        from: prepared.caller_id,
        to: to.e164,
        agent_id: req.agentId ?? null,
        campaign_id: req.campaignId ?? null,
        lead_id: req.leadId ?? null,
        status: call.status,
      },
    }),
  );
  return { placed: true, callSid: call.sid, to: to.e164, callerId: prepared.caller_id };
}

function refusalText(reason: RefusalReason, to: string): string {
  switch (reason) {
    case 'opted_out':
      return `${to} is on the opt-out list`;
    case 'caller_id_not_in_pool':
      return 'the requested caller ID is not an active number of the pool';
    case 'no_caller_id_available':
      return 'no caller ID available: every pool number is inactive, assigned to an agent or at its daily cap';
    case 'invalid_number':
      return `${to} is not a valid number`;
  }
}
