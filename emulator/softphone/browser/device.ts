/**
 * A stand-in for @twilio/voice-sdk's Device and Call that talks to the emulator's softphone
 * WebSocket instead of Twilio, for the local stack and browser tests: an emulated call to
 * `client:<identity>` rings here, `accept()` answers it in the emulator's voice engine,
 * `connect()` calls the token's TwiML App. No audio. Browser code: no Node imports; the SDK is
 * imported for its types only (api.ts checks this class against them).
 */
import type { Call as SdkCall, Device as SdkDevice } from '@twilio/voice-sdk';
import type { ClientMessage, ServerMessage } from '../protocol';
import { SOFTPHONE_WS_PATH } from '../protocol';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;
type EventName = string | number;

/** The EventEmitter part of the SDK's classes (they extend Node's `events`). */
class Emitter {
  private readonly listeners = new Map<EventName, { fn: Listener; once: boolean }[]>();

  on(event: EventName, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), { fn: listener, once: false }]);
    return this;
  }

  addListener(event: EventName, listener: Listener): this {
    return this.on(event, listener);
  }

  once(event: EventName, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), { fn: listener, once: true }]);
    return this;
  }

  off(event: EventName, listener: Listener): this {
    const list = this.listeners.get(event) ?? [];
    const i = list.map((l) => l.fn).lastIndexOf(listener);
    if (i >= 0) this.listeners.set(event, [...list.slice(0, i), ...list.slice(i + 1)]);
    return this;
  }

  removeListener(event: EventName, listener: Listener): this {
    return this.off(event, listener);
  }

  removeAllListeners(event?: EventName): this {
    if (event === undefined) this.listeners.clear();
    else this.listeners.delete(event);
    return this;
  }

  listenerCount(event: EventName): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  emit(event: EventName, ...args: unknown[]): boolean {
    const list = this.listeners.get(event) ?? [];
    if (!list.length) return false;
    this.listeners.set(event, list.filter((l) => !l.once));
    for (const l of list) {
      try {
        l.fn(...args);
      } catch (e) {
        setTimeout(() => {
          throw e;
        });
      }
    }
    return true;
  }
}

/**
 * A string only the stand-in's code contains (minifiers keep string literals): a check of the
 * production assets looks for it to prove the stand-in never ships.
 */
export const STAND_IN_MARKER = 'discador-stand-in-device';

/** Names the SDK gives the error codes the emulator sends (its TwilioError classes). */
const ERROR_NAMES: Record<number, [name: string, description: string]> = {
  20101: ['AccessTokenInvalid', 'Invalid access token'],
  20104: ['AccessTokenExpired', 'Access token expired or expiration date invalid'],
  31001: ['ApplicationNotFound', 'Application Not Found'],
  31005: ['ConnectionError', 'Connection error'],
  31008: ['CallCancelledError', 'Call cancelled'],
  31009: ['TransportError', 'Transport error'],
  31100: ['MalformedRequestError', 'Generic malformed request'],
  31201: ['AuthorizationError', 'Authorization error'],
};

/** An error shaped like the SDK's TwilioError (`code`, `name`, `description`, `message` "Name (code): …"). */
export class StandInTwilioError extends Error {
  readonly code: number;
  readonly description: string;
  readonly explanation: string;
  readonly causes: string[] = [];
  readonly solutions: string[] = [];

  constructor(code: number, explanation: string) {
    const [name, description] = ERROR_NAMES[code] ?? ['TwilioError', 'Error'];
    super(`${name} (${code}): ${explanation}`);
    this.name = name;
    this.code = code;
    this.description = description;
    this.explanation = explanation;
  }
}

/** The `exp` of a JWT (epoch seconds), read without verifying it (the emulator verifies). */
function tokenExpiry(token: string): number | undefined {
  try {
    const part = token.split('.')[1] ?? '';
    const json = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { exp?: unknown; grants?: { identity?: unknown } };
    return typeof json.exp === 'number' ? json.exp : undefined;
  } catch {
    return undefined;
  }
}

function tokenIdentity(token: string): string | null {
  try {
    const part = token.split('.')[1] ?? '';
    const json = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { grants?: { identity?: unknown } };
    return typeof json.grants?.identity === 'string' ? json.grants.identity : null;
  } catch {
    return null;
  }
}

/** The WebSocket of the emulator that served this script (read while the script runs). */
function scriptSocketUrl(): string | undefined {
  if (typeof document === 'undefined') return undefined;
  const src = (document.currentScript as HTMLScriptElement | null)?.src;
  if (!src) return undefined;
  return new URL(SOFTPHONE_WS_PATH, src).href.replace(/^http/, 'ws');
}

