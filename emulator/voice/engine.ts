import twilio from 'twilio';
import type { VirtualClock } from '../clock';
import type { Parties, PartySpec } from '../parties';
import { normaliseAddress } from '../parties';
import { type Recording, type Store, recordingMediaPath } from '../state';
import { parseTwiml, sayDuration, TwimlError, UNSUPPORTED_VERBS, type TwimlNode } from '../twiml';
import { probeAudio } from '../audio';
import { countryOf, list, newSid, resolveUrl, rfc2822 } from '../util';
import type { WebhookPurpose, WebhookRecord, WebhookSender } from '../webhooks';
import { Leg, TERMINAL, type CallStatus, type TimelineEntry } from './leg';
import { Conferences } from './conference';

/** Where the next TwiML document comes from. */
export type DocSource =
  | { url: string; method: string; purpose: WebhookPurpose; extra?: Record<string, string> }
  | { twiml: string; base?: string };

/** How a document loop ended. */
type RunResult = 'ended' | 'done' | 'leave' | 'interrupted' | 'error';

/** What a verb asks the document loop to do next. */
type VerbResult = { next: DocSource } | 'continue' | 'ended' | 'leave' | 'interrupted';

interface RunContext {
  /** call: normal; whisper: `<Number url>` (ends = bridge); announce: `<Queue url>`; wait: `<Enqueue waitUrl>`; conference: a conference's wait / hold / announcement document. */
  mode: 'call' | 'whisper' | 'announce' | 'wait' | 'conference';
  /** Extra parameters for every request in this context (queue parameters for waitUrl). */
  extra?: () => Record<string, string>;
}

/** A queue of callers waiting in `<Enqueue>`. */
export interface Queue {
  sid: string;
  accountSid: string;
  friendlyName: string;
  maxSize: number;
  members: QueueMember[];
  dateCreated: number;
  dateUpdated: number;
  totalWaitMs: number;
  dequeued: number;
}

/** One caller waiting in a queue. */
export interface QueueMember {
  leg: Leg;
  enqueuedMs: number;
  /** Set when `<Dial><Queue>` takes this caller: resolves when the bridge ends. */
  bridge?: { agent: Leg; done: Promise<'agent' | 'caller' | 'other'> };
}

/** Collaborators the engine needs. */
export interface EngineDeps {
  clock: VirtualClock;
  store: Store;
  parties: Parties;
  webhooks: WebhookSender;
  baseUrl: () => string;
  defaultCps: number;
  log?: (line: string) => void;
}

const APP_ERROR_TEXT = 'We are sorry, an application error has occurred. Goodbye.';

/** Twilio adds this to every ring timeout (Calls `Timeout`, `<Dial timeout>`): a timeout of 10 s rings for about 15 s. */
export const RING_BUFFER_MS = 5000;

/** Verbs a document may use, by where it runs (top-level verbs; Gather keeps its own nesting rules). */
export const ALLOWED_VERBS: Record<Exclude<RunContext['mode'], 'call'>, string[]> = {
  /** `<Number url>` / `<Client url>` / `<Sip url>`: run on the called party before the bridge. */
  whisper: ['Play', 'Say', 'Gather', 'Hangup'],
  /** `<Queue url>`: run on the dequeued caller before the bridge. */
  announce: ['Play', 'Say', 'Pause', 'Redirect'],
  /** `<Enqueue waitUrl>`: run while the caller waits. */
  wait: ['Play', 'Say', 'Pause', 'Hangup', 'Redirect', 'Leave', 'Gather'],
  /** `<Conference waitUrl>`, Participants HoldUrl / AnnounceUrl, Conferences AnnounceUrl. */
  conference: ['Play', 'Say', 'Pause', 'Redirect'],
};

/** A browser softphone ringing for a leg to `client:<identity>`: it accepts, rejects, or lets it ring. */
export interface ClientRing {
  /** Aborted once the browser accepted or rejected. */
  readonly decided: AbortSignal;
  /** The browser's answer, once decided. */
  decision(): 'accept' | 'reject' | undefined;
  /** The leg stopped ringing without the browser's answer (caller hung up, ring timeout). */
  stop(): void;
}

/** Where browser softphones (Voice SDK Devices registered as `client:<identity>`) plug into the engine. */
export interface ClientEndpoints {
  /** A leg to a `client:` address starts ringing: the registered browser rings, or undefined lets the simulated party answer. */
  ring(leg: Leg): ClientRing | undefined;
  /** A leg changed status (also called once it ended). */
  status(leg: Leg): void;
  /** True while the browser on this leg has muted its microphone (what it says is not heard). */
  muted(leg: Leg): boolean;
}

/** The voice engine: rings parties, fetches and runs TwiML, bridges legs, and sends Twilio's callbacks. */
export class VoiceEngine {
  readonly legs = new Map<string, Leg>();
  /** Browser softphones, when the emulator serves them. */
  clients?: ClientEndpoints;
  readonly queues = new Map<string, Queue>();
  private readonly assetSeconds = new Map<string, number>();
  private readonly cpsNext = new Map<string, number>();
  private readonly cpsWaiting = new Map<string, number>();
  private readonly liveRecordings = new Map<string, { rec: Recording; cb?: { url: string; method: string; events: Set<string> } }>();
  /** Every timeline entry of every leg, in order. */
  readonly events: TimelineEntry[] = [];
  /** Conference rooms and their participants. */
  readonly conferences: Conferences;
  /** Told of every timeline entry as it is made (the emulator's onEvent listeners). */
  onEvent?: (e: TimelineEntry) => void;

  constructor(private readonly d: EngineDeps) {
    d.webhooks.onRecord = (r: WebhookRecord) => this.onWebhook(r);
    this.conferences = new Conferences({
      clock: d.clock, store: d.store, webhooks: d.webhooks, baseUrl: d.baseUrl, token: (a) => this.token(a),
      runMedia: (leg, src) => this.run(leg, src, { mode: 'conference' }),
      answer: (leg) => this.answer(leg),
      spawn: (leg, task) => this.spawn(leg, task),
      startRecording: (leg, o) => this.startRecording(leg, o),
      stopRecording: (sid) => this.stopRecording(sid),
      micMuted: (leg) => this.clients?.muted(leg) ?? false,
    });
  }

  private onWebhook(r: WebhookRecord) {
    const leg = r.callSid ? this.legs.get(r.callSid) : undefined;
    if (!leg) return;
    const ok = !r.errorCode;
    leg.note(ok ? 'webhook' : 'error', `${r.purpose} ${r.method} ${r.url} -> ${r.status || 'no answer'}${r.error ? ` (${r.error})` : ''}${r.fault ? ` [fault: ${r.fault}]` : ''}`, {
      purpose: r.purpose, url: r.url, method: r.method, httpStatus: r.status, params: r.params, errorCode: r.errorCode,
    });
  }

  private newLeg(accountSid: string, from: string, to: string, direction: Leg['direction'], party: PartySpec, parentSid?: string): Leg {
    const leg = new Leg(this.d.clock, newSid('CA'), accountSid, from, to, direction, party, parentSid);
    leg.onNote = (e) => {
      this.events.push(e);
      this.onEvent?.(e);
      this.d.log?.(`[${(e.t / 1000).toFixed(1).padStart(7)}s] ${e.callSid.slice(0, 10)}… ${e.type.padEnd(8)} ${e.text}`);
    };
    this.legs.set(leg.sid, leg);
    return leg;
  }

  private token(accountSid: string): string {
    const a = this.d.store.accounts.get(accountSid);
    if (!a) throw new Error(`unknown account ${accountSid}`);
    return a.authToken;
  }

  /** Runs a task attached to a leg, so waitForCall/idle know it is still busy. */
  private spawn(leg: Leg, task: () => Promise<unknown>): void {
    leg.tasks++;
    task()
      .catch((e: Error) => leg.note('error', `engine error: ${e.stack ?? e.message}`))
      .finally(() => leg.tasks--);
  }

  /** True while anything is still going to happen on this leg (including callbacks in flight). */
  busy(leg: Leg): boolean {
    return !leg.ended || leg.tasks > 0 || this.d.webhooks.pending(leg.sid) > 0;
  }

  /** Number of outbound API calls waiting for a CPS slot on an account. */
  cpsBacklog(accountSid: string): number {
    return this.cpsWaiting.get(accountSid) ?? 0;
  }

  // ---------------------------------------------------------------- status

  private setStatus(leg: Leg, status: CallStatus): void {
    if (leg.ended || leg.status === status) return;
    leg.status = status;
    leg.updatedMs = this.d.clock.now();
    if (status === 'initiated' || status === 'ringing') leg.startMs ??= leg.updatedMs;
    leg.note('status', status, { status });
    this.clients?.status(leg);
    const event = status === 'in-progress' ? 'answered' : status === 'initiated' || status === 'ringing' ? status : undefined;
    if (event) this.statusCallback(leg, event);
  }

