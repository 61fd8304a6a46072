/** A virtual clock that runs `speed` times faster than real time; every duration in the emulator is measured on it. */
export class VirtualClock {
  /** Virtual milliseconds per real millisecond. */
  readonly speed: number;
  /** Virtual wall-clock time (epoch ms) at which the clock started. */
  readonly epochMs: number;
  private readonly realStart = performance.now();

  constructor(speed = 1, epochMs = Date.now()) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new Error(`clock speed must be a positive finite number, got ${speed}`);
    this.speed = speed;
    this.epochMs = epochMs;
  }

  /** Virtual milliseconds elapsed since the clock started. */
  elapsed(): number {
    return (performance.now() - this.realStart) * this.speed;
  }

  /** Current virtual time as epoch milliseconds. */
  now(): number {
    return this.epochMs + this.elapsed();
  }

  /** Current virtual time as a Date. */
  date(): Date {
    return new Date(this.now());
  }

  /** Real milliseconds corresponding to a virtual duration. */
  toReal(virtualMs: number): number {
    return virtualMs / this.speed;
  }

  /** Resolves after `virtualMs` on the virtual clock; resolves early (never rejects) when `signal` aborts. */
  sleep(virtualMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, Math.max(0, virtualMs / this.speed));
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
