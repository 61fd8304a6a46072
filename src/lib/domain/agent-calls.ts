/**
 * What an agent does to a call from the page: call a customer from their own number, answer
 * an offered customer, hang up the customer, hold or release them. Each checks first that the
 * call is this agent's (agent_call_context / agent_answer_offer), then asks Twilio. The /api
 * functions are thin wrappers around these.
 */
import type twilio from 'twilio';
import { urlFor, type Config } from '../runtime/config';
import { unwrap, type Db } from '../runtime/db';
import { HttpError } from '../runtime/http';
import { roomName } from './rooms';

/** What the call-control endpoints read about an agent (agent_call_context). */
export interface AgentCallContext {
  agent_id: number;
  status: string;
  current_call_sid: string | null;
  shift_call_sid: string | null;
  room_conference_sid: string | null;
  own_number: string | null;
}

export interface AgentCallDeps {
  db: Db;
  twilio: twilio.Twilio;
  config: Config;
}

/** A refusal with a stable code for the /api answer. */
function refuse(status: number, code: string, message: string): HttpError {
  return new HttpError(status, code, message);
}

async function context(db: Db, agentId: number): Promise<AgentCallContext> {
  const ctx = unwrap(await db.rpc<AgentCallContext | null>('agent_call_context', { p_agent_id: agentId }));
  if (!ctx) throw refuse(404, 'not_found', 'this agent does not exist or is disabled');
  return ctx;
}

/** Twilio's HTTP status of a REST failure, when it is a refusal (4xx). */
function twilioStatus(e: unknown): number | null {
  const status = (e as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : null;
}

/**
 * Click-to-call: the one dialing path (placeCall: opt-out refusal, dial attempt row) with the
 * agent's own number as caller ID and the agent on the call, so /voice/outbound puts the
 * customer into the agent's room after the disclaimer. The agent is reserved for the call.
 * Refusals: 409 agent_busy (not available with a live, present shift leg), 409 conflict (no own number, its daily cap),
 * 409 opted_out (nothing placed), 400 bad_request (not a number), 502 twilio_refused.
 */
export async function clickToCall(deps: AgentCallDeps, agentId: number, to: string): Promise<{ call_sid: string; attempt_id: number; status: 'queued' }> {
  const ctx = await context(deps.db, agentId);
  if (ctx.status === 'reserved' || ctx.status === 'busy') throw refuse(409, 'agent_busy', 'finish the current call first');
  if (!ctx.own_number) throw refuse(409, 'conflict', 'this agent has no number of their own to call from');
  // Loaded on the first click-to-call, not when the function starts: placeCall's number
  // parsing brings the phone-number metadata, which the other call controls never need.
  const [{ placeCall }, { parsePhone }] = await Promise.all([import('./dialer'), import('./phone')]);
  // An agent calls Brazilian customers: a number abroad or a premium-rate line (0900) is a
  // typo or abuse, never a customer, and costs the team money.
  const parsed = parsePhone(to);
  if (parsed.ok && !parsed.e164.startsWith('+55')) throw refuse(400, 'bad_request', 'only Brazilian numbers can be called from the agent page');
  if (parsed.ok && parsed.type === 'PREMIUM_RATE') throw refuse(400, 'bad_request', 'premium-rate numbers (0900) cannot be called');
  // The agent is reserved atomically with the dial attempt (start_dial_attempt), before Twilio
  // is asked: a second click meanwhile is refused, and a call that is not placed releases it.
  const r = await placeCall(deps, { to, callerId: ctx.own_number, agentId, reserveAgent: true });
  if (!r.placed) {
    switch (r.reason) {
      case 'opted_out':
        throw refuse(409, 'opted_out', 'this number is on the opt-out list and cannot be called');
      case 'invalid_number':
        throw refuse(400, 'bad_request', r.detail);
      case 'agent_busy':
        throw refuse(409, 'agent_busy', 'you can call only when not on a call, not offline, with the softphone connected');
      case 'cps_limit':
        throw refuse(429, 'cps_limit', r.detail);
      case 'twilio_refused':
        throw refuse(502, 'twilio_refused', r.detail);
      default:
        throw refuse(409, 'conflict', r.detail);
    }
  }
  // The reservation learns the CallSid; should this write fail, /voice/outbound finds the
  // reservation by the attempt id all the same.
  const reserved = await deps.db
    .rpc('agent_reserve_outbound', { p_agent_id: agentId, p_call_sid: r.callSid, p_attempt_id: r.attemptId })
    .catch((e: unknown) => ({ error: { message: e instanceof Error ? e.message : String(e) } }));
  if (reserved.error) console.error(`[discador] click-to-call ${r.callSid} of agent ${agentId} not attached to the reservation: ${reserved.error.message}`);
  return { call_sid: r.callSid, attempt_id: r.attemptId, status: 'queued' };
}

/** How long an answer waits for the customer to reach the queue (the disclaimer is ~6 s). */
export const ANSWER_WAIT_MS = 6000;
const ANSWER_POLL_MS = 250;

/** The URL that puts a customer into an agent's room. */
export function connectUrl(config: Config, agentId: number): string {
  return urlFor(config, `/voice/connect?agent=${agentId}`);
}

/**
 * The agent answers the customer offered to them: reserved → busy (refused with 409
 * offer_gone when the offer is not theirs or is over; an answer given while the customer still
 * hears the disclaimer waits for them to reach the queue, up to ANSWER_WAIT_MS, else 409
 * offer_not_ready), then the customer's call is redirected
 * from the queue to /voice/connect, which puts them in the room. When Twilio says the call is
 * gone, the agent is released and the answer is 409 offer_gone; when Twilio cannot be asked
 * (network, 5xx) the agent is put back on the offer and the answer is 502 twilio_unavailable.
 */
export async function answerOffer(deps: AgentCallDeps, agentId: number, callSid: string): Promise<{ ok: true }> {
  const deadline = Date.now() + ANSWER_WAIT_MS;
  let taken = unwrap(await deps.db.rpc<{ ok: boolean; reason?: string }>('agent_answer_offer', { p_agent_id: agentId, p_call_sid: callSid }));
  // Answered while the customer still hears the disclaimer: the answer waits for its end.
  while (!taken.ok && taken.reason === 'not_waiting_yet' && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, ANSWER_POLL_MS));
    taken = unwrap(await deps.db.rpc<{ ok: boolean; reason?: string }>('agent_answer_offer', { p_agent_id: agentId, p_call_sid: callSid }));
  }
  if (!taken.ok && taken.reason === 'not_waiting_yet') throw refuse(409, 'offer_not_ready', 'the customer is still hearing the recording notice; answer again in a moment');
  if (!taken.ok) throw refuse(409, 'offer_gone', 'this call is no longer waiting for you');
  try {
    await deps.twilio.calls(callSid).update({ url: connectUrl(deps.config, agentId), method: 'POST' });
  } catch (e) {
    if (twilioStatus(e) === null) {
      // Twilio could not be asked (network, 5xx): the customer still waits in the queue, so
      // the agent is put back on the offer (or freed when the call is over) and may try again.
      unwrap(await deps.db.rpc('agent_answer_failed', { p_agent_id: agentId, p_call_sid: callSid }));
      console.error(`[discador] answer of call ${callSid} by agent ${agentId} not sent to Twilio: ${e instanceof Error ? e.message : String(e)}`);
      throw refuse(502, 'twilio_unavailable', 'the call could not be moved to your room; try answering again');
    }
    unwrap(await deps.db.rpc('agent_customer_left', { p_call_sid: callSid, p_wrap_up_seconds: 0 }));
    throw refuse(409, 'offer_gone', 'the customer hung up');
  }
  return { ok: true };
}

