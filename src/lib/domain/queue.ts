/**
 * The overflow queue (docs/queue.md): callers of a service number, of an agent's follow-me, or
 * campaign customers no agent could take wait in a named service queue (`<Enqueue>`), hear
 * where they stand and hold music, may press a key for a callback or a voicemail, and are
 * handed to the next agent who becomes free: a whisper in the agent's room, then the call is
 * redirected into the room. The URLs, the TwiML of every step and the hand-over are here.
 */
import twilio from 'twilio';
import { urlFor, type Config } from '../runtime/config';
import type { Db } from '../runtime/db';
import { startWhisper } from './campaign-calls';
import { MESSAGES } from './messages';
import { addVoicemail, say, sayAndHangUp } from './twiml';

type VoiceResponse = twilio.twiml.VoiceResponse;

/** A service queue's name: lower-case letters, digits, `_` and `-`, at most 40. */
export const QUEUE_NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;
/** The default service queue. */
export const DEFAULT_QUEUE = 'geral';
/** Length of src/assets/queue-music.wav (scripts/make-queue-music.ts), seconds. */
export const QUEUE_MUSIC_SECONDS = 10;
/** Characters per second of pt-BR speech, to fit the music after an announcement into the interval. */
export const SPEECH_CHARS_PER_SECOND = 15;
/** The queue's default hold music. */
export const QUEUE_MUSIC_ASSET = '/queue-music.wav';
/** A hand-over not connected within this many seconds is undone by the next dispatch. */
export const HANDOVER_STALE_SECONDS = 30;
/** At most this many callers handed out per dispatch (one event frees one agent, mostly). */
export const DISPATCH_MAX = 5;

/** What callers and agents hear in the queue, pt-BR. */
export const QUEUE_MESSAGES = {
  position: (position: number) =>
    position <= 1 ? 'Você é o próximo a ser atendido.' : `Há ${position - 1} ${position - 1 === 1 ? 'pessoa' : 'pessoas'} na sua frente.`,
  estimate: (spoken: string) => `O tempo estimado de espera é de ${spoken}.`,
  callbackKey: (key: string) => `Para receber uma ligação de volta, digite ${key}.`,
  voicemailKey: (key: string) => `Para deixar um recado, digite ${key}.`,
  pleaseHold: 'Por favor, aguarde na linha.',
  connecting: 'Um momento, vamos transferir você para um atendente.',
  callbackConfirmed: 'Pronto. Vamos ligar para você em breve neste número. Obrigado e até logo.',
  maxWaitMenu: (cb: string, vm: string) =>
    `Nossos atendentes continuam ocupados. Para receber uma ligação de volta, digite ${cb}. Para deixar um recado, digite ${vm}.`,
  whisper: (waited: string, queue: string) => `Cliente aguardando há ${waited}, fila ${queue}.`,
} as const;

/** A queue's settings as the database returns them (queue_json). */
export interface QueueSettings {
  name: string;
  announce_every_seconds: number;
  max_wait_seconds: number;
  on_max_wait: 'voicemail' | 'callback' | 'both';
  service_level_seconds: number;
  callback_key: string;
  voicemail_key: string;
  hold_music: string;
  agent_ids: number[] | null;
  callback_campaign: string | null;
  /** True when the queue has a callback campaign (the callback key is offered). */
  callback: boolean;
}

/** What the wait document needs, carried in its URL so that it never needs the database. */
export interface WaitSettings {
  queue: string;
  every: number;
  max: number;
  /** The callback key, or null when callbacks are not offered. */
  cb: string | null;
  vm: string;
  music: string;
  /** Seconds per caller at the queue's recent pace (our own estimate), or null. */
  spc: number | null;
  /**
   * Seconds the caller had already waited when this `<Enqueue>` began (a caller put back after
   * a hand-over that failed keeps their place, but Twilio's QueueTime starts again at 0).
   */
  waited?: number;
  /** Callers ahead of this one when this `<Enqueue>` began (Twilio puts a returning caller last). */
  ahead?: number;
}

export function waitSettings(q: QueueSettings, secondsPerCaller: number | null, place: { waited?: number; ahead?: number } = {}): WaitSettings {
  return {
    ...(place.waited ? { waited: Math.max(0, Math.round(place.waited)) } : {}),
    ...(place.ahead !== undefined ? { ahead: Math.max(0, Math.round(place.ahead)) } : {}),
    queue: q.name,
    every: q.announce_every_seconds,
    max: q.max_wait_seconds,
    cb: q.callback ? q.callback_key : null,
    vm: q.voicemail_key,
    music: q.hold_music,
    spc: secondsPerCaller,
  };
}