  private statusCallback(leg: Leg, event: string): void {
    if (!leg.statusCallback || !leg.statusEvents.has(event)) return;
    const p: Record<string, string> = {
      ...leg.voiceParams(),
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(leg.seq++),
      Timestamp: rfc2822(this.d.clock.now()),
    };
    if (event === 'completed') {
      p.CallDuration = String(leg.durationS());
      p.Duration = String(Math.ceil(leg.durationS() / 60));
      p.SipResponseCode = { completed: '200', busy: '486', 'no-answer': '487', canceled: '487', failed: '500' }[leg.status as string] ?? '200';
    }
    if (leg.answeredBy) p.AnsweredBy = leg.answeredBy;
    const url = leg.statusCallback;
    const method = leg.statusCallbackMethod;
    const fault = this.d.webhooks.takeFault('status', url, p) ?? null;
    const after = leg.statusChain;
    const sent = this.d.webhooks.send({ purpose: 'status', url, method, params: p, authToken: this.token(leg.accountSid), fault, after });
    if (fault?.kind !== 'reorder') leg.statusChain = sent;
    this.spawn(leg, () => sent);
  }

  private answer(leg: Leg): void {
    if (leg.answered || leg.ended) return;
    leg.answerMs = this.d.clock.now();
    this.setStatus(leg, 'in-progress');
    this.startPartyTimers(leg);
    const limit = leg.timeLimitS;
    void this.d.clock.sleep(limit * 1000, leg.life.signal).then(() => {
      if (!leg.ended && !leg.life.signal.aborted) {
        leg.note('note', `time limit of ${limit} s reached`);
        leg.raise({ kind: 'hangup', by: 'engine' });
      }
    });
  }

  private startPartyTimers(leg: Leg): void {
    const spec = leg.party.spec;
    const sig = leg.life.signal;
    if (spec.hangupAfter !== undefined) {
      const s = spec.hangupAfter;
      void this.d.clock.sleep(s * 1000, sig).then(() => {
        if (sig.aborted) return;
        leg.note('party', `party hangs up (${s} s after answer)`);
        leg.raise({ kind: 'hangup', by: 'party' });
      });
    }
    for (const press of spec.digits ?? []) {
      void this.d.clock.sleep(press.at * 1000, sig).then(() => {
        if (!sig.aborted) leg.pressDigits(press.digits);
      });
    }
  }

  /** A person's patience runs from the end of the call's first document (its greeting or disclaimer): nobody heard by then, they hang up. */
  private startPatience(leg: Leg): void {
    const s = leg.party.spec.patienceSeconds;
    const sig = leg.life.signal;
    if (s === undefined || leg.ended) return;
    void this.d.clock.sleep(s * 1000, sig).then(() => {
      if (sig.aborted || leg.ended || leg.bridgedTo !== undefined || this.conferences.hears(leg.sid).size > 0) return;
      leg.note('party', `party gives up waiting (${s} s after the first document ended, nobody heard)`);
      leg.raise({ kind: 'hangup', by: 'party' });
    });
  }

  /** Ends a leg with a final status, stops its recordings and sends the completed callback (unless `silent`). */
  finish(leg: Leg, status: CallStatus, o: { silent?: boolean } = {}): void {
    if (leg.ended) return;
    leg.status = status;
    leg.endMs = this.d.clock.now();
    leg.updatedMs = leg.endMs;
    leg.ended = true;
    leg.interrupt = null;
    leg.life.abort();
    leg.note('status', `${status}${leg.answered ? ` (duration ${leg.durationS()} s)` : ''}`, { status });
    for (const q of this.queues.values()) q.members = q.members.filter((m) => m.leg !== leg);
    for (const [sid, live] of this.liveRecordings) if (live.rec.callSid === leg.sid) this.stopRecording(sid);
    if (!o.silent) this.statusCallback(leg, 'completed');
    leg.wake();
    this.clients?.status(leg);
  }

  /** Processes a pending hang-up interrupt; returns true when the leg is (now) over. */
  private settleHangup(leg: Leg): boolean {
    if (leg.ended) return true;
    const i = leg.interrupt;
    if (i?.kind !== 'hangup') return false;
    const status = leg.answered ? 'completed' : (i.status ?? 'canceled');
    if (i.by === 'api') leg.note('note', 'hung up via REST API');
    this.finish(leg, status);
    return true;
  }

  // ---------------------------------------------------------------- creating calls

  /** Starts an outbound API call (already validated by the REST layer). */
  startOutbound(opts: {
    accountSid: string; from: string; to: string; params: Record<string, unknown>;
  }): Leg {
    const p = opts.params;
    const str = (k: string) => (p[k] === undefined ? undefined : String(p[k]));
    const party = this.d.parties.get(opts.to);
    const leg = this.newLeg(opts.accountSid, opts.from, opts.to, 'outbound-api', party);
    leg.createParams = p;
    leg.url = str('Url');
    leg.method = str('Method') ?? 'POST';
    leg.twiml = str('Twiml');
    leg.fallbackUrl = str('FallbackUrl');
    leg.fallbackMethod = str('FallbackMethod') ?? 'POST';
    leg.statusCallback = str('StatusCallback');
    leg.statusCallbackMethod = str('StatusCallbackMethod') ?? 'POST';
    const events = list(p.StatusCallbackEvent as string | string[] | undefined);
    if (events.length) leg.statusEvents = new Set(events);
    if (p.TimeLimit !== undefined) leg.timeLimitS = Number(p.TimeLimit);
    const from = this.d.store.numberByAddress(opts.from);
    leg.phoneNumberSid = from?.sid ?? null;
    leg.note('status', 'queued', { status: 'queued' });
    this.spawn(leg, () => this.runOutbound(leg));
    return leg;
  }

  private async cpsSlot(leg: Leg): Promise<boolean> {
    const acct = this.d.store.accounts.get(leg.accountSid);
    const cps = acct?.options.cps ?? this.d.defaultCps;
    const now = this.d.clock.now();
    const slot = Math.max(now, this.cpsNext.get(leg.accountSid) ?? 0);
    this.cpsNext.set(leg.accountSid, slot + 1000 / cps);
    if (slot <= now) return true;
    this.cpsWaiting.set(leg.accountSid, this.cpsBacklog(leg.accountSid) + 1);
    leg.note('note', `waiting ${((slot - now) / 1000).toFixed(2)} s for a CPS slot (${cps}/s)`);
    const r = await leg.wait(slot - now);
    this.cpsWaiting.set(leg.accountSid, this.cpsBacklog(leg.accountSid) - 1);
    if (r === 'interrupt' && leg.interrupt?.kind === 'hangup') {
      // Twilio sends no status callback for a call cancelled while it was still queued.
      leg.note('note', 'cancelled while queued: no status callback');
      this.finish(leg, 'canceled', { silent: true });
      return false;
    }
    return true;
  }

  private async runOutbound(leg: Leg): Promise<void> {
    if (!(await this.cpsSlot(leg))) return;
    const outcome = await this.ring(leg, Number(leg.createParams.Timeout ?? 60) * 1000 + RING_BUFFER_MS);
    if (outcome !== 'answered') return;
    const p = leg.createParams;
    if (String(p.Record) === 'true') {
      this.startRecording(leg, {
        source: 'OutboundAPI', channels: p.RecordingChannels === 'dual' ? 2 : 1, track: String(p.RecordingTrack ?? 'both'),
        callbackUrl: p.RecordingStatusCallback as string | undefined, method: p.RecordingStatusCallbackMethod as string | undefined,
        events: list(p.RecordingStatusCallbackEvent as string | string[] | undefined),
      });
    }
    const amdMode = p.MachineDetection as string | undefined;
    if (amdMode === 'Enable' || amdMode === 'DetectMessageEnd') {
      const amd = this.amdOutcome(leg, amdMode, Number(p.MachineDetectionTimeout ?? 30) * 1000);
      if (String(p.AsyncAmd) === 'true') {
        this.spawn(leg, async () => {
          await this.d.clock.sleep(amd.ms, leg.life.signal);
          if (leg.ended) return;
          leg.answeredBy = amd.answeredBy;
          leg.note('amd', `AnsweredBy=${amd.answeredBy} after ${amd.ms} ms (async)`, { content: amd.answeredBy });
          const url = p.AsyncAmdStatusCallback as string | undefined;
          if (!url) return;
          await this.d.webhooks.send({
            purpose: 'amd', url, method: String(p.AsyncAmdStatusCallbackMethod ?? 'POST'), authToken: this.token(leg.accountSid),
            params: { AccountSid: leg.accountSid, CallSid: leg.sid, AnsweredBy: amd.answeredBy, MachineDetectionDuration: String(amd.ms) },
          });
        });
      } else {
        const r = await leg.wait(amd.ms);
        if (r === 'interrupt' && this.settleHangup(leg)) return;
        leg.answeredBy = amd.answeredBy;
        leg.note('amd', `AnsweredBy=${amd.answeredBy} after ${amd.ms} ms`, { content: amd.answeredBy });
      }
    }
    const extra: Record<string, string> = leg.answeredBy && String(p.AsyncAmd) !== 'true' ? { AnsweredBy: leg.answeredBy } : {};
    const src: DocSource = leg.twiml !== undefined && leg.url === undefined
      ? { twiml: leg.twiml }
      : { url: leg.url as string, method: leg.method, purpose: 'voice', extra };
    await this.runCall(leg, src);
  }

