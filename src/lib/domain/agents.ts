/**
 * An agent's working state as the API and the agent page see it: which statuses an agent may
 * choose and when (the configured lists of pause reasons and disposition codes are read by
 * pauseReasons/dispositionCodes in runtime/config), what a refusal from the database means, and the JSON types of every agent endpoint's answer (the page
 * imports them from here).
 */
import { unwrap, type RpcResult } from '../runtime/db';
import { HttpError } from '../runtime/http';

/** Every status an agent can be in (agents.status). */
export const AGENT_STATUSES = ['offline', 'available', 'reserved', 'busy', 'wrap_up', 'paused'] as const;
/** An agent's status. */
export type AgentStatus = (typeof AGENT_STATUSES)[number];

/** The statuses an agent may choose; reserved, busy and wrap_up are set by the call flows. */
export const CHOOSABLE_STATUSES = ['available', 'paused', 'offline'] as const;
/** A status an agent may choose. */
export type ChoosableStatus = (typeof CHOOSABLE_STATUSES)[number];

/** Longest disposition note (call_dispositions.notes). */
export const MAX_DISPOSITION_NOTES = 2000;

/** Whether an agent may choose a status, and if not why: the rule agent_set_status enforces. */
export type StatusChoice = { ok: true } | { ok: false; refusal: 'agent_busy' | 'bad_request'; message: string };

/**
 * Why a status request is malformed whatever the agent's state, or null: the status must be
 * one an agent may choose; paused needs a reason from `allowed`; other statuses take none.
 */
export function statusRequestProblem(next: string, reason: string | null | undefined, allowed: readonly string[]): string | null {
  if (!(CHOOSABLE_STATUSES as readonly string[]).includes(next)) return `status must be one of ${CHOOSABLE_STATUSES.join(', ')}`;
  const r = reason?.trim() || null;
  if (next === 'paused') {
    if (!r) return 'paused needs a reason';
    if (!allowed.includes(r)) return `reason must be one of ${allowed.join(', ')}`;
  } else if (r) {
    return 'a reason is only given with paused';
  }
  return null;
}

/**
 * Whether an agent in `current` may leave it for the choosable status `next`: from offline,
 * available, paused or wrap_up, yes; a reserved agent only for offline (the offered customer
 * is routed elsewhere); a busy agent (a customer connected) never.
 */
export function mayLeave(current: AgentStatus, next: ChoosableStatus): boolean {
  if (current === 'busy') return false;
  if (current === 'reserved') return next === 'offline';
  return true;
}

/**
 * Decides a status request in full, as agent_set_status does in the database: the request's
 * own problems first (400), then whether the current status may be left (409 agent_busy).
 */
export function statusChoice(current: AgentStatus, next: string, reason: string | null | undefined, allowed: readonly string[]): StatusChoice {
  const problem = statusRequestProblem(next, reason, allowed);
  if (problem) return { ok: false, refusal: 'bad_request', message: problem };
  if (!mayLeave(current, next as ChoosableStatus)) {
    return { ok: false, refusal: 'agent_busy', message: current === 'busy' ? 'a customer is connected: finish the call first' : 'a customer is being offered to this agent' };
  }
  return { ok: true };
}

/** SQLSTATEs of the agent SQL functions' refusals (see 20261126090200_agent_state.sql). */
export const AGENT_SQLSTATE = { badRequest: 'DA400', notFound: 'DA404', busy: 'DA409' } as const;

/** The API error a refusal of the agent SQL functions becomes, or null for any other SQLSTATE. */
export function agentRefusal(sqlstate: string): { status: number; code: string; message: string } | null {
  switch (sqlstate) {
    case AGENT_SQLSTATE.badRequest:
      return { status: 400, code: 'bad_request', message: 'the request breaks an agent status rule' };
    case AGENT_SQLSTATE.notFound:
      return { status: 404, code: 'not_found', message: 'not found for this agent' };
    case AGENT_SQLSTATE.busy:
      return { status: 409, code: 'agent_busy', message: 'the agent is reserved for or talking to a customer' };
    default:
      return null;
  }
}

/**
 * The data of an agent SQL function's result: its own refusals (DA400/DA404/DA409) become
 * the API's 400 bad_request, 404 not_found and 409 agent_busy; anything else as unwrap.
 */
export function unwrapAgent<T>(result: RpcResult<T>): T {
  if (result.error) {
    const refusal = agentRefusal(result.error.code);
    if (refusal) throw new HttpError(refusal.status, refusal.code, refusal.message);
  }
  return unwrap(result);
}

/** The refusals agent_poll answers instead of a state when the session does not allow the poll. */
export const POLL_ERRORS = {
  session_expired: { status: 401, message: 'the session has expired or was ended; sign in again' },
  forbidden_role: { status: 403, message: 'this is not available to your role' },
} as const;

/** What agent_poll answers: the state, or why the session does not allow it. */
export type PollAnswer = AgentStateResponse | { error: keyof typeof POLL_ERRORS };

/** The state of a poll, or the 401/403 its session gets. */
export function pollResult(answer: PollAnswer): AgentStateResponse {
  if ('error' in answer) {
    const e = POLL_ERRORS[answer.error] ?? POLL_ERRORS.session_expired;
    throw new HttpError(e.status, answer.error in POLL_ERRORS ? answer.error : 'session_expired', e.message);
  }
  return answer;
}