/** The customer call the agent is on, or 409 conflict when `callSid` is not it. */
async function currentCall(db: Db, agentId: number, callSid: string): Promise<AgentCallContext> {
  const ctx = await context(db, agentId);
  if (ctx.current_call_sid !== callSid || !['reserved', 'busy'].includes(ctx.status)) {
    throw refuse(409, 'conflict', 'this is not the call you are on');
  }
  return ctx;
}

/**
 * Hangs up the agent's current customer call (never the shift leg, which stays in the room).
 * A call Twilio says is already over counts as hung up.
 */
export async function hangUpCustomer(deps: AgentCallDeps, agentId: number, callSid: string): Promise<{ ok: true }> {
  await currentCall(deps.db, agentId, callSid);
  try {
    await deps.twilio.calls(callSid).update({ status: 'completed' });
  } catch (e) {
    if (twilioStatus(e) === null) throw e;
  }
  return { ok: true };
}

/**
 * Holds or releases the customer in the agent's room (Participants update Hold, hold music
 * from the hold-music asset: Twilio's HoldUrl takes an MP3 or TwiML). The room's conference
 * SID comes from the conference callbacks, else from the Conferences list by name.
 */
export async function holdCustomer(deps: AgentCallDeps, agentId: number, callSid: string, hold: boolean): Promise<{ ok: true }> {
  const ctx = await currentCall(deps.db, agentId, callSid);
  if (ctx.status !== 'busy') throw refuse(409, 'conflict', 'the customer is not in your room yet');
  let conferenceSid = ctx.room_conference_sid;
  if (!conferenceSid) {
    const [room] = await deps.twilio.conferences.list({ friendlyName: roomName(agentId), status: 'in-progress', limit: 1 });
    conferenceSid = room?.sid ?? null;
  }
  if (!conferenceSid) throw refuse(409, 'conflict', 'your room is not open');
  try {
    await deps.twilio
      .conferences(conferenceSid)
      .participants(callSid)
      .update(hold ? { hold: true, holdUrl: urlFor(deps.config, '/hold-music.mp3'), holdMethod: 'GET' } : { hold: false });
  } catch (e) {
    if (twilioStatus(e) === null) throw e;
    throw refuse(409, 'conflict', 'the customer is not in your room');
  }
  return { ok: true };
}