  /** AMD result for the party on a leg. */
  private amdOutcome(leg: Leg, mode: string, timeoutMs: number): { answeredBy: string; ms: number } {
    const s = leg.party.spec;
    let answeredBy: string;
    let ms: number;
    if (s.kind === 'fax') [answeredBy, ms] = ['fax', 2000];
    else if (s.kind === 'machine') {
      const greeting = (s.machine?.greetingSeconds ?? 6) * 1000;
      const beep = s.machine?.beep ?? true;
      if (mode === 'Enable') [answeredBy, ms] = ['machine_start', 3200];
      else [answeredBy, ms] = [beep ? 'machine_end_beep' : 'machine_end_silence', greeting + (beep ? 400 : 2000)];
    } else [answeredBy, ms] = ['human', 2400];
    if (s.answeredBy) answeredBy = s.answeredBy;
    if (s.amdMs !== undefined) ms = s.amdMs;
    if (ms > timeoutMs) [answeredBy, ms] = ['unknown', timeoutMs];
    return { answeredBy, ms };
  }

  /** Rings a leg's party: initiated, ringing, then answered / busy / failed / no-answer / canceled. */
  private async ring(leg: Leg, timeoutMs: number): Promise<'answered' | CallStatus> {
    this.setStatus(leg, 'initiated');
    const r0 = await leg.wait(50);
    if (r0 === 'interrupt') return this.cancelRinging(leg);
    this.setStatus(leg, 'ringing');
    const browser = leg.to.startsWith('client:') ? this.clients?.ring(leg) : undefined;
    if (browser) return this.ringBrowser(leg, browser, timeoutMs);
    const spec = leg.party.spec;
    const outcome = spec.outcome ?? 'answer';
    if (outcome === 'busy' || outcome === 'failed') {
      // A busy signal after `answerAfter` seconds of ringing when given (1 s by default); a failure at once.
      const r = await leg.wait(outcome === 'busy' ? (spec.answerAfter ?? 1) * 1000 : 300);
      if (r === 'interrupt') return this.cancelRinging(leg);
      this.finish(leg, outcome);
      return outcome;
    }
    const after = outcome === 'no-answer' ? Infinity : (spec.answerAfter ?? 1) * 1000;
    const r = await leg.wait(Math.min(after, timeoutMs));
    if (r === 'interrupt') return this.cancelRinging(leg);
    if (after >= timeoutMs) {
      this.finish(leg, 'no-answer');
      return 'no-answer';
    }
    this.answer(leg);
    return 'answered';
  }

  /**
   * A registered browser decides instead of the simulated party: accept answers, reject ends the
   * leg busy (a Voice SDK `reject()` is reported as `DialCallStatus=busy`), no answer within the
   * ring timeout is no-answer.
   */
  private async ringBrowser(leg: Leg, browser: ClientRing, timeoutMs: number): Promise<'answered' | CallStatus> {
    const r = await leg.wait(timeoutMs, { signal: browser.decided });
    if (r === 'interrupt') {
      browser.stop();
      return this.cancelRinging(leg);
    }
    if (r === 'timeout') {
      browser.stop();
      this.finish(leg, 'no-answer');
      return 'no-answer';
    }
    if (browser.decision() === 'reject') {
      this.finish(leg, 'busy');
      return 'busy';
    }
    this.answer(leg);
    return 'answered';
  }

  private cancelRinging(leg: Leg): CallStatus {
    const i = leg.interrupt;
    const status: CallStatus = i?.kind === 'hangup' ? (i.status === 'completed' ? 'canceled' : (i.status ?? 'canceled')) : 'canceled';
    this.finish(leg, status);
    return status;
  }

  /** A party dials one of the IncomingPhoneNumbers: the engine fetches its VoiceUrl. */
  startInbound(opts: { from: string; to: string; party?: Partial<PartySpec>; forwardedFrom?: string; callerName?: string }): Leg {
    const num = this.d.store.numberByAddress(opts.to);
    if (!num) throw new Error(`${opts.to} is not an IncomingPhoneNumber of any account in the emulator`);
    const party = { ...this.d.parties.get(opts.from), ...opts.party, number: opts.from };
    const leg = this.newLeg(num.accountSid, opts.from, num.phoneNumber, 'inbound', party);
    const j = num.json;
    leg.phoneNumberSid = num.sid;
    leg.forwardedFrom = opts.forwardedFrom ?? null;
    leg.callerName = opts.callerName ?? null;
    leg.url = (j.voice_url as string | null) ?? undefined;
    leg.method = (j.voice_method as string | null) ?? 'POST';
    leg.fallbackUrl = (j.voice_fallback_url as string | null) ?? undefined;
    leg.fallbackMethod = (j.voice_fallback_method as string | null) ?? 'POST';
    leg.statusCallback = (j.status_callback as string | null) || undefined;
    leg.statusCallbackMethod = (j.status_callback_method as string | null) ?? 'POST';
    leg.startMs = this.d.clock.now();
    leg.status = 'ringing';
    leg.note('status', 'ringing (inbound)', { status: 'ringing' });
    this.spawn(leg, async () => {
      if (!leg.url) {
        leg.note('error', 'the number has no VoiceUrl', { errorCode: 11200 });
        await this.applicationError(leg);
        return;
      }
      await this.runCall(leg, { url: leg.url, method: leg.method, purpose: 'voice' });
    });
    return leg;
  }

  /**
   * A browser softphone calls a TwiML App (Voice SDK `connect()`): an inbound leg from
   * `client:<identity>` that fetches the App's VoiceUrl with `extra` (ApplicationSid, the
   * connect params) on its first request. The browser is the caller: no simulated party.
   */
  startClientCall(o: {
    accountSid: string; from: string; to: string; extra: Record<string, string>;
    app: { voiceUrl: string; voiceMethod: string; voiceFallbackUrl?: string; voiceFallbackMethod?: string; statusCallback?: string; statusCallbackMethod?: string };
  }): Leg {
    const leg = this.newLeg(o.accountSid, o.from, o.to, 'inbound', { number: o.from, outcome: 'answer', kind: 'human' });
    leg.url = o.app.voiceUrl || undefined;
    leg.method = o.app.voiceMethod || 'POST';
    leg.fallbackUrl = o.app.voiceFallbackUrl || undefined;
    leg.fallbackMethod = o.app.voiceFallbackMethod || 'POST';
    leg.statusCallback = o.app.statusCallback || undefined;
    leg.statusCallbackMethod = o.app.statusCallbackMethod || 'POST';
    leg.startMs = this.d.clock.now();
    leg.status = 'ringing';
    leg.note('status', 'ringing (inbound from a browser softphone)', { status: 'ringing' });
    this.spawn(leg, async () => {
      if (!leg.url) {
        leg.note('error', 'the TwiML App has no VoiceUrl', { errorCode: 11200 });
        await this.applicationError(leg);
        return;
      }
      await this.runCall(leg, { url: leg.url, method: leg.method, purpose: 'voice', extra: o.extra });
    });
    return leg;
  }

  // ---------------------------------------------------------------- REST updates

  /** Applies Calls update (Url/Twiml redirect, Status=completed|canceled). Returns an error message when not allowed. */
  update(leg: Leg, u: { url?: string; method?: string; twiml?: string; status?: string }): string | undefined {
    if (u.status === 'canceled') {
      if (['queued', 'initiated', 'ringing'].includes(leg.status) && !leg.ended) leg.raise({ kind: 'hangup', by: 'api', status: 'canceled' });
      return undefined;
    }
    if (u.status === 'completed') {
      if (leg.ended) return undefined;
      leg.raise({ kind: 'hangup', by: 'api', status: leg.answered ? 'completed' : 'canceled' });
      return undefined;
    }
    if (u.url !== undefined || u.twiml !== undefined) {
      if (leg.ended) return 'Call is not in-progress. Cannot redirect.';
      if (!leg.answered && leg.direction === 'outbound-api') {
        if (u.url !== undefined) [leg.url, leg.method, leg.twiml] = [u.url, u.method ?? 'POST', undefined];
        else [leg.twiml, leg.url] = [u.twiml, undefined];
        return undefined;
      }
      leg.note('note', u.url !== undefined ? `redirected via REST API to ${u.url}` : 'new TwiML via REST API');
      leg.raise(u.url !== undefined ? { kind: 'redirect', url: u.url, method: u.method ?? 'POST', by: 'api' } : { kind: 'twiml', twiml: u.twiml as string });
    }
    return undefined;
  }

  // ---------------------------------------------------------------- documents

