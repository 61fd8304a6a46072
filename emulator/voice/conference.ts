/**
 * Conferences as Twilio runs them: `<Dial><Conference>`, the participants the REST API adds, who
 * hears whom, wait / hold / announcement media and the conference status callbacks.
 * Behaviour follows https://www.twilio.com/docs/voice/twiml/conference and
 * https://www.twilio.com/docs/voice/api/conference-participant-resource (see emulator/README.md).
 */
import type { VirtualClock } from '../clock';
import { type Recording, type Store, accountPath, recordingMediaPath } from '../state';
import type { TwimlNode } from '../twiml';
import { API_VERSION, list, newSid, resolveUrl, rfc2822 } from '../util';
import type { WebhookSender } from '../webhooks';
import type { Leg } from './leg';

/** Twilio's default hold music (its "classical playlist" twimlet); the emulator plays it without fetching it. */
export const DEFAULT_HOLD_MUSIC = 'https://twimlets.com/holdmusic?Bucket=com.twilio.music.classical';
/** Twilio's largest conference. */
export const MAX_PARTICIPANTS = 250;

/** A conference's status (Conference resource `status`). */
export type ConferenceStatus = 'init' | 'in-progress' | 'completed';
/** Why a conference ended (`reason_conference_ended`, `ReasonConferenceEnded`). */
export type EndReason =
  | 'conference-ended-via-api' | 'participant-with-end-conference-on-exit-left' | 'participant-with-end-conference-on-exit-kicked'
  | 'last-participant-kicked' | 'last-participant-left';
/** Why a participant left (`ReasonParticipantLeft` of participant-leave), plus the emulator's own causes. */
type LeaveCause = 'hangup' | 'redirect' | 'kicked' | 'ended-api' | 'ended-moderator' | 'star' | 'timelimit' | 'wait-failed' | 'add-failed';

/** What a participant hears besides the other participants. */
interface Media {
  key: string;
  kind: 'wait' | 'hold' | 'announcement';
  url: string;
  method: string;
  twiml?: string;
}

/** One participant: a call leg in a conference, or (REST-created) on its way there. */
export interface Participant {
  leg: Leg;
  conference: Conference;
  label: string | null;
  muted: boolean;
  hold: boolean;
  coaching: boolean;
  callSidToCoach: string | null;
  startConferenceOnEnter: boolean;
  endConferenceOnExit: boolean;
  beepOnEnter: boolean;
  beepOnExit: boolean;
  /** null: Twilio's default music; '': silence. */
  waitUrl: string | null;
  waitMethod: string;
  holdUrl: string | null;
  holdMethod: string;
  announce: { url: string; method: string; twiml?: string; scope: 'participant' | 'conference' } | null;
  status: 'queued' | 'connecting' | 'ringing' | 'connected' | 'complete' | 'failed';
  joinedMs?: number;
  dateCreated: number;
  dateUpdated: number;
  /** Media key whose document already ran to its end (then silence until something changes). */
  played?: string;
  /** Bumped on every hold / wait-URL change so the music starts again. */
  epoch: number;
  /** What the participant hears besides people, e.g. `hold:https://…` (null: nothing). */
  media: string | null;
  leaving: LeaveCause | null;
  removed: boolean;
  /** Last "hears" line written to the leg's timeline. */
  heard?: string;
  /** Created through Participants create (its call ends when it leaves). */
  viaApi: boolean;
  queueTimeMs?: number;
}

/** A conference room. */
export interface Conference {
  sid: string;
  accountSid: string;
  friendlyName: string;
  status: ConferenceStatus;
  region: string;
  dateCreated: number;
  dateUpdated: number;
  /** Joined participants, in joining order. */
  participants: Participant[];
  /** Participants the REST API is still calling. */
  pending: Participant[];
  maxParticipants: number;
  callback?: { url: string; method: string; events: Set<string> };
  seq: number;
  chain: Promise<unknown>;
  record: boolean;
  recordingCallback?: { url: string; method: string; events: Set<string> };
  recording?: Recording;
  reasonEnded: EndReason | null;
  callSidEnding: string | null;
  labelEnding: string | null;
}

/** What the engine lends the conference rooms. */
export interface ConferenceHost {
  clock: VirtualClock;
  store: Store;
  webhooks: WebhookSender;
  baseUrl: () => string;
  token: (accountSid: string) => string;
  /** Runs a wait / hold / announcement document (Play, Say, Pause, Redirect) on a leg. */
  runMedia: (leg: Leg, src: { url: string; method: string; purpose: 'wait' | 'hold' | 'announce' } | { twiml: string; base?: string }) => Promise<string>;
  answer: (leg: Leg) => void;
  spawn: (leg: Leg, task: () => Promise<unknown>) => void;
  startRecording: (leg: Leg, o: { source: Recording['source']; channels: 1 | 2; track: string; callbackUrl?: string; method?: string; events: string[] }) => string;
  stopRecording: (sid: string) => Recording | undefined;
  /** True while the device on a leg has muted its own microphone (a browser softphone's Call.mute). */
  micMuted?: (leg: Leg) => boolean;
}