function path(p: string, q: Record<string, string | number | null | undefined>): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== null && v !== undefined && v !== '') s.set(k, String(v));
  return `${p}?${s.toString()}`;
}

/** /voice/queue: a caller enters queue `queue` (a Redirect target; no disclaimer). */
export function queueUrl(config: Config, queue: string, opts: { agentId?: number; source?: 'campaign' | 'direct' } = {}): string {
  return urlFor(config, path('/voice/queue', { queue, agent: opts.agentId, source: opts.source }));
}

/** The Enqueue waitUrl. */
export function waitUrl(config: Config, s: WaitSettings): string {
  return urlFor(
    config,
    path('/voice/queue-wait', { queue: s.queue, every: s.every, max: s.max, cb: s.cb, vm: s.vm, music: s.music, spc: s.spc, waited: s.waited, ahead: s.ahead }),
  );
}

/** The Enqueue action. */
export function resultUrl(config: Config, queue: string): string {
  return urlFor(config, path('/voice/queue-result', { queue }));
}

/** The wait document's Gather action. */
export function keyUrl(config: Config, queue: string): string {
  return urlFor(config, path('/voice/queue-key', { queue }));
}

/** The menu's Gather action after the max wait. */
export function menuUrl(config: Config, queue: string): string {
  return urlFor(config, path('/voice/queue-menu', { queue }));
}

/** Where a handed-over caller is redirected: into agent `agentId`'s room. */
export function connectUrl(config: Config, queue: string, agentId: number): string {
  return urlFor(config, path('/voice/queue-connect', { queue, agent: agentId }));
}

/** The AnnounceUrl of the agent's whisper (no database needed: all it says is in the URL). */
export function queueWhisperUrl(config: Config, queue: string, waitedSeconds: number): string {
  return urlFor(config, path('/voice/queue-whisper', { queue, waited: Math.max(0, Math.round(waitedSeconds)) }));
}

/**
 * Our estimate of a caller's remaining wait, seconds: their position times the queue's recent
 * pace (queue_seconds_per_caller: the last hour's time with someone waiting over the callers
 * answered then, so idle time never counts) when there is one; else Twilio's AvgQueueTime
 * less what this caller has waited, when positive; else null (nothing to say). Either is
 * capped by what is left until the max wait (`remaining`: the caller leaves the wait then).
 * AvgQueueTime is not a cap on the pace: it is the average time the callers now in the queue
 * have waited (twilio.com/docs/voice/twiml/enqueue, waitUrl parameters), near 0 in a queue
 * that just filled up, however slow it is.
 */
export function estimateWaitSeconds(p: {
  position: number;
  secondsPerCaller: number | null;
  avgQueueTime: number;
  queueTime: number;
  remaining?: number;
}): number | null {
  const position = Math.max(1, p.position);
  let estimate: number | null = null;
  if (p.secondsPerCaller && p.secondsPerCaller > 0) {
    estimate = position * p.secondsPerCaller;
  } else if (p.avgQueueTime > 0 && p.avgQueueTime > p.queueTime) estimate = p.avgQueueTime - p.queueTime;
  if (estimate !== null && p.remaining !== undefined) estimate = Math.min(estimate, Math.max(0, p.remaining));
  return estimate;
}

/** A wait as spoken: "menos de um minuto", "cerca de 1 minuto", "cerca de 4 minutos" (minutes rounded up). */
export function spokenEstimate(seconds: number): string {
  if (seconds < 60) return 'menos de um minuto';
  const m = Math.ceil(seconds / 60);
  return `cerca de ${m} ${m === 1 ? 'minuto' : 'minutos'}`;
}

/** A time already waited as spoken after "há": "instantes", "1 segundo", "40 segundos", "1 minuto", "3 minutos" (minutes rounded down). */
export function spokenWaited(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 1) return 'instantes';
  if (s === 1) return '1 segundo';
  if (seconds < 60) return `${s} segundos`;
  const m = Math.floor(seconds / 60);
  return `${m} ${m === 1 ? 'minuto' : 'minutos'}`;
}

/** The announcement: position, estimate when there is one, and the keys. */
export function announcementText(s: Pick<WaitSettings, 'cb' | 'vm'>, position: number, estimate: number | null): string {
  const parts: string[] = [QUEUE_MESSAGES.position(position)];
  if (estimate !== null) parts.push(QUEUE_MESSAGES.estimate(spokenEstimate(estimate)));
  if (s.cb) parts.push(QUEUE_MESSAGES.callbackKey(s.cb));
  parts.push(QUEUE_MESSAGES.voicemailKey(s.vm));
  return parts.join(' ');
}

/** The caller's place as Twilio sends it to the waitUrl. */
export interface QueuePlace {
  position: number;
  queueTime: number;
  avgQueueTime: number;
}