/** Where Devices connect unless told otherwise: the emulator this script came from. */
export const defaultSocketUrl: string | undefined = scriptSocketUrl();

/** Options of the stand-in Device: the SDK's (ignored but `tokenRefreshMs`), plus where the emulator is. */
export type StandInDeviceOptions = SdkDevice.Options & {
  /** ws:// URL of the emulator's softphone WebSocket (default: from the script's URL, else this page's origin). */
  socketUrl?: string;
};

/** The connection to the emulator, shared by a Device's calls. */
interface Link {
  send(m: ClientMessage): void;
}

/** A stand-in Voice SDK Call. */
export class Call extends Emitter {
  /** Call parameters: CallSid, From, To, AccountSid (outgoing: once the emulator created the call). */
  parameters: Record<string, string>;
  /** `<Client><Parameter>` / `client:x?k=v` values (incoming) or the `connect()` params (outgoing). */
  readonly customParameters: Map<string, string>;
  readonly callerInfo: SdkCall.CallerInfo | null = null;
  private _status: `${SdkCall.State}`;
  private _muted = false;
  private readonly _direction: `${SdkCall.CallDirection}`;

  /** @internal Made by the Device. */
  constructor(
    private readonly link: Link,
    private readonly device: Device,
    o: { direction: 'INCOMING' | 'OUTGOING'; parameters: Record<string, string>; customParameters: Record<string, string> },
  ) {
    super();
    this._direction = o.direction;
    this._status = o.direction === 'INCOMING' ? 'pending' : 'connecting';
    this.parameters = { ...o.parameters };
    this.customParameters = new Map(Object.entries(o.customParameters));
  }

  get direction(): SdkCall.CallDirection {
    return this._direction as SdkCall.CallDirection;
  }

  private get sid(): string | undefined {
    return this.parameters.CallSid;
  }

  /** Answers a ringing incoming call; `accept` fires once the emulator connected it. */
  accept(_options?: SdkCall.AcceptOptions): void {
    if (this._status !== 'pending' || !this.sid) return;
    this._status = 'connecting';
    this.link.send({ type: 'accept', callSid: this.sid });
  }

  /** Declines a ringing incoming call (the caller's `<Dial>` ends busy). */
  reject(): void {
    if (this._status !== 'pending' || !this.sid) return;
    this.link.send({ type: 'reject', callSid: this.sid });
    this.close();
    this.emit('reject');
  }

  /** Stops ringing here without declining: the call rings on until its timeout. */
  ignore(): void {
    if (this._status !== 'pending' || !this.sid) return;
    this.link.send({ type: 'ignore', callSid: this.sid });
    this.close();
  }

  /** Hangs up (a ringing incoming call is declined). */
  disconnect(): void {
    if (this._status === 'pending') return this.reject();
    if (this._status === 'closed') return;
    if (this.sid) this.link.send({ type: 'disconnect', callSid: this.sid });
    this.close();
    this.emit('disconnect', this);
  }

  isMuted(): boolean {
    return this._muted;
  }

  /** Mutes this browser's microphone on the call. */
  mute(shouldMute = true): void {
    if (this._muted === shouldMute) return;
    this._muted = shouldMute;
    if (this.sid && this._status !== 'closed') this.link.send({ type: 'mute', callSid: this.sid, muted: shouldMute });
    this.emit('mute', shouldMute, this);
  }

