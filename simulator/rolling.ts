/** Rolling windows the simulator keeps, as the database would, to fill PacingStats. */

/** The last `capacity` values, with their mean and standard deviation. */
export class RollingWindow {
  private readonly values: number[] = [];
  private next = 0;
  private sum = 0;
  private sumSq = 0;

  constructor(private readonly capacity: number) {}

  /** Adds a value, evicting the oldest when full. */
  add(x: number): void {
    if (this.values.length < this.capacity) {
      this.values.push(x);
    } else {
      const old = this.values[this.next] as number;
      this.sum -= old;
      this.sumSq -= old * old;
      this.values[this.next] = x;
      this.next = (this.next + 1) % this.capacity;
    }
    this.sum += x;
    this.sumSq += x * x;
  }

  /** Values held. */
  get count(): number {
    return this.values.length;
  }

  /** Mean of the values held (0 when empty). */
  get mean(): number {
    return this.values.length === 0 ? 0 : this.sum / this.values.length;
  }

  /** Sample standard deviation of the values held (0 with fewer than two). */
  get sd(): number {
    const n = this.values.length;
    if (n < 2) return 0;
    return Math.sqrt(Math.max(0, (this.sumSq - (this.sum * this.sum) / n) / (n - 1)));
  }
}

/** Instants of events in the last `spanS` seconds. */
export class RecentCount {
  private readonly times: number[] = [];
  private head = 0;

  constructor(private readonly spanS: number) {}

  /** Records an event at time t (times must not decrease). */
  add(t: number): void {
    this.times.push(t);
  }

  /** Events in (t - span, t]. */
  count(t: number): number {
    while (this.head < this.times.length && (this.times[this.head] as number) <= t - this.spanS) this.head++;
    if (this.head > 4096 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }
}