/** `<Dial>` attributes that apply around a `<Conference>` (callerId and timeout have no effect there). */
export interface DialAround {
  action?: string;
  method: string;
  hangupOnStar: boolean;
  timeLimitS: number;
  record: string;
  recCb?: string;
  recMethod: string;
  recEvents: string[];
}

/** Result of a `<Dial><Conference>`: the parameters for the Dial action. */
export type ConferenceDialResult = Record<string, string>;

/** A participant's settings as Participants create gives them. */
export interface ParticipantSettings {
  label?: string;
  muted?: boolean;
  beep?: string;
  startConferenceOnEnter?: boolean;
  endConferenceOnExit?: boolean;
  waitUrl?: string;
  waitMethod?: string;
  coaching?: boolean;
  callSidToCoach?: string;
}

/** A conference-level error answered to the REST API as Twilio's `{code, message}`. */
export class ConferenceError extends Error {
  constructor(readonly status: number, readonly code: number, message: string) {
    super(message);
  }
}

const bool = (v: string | undefined, dflt: boolean) => (v === undefined ? dflt : v.toLowerCase() === 'true');
const CALL_SID = /^CA[0-9a-f]{32}$/i;

/** Checks a participant label: at most 128 characters, not a CallSid, no `/` (16023 in TwiML, 16024 in the API). */
export function labelProblem(label: string): string | undefined {
  if (label.length > 128) return 'longer than 128 characters';
  if (CALL_SID.test(label)) return 'looks like a CallSid';
  if (label.includes('/') || /%2f/i.test(label)) return "contains '/'";
  return undefined;
}

/** Every conference of the emulator, and the participants in them. */
export class Conferences {
  readonly all = new Map<string, Conference>();
  /** Joined or pending participant of a call. */
  private readonly byCall = new Map<string, Participant>();

  constructor(private readonly h: ConferenceHost) {}

  /** The active (not completed) conference of an account with this name. */
  active(accountSid: string, friendlyName: string): Conference | undefined {
    for (const c of this.all.values()) if (c.accountSid === accountSid && c.friendlyName === friendlyName && c.status !== 'completed') return c;
    return undefined;
  }

  /** The participant (joined or still being called) of a call, if it is in a conference now. */
  participantOf(callSid: string): Participant | undefined {
    return this.byCall.get(callSid);
  }

  /** Finds a participant of a conference by CallSid or label. */
  find(conf: Conference, id: string): Participant | undefined {
    return [...conf.participants, ...conf.pending].find((p) => p.leg.sid === id || (p.label !== null && p.label === id));
  }

  /** Creates a conference (status init); its callback and recording settings come from whoever creates it. */
  create(accountSid: string, friendlyName: string, o: {
    maxParticipants?: number; callback?: Conference['callback']; record?: boolean; recordingCallback?: Conference['recordingCallback']; region?: string;
  }): Conference {
    const now = this.h.clock.now();
    const conf: Conference = {
      sid: newSid('CF'), accountSid, friendlyName, status: 'init', region: o.region ?? 'us1', dateCreated: now, dateUpdated: now,
      participants: [], pending: [], maxParticipants: o.maxParticipants ?? MAX_PARTICIPANTS, callback: o.callback, seq: 0,
      chain: Promise.resolve(), record: o.record ?? false, recordingCallback: o.recordingCallback, reasonEnded: null, callSidEnding: null, labelEnding: null,
    };
    this.all.set(conf.sid, conf);
    return conf;
  }

  // ---------------------------------------------------------------- who hears whom

  /**
   * The CallSids whose audio reaches `callSid` right now: nobody before the conference starts (wait
   * music only) or while the listener is on hold; never a muted or held participant; a coach only
   * when the listener is the participant being coached.
   */
  hears(callSid: string): Set<string> {
    const p = this.byCall.get(callSid);
    const out = new Set<string>();
    if (!p || p.removed || p.status !== 'connected' || p.hold || p.conference.status !== 'in-progress') return out;
    for (const s of p.conference.participants) {
      if (s === p || s.removed || s.hold || s.muted || s.leg.ended || this.h.micMuted?.(s.leg)) continue;
      if (s.coaching && s.callSidToCoach !== p.leg.sid) continue;
      out.add(s.leg.sid);
    }
    return out;
  }

  /** A participant's own microphone was muted or unmuted (not the conference's Muted): who hears whom changes. */
  micChanged(callSid: string): void {
    const p = this.byCall.get(callSid);
    if (p && !p.removed) this.refresh(p.conference);
  }

  /** What a call hears besides people (`wait:URL`, `hold:URL`, `announcement:URL`), or null. */
  mediaOf(callSid: string): string | null {
    const p = this.byCall.get(callSid);
    return p && !p.removed ? p.media : null;
  }

