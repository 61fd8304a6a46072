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
import { addVoicemail, say } from './twiml';

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
}

export function waitSettings(q: QueueSettings, secondsPerCaller: number | null): WaitSettings {
  return {
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
  return urlFor(config, path('/voice/queue-wait', { queue: s.queue, every: s.every, max: s.max, cb: s.cb, vm: s.vm, music: s.music, spc: s.spc }));
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
 * pace (seconds per caller answered over the last hour) when there is one; else Twilio's
 * AvgQueueTime (the average time callers in this queue have waited, sent to the waitUrl) less
 * what this caller has waited, when positive; else null (nothing to say).
 */
export function estimateWaitSeconds(p: { position: number; secondsPerCaller: number | null; avgQueueTime: number; queueTime: number }): number | null {
  if (p.secondsPerCaller && p.secondsPerCaller > 0) return Math.max(1, p.position) * p.secondsPerCaller;
  if (p.avgQueueTime > 0 && p.avgQueueTime > p.queueTime) return p.avgQueueTime - p.queueTime;
  return null;
}

/** A wait as spoken: "menos de um minuto", "cerca de 1 minuto", "cerca de 4 minutos" (minutes rounded up). */
export function spokenEstimate(seconds: number): string {
  if (seconds < 60) return 'menos de um minuto';
  const m = Math.ceil(seconds / 60);
  return `cerca de ${m} ${m === 1 ? 'minuto' : 'minutos'}`;
}

/** A time already waited as spoken to the agent: "40 segundos", "1 minuto", "3 minutos" (minutes rounded down). */
export function spokenWaited(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} segundos`;
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

/**
 * One wait document. Twilio runs it while the caller waits and fetches it again when it ends
 * ("the waitUrl TwiML is fetched again when it ends", twilio.com/docs/voice/twiml/enqueue), so
 * each document is one announcement followed by hold music up to the next announcement
 * (every `every` seconds counting the announcement itself, spoken at about 15 characters a
 * second: the 10-second music played a whole number of times, at least once, never past the
 * max wait), all inside `<Gather numDigits=1>` so a key may be pressed at any moment. A
 * waitUrl document may hold Play, Say, Pause, Hangup, Redirect, Leave and Gather
 * (twilio.com/docs/voice/twiml/enqueue, waitUrl; the emulator enforces the same list). At or
 * past the max wait: `<Leave>`, and the Enqueue action decides what follows.
 */
export function waitTwiml(config: Config, s: WaitSettings, place: QueuePlace): VoiceResponse {
  const twiml = new twilio.twiml.VoiceResponse();
  const remaining = s.max - Math.max(0, place.queueTime);
  if (remaining <= 0) {
    twiml.leave();
    return twiml;
  }
  const estimate = estimateWaitSeconds({ position: place.position, secondsPerCaller: s.spc, avgQueueTime: place.avgQueueTime, queueTime: place.queueTime });
  const text = announcementText(s, place.position, estimate);
  const music = Math.min(s.every - text.length / SPEECH_CHARS_PER_SECOND, remaining);
  const loops = Math.max(1, Math.min(60, Math.ceil(music / QUEUE_MUSIC_SECONDS)));
  const gather = twiml.gather({ numDigits: 1, action: keyUrl(config, s.queue), method: 'POST', timeout: 1, actionOnEmptyResult: false });
  say(gather as unknown as Pick<VoiceResponse, 'say'>, config, text);
  gather.play({ loop: loops }, urlFor(config, s.music));
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
      const got = await deps.db.rpc<Assignment | null>('queue_assign', {
        p_agent_id: opts.agentId ?? null,
        p_presence_seconds: deps.config.AGENT_PRESENCE_SECONDS,
        p_stale_seconds: HANDOVER_STALE_SECONDS,
      });
      if (got.error) {
        console.error(`[discador] queue dispatch failed: ${got.error.message}`);
        break;
      }
      if (!got.data) break;
      if ((await handOver(deps, got.data)) === 'moved') moved++;
    }
  } catch (e) {
    console.error(`[discador] queue dispatch failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  return moved;
}
