/**
 * /webhooks/amd — the async AMD callback of a campaign call (AsyncAmdStatusCallback,
 * `?attempt=<id>`): AnsweredBy and MachineDetectionDuration arrive while the customer hears the
 * disclaimer. One round trip (campaign_amd_result, idempotent) records the result and decides:
 * a live person → an agent of the campaign reserved and the whisper played in the agent's room
 * (Conferences update AnnounceUrl → /voice/whisper); nobody free → the connect step waits or
 * abandons; a machine → hang up, or the voicemail drop at the beep (Calls update Url); an
 * opted-out number → hung up. A callback for a call discador does not know is acknowledged
 * (200) and changes nothing, so Twilio never retries it. Then a pacing round for the campaign
 * (a failure there never fails this request).
 */
import type twilio from 'twilio';
import { attemptId } from '../../lib/domain/call-events';
import { ANSWERED_BY, applyMachineDecision, startWhisper, type AmdDecision } from '../../lib/domain/campaign-calls';
import { tickForEvent } from '../../lib/domain/dialer/tick';
import { unwrap } from '../../lib/runtime/db';
import { webhookFunction } from '../../lib/runtime/handler';
import { parseParams } from '../../lib/runtime/params';
import { twilioClientOptions } from '../../lib/runtime/twilio-client';
import { int, oneOf, text } from '../../lib/runtime/validate';

/** The async AMD callback's parameters (twilio.com/docs/voice/answering-machine-detection). */
const amdParams = {
  CallSid: text({ pattern: /^CA[0-9a-f]{32}$/, message: 'must be CA followed by 32 hex characters' }),
  AccountSid: text({ pattern: /^AC[0-9a-f]{32}$/, message: 'must be AC followed by 32 hex characters' }).orElse(undefined),
  // A value discador does not know counts as unknown (the campaign's rule for unknown applies).
  AnsweredBy: oneOf(ANSWERED_BY).orElse('unknown' as const),
  MachineDetectionDuration: int(0, 600_000).orElse(undefined),
};

export const handler = webhookFunction(async ({ config, params, db, context }) => {
  const p = parseParams(amdParams, params);
  const decision = unwrap(
    await db.rpc<AmdDecision>('campaign_amd_result', {
      p_event: {
        call_sid: p.CallSid,
        account_sid: p.AccountSid ?? null,
        attempt_id: attemptId(params) ?? null,
        answered_by: p.AnsweredBy,
        amd_ms: p.MachineDetectionDuration ?? null,
        presence_seconds: config.AGENT_PRESENCE_SECONDS,
        params,
      },
    }),
  );
  if (decision.reason === 'unknown_call') {
    console.warn(`[discador] AMD callback for unknown call ${p.CallSid} (attempt ${params['attempt'] ?? 'none'}): ignored`);
    return { action: 'none', reason: 'unknown_call' };
  }
  // The runtime types name an older twilio package; the object is this project's twilio client.
  const client = context.getTwilioClient(twilioClientOptions(config.TWILIO_API_BASE_URL)) as unknown as twilio.Twilio;
  if (decision.action === 'whisper' && decision.agent) await startWhisper(client, config, decision.agent, p.CallSid);
  else if (decision.action === 'hangup' || decision.action === 'voicemail') await applyMachineDecision(client, config, decision, p.CallSid);
  if (decision.campaign_id) await tickForEvent({ db, twilio: client, config }, 'amd', decision.campaign_id);
  return { action: decision.action, reason: decision.reason ?? null };
});
