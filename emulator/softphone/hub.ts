/**
 * The emulator's side of the offline softphone: a WebSocket (`/softphone`) where stand-in
 * Voice SDK Devices present their AccessToken, register as `client:<identity>`, ring and
 * answer the legs the engine dials to them, and place calls to their TwiML App. The protocol
 * is our own (protocol.ts); the behaviour is the Voice SDK's, cited where it matters.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { VirtualClock } from '../clock';
import type { Store } from '../state';
import type { ClientEndpoints, ClientRing, VoiceEngine } from '../voice/engine';
import type { Leg } from '../voice/leg';
import { TERMINAL } from '../voice/leg';
import { SOFTPHONE_WS_PATH, type ClientMessage, type ServerMessage } from './protocol';
import { isTokenError, verifyAccessToken, type VoiceToken } from './token';

/**
 * Voice SDK error codes the hub sends (twilio.com/docs/voice/sdks/error-codes and the SDK's
 * own error classes): 31001 "TwiML application not found", 31008 "Call cancelled" (answered
 * after the call ended), 31100 "Generic malformed request", 31201 "Authorization error"
 * (the token lacks the grant the action needs).
 */
export const SDK_ERRORS = { appNotFound: 31001, callCancelled: 31008, malformed: 31100, notAuthorized: 31201 } as const;

/** One call as one browser sees it. */
interface SessionCall {
  leg: Leg;
  direction: 'incoming' | 'outgoing';
  /** Incoming: the browser accepted it. Outgoing: always true (the browser placed it). */
  mine: boolean;
  muted: boolean;
}

/** One WebSocket connection (one stand-in Device). */
interface Session {
  id: number;
  ws: WebSocket;
  token?: VoiceToken;
  registered: boolean;
  expiry?: ReturnType<typeof setTimeout>;
  calls: Map<string, SessionCall>;
}

/** A leg ringing registered browsers. */
interface Offer {
  leg: Leg;
  ringing: Set<Session>;
  decision?: 'accept' | 'reject';
  decided: AbortController;
  /** Releases the real-time hold on the clock while a browser may still answer. */
  release: () => void;
}

/** A browser's call, for tests and humans. */
export interface SoftphoneCallView {
  callSid: string;
  identity: string;
  direction: 'incoming' | 'outgoing';
  /** pending: ringing here; open: connected; */
  state: 'pending' | 'open';
  muted: boolean;
}

/** What the emulator exposes about browser softphones. */
export interface SoftphoneView {
  /** ws:// URL of the softphone WebSocket. */
  socketUrl: string;
  /** URL of the stand-in Device script (`window.DiscadorStandInDevice`). */
  scriptUrl: string;
  /** Identities with at least one registered browser. */
  registered(): string[];
  /** Calls the browsers hold (ringing or connected). */
  calls(): SoftphoneCallView[];
  /** True while the browser on this call leg has muted its microphone. */
  muted(callSid: string): boolean;
}

/** `client:alice?k=v` → identity and the parameters Calls create passes that way. */
export function parseClientAddress(to: string): { identity: string; params: Record<string, string> } {
  const rest = to.replace(/^client:/, '');
  const q = rest.indexOf('?');
  if (q < 0) return { identity: rest, params: {} };
  return { identity: rest.slice(0, q), params: Object.fromEntries(new URLSearchParams(rest.slice(q + 1))) };
}

/** Browser softphones over a WebSocket, plugged into the voice engine as its `client:` endpoints. */
export class SoftphoneHub implements ClientEndpoints {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly sessions = new Set<Session>();
  private readonly offers = new Map<string, Offer>();
  private nextId = 1;

  constructor(
    private readonly d: {
      engine: VoiceEngine;
      store: Store;
      clock: VirtualClock;
      /** Real epoch seconds (token expiry is real time: tokens are made with the real clock). */
      nowS?: () => number;
    },
  ) {}

