/**
 * The dashboard's monitor (src/web/dashboard/monitor.ts) against a fake /api and a fake Voice
 * SDK Device: the browser leg the server places is accepted without a click, any other call is
 * left ringing (never rejected: that would cancel it on the identity's other devices), a phone
 * skips the browser, stop hangs the leg up, and the leg ending (the server took the supervisor
 * out) clears the state. And the Participants requests each mode makes.
 */
import { createMonitor, type MonitorApi, type MonitorCall, type MonitorDevice } from '../../src/web/dashboard/monitor';
import { modeSettings, participantCreateParams } from '../../src/lib/domain/supervisor';
import type { Config } from '../../src/lib/runtime/config';

type Listener = (...a: unknown[]) => void;

class FakeCall implements MonitorCall {
  accepted = false;
  rejected = false;
  disconnected = false;
  private on_: Record<string, Listener[]> = {};
  constructor(readonly parameters: Record<string, string>) {}
  accept() {
    this.accepted = true;
  }
  reject() {
    this.rejected = true;
  }
  disconnect() {
    this.disconnected = true;
    this.emit('disconnect');
  }
  mute() {}
  isMuted() {
    return false;
  }
  sendDigits() {}
  status() {
    return this.accepted ? 'open' : 'pending';
  }
  on(event: string, l: Listener) {
    (this.on_[event] ??= []).push(l);
    return this;
  }
  emit(event: string, ...a: unknown[]) {
    for (const l of this.on_[event] ?? []) l(...a);
  }
}

class FakeDevice implements MonitorDevice {
  state = 'unregistered';
  tokens: string[] = [];
  private on_: Record<string, Listener[]> = {};
  constructor(token: string) {
    this.tokens.push(token);
  }
  async register() {
    this.state = 'registered';
  }
  async unregister() {}
  async connect(): Promise<MonitorCall> {
    throw new Error('never used');
  }
  updateToken(t: string) {
    this.tokens.push(t);
  }
  destroy() {}
  on(event: string, l: Listener) {
    (this.on_[event] ??= []).push(l);
    return this;
  }
  emit(event: string, ...a: unknown[]) {
    for (const l of this.on_[event] ?? []) l(...a);
  }
}

const LEG = 'CA' + 'a'.repeat(32);
const CUSTOMER = 'CA' + 'b'.repeat(32);

/** A fake /api: records the posts; a start rings the device (before answering, as Twilio may) with `ring`. */
function fakeApi(device: () => FakeDevice | null, ring: string | null = LEG) {
  const posts: [string, unknown][] = [];
  const api: MonitorApi = {
    async post<T>(path: string, body: unknown): Promise<T> {
      posts.push([path, body]);
      if (path === '/api/supervisor/monitor') {
        const b = body as { call_sid: string; mode: string };
        if (ring) device()?.emit('incoming', new FakeCall({ CallSid: ring }));
        return { monitor: { monitor_id: 7, call_sid: b.call_sid, agent_id: 3, mode: b.mode, participant_call_sid: LEG } } as T;
      }
      if (path === '/api/supervisor/monitor/mode') return { monitor: { monitor_id: 7, call_sid: CUSTOMER, agent_id: 3, mode: (body as { mode: string }).mode } } as T;
      return { ok: true } as T;
    },
  };
  return { api, posts };
}