  /** Writes a "hears" line to each participant's timeline whose hearing changed. */
  private refresh(conf: Conference): void {
    for (const p of conf.participants) {
      if (p.removed) continue;
      const who = [...this.hears(p.leg.sid)].sort();
      const line = `hears ${who.length ? who.join(', ') : 'nobody'}${p.media ? `; plays ${p.media}` : ''}`;
      if (line === p.heard) continue;
      p.heard = line;
      p.leg.note('conference', `${conf.friendlyName}: ${line}`, { content: who.join(' '), attrs: { conferenceSid: conf.sid, media: p.media ?? '' } });
    }
  }

  // ---------------------------------------------------------------- callbacks

  private participantParams(p: Participant): Record<string, string> {
    const out: Record<string, string> = {
      CallSid: p.leg.sid, Muted: String(p.muted), Hold: String(p.hold), Coaching: String(p.coaching),
      EndConferenceOnExit: String(p.endConferenceOnExit), StartConferenceOnEnter: String(p.startConferenceOnEnter),
    };
    if (p.label !== null) out.ParticipantLabel = p.label;
    return out;
  }

  /**
   * Sends one conference event (`conference-start`, `participant-join`, …) when the conference's
   * statusCallbackEvent asked for its group; one conference's events go out in order.
   */
  private event(conf: Conference, group: string, name: string, extra: Record<string, string>, track?: Leg): void {
    const cb = conf.callback;
    if (!cb || !cb.events.has(group)) return;
    const params: Record<string, string> = {
      AccountSid: conf.accountSid, ConferenceSid: conf.sid, FriendlyName: conf.friendlyName, SequenceNumber: String(++conf.seq),
      Timestamp: rfc2822(this.h.clock.now()), StatusCallbackEvent: name, ...extra,
    };
    const fault = this.h.webhooks.takeFault('conference', cb.url, params) ?? null;
    const sent = this.h.webhooks.send({
      purpose: 'conference', url: cb.url, method: cb.method, params, authToken: this.h.token(conf.accountSid), fault, after: conf.chain,
      callSid: track?.sid ?? params.CallSid,
    });
    if (fault?.kind !== 'reorder') conf.chain = sent;
    if (track) this.h.spawn(track, () => sent);
  }

  // ---------------------------------------------------------------- joining from TwiML

  /** Runs `<Dial><Conference>` on a leg until it leaves the conference; answers the Dial action parameters. */
  async dial(leg: Leg, noun: TwimlNode, o: DialAround, docUrl: string | undefined): Promise<ConferenceDialResult> {
    const a = noun.attrs;
    const name = noun.text;
    const failed = (code: number, why: string): ConferenceDialResult => {
      leg.note('error', `<Conference> ${name}: ${why}`, { errorCode: code });
      return { DialCallStatus: 'failed', DialCallSid: '', DialBridged: 'false' };
    };
    const url = (ref: string | undefined) => (ref ? resolveUrl(ref, docUrl) : undefined);
    if (!name) return failed(12100, 'no conference name');
    if (a.eventCallbackUrl) leg.note('note', '<Conference eventCallbackUrl> is deprecated and not simulated');
    if (a.jitterBufferSize) leg.note('note', `jitterBufferSize=${a.jitterBufferSize} has no effect in the emulator`);

    let p = this.byCall.get(leg.sid);
    let conf: Conference;
    if (p && p.viaApi && !p.removed && p.status !== 'connected') {
      conf = p.conference;
      if (conf.status === 'completed') {
        this.dropPending(p);
        return failed(13236, 'the conference this participant was added to has ended');
      }
    } else {
      p = undefined;
      const label = a.participantLabel;
      if (label !== undefined) {
        const bad = labelProblem(label);
        if (bad) return failed(16023, `participantLabel ${bad}`);
      }
      const events = list(a.statusCallbackEvent);
      const max = a.maxParticipants === undefined ? MAX_PARTICIPANTS : Number(a.maxParticipants);
      conf = this.active(leg.accountSid, name) ?? this.create(leg.accountSid, name, {
        maxParticipants: Number.isInteger(max) && max >= 1 && max <= MAX_PARTICIPANTS ? max : MAX_PARTICIPANTS,
        callback: a.statusCallback ? { url: url(a.statusCallback) as string, method: a.statusCallbackMethod ?? 'POST', events: new Set(events) } : undefined,
        record: a.record === 'record-from-start',
        recordingCallback: a.recordingStatusCallback
          ? { url: url(a.recordingStatusCallback) as string, method: a.recordingStatusCallbackMethod ?? 'POST', events: new Set(list(a.recordingStatusCallbackEvent ?? 'completed')) }
          : undefined,
        region: a.region,
      });
      if (label !== undefined && this.find(conf, label)) return failed(16025, `participantLabel ${label} is in use by another participant`);
      if (a.coach !== undefined) {
        const target = conf.participants.find((x) => x.leg.sid === a.coach && !x.removed);
        if (!target || conf.status !== 'in-progress') return failed(13240, `coach ${a.coach} is not a participant of the in-progress conference`);
      }
      const beep = a.beep ?? 'true';
      const now = this.h.clock.now();
      const waitUrl = a.waitUrl === undefined ? null : a.waitUrl === '' ? '' : (url(a.waitUrl) as string);
      p = {
        leg, conference: conf, label: label ?? null, muted: bool(a.muted, false), hold: false, coaching: a.coach !== undefined,
        callSidToCoach: a.coach ?? null, startConferenceOnEnter: bool(a.startConferenceOnEnter, true), endConferenceOnExit: bool(a.endConferenceOnExit, false),
        beepOnEnter: beep === 'true' || beep === 'onEnter', beepOnExit: beep === 'true' || beep === 'onExit', waitUrl,
        waitMethod: a.waitMethod ?? 'POST', holdUrl: null, holdMethod: 'GET', announce: null, status: 'connecting', dateCreated: now, dateUpdated: now,
        epoch: 0, media: null, leaving: null, removed: false, viaApi: false,
      };
    }
    if (conf.participants.filter((x) => !x.removed).length >= conf.maxParticipants) {
      if (p.viaApi) this.dropPending(p);
      return failed(16020, `the conference is full (${conf.maxParticipants})`);
    }
    if (!leg.answered) this.h.answer(leg);
    return this.inConference(leg, p, o);
  }