  private nowS(): number {
    return this.d.nowS?.() ?? Math.floor(Date.now() / 1000);
  }

  /** Takes over an HTTP upgrade to `/softphone`; returns false for other paths. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = new URL(req.url ?? '/', 'http://emulator').pathname;
    if (path !== SOFTPHONE_WS_PATH) return false;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws));
    return true;
  }

  /** Closes every browser connection (the emulator stops). */
  close(): void {
    for (const s of this.sessions) s.ws.terminate();
    this.wss.close();
  }

  /** A view for tests and humans. */
  view(baseUrl: string, scriptPath: string): SoftphoneView {
    return {
      socketUrl: baseUrl.replace(/^http/, 'ws') + SOFTPHONE_WS_PATH,
      scriptUrl: baseUrl + scriptPath,
      registered: () => [...new Set([...this.sessions].filter((s) => s.registered && s.token).map((s) => (s.token as VoiceToken).identity))],
      muted: (callSid) => [...this.sessions].some((s) => s.calls.get(callSid)?.muted === true),
      calls: () =>
        [...this.sessions].flatMap((s) =>
          [...s.calls.entries()].map(([callSid, c]) => ({
            callSid, identity: s.token?.identity ?? '', direction: c.direction, state: c.mine ? ('open' as const) : ('pending' as const), muted: c.muted,
          })),
        ),
    };
  }

  // ------------------------------------------------------------------ connection

