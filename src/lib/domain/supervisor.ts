/**
 * Supervisor actions: listen, whisper and barge on an agent's call as a participant of the
 * agent's room (conference `agent-<id>`), pausing / resuming / re-pacing a campaign, forcing an
 * agent to paused or offline, and the log of all of them. The decisions (who may, on what, what
 * is refused) are SQL functions (supervisor_*, supabase/migrations/*_supervisor_actions.sql)
 * that write the log in the same round trip; this module builds the Twilio requests and runs
 * the handlers the /api/supervisor functions share.
 *
 * Who hears whom (Twilio's Conference Participant resource,
 * twilio.com/docs/voice/api/conference-participant-resource): a muted participant is heard by
 * nobody and still hears everybody (listen); a coaching participant is heard only by the
 * participant whose CallSid is `callSidToCoach` and hears everybody (whisper; the coached call
 * must be in the conference); a participant neither muted nor coaching is heard by all (barge).
 */
import type twilio from 'twilio';
import type { Context, ServerlessCallback } from '@twilio-labs/serverless-runtime-types/types';
import { urlFor, type Config } from '../runtime/config';
import { unwrap, type Db } from '../runtime/db';
import { HttpError } from '../runtime/http';
import { apiFunction, ForbiddenRole, parseBody, type ApiInput } from '../runtime/api';
import { FieldError, Field, type Infer, type Shape } from '../runtime/validate';
import { within } from '../runtime/deadline';

export const MONITOR_MODES = ['listen', 'whisper', 'barge'] as const;
export type MonitorMode = (typeof MONITOR_MODES)[number];

/** What the log keeps of who acted: the session's user and the client's address. */
export interface SupervisorActor {
  user_id: string;
  email: string;
  role: string;
  address: string | null;
}

/** The actions the log names. */
export type SupervisorAction = 'monitor_start' | 'monitor_mode' | 'monitor_stop' | 'agent_status' | 'campaign';

/** The reason recorded when a supervisor pauses an agent without giving one (the agent's page shows it). */
export const DEFAULT_SUPERVISOR_PAUSE_REASON = 'Pausado pelo supervisor';

/** A monitor as the API answers it. */
export interface MonitorRow {
  monitor_id: number;
  call_sid: string;
  agent_id: number;
  mode: MonitorMode;
  status: 'dialing' | 'joined' | 'ended';
  endpoint: string;
  participant_call_sid: string | null;
}

/** The Voice SDK identity of a supervisor's (or admin's) browser: where a monitor without `to` rings. */
export function supervisorIdentity(userId: string): string {
  return `supervisor-${userId}`;
}

/** The participant label of a monitor's leg: how the room's callbacks tell it apart before its CallSid is stored. */
export function monitorLabel(monitorId: number): string {
  return `supervisor-${monitorId}`;
}

/** Muted / Coaching / CallSidToCoach of a mode, as Participants create and update take them. */
export function modeSettings(mode: MonitorMode, coachedCallSid: string): { muted: boolean; coaching: boolean; callSidToCoach?: string } {
  if (mode === 'listen') return { muted: true, coaching: false };
  if (mode === 'whisper') return { muted: false, coaching: true, callSidToCoach: coachedCallSid };
  return { muted: false, coaching: false };
}

/**
 * The Participants create request of a monitor. The supervisor's leg never ends the room
 * (endConferenceOnExit false: the room is the agent's shift), starts it if needed like every
 * participant (startConferenceOnEnter true), joins without a beep (the customer must not hear
 * anybody come in), and its call's status callbacks go to /webhooks/call-status with the monitor
 * id, where they only move the monitor row.
 */
export function participantCreateParams(
  config: Config,
  o: { monitorId: number; mode: MonitorMode; coachedCallSid: string; endpoint: string; from: string },
) {
  return {
    from: o.from,
    to: o.endpoint,
    label: monitorLabel(o.monitorId),
    beep: 'false',
    startConferenceOnEnter: true,
    endConferenceOnExit: false,
    timeout: 30,
    statusCallback: urlFor(config, `/webhooks/call-status?monitor=${o.monitorId}`),
    statusCallbackMethod: 'POST',
    statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
    ...modeSettings(o.mode, o.coachedCallSid),
  };
}

/** The Participants update request that switches a live monitor to `mode`. */
export function modeUpdateParams(mode: MonitorMode, coachedCallSid: string) {
  return modeSettings(mode, coachedCallSid);
}