/**
 * Parses callback_at: an ISO 8601 date-time with a zone, from now to a year ahead. Returns
 * the instant as ISO, or a problem.
 */
export function parseCallbackAt(raw: string, now = Date.now()): { ok: true; value: string } | { ok: false; problem: string } {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)) {
    return { ok: false, problem: 'must be an ISO 8601 date-time with a zone, like 2026-11-27T14:00:00-03:00' };
  }
  const t = Date.parse(raw);
  if (!Number.isFinite(t)) return { ok: false, problem: 'is not a real date' };
  // A day's calendar must hold the date (2026-02-31 is refused, not rolled over).
  const [y, m, d] = raw.slice(0, 10).split('-').map(Number) as [number, number, number];
  if (new Date(Date.UTC(y, m - 1, d)).getUTCDate() !== d) return { ok: false, problem: 'is not a real date' };
  if (t < now - 60_000) return { ok: false, problem: 'must not be in the past' };
  if (t > now + 366 * 86_400_000) return { ok: false, problem: 'must be within a year' };
  return { ok: true, value: new Date(t).toISOString() };
}

// --- The JSON answers of the agent endpoints -------------------------------------------------

/** An agent as the page shows it (POST /api/agent/status, GET /api/agent/state). */
export interface AgentView {
  id: number;
  name: string;
  status: AgentStatus;
  status_since: string;
  pause_reason: string | null;
  wrap_up_until: string | null;
  current_call_sid: string | null;
  /** The softphone's shift leg is in the agent's room. */
  shift_connected: boolean;
  last_seen_at: string | null;
  /** Routing may send a customer now (available, present, shift leg in the room). */
  routable: boolean;
}

/** POST /api/agent/status → */
export interface AgentStatusResponse {
  agent: AgentView;
}

/** A customer offered to the agent: the page rings until "Atender" or the offer ends. */
export interface AgentOffer {
  call_sid: string;
  from: string | null;
  since: string;
}

/** A lead on the screen pop: the fields the campaign imported, and its campaign. */
export interface AgentLead {
  id: number;
  name: string | null;
  external_id: string | null;
  fields: Record<string, unknown>;
  campaign: { id: number; name: string; kind: string } | null;
}

/** An earlier call with the same customer, with its disposition. */
export interface AgentCallHistoryItem {
  call_sid: string;
  at: string;
  direction: string | null;
  status: string;
  duration: number | null;
  agent: string | null;
  disposition: string | null;
  notes: string | null;
}

/** The customer the agent is reserved for, talking to or wrapping up. */
export interface AgentCall {
  call_sid: string;
  direction: string | null;
  /** The customer's number: the caller on inbound calls, the callee otherwise. */
  customer: string | null;
  status: string;
  started_at: string;
  answered_at: string | null;
  ended_at: string | null;
  lead: AgentLead | null;
  disposition: { code: string; notes: string | null; callback_at: string | null } | null;
  history: AgentCallHistoryItem[];
}

/** A customer waiting for this agent. */
export interface AgentWaiting {
  call_sid: string;
  from: string | null;
  since: string;
  wait_seconds: number;
}

/** A message left on the agent's voicemail, or on a service queue's (the team's). */
export interface AgentVoicemail {
  /** recordings.id: what /api/recordings/listen takes. */
  recording_id: number;
  recording_sid: string;
  call_sid: string;
  from_number: string | null;
  at: string;
  duration: number | null;
  /** The transcription, where the account has one. */
  transcription: string | null;
  /** The recording's S3 copy is verified (and not deleted since). */
  stored: boolean;
  /** The service queue whose voicemail this is; null for the agent's own. */
  queue_name: string | null;
}

/** A text message (SMS or WhatsApp) for the agent, or for the team (for_team). */
export interface AgentMessage {
  id: number;
  channel: 'sms' | 'whatsapp';
  from_number: string;
  to_number: string;
  body: string;
  at: string;
  read_at: string | null;
  for_team: boolean;
}

/** POST /api/agent/messages/read → */
export interface AgentMessageReadResponse {
  id: number;
  read_at: string;
}

/** An inbound call to the agent that ended without being connected. */
export interface AgentMissedCall {
  call_sid: string;
  from: string | null;
  at: string;
  status: string;
  /** The caller left a message. */
  voicemail: boolean;
}

/** GET /api/agent/state → (the poll; also the presence heartbeat) */
export interface AgentStateResponse {
  agent: AgentView;
  offer: AgentOffer | null;
  call: AgentCall | null;
  waiting: AgentWaiting[];
  voicemails: AgentVoicemail[];
  /** Unread first, then newest; at most 20. */
  messages: AgentMessage[];
  /** All unread messages of the agent and the team (may exceed the list). */
  messages_unread: number;
  missed: AgentMissedCall[];
  server_time: string;
}

/** POST /api/agent/disposition → */
export interface AgentDispositionResponse {
  disposition: {
    call_sid: string;
    code: string;
    notes: string | null;
    callback_at: string | null;
    created_at: string;
    updated_at: string;
  };
}

/** GET /api/voice-token → */
export interface VoiceTokenResponse {
  token: string;
  identity: string;
  expires_at: string;
  ttl_seconds: number;
}