describe('the dashboard monitor', () => {
  it('registers the supervisor device once, accepts the leg the start placed, switches modes, and stop hangs up', async () => {
    let dev: FakeDevice | null = null;
    const { api, posts } = fakeApi(() => dev);
    const calls: FakeCall[] = [];
    const states: unknown[] = [];
    const m = createMonitor(api, {
      deviceFactory: async () => (t) => (dev = new FakeDevice(t)),
      voiceToken: async () => ({ token: 'tok-1', identity: 'supervisor-u' }),
    });
    m.onChange((s) => states.push(s));
    const origEmit = FakeDevice.prototype.emit;
    jest.spyOn(FakeDevice.prototype, 'emit').mockImplementation(function (this: FakeDevice, ev: string, ...a: unknown[]) {
      if (ev === 'incoming') calls.push(a[0] as FakeCall);
      origEmit.call(this, ev, ...a);
    });
    await m.start(CUSTOMER, 'listen');
    expect(m.state).toEqual({ monitor_id: 7, call_sid: CUSTOMER, agent_id: 3, mode: 'listen' });
    expect(dev!.state).toBe('registered');
    expect(calls.map((c) => [c.accepted, c.rejected])).toEqual([[true, false]]);
    expect(posts[0]).toEqual(['/api/supervisor/monitor', { call_sid: CUSTOMER, mode: 'listen' }]);

    // A call nobody asked for is left ringing, neither accepted nor rejected: another tab or
    // machine of the same identity may be starting a monitoring, and a reject here would make
    // Twilio cancel it there too.
    dev!.emit('incoming', new FakeCall({ CallSid: 'CA' + 'c'.repeat(32) }));
    expect([calls[1]!.accepted, calls[1]!.rejected]).toEqual([false, false]);
    expect(m.state).toEqual({ monitor_id: 7, call_sid: CUSTOMER, agent_id: 3, mode: 'listen' });

    await m.setMode('whisper');
    expect(m.state?.mode).toBe('whisper');
    await m.stop();
    expect(posts.at(-1)).toEqual(['/api/supervisor/monitor/stop', { monitor_id: 7 }]);
    expect(calls[0]!.disconnected).toBe(true);
    expect(m.state).toBeNull();
    expect(states.at(-1)).toBeNull();
    jest.restoreAllMocks();
  });

  it('the leg ending (the server took the supervisor out) clears the state', async () => {
    let dev: FakeDevice | null = null;
    let leg: FakeCall | null = null;
    const { api } = fakeApi(() => dev, null);
    const m = createMonitor(api, {
      deviceFactory: async () => (t) => (dev = new FakeDevice(t)),
      voiceToken: async () => ({ token: 'tok-1', identity: 'supervisor-u' }),
    });
    const started = m.start(CUSTOMER, 'barge');
    // The leg rings after the server answered.
    await new Promise((r) => setTimeout(r, 10));
    leg = new FakeCall({ CallSid: LEG });
    dev!.emit('incoming', leg);
    await started;
    expect(leg.accepted).toBe(true);
    expect(m.state?.mode).toBe('barge');
    leg.emit('disconnect');
    expect(m.state).toBeNull();
  });

  it('with a phone, the browser is not used and the phone is sent as `to`', async () => {
    const factory = jest.fn();
    const { api, posts } = fakeApi(() => null);
    const m = createMonitor(api, { deviceFactory: factory, voiceToken: async () => ({ token: 't', identity: 'i' }), phone: () => '+5511987654321' });
    await m.start(CUSTOMER, 'listen');
    expect(factory).not.toHaveBeenCalled();
    expect(posts[0]).toEqual(['/api/supervisor/monitor', { call_sid: CUSTOMER, mode: 'listen', to: '+5511987654321' }]);
    expect(m.state?.monitor_id).toBe(7);
  });

  it('a refused start leaves no state and expects no call', async () => {
    let dev: FakeDevice | null = null;
    const api: MonitorApi = {
      post: async () => {
        throw Object.assign(new Error('call_ended'), { status: 409 });
      },
    };
    const m = createMonitor(api, { deviceFactory: async () => (t) => (dev = new FakeDevice(t)), voiceToken: async () => ({ token: 't', identity: 'i' }) });
    await expect(m.start(CUSTOMER, 'listen')).rejects.toThrow('call_ended');
    expect(m.state).toBeNull();
    const stray = new FakeCall({ CallSid: LEG });
    dev!.emit('incoming', stray);
    expect([stray.accepted, stray.rejected]).toEqual([false, false]);
  });
});

describe('the Participants requests of each mode', () => {
  const shift = 'CA' + 'd'.repeat(32);
  it('listen is muted, whisper coaches the agent leg, barge is neither', () => {
    expect(modeSettings('listen', shift)).toEqual({ muted: true, coaching: false });
    expect(modeSettings('whisper', shift)).toEqual({ muted: false, coaching: true, callSidToCoach: shift });
    expect(modeSettings('barge', shift)).toEqual({ muted: false, coaching: false });
  });
  it('the create request never ends the room, has no beep, and sends its status callbacks with the monitor id', () => {
    const config = { baseUrl: 'https://x.example' } as Config;
    expect(participantCreateParams(config, { monitorId: 12, mode: 'whisper', coachedCallSid: shift, endpoint: 'client:supervisor-u', from: '+551130000000' })).toEqual({
      from: '+551130000000', to: 'client:supervisor-u', label: 'supervisor-12', beep: 'false', startConferenceOnEnter: true, endConferenceOnExit: false, timeout: 30,
      statusCallback: 'https://x.example/webhooks/call-status?monitor=12', statusCallbackMethod: 'POST', statusCallbackEvent: ['initiated', 'ringing', 'answered', 'completed'],
      muted: false, coaching: true, callSidToCoach: shift,
    });
  });
});