  /** DTMF into the call (`0-9 * #`, `w` = 0.5 s pause); throws on other characters, as the SDK does. */
  sendDigits(digits: string): void {
    if (!/^[0-9*#wW]+$/.test(digits)) throw new Error(`Illegal character passed into sendDigits: ${digits}`);
    if (this._status !== 'open' || !this.sid) throw new Error('sendDigits needs a connected call');
    this.link.send({ type: 'digits', callSid: this.sid, digits });
  }

  status(): SdkCall.State {
    return this._status as SdkCall.State;
  }

  getLocalStream(): MediaStream | undefined {
    return undefined;
  }

  getRemoteStream(): MediaStream | undefined {
    return undefined;
  }

  postFeedback(): Promise<void> {
    return Promise.resolve();
  }

  override toString(): string {
    return `[${STAND_IN_MARKER} call ${this.sid ?? 'pending'}]`;
  }

  private close(): void {
    this._status = 'closed';
    this.device.forget(this);
  }

  /** @internal A message from the emulator about this call. */
  receive(m: ServerMessage): void {
    switch (m.type) {
      case 'created':
        this.parameters = { ...m.parameters };
        if (this._muted) this.link.send({ type: 'mute', callSid: m.callSid, muted: true });
        return;
      case 'ringing':
        if (this._status === 'connecting') this._status = 'ringing';
        this.emit('ringing', false);
        return;
      case 'accepted':
        if (this._status === 'closed') return;
        this._status = 'open';
        this.emit('accept', this);
        return;
      case 'cancel':
        if (this._status === 'closed') return;
        this.close();
        this.emit('cancel');
        return;
      case 'disconnected':
        if (this._status === 'closed') return;
        this.close();
        this.emit('disconnect', this);
        return;
      case 'error': {
        const err = new StandInTwilioError(m.code, m.message);
        if (this._status === 'connecting' && !m.callSid) {
          this.close(); // the emulator refused to place the call
          this.emit('error', err);
          this.emit('disconnect', this);
        } else this.emit('error', err);
        this.device.emit('error', err, this);
        return;
      }
      default:
        return;
    }
  }

  /** @internal The connection to the emulator dropped: the call is over. */
  dropped(): void {
    if (this._status === 'closed') return;
    const was = this._status;
    this.close();
    this.emit(was === 'pending' ? 'cancel' : 'disconnect', this);
  }
}

/** A stand-in Voice SDK Device: same constructor, methods, events and states. */
export class Device extends Emitter {
  /** Lets page code tell the stand-in from the SDK. */
  static readonly isStandIn = true;
  private _state: `${SdkDevice.State}` = 'unregistered';
  private _token: string;
  private _options: StandInDeviceOptions;
  private readonly _calls: Call[] = [];
  private socket?: WebSocket;
  private opening?: Promise<WebSocket>;
  private nextRef = 1;
  private readonly pending = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  private readonly outgoing = new Map<string, Call>();
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private registering?: Promise<void>;

  constructor(token: string, options: StandInDeviceOptions = {}) {
    super();
    this._token = token;
    this._options = { ...options };
    this.scheduleRefresh();
  }

  get state(): SdkDevice.State {
    return this._state as SdkDevice.State;
  }

  get token(): string | null {
    return this._token || null;
  }

  get identity(): string | null {
    return this._state === 'registered' ? tokenIdentity(this._token) : null;
  }

  get calls(): Call[] {
    return [...this._calls];
  }

  get isBusy(): boolean {
    return this._calls.some((c) => c.status() !== 'pending');
  }

  get edge(): string | null {
    return null;
  }

  get home(): string | null {
    return null;
  }

  /** Registers for incoming calls; resolves once the emulator accepted the token. */
  async register(): Promise<void> {
    this.throwIfDestroyed();
    if (this._state === 'registered') return;
    if (this.registering) return this.registering;
    this.registering = this.doRegister().finally(() => (this.registering = undefined));
    return this.registering;
  }

  private async doRegister(): Promise<void> {
    this.setState('registering', 'registering');
    const done = this.request('register');
    try {
      const ws = await this.open();
      this.sendOn(ws, { type: 'register', token: this._token });
    } catch (e) {
      this.pending.delete('register');
      this.setState('unregistered');
      throw e;
    }
    return done;
  }

  /** Stops receiving calls. */
  async unregister(): Promise<void> {
    this.throwIfDestroyed();
    if (this._state !== 'registered' || !this.socket) return;
    const done = this.request('unregister');
    this.sendOn(this.socket, { type: 'unregister' });
    return done;
  }

  /** Calls the token's TwiML App with `params` as request parameters; resolves with the Call at once. */
  async connect(options: SdkDevice.ConnectOptions = {}): Promise<Call> {
    this.throwIfDestroyed();
    const params = { ...(options.params ?? {}) };
    const ws = await this.open();
    const ref = `c${this.nextRef++}`;
    const call = new Call({ send: (m) => this.sendOn(ws, m) }, this, { direction: 'OUTGOING', parameters: {}, customParameters: params });
    this._calls.push(call);
    this.outgoing.set(ref, call);
    this.sendOn(ws, { type: 'connect', ref, token: this._token, params });
    return call;
  }

  /** Replaces the token (after `tokenWillExpire`); a registered Device stays registered. */
  updateToken(token: string): void {
    this.throwIfDestroyed();
    this._token = token;
    this.scheduleRefresh();
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.sendOn(this.socket, { type: 'token', token });
  }

  updateOptions(options: SdkDevice.Options = {}): void {
    this._options = { ...this._options, ...options };
    this.scheduleRefresh();
  }

  /** Hangs up every call. */
  disconnectAll(): void {
    for (const c of [...this._calls]) c.disconnect();
  }

  /** Hangs up, disconnects from the emulator and ends the Device. */
  destroy(): void {
    if (this._state === 'destroyed') return;
    this.disconnectAll();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    const ws = this.socket;
    this.socket = undefined;
    this.opening = undefined;
    ws?.close();
    this._state = 'destroyed';
    this.emit('destroyed');
    this.removeAllListeners();
  }

  override toString(): string {
    return `[${STAND_IN_MARKER}]`;
  }

  /** @internal A call ended: it leaves `calls`. */
  forget(call: Call): void {
    const i = this._calls.indexOf(call);
    if (i >= 0) this._calls.splice(i, 1);
  }

  private throwIfDestroyed(): void {
    if (this._state === 'destroyed') throw new Error('Device has been destroyed');
  }

  private setState(state: `${SdkDevice.State}`, event?: string): void {
    this._state = state;
    if (event) this.emit(event);
  }

  private request(name: string): Promise<void> {
    return new Promise((resolve, reject) => this.pending.set(name, { resolve, reject }));
  }

  private settle(name: string, err?: Error): boolean {
    const p = this.pending.get(name);
    if (!p) return false;
    this.pending.delete(name);
    if (err) p.reject(err);
    else p.resolve();
    return true;
  }

  /** tokenWillExpire fires `tokenRefreshMs` (default 10 s, as the SDK) before the token's `exp`. */
  private scheduleRefresh(): void {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    const exp = tokenExpiry(this._token);
    if (exp === undefined) return;
    const wait = exp * 1000 - Date.now() - (this._options.tokenRefreshMs ?? 10000);
    this.refreshTimer = setTimeout(() => this.emit('tokenWillExpire', this), Math.max(0, Math.min(wait, 2 ** 31 - 1)));
  }

  private sendOn(ws: WebSocket, m: ClientMessage): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
  }

  private open(): Promise<WebSocket> {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) return Promise.resolve(this.socket);
    if (this.opening) return this.opening;
    const url = this._options.socketUrl ?? defaultSocketUrl ?? location.origin.replace(/^http/, 'ws') + SOFTPHONE_WS_PATH;
    this.opening = new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.onopen = () => {
        this.socket = ws;
        this.opening = undefined;
        resolve(ws);
      };
      ws.onerror = () => {
        if (this.socket === ws) return;
        this.opening = undefined;
        const err = new StandInTwilioError(31009, `could not connect to the emulator at ${url}`);
        this.emit('error', err);
        reject(err);
      };
      ws.onmessage = (ev) => this.receive(String(ev.data));
      ws.onclose = () => this.lost(ws);
    });
    return this.opening;
  }

  /** The connection dropped (emulator stopped): calls end, the registration is gone. */
  private lost(ws: WebSocket): void {
    if (this.socket !== ws) return;
    this.socket = undefined;
    for (const c of [...this._calls]) c.dropped();
    for (const name of [...this.pending.keys()]) this.settle(name, new StandInTwilioError(31005, 'the connection to the emulator closed'));
    if (this._state === 'destroyed') return;
    const was = this._state;
    this._state = 'unregistered';
    this.emit('error', new StandInTwilioError(31005, 'the connection to the emulator closed'));
    if (was === 'registered') this.emit('unregistered');
  }

  private callBySid(sid: string | undefined): Call | undefined {
    return sid ? this._calls.find((c) => c.parameters.CallSid === sid) : undefined;
  }

  private receive(text: string): void {
    let m: ServerMessage;
    try {
      m = JSON.parse(text) as ServerMessage;
    } catch {
      return;
    }
    switch (m.type) {
      case 'registered':
        this._state = 'registered';
        this.settle('register');
        this.emit('registered');
        return;
      case 'unregistered': {
        const was = this._state;
        if (this._state !== 'destroyed') this._state = 'unregistered';
        this.settle('unregister');
        if (was === 'registered') this.emit('unregistered');
        return;
      }
      case 'incoming': {
        const ws = this.socket;
        if (!ws) return;
        const call = new Call({ send: (x) => this.sendOn(ws, x) }, this, { direction: 'INCOMING', parameters: m.parameters, customParameters: m.customParameters });
        this._calls.push(call);
        this.emit('incoming', call);
        return;
      }
      case 'created': {
        const call = this.outgoing.get(m.ref);
        this.outgoing.delete(m.ref);
        call?.receive(m);
        return;
      }
      case 'error': {
        const err = new StandInTwilioError(m.code, m.message);
        if (m.ref === 'register') {
          this._state = 'unregistered';
          this.emit('error', err);
          this.settle('register', err);
          return;
        }
        const call = (m.ref ? this.outgoing.get(m.ref) : undefined) ?? this.callBySid(m.callSid);
        if (m.ref) this.outgoing.delete(m.ref);
        if (call) call.receive(m);
        else this.emit('error', err);
        return;
      }
      default: {
        this.callBySid(m.callSid)?.receive(m);
      }
    }
  }
}
