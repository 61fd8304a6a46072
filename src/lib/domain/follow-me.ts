/**
 * Follow-me: a call to an agent's own number that the agent cannot take from the page goes
 * down the agent's chain, one hop at a time: the softphone (`<Client>`), then the agent's
 * mobile with screening (`<Number url>`: the mobile must press 1, so the mobile's own voicemail
 * picking up counts as no answer), then the agent's voicemail or a service queue. Each hop's
 * Dial action (/voice/follow-me) logs the hop's outcome and moves to the next one.
 */
import twilio from 'twilio';
import { urlFor, type Config } from '../runtime/config';
import { MESSAGES } from './messages';
import { addVoicemail, say } from './twiml';

type VoiceResponse = twilio.twiml.VoiceResponse;

/** The hops that ring somebody, in chain order. */
export const HOP_KINDS = ['softphone', 'mobile'] as const;
export type HopKind = (typeof HOP_KINDS)[number];

export type FollowMeHop = { kind: 'softphone'; client: string; seconds: number } | { kind: 'mobile'; number: string; seconds: number };
export type FollowMeFinal = { kind: 'voicemail' } | { kind: 'queue'; queue: string };

/** An agent's chain as the database gives it (follow_me_chain). */
export interface FollowMeChain {
  agent_id: number;
  agent_name: string;
  hops: FollowMeHop[];
  final: FollowMeFinal;
}

/**
 * Twilio rings a Dial verb 5 seconds longer than its timeout: "Twilio adds a 5-second buffer
 * to the timeout value you provide" (Calls create `Timeout`, twilio.com/docs/voice/api/call-resource;
 * the same buffer on the Dial verb's timeout is recorded in shared/reference/twilio.md and modelled by
 * the emulator, emulator/README.md "Ring timeout buffer").
 */
export const TWILIO_RING_BUFFER_SECONDS = 5;
/** The Dial verb's timeout bounds Twilio accepts (emulator/README.md TwiML table: 5–600). */
export const DIAL_TIMEOUT_MIN = 5;
export const DIAL_TIMEOUT_MAX = 600;

/**
 * The Dial verb's timeout that makes a hop ring for `ringSeconds` in real time: the configured
 * seconds minus Twilio's buffer, within Twilio's bounds (a setting under 10 s therefore rings
 * 10 s: the settings table does not allow it).
 */
export function dialTimeout(ringSeconds: number): number {
  const t = Math.round(ringSeconds) - TWILIO_RING_BUFFER_SECONDS;
  return Math.min(DIAL_TIMEOUT_MAX, Math.max(DIAL_TIMEOUT_MIN, t));
}

/** The ring time a hop really gets for a Dial timeout (what the caller waits at most). */
export function realRingSeconds(timeout: number): number {
  return timeout + TWILIO_RING_BUFFER_SECONDS;
}

/** The step after `after` (the first step when absent): the next hop that exists, else the final one. */
export function nextStep(chain: FollowMeChain, after?: HopKind): FollowMeHop | FollowMeFinal {
  const from = after === undefined ? -1 : HOP_KINDS.indexOf(after);
  return chain.hops.find((h) => HOP_KINDS.indexOf(h.kind) > from) ?? chain.final;
}

/** A hop's Dial action: /voice/follow-me with the agent and the hop that just ended. */
export function followMeActionUrl(config: Config, agentId: number, hop: HopKind): string {
  return urlFor(config, `/voice/follow-me?${new URLSearchParams({ agent: String(agentId), hop }).toString()}`);
}

/** The mobile's whisper document (`<Number url>`) and, with step=key, its Gather action. */
export function screenUrl(config: Config, agentId: number, step?: 'key'): string {
  const q = new URLSearchParams({ agent: String(agentId) });
  if (step) q.set('step', step);
  return urlFor(config, `/voice/screen?${q.toString()}`);
}

/** Where the final hop to a queue goes: the service queue's URL, marked as this agent's follow-me. */
export function queueRedirectUrl(config: Config, queue: string, agentId: number): string {
  return urlFor(config, `/voice/queue?${new URLSearchParams({ queue, agent: String(agentId) }).toString()}`);
}

/**
 * A hop's Dial is recorded dual-channel from the answer (the caller on one channel, the agent on
 * the other), like every connected call; the recording callback stores it.
 */
function hopDialAttributes(config: Config, agentId: number, hop: FollowMeHop) {
  return {
    timeout: dialTimeout(hop.seconds),
    action: followMeActionUrl(config, agentId, hop.kind),
    method: 'POST' as const,
    record: 'record-from-answer-dual' as const,
    recordingStatusCallback: urlFor(config, '/webhooks/recording'),
    recordingStatusCallbackMethod: 'POST' as const,
    recordingStatusCallbackEvent: ['completed', 'absent'] as ('completed' | 'absent')[],
  };
}

/** Appends the step after `after` (the first when absent) of the agent's chain. */
export function addFollowMeStep(twiml: VoiceResponse, config: Config, chain: FollowMeChain, after?: HopKind): void {
  const step = nextStep(chain, after);
  switch (step.kind) {
    case 'softphone':
      twiml.dial(hopDialAttributes(config, chain.agent_id, step)).client(step.client);
      return;
    case 'mobile':
      twiml.dial(hopDialAttributes(config, chain.agent_id, step)).number({ url: screenUrl(config, chain.agent_id), method: 'POST' }, step.number);
      return;
    case 'queue':
      twiml.redirect({ method: 'POST' }, queueRedirectUrl(config, step.queue, chain.agent_id));
      return;
    case 'voicemail':
      addVoicemail(twiml, config, { agentId: chain.agent_id });
      return;
  }
}

/** A hop's outcome, from the Dial action's DialCallStatus. */
export type HopOutcome = 'answered' | 'no-answer' | 'busy' | 'failed' | 'canceled';

export function hopOutcome(dialCallStatus: string | undefined): HopOutcome {
  switch (dialCallStatus) {
    case 'completed':
    case 'answered':
      return 'answered';
    case 'busy':
    case 'failed':
    case 'canceled':
      return dialCallStatus;
    default:
      return 'no-answer';
  }
}

/** How long the mobile has to press a key after the prompt, seconds (Gather timeout). */
export const SCREEN_KEY_SECONDS = 6;

/**
 * The mobile's whisper (the Number noun's url): a document there may hold only Play, Say,
 * Gather and Hangup (twilio.com/docs/voice/twiml/number, attribute "url"; emulator/README.md
 * conformance row). The prompt is said twice inside one Gather; no key → a Hangup verb, which
 * the caller's Dial sees as no answer. A mobile's own
 * voicemail never presses 1, so it is no answer too.
 */
export function screenTwiml(config: Config | null, agentName: string | null, keyAction: string): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  const gather = twiml.gather({ input: ['dtmf'], numDigits: 1, timeout: SCREEN_KEY_SECONDS, action: keyAction, method: 'POST' });
  say(gather, config, MESSAGES.followMeScreen(agentName));
  say(gather, config, MESSAGES.followMeScreen(agentName));
  twiml.hangup();
  return twiml;
}

/** The Gather action of the screening: 1 → a word and the bridge (the document ends); any other key → hang up (no answer). */
export function screenKeyTwiml(config: Config | null, digits: string | undefined): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  if (digits === '1') say(twiml, config, MESSAGES.followMeConnecting);
  else twiml.hangup();
  return twiml;
}
