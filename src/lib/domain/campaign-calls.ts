/**
 * A campaign call between answer and agent: what the AMD result and the end of the disclaimer
 * decide (SQL campaign_amd_result / campaign_connect_step), the REST requests that carry the
 * AMD decision out (whisper into the agent's room, hang up, voicemail drop), and the TwiML the
 * customer hears while waiting, when abandoned, and what an answering machine records.
 */
import twilio from 'twilio';
import { urlFor, type Config } from '../runtime/config';
import { ATTEMPT_PARAM } from './call-events';
import { MESSAGES } from './messages';
import { roomName } from './rooms';
import { say, sayAndHangUp } from './twiml';

type VoiceResponse = twilio.twiml.VoiceResponse;

/** The lead's context as campaign_whisper_data returns it. */
export interface WhisperData {
  name: string | null;
  fields: Record<string, unknown> | null;
  campaign_name: string;
  template: string | null;
}

/** What campaign_amd_result decided. */
export interface AmdDecision {
  action: 'whisper' | 'wait' | 'hangup' | 'voicemail' | 'none';
  reason?: string | null;
  call_sid?: string;
  attempt_id?: number;
  campaign_id?: number | null;
  agent?: { id: number; room_conference_sid: string | null; shift_call_sid: string | null } | null;
  whisper?: WhisperData | null;
}

/** What campaign_connect_step decided at the end of the disclaimer. */
export type ConnectStep =
  | { action: 'not_campaign'; answer: unknown }
  | { action: 'room'; agent_id: number; reserved_by: 'amd' | 'connect' | null }
  | { action: 'wait'; reason: 'amd_pending' | 'no_agent'; waited_ms: number }
  | { action: 'abandon'; treatment: 'callback' | 'queue' | 'hangup'; company_name: string | null }
  | { action: 'hangup'; reason: 'opted_out' | 'machine' | 'unknown' }
  | { action: 'voicemail'; reason: 'machine' };

/** AnsweredBy values Twilio sends (async AMD callback; MachineDetection Enable or DetectMessageEnd). */
export const ANSWERED_BY = ['human', 'machine_start', 'machine_end_beep', 'machine_end_silence', 'machine_end_other', 'fax', 'unknown'] as const;

/** The URL of the whisper document for a call (AnnounceUrl). */
export function whisperUrl(config: Config, callSid: string): string {
  return urlFor(config, `/voice/whisper?call=${encodeURIComponent(callSid)}`);
}

/** The URL of the voicemail drop of a dial attempt. */
export function voicemailDropUrl(config: Config, attemptId: number): string {
  return urlFor(config, `/voice/voicemail-drop?${ATTEMPT_PARAM}=${attemptId}`);
}

/** The connect step's URL (the end of the disclaimer, and every return from the hold). */
export function connectStepUrl(config: Config, attemptId: string | undefined): string {
  const q = new URLSearchParams({ step: 'connect' });
  if (attemptId) q.set(ATTEMPT_PARAM, attemptId);
  return urlFor(config, `/voice/outbound?${q.toString()}`);
}

/**
 * The conference SID of the agent's room: the one the room callbacks recorded, else the live
 * conference named agent-<id> (Conferences list by FriendlyName: update needs the SID).
 */
async function roomSid(client: twilio.Twilio, agent: NonNullable<AmdDecision['agent']>): Promise<string | null> {
  if (agent.room_conference_sid) return agent.room_conference_sid;
  const rooms = await client.conferences.list({ friendlyName: roomName(agent.id), limit: 20 });
  const live = rooms.find((c) => c.status === 'in-progress') ?? rooms.find((c) => c.status === 'init');
  return live?.sid ?? null;
}

/**
 * Plays the whisper to the agent's room (Conferences update AnnounceUrl: "the URL we call to
 * announce something into the conference", twilio.com/docs/voice/api/conference-resource).
 * The agent is alone in the room (the customer is still hearing the disclaimer), so only the
 * agent hears it. A failure is logged: the customer is still connected, the agent page shows
 * the same context.
 */
export async function startWhisper(
  client: twilio.Twilio,
  config: Config,
  agent: NonNullable<AmdDecision['agent']>,
  callSid: string,
  announceUrl: string = whisperUrl(config, callSid),
): Promise<boolean> {
  try {
    const sid = await roomSid(client, agent);
    if (!sid) {
      console.error(`[discador] whisper for call ${callSid}: agent ${agent.id} has no live room`);
      return false;
    }
    await client.conferences(sid).update({ announceUrl, announceMethod: 'POST' });
    return true;
  } catch (e) {
    console.error(`[discador] whisper for call ${callSid} not started: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
}

/**
 * Carries out a machine decision on the live call: hang up (Calls update Status=completed), or
 * redirect to the voicemail drop (Calls update Url; with DetectMessageEnd the AMD result comes at
 * the beep, twilio.com/docs/voice/answering-machine-detection). An opted-out number hears why
 * it is hung up on. Failures are logged (the call may have ended meanwhile).
 */
export async function applyMachineDecision(client: twilio.Twilio, config: Config, decision: AmdDecision, callSid: string): Promise<void> {
  try {
    if (decision.action === 'voicemail' && decision.attempt_id) {
      await client.calls(callSid).update({ url: voicemailDropUrl(config, decision.attempt_id), method: 'POST' });
    } else if (decision.action === 'hangup' && decision.reason === 'opted_out') {
      await client.calls(callSid).update({ twiml: sayAndHangUp(config, MESSAGES.outboundOptedOut).toString() });
    } else if (decision.action === 'hangup') {
      await client.calls(callSid).update({ status: 'completed' });
    }
  } catch (e) {
    console.error(`[discador] AMD ${decision.action} on call ${callSid} not applied: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * A live customer waiting for an agent within the grace: a short spoken hold (never silence),
 * then back to the connect step, which connects, holds again, or abandons.
 */
export function holdTwiml(config: Config, attemptId: string | undefined): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  say(twiml, config, MESSAGES.campaignHold);
  twiml.redirect({ method: 'POST' }, connectStepUrl(config, attemptId));
  return twiml;
}

/**
 * An abandoned customer: one short sentence naming the company (the campaign's, else
 * COMPANY_NAME), a callback promised unless the campaign hangs up on abandons, then the call
 * ends. With the treatment 'queue' the customer is not hung up on: they wait in the default
 * service queue (/voice/queue?queue=geral&source=campaign) for the next free agent; the call
 * still counts as abandoned for the pacer's abandon rate (no agent within the grace).
 */
export function abandonTwiml(config: Config, step: { treatment: string; company_name: string | null }): VoiceResponse {
  if (step.treatment === 'queue') {
    const twiml = new twilio.twiml.VoiceResponse();
    twiml.redirect({ method: 'POST' }, urlFor(config, '/voice/queue?queue=geral&source=campaign'));
    return twiml;
  }
  const company = step.company_name ?? config.COMPANY_NAME ?? null;
  return sayAndHangUp(config, MESSAGES.campaignAbandoned(company, step.treatment !== 'hangup'));
}

/** The voicemail drop: the campaign's audio, else its text, else the default message; then hang up. */
export function voicemailDropTwiml(config: Config, drop: { audio: string | null; text: string | null; company_name: string | null } | null): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  if (drop?.audio) twiml.play(urlFor(config, drop.audio));
  else if (drop) say(twiml, config, drop.text ?? MESSAGES.voicemailDrop(drop.company_name ?? config.COMPANY_NAME ?? null));
  twiml.hangup();
  return twiml;
}