/** A refusal the SQL functions answer ({error, message}), already logged. */
export class LoggedRefusal extends HttpError {
  readonly logged = true;
}

const STATUS_OF: Record<string, number> = {
  not_found: 404,
  call_ended: 409,
  no_agent: 409,
  monitor_ended: 409,
  agent_busy: 409,
  bad_request: 400,
  to_own_number: 400,
  to_opted_out: 400,
  whisper_unavailable: 409,
};

/** Throws the HTTP answer of a SQL refusal ({error, message}); answers the data otherwise. */
export function refusalOrData<T extends object>(out: T | { error: string; message?: string }, statusOf: (code: string) => number = (c) => STATUS_OF[c] ?? 409): T {
  if ('error' in out && typeof out.error === 'string') throw new LoggedRefusal(statusOf(out.error), out.error, out.message ?? out.error);
  return out as T;
}

/** The Twilio client of a function, pointed at TWILIO_API_BASE_URL when set. */
export type TwilioOf = () => twilio.Twilio;

/** What a supervisor handler gets: the /api input, the actor, and a way to log a refusal found in TypeScript. */
export interface SupervisorInput<B> extends ApiInput<B> {
  actor: SupervisorActor;
}

/**
 * An /api/supervisor function: supervisors and admins. An agent's session is refused 403
 * forbidden_role and a malformed body 400 bad_request; both are logged (with `targetOf` the
 * body's target as sent, when readable), as is any refusal the handler throws that the SQL did
 * not log already.
 */
export function supervisorFunction<S extends Shape>(
  spec: { action: SupervisorAction; body?: S; targetOf?: (event: Record<string, unknown>) => string },
  handle: (input: SupervisorInput<Infer<S>>) => Promise<object>,
) {
  return (context: Context, event: Record<string, unknown>, callback: ServerlessCallback): void =>
    apiFunction({ roles: ['admin', 'supervisor', 'agent'] }, async (input) => {
      const user = input.session!.user;
      const actor: SupervisorActor = { user_id: user.id, email: user.email, role: user.role, address: input.address };
      const target = () => (spec.targetOf ? spec.targetOf(event).slice(0, 200) : '');
      const log = (result: string, detail: object = {}) =>
        input.db.rpc('supervisor_log', { p_actor: actor, p_action: spec.action, p_target: target(), p_detail: detail, p_result: result });
      if (user.role !== 'admin' && user.role !== 'supervisor') {
        unwrap(await log('forbidden_role'));
        throw new ForbiddenRole();
      }
      let body: Infer<S>;
      try {
        body = (spec.body ? parseBody(spec.body, event) : {}) as Infer<S>;
      } catch (e) {
        if (e instanceof HttpError) unwrap(await log(e.code, { message: e.message.slice(0, 500) }));
        throw e;
      }
      try {
        return await handle({ ...input, body, actor });
      } catch (e) {
        if (e instanceof HttpError && !(e instanceof LoggedRefusal)) unwrap(await log(e.code, { message: e.message.slice(0, 500) }));
        throw e;
      }
    })(context, event, callback);
}

