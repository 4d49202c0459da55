// Provider latency as real ones show it: log-normal (a long right tail), from a seeded generator
// so a benchmark's draw is the same on every run.

/** mulberry32: a small, fast, seeded PRNG; uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LogNormalLatency {
  medianMs: number;
  /** σ of the underlying normal; 0 gives the median every time. */
  sigma: number;
}

/** Draws latencies in ms: median × e^(σ·Z), Z standard normal (Box–Muller). */
export function logNormalSampler(latency: LogNormalLatency, random: () => number): () => number {
  return () => {
    if (latency.sigma === 0) return latency.medianMs;
    const u1 = Math.max(random(), Number.EPSILON);
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * random());
    return Math.round(latency.medianMs * Math.exp(latency.sigma * z));
  };
}
