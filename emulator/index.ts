import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { VirtualClock } from './clock';
import { ContractValidator, type ContractViolation } from './openapi';
import { Parties, type PartyResolver, type PartySpec } from './parties';
import { RestApi, deliverInboundMessage, type InboundReply } from './rest/api';
import { Store, type AccountOptions, type Recording } from './state';
import { VoiceEngine, type Queue } from './voice/engine';
import type { Leg, TimelineEntry } from './voice/leg';
import { WebhookSender, type FaultSpec, type WebhookRecord } from './webhooks';
import { newSid } from './util';
import { SoftphoneHub, type SoftphoneView } from './softphone/hub';
import { serveSoftphone } from './softphone/bundle';
import { SOFTPHONE_SCRIPT_PATH } from './softphone/protocol';
import { serveControl } from './control';

export type { PartySpec, PartyResolver } from './parties';
export type { FaultSpec, WebhookRecord, WebhookPurpose } from './webhooks';
export type { TimelineEntry, CallStatus } from './voice/leg';
export type { ContractViolation } from './openapi';
export type { AccountOptions } from './state';
export type { InboundReply } from './rest/api';
export type { Conference, Participant } from './voice/conference';

/** A snapshot of one conference for tests. */
export interface ConferenceView {
  sid: string;
  accountSid: string;
  friendlyName: string;
  status: 'init' | 'in-progress' | 'completed';
  reasonEnded: string | null;
  callSidEnding: string | null;
  /** CallSids of the participants in the room now, in joining order. */
  participants: string[];
}
export type { SoftphoneView, SoftphoneCallView } from './softphone/hub';

/** Default main account SID of the emulator (valid-looking: AC + 32 hex). */
export const DEFAULT_ACCOUNT_SID = 'AC' + 'd15cad0r'.replace(/[^0-9a-f]/g, '0') + '0'.repeat(24);
/** Default auth token of the main account (32 characters). */
export const DEFAULT_AUTH_TOKEN = 'emulator0auth0token0000000000000'.slice(0, 32);

/** Options of startEmulator. */
export interface EmulatorOptions {
  /** TCP port (0 = any free port; the default). */
  port?: number;
  host?: string;
  /** Virtual seconds per real second (default 1). */
  speed?: number;
  /** Virtual wall-clock time (epoch ms) at which the clock starts (default: now). */
  epochMs?: number;
  /**
   * While a request to the app waits for its answer the clock runs at real time (default true). False keeps it
   * at `speed` always, so another process can follow the same virtual time (see emulator/clock.ts).
   */
  holdsRunRealTime?: boolean;
  /** Decides the party of every new leg before the registry (e.g. a fresh draw per dial); see Parties. */
  partyResolver?: PartyResolver;
  accountSid?: string;
  authToken?: string;
  /** Buying BR Local/Mobile numbers requires AddressSid (21631), for every account unless overridden per account. */
  requireAddressForBR?: boolean;
  /** Buying BR Local/Mobile numbers requires BundleSid (21649). */
  requireBundleForBR?: boolean;
  /** Outbound API calls started per virtual second per account (default 1, as Twilio). Excess calls wait queued. */
  cps?: number;
  /** Queued outbound calls per account beyond which Calls create answers 429 / 20429 (default unlimited). */
  cpsQueueLimit?: number;
  /** Require Basic auth on recording media URLs (default false: public, as Twilio by default). */
  recordingMediaAuth?: boolean;
  /** Real-time floor for webhook connect/read timeouts in ms (default 0: Twilio's own, or the URL's `#ct=`/`#rt=`). */
  minRealTimeoutMs?: number;
  /**
   * Countries (ISO codes) every account may call unless it says otherwise (default `['BR']`; `['*']` = all).
   * Calls create to another country answers 21215; `<Dial>` to one fails with 13227.
   */
  dialingPermissions?: string[];
  /** Verified outgoing caller IDs of the main account (usable as From / callerId besides owned numbers). */
  verifiedCallerIds?: string[];
  /** Receives one line per timeline entry. */
  log?: (line: string) => void;
}

/** A snapshot of one call leg for tests. */
export interface CallView {
  sid: string;
  accountSid: string;
  parentCallSid?: string;
  direction: string;
  from: string;
  to: string;
  /** Virtual epoch ms when the leg was created (for an API call: when Calls create accepted it). */
  createdMs: number;
  status: string;
  answeredBy?: string;
  durationS: number;
  ended: boolean;
  /** True while the engine still has work or callbacks in flight for it. */
  busy: boolean;
}

