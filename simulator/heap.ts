/** A binary min-heap of timed events; ties keep insertion order, so runs are deterministic. */

/** One entry: when, a tie-breaking sequence number, and the payload. */
export interface Timed<T> {
  t: number;
  seq: number;
  item: T;
}

/** Min-heap ordered by (t, seq). */
export class EventHeap<T> {
  private readonly data: Timed<T>[] = [];
  private seq = 0;

  /** Number of pending events. */
  get size(): number {
    return this.data.length;
  }

  /** Schedules `item` at time `t`. */
  push(t: number, item: T): void {
    const node: Timed<T> = { t, seq: this.seq++, item };
    const data = this.data;
    data.push(node);
    let i = data.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = data[parent] as Timed<T>;
      if (!before(node, p)) break;
      data[i] = p;
      i = parent;
    }
    data[i] = node;
  }

  /** Removes and returns the earliest event, or undefined when empty. */
  pop(): Timed<T> | undefined {
    const data = this.data;
    const top = data[0];
    const last = data.pop();
    if (top === undefined || last === undefined || data.length === 0) return top;
    let i = 0;
    const n = data.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && before(data[r] as Timed<T>, data[l] as Timed<T>)) c = r;
      const child = data[c] as Timed<T>;
      if (!before(child, last)) break;
      data[i] = child;
      i = c;
    }
    data[i] = last;
    return top;
  }

  /** The earliest event without removing it. */
  peek(): Timed<T> | undefined {
    return this.data[0];
  }
}

function before<T>(a: Timed<T>, b: Timed<T>): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}
