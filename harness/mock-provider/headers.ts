// Rate-limit headers in the two styles providers use: OpenAI's `x-ratelimit-*` with resets as Go
// durations, Anthropic's `anthropic-ratelimit-*` with resets as RFC 3339 instants; and a 429's
// `retry-after` (whole seconds, rounded up) with `retry-after-ms`.
import type { HeaderStyle, LimitSnapshot } from "./rate-limits.ts";

/** ms as a Go duration, the way OpenAI writes it: `120ms`, `1s`, `1.5s`, `6m0s`. */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const totalSeconds = ms / 1000;
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = Math.round((totalSeconds - minutes * 60) * 1000) / 1000;
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

export function rateLimitHeaders(style: HeaderStyle, snapshot: LimitSnapshot, now: number): Record<string, string> {
  const headers: Record<string, string> = {};
  if (style === "none") return headers;
  for (const [kind, value] of [["requests", snapshot.requests], ["tokens", snapshot.tokens]] as const) {
    if (value === null) continue;
    if (style === "openai") {
      headers[`x-ratelimit-limit-${kind}`] = String(value.limit);
      headers[`x-ratelimit-remaining-${kind}`] = String(value.remaining);
      headers[`x-ratelimit-reset-${kind}`] = goDuration(value.resetMs);
    } else {
      headers[`anthropic-ratelimit-${kind}-limit`] = String(value.limit);
      headers[`anthropic-ratelimit-${kind}-remaining`] = String(value.remaining);
      headers[`anthropic-ratelimit-${kind}-reset`] = new Date(now + value.resetMs).toISOString();
    }
  }
  return headers;
}

export function retryAfterHeaders(ms: number): Record<string, string> {
  return { "retry-after": String(Math.max(1, Math.ceil(ms / 1000))), "retry-after-ms": String(Math.ceil(ms)) };
}
