/**
 * The supervisor's listen / whisper / barge on an agent's call, as the dashboard drives it:
 * start on a call in one mode, switch modes live, stop. The page renders `state` and calls
 * these methods; how the supervisor's audio reaches them (their browser or their phone) lives
 * here too.
 */

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

export function createMonitor(api: MonitorApi): Monitor {
  let state: MonitorState | null = null;
  const listeners: ((s: MonitorState | null) => void)[] = [];
  const set = (s: MonitorState | null) => {
    state = s;
    for (const cb of listeners) cb(s);
  };
  return {
    get state() {
      return state;
    },
    async start(callSid, mode) {
      const r = await api.post<{ monitor: MonitorState }>('/api/supervisor/monitor', { call_sid: callSid, mode });
      set(r.monitor);
    },
    async setMode(mode) {
      if (!state) return;
      const r = await api.post<{ monitor: MonitorState }>('/api/supervisor/monitor/mode', { monitor_id: state.monitor_id, mode });
      set(r.monitor);
    },
    async stop() {
      if (!state) return;
      await api.post('/api/supervisor/monitor/stop', { monitor_id: state.monitor_id });
      set(null);
    },
    onChange(cb) {
      listeners.push(cb);
    },
  };
}
