import type { VirtualClock } from '../clock';
import { PartyRuntime, type PartySpec } from '../parties';
import { API_VERSION, countryOf, rfc2822 } from '../util';
import { accountPath } from '../state';

/** Twilio call statuses. */
export type CallStatus = 'queued' | 'initiated' | 'ringing' | 'in-progress' | 'completed' | 'busy' | 'failed' | 'no-answer' | 'canceled';

/** Statuses after which a call never changes again. */
export const TERMINAL: CallStatus[] = ['completed', 'busy', 'failed', 'no-answer', 'canceled'];

/** Something that stops what a leg is doing: a hang-up, a REST redirect, or a dequeue into a bridge. */
export type Interrupt =
  | { kind: 'hangup'; by: 'party' | 'api' | 'engine'; status?: CallStatus }
  | { kind: 'redirect'; url: string; method: string; by: 'api' | 'dequeue' }
  | { kind: 'twiml'; twiml: string }
  | { kind: 'dequeue' }
  /** A conference participant's media changed (the conference started or ended, hold, announcement, `*`): re-plan what it hears. */
  | { kind: 'conference' };

/** One line of a call's timeline. `t` is virtual ms since the emulator started. */
export interface TimelineEntry {
  t: number;
  /** Real epoch ms when the entry was made (latency measured on the real clock, whatever the speed). */
  realMs: number;
  at: string;
  callSid: string;
  type: 'status' | 'verb' | 'webhook' | 'error' | 'party' | 'amd' | 'recording' | 'queue' | 'bridge' | 'conference' | 'note';
  text: string;
  verb?: string;
  attrs?: Record<string, string>;
  /** Say text, Play URL, Gather digits… */
  content?: string;
  status?: string;
  purpose?: string;
  url?: string;
  method?: string;
  httpStatus?: number;
  params?: Record<string, string>;
  errorCode?: number;
}

/** Result of waiting on a leg. */
export type WaitResult = 'timeout' | 'interrupt' | 'digit' | 'star' | 'cancelled';

/** One call leg: its REST-visible state, its simulated far-end party and the signals that wake it. */
export class Leg {
  status: CallStatus = 'queued';
  readonly createdMs: number;
  updatedMs: number;
  startMs?: number;
  answerMs?: number;
  endMs?: number;
  answeredBy?: string;
  ended = false;
  interrupt: Interrupt | null = null;
  /** Digits collected while a Gather/Record listens. */
  dtmf: string[] = [];
  collecting = false;
  listenStar = false;
  starPressed = false;
  /** While in a conference with hangupOnStar: `*` also raises a conference interrupt, so a playing wait/hold document stops. */
  starRaises = false;
  bridgedTo?: string;
  /** The call's first document (its greeting, a disclaimer) has run to its end: a waiting person's patience runs from here. */
  greetingOver = false;
  queueTimeMs?: number;
  phoneNumberSid: string | null = null;
  callerName: string | null = null;
  forwardedFrom: string | null = null;
  /** Answer document for outbound legs (Url or Twiml). */
  url?: string;
  method = 'POST';
  twiml?: string;
  fallbackUrl?: string;
  fallbackMethod = 'POST';
  statusCallback?: string;
  statusCallbackMethod = 'POST';
  statusEvents = new Set<string>(['completed']);
  seq = 0;
  /** The previous status callback: the next one waits for it, so one call's callbacks arrive in order unless a fault reorders them. */
  statusChain: Promise<unknown> = Promise.resolve();
  timeLimitS = 14400;
  /** Custom parameters for a browser softphone answering this leg (`<Client><Parameter>`; a `client:x?k=v` address carries its own). */
  customParams: Record<string, string> = {};
  /** Raw Calls create parameters (outbound-api legs). */
  createParams: Record<string, unknown> = {};
  readonly party: PartyRuntime;
  readonly timeline: TimelineEntry[] = [];
  /** Engine tasks still running for this leg (its document loop, trailing action requests). */
  tasks = 0;
  /** Aborted when the leg ends: cancels its party timers. */
  readonly life = new AbortController();
  private readonly wakers = new Set<() => void>();

  constructor(
    readonly clock: VirtualClock,
    readonly sid: string,
    readonly accountSid: string,
    readonly from: string,
    readonly to: string,
    readonly direction: 'inbound' | 'outbound-api' | 'outbound-dial',
    party: PartySpec,
    readonly parentSid?: string,
  ) {
    this.createdMs = clock.now();
    this.updatedMs = this.createdMs;
    this.party = new PartyRuntime(party);
  }

  /** True once answered (in-progress at some point). */
  get answered(): boolean {
    return this.answerMs !== undefined;
  }

  /** Call duration in whole seconds (answer to end, or to now while live). */
  durationS(): number {
    if (this.answerMs === undefined) return 0;
    return Math.round(((this.endMs ?? this.clock.now()) - this.answerMs) / 1000);
  }

  /** Sets an interrupt (a hang-up is never replaced by something weaker) and wakes waiters. */
  raise(i: Interrupt): void {
    if (this.ended) return;
    if (this.interrupt?.kind === 'hangup') return;
    // A conference's "re-plan your media" never hides a pending hang-up, redirect or dequeue.
    if (i.kind === 'conference' && this.interrupt) return this.wake();
    this.interrupt = i;
    this.wake();
  }