/** A body field given as text: its value when it is a string or number, else ''. */
export function rawField(event: Record<string, unknown>, name: string): string {
  const v = event[name];
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

/** A positive whole id in a JSON body (number or digits). */
export function positiveId(): Field<number> {
  return new Field((raw) => {
    if (raw === undefined) throw new FieldError('is required');
    if (!/^[1-9][0-9]{0,14}$/.test(raw.trim())) throw new FieldError('must be a positive whole number');
    return Number(raw);
  });
}

/** One of the monitor modes. */
export function monitorMode(): Field<MonitorMode> {
  return new Field((raw) => {
    if (raw === undefined) throw new FieldError('is required');
    if (!(MONITOR_MODES as readonly string[]).includes(raw)) throw new FieldError('must be listen, whisper or barge');
    return raw as MonitorMode;
  });
}

/** The Twilio error's code and status, for the log. */
export function twilioFailure(e: unknown): { twilio_status?: number; twilio_code?: number; message: string } {
  const x = e as { status?: unknown; code?: unknown; message?: unknown };
  return {
    twilio_status: typeof x.status === 'number' ? x.status : undefined,
    twilio_code: typeof x.code === 'number' ? x.code : undefined,
    message: (typeof x.message === 'string' ? x.message : String(e)).slice(0, 500),
  };
}

/** A 404 from Twilio: the participant (or its conference) is already gone. */
export function isGone(e: unknown): boolean {
  return (e as { status?: unknown }).status === 404;
}

/**
 * Twilio refused to add a participant because the conference is over: 404, or error 16022
 * "Conference does not exist or is completed" (twilio.com/docs/api/errors/16022).
 */
export function isRoomGone(e: unknown): boolean {
  return isGone(e) || (e as { code?: unknown }).code === 16022;
}

/**
 * Twilio refused coaching because the account does not use Agent Conference: error 16000
 * "Whisper Not Available on Twilio Conference" (twilio.com/docs/api/errors/16000). The account's
 * Voice → Settings → Conference page turns Agent Conference on.
 */
export function isWhisperUnavailable(e: unknown): boolean {
  return (e as { code?: unknown }).code === 16000;
}

/** The 409 whisper_unavailable answer (the account lacks Agent Conference). */
export const WHISPER_UNAVAILABLE_MESSAGE =
  'whisper needs Agent Conference on the Twilio account (Console: Voice, Settings, Conference); listen and barge work without it';

/**
 * A phone a supervisor may be called on: E.164 in Brazil (+55, then a 2-digit area code not
 * starting with 0 and 8 or 9 digits). The dialer calls Brazilian numbers only, from Brazilian
 * caller IDs; a foreign number would bridge a customer's call abroad.
 */
export function isSupervisorPhone(v: string): boolean {
  return /^\+55[1-9][0-9][0-9]{8,9}$/.test(v);
}

/**
 * Runs a supervisor SQL function whose refusals come back as {error, message} (already logged)
 * and answers its data, or throws the refusal's HTTP answer.
 */
export async function rpcOrRefuse<T extends object>(db: Db, fn: string, args: Record<string, unknown>): Promise<T> {
  return refusalOrData(await rpc<T | { error: string; message?: string }>(db, fn, args)) as T;
}

/** Runs a SQL function and unwraps its answer. */
export async function rpc<T>(db: Db, fn: string, args: Record<string, unknown>): Promise<T> {
  return unwrap(await db.rpc<T>(fn, args));
}

/** A supervisor to take out of an agent's room. */
export interface MonitorToRemove {
  monitor_id: number;
  conference_sid: string;
  /** The leg's CallSid or its label supervisor-<monitor id>: Participants delete takes either. */
  participant: string;
}

/**
 * Deletes each supervisor's participant from its room, all at once, each waiting at most
 * `timeoutMs`. Twilio's 404 (participant or room already gone) counts as removed. Never throws;
 * failures are logged and answered.
 */
export async function removeSupervisors(
  client: twilio.Twilio,
  list: MonitorToRemove[],
  timeoutMs = Infinity,
): Promise<{ removed: number[]; failed: { monitor_id: number; error: string }[] }> {
  const removed: number[] = [];
  const failed: { monitor_id: number; error: string }[] = [];
  await Promise.all(
    list.map(async (m) => {
      try {
        await within(client.conferences(m.conference_sid).participants(m.participant).remove(), timeoutMs);
        removed.push(m.monitor_id);
      } catch (e) {
        if (isGone(e)) removed.push(m.monitor_id);
        else failed.push({ monitor_id: m.monitor_id, error: twilioFailure(e).message });
      }
    }),
  );
  for (const f of failed) console.error(`[discador] supervisor of monitor ${f.monitor_id} not removed: ${f.error}`);
  return { removed: removed.sort((a, b) => a - b), failed };
}

/** How long a monitor may exist before the sweep looks at it (its start may still be under way). */
export const SWEEP_GRACE_SECONDS = 10;

/**
 * The heartbeat's sweep: takes every supervisor whose customer is gone out of the agent's room
 * (by the label supervisor-<monitor id>) and ends those monitors; a delete that fails leaves
 * the monitor for the next beat. Each delete waits at most `timeoutMs`.
 */
export async function sweepMonitors(deps: { db: Db; twilio: TwilioOf; timeoutMs?: number; limit?: number }): Promise<{ removed: number[]; failed: { monitor_id: number; error: string }[] }> {
  const stale = (await rpc<MonitorToRemove[] | null>(deps.db, 'supervisor_monitors_stale', { p_grace_seconds: SWEEP_GRACE_SECONDS, p_limit: deps.limit ?? 20 })) ?? [];
  if (stale.length === 0) return { removed: [], failed: [] };
  const out = await removeSupervisors(deps.twilio(), stale, deps.timeoutMs ?? 3000);
  if (out.removed.length) await rpc<number>(deps.db, 'supervisor_monitors_swept', { p_ids: out.removed });
  return out;
}
