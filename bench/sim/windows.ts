// Window counters, the provider simulator's way of enforcing a limit (deliberately not a token
// bucket): a fixed window counts everything sent since the window's wall-clock start (epoch-aligned,
// like a counter keyed on floor(now / W)) and forgets it at the boundary; a sliding log keeps every
// admitted unit with its time and counts those of the last W ms. A limit of L per W admits at most
// L in each fixed window, or in any W-long interval for the sliding log.
// Both are pure: the caller passes the time (ms), so tests drive them with a fake clock.

export type WindowMode = "fixed" | "sliding";

export interface WindowSpec {
  mode: WindowMode;
  /** Window length in seconds (the simulator uses 1, 10 and 60). */
  seconds: number;
  /** Units (requests or tokens) allowed per window. */
  limit: number;
}

export interface WindowCounter {
  readonly spec: WindowSpec;
  /** Units counted in the window that holds `now`. */
  used(now: number): number;
  /** Counts `cost` units at `now` (whether or not they fit: the caller decides). */
  add(now: number, cost: number): void;
  /** ms from now until `cost` more units fit (0 when they fit now; Infinity when cost > limit). */
  waitMs(now: number, cost: number): number;
  /** ms from now until the window holds nothing of what it counts now. */
  resetMs(now: number): number;
  /** The most units the window ever held at once (after an add). */
  readonly peak: number;
}

export function makeWindow(spec: WindowSpec): WindowCounter {
  if (!(spec.seconds > 0) || !(spec.limit > 0)) throw new Error(`a window needs seconds > 0 and limit > 0, got ${JSON.stringify(spec)}`);
  return spec.mode === "fixed" ? new FixedWindow(spec) : new SlidingLog(spec);
}

class FixedWindow implements WindowCounter {
  private start = Number.NEGATIVE_INFINITY;
  private count = 0;
  peak = 0;
  private readonly ms: number;

  constructor(readonly spec: WindowSpec) {
    this.ms = spec.seconds * 1000;
  }

  private roll(now: number): void {
    const start = Math.floor(now / this.ms) * this.ms;
    if (start !== this.start) {
      this.start = start;
      this.count = 0;
    }
  }

  used(now: number): number {
    this.roll(now);
    return this.count;
  }

  add(now: number, cost: number): void {
    this.roll(now);
    this.count += cost;
    this.peak = Math.max(this.peak, this.count);
  }

  waitMs(now: number, cost: number): number {
    if (cost > this.spec.limit) return Infinity;
    this.roll(now);
    return this.count + cost <= this.spec.limit ? 0 : this.start + this.ms - now;
  }

  resetMs(now: number): number {
    this.roll(now);
    return this.count === 0 ? 0 : this.start + this.ms - now;
  }
}

class SlidingLog implements WindowCounter {
  private times: number[] = [];
  private costs: number[] = [];
  private head = 0;
  private sum = 0;
  peak = 0;
  private readonly ms: number;

  constructor(readonly spec: WindowSpec) {
    this.ms = spec.seconds * 1000;
  }

  /** Drops entries older than the window: an entry at t counts while now - t < W. */
  private prune(now: number): void {
    while (this.head < this.times.length && now - this.times[this.head]! >= this.ms) {
      this.sum -= this.costs[this.head]!;
      this.head += 1;
    }
    if (this.head > 4096 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.costs = this.costs.slice(this.head);
      this.head = 0;
    }
  }

  used(now: number): number {
    this.prune(now);
    return this.sum;
  }

  add(now: number, cost: number): void {
    this.prune(now);
    this.times.push(now);
    this.costs.push(cost);
    this.sum += cost;
    this.peak = Math.max(this.peak, this.sum);
  }

  waitMs(now: number, cost: number): number {
    if (cost > this.spec.limit) return Infinity;
    this.prune(now);
    let sum = this.sum;
    // Walk from the oldest entry until enough has left the window for cost to fit.
    for (let i = this.head; sum + cost > this.spec.limit && i < this.times.length; i++) {
      sum -= this.costs[i]!;
      if (sum + cost <= this.spec.limit) return Math.max(1, this.times[i]! + this.ms - now);
    }
    return 0;
  }

  resetMs(now: number): number {
    this.prune(now);
    return this.head < this.times.length ? this.times[this.times.length - 1]! + this.ms - now : 0;
  }
}

/** The most units (sum of weights) in any interval [t, t + windowMs) of a time-ordered log. */
export function peakInAnyInterval(times: readonly number[], weights: readonly number[] | null, windowMs: number): number {
  let best = 0;
  let sum = 0;
  let lo = 0;
  for (let hi = 0; hi < times.length; hi++) {
    sum += weights ? weights[hi]! : 1;
    while (times[hi]! - times[lo]! >= windowMs) sum -= weights ? weights[lo++]! : (lo++, 1);
    best = Math.max(best, sum);
  }
  return best;
}

/** The most units in one epoch-aligned window [k·W, (k+1)·W) of a time-ordered log. */
export function peakInAlignedWindows(times: readonly number[], weights: readonly number[] | null, windowMs: number): number {
  let best = 0;
  let sum = 0;
  let current = Number.NaN;
  for (let i = 0; i < times.length; i++) {
    const k = Math.floor(times[i]! / windowMs);
    if (k !== current) {
      current = k;
      sum = 0;
    }
    sum += weights ? weights[i]! : 1;
    best = Math.max(best, sum);
  }
  return best;
}