  private async load(leg: Leg, src: DocSource, ctx: RunContext): Promise<{ root: TwimlNode; url?: string } | undefined> {
    if ('twiml' in src) {
      try {
        return this.allowed(leg, { root: parseTwiml(src.twiml), url: src.base }, ctx);
      } catch (e) {
        leg.note('error', `invalid TwiML: ${(e as Error).message}`, { errorCode: 12100 });
        return undefined;
      }
    }
    const attempt = async (url: string, method: string, purpose: WebhookPurpose) => {
      const params = { ...leg.voiceParams(), ...(ctx.extra?.() ?? {}), ...(src.extra ?? {}) };
      const rec = await this.d.webhooks.send({ purpose, url, method, params, authToken: this.token(leg.accountSid) });
      if (rec.errorCode) return undefined;
      if (ctx.mode === 'conference' && rec.contentType.startsWith('audio/')) {
        // A conference's wait / hold / announcement URL may answer an MP3 or WAV file: it is played.
        return { root: { name: 'Response', attrs: {}, text: '', children: [{ name: 'Play', attrs: {}, children: [], text: url.split('#')[0] as string }] }, url: url.split('#')[0] };
      }
      try {
        return this.allowed(leg, { root: parseTwiml(rec.body), url: url.split('#')[0] }, ctx);
      } catch (e) {
        leg.note('error', `document parse failure from ${url}: ${(e as Error).message}`, { errorCode: e instanceof TwimlError ? e.code : 12100, url });
        return undefined;
      }
    };
    const doc = await attempt(src.url, src.method, src.purpose);
    if (doc) return doc;
    if (src.purpose === 'voice' && leg.fallbackUrl) return attempt(leg.fallbackUrl, leg.fallbackMethod, 'fallback');
    return undefined;
  }

  /** The document, or undefined (with an error on the timeline) when it uses a verb its context does not allow. */
  private allowed(leg: Leg, doc: { root: TwimlNode; url?: string }, ctx: RunContext): { root: TwimlNode; url?: string } | undefined {
    if (ctx.mode === 'call') return doc;
    const allow = ALLOWED_VERBS[ctx.mode];
    const bad = doc.root.children.map((v) => v.name).filter((n) => !allow.includes(n));
    if (!bad.length) return doc;
    const where = {
      whisper: 'a <Number url>/<Client url> document', announce: 'a <Queue url> document', wait: 'a waitUrl document',
      conference: 'a conference wait/hold/announcement document',
    }[ctx.mode];
    leg.note('error', `${[...new Set(bad)].map((n) => `<${n}>`).join(', ')} not allowed in ${where} (allowed: ${allow.join(', ')}); document refused`, { errorCode: 12100 });
    return undefined;
  }

  private async applicationError(leg: Leg): Promise<void> {
    if (leg.ended) return;
    leg.note('verb', `Say "${APP_ERROR_TEXT}" (application error)`, { verb: 'Say', content: APP_ERROR_TEXT, attrs: {} });
    if (!leg.answered) this.answer(leg);
    await leg.wait(sayDuration(APP_ERROR_TEXT) * 1000);
    if (!this.settleHangup(leg)) this.finish(leg, 'completed');
  }

  /** Runs documents on a leg until the call ends (call mode). */
  private async runCall(leg: Leg, src: DocSource): Promise<void> {
    const r = await this.run(leg, src, { mode: 'call' });
    if (r === 'done' || r === 'leave') {
      if (!leg.answered && leg.direction === 'inbound') this.answer(leg);
      if (!this.settleHangup(leg)) this.finish(leg, 'completed');
    }
  }

  /** The document loop: fetch, run verbs, follow actions/redirects and REST interrupts. */
  private async run(leg: Leg, first: DocSource, ctx: RunContext): Promise<RunResult> {
    let src: DocSource | null = first;
    while (src) {
      if (leg.ended) return 'ended';
      const doc = await this.load(leg, src, ctx);
      if (!doc) {
        if (ctx.mode === 'wait' || ctx.mode === 'conference') return leg.interrupt ? 'interrupted' : 'error';
        await this.applicationError(leg);
        return 'ended';
      }
      if (leg.interrupt) {
        const h = this.takeInterrupt(leg, ctx);
        if (h === 'ended' || h === 'interrupted') return h;
        src = h.next;
        continue;
      }
      const r = await this.verbs(leg, doc.root.children, doc.url, ctx);
      if (ctx.mode === 'call' && leg.answered && !leg.greetingOver) {
        leg.greetingOver = true;
        this.startPatience(leg);
      }
      if (r === 'ended' || r === 'leave') return r;
      if (r === 'interrupted') {
        const h = this.takeInterrupt(leg, ctx);
        if (h === 'ended' || h === 'interrupted') return h;
        src = h.next;
        continue;
      }
      if (r === 'continue') return 'done';
      src = r.next;
    }
    return 'done';
  }

  /** Turns a pending interrupt into the next step (call mode) or hands it up (whisper/wait). */
  private takeInterrupt(leg: Leg, ctx: RunContext): { next: DocSource } | 'ended' | 'interrupted' {
    const i = leg.interrupt;
    if (!i) return 'interrupted';
    if (ctx.mode !== 'call') return 'interrupted';
    if (i.kind === 'hangup') {
      this.settleHangup(leg);
      return 'ended';
    }
    leg.interrupt = null;
    if (i.kind === 'redirect') return { next: { url: i.url, method: i.method, purpose: 'redirect' } };
    if (i.kind === 'twiml') return { next: { twiml: i.twiml } };
    return 'interrupted';
  }

  private async verbs(leg: Leg, verbs: TwimlNode[], docUrl: string | undefined, ctx: RunContext): Promise<VerbResult> {
    for (const v of verbs) {
      if (leg.ended) return 'ended';
      if (leg.interrupt) return 'interrupted';
      if (leg.direction === 'inbound' && !leg.answered && ctx.mode === 'call') {
        const bridgeAnswer = v.name === 'Dial' && v.attrs.answerOnBridge === 'true';
        if (v.name !== 'Reject' && !bridgeAnswer) this.answer(leg);
      }
      const r = await this.verb(leg, v, docUrl, ctx);
      if (r !== 'continue') return r;
    }
    return 'continue';
  }

  private url(ref: string, docUrl: string | undefined): string {
    return resolveUrl(ref, docUrl);
  }

  private async verb(leg: Leg, v: TwimlNode, docUrl: string | undefined, ctx: RunContext): Promise<VerbResult> {
    const a = v.attrs;
    switch (v.name) {
      case 'Say':
      case 'Play':
      case 'Pause': {
        const r = await this.prompt(leg, v, docUrl, false);
        return r === 'interrupt' ? 'interrupted' : 'continue';
      }
      case 'Gather':
        return this.gather(leg, v, docUrl);
      case 'Dial':
        if (ctx.mode !== 'call') return this.disallowed(leg, v, ctx);
        return this.dial(leg, v, docUrl);
      case 'Enqueue':
        if (ctx.mode !== 'call') return this.disallowed(leg, v, ctx);
        return this.enqueue(leg, v, docUrl);
      case 'Leave':
        leg.note('verb', 'Leave', { verb: 'Leave', attrs: a });
        if (ctx.mode === 'wait') return 'leave';
        leg.note('note', '<Leave> outside a queue wait is ignored');
        return 'continue';
      case 'Record':
        return this.record(leg, v, docUrl);
      case 'Redirect': {
        const url = this.url(v.text, docUrl);
        leg.note('verb', `Redirect ${url}`, { verb: 'Redirect', attrs: a, content: url });
        return { next: { url, method: a.method ?? 'POST', purpose: 'redirect' } };
      }
      case 'Hangup':
        leg.note('verb', 'Hangup', { verb: 'Hangup', attrs: a });
        if (!leg.answered) this.answer(leg);
        this.finish(leg, 'completed');
        return 'ended';
      case 'Reject': {
        const reason = a.reason ?? 'rejected';
        leg.note('verb', `Reject reason=${reason}`, { verb: 'Reject', attrs: a, content: reason });
        this.finish(leg, leg.answered ? 'completed' : reason === 'busy' ? 'busy' : 'no-answer');
        return 'ended';
      }
      default:
        if (UNSUPPORTED_VERBS.includes(v.name)) {
          leg.note('error', `<${v.name}> is not supported by the emulator; skipped`, { verb: v.name, attrs: a, errorCode: 12100 });
          return 'continue';
        }
        leg.note('error', `unknown verb <${v.name}>`, { errorCode: 12100 });
        return 'continue';
    }
  }

  private disallowed(leg: Leg, v: TwimlNode, ctx: RunContext): VerbResult {
    leg.note('error', `<${v.name}> is not allowed in a ${ctx.mode} document; skipped`, { verb: v.name, errorCode: 12100 });
    return 'continue';
  }

  // ---------------------------------------------------------------- Say / Play / Pause

  private async playSeconds(url: string, accountSid: string): Promise<number | undefined> {
    const hit = this.assetSeconds.get(url);
    if (hit !== undefined) return hit;
    const release = this.d.clock.hold(); // fetching the audio takes real time, as it does on Twilio
    try {
      const signature = twilio.getExpectedTwilioSignature(this.token(accountSid), url, {});
      const res = await fetch(url, { signal: AbortSignal.timeout(10000), headers: { 'X-Twilio-Signature': signature, 'User-Agent': 'TwilioProxy/1.1' } });
      if (!res.ok) return undefined;
      const info = probeAudio(Buffer.from(await res.arrayBuffer()));
      if (!info) return undefined;
      this.assetSeconds.set(url, info.seconds);
      return info.seconds;
    } catch {
      return undefined;
    } finally {
      release();
    }
  }

