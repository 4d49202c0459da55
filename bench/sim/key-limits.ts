// One API key's limits at the simulator: a request window and a token window (either optional),
// checked together on admission, and the per-minute view the headers report. A fixed window counts
// every request it sees, refused ones too (a counter incremented before it is compared, as such
// gateways do); a sliding log records only what it admitted. Tokens are counted only when admitted.
import { perWindow, type Kind, type WindowLimit } from "./kinds.ts";
import { makeWindow, type WindowCounter } from "./windows.ts";

export type RefusedBy = "requests" | "tokens";

export type Verdict = { ok: true } | { ok: false; by: RefusedBy; retryAfterMs: number };

const MINUTE = { mode: "sliding" as const, seconds: 60 };

function windowOf(limit: WindowLimit | undefined): WindowCounter | null {
  return limit ? makeWindow({ mode: limit.mode, seconds: limit.windowSeconds, limit: perWindow(limit) }) : null;
}

export class KeyLimits {
  private readonly requests: WindowCounter | null;
  private readonly tokens: WindowCounter | null;
  /** What the last minute admitted, for the headers' remaining counts (never enforced). */
  private readonly minuteRequests = makeWindow({ ...MINUTE, limit: Number.MAX_SAFE_INTEGER });
  private readonly minuteTokens = makeWindow({ ...MINUTE, limit: Number.MAX_SAFE_INTEGER });

  constructor(private readonly kind: Kind) {
    this.requests = windowOf(kind.requests);
    this.tokens = windowOf(kind.tokens);
  }

  get limited(): boolean {
    return this.requests !== null || this.tokens !== null;
  }

  admit(now: number, tokens: number): Verdict {
    const waitRequests = this.requests?.waitMs(now, 1) ?? 0;
    const waitTokens = this.tokens?.waitMs(now, tokens) ?? 0;
    if (waitRequests > 0 || waitTokens > 0) {
      if (this.requests && this.kind.requests?.mode === "fixed") this.requests.add(now, 1);
      const by: RefusedBy = waitRequests >= waitTokens ? "requests" : "tokens";
      // A call larger than the whole token window can never pass: say so with a minute's wait.
      const wait = Math.max(waitRequests, waitTokens);
      return { ok: false, by, retryAfterMs: Number.isFinite(wait) ? Math.ceil(wait) : 60_000 };
    }
    this.requests?.add(now, 1);
    this.tokens?.add(now, tokens);
    this.minuteRequests.add(now, 1);
    this.minuteTokens.add(now, tokens);
    return { ok: true };
  }

  /** OpenAI-style x-ratelimit-* headers, limits stated per minute; remaining over the last minute. */
  headers(now: number): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [what, limit, minute] of [
      ["requests", this.kind.requests, this.minuteRequests],
      ["tokens", this.kind.tokens, this.minuteTokens],
    ] as const) {
      if (!limit) continue;
      out[`x-ratelimit-limit-${what}`] = String(limit.perMinute);
      out[`x-ratelimit-remaining-${what}`] = String(Math.max(0, Math.floor(limit.perMinute - minute.used(now))));
      out[`x-ratelimit-reset-${what}`] = goDuration(minute.resetMs(now));
    }
    return out;
  }

  /** Each enforced window: its limit and the most it held at once. */
  peaks(): { requests: { limit: number; peak: number } | null; tokens: { limit: number; peak: number } | null } {
    const of = (w: WindowCounter | null) => (w ? { limit: w.spec.limit, peak: w.peak } : null);
    return { requests: of(this.requests), tokens: of(this.tokens) };
  }
}

/** ms as a Go duration, as OpenAI writes resets: `120ms`, `1.5s`, `1m2s`. */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms - minutes * 60_000) / 100) / 10;
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

export function retryAfterHeaders(ms: number): Record<string, string> {
  return { "retry-after": String(Math.max(1, Math.ceil(ms / 1000))), "retry-after-ms": String(Math.max(1, Math.ceil(ms))) };
}