  /** The participant is in the room: joins, plays its media and waits until something makes it leave. */
  private async inConference(leg: Leg, p: Participant, o: DialAround): Promise<ConferenceDialResult> {
    const conf = p.conference;
    this.join(p);
    let recSid: string | undefined;
    if (o.record !== 'do-not-record') {
      // Dial attributes apply around <Conference>: the participant's leg is recorded while it is in the room.
      recSid = this.h.startRecording(leg, { source: 'DialVerb', channels: o.record.endsWith('-dual') ? 2 : 1, track: 'both', callbackUrl: o.recCb, method: o.recMethod, events: o.recEvents });
    }
    const life = new AbortController();
    void this.h.clock.sleep(o.timeLimitS * 1000, life.signal).then(() => {
      if (life.signal.aborted || p.leaving) return;
      leg.note('note', `Dial timeLimit of ${o.timeLimitS} s reached: leaving the conference`);
      p.leaving = 'timelimit';
      leg.raise({ kind: 'conference' });
    });
    leg.listenStar = o.hangupOnStar;
    leg.starRaises = o.hangupOnStar;
    leg.starPressed = false;
    try {
      await this.mediaLoop(p, o.hangupOnStar);
    } finally {
      life.abort();
      leg.listenStar = false;
      leg.starRaises = false;
    }
    if (leg.interrupt?.kind === 'conference') leg.interrupt = null;
    const cause = p.leaving ?? 'hangup';
    this.leave(p, cause);
    const secs = Math.round((this.h.clock.now() - (p.joinedMs ?? this.h.clock.now())) / 1000);
    const rec = recSid ? this.h.stopRecording(recSid) : undefined;
    const out: ConferenceDialResult = {
      DialCallStatus: cause === 'wait-failed' ? 'failed' : 'completed', DialCallSid: '', DialBridged: 'false', DialCallDuration: String(secs),
    };
    if (rec) Object.assign(out, { RecordingUrl: this.h.baseUrl() + recordingMediaPath(rec), RecordingSid: rec.sid, RecordingDuration: String(rec.durationS) });
    leg.note('verb', `left conference ${conf.friendlyName} after ${secs} s (${cause})`, { verb: 'Dial', content: out.DialCallStatus });
    return out;
  }

  private join(p: Participant): void {
    const conf = p.conference;
    const leg = p.leg;
    conf.pending = conf.pending.filter((x) => x !== p);
    conf.participants.push(p);
    this.byCall.set(leg.sid, p);
    p.status = 'connected';
    p.joinedMs = this.h.clock.now();
    p.dateUpdated = p.joinedMs;
    conf.dateUpdated = p.joinedMs;
    leg.note('conference', `joined conference ${conf.friendlyName} (${conf.sid}, ${conf.status})`, {
      attrs: { conferenceSid: conf.sid, muted: String(p.muted), startConferenceOnEnter: String(p.startConferenceOnEnter), endConferenceOnExit: String(p.endConferenceOnExit), coaching: String(p.coaching) },
    });
    this.event(conf, 'join', 'participant-join', this.participantParams(p), leg);
    if (p.beepOnEnter) this.beep(conf, p, 'joined');
    // A conference starts once two participants are in and one of them has startConferenceOnEnter.
    const live = conf.participants.filter((x) => !x.removed);
    if (conf.status === 'init' && live.length >= 2 && live.some((x) => x.startConferenceOnEnter)) this.start(conf, leg);
    this.refresh(conf);
  }

  private beep(conf: Conference, who: Participant, what: string): void {
    for (const x of conf.participants) if (x !== who && !x.removed) x.leg.note('conference', `beep (${who.leg.sid} ${what})`);
  }