  /** Say/Play/Pause; `digits` lets DTMF barge in (inside Gather). */
  private async prompt(leg: Leg, v: TwimlNode, docUrl: string | undefined, digits: boolean): Promise<'done' | 'interrupt' | 'digit'> {
    const a = v.attrs;
    let seconds: number;
    const loopAttr = a.loop === undefined ? 1 : Number(a.loop);
    const loops = loopAttr === 0 ? 1000 : Math.max(1, loopAttr || 1);
    if (v.name === 'Say') {
      seconds = sayDuration(v.text) * loops;
      leg.note('verb', `Say "${v.text}"${a.language ? ` language=${a.language}` : ''}${a.voice ? ` voice=${a.voice}` : ''}${loops > 1 ? ` loop=${a.loop}` : ''}`, {
        verb: 'Say', attrs: a, content: v.text,
      });
    } else if (v.name === 'Play') {
      if (a.digits !== undefined) {
        seconds = a.digits.split('').reduce((s, ch) => s + (ch === 'w' ? 0.5 : ch === 'W' ? 1 : 0.2), 0);
        leg.note('verb', `Play digits=${a.digits}`, { verb: 'Play', attrs: a, content: a.digits });
      } else {
        const url = this.url(v.text, docUrl);
        const len = await this.playSeconds(url, leg.accountSid);
        seconds = (len ?? 5) * loops;
        leg.note('verb', `Play ${url}${len === undefined ? ' (length unknown: 5 s assumed)' : ` (${len.toFixed(1)} s)`}${loops > 1 ? ` loop=${a.loop}` : ''}`, {
          verb: 'Play', attrs: a, content: url,
        });
      }
    } else {
      const len = a.length === undefined ? 1 : Number(a.length);
      seconds = Number.isFinite(len) ? len : 1;
      leg.note('verb', `Pause length=${seconds}`, { verb: 'Pause', attrs: a, content: String(seconds) });
    }
    const r = await leg.wait(seconds * 1000, { digits });
    if (r === 'interrupt') return 'interrupt';
    if (r === 'digit') return 'digit';
    return 'done';
  }

  // ---------------------------------------------------------------- Gather

  private async gather(leg: Leg, v: TwimlNode, docUrl: string | undefined): Promise<VerbResult> {
    const a = v.attrs;
    const numDigits = a.numDigits ? Number(a.numDigits) : Infinity;
    const timeoutS = a.timeout === undefined ? 5 : a.timeout === 'auto' ? 5 : Number(a.timeout);
    const finishOnKey = a.finishOnKey ?? '#';
    const input = a.input ?? 'dtmf';
    leg.note('verb', `Gather${Object.entries(a).map(([k, x]) => ` ${k}=${x}`).join('')}`, { verb: 'Gather', attrs: a });
    if (!input.split(/\s+/).includes('dtmf')) leg.note('note', `Gather input="${input}": speech is not simulated, only DTMF`);
    leg.dtmf = [];
    leg.collecting = true;
    const scripted = leg.party.nextGather();
    const press = (digits: string) => {
      if (!leg.ended) leg.pressDigits(digits);
    };
    const pressSignal = new AbortController();
    if (scripted?.afterSeconds !== undefined) {
      void this.d.clock.sleep(scripted.afterSeconds * 1000, pressSignal.signal).then(() => !pressSignal.signal.aborted && press(scripted.digits));
    }
    try {
      for (const child of v.children) {
        const r = await this.prompt(leg, child, docUrl, true);
        if (r === 'interrupt') return 'interrupted';
        if (r === 'digit') break;
      }
      if (scripted && scripted.afterSeconds === undefined) {
        void this.d.clock.sleep(500, pressSignal.signal).then(() => !pressSignal.signal.aborted && press(scripted.digits));
      }
      let digits = '';
      let finishedOnKey = '';
      collect: for (;;) {
        const r = await leg.wait(timeoutS * 1000, { digits: true });
        if (r === 'interrupt') return 'interrupted';
        if (r !== 'digit') break;
        while (leg.dtmf.length) {
          const d = leg.dtmf.shift() as string;
          if (finishOnKey && finishOnKey.includes(d)) {
            finishedOnKey = d;
            break collect;
          }
          digits += d;
          if (digits.length >= numDigits) break collect;
        }
      }
      leg.note('verb', digits || finishedOnKey ? `Gather got Digits=${digits}${finishedOnKey ? ` (finished on ${finishedOnKey})` : ''}` : 'Gather timed out with no input', {
        verb: 'Gather', content: digits,
      });
      if (!digits && a.actionOnEmptyResult !== 'true') return 'continue';
      const url = a.action ? this.url(a.action, docUrl) : docUrl;
      if (!url) {
        leg.note('error', 'Gather without action in a document that has no URL', { errorCode: 12100 });
        return 'continue';
      }
      const extra: Record<string, string> = { Digits: digits };
      if (finishedOnKey) extra.FinishedOnKey = finishedOnKey;
      return { next: { url, method: a.method ?? 'POST', purpose: 'action', extra } };
    } finally {
      pressSignal.abort();
      leg.collecting = false;
      leg.dtmf = [];
    }
  }

  // ---------------------------------------------------------------- Record

  private async record(leg: Leg, v: TwimlNode, docUrl: string | undefined): Promise<VerbResult> {
    const a = v.attrs;
    const timeoutS = a.timeout === undefined ? 5 : Number(a.timeout);
    const maxLength = a.maxLength === undefined ? 3600 : Number(a.maxLength);
    const finishOnKey = a.finishOnKey ?? '1234567890*#';
    leg.note('verb', `Record${Object.entries(a).map(([k, x]) => ` ${k}=${x}`).join('')}`, { verb: 'Record', attrs: a });
    if (a.playBeep !== 'false') {
      leg.note('note', 'beep');
      if ((await leg.wait(500)) === 'interrupt' && leg.interrupt?.kind !== 'hangup') return 'interrupted';
    }
    const spec = leg.party.spec.record ?? {};
    const speak = Math.min(spec.speakSeconds ?? 4, maxLength);
    const startMs = this.d.clock.now();
    let digits = '';
    let spokenMs = 0;
    leg.dtmf = [];
    leg.collecting = true;
    try {
      if (!leg.interrupt) {
        const r1 = await leg.wait(speak * 1000, { digits: true });
        spokenMs = r1 === 'timeout' ? speak * 1000 : this.d.clock.now() - startMs;
        if (r1 === 'digit') digits = leg.dtmf.find((d) => finishOnKey.includes(d)) ?? '';
        else if (r1 === 'timeout' && speak < maxLength) {
          const then = spec.then ?? 'silence';
          if (then === 'hangup') {
            leg.note('party', 'party hangs up after speaking');
            leg.raise({ kind: 'hangup', by: 'party' });
          } else if (then === 'key' && finishOnKey.includes(spec.key ?? '#')) {
            leg.pressDigits(spec.key ?? '#');
            digits = spec.key ?? '#';
          } else {
            const r2 = await leg.wait(timeoutS * 1000, { digits: true });
            if (r2 === 'digit') digits = leg.dtmf.find((d) => finishOnKey.includes(d)) ?? '';
          }
        }
      }
    } finally {
      leg.collecting = false;
      leg.dtmf = [];
    }
    const hungUp = leg.interrupt?.kind === 'hangup';
    if (leg.interrupt && !hungUp) return 'interrupted';
    if (hungUp) digits = 'hangup';
    const durationS = Math.round(spokenMs / 1000);
    if (durationS <= 0) {
      leg.note('note', 'Record: nothing was recorded; continuing with the next verb');
      if (hungUp) {
        this.settleHangup(leg);
        return 'ended';
      }
      return 'continue';
    }
    const rec = this.makeRecording(leg, { source: 'RecordVerb', channels: 1, track: 'inbound', startMs });
    rec.durationS = durationS;
    const cbUrl = a.recordingStatusCallback ? this.url(a.recordingStatusCallback, docUrl) : undefined;
    const events = new Set(list(a.recordingStatusCallbackEvent ?? 'completed'));
    this.completeRecording(rec, cbUrl ? { url: cbUrl, method: a.recordingStatusCallbackMethod ?? 'POST', events } : undefined);
    const recordingUrl = this.d.baseUrl() + recordingMediaPath(rec);
    const extra = { RecordingUrl: recordingUrl, RecordingDuration: String(durationS), RecordingSid: rec.sid, Digits: digits };
    const action = a.action ? this.url(a.action, docUrl) : docUrl;
    if (hungUp) {
      this.settleHangup(leg);
      if (action) await this.d.webhooks.send({ purpose: 'action', url: action, method: a.method ?? 'POST', authToken: this.token(leg.accountSid), params: { ...leg.voiceParams(), ...extra } });
      return 'ended';
    }
    if (!action) return 'continue';
    return { next: { url: action, method: a.method ?? 'POST', purpose: 'action', extra } };
  }

  // ---------------------------------------------------------------- recordings

  private makeRecording(leg: Leg, o: { source: Recording['source']; channels: 1 | 2; track: string; startMs?: number }): Recording {
    const now = this.d.clock.now();
    const rec: Recording = {
      sid: newSid('RE'), accountSid: leg.accountSid, callSid: leg.sid, startMs: o.startMs ?? now, durationS: 0,
      channels: o.channels, source: o.source, status: 'in-progress', track: o.track, dateCreated: now, dateUpdated: now,
    };
    this.d.store.recordings.set(rec.sid, rec);
    return rec;
  }

