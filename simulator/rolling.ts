/** Rolling windows the simulator keeps, as the database would, to fill PacingStats. */
import {
  abandonRate,
  AMD_TIME_WINDOW,
  ANSWER_RATE_WINDOW_DIALS,
  ANSWER_TIME_WINDOW,
  MACHINE_RATE_WINDOW,
  RECENT_WINDOW_S,
  RING_TIME_WINDOW_DIALS,
  TALK_WINDOW,
  WRAP_UP_WINDOW,
  type PacingStats,
} from '../src/lib/domain/pacing';

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

/**
 * The rolling statistics of one campaign, sized by the shared pacing definitions, as the
 * database keeps them for the live dialer; `fill` writes them into a PacingStats.
 */
export class CampaignStats {
  /** 1 per answered dial, 0 per dial that ended unanswered (answer rate and sample size). */
  readonly answered = new RollingWindow(ANSWER_RATE_WINDOW_DIALS);
  /** Seconds each finished dial rang (answered or not). */
  readonly ringTime = new RollingWindow(RING_TIME_WINDOW_DIALS);
  /** Seconds from dial to answer, answered calls only. */
  readonly answerTime = new RollingWindow(ANSWER_TIME_WINDOW);
  /** 1 per AMD result "machine", 0 per "human". */
  readonly machine = new RollingWindow(MACHINE_RATE_WINDOW);
  /** Seconds from answer to the AMD result. */
  readonly amdTime = new RollingWindow(AMD_TIME_WINDOW);
  readonly talk = new RollingWindow(TALK_WINDOW);
  readonly wrapUp = new RollingWindow(WRAP_UP_WINDOW);
  readonly liveRecent = new RecentCount(RECENT_WINDOW_S);
  readonly abandonedRecent = new RecentCount(RECENT_WINDOW_S);
  liveToday = 0;
  abandonedToday = 0;

  /** A live answer at time t (seconds). */
  addLive(t: number): void {
    this.liveToday++;
    this.liveRecent.add(t);
  }

  /** A live answer became abandoned at time t (seconds). */
  addAbandoned(t: number): void {
    this.abandonedToday++;
    this.abandonedRecent.add(t);
  }

  /** The day's abandon rate, with the AMD estimate when an accuracy is given. */
  abandonRate(humanAccuracy?: number): number {
    return abandonRate(this.abandonedToday, this.liveToday, humanAccuracy);
  }

  /** Writes the statistics as of time t (seconds) into `s`. */
  fill(s: PacingStats, t: number): void {
    s.sampleDials = this.answered.count;
    s.answerRate = this.answered.mean;
    s.machineRate = this.machine.mean;
    s.answerTimeS = this.answerTime.mean;
    s.answerTimeSdS = this.answerTime.sd;
    s.ringTimeS = this.ringTime.mean;
    s.amdTimeS = this.amdTime.mean;
    s.talkSamples = this.talk.count;
    s.talkTimeS = this.talk.mean;
    s.talkTimeSdS = this.talk.sd;
    s.wrapUpTimeS = this.wrapUp.mean;
    s.wrapUpTimeSdS = this.wrapUp.sd;
    s.liveToday = this.liveToday;
    s.abandonedToday = this.abandonedToday;
    s.liveLastHour = this.liveRecent.count(t);
    s.abandonedLastHour = this.abandonedRecent.count(t);
  }
}