  private start(conf: Conference, by: Leg): void {
    conf.status = 'in-progress';
    conf.dateUpdated = this.h.clock.now();
    this.event(conf, 'start', 'conference-start', {}, by);
    if (conf.record) this.startConferenceRecording(conf, by);
    for (const x of conf.participants) if (!x.removed) x.leg.raise({ kind: 'conference' });
  }

  /** Plays the participant's media (wait music, hold music, announcements) until it has to leave. */
  private async mediaLoop(p: Participant, hangupOnStar: boolean): Promise<void> {
    const leg = p.leg;
    for (;;) {
      if (p.leaving) return;
      const i = leg.interrupt;
      if (i) {
        if (i.kind === 'conference' || i.kind === 'dequeue') leg.interrupt = null;
        else {
          p.leaving = i.kind === 'hangup' ? 'hangup' : 'redirect';
          return;
        }
        continue;
      }
      if (leg.ended) {
        p.leaving = 'hangup';
        return;
      }
      if (hangupOnStar && leg.starPressed) {
        leg.note('note', '* pressed: leaving the conference (hangupOnStar)');
        p.leaving = 'star';
        return;
      }
      const m = this.mediaFor(p);
      const playing = m && m.key !== p.played ? m : null;
      const label = playing ? `${playing.kind}:${playing.url}` : null;
      if (label !== p.media) {
        p.media = label;
        this.refresh(p.conference);
      }
      if (!playing || playing.url === DEFAULT_HOLD_MUSIC) {
        if (playing) leg.note('conference', `${playing.kind} music: Twilio's default hold music (${DEFAULT_HOLD_MUSIC}, not fetched)`);
        await leg.wait(undefined, { star: hangupOnStar });
        continue;
      }
      const r = await this.h.runMedia(leg, playing.twiml !== undefined ? { twiml: playing.twiml, base: playing.url } : { url: playing.url, method: playing.method, purpose: playing.kind === 'announcement' ? 'announce' : playing.kind });
      if (r === 'interrupted' || leg.interrupt) {
        // Something changed (or the call ends): the loop decides. An announcement that was cut short still counts as played.
        if (playing.kind === 'announcement') this.announced(p, true);
        continue;
      }
      if (r === 'error') {
        if (playing.kind === 'wait') {
          // A waitUrl that fails keeps the participant out of the conference: its call goes on after <Dial>.
          leg.note('error', `the waitUrl ${playing.url} failed: leaving the conference`, { errorCode: 12100 });
          p.leaving = 'wait-failed';
          return;
        }
        if (playing.kind === 'announcement') {
          this.announced(p, false);
          continue;
        }
      }
      if (r === 'ended') {
        p.leaving = 'hangup';
        return;
      }
      if (playing.kind === 'announcement') this.announced(p, true);
      else p.played = playing.key;
    }
  }

  private mediaFor(p: Participant): Media | null {
    if (p.announce) return { key: `announce:${p.epoch}`, kind: 'announcement', url: p.announce.url, method: p.announce.method, twiml: p.announce.twiml };
    if (p.hold) return { key: `hold:${p.epoch}`, kind: 'hold', url: p.holdUrl ?? DEFAULT_HOLD_MUSIC, method: p.holdUrl ? p.holdMethod : 'GET' };
    if (p.conference.status === 'init' && p.waitUrl !== '') {
      return { key: `wait:${p.epoch}`, kind: 'wait', url: p.waitUrl ?? DEFAULT_HOLD_MUSIC, method: p.waitUrl ? p.waitMethod : 'GET' };
    }
    return null;
  }

  /** An announcement to one participant (or its share of a conference announcement) finished or failed. */
  private announced(p: Participant, ok: boolean): void {
    const a = p.announce;
    if (!a) return;
    p.announce = null;
    p.epoch++;
    if (a.scope === 'conference') {
      const conf = p.conference;
      if (conf.participants.every((x) => x.removed || x.announce?.scope !== 'conference')) {
        this.event(conf, 'announcement', ok ? 'announcement-end' : 'announcement-fail', { AnnounceUrl: a.url, ...(ok ? {} : { ReasonAnnouncementFailed: 'the announcement document failed' }) }, p.leg);
      }
      return;
    }
    this.event(p.conference, 'announcement', ok ? 'announcement-end' : 'announcement-fail', {
      AnnounceUrl: a.url, ...(p.removed ? {} : this.participantParams(p)), ...(ok ? {} : { ReasonAnnouncementFailed: 'the announcement document failed' }),
    }, p.leg);
  }

  // ---------------------------------------------------------------- leaving and ending

  private static readonly REASON_LEFT: Record<LeaveCause, string> = {
    hangup: 'participant_hung_up', redirect: 'participant_updated_via_api', kicked: 'participant_updated_via_api', 'ended-api': 'conference_ended_via_api',
    'ended-moderator': 'moderator_ended_conference', star: 'participant_hung_up', timelimit: 'participant_hung_up', 'wait-failed': 'participant_hung_up',
    'add-failed': 'participant_add_failed',
  };