  private recordingCallback(rec: Recording, cb: { url: string; method: string; events: Set<string> } | undefined, status: string): void {
    if (!cb || !cb.events.has(status)) return;
    const leg = this.legs.get(rec.callSid);
    const params: Record<string, string> = {
      AccountSid: rec.accountSid, CallSid: rec.callSid, RecordingSid: rec.sid, RecordingUrl: this.d.baseUrl() + recordingMediaPath(rec),
      RecordingStatus: status, RecordingDuration: String(status === 'completed' ? rec.durationS : 0), RecordingChannels: String(rec.channels),
      RecordingStartTime: rfc2822(rec.startMs), RecordingSource: rec.source, ErrorCode: '0',
    };
    if (rec.source !== 'RecordVerb') params.RecordingTrack = rec.track;
    leg?.note('recording', `recording ${rec.sid} ${status}${status === 'completed' ? ` (${rec.durationS} s, ${rec.channels} ch)` : ''}`, { content: rec.sid, status });
    const task = () => this.d.webhooks.send({ purpose: 'recording', url: cb.url, method: cb.method, params, authToken: this.token(rec.accountSid), callSid: rec.callSid });
    if (leg) this.spawn(leg, task);
    else void task();
  }

  private completeRecording(rec: Recording, cb?: { url: string; method: string; events: Set<string> }): void {
    rec.status = 'completed';
    rec.dateUpdated = this.d.clock.now();
    this.recordingCallback(rec, cb, 'completed');
  }

  /** Starts a recording that runs until stopRecording (Dial record / Calls create Record=true). */
  private startRecording(leg: Leg, o: { source: Recording['source']; channels: 1 | 2; track: string; callbackUrl?: string; method?: string; events: string[] }): string {
    const rec = this.makeRecording(leg, o);
    const cb = o.callbackUrl ? { url: o.callbackUrl, method: o.method ?? 'POST', events: new Set(o.events.length ? o.events : ['completed']) } : undefined;
    this.liveRecordings.set(rec.sid, { rec, cb });
    leg.note('recording', `recording ${rec.sid} started (${o.source}, ${o.channels} ch)`, { content: rec.sid, status: 'in-progress' });
    this.recordingCallback(rec, cb, 'in-progress');
    return rec.sid;
  }

  private stopRecording(sid: string): Recording | undefined {
    const live = this.liveRecordings.get(sid);
    if (!live) return this.d.store.recordings.get(sid);
    this.liveRecordings.delete(sid);
    const rec = live.rec;
    this.endPause(rec);
    rec.durationS = Math.max(0, Math.round((this.d.clock.now() - rec.startMs - (rec.skippedMs ?? 0)) / 1000));
    this.completeRecording(rec, live.cb);
    return rec;
  }

  /** Closes a running pause: a `skip` pause's time is left out of the file. */
  private endPause(rec: Recording): void {
    if (!rec.pause) return;
    if (rec.pause.behavior === 'skip') rec.skippedMs = (rec.skippedMs ?? 0) + (this.d.clock.now() - rec.pause.sinceMs);
    rec.pause = undefined;
  }

  /**
   * Starts recording a live call through the Calls Recordings API (source StartCallRecordingAPI); it runs
   * until the call ends or it is stopped. The caller checks the call is in-progress.
   */
  recordCall(leg: Leg, o: { channels: 1 | 2; track: string; callbackUrl?: string; method?: string; events: string[] }): Recording {
    const sid = this.startRecording(leg, { source: 'StartCallRecordingAPI', ...o });
    return this.d.store.recordings.get(sid) as Recording;
  }

  /** True while a recording is running or paused (it can still be updated). */
  recordingLive(sid: string): boolean {
    return this.liveRecordings.has(sid);
  }

  /**
   * Pauses, resumes or stops a live recording (Calls Recordings update). Pausing a paused recording
   * or resuming a running one changes nothing. Stopping completes it at once, with its callback.
   */
  setRecordingStatus(sid: string, status: 'paused' | 'in-progress' | 'stopped', pauseBehavior: 'skip' | 'silence'): Recording | undefined {
    const live = this.liveRecordings.get(sid);
    if (!live) return undefined;
    const rec = live.rec;
    const leg = this.legs.get(rec.callSid);
    if (status === 'stopped') return this.stopRecording(sid);
    if (status === 'paused' && rec.status === 'in-progress') {
      rec.status = 'paused';
      rec.pause = { sinceMs: this.d.clock.now(), behavior: pauseBehavior };
      leg?.note('recording', `recording ${rec.sid} paused (${pauseBehavior})`, { content: rec.sid, status: 'paused' });
    } else if (status === 'in-progress' && rec.status === 'paused') {
      this.endPause(rec);
      rec.status = 'in-progress';
      leg?.note('recording', `recording ${rec.sid} resumed`, { content: rec.sid, status: 'in-progress' });
    }
    rec.dateUpdated = this.d.clock.now();
    return rec;
  }

  // ---------------------------------------------------------------- Dial

  private bridgeAttrs(v: TwimlNode, docUrl: string | undefined) {
    const a = v.attrs;
    return {
      timeoutMs: (a.timeout === undefined ? 30 : Math.min(600, Math.max(5, Number(a.timeout)))) * 1000,
      action: a.action ? this.url(a.action, docUrl) : undefined,
      method: a.method ?? 'POST',
      record: a.record ?? 'do-not-record',
      recCb: a.recordingStatusCallback ? this.url(a.recordingStatusCallback, docUrl) : undefined,
      recMethod: a.recordingStatusCallbackMethod ?? 'POST',
      recEvents: list(a.recordingStatusCallbackEvent ?? 'completed'),
      hangupOnStar: a.hangupOnStar === 'true',
      timeLimitS: a.timeLimit === undefined ? 14400 : Number(a.timeLimit),
    };
  }

  private async dial(leg: Leg, v: TwimlNode, docUrl: string | undefined): Promise<VerbResult> {
    const a = v.attrs;
    const o = this.bridgeAttrs(v, docUrl);
    const nouns = v.children.length ? v.children : [{ name: 'Number', attrs: {}, children: [], text: v.text }];
    leg.note('verb', `Dial ${nouns.map((n) => `${n.name}(${n.text})`).join(', ')}${Object.entries(a).map(([k, x]) => ` ${k}=${x}`).join('')}`, {
      verb: 'Dial', attrs: a, content: nouns.map((n) => n.text).join(' '),
    });
    const conferenceNoun = nouns.find((n) => n.name === 'Conference');
    if (conferenceNoun) {
      const extra = await this.conferences.dial(leg, conferenceNoun, o, docUrl);
      return this.afterDial(leg, o, extra);
    }
    const queueNoun = nouns.find((n) => n.name === 'Queue');
    if (queueNoun) return this.dialQueue(leg, queueNoun, o, docUrl);
    const recordChannels: 1 | 2 = o.record.endsWith('-dual') ? 2 : 1;
    let recSid: string | undefined;
    const startRec = () => {
      if (recSid) return;
      recSid = this.startRecording(leg, { source: 'DialVerb', channels: recordChannels, track: 'both', callbackUrl: o.recCb, method: o.recMethod, events: o.recEvents });
    };
    if (o.record.startsWith('record-from-ringing')) startRec();

    if (a.callerId !== undefined && nouns.some((n) => n.name === 'Number')) {
      const cid = a.callerId.trim();
      if (cid !== leg.from && cid !== leg.to && !this.d.store.ownsCallerId(leg.accountSid, cid)) {
        // callerId must be the calling number, the called number or one the account owns or verified (13214); nothing is dialed.
        leg.note('error', `<Dial callerId="${cid}">: not the calling or called number, nor a number of the account or a verified caller ID`, { errorCode: 13214 });
        leg.note('verb', 'Dial finished: DialCallStatus=failed', { verb: 'Dial', content: 'failed' });
        return this.afterDial(leg, o, { DialCallStatus: 'failed', DialCallSid: '', DialBridged: 'false' });
      }
    }
    const children = nouns.map((n) => this.childLeg(leg, n, a, docUrl));
    const cancel = new AbortController();
    const results = children.map(({ child, noun }) => this.ringChild(child, noun, o.timeoutMs + RING_BUFFER_MS, docUrl));
    let winner: Leg | undefined;
    const settled: (string | undefined)[] = children.map(() => undefined);
    await new Promise<void>((resolve) => {
      let pending = children.length;
      results.forEach((p, i) =>
        void p.then((r) => {
          settled[i] = r;
          const c = children[i]?.child as Leg;
          if (r === 'answered' && !winner && !cancel.signal.aborted) {
            winner = c;
            resolve();
          } else if (r === 'answered') {
            c.raise({ kind: 'hangup', by: 'engine' });
            this.settleHangup(c);
          }
          if (--pending === 0) resolve();
        }),
      );
      void leg.wait(undefined, { signal: cancel.signal }).then((r) => r === 'interrupt' && resolve());
    });
    cancel.abort();
    for (const { child } of children) {
      if (child !== winner && !child.ended) child.raise({ kind: 'hangup', by: 'engine', status: 'canceled' });
    }
    await Promise.all(results.filter((_, i) => children[i]?.child !== winner));

    let dialStatus: string;
    let dialDuration = 0;
    let bridged = false;
    const dialSid = (winner ?? children[0]?.child)?.sid ?? '';
    if (winner && !leg.interrupt) {
      if (!leg.answered) this.answer(leg);
      if (o.record.startsWith('record-from-answer')) startRec();
      const { who: b } = await this.bridge(leg, winner, o);
      bridged = true;
      dialStatus = 'completed';
      if (b === 'b' && winner.interrupt && winner.interrupt.kind !== 'hangup') {
        const w = winner;
        const i = w.interrupt as Exclude<typeof w.interrupt, null>;
        w.interrupt = null;
        w.bridgedTo = undefined;
        const next: DocSource = i.kind === 'redirect' ? { url: i.url, method: i.method, purpose: 'redirect' } : i.kind === 'twiml' ? { twiml: i.twiml } : { twiml: '<Response/>' };
        this.spawn(w, () => this.runCall(w, next));
      } else {
        if (!winner.interrupt) winner.raise({ kind: 'hangup', by: 'engine' });
        this.settleHangup(winner);
      }
      dialDuration = winner.durationS();
    } else {
      if (winner) {
        winner.raise({ kind: 'hangup', by: 'engine' });
        this.settleHangup(winner);
      }
      const statuses = settled.filter(Boolean) as string[];
      if (leg.interrupt?.kind === 'hangup' || statuses.every((s) => s === 'canceled')) dialStatus = 'canceled';
      else if (statuses.length > 0 && statuses.every((s) => s === 'busy')) dialStatus = 'busy';
      else if (statuses.length > 0 && statuses.every((s) => s === 'failed')) dialStatus = 'failed';
      else dialStatus = 'no-answer';
    }
    const rec = recSid ? this.stopRecording(recSid) : undefined;
    const extra: Record<string, string> = {
      DialCallStatus: dialStatus, DialCallSid: dialSid, DialBridged: String(bridged),
    };
    if (bridged) extra.DialCallDuration = String(dialDuration);
    if (rec) Object.assign(extra, { RecordingUrl: this.d.baseUrl() + recordingMediaPath(rec), RecordingSid: rec.sid, RecordingDuration: String(rec.durationS) });
    leg.note('verb', `Dial finished: DialCallStatus=${dialStatus}${bridged ? ` DialCallDuration=${dialDuration}` : ''}`, { verb: 'Dial', content: dialStatus });
    return this.afterDial(leg, o, extra);
  }