  /** Wakes every wait() on this leg so it re-checks its conditions. */
  wake(): void {
    for (const w of [...this.wakers]) w();
  }

  /** A party on this leg presses digits: heard when something listens (Gather, Record, hangupOnStar). */
  pressDigits(digits: string): void {
    if (this.ended) return;
    if (this.collecting) {
      this.dtmf.push(...digits.split(''));
      this.note('party', `party pressed ${digits}`, { content: digits });
    } else if (this.listenStar && digits.includes('*')) {
      this.starPressed = true;
      this.note('party', `party pressed ${digits} (hangupOnStar)`, { content: digits });
      if (this.starRaises) this.raise({ kind: 'conference' });
    } else {
      this.note('party', `party pressed ${digits} (nobody listening)`, { content: digits });
    }
    this.wake();
  }

  /**
   * Waits up to `ms` virtual ms (forever when undefined) for an interrupt on this leg or `also`,
   * digits (when `digits`), `*` (when `star`) or `signal`.
   */
  wait(ms: number | undefined, o: { digits?: boolean; star?: boolean; also?: Leg[]; signal?: AbortSignal } = {}): Promise<WaitResult> {
    const legs = [this, ...(o.also ?? [])];
    const check = (): WaitResult | undefined => {
      if (legs.some((l) => l.interrupt)) return 'interrupt';
      if (o.digits && this.dtmf.length > 0) return 'digit';
      if (o.star && this.starPressed) return 'star';
      if (o.signal?.aborted) return 'cancelled';
      return undefined;
    };
    const now = check();
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => {
      const timer = new AbortController();
      let done = false;
      const finish = (r: WaitResult) => {
        if (done) return;
        done = true;
        for (const l of legs) l.wakers.delete(waker);
        o.signal?.removeEventListener('abort', waker);
        timer.abort();
        resolve(r);
      };
      const waker = () => {
        const r = check();
        if (r) finish(r);
      };
      for (const l of legs) l.wakers.add(waker);
      o.signal?.addEventListener('abort', waker);
      if (ms !== undefined && Number.isFinite(ms)) {
        void this.clock.sleep(ms, timer.signal).then(() => finish('timeout'));
      }
    });
  }

  /** Appends a timeline entry. */
  note(type: TimelineEntry['type'], text: string, extra: Partial<TimelineEntry> = {}): TimelineEntry {
    const t = this.clock.elapsed();
    const e: TimelineEntry = { t, realMs: performance.timeOrigin + performance.now(), at: new Date(this.clock.epochMs + t).toISOString(), callSid: this.sid, type, text, ...extra };
    this.timeline.push(e);
    this.onNote?.(e);
    return e;
  }

  /** Hook the engine sets to mirror timeline entries into its log. */
  onNote?: (e: TimelineEntry) => void;

  /** The parameters Twilio sends with every voice request about this leg. */
  voiceParams(): Record<string, string> {
    const p: Record<string, string> = {
      AccountSid: this.accountSid,
      ApiVersion: API_VERSION,
      CallSid: this.sid,
      CallStatus: this.status,
      Called: this.to,
      Caller: this.from,
      Direction: this.direction,
      From: this.from,
      To: this.to,
      FromCountry: countryOf(this.from),
      ToCountry: countryOf(this.to),
      CalledCountry: countryOf(this.to),
      CallerCountry: countryOf(this.from),
    };
    if (this.parentSid) p.ParentCallSid = this.parentSid;
    if (this.forwardedFrom) p.ForwardedFrom = this.forwardedFrom;
    if (this.callerName) p.CallerName = this.callerName;
    return p;
  }

  /** The Call resource JSON the REST API returns. */
  json(): Record<string, unknown> {
    const base = `${accountPath(this.accountSid)}/Calls/${this.sid}`;
    const terminal = TERMINAL.includes(this.status);
    return {
      account_sid: this.accountSid,
      annotation: null,
      answered_by: this.answeredBy ?? null,
      api_version: API_VERSION,
      caller_name: this.callerName,
      date_created: rfc2822(this.createdMs),
      date_updated: rfc2822(this.updatedMs),
      direction: this.direction,
      duration: terminal ? String(this.durationS()) : null,
      end_time: this.endMs !== undefined ? rfc2822(this.endMs) : null,
      forwarded_from: this.forwardedFrom,
      from: this.from,
      from_formatted: this.from,
      group_sid: null,
      parent_call_sid: this.parentSid ?? null,
      phone_number_sid: this.phoneNumberSid,
      price: terminal && this.answered ? '-0.01300' : null,
      price_unit: 'USD',
      sid: this.sid,
      start_time: this.startMs !== undefined ? rfc2822(this.startMs) : null,
      status: this.status,
      subresource_uris: Object.fromEntries(
        [['notifications', 'Notifications'], ['recordings', 'Recordings'], ['payments', 'Payments'], ['events', 'Events'],
          ['siprec', 'Siprec'], ['streams', 'Streams'], ['transcriptions', 'Transcriptions'],
          ['user_defined_message_subscriptions', 'UserDefinedMessageSubscriptions'], ['user_defined_messages', 'UserDefinedMessages']]
          .map(([k, v]) => [k, `${base}/${v}.json`]),
      ),
      to: this.to,
      to_formatted: this.to,
      trunk_sid: null,
      uri: `${base}.json`,
      queue_time: String(Math.round(this.queueTimeMs ?? 0)),
    };
  }
}