  /** Takes a participant out of its conference (once): participant-leave, exit beep, and the end of the conference when due. */
  private leave(p: Participant, cause: LeaveCause): void {
    if (p.removed) return;
    const conf = p.conference;
    p.removed = true;
    p.status = 'complete';
    p.media = null;
    p.dateUpdated = this.h.clock.now();
    conf.participants = conf.participants.filter((x) => x !== p);
    if (this.byCall.get(p.leg.sid) === p) this.byCall.delete(p.leg.sid);
    const callStatus = p.leg.ended ? p.leg.status : cause === 'hangup' ? 'completed' : 'in-progress';
    p.leg.note('conference', `left conference ${conf.friendlyName} (${Conferences.REASON_LEFT[cause]})`, { attrs: { conferenceSid: conf.sid } });
    this.event(conf, 'leave', 'participant-leave', { ...this.participantParams(p), ParticipantCallStatus: callStatus, ReasonParticipantLeft: Conferences.REASON_LEFT[cause] }, p.leg);
    if (conf.status === 'completed') return;
    if (p.beepOnExit) this.beep(conf, p, 'left');
    const kicked = cause === 'kicked';
    if (p.endConferenceOnExit) this.end(conf, kicked ? 'participant-with-end-conference-on-exit-kicked' : 'participant-with-end-conference-on-exit-left', p);
    else if (conf.participants.length === 0 && conf.pending.length === 0) this.end(conf, kicked ? 'last-participant-kicked' : 'last-participant-left', p);
    else {
      // Whoever was coaching this participant is heard by nobody now.
      this.refresh(conf);
    }
  }

  /** Ends a conference: every participant still in it leaves and goes on after its `<Dial>`. */
  end(conf: Conference, reason: EndReason, by?: Participant): void {
    if (conf.status === 'completed') return;
    conf.status = 'completed';
    conf.reasonEnded = reason;
    conf.callSidEnding = by?.leg.sid ?? null;
    conf.labelEnding = by?.label ?? null;
    conf.dateUpdated = this.h.clock.now();
    const cause: LeaveCause = reason === 'conference-ended-via-api' ? 'ended-api' : 'ended-moderator';
    const track = by?.leg ?? conf.participants[0]?.leg;
    for (const x of [...conf.participants]) {
      x.leaving ??= cause;
      this.leave(x, cause);
      x.leg.raise({ kind: 'conference' });
    }
    for (const x of [...conf.pending]) {
      this.dropPending(x);
      x.leg.raise({ kind: 'hangup', by: 'engine' });
    }
    if (conf.recording) this.stopConferenceRecording(conf, track);
    const extra: Record<string, string> = { ReasonConferenceEnded: reason, Reason: endMessage(reason, by) };
    if (by) extra.CallSidEndingConference = by.leg.sid;
    if (by?.label) extra.ParticipantLabelEndingConference = by.label;
    this.event(conf, 'end', 'conference-end', extra, track);
    for (const l of [by?.leg, track]) l?.note('conference', `conference ${conf.friendlyName} ended (${reason})`, { attrs: { conferenceSid: conf.sid } });
  }

  // ---------------------------------------------------------------- recordings of a whole conference

  private startConferenceRecording(conf: Conference, by: Leg): void {
    const now = this.h.clock.now();
    const rec: Recording = {
      sid: newSid('RE'), accountSid: conf.accountSid, callSid: '', conferenceSid: conf.sid, startMs: now, durationS: 0, channels: 1,
      source: 'Conference', status: 'in-progress', track: 'both', dateCreated: now, dateUpdated: now,
    };
    this.h.store.recordings.set(rec.sid, rec);
    conf.recording = rec;
    by.note('recording', `conference recording ${rec.sid} started`, { content: rec.sid, status: 'in-progress' });
    this.recordingCallback(conf, rec, 'in-progress', by);
  }

  private stopConferenceRecording(conf: Conference, by?: Leg): void {
    const rec = conf.recording;
    if (!rec || rec.status !== 'in-progress') return;
    rec.status = 'completed';
    rec.durationS = Math.round((this.h.clock.now() - rec.startMs) / 1000);
    rec.dateUpdated = this.h.clock.now();
    by?.note('recording', `conference recording ${rec.sid} completed (${rec.durationS} s)`, { content: rec.sid, status: 'completed' });
    this.recordingCallback(conf, rec, 'completed', by);
  }

  private recordingCallback(conf: Conference, rec: Recording, status: string, track?: Leg): void {
    const cb = conf.recordingCallback;
    if (!cb || !cb.events.has(status)) return;
    const params: Record<string, string> = {
      AccountSid: conf.accountSid, ConferenceSid: conf.sid, RecordingSid: rec.sid, RecordingUrl: this.h.baseUrl() + recordingMediaPath(rec),
      RecordingStatus: status, RecordingDuration: String(status === 'completed' ? rec.durationS : 0), RecordingChannels: '1',
      RecordingStartTime: rfc2822(rec.startMs), RecordingSource: 'Conference', ErrorCode: '0',
    };
    const sent = this.h.webhooks.send({ purpose: 'recording', url: cb.url, method: cb.method, params, authToken: this.h.token(conf.accountSid), callSid: track?.sid });
    if (track) this.h.spawn(track, () => sent);
  }