  /** After `<Dial>`/`<Enqueue>`: the action URL (also requested, answer ignored, when the caller hung up), else the next verb. */
  private async afterDial(leg: Leg, o: { action?: string; method: string }, extra: Record<string, string>): Promise<VerbResult> {
    if (leg.interrupt?.kind === 'hangup' || leg.ended) {
      this.settleHangup(leg);
      if (o.action) await this.d.webhooks.send({ purpose: 'action', url: o.action, method: o.method, authToken: this.token(leg.accountSid), params: { ...leg.voiceParams(), ...extra } });
      return 'ended';
    }
    if (leg.interrupt) return 'interrupted';
    if (o.action) return { next: { url: o.action, method: o.method, purpose: 'action', extra } };
    return 'continue';
  }

  private childLeg(parent: Leg, noun: TwimlNode, dialAttrs: Record<string, string>, docUrl: string | undefined): { child: Leg; noun: TwimlNode } {
    let to: string;
    if (noun.name === 'Client') {
      const identity = noun.children.find((c) => c.name === 'Identity')?.text ?? noun.text;
      to = identity.startsWith('client:') ? identity : `client:${identity}`;
    } else if (noun.name === 'Sip') to = normaliseAddress(noun.text.startsWith('sip:') ? noun.text : `sip:${noun.text}`);
    else to = noun.text.trim();
    const from = dialAttrs.callerId ?? parent.from;
    const child = this.newLeg(parent.accountSid, from, to, 'outbound-dial', this.d.parties.get(to), parent.sid);
    const n = noun.attrs;
    if (n.statusCallback) {
      child.statusCallback = this.url(n.statusCallback, docUrl);
      child.statusCallbackMethod = n.statusCallbackMethod ?? 'POST';
      child.statusEvents = new Set(list(n.statusCallbackEvent ?? 'completed'));
    }
    if (dialAttrs.timeLimit) child.timeLimitS = Number(dialAttrs.timeLimit);
    for (const p of noun.children) if (p.name === 'Parameter' && p.attrs.name) child.customParams[p.attrs.name] = p.attrs.value ?? '';
    child.note('note', `child leg of ${parent.sid} dialing ${noun.name} ${to}`);
    parent.note('note', `dialing ${to} on child leg ${child.sid}`);
    return { child, noun };
  }

  private async ringChild(child: Leg, noun: TwimlNode, timeoutMs: number, docUrl: string | undefined): Promise<string> {
    child.tasks++;
    try {
      if (!/^(\+[1-9]\d{7,14}|client:.+|sip:.+)$/.test(child.to)) {
        child.note('error', `invalid number to dial: ${child.to}`, { errorCode: 13223 });
        this.setStatus(child, 'initiated');
        this.finish(child, 'failed');
        return 'failed';
      }
      if (!this.d.store.mayCall(child.accountSid, child.to)) {
        const msg = `no geographic permission to call ${child.to} (${countryOf(child.to) || 'unknown country'})`;
        child.note('error', msg, { errorCode: 13227 });
        this.legs.get(child.parentSid ?? '')?.note('error', msg, { errorCode: 13227 });
        this.setStatus(child, 'initiated');
        this.finish(child, 'failed');
        return 'failed';
      }
      const r = await this.ring(child, timeoutMs);
      if (r !== 'answered') return r;
      const n = noun.attrs;
      if (n.sendDigits) {
        child.note('verb', `sendDigits ${n.sendDigits}`, { verb: 'sendDigits', content: n.sendDigits });
        const w = await child.wait(n.sendDigits.split('').reduce((t, ch) => t + (ch === 'w' ? 500 : ch === 'W' ? 1000 : 200), 0));
        if (w === 'interrupt') return this.settleHangup(child) ? 'no-answer' : 'answered';
      }
      if (n.url) {
        const wr = await this.run(child, { url: this.url(n.url, docUrl), method: n.method ?? 'POST', purpose: 'whisper' }, { mode: 'whisper' });
        if (wr === 'ended' || child.ended) return 'no-answer';
        if (wr === 'interrupted') {
          if (this.settleHangup(child)) return 'no-answer';
        }
      }
      return 'answered';
    } finally {
      child.tasks--;
    }
  }

  /** Connects two answered legs until one side hangs up or is redirected, `*` (hangupOnStar) or the time limit. */
  private async bridge(a: Leg, b: Leg, o: { hangupOnStar: boolean; timeLimitS: number }): Promise<{ who: 'a' | 'b' | 'star' | 'timelimit'; secs: number }> {
    a.bridgedTo = b.sid;
    b.bridgedTo = a.sid;
    const startMs = this.d.clock.now();
    a.note('bridge', `bridged with ${b.sid} (${b.to})`);
    b.note('bridge', `bridged with ${a.sid} (${a.from})`);
    const talk = new AbortController();
    for (const leg of [a, b]) {
      const s = leg.party.spec.talkSeconds;
      if (s !== undefined) {
        void this.d.clock.sleep(s * 1000, talk.signal).then(() => {
          if (talk.signal.aborted || leg.ended) return;
          leg.note('party', `party hangs up after talking ${s} s`);
          leg.raise({ kind: 'hangup', by: 'party' });
        });
      }
    }
    a.listenStar = o.hangupOnStar;
    a.starPressed = false;
    const r = await a.wait(o.timeLimitS * 1000, { also: [b], star: o.hangupOnStar });
    talk.abort();
    a.listenStar = false;
    a.bridgedTo = undefined;
    b.bridgedTo = undefined;
    const who = a.interrupt ? 'a' : b.interrupt ? 'b' : r === 'star' ? 'star' : 'timelimit';
    const secs = Math.round((this.d.clock.now() - startMs) / 1000);
    a.note('bridge', `bridge ended after ${secs} s (${who === 'a' ? 'this leg' : who === 'b' ? 'other leg' : who})`);
    b.note('bridge', `bridge ended after ${secs} s`);
    return { who, secs };
  }

  // ---------------------------------------------------------------- queues

  /** Finds or creates a queue by friendly name. */
  queueByName(accountSid: string, name: string, maxSize = 1000): Queue {
    return this.findQueue(accountSid, name) ?? this.createQueue(accountSid, name, maxSize);
  }

  /** A queue by friendly name, without creating it. */
  findQueue(accountSid: string, name: string): Queue | undefined {
    for (const q of this.queues.values()) if (q.accountSid === accountSid && q.friendlyName === name) return q;
    return undefined;
  }

  /** Creates a queue. */
  createQueue(accountSid: string, name: string, maxSize: number): Queue {
    const now = this.d.clock.now();
    const q: Queue = { sid: newSid('QU'), accountSid, friendlyName: name, maxSize, members: [], dateCreated: now, dateUpdated: now, totalWaitMs: 0, dequeued: 0 };
    this.queues.set(q.sid, q);
    return q;
  }