/** A running emulator: Twilio's REST API plus a voice engine on a virtual clock. */
export interface Emulator {
  /** Base URL, e.g. http://127.0.0.1:PORT (point the twilio client or TWILIO_API_BASE_URL here). */
  url: string;
  accountSid: string;
  authToken: string;
  clock: VirtualClock;
  /** Stops the HTTP server and hangs up every live call. */
  stop(): Promise<void>;
  /** Registers (or replaces) a simulated party by number / client:identity / sip: address. */
  addParty(spec: PartySpec): void;
  /** A party dials one of the emulator's IncomingPhoneNumbers; resolves with the new CallSid. */
  placeInboundCall(opts: { from: string; to: string; party?: Partial<PartySpec>; forwardedFrom?: string; callerName?: string }): Promise<string>;
  /** Resolves when `predicate` holds for the call (default: the call ended and its callbacks were delivered). */
  waitForCall(callSid: string, predicate?: (c: CallView) => boolean, opts?: { timeoutMs?: number }): Promise<CallView>;
  /** Resolves when no call is live and no webhook is in flight. */
  waitUntilIdle(opts?: { timeoutMs?: number }): Promise<void>;
  /** Timeline of a call; with `children` the legs it dialed are merged in. */
  timeline(callSid: string, opts?: { children?: boolean }): TimelineEntry[];
  /** Every call leg, oldest first. */
  calls(): CallView[];
  /** REST requests that broke Twilio's OpenAPI contract. */
  contractViolations(): ContractViolation[];
  /** Every webhook sent so far (completed), in order. */
  webhooks(): WebhookRecord[];
  /** Injects a fault into matching webhooks. */
  addFault(fault: FaultSpec): void;
  clearFaults(): void;
  /** Creates a subaccount directly (same as POST /Accounts.json with main credentials). */
  createSubaccount(friendlyName?: string, options?: AccountOptions): { sid: string; authToken: string };
  /** Sets per-account options (regulation, CPS, geographic permissions, verified caller IDs). */
  configureAccount(accountSid: string, options: AccountOptions): void;
  /** Adds an IncomingPhoneNumber directly (test setup without REST). */
  addNumber(opts: {
    accountSid?: string; phoneNumber: string; voiceUrl?: string; voiceMethod?: string; voiceFallbackUrl?: string; statusCallback?: string; smsUrl?: string;
  }): string;
  /** An SMS/WhatsApp arrives at one of the numbers: its SmsUrl is called; a `<Message>` answer is sent back as replies. */
  sendInboundMessage(opts: { from: string; to: string; body: string; profileName?: string }): Promise<{ sid: string; status: number; replies: InboundReply[]; error?: number }>;
  /** Recordings made so far, deleted ones included (with `deletedMs`). */
  recordings(): Recording[];
  /** Messages created so far (REST and replies), oldest first: the resource's JSON plus a Content Template send's ContentSid and variables. */
  messages(): { sid: string; json: Record<string, unknown>; content?: { sid: string; variables: Record<string, string> | null } }[];
  /**
   * Adds a completed recording directly (test setup without a call): its media is served at
   * `mediaUrl` (a WAV of `durationS` seconds, 1 or 2 channels).
   */
  addRecording(o: { callSid: string; durationS: number; channels?: 1 | 2; startMs?: number; accountSid?: string; source?: Recording['source'] }): Recording & { mediaUrl: string };
  /** Media faults: the next `times` media GETs (of `recordingSid`, or any recording) answer `status` (e.g. 404). */
  addMediaFault(fault: { recordingSid?: string; status: number; times: number }): void;
  /** Every recording media request so far: recording, status answered, Range asked. */
  mediaRequests(): { sid: string; status: number; range?: string }[];
  /** Queues by SID. */
  queues(): Queue[];
  /** Conferences, oldest first (completed ones too). */
  conferences(): ConferenceView[];
  /**
   * Who hears whom: the CallSids whose audio reaches `callSid` right now in its conference (empty
   * before the conference starts, while on hold, or when not in a conference). Muted and held
   * participants are heard by nobody; a coach only by the participant it coaches.
   */
  hears(callSid: string): Set<string>;
  /** What `callSid` hears besides people: `wait:URL`, `hold:URL`, `announcement:URL`, or null (silence or voices only). */
  playing(callSid: string): string | null;
  /** Browser softphones (stand-in Voice SDK Devices) connected to `softphone.socketUrl`; script at `softphone.scriptUrl`. */
  softphone: SoftphoneView;
  /** Calls `listener` with every new timeline entry of every leg; returns the unsubscribe function. */
  onEvent(listener: (e: TimelineEntry, call: CallView) => void): () => void;
}