/** Seconds an announcement takes, at SPEECH_CHARS_PER_SECOND. */
export function speechSeconds(text: string): number {
  return text.length / SPEECH_CHARS_PER_SECOND;
}

/**
 * One wait document. Twilio runs it while the caller waits and fetches it again when it ends
 * ("the waitUrl TwiML is fetched again when it ends", twilio.com/docs/voice/twiml/enqueue), so
 * each document is one announcement followed by hold music up to the next announcement, all
 * inside `<Gather numDigits=1 timeout=1>` so a key may be pressed at any moment. The document
 * lasts min(every, time left to the max wait): the announcement (spoken at about 15
 * characters a second), the 10-second music played floor((that − speech − 1 s of Gather
 * timeout) / 10) times, and a `<Pause>` for the rest, so neither the interval nor the max
 * wait is overshot by a whole play. A waitUrl document may hold Play, Say, Pause, Hangup,
 * Redirect, Leave and Gather (twilio.com/docs/voice/twiml/enqueue, waitUrl; the emulator
 * enforces the same list). `<Leave>` (the Enqueue action decides what follows) at the max
 * wait, or when less time is left than the announcement takes.
 *
 * A caller put back in the queue after a failed hand-over is a new `<Enqueue>` for Twilio:
 * its QueueTime restarts at 0 and its QueuePosition is last. The wait URL carries what the
 * caller had waited (`waited`) and how many were ahead (`ahead`) then, so the time waited is
 * QueueTime + waited and the position the smaller of Twilio's and ahead + 1 (nobody who
 * entered later gets ahead; those ahead only leave).
 */
export function waitTwiml(config: Config, s: WaitSettings, place: QueuePlace): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  const queueTime = Math.max(0, place.queueTime) + Math.max(0, s.waited ?? 0);
  const position = s.ahead !== undefined ? Math.max(1, Math.min(place.position, s.ahead + 1)) : place.position;
  const remaining = s.max - queueTime;
  if (remaining <= 0) {
    twiml.leave();
    return twiml;
  }
  const estimate = estimateWaitSeconds({ position, secondsPerCaller: s.spc, avgQueueTime: place.avgQueueTime, queueTime, remaining });
  const text = announcementText(s, position, estimate);
  const speech = speechSeconds(text);
  if (remaining < speech) {
    twiml.leave();
    return twiml;
  }
  const rest = Math.min(s.every, remaining) - speech - 1;
  const loops = Math.max(0, Math.min(60, Math.floor(rest / QUEUE_MUSIC_SECONDS)));
  const pause = Math.floor(rest - loops * QUEUE_MUSIC_SECONDS);
  const gather = twiml.gather({ numDigits: 1, action: keyUrl(config, s.queue), method: 'POST', timeout: 1, actionOnEmptyResult: false });
  say(gather as unknown as Pick<VoiceResponse, 'say'>, config, text);
  if (loops > 0) gather.play({ loop: loops }, urlFor(config, s.music));
  if (pause >= 1) gather.pause({ length: pause });
  return twiml;
}

/** The Enqueue: the caller waits in queue `queue` with the wait document and the action above. */
export function addEnqueue(twiml: VoiceResponse, config: Config, s: WaitSettings): void {
  twiml.enqueue({ waitUrl: waitUrl(config, s), waitUrlMethod: 'POST', action: resultUrl(config, s.queue), method: 'POST' }, s.queue);
}

/** What the Enqueue action (queue_leave) or the menu (queue_menu_choice) decided. */
export interface LeaveDecision {
  action: 'none' | 'voicemail' | 'callback' | 'menu';
  queue: string | null;
  lead_id?: number | null;
  result?: string | null;
}

/**
 * What follows the wait: nothing (hung up, or handed to an agent), the queue's voicemail, the
 * callback confirmation, or after the max wait a menu (callback key or voicemail key; no key
 * is a voicemail).
 */
export function leaveTwiml(config: Config, d: LeaveDecision, keys: { cb: string; vm: string } = { cb: '1', vm: '2' }): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  const queue = d.queue ?? DEFAULT_QUEUE;
  switch (d.action) {
    case 'none':
      return twiml;
    case 'callback':
      say(twiml, config, QUEUE_MESSAGES.callbackConfirmed);
      twiml.hangup();
      return twiml;
    case 'menu': {
      const gather = twiml.gather({ numDigits: 1, action: menuUrl(config, queue), method: 'POST', timeout: 6 });
      say(gather as unknown as Pick<VoiceResponse, 'say'>, config, QUEUE_MESSAGES.maxWaitMenu(keys.cb, keys.vm));
      addVoicemail(twiml, config, { queue });
      return twiml;
    }
    case 'voicemail':
      addVoicemail(twiml, config, { queue });
      return twiml;
  }
}

