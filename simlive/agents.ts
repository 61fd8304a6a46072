/**
 * Emulated agents: each does what a person at the agent page does, through the same
 * endpoints and the same softphone socket, on the simulation's virtual clock:
 *   sign in (/api/login) → softphone token (/api/voice-token) → available (/api/agent/status)
 *   → the shift leg (the softphone's `connect` to the TwiML App, /voice/agent-session, over
 *   the emulator's softphone WebSocket, as the page's stand-in Device does) → the page's poll
 *   (/api/agent/state every few virtual seconds: the presence heartbeat).
 * When a customer joins the agent's room (the agent hears them: the emulator's conference
 * event), the agent talks for the dial's talk time, hangs up (/api/agent/hangup), wraps up
 * for the dial's wrap-up time, records a disposition (/api/agent/disposition) and goes
 * available again, or leaves when the schedule sent them home meanwhile.
 */
import WebSocket from 'ws';
import type { VirtualClock } from '../emulator/clock';
import { mixSeed, mulberry32, type Random } from '../simulator/prng';

/** A disposition code and how often agents pick it. */
export interface DispositionChoice {
  code: string;
  weight: number;
  /** Schedules a callback this many virtual minutes ahead (the campaign's callback outcome). */
  callbackMinutes?: number;
}

/** What every agent shares. */
export interface AgentEnv {
  functionsUrl: string;
  softphoneUrl: string;
  clock: VirtualClock;
  /** Virtual seconds between polls of /api/agent/state. */
  pollS: number;
  dispositions: readonly DispositionChoice[];
  log: (line: string) => void;
}

/** Counters of one agent's requests. */
export interface AgentCounters {
  polls: number;
  pollErrors: number;
  apiErrors: number;
  calls: number;
  /** Real milliseconds of each poll (how loaded the functions are). */
  pollMs: number[];
  /** Last error bodies (at most 5), for the report. */
  errors: string[];
}

/** An HTTP answer from the functions. */
interface Reply {
  status: number;
  json: Record<string, unknown>;
}

export class EmulatedAgent {
  token: string | null = null;
  shiftSid: string | null = null;
  /** Signed in and working (polling); false before sign-in and after leaving. */
  working = false;
  /** The schedule sent this agent home: leaves after the current call. */
  leaving = false;
  /** The customer the agent is talking to or wrapping up (CallSid). */
  current: string | null = null;
  lastState: Record<string, unknown> | null = null;
  readonly counters: AgentCounters = { polls: 0, pollErrors: 0, apiErrors: 0, calls: 0, pollMs: [], errors: [] };
  private ws: WebSocket | null = null;
  private talk: AbortController | null = null;
  private pollLoop: Promise<void> | null = null;
  private readonly stop = new AbortController();
  private readonly random: Random;

  constructor(
    readonly env: AgentEnv,
    readonly id: number,
    readonly email: string,
    private readonly password: string,
    seed: number,
  ) {
    this.random = mulberry32(mixSeed(seed, 0xa9e000 + id));
  }

  private note(what: string): void {
    this.env.log(`agent ${this.id}: ${what}`);
  }

  private error(what: string, r?: Reply): void {
    this.counters.apiErrors++;
    const text = `${what}${r ? ` -> ${r.status} ${JSON.stringify(r.json).slice(0, 200)}` : ''}`;
    if (this.counters.errors.length < 5) this.counters.errors.push(text);
    this.note(text);
  }

