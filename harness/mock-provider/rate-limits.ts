// What a real provider enforces per model: requests per minute and tokens per minute, as token
// buckets that refill continuously (capacity = limit × burstSeconds ÷ 60, so a client cannot
// bank a minute's worth and spend it in one second). A rejected call still counts: the bucket
// is drawn from for it too, as OpenAI counts failed requests against the limit.

export type HeaderStyle = "openai" | "anthropic" | "none";

export interface ModelLimits {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  /** Seconds of traffic at the full rate the bucket holds; default 1. */
  burstSeconds?: number;
  headers?: HeaderStyle;
  /** Every call answers 429 insufficient_quota, with no retry hint. */
  quotaExhausted?: boolean;
}

export class TokenBucket {
  private level: number;
  private at: number;
  readonly capacity: number;
  private readonly perMs: number;

  constructor(readonly limitPerMinute: number, burstSeconds: number, now: number) {
    this.capacity = Math.max(1, (limitPerMinute * burstSeconds) / 60);
    this.perMs = limitPerMinute / 60_000;
    this.level = this.capacity;
    this.at = now;
  }

  private refill(now: number): void {
    this.level = Math.min(this.capacity, this.level + (now - this.at) * this.perMs);
    this.at = now;
  }

  /** Takes n; true when there was room. A refused call still takes (down to -capacity). */
  take(n: number, now: number): boolean {
    this.refill(now);
    const admitted = this.level >= n;
    this.level = Math.max(-this.capacity, this.level - n);
    return admitted;
  }

  remaining(now: number): number {
    this.refill(now);
    return Math.max(0, Math.floor(this.level));
  }

  /** Time until n fit again, in ms. */
  msUntil(n: number, now: number): number {
    this.refill(now);
    return this.level >= n ? 0 : Math.ceil((n - this.level) / this.perMs);
  }
}

export interface LimitSnapshot {
  requests: { limit: number; remaining: number; resetMs: number } | null;
  tokens: { limit: number; remaining: number; resetMs: number } | null;
}

/** The buckets of one model, and the verdict on one call. */
export class ModelRateLimiter {
  private readonly requests: TokenBucket | null;
  private readonly tokens: TokenBucket | null;

  constructor(readonly limits: ModelLimits, now: number) {
    const burst = limits.burstSeconds ?? 1;
    this.requests = limits.requestsPerMinute ? new TokenBucket(limits.requestsPerMinute, burst, now) : null;
    this.tokens = limits.tokensPerMinute ? new TokenBucket(limits.tokensPerMinute, burst, now) : null;
  }

  /** Admits or refuses a call of `tokens` tokens; returns the wait a refused caller should honour. */
  admit(tokens: number, now: number): { admitted: boolean; retryAfterMs: number } {
    const requestOk = this.requests?.take(1, now) ?? true;
    const tokensOk = this.tokens?.take(tokens, now) ?? true;
    if (requestOk && tokensOk) return { admitted: true, retryAfterMs: 0 };
    const wait = Math.max(this.requests?.msUntil(1, now) ?? 0, this.tokens?.msUntil(tokens, now) ?? 0);
    return { admitted: false, retryAfterMs: Math.max(wait, 1) };
  }

  snapshot(now: number): LimitSnapshot {
    const of = (b: TokenBucket | null) =>
      b === null ? null : { limit: b.limitPerMinute, remaining: b.remaining(now), resetMs: b.msUntil(b.capacity, now) };
    return { requests: of(this.requests), tokens: of(this.tokens) };
  }
}