  // ---------------------------------------------------------------- REST

  /**
   * Participants create: registers the participant (status queued) for a call the engine is placing;
   * it joins when the call is answered and its `<Dial><Conference>` runs.
   */
  addPending(conf: Conference, leg: Leg, s: ParticipantSettings, queueTimeMs: number): Participant {
    const now = this.h.clock.now();
    const beep = s.beep ?? 'true';
    const p: Participant = {
      leg, conference: conf, label: s.label ?? null, muted: s.muted ?? false, hold: false, coaching: s.coaching ?? s.callSidToCoach !== undefined,
      callSidToCoach: s.callSidToCoach ?? null, startConferenceOnEnter: s.startConferenceOnEnter ?? true, endConferenceOnExit: s.endConferenceOnExit ?? false,
      beepOnEnter: beep === 'true' || beep === 'onEnter', beepOnExit: beep === 'true' || beep === 'onExit',
      waitUrl: s.waitUrl === undefined ? null : s.waitUrl, waitMethod: s.waitMethod ?? 'POST', holdUrl: null, holdMethod: 'GET', announce: null,
      status: 'queued', dateCreated: now, dateUpdated: now, epoch: 0, media: null, leaving: null, removed: false, viaApi: true, queueTimeMs,
    };
    conf.pending.push(p);
    this.byCall.set(leg.sid, p);
    leg.life.signal.addEventListener('abort', () => {
      if (p.status !== 'connected' && !p.removed) this.addFailed(p);
    });
    return p;
  }

  private dropPending(p: Participant): void {
    p.removed = true;
    p.status = 'failed';
    p.conference.pending = p.conference.pending.filter((x) => x !== p);
    if (this.byCall.get(p.leg.sid) === p) this.byCall.delete(p.leg.sid);
  }

  /** A participant's call ended before it joined (no answer, busy, failed, cancelled). */
  private addFailed(p: Participant): void {
    const conf = p.conference;
    this.dropPending(p);
    if (conf.status === 'completed') return;
    this.event(conf, 'leave', 'participant-leave', { ...this.participantParams(p), ParticipantCallStatus: p.leg.status, ReasonParticipantLeft: 'participant_add_failed' }, p.leg);
    if (conf.participants.length === 0 && conf.pending.length === 0) this.end(conf, 'last-participant-left');
  }

  /** The REST status of a participant still being called, from its call's status. */
  statusOf(p: Participant): Participant['status'] {
    if (p.status === 'connected' || p.status === 'complete' || p.status === 'failed') return p.status;
    const s = p.leg.status;
    return s === 'queued' ? 'queued' : s === 'initiated' ? 'connecting' : s === 'ringing' ? 'ringing' : 'connecting';
  }

  /** Participants update. Throws ConferenceError when the change is not possible; sends mute/hold/modify events. */
  update(p: Participant, b: Record<string, unknown>): void {
    const conf = p.conference;
    const has = (k: string) => b[k] !== undefined;
    if (has('Coaching') || has('CallSidToCoach')) {
      const coaching = has('Coaching') ? b.Coaching === true : has('CallSidToCoach');
      const target = has('CallSidToCoach') ? String(b.CallSidToCoach) : p.callSidToCoach;
      if (coaching) {
        if (!target) throw new ConferenceError(400, 16028, 'Coaching=true needs CallSidToCoach');
        if (target === p.leg.sid || !conf.participants.some((x) => x.leg.sid === target && !x.removed)) {
          throw new ConferenceError(400, 16028, `The participant to be coached (${target}) is not present in the conference`);
        }
      }
    }
    const changed = { mute: false, hold: false, modify: false };
    if (has('Muted') && b.Muted !== p.muted) [p.muted, changed.mute] = [b.Muted === true, true];
    if (has('HoldUrl')) p.holdUrl = String(b.HoldUrl) || null;
    if (has('HoldMethod')) p.holdMethod = String(b.HoldMethod);
    if (has('Hold') && b.Hold !== p.hold) {
      p.hold = b.Hold === true;
      p.epoch++;
      changed.hold = true;
    }
    if (has('WaitUrl')) {
      p.waitUrl = String(b.WaitUrl);
      p.epoch++;
      changed.modify = true;
    }
    if (has('WaitMethod')) p.waitMethod = String(b.WaitMethod);
    if (has('BeepOnExit')) [p.beepOnExit, changed.modify] = [b.BeepOnExit === true, true];
    if (has('EndConferenceOnExit')) [p.endConferenceOnExit, changed.modify] = [b.EndConferenceOnExit === true, true];
    if (has('Coaching') || has('CallSidToCoach')) {
      p.coaching = has('Coaching') ? b.Coaching === true : true;
      p.callSidToCoach = p.coaching ? (has('CallSidToCoach') ? String(b.CallSidToCoach) : p.callSidToCoach) : null;
      changed.modify = true;
    }
    if (has('AnnounceUrl')) {
      p.announce = { url: String(b.AnnounceUrl), method: String(b.AnnounceMethod ?? 'POST'), scope: 'participant' };
      p.epoch++;
    }
    p.dateUpdated = this.h.clock.now();
    if (p.status !== 'connected') return;
    const pp = this.participantParams(p);
    if (changed.mute) this.event(conf, 'mute', p.muted ? 'participant-mute' : 'participant-unmute', pp, p.leg);
    if (changed.hold) this.event(conf, 'hold', p.hold ? 'participant-hold' : 'participant-unhold', pp, p.leg);
    if (changed.modify) this.event(conf, 'modify', 'participant-modify', pp, p.leg);
    p.leg.note('conference', `participant updated via REST API: ${Object.keys(b).join(', ')}`);
    p.leg.raise({ kind: 'conference' });
    this.refresh(conf);
  }