  /** One request to the functions, as the page makes it (bearer token, JSON). */
  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Reply> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.env.functionsUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = { body: text.slice(0, 200) };
    }
    return { status: res.status, json };
  }

  /** Signs in with e-mail and password (/api/login); throws when refused. */
  async signIn(): Promise<void> {
    const r = await this.request('POST', '/api/login', { email: this.email, password: this.password });
    if (r.status !== 200 || typeof r.json.token !== 'string') throw new Error(`agent ${this.email} could not sign in: ${r.status} ${JSON.stringify(r.json)}`);
    this.token = r.json.token;
  }

  /**
   * Starts the working day: available, then the shift leg from the softphone (the page's order),
   * then the poll loop. Resolves once the shift leg is answered.
   */
  async startShift(): Promise<void> {
    if (!this.token) await this.signIn();
    const vt = await this.request('GET', '/api/voice-token');
    if (vt.status !== 200 || typeof vt.json.token !== 'string') throw new Error(`agent ${this.email}: no softphone token: ${vt.status} ${JSON.stringify(vt.json)}`);
    const status = await this.request('POST', '/api/agent/status', { status: 'available' });
    if (status.status !== 200) throw new Error(`agent ${this.email}: could not go available: ${status.status} ${JSON.stringify(status.json)}`);
    this.shiftSid = await this.connectShiftLeg(vt.json.token);
    this.working = true;
    this.leaving = false;
    this.pollLoop = this.pollForever();
  }

  /** The softphone's `connect()`: a leg from client:<identity> to the TwiML App, answered by /voice/agent-session. */
  private connectShiftLeg(voiceToken: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.env.softphoneUrl);
      this.ws = ws;
      let sid: string | null = null;
      const timer = setTimeout(() => reject(new Error(`agent ${this.email}: the shift leg was not answered in 30 s`)), 30_000);
      ws.on('open', () => ws.send(JSON.stringify({ type: 'connect', ref: 'shift', token: voiceToken, params: {} })));
      ws.on('error', (e) => reject(e));
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as { type: string; callSid?: string; message?: string; status?: string };
        if (m.type === 'created' && m.callSid) sid = m.callSid;
        else if (m.type === 'accepted' && m.callSid === sid) {
          clearTimeout(timer);
          resolve(sid);
        } else if (m.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`agent ${this.email}: softphone error ${JSON.stringify(m)}`));
        } else if (m.type === 'disconnected' && m.callSid === this.shiftSid) {
          this.shiftSid = null;
          if (this.working) this.note(`shift leg ended (${m.status ?? ''})`);
        }
      });
    });
  }

  /** The page's poll every pollS virtual seconds while working. */
  private async pollForever(): Promise<void> {
    while (this.working && !this.stop.signal.aborted) {
      await this.poll();
      await this.env.clock.sleep(this.env.pollS * 1000, this.stop.signal);
    }
  }

  /** One poll of /api/agent/state. */
  async poll(): Promise<Record<string, unknown> | null> {
    try {
      const t0 = performance.now();
      const r = await this.request('GET', '/api/agent/state');
      this.counters.pollMs.push(performance.now() - t0);
      this.counters.polls++;
      if (r.status !== 200) {
        this.counters.pollErrors++;
        if (this.counters.errors.length < 5) this.counters.errors.push(`poll -> ${r.status} ${JSON.stringify(r.json).slice(0, 200)}`);
        return null;
      }
      this.lastState = r.json;
      return r.json;
    } catch (e) {
      this.counters.pollErrors++;
      if (this.counters.errors.length < 5) this.counters.errors.push(`poll: ${String(e)}`);
      return null;
    }
  }

  /** The customer `callSid` joined this agent's room: talk, hang up, wrap up, dispose. */
  async customerJoined(callSid: string, talkS: number, wrapS: number): Promise<void> {
    if (this.current === callSid) return;
    if (this.current !== null) this.note(`customer ${callSid} joined while still on ${this.current}`);
    this.current = callSid;
    this.counters.calls++;
    const talk = new AbortController();
    this.talk = talk;
    await this.env.clock.sleep(talkS * 1000, talk.signal);
    if (!talk.signal.aborted) {
      const r = await this.request('POST', '/api/agent/hangup', { call_sid: callSid });
      // 409: the customer had already gone (the conference event was on its way).
      if (r.status !== 200 && r.status !== 409) this.error(`hangup ${callSid}`, r);
    }
    this.talk = null;
    await this.env.clock.sleep(wrapS * 1000, this.stop.signal);
    const choice = this.pickDisposition();
    const body: Record<string, string> = { call_sid: callSid, code: choice.code };
    if (choice.callbackMinutes !== undefined) body.callback_at = new Date(this.env.clock.now() + choice.callbackMinutes * 60_000).toISOString();
    const d = await this.request('POST', '/api/agent/disposition', body);
    if (d.status !== 200) this.error(`disposition ${choice.code} for ${callSid}`, d);
    if (this.current === callSid) this.current = null;
    if (this.leaving) {
      await this.endShift();
      return;
    }
    if (!this.working) return;
    const s = await this.request('POST', '/api/agent/status', { status: 'available' });
    if (s.status !== 200) this.error('available after wrap-up', s);
  }

  /** The customer left the room (hung up, or the agent's hang-up went through). */
  customerLeft(callSid: string): void {
    if (this.current === callSid) this.talk?.abort();
  }

  private pickDisposition(): DispositionChoice {
    const list = this.env.dispositions;
    const total = list.reduce((s, d) => s + d.weight, 0);
    let x = this.random() * total;
    for (const d of list) {
      x -= d.weight;
      if (x < 0) return d;
    }
    return list[list.length - 1]!;
  }

  /** The schedule sends this agent home: at once when idle, after the call otherwise. */
  async leave(): Promise<void> {
    this.leaving = true;
    if (this.current === null) await this.endShift();
  }

  /** Offline, the shift leg hung up, signed out. */
  async endShift(): Promise<void> {
    if (!this.working && !this.ws) return;
    this.working = false;
    const s = await this.request('POST', '/api/agent/status', { status: 'offline' });
    if (s.status !== 200) this.error('offline', s);
    if (this.ws && this.shiftSid) this.ws.send(JSON.stringify({ type: 'disconnect', callSid: this.shiftSid }));
    await this.request('POST', '/api/logout', {}).catch(() => undefined);
    this.token = null;
    this.ws?.close();
    this.ws = null;
    this.shiftSid = null;
    this.leaving = false;
    await this.pollLoop;
  }

  /** Stops everything without a word to the server (the run is being torn down). */
  abort(): void {
    this.working = false;
    this.stop.abort();
    this.talk?.abort();
    this.ws?.terminate();
    this.ws = null;
  }
}
