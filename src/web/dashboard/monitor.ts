/**
 * The supervisor's listen / whisper / barge on an agent's call, as the dashboard drives it:
 * start on a call in one mode, switch modes live, stop. The page renders `state` and calls
 * these methods; how the supervisor's audio reaches them (their browser or their phone) lives
 * here too.
 *
 * Audio: with `options.deviceFactory` and `options.voiceToken` the browser registers a Voice SDK
 * Device as `supervisor-<user id>` (GET /api/voice-token) before the first start, and the
 * server's Participants create rings it: the call that arrives while a start is in flight is
 * accepted at once (no ring for the supervisor to click), any other is left ringing (never
 * rejected: a reject on one device cancels the call on every device of the identity). With
 * `options.phone` returning a number, the server rings that phone instead (`to`). The leg ends
 * on stop, and when the server takes the supervisor out (the customer left): the state becomes
 * null then.
 */

/**
 * The part of the Voice SDK's Call the monitor uses (a subset of the agent page's MonitorCall in
 * src/web/agent/softphone.ts, so its DeviceFactory fits here).
 */
export interface MonitorCall {
  readonly parameters: Record<string, string>;
  accept(): void;
  reject(): void;
  disconnect(): void;
  on(event: 'disconnect' | 'cancel', listener: () => void): unknown;
}

/** The part of the Voice SDK's Device the monitor uses (a subset of MonitorDevice). */
export interface MonitorDevice {
  register(): Promise<void>;
  updateToken(token: string): void;
  on(event: 'incoming' | 'error' | 'tokenWillExpire', listener: (...args: any[]) => void): unknown;
}

export type MonitorMode = 'listen' | 'whisper' | 'barge';

/** What the page needs from its /api client: a JSON POST that throws on a non-2xx answer. */
export interface MonitorApi {
  post<T>(path: string, body: unknown): Promise<T>;
}

export interface MonitorState {
  monitor_id: number;
  call_sid: string;
  agent_id: number;
  mode: MonitorMode;
}

export interface Monitor {
  /** The monitoring in progress, or null. */
  readonly state: MonitorState | null;
  start(callSid: string, mode: MonitorMode): Promise<void>;
  setMode(mode: MonitorMode): Promise<void>;
  stop(): Promise<void>;
  /** Called whenever `state` changes (the page re-renders its buttons). */
  onChange(cb: (s: MonitorState | null) => void): void;
}

/** A voice token as /api/voice-token answers it. */
export interface MonitorVoiceToken {
  token: string;
  identity: string;
}

/** Where the supervisor's audio goes; all optional (without them the page only drives the server). */
export interface MonitorOptions {
  /** Builds the Voice SDK Device (the agent page's `deviceFactory(config)` from softphone.ts). */
  deviceFactory?: () => Promise<(token: string) => MonitorDevice>;
  /** Fetches GET /api/voice-token (a supervisor's identity is supervisor-<user id>). */
  voiceToken?: () => Promise<MonitorVoiceToken>;
  /** A phone (E.164) to ring instead of the browser, or null for the browser; asked at each start. */
  phone?: () => string | null;
  /** Told about audio trouble (device errors, a leg that could not be accepted), in words for a person. */
  onError?: (message: string) => void;
}

/** The server's monitor answer (more fields than MonitorState; these are the ones used here). */
interface ServerMonitor extends MonitorState {
  participant_call_sid?: string | null;
}

/** How long a start waits for the browser leg to ring before giving up on it, ms. */
export const RING_WAIT_MS = 20000;

