import type { Config } from '../runtime/config';
import type { FollowMeChain } from './follow-me';
import type { DialTarget } from './twiml';

/** An agent as the database returns it with a routing decision. */
export interface RoutedAgent {
  id: number;
  name: string;
  phone_number: string | null;
  client_identity: string | null;
  status: string;
}

/**
 * What start_inbound_call answers. route: 'offer' (the owner of the number is reserved for this
 * call), 'follow-me' (the owner cannot take it now: their chain is in follow_me), 'none' (nobody
 * owns the number), 'queue' (a service number nobody owns: its callers wait in the service queue
 * `queue`). Older databases answer 'voicemail' (the owner works from the agent page but
 * cannot take it now) or 'ring' (the owner has no shift leg: ring their devices); absent: 'ring'.
 */
export interface InboundDecision {
  opted_out: boolean;
  route?: 'offer' | 'follow-me' | 'queue' | 'voicemail' | 'ring' | 'none';
  /** The service queue, with route 'queue'. */
  queue?: string | null;
  agent: RoutedAgent | null;
  follow_me?: FollowMeChain | null;
}

/** Where an inbound call goes after the disclaimer. */
export type InboundRoute =
  | { kind: 'reject' }
  | { kind: 'opted-out-message' }
  | { kind: 'dial'; target: DialTarget; agentId?: number }
  | { kind: 'offer'; agentId: number }
  | { kind: 'follow-me'; chain: FollowMeChain }
  | { kind: 'queue'; queue: string }
  | { kind: 'voicemail'; agentId?: number };

/**
 * Decides an inbound call's route. `decision` is null when the database could not be asked:
 * then the configured fallback number, else voicemail. A call to an agent's own number is
 * offered to the agent (waits in their queue) when the database reserved the agent for it;
 * otherwise it goes down the agent's follow-me chain (softphone, mobile with screening, then
 * voicemail or a queue: never a queue nobody answers).
 * Opted-out callers get OPT_OUT_INBOUND: continue (served as anyone), message, or reject.
 */
export function inboundRoute(decision: InboundDecision | null, config: Pick<Config, 'OPT_OUT_INBOUND' | 'FALLBACK_NUMBER'>): InboundRoute {
  if (decision?.opted_out) {
    if (config.OPT_OUT_INBOUND === 'reject') return { kind: 'reject' };
    if (config.OPT_OUT_INBOUND === 'message') return { kind: 'opted-out-message' };
  }
  if (decision?.agent && decision.route === 'offer') return { kind: 'offer', agentId: decision.agent.id };
  if (decision?.agent && decision.route === 'follow-me' && decision.follow_me) return { kind: 'follow-me', chain: decision.follow_me };
  if (decision?.agent && (decision.route === 'voicemail' || decision.route === 'follow-me')) return { kind: 'voicemail', agentId: decision.agent.id };
  if (!decision?.agent && decision?.route === 'queue' && decision.queue) return { kind: 'queue', queue: decision.queue };
  const target = agentTarget(decision?.agent ?? null);
  if (target) return { kind: 'dial', target, agentId: decision!.agent!.id };
  if (config.FALLBACK_NUMBER) return { kind: 'dial', target: { kind: 'number', number: config.FALLBACK_NUMBER } };
  return { kind: 'voicemail' };
}

/** The devices to ring for an agent, or null when the agent has none. */
export function agentTarget(agent: RoutedAgent | null): DialTarget | null {
  if (!agent || (!agent.phone_number && !agent.client_identity)) return null;
  return { kind: 'agent', phone: agent.phone_number, client: agent.client_identity };
}

/** The customer's number on a call: the caller on inbound calls, the callee otherwise (as Twilio sent it). */
export function customerNumber(params: { Direction?: string; From?: string; To?: string }): string | undefined {
  return params.Direction === 'inbound' ? params.From : params.To;
}