/** A hand-over as queue_assign / queue_enter return it. */
export interface Assignment {
  entry_id: number;
  call_sid: string;
  queue: string;
  waited_seconds: number;
  agent: { id: number; room_conference_sid: string | null; shift_call_sid: string | null };
}

/** What queue_assign hands out: a caller for an agent, or a dialed customer who opted out while waiting. */
type Dispatch = Assignment | (Omit<Assignment, 'agent'> & { opted_out: true; agent: null });

/** True when a Calls update failed because the call is over (20404 not found, 21220 not in progress). */
export function callIsGone(e: unknown): boolean {
  const err = e as { status?: number; code?: number };
  return err?.status === 404 || err?.code === 20404 || err?.code === 21220;
}

/**
 * Hands a waiting caller to the agent reserved for them: the whisper into the agent's room
 * (Conferences update AnnounceUrl, as for campaign calls: only the agent is in the room), then
 * the queued call redirected to /voice/queue-connect (Calls update Url: Twilio takes the call
 * out of the queue, reports QueueResult=redirected to the Enqueue action, and runs the new
 * URL). When the redirect fails the reservation is undone (queue_assign_failed): a caller who
 * hung up meanwhile ends as abandoned, anyone else keeps waiting in place.
 */
export async function handOver(deps: { db: Db; twilio: twilio.Twilio; config: Config }, a: Assignment): Promise<'moved' | 'caller_gone' | 'failed'> {
  await startWhisper(deps.twilio, deps.config, a.agent, a.call_sid, queueWhisperUrl(deps.config, a.queue, a.waited_seconds));
  try {
    await deps.twilio.calls(a.call_sid).update({ url: connectUrl(deps.config, a.queue, a.agent.id), method: 'POST' });
    return 'moved';
  } catch (e) {
    const gone = callIsGone(e);
    console.error(`[discador] queued call ${a.call_sid} not handed to agent ${a.agent.id}: ${e instanceof Error ? e.message : String(e)}`);
    const undone = await deps.db.rpc('queue_assign_failed', { p_entry_id: a.entry_id, p_caller_gone: gone });
    if (undone.error) console.error(`[discador] hand-over of ${a.call_sid} not undone (the next dispatch undoes it): ${undone.error.message}`);
    return gone ? 'caller_gone' : 'failed';
  }
}

/** Hangs up a dialed customer who opted out while waiting in a queue (already over = done). */
async function endOptedOut(client: twilio.Twilio, config: Config, callSid: string): Promise<void> {
  try {
    // The customer hears why the call ends (as at any other opted-out answer), then it ends.
    await client.calls(callSid).update({ twiml: sayAndHangUp(config, MESSAGES.outboundOptedOut).toString() });
  } catch (e) {
    if (!callIsGone(e)) console.error(`[discador] opted-out caller ${callSid} not hung up: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Hands the longest-waiting callers to free agents (only `agentId` when given), one at a time,
 * until no caller or no agent is left, DISPATCH_MAX hand-overs, or the deadline. With `sweep`
 * (the heartbeat) entries whose call is over are closed first. Never throws: returns how many
 * callers were moved.
 */
export async function dispatchQueue(
  deps: { db: Db; twilio: twilio.Twilio; config: Config },
  opts: { agentId?: number; deadlineMs?: number; sweep?: boolean } = {},
): Promise<number> {
  let moved = 0;
  try {
    if (opts.sweep) {
      const swept = await deps.db.rpc('queue_sweep', {});
      if (swept.error) console.error(`[discador] queue sweep failed: ${swept.error.message}`);
    }
    for (let i = 0; i < DISPATCH_MAX; i++) {
      if (opts.deadlineMs !== undefined && Date.now() > opts.deadlineMs - 500) break;
      const got = await deps.db.rpc<Dispatch | null>('queue_assign', {
        p_agent_id: opts.agentId ?? null,
        p_presence_seconds: deps.config.AGENT_PRESENCE_SECONDS,
        p_stale_seconds: HANDOVER_STALE_SECONDS,
      });
      if (got.error) {
        console.error(`[discador] queue dispatch failed: ${got.error.message}`);
        break;
      }
      if (!got.data) break;
      if ('opted_out' in got.data) {
        // Closed as opted out: the customer asked not to be called, the call discador placed ends.
        await endOptedOut(deps.twilio, deps.config, got.data.call_sid);
        continue;
      }
      if ((await handOver(deps, got.data)) === 'moved') moved++;
    }
  } catch (e) {
    console.error(`[discador] queue dispatch failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  return moved;
}