function view(engine: VoiceEngine, l: Leg): CallView {
  return {
    sid: l.sid, accountSid: l.accountSid, parentCallSid: l.parentSid, direction: l.direction, from: l.from, to: l.to, createdMs: l.createdMs, status: l.status,
    answeredBy: l.answeredBy, durationS: l.durationS(), ended: l.ended, busy: engine.busy(l),
  };
}

async function poll<T>(what: string, fn: () => T | undefined, timeoutMs: number, onTimeout: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${onTimeout()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Formats a timeline for humans. */
export function formatTimeline(entries: TimelineEntry[]): string {
  return entries.map((e) => `  ${(e.t / 1000).toFixed(2).padStart(8)}s ${e.callSid.slice(0, 8)}… ${e.type.padEnd(9)} ${e.text}`).join('\n');
}

/** Starts the emulator (HTTP server on `port`, default 0 = a free port). */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const validator = new ContractValidator(); // compiled before the clock starts, so start-up costs no virtual time
  const clock = new VirtualClock(opts.speed ?? 1, opts.epochMs ?? Date.now(), { holdsRunRealTime: opts.holdsRunRealTime ?? true });
  const store = new Store();
  store.defaults = { dialingPermissions: opts.dialingPermissions ?? ['BR'] };
  const main = store.createAccount({
    sid: opts.accountSid ?? DEFAULT_ACCOUNT_SID, authToken: opts.authToken ?? DEFAULT_AUTH_TOKEN, friendlyName: 'discador emulator main account', now: clock.now(),
    options: opts.verifiedCallerIds ? { verifiedCallerIds: opts.verifiedCallerIds } : undefined,
  });
  const parties = new Parties();
  parties.resolver = opts.partyResolver;
  const webhooks = new WebhookSender({ clock, minRealTimeoutMs: opts.minRealTimeoutMs });
  let baseUrl = '';
  const engine = new VoiceEngine({ clock, store, parties, webhooks, baseUrl: () => baseUrl, defaultCps: opts.cps ?? 1, log: opts.log });
  const listeners = new Set<(e: TimelineEntry, call: CallView) => void>();
  engine.onEvent = (e) => {
    if (listeners.size === 0) return;
    const leg = engine.legs.get(e.callSid);
    if (!leg) return;
    const v = view(engine, leg);
    for (const l of listeners) l(e, v);
  };
  const rest = new RestApi({
    clock, store, engine, validator, webhooks, baseUrl: () => baseUrl,
    options: {
      requireAddressForBR: opts.requireAddressForBR ?? false, requireBundleForBR: opts.requireBundleForBR ?? false,
      cps: opts.cps ?? 1, cpsQueueLimit: opts.cpsQueueLimit, recordingMediaAuth: opts.recordingMediaAuth ?? false,
    },
  });
  const softphone = new SoftphoneHub({ engine, store, clock });
  engine.clients = softphone;
  const server: Server = createServer((req, res) => {
    if (!serveSoftphone(req, res) && !serveControl(req, res, { store, engine })) void rest.handle(req, res);
  });
  server.on('upgrade', (req, socket, head) => {
    if (!softphone.upgrade(req, socket, head)) socket.destroy();
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  baseUrl = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}`;

  const legTimeline = (sid: string) => engine.legs.get(sid)?.timeline.map((e) => `  ${(e.t / 1000).toFixed(2)}s ${e.type} ${e.text}`).join('\n') ?? '(no such call)';

  const emu: Emulator = {
    url: baseUrl,
    accountSid: main.sid,
    authToken: main.authToken,
    clock,
    async stop() {
      engine.hangupAll();
      softphone.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      clock.stop();
    },
    addParty: (spec) => parties.add(spec),
    async placeInboundCall(o) {
      return engine.startInbound(o).sid;
    },
    waitForCall(callSid, predicate, o) {
      return poll(
        `call ${callSid}`,
        () => {
          const l = engine.legs.get(callSid);
          if (!l) return undefined;
          const v = view(engine, l);
          if (predicate) return predicate(v) ? v : undefined;
          return engine.family(callSid).some((x) => engine.busy(x)) ? undefined : view(engine, l);
        },
        o?.timeoutMs ?? 25000,
        () => legTimeline(callSid),
      );
    },
    async waitUntilIdle(o) {
      await poll('the emulator to be idle', () => (engine.idle() && rest.pending === 0 ? true : undefined), o?.timeoutMs ?? 60000, () =>
        [...engine.legs.values()].filter((l) => engine.busy(l)).map((l) => `${l.sid} ${l.status}\n${legTimeline(l.sid)}`).join('\n'),
      );
    },
    timeline(callSid, o) {
      if (!o?.children) return [...(engine.legs.get(callSid)?.timeline ?? [])];
      return engine.family(callSid).flatMap((l) => l.timeline).sort((a, b) => a.t - b.t);
    },
    calls: () => [...engine.legs.values()].map((l) => view(engine, l)),
    contractViolations: () => [...rest.violations],
    webhooks: () => [...webhooks.records],
    addFault: (f) => webhooks.addFault(f),
    clearFaults: () => webhooks.clearFaults(),
    createSubaccount(friendlyName, options) {
      const a = store.createAccount({ friendlyName, owner: main.sid, now: clock.now(), options });
      return { sid: a.sid, authToken: a.authToken };
    },
    configureAccount(accountSid, options) {
      const a = store.accounts.get(accountSid);
      if (!a) throw new Error(`unknown account ${accountSid}`);
      Object.assign(a.options, options);
    },
    addNumber(o) {
      const sid = newSid('PN');
      const accountSid = o.accountSid ?? main.sid;
      const base = `/2010-04-01/Accounts/${accountSid}/IncomingPhoneNumbers/${sid}`;
      store.numbers.set(sid, {
        sid, accountSid, phoneNumber: o.phoneNumber,
        json: {
          sid, account_sid: accountSid, phone_number: o.phoneNumber, friendly_name: o.phoneNumber, voice_url: o.voiceUrl ?? '',
          voice_method: o.voiceMethod ?? 'POST', status_callback: o.statusCallback ?? '', status_callback_method: 'POST', sms_url: o.smsUrl ?? '',
          sms_method: 'POST', voice_fallback_url: o.voiceFallbackUrl ?? '', voice_fallback_method: 'POST', uri: `${base}.json`, origin: 'twilio', status: 'in-use',
          capabilities: { voice: true, sms: true, mms: false, fax: false }, api_version: '2010-04-01',
        },
      });
      return sid;
    },
    sendInboundMessage: (m) => deliverInboundMessage({ store, webhooks, clock }, m),
    recordings: () => [...store.recordings.values(), ...store.deletedRecordings.values()].sort((a, b) => a.dateCreated - b.dateCreated),
    messages: () => [...store.messages.values()].map((m) => ({ sid: m.sid, json: { ...m.json }, ...(m.content ? { content: m.content } : {}) })),
    addRecording(o) {
      const now = clock.now();
      const rec: Recording = {
        sid: newSid('RE'), accountSid: o.accountSid ?? main.sid, callSid: o.callSid, startMs: o.startMs ?? now - o.durationS * 1000,
        durationS: o.durationS, channels: o.channels ?? 2, source: o.source ?? 'StartCallRecordingAPI', status: 'completed', track: 'both',
        dateCreated: now, dateUpdated: now,
      };
      store.recordings.set(rec.sid, rec);
      return { ...rec, mediaUrl: `${baseUrl}/2010-04-01/Accounts/${rec.accountSid}/Recordings/${rec.sid}` };
    },
    addMediaFault: (f) => void rest.mediaFaults.push({ ...f }),
    mediaRequests: () => rest.mediaLog.map((m) => ({ ...m })),
    queues: () => [...engine.queues.values()],
    conferences: () => [...engine.conferences.all.values()].map((c) => ({
      sid: c.sid, accountSid: c.accountSid, friendlyName: c.friendlyName, status: c.status, reasonEnded: c.reasonEnded, callSidEnding: c.callSidEnding,
      participants: c.participants.map((p) => p.leg.sid),
    })),
    hears: (callSid) => engine.conferences.hears(callSid),
    playing: (callSid) => engine.conferences.mediaOf(callSid),
    softphone: softphone.view(baseUrl, SOFTPHONE_SCRIPT_PATH),
    onEvent(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
  return emu;
}
