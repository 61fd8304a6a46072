/**
 * The board's poll loop: one request at a time (the next is scheduled only when the last one
 * has answered or timed out, so a slow server never gets a pile of polls), every `intervalMs`
 * while polls succeed, backing off (doubling up to `maxBackoffMs`) while they fail, and each
 * request aborted after `timeoutMs`. Timers are injectable for the unit tests.
 */

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface PollerOptions<T> {
  fetch(signal: AbortSignal): Promise<T>;
  onData(data: T): void;
  /** A failed poll: `failures` in a row so far, the next try in `retryInMs`; return false to stop polling. */
  onError(err: unknown, failures: number, retryInMs: number): boolean | void;
  intervalMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
  timers?: Timers;
}

/** The wait before the next poll after `failures` failures in a row (0: the normal interval). */
export function backoffMs(failures: number, intervalMs: number, maxBackoffMs: number): number {
  if (failures <= 0) return intervalMs;
  return Math.min(maxBackoffMs, intervalMs * 2 ** (failures - 1));
}

export class Poller<T> {
  private timer: unknown = null;
  private running = false;
  private busy = false;
  /** The request out now, aborted by stop(). */
  private ctl: AbortController | null = null;
  /** Bumped by stop(): an answer to an older run is dropped. */
  private run = 0;
  private failures = 0;
  private readonly timers: Timers;

  constructor(private readonly opts: PollerOptions<T>) {
    this.timers = opts.timers ?? { setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms), clearTimeout: (h) => globalThis.clearTimeout(h as number) };
  }

  get inFlight(): boolean {
    return this.busy;
  }

  get failing(): number {
    return this.failures;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.failures = 0;
    void this.tick();
  }

  /** Stops polling: the request out is aborted and its answer dropped, so a start() right after polls at once. */
  stop(): void {
    this.running = false;
    this.run += 1;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.ctl?.abort();
    this.ctl = null;
    this.busy = false;
  }

  /** Polls now unless a poll is already on its way (then that one's answer is the refresh). */
  pollNow(): void {
    if (!this.running || this.busy) return;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.timer = null;
    this.busy = true;
    const run = this.run;
    const ctl = new AbortController();
    this.ctl = ctl;
    const guard = this.timers.setTimeout(() => ctl.abort(), this.opts.timeoutMs);
    let keepGoing = true;
    try {
      const data = await this.opts.fetch(ctl.signal);
      if (run !== this.run) return;
      this.failures = 0;
      this.opts.onData(data);
    } catch (err) {
      if (run !== this.run) return;
      this.failures += 1;
      keepGoing = this.opts.onError(err, this.failures, backoffMs(this.failures, this.opts.intervalMs, this.opts.maxBackoffMs)) !== false;
    } finally {
      this.timers.clearTimeout(guard);
      // A request of a stopped run leaves the loop alone (a new run may be polling already).
      if (run === this.run) {
        this.busy = false;
        this.ctl = null;
        if (this.running && keepGoing && this.timer === null) {
          this.timer = this.timers.setTimeout(() => void this.tick(), backoffMs(this.failures, this.opts.intervalMs, this.opts.maxBackoffMs));
        } else if (!keepGoing) {
          this.running = false;
        }
      }
    }
  }
}
