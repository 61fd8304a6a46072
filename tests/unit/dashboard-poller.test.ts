/** The board's poll loop: one request at a time, the interval while it works, backoff while it fails, a timeout per request. */
import { Poller, backoffMs, type Timers } from '../../src/web/dashboard/poller';

/** Timers run by hand: `advance(ms)` fires what is due, in order. */
function manualTimers(): Timers & { advance(ms: number): Promise<void>; pending(): number[] } {
  let now = 0;
  let seq = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  return {
    setTimeout(fn, ms) {
      seq += 1;
      due.set(seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout(h) {
      due.delete(h as number);
    },
    pending: () => [...due.values()].map((d) => d.at - now).sort((a, b) => a - b),
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        const next = [...due.entries()].filter(([, d]) => d.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!next) break;
        due.delete(next[0]);
        now = next[1].at;
        next[1].fn();
        await new Promise((r) => setImmediate(r));
      }
      now = end;
      await new Promise((r) => setImmediate(r));
    },
  };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('backoffMs', () => {
  it('is the interval while polls work, doubles per failure, up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => backoffMs(n, 2000, 10000))).toEqual([2000, 2000, 4000, 8000, 10000, 10000, 10000]);
  });
});

describe('Poller', () => {
  it('never has two requests out: a slow answer delays the next poll, pollNow during one is ignored', async () => {
    const timers = manualTimers();
    let out = 0;
    let most = 0;
    let calls = 0;
    const answers: (() => void)[] = [];
    const data: number[] = [];
    const p = new Poller<number>({
      fetch: () => {
        calls += 1;
        most = Math.max(most, ++out);
        return new Promise<number>((resolve) => answers.push(() => (out--, resolve(calls))));
      },
      onData: (d) => data.push(d),
      onError: () => undefined,
      intervalMs: 2000,
      maxBackoffMs: 10000,
      timeoutMs: 60000,
      timers,
    });
    p.start();
    expect(calls).toBe(1);
    await timers.advance(7000);
    p.pollNow();
    p.pollNow();
    expect(calls).toBe(1);
    answers.shift()!();
    await flush();
    expect(data).toEqual([1]);
    // The next poll is due 2 s after the answer, not on a fixed clock.
    expect(timers.pending()).toEqual([2000]);
    await timers.advance(2000);
    expect(calls).toBe(2);
    expect(most).toBe(1);
    p.stop();
    answers.shift()!();
    await flush();
    // An answer after stop() is dropped and schedules nothing.
    expect(data).toEqual([1]);
    expect(timers.pending()).toEqual([]);
  });

  it('stop() then start() while a poll hangs: the hanging one is aborted and the new run polls at once', async () => {
    const timers = manualTimers();
    const signals: AbortSignal[] = [];
    const data: number[] = [];
    const p = new Poller<number>({
      fetch: (signal) => {
        signals.push(signal);
        const n = signals.length;
        return new Promise<number>((resolve, reject) => {
          signal.addEventListener('abort', () => reject(new Error('aborted')));
          if (n > 1) resolve(n);
        });
      },
      onData: (d) => data.push(d),
      onError: () => undefined,
      intervalMs: 2000,
      maxBackoffMs: 8000,
      timeoutMs: 5000,
      timers,
    });
    p.start();
    expect(signals).toHaveLength(1);
    p.stop();
    expect(signals[0]!.aborted).toBe(true);
    p.start();
    // The new session's first board does not wait for the old request's timeout.
    expect(signals).toHaveLength(2);
    await flush();
    expect(data).toEqual([2]);
    // The old request's failure schedules nothing: one poll due, 2 s after the new answer.
    await flush();
    expect(timers.pending()).toEqual([2000]);
    p.stop();
  });

  it('backs off while failing, says how long to the next try, and goes back to the interval once it works', async () => {
    const timers = manualTimers();
    let fail = true;
    const errors: [number, number][] = [];
    const p = new Poller<string>({
      fetch: () => (fail ? Promise.reject(new Error('down')) : Promise.resolve('ok')),
      onData: () => undefined,
      onError: (_e, n, retry) => void errors.push([n, retry]),
      intervalMs: 2000,
      maxBackoffMs: 10000,
      timeoutMs: 5000,
      timers,
    });
    p.start();
    await flush();
    await timers.advance(2000 + 4000 + 8000 + 10000);
    expect(errors).toEqual([
      [1, 2000],
      [2, 4000],
      [3, 8000],
      [4, 10000],
      [5, 10000],
    ]);
    expect(p.failing).toBe(5);
    fail = false;
    await timers.advance(10000);
    expect(p.failing).toBe(0);
    expect(timers.pending()).toEqual([2000]);
    p.stop();
  });

  it('aborts a request that outlives the timeout (a failure), and stops when onError says so', async () => {
    const timers = manualTimers();
    const seen: unknown[] = [];
    const p = new Poller<string>({
      fetch: (signal) => new Promise((_ok, fail) => signal.addEventListener('abort', () => fail(new Error('aborted')))),
      onData: () => undefined,
      onError: (e) => {
        seen.push((e as Error).message);
        return false;
      },
      intervalMs: 2000,
      maxBackoffMs: 10000,
      timeoutMs: 5000,
      timers,
    });
    p.start();
    await timers.advance(4999);
    expect(seen).toEqual([]);
    await timers.advance(1);
    expect(seen).toEqual(['aborted']);
    expect(p.inFlight).toBe(false);
    expect(timers.pending()).toEqual([]);
  });
});