  private open(ws: WebSocket): void {
    const s: Session = { id: this.nextId++, ws, registered: false, calls: new Map() };
    this.sessions.add(s);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.send(s, { type: 'error', code: SDK_ERRORS.malformed, message: 'messages are JSON text' });
      let msg: ClientMessage;
      try {
        msg = JSON.parse(String(data)) as ClientMessage;
      } catch {
        return this.send(s, { type: 'error', code: SDK_ERRORS.malformed, message: 'message is not JSON' });
      }
      try {
        this.handle(s, msg);
      } catch (e) {
        this.send(s, { type: 'error', code: SDK_ERRORS.malformed, message: (e as Error).message });
      }
    });
    ws.on('close', () => this.closed(s));
    ws.on('error', () => undefined);
  }

  private send(s: Session, m: ServerMessage): void {
    if (s.ws.readyState === s.ws.OPEN) s.ws.send(JSON.stringify(m));
  }

  /** The browser went away: it stops ringing; its connected calls hang up (no media, no call). */
  private closed(s: Session): void {
    this.sessions.delete(s);
    if (s.expiry) clearTimeout(s.expiry);
    for (const [sid, c] of s.calls) {
      if (!c.mine) this.leaveOffer(s, sid, 'ignored (the browser disconnected)');
      else if (!c.leg.ended) {
        c.leg.note('party', 'browser softphone connection closed: hanging up');
        c.leg.raise({ kind: 'hangup', by: 'party' });
      }
    }
    s.calls.clear();
  }

  private handle(s: Session, m: ClientMessage): void {
    const str = (v: unknown, what: string): string => {
      if (typeof v !== 'string' || !v) throw new Error(`${m.type}: ${what} must be a non-empty string`);
      return v;
    };
    switch (m.type) {
      case 'token':
        return this.setToken(s, str(m.token, 'token'));
      case 'register':
        return this.register(s, str(m.token, 'token'));
      case 'unregister':
        return this.unregister(s);
      case 'connect':
        return this.connect(s, str(m.ref, 'ref'), str(m.token, 'token'), m.params && typeof m.params === 'object' ? m.params : {});
      case 'accept':
      case 'reject':
      case 'ignore':
        return this.decide(s, str(m.callSid, 'callSid'), m.type);
      case 'disconnect':
        return this.hangup(s, str(m.callSid, 'callSid'));
      case 'mute':
        return this.mute(s, str(m.callSid, 'callSid'), m.muted === true);
      case 'digits':
        return this.digits(s, str(m.callSid, 'callSid'), str(m.digits, 'digits'));
      default:
        throw new Error(`unknown message type ${JSON.stringify((m as { type?: unknown }).type)}`);
    }
  }

  // ------------------------------------------------------------------ token and registration

  private verify(token: string): VoiceToken | { code: number; message: string } {
    return verifyAccessToken(
      token,
      (sid) => this.d.store.keys.get(sid),
      (keyAccount, sub) => keyAccount === sub && this.d.store.accounts.get(sub)?.status === 'active',
      this.nowS(),
    );
  }

  /** updateToken: a new token for this Device; a registered Device that changes identity re-registers under the new one. */
  private setToken(s: Session, token: string): void {
    const t = this.verify(token);
    if (isTokenError(t)) {
      this.send(s, { type: 'error', code: t.code, message: t.message, ref: 'token' });
      return;
    }
    const before = s.token;
    s.token = t;
    if (!s.registered) return;
    this.armExpiry(s);
    if (before && before.identity !== t.identity) {
      this.send(s, { type: 'unregistered', identity: before.identity });
      if (t.incomingAllow) this.send(s, { type: 'registered', identity: t.identity });
      else s.registered = false;
    }
  }

  /**
   * When the token expires without a new one, the registration ends with 20104: the SDK renews its
   * registration with its token every 30 s (`REGISTRATION_INTERVAL` in its device.js), and Twilio
   * refuses an expired one; here it happens at `exp` itself.
   */
  private armExpiry(s: Session): void {
    if (s.expiry) clearTimeout(s.expiry);
    const t = s.token;
    if (!t) return;
    s.expiry = setTimeout(() => {
      if (s.token !== t || !s.registered) return;
      s.registered = false;
      this.send(s, { type: 'error', code: 20104, message: `Access token expired at ${new Date(t.exp * 1000).toISOString()}` });
      this.send(s, { type: 'unregistered', identity: t.identity });
    }, Math.max(0, t.exp * 1000 - Date.now()));
    s.expiry.unref?.();
  }

  private register(s: Session, token: string): void {
    const t = this.verify(token);
    if (isTokenError(t)) {
      this.send(s, { type: 'error', code: t.code, message: t.message, ref: 'register' });
      return;
    }
    if (!t.incomingAllow) {
      this.send(s, { type: 'error', code: SDK_ERRORS.notAuthorized, message: 'The token has no incoming grant (VoiceGrant incomingAllow)', ref: 'register' });
      return;
    }
    s.token = t;
    s.registered = true;
    this.armExpiry(s);
    this.send(s, { type: 'registered', identity: t.identity });
  }

  private unregister(s: Session): void {
    const was = s.registered;
    s.registered = false;
    this.send(s, { type: 'unregistered', identity: s.token?.identity ?? '' });
    if (was) for (const [sid, c] of s.calls) if (!c.mine) this.leaveOffer(s, sid, 'ignored (the browser unregistered)');
  }

  // ------------------------------------------------------------------ incoming calls (engine → browser)

  /** Registered browsers of the leg's identity in the leg's account ring; none lets the simulated party answer. */
  ring(leg: Leg): ClientRing | undefined {
    const { identity, params } = parseClientAddress(leg.to);
    const targets = [...this.sessions].filter((s) => s.registered && s.token && s.token.identity === identity && s.token.accountSid === leg.accountSid);
    if (!targets.length) return undefined;
    // The browser's reaction is real time, like an app's answer: the clock runs at real time while it may answer.
    const offer: Offer = { leg, ringing: new Set(targets), decided: new AbortController(), release: this.d.clock.hold() };
    this.offers.set(leg.sid, offer);
    leg.note('note', `ringing ${targets.length} browser softphone${targets.length > 1 ? 's' : ''} registered as ${identity}`);
    const parameters = { AccountSid: leg.accountSid, CallSid: leg.sid, From: leg.from, To: leg.to.split('?')[0] as string };
    const customParameters = { ...params, ...leg.customParams };
    for (const s of targets) {
      s.calls.set(leg.sid, { leg, direction: 'incoming', mine: false, muted: false });
      this.send(s, { type: 'incoming', callSid: leg.sid, parameters, customParameters });
    }
    return {
      decided: offer.decided.signal,
      decision: () => offer.decision,
      stop: () => this.endOffer(offer),
    };
  }

  /** The leg stopped ringing without an answer: every browser still ringing gets `cancel`. */
  private endOffer(offer: Offer): void {
    this.offers.delete(offer.leg.sid);
    offer.release();
    for (const s of offer.ringing) {
      s.calls.delete(offer.leg.sid);
      this.send(s, { type: 'cancel', callSid: offer.leg.sid });
    }
    offer.ringing.clear();
  }

  /** A browser stops ringing for a call (ignore, unregister, disconnect); the call rings on until answered or timed out. */
  private leaveOffer(s: Session, callSid: string, why: string): void {
    const offer = this.offers.get(callSid);
    s.calls.delete(callSid);
    if (!offer || !offer.ringing.delete(s)) return;
    offer.leg.note('party', `browser softphone ${why}`);
    if (offer.ringing.size === 0) offer.release(); // nobody can answer any more: ring out at the clock's speed
  }

  private decide(s: Session, callSid: string, what: 'accept' | 'reject' | 'ignore'): void {
    const offer = this.offers.get(callSid);
    if (!offer || !offer.ringing.has(s) || offer.decision) {
      s.calls.delete(callSid);
      this.send(s, { type: 'error', code: SDK_ERRORS.callCancelled, message: `Call cancelled: ${callSid} is not ringing here`, callSid });
      return;
    }
    if (what === 'ignore') return this.leaveOffer(s, callSid, 'ignored the call');
    offer.decision = what;
    offer.ringing.delete(s);
    offer.leg.note('party', `browser softphone ${what === 'accept' ? 'accepted' : 'rejected'} the call`);
    if (what === 'accept') s.calls.set(callSid, { leg: offer.leg, direction: 'incoming', mine: true, muted: false });
    else s.calls.delete(callSid);
    this.endOffer(offer); // the other browsers of the identity stop ringing
    offer.decided.abort();
  }

  /** Engine status changes: the browsers holding the call hear about it. */
  status(leg: Leg): void {
    for (const s of this.sessions) {
      const c = s.calls.get(leg.sid);
      if (!c || !c.mine) continue;
      if (leg.ended || TERMINAL.includes(leg.status)) {
        s.calls.delete(leg.sid);
        this.send(s, { type: 'disconnected', callSid: leg.sid, status: leg.status, reason: leg.answered ? 'hangup' : leg.status });
      } else if (leg.status === 'in-progress') this.send(s, { type: 'accepted', callSid: leg.sid });
      else if (leg.status === 'ringing' && c.direction === 'outgoing') this.send(s, { type: 'ringing', callSid: leg.sid });
    }
  }

  // ------------------------------------------------------------------ outgoing calls (browser → TwiML App)

  /**
   * `Device.connect({params})`: an inbound leg from `client:<identity>` to the token's TwiML App.
   * Its first request carries Twilio's voice parameters (Direction=inbound, From/Caller =
   * client:identity, To/Called empty), ApplicationSid, the grant's outgoing params and the
   * connect params ("pass information to the application as POST/GET parameters",
   * support.twilio.com 115011213347); a `To` param becomes the request's `To`.
   */
  private connect(s: Session, ref: string, token: string, params: Record<string, unknown>): void {
    const t = this.verify(token);
    if (isTokenError(t)) {
      this.send(s, { type: 'error', code: t.code, message: t.message, ref });
      return;
    }
    s.token ??= t;
    const appSid = t.outgoingApplicationSid;
    const app = appSid ? this.d.store.applications.get(appSid) : undefined;
    if (!appSid || !app || app.accountSid !== t.accountSid) {
      this.send(s, { type: 'error', code: SDK_ERRORS.appNotFound, message: `TwiML application not found: ${appSid ?? 'the token has no outgoing grant'}`, ref });
      return;
    }
    const custom = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
    const j = app.json;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    const leg = this.d.engine.startClientCall({
      accountSid: t.accountSid, from: `client:${t.identity}`, to: '',
      extra: { ApplicationSid: app.sid, ...t.outgoingParams, ...custom },
      app: {
        voiceUrl: str(j.voice_url) ?? '', voiceMethod: str(j.voice_method) ?? 'POST', voiceFallbackUrl: str(j.voice_fallback_url),
        voiceFallbackMethod: str(j.voice_fallback_method), statusCallback: str(j.status_callback), statusCallbackMethod: str(j.status_callback_method),
      },
    });
    s.calls.set(leg.sid, { leg, direction: 'outgoing', mine: true, muted: false });
    leg.note('note', `placed by browser softphone ${t.identity} to TwiML App ${app.sid}${Object.keys(custom).length ? ` with ${Object.keys(custom).join(', ')}` : ''}`);
    this.send(s, { type: 'created', ref, callSid: leg.sid, parameters: { AccountSid: t.accountSid, CallSid: leg.sid, From: leg.from, To: custom.To ?? '' } });
    if (!leg.ended) this.status(leg);
  }

  // ------------------------------------------------------------------ in-call actions

  private ownCall(s: Session, callSid: string): SessionCall | undefined {
    const c = s.calls.get(callSid);
    if (c?.mine && !c.leg.ended) return c;
    this.send(s, { type: 'error', code: SDK_ERRORS.callCancelled, message: `No connected call ${callSid} on this Device`, callSid });
    return undefined;
  }

  private hangup(s: Session, callSid: string): void {
    const c = s.calls.get(callSid);
    if (c && !c.mine) return this.decide(s, callSid, 'reject'); // disconnect() on a ringing call declines it
    const own = this.ownCall(s, callSid);
    if (!own) return;
    s.calls.delete(callSid);
    own.leg.note('party', 'browser softphone hung up');
    own.leg.raise({ kind: 'hangup', by: 'party' });
  }

  /** True while a browser holding this leg has muted its microphone (for an audio model of who hears whom). */
  muted(leg: Leg): boolean {
    for (const s of this.sessions) if (s.calls.get(leg.sid)?.muted) return true;
    return false;
  }

  /** Mute is the browser's microphone: the timeline records it, and in a conference nobody hears that leg while it lasts. */
  private mute(s: Session, callSid: string, muted: boolean): void {
    const c = this.ownCall(s, callSid);
    if (!c || c.muted === muted) return;
    c.muted = muted;
    c.leg.note('party', `browser softphone ${muted ? 'muted' : 'unmuted'} its microphone`);
    this.d.engine.conferences.micChanged(c.leg.sid);
  }

  /** `Call.sendDigits`: DTMF on the browser's leg, heard by a Gather there; `w`/`W` wait 0.5 s / 1 s. */
  private digits(s: Session, callSid: string, digits: string): void {
    if (!/^[0-9*#wW]+$/.test(digits)) {
      this.send(s, { type: 'error', code: SDK_ERRORS.malformed, message: `digits may contain only 0-9, *, #, w and W (got ${JSON.stringify(digits)})`, callSid });
      return;
    }
    const c = this.ownCall(s, callSid);
    if (!c) return;
    const leg = c.leg;
    const parts = digits.match(/[wW]|[^wW]+/g) ?? [];
    void (async () => {
      for (const p of parts) {
        if (leg.ended) return;
        if (p === 'w' || p === 'W') await this.d.clock.sleep(p === 'w' ? 500 : 1000, leg.life.signal);
        else leg.pressDigits(p);
      }
    })();
  }
}