  /** Participants delete: the participant leaves (its call goes on after `<Dial>`); one still being called is hung up. */
  kick(p: Participant): void {
    if (p.status !== 'connected') {
      p.leg.raise({ kind: 'hangup', by: 'api', status: 'canceled' });
      return;
    }
    p.leaving = 'kicked';
    p.leg.note('conference', 'removed from the conference via REST API');
    this.leave(p, 'kicked');
    p.leg.raise({ kind: 'conference' });
  }

  /** Conference update AnnounceUrl: the document is fetched once and played to every participant. */
  announceToAll(conf: Conference, url: string, method: string): void {
    const track = conf.participants[0]?.leg;
    const task = async () => {
      const rec = await this.h.webhooks.send({
        purpose: 'announce', url, method, authToken: this.h.token(conf.accountSid), callSid: track?.sid,
        params: { AccountSid: conf.accountSid, ConferenceSid: conf.sid, FriendlyName: conf.friendlyName, ApiVersion: API_VERSION },
      });
      if (conf.status === 'completed') return;
      if (rec.errorCode) {
        this.event(conf, 'announcement', 'announcement-fail', { AnnounceUrl: url, ReasonAnnouncementFailed: rec.error ?? 'fetch failed' }, track);
        return;
      }
      const twiml = rec.contentType.startsWith('audio/') ? `<Response><Play>${escapeXml(url)}</Play></Response>` : rec.body;
      for (const p of conf.participants) {
        if (p.removed) continue;
        p.announce = { url, method, twiml, scope: 'conference' };
        p.epoch++;
        p.leg.raise({ kind: 'conference' });
      }
    };
    if (track) this.h.spawn(track, task);
    else void task();
  }

  /** JSON of a conference the way the REST API returns it. */
  json(conf: Conference): Record<string, unknown> {
    const base = `${accountPath(conf.accountSid)}/Conferences/${conf.sid}`;
    return {
      account_sid: conf.accountSid, api_version: API_VERSION, call_sid_ending_conference: conf.callSidEnding, date_created: rfc2822(conf.dateCreated),
      date_updated: rfc2822(conf.dateUpdated), friendly_name: conf.friendlyName, reason_conference_ended: conf.reasonEnded, region: conf.region,
      sid: conf.sid, status: conf.status, uri: `${base}.json`,
      subresource_uris: { participants: `${base}/Participants.json`, recordings: `${base}/Recordings.json` },
    };
  }

  /** JSON of a participant the way the REST API returns it (`queue_time` only in the create answer). */
  participantJson(p: Participant, withQueueTime = false): Record<string, unknown> {
    const conf = p.conference;
    return {
      account_sid: conf.accountSid, call_sid: p.leg.sid, label: p.label, call_sid_to_coach: p.callSidToCoach, coaching: p.coaching,
      conference_sid: conf.sid, date_created: rfc2822(p.dateCreated), date_updated: rfc2822(p.dateUpdated), end_conference_on_exit: p.endConferenceOnExit,
      muted: p.muted, hold: p.hold, start_conference_on_enter: p.startConferenceOnEnter, status: this.statusOf(p),
      queue_time: withQueueTime ? String(Math.round(p.queueTimeMs ?? 0)) : null,
      uri: `${accountPath(conf.accountSid)}/Conferences/${conf.sid}/Participants/${p.leg.sid}.json`,
    };
  }

  /** Every call still in a conference leaves it (emulator stop). */
  endAll(): void {
    for (const c of this.all.values()) if (c.status !== 'completed') this.end(c, 'conference-ended-via-api');
  }
}

function endMessage(reason: EndReason, by?: Participant): string {
  const who = by ? `Participant ${by.leg.sid}` : 'A participant';
  switch (reason) {
    case 'conference-ended-via-api': return 'Conference ended via API';
    case 'participant-with-end-conference-on-exit-left': return `${who} with End Conference On Exit left the conference`;
    case 'participant-with-end-conference-on-exit-kicked': return `${who} with End Conference On Exit was kicked from the conference`;
    case 'last-participant-kicked': return 'Last participant was kicked from the conference';
    default: return 'Last participant left the conference';
  }
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