  /** Average wait of callers who left the queue, seconds. */
  avgWait(q: Queue): number {
    return q.dequeued ? Math.round(q.totalWaitMs / q.dequeued / 1000) : 0;
  }

  private leaveQueue(q: Queue, m: QueueMember): number {
    const i = q.members.indexOf(m);
    if (i >= 0) q.members.splice(i, 1);
    const waited = this.d.clock.now() - m.enqueuedMs;
    q.totalWaitMs += waited;
    q.dequeued++;
    m.leg.queueTimeMs = waited / 1000;
    q.dateUpdated = this.d.clock.now();
    return Math.round(waited / 1000);
  }

  /** REST dequeue: the member leaves the queue and runs the TwiML at `url`. */
  dequeueToUrl(q: Queue, m: QueueMember, url: string, method: string): void {
    m.leg.note('queue', `dequeued via REST API to ${url}`);
    m.leg.raise({ kind: 'redirect', url, method, by: 'dequeue' });
  }

  private async enqueue(leg: Leg, v: TwimlNode, docUrl: string | undefined): Promise<VerbResult> {
    const a = v.attrs;
    const name = v.text;
    const action = a.action ? this.url(a.action, docUrl) : undefined;
    const method = a.method ?? 'POST';
    leg.note('verb', `Enqueue ${name}${Object.entries(a).map(([k, x]) => ` ${k}=${x}`).join('')}`, { verb: 'Enqueue', attrs: a, content: name });
    if (a.workflowSid) leg.note('note', 'Enqueue workflowSid (TaskRouter) is not simulated; using a plain queue');
    const q = this.queueByName(leg.accountSid, name);
    const result = (r: string, t: number): Record<string, string> => ({ QueueResult: r, QueueSid: q.sid, QueueTime: String(t) });
    if (q.members.length >= q.maxSize) {
      leg.note('error', `queue ${name} is full (${q.maxSize})`, { errorCode: 14207 });
      return this.afterDial(leg, { action, method }, result('queue-full', 0));
    }
    const m: QueueMember = { leg, enqueuedMs: this.d.clock.now() };
    q.members.push(m);
    leg.note('queue', `enqueued in ${name} at position ${q.members.length}`);
    const waitUrl = a.waitUrl ? this.url(a.waitUrl, docUrl) : undefined;
    const queueParams = () => ({
      QueuePosition: String(q.members.indexOf(m) + 1), QueueSid: q.sid, QueueTime: String(Math.round((this.d.clock.now() - m.enqueuedMs) / 1000)),
      AvgQueueTime: String(this.avgWait(q)), CurrentQueueSize: String(q.members.length), MaxQueueSize: String(q.maxSize),
    });
    let outcome: RunResult;
    for (;;) {
      if (waitUrl) {
        const started = this.d.clock.now();
        outcome = await this.run(leg, { url: waitUrl, method: a.waitUrlMethod ?? 'POST', purpose: 'wait' }, { mode: 'wait', extra: queueParams });
        if (outcome === 'done' && this.d.clock.now() - started < 1000) {
          if ((await leg.wait(1000)) === 'interrupt') outcome = 'interrupted';
        }
      } else {
        await leg.wait(undefined);
        outcome = 'interrupted';
      }
      if (outcome !== 'done') break;
    }
    const waited = this.leaveQueue(q, m);
    if (outcome === 'error') {
      leg.note('queue', `left ${name} after ${waited} s: the waitUrl document failed`);
      return this.afterDial(leg, { action, method }, result('error', waited));
    }
    if (outcome === 'leave') {
      leg.note('queue', `left ${name} (<Leave>) after ${waited} s`);
      return this.afterDial(leg, { action, method }, result('leave', waited));
    }
    const i = leg.interrupt;
    if (outcome === 'ended' || i?.kind === 'hangup' || !i) {
      leg.note('queue', `hung up while waiting in ${name} after ${waited} s`);
      return this.afterDial(leg, { action, method }, result('hangup', waited));
    }
    if (i.kind === 'dequeue' && m.bridge) {
      leg.interrupt = null;
      leg.note('queue', `dequeued from ${name} by ${m.bridge.agent.sid} after ${waited} s`);
      await m.bridge.done;
      return this.afterDial(leg, { action, method }, result('bridged', waited));
    }
    // Redirected out of the queue (Calls update or Members update): Twilio reports it to the action, then follows the redirect.
    leg.note('queue', `redirected out of ${name} after ${waited} s`);
    if (action) {
      await this.d.webhooks.send({ purpose: 'action', url: action, method, authToken: this.token(leg.accountSid), params: { ...leg.voiceParams(), ...result('redirected', waited) } });
    }
    return 'interrupted';
  }

  private async dialQueue(agent: Leg, noun: TwimlNode, o: ReturnType<VoiceEngine['bridgeAttrs']>, docUrl: string | undefined): Promise<VerbResult> {
    const name = noun.text;
    const found = this.findQueue(agent.accountSid, name);
    if (!agent.answered) this.answer(agent);
    if (!found) {
      // A queue exists once <Enqueue> or the REST API made it; dialing any other name fails the Dial.
      agent.note('error', `<Dial><Queue>: no queue named ${name}`, { errorCode: 12100 });
      return this.afterDial(agent, o, { DialCallStatus: 'failed', DialCallSid: '', DialBridged: 'false' });
    }
    const q = found;
    const deadline = this.d.clock.now() + o.timeoutMs;
    let m = q.members.find((x) => !x.bridge);
    while (!m) {
      const left = deadline - this.d.clock.now();
      if (left <= 0) break;
      if ((await agent.wait(Math.min(left, 500))) === 'interrupt') break;
      m = q.members.find((x) => !x.bridge);
    }
    if (!m || agent.interrupt) {
      agent.note('queue', `no caller to take from ${name}`);
      return this.afterDial(agent, o, { DialCallStatus: agent.interrupt ? 'canceled' : 'no-answer', DialCallSid: '', DialBridged: 'false', QueueSid: q.sid });
    }
    const member = m;
    const done = (() => {
      let resolve!: (v: 'agent' | 'caller' | 'other') => void;
      const p = new Promise<'agent' | 'caller' | 'other'>((r) => (resolve = r));
      return { p, resolve };
    })();
    member.bridge = { agent, done: done.p };
    const waitedMs = this.d.clock.now() - member.enqueuedMs;
    member.leg.raise({ kind: 'dequeue' });
    agent.note('queue', `took ${member.leg.sid} from ${name} (waited ${Math.round(waitedMs / 1000)} s)`);
    let recSid: string | undefined;
    if (noun.attrs.url) {
      const extra = () => ({ QueueSid: q.sid, QueueTime: String(Math.round(waitedMs / 1000)), DequeingCallSid: agent.sid });
      const wr = await this.run(member.leg, { url: this.url(noun.attrs.url, docUrl), method: noun.attrs.method ?? 'POST', purpose: 'whisper' }, { mode: 'announce', extra });
      if (wr === 'ended' || member.leg.ended) {
        done.resolve('caller');
        return this.afterDial(agent, o, { DialCallStatus: 'no-answer', DialCallSid: member.leg.sid, DialBridged: 'false', QueueSid: q.sid });
      }
    }
    if (o.record !== 'do-not-record') {
      recSid = this.startRecording(agent, { source: 'DialVerb', channels: o.record.endsWith('-dual') ? 2 : 1, track: 'both', callbackUrl: o.recCb, method: o.recMethod, events: o.recEvents });
    }
    const { who: b, secs } = await this.bridge(agent, member.leg, o);
    done.resolve(b === 'b' ? 'caller' : b === 'a' ? 'agent' : 'other');
    const rec = recSid ? this.stopRecording(recSid) : undefined;
    const extra: Record<string, string> = {
      DialCallStatus: 'completed', DialCallSid: member.leg.sid, DialBridged: 'true', DialCallDuration: String(secs),
      QueueSid: q.sid, DequeuedCallSid: member.leg.sid, DequeuedCallQueueTime: String(Math.round(waitedMs / 1000)), DequeingCallSid: agent.sid,
    };
    if (rec) Object.assign(extra, { RecordingUrl: this.d.baseUrl() + recordingMediaPath(rec), RecordingSid: rec.sid, RecordingDuration: String(rec.durationS) });
    return this.afterDial(agent, o, extra);
  }

  /** True when no leg is live or has work or callbacks outstanding. */
  idle(): boolean {
    for (const leg of this.legs.values()) if (this.busy(leg)) return false;
    return this.d.webhooks.pending() === 0;
  }

  /** All legs of a call (the call and the child legs it dialed), oldest first. */
  family(callSid: string): Leg[] {
    const out: Leg[] = [];
    const root = this.legs.get(callSid);
    if (!root) return out;
    out.push(root);
    for (const l of this.legs.values()) if (l.parentSid === callSid) out.push(l);
    return out;
  }

  /** Ends all live legs (used on stop). */
  hangupAll(): void {
    for (const leg of this.legs.values()) if (!leg.ended) this.finish(leg, leg.answered ? 'completed' : 'canceled');
  }

  /** Terminal check for predicates. */
  static isTerminal(status: CallStatus): boolean {
    return TERMINAL.includes(status);
  }
}
