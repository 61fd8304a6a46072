/**
 * A virtual clock that runs `speed` times faster than real time; every duration in the emulator is measured on it.
 *
 * While the clock is held (an HTTP request to the app is waiting for its answer), it runs at real time instead:
 * the app's latency is real, so a 1 s answer is 1 s of virtual time whatever the speed. Every timer is kept in
 * one queue ordered by virtual due time, so a change of rate re-arms a single real timer.
 *
 * With `holdsRunRealTime: false` holds change nothing: the clock always runs at `speed`, so virtual time is a
 * fixed linear function of real time that another process (the database of a campaign simulation, through
 * `app_clock`) can compute on its own; the app's latency then counts `speed` times over in virtual time.
 */

/** Options of a VirtualClock. */
export interface ClockOptions {
  /** While something holds the clock it runs at real time (default true); false: always at `speed`. */
  holdsRunRealTime?: boolean;
}

export class VirtualClock {
  /** Virtual milliseconds per real millisecond while nothing holds the clock. */
  readonly speed: number;
  /** Virtual wall-clock time (epoch ms) at which the clock started. */
  readonly epochMs: number;
  private baseReal = performance.now();
  private baseVirtual = 0;
  private holds = 0;
  private timers: { due: number; fire: () => void }[] = [];
  private armed: ReturnType<typeof setTimeout> | undefined;
  /** False: holds are counted but never slow the clock (see the class comment). */
  readonly holdsRunRealTime: boolean;
  /** Real epoch ms (performance.timeOrigin-based) at which the clock started: real = realEpochMs + elapsed / speed when holds never slow it. */
  readonly realEpochMs: number;

  constructor(speed = 1, epochMs = Date.now(), opts: ClockOptions = {}) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new Error(`clock speed must be a positive finite number, got ${speed}`);
    this.speed = speed;
    this.epochMs = epochMs;
    this.holdsRunRealTime = opts.holdsRunRealTime ?? true;
    this.realEpochMs = performance.timeOrigin + this.baseReal;
  }

  /** Virtual milliseconds per real millisecond right now (1 while held, unless holds do not run real time). */
  rate(): number {
    return this.holds > 0 && this.holdsRunRealTime ? Math.min(1, this.speed) : this.speed;
  }

  /** Number of holds in force now (requests to the app waiting for their answer). */
  held(): number {
    return this.holds;
  }

  /** Virtual milliseconds elapsed since the clock started. */
  elapsed(): number {
    return this.baseVirtual + (performance.now() - this.baseReal) * this.rate();
  }

  /** Current virtual time as epoch milliseconds. */
  now(): number {
    return this.epochMs + this.elapsed();
  }

  /** Current virtual time as a Date. */
  date(): Date {
    return new Date(this.now());
  }

  /** Real milliseconds corresponding to a virtual duration at the current rate. */
  toReal(virtualMs: number): number {
    return virtualMs / this.rate();
  }

  /** Runs the clock at real time until the returned function is called (once); holds nest. */
  hold(): () => void {
    this.rebase();
    this.holds++;
    this.arm();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.rebase();
      this.holds--;
      this.arm();
    };
  }

  /** Resolves after `virtualMs` on the virtual clock; resolves early (never rejects) when `signal` aborts. */
  sleep(virtualMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const entry = { due: this.elapsed() + Math.max(0, virtualMs), fire: () => done() };
      const done = () => {
        const i = this.timers.indexOf(entry);
        if (i >= 0) {
          this.timers.splice(i, 1);
          if (i === 0) this.arm();
        }
        signal?.removeEventListener('abort', done);
        resolve();
      };
      signal?.addEventListener('abort', done, { once: true });
      this.insert(entry);
    });
  }

  /** Drops every pending timer (their sleeps never resolve): used when the emulator stops. */
  stop(): void {
    if (this.armed) clearTimeout(this.armed);
    this.armed = undefined;
    this.timers = [];
  }

  private rebase(): void {
    const now = performance.now();
    this.baseVirtual += (now - this.baseReal) * this.rate();
    this.baseReal = now;
  }

  private insert(entry: { due: number; fire: () => void }): void {
    let lo = 0;
    let hi = this.timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.timers[mid] as { due: number }).due <= entry.due) lo = mid + 1;
      else hi = mid;
    }
    this.timers.splice(lo, 0, entry);
    if (lo === 0) this.arm();
  }

  private arm(): void {
    if (this.armed) clearTimeout(this.armed);
    this.armed = undefined;
    const first = this.timers[0];
    if (!first) return;
    const wait = Math.min(2 ** 31 - 1, Math.max(0, (first.due - this.elapsed()) / this.rate()));
    this.armed = setTimeout(() => this.tick(), wait);
  }

  private tick(): void {
    this.armed = undefined;
    const now = this.elapsed();
    const due: { fire: () => void }[] = [];
    while (this.timers.length && (this.timers[0] as { due: number }).due <= now + 0.5) due.push(this.timers.shift() as { fire: () => void });
    for (const t of due) t.fire();
    this.arm();
  }
}