export function createMonitor(api: MonitorApi, options: MonitorOptions = {}): Monitor {
  let state: MonitorState | null = null;
  const listeners: ((s: MonitorState | null) => void)[] = [];
  let device: MonitorDevice | null = null;
  let registering: Promise<MonitorDevice> | null = null;
  /** The browser leg of the monitoring in progress. */
  let leg: MonitorCall | null = null;
  /** Set while a start is in flight: the call that rings then is the supervisor's own leg. */
  let expecting: ((call: MonitorCall) => void) | null = null;

  const set = (s: MonitorState | null) => {
    state = s;
    for (const cb of listeners) cb(s);
  };
  const complain = (m: string) => options.onError?.(m);
  const plain = (m: ServerMonitor): MonitorState => ({ monitor_id: m.monitor_id, call_sid: m.call_sid, agent_id: m.agent_id, mode: m.mode });

  /** The registered device, created once (its token renewed before it expires). */
  async function ready(): Promise<MonitorDevice | null> {
    if (!options.deviceFactory || !options.voiceToken) return null;
    if (device) return device;
    registering ??= (async () => {
      const [factory, first] = await Promise.all([options.deviceFactory!(), options.voiceToken!()]);
      const d = factory(first.token);
      d.on('incoming', (call: MonitorCall) => {
        if (expecting) {
          const take = expecting;
          expecting = null;
          take(call);
        }
        // Any other call is left alone, never rejected: every tab and machine signed in as this
        // supervisor registers the same identity and rings together, and a reject on one device
        // makes Twilio cancel the call on all of them (including the one starting the
        // monitoring). Unanswered, it is cancelled when the right device accepts it, or times out.
      });
      d.on('tokenWillExpire', () => {
        options.voiceToken!().then((t) => d.updateToken(t.token), () => complain('não foi possível renovar o acesso de áudio'));
      });
      d.on('error', (e: { message?: string }) => complain(`áudio: ${e?.message ?? 'erro no dispositivo'}`));
      await d.register();
      device = d;
      return d;
    })();
    try {
      return await registering;
    } catch (e) {
      registering = null;
      throw e;
    }
  }

  /** Answers the browser leg and follows its end (the server took the supervisor out, or the network dropped). */
  function adopt(call: MonitorCall): void {
    leg = call;
    call.on('disconnect', () => {
      if (leg !== call) return;
      leg = null;
      set(null);
    });
    call.on('cancel', () => {
      if (leg !== call) return;
      leg = null;
      set(null);
    });
    call.accept();
  }

  return {
    get state() {
      return state;
    },
    async start(callSid, mode) {
      if (state) await this.stop();
      const phone = options.phone?.() ?? null;
      const d = phone ? null : await ready();
      let rang: Promise<MonitorCall> | null = null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (d) {
        rang = new Promise<MonitorCall>((resolve, reject) => {
          const take = (call: MonitorCall) => {
            clearTimeout(timer);
            resolve(call);
          };
          expecting = take;
          timer = setTimeout(() => {
            if (expecting === take) {
              expecting = null;
              reject(new Error('a chamada de escuta não chegou ao navegador'));
            }
          }, RING_WAIT_MS);
        });
        rang.catch(() => undefined);
      }
      let r: { monitor: ServerMonitor };
      try {
        r = await api.post<{ monitor: ServerMonitor }>('/api/supervisor/monitor', phone ? { call_sid: callSid, mode, to: phone } : { call_sid: callSid, mode });
      } catch (e) {
        expecting = null;
        clearTimeout(timer);
        throw e;
      }
      set(plain(r.monitor));
      if (!rang) return;
      try {
        const call = await rang;
        const sid = call.parameters['CallSid'];
        if (r.monitor.participant_call_sid && sid && sid !== r.monitor.participant_call_sid) {
          // Not ours: left ringing (a reject would cancel it on every device of this identity).
          throw new Error('chegou uma chamada que não é a da escuta');
        }
        adopt(call);
      } catch (e) {
        complain(e instanceof Error ? e.message : String(e));
        await this.stop().catch(() => undefined);
        throw e;
      }
    },
    async setMode(mode) {
      if (!state) return;
      const r = await api.post<{ monitor: ServerMonitor }>('/api/supervisor/monitor/mode', { monitor_id: state.monitor_id, mode });
      set(plain(r.monitor));
    },
    async stop() {
      if (!state) return;
      const id = state.monitor_id;
      const call = leg;
      leg = null;
      try {
        await api.post('/api/supervisor/monitor/stop', { monitor_id: id });
      } finally {
        call?.disconnect();
        if (state?.monitor_id === id) set(null);
      }
    },
    onChange(cb) {
      listeners.push(cb);
    },
  };
}
