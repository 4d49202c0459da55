// What a provider says about its limits, read from response headers. Two styles exist in the wild:
// OpenAI's `x-ratelimit-*` (reset as a Go duration such as `1s`, `6m0s`, `120ms`) and Anthropic's
// `anthropic-ratelimit-*` (reset as an RFC 3339 instant); a 429 adds `retry-after` (seconds or an
// HTTP date) and sometimes `retry-after-ms`. The pacer learns limits from these when none is
// configured, so a missing or malformed header is null, never a guess.

export interface RateLimitInfo {
  limitRequests: number | null;
  remainingRequests: number | null;
  /** Time until the request window is full again, in ms. */
  resetRequestsMs: number | null;
  limitTokens: number | null;
  remainingTokens: number | null;
  resetTokensMs: number | null;
  /** The provider's own wait before the next call (`retry-after-ms`, else `retry-after`). */
  retryAfterMs: number | null;
}

interface HeaderSource {
  get(name: string): string | null;
}

const GO_DURATION_UNITS_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, "µs": 0.001, ns: 0.000001 };

/** A Go duration (`1s`, `6m0s`, `1h2m3.5s`, `120ms`) in ms; null when it is not one. */
export function parseGoDuration(value: string): number | null {
  const trimmed = value.trim();
  if (trimmed === "") return null;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000; // bare seconds
  const part = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/y;
  let total = 0;
  let at = 0;
  while (at < trimmed.length) {
    part.lastIndex = at;
    const match = part.exec(trimmed);
    if (!match) return null;
    total += Number(match[1]) * GO_DURATION_UNITS_MS[match[2]];
    at = part.lastIndex;
  }
  return total;
}

/** Retry-After as delta-seconds or an HTTP date, in ms from nowMs; null when unparseable. */
export function parseRetryAfter(value: string, nowMs: number): number | null {
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

/** A reset given either as a duration (OpenAI) or as an instant (Anthropic), in ms from nowMs. */
function parseReset(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const duration = parseGoDuration(value);
  if (duration !== null) return Math.round(duration);
  const instant = Date.parse(value.trim());
  return Number.isNaN(instant) ? null : Math.max(0, instant - nowMs);
}

function count(value: string | null): number | null {
  if (value === null || !/^\s*\d+(\.\d+)?\s*$/.test(value)) return null;
  return Number(value);
}

export function parseRateLimitHeaders(headers: HeaderSource, nowMs: number): RateLimitInfo {
  const openai = (name: string) => headers.get(`x-ratelimit-${name}`);
  const anthropic = (name: string) => headers.get(`anthropic-ratelimit-${name}`);
  const retryAfterMsHeader = count(headers.get("retry-after-ms"));
  const retryAfter = headers.get("retry-after");
  return {
    limitRequests: count(openai("limit-requests") ?? anthropic("requests-limit")),
    remainingRequests: count(openai("remaining-requests") ?? anthropic("requests-remaining")),
    resetRequestsMs: parseReset(openai("reset-requests") ?? anthropic("requests-reset"), nowMs),
    limitTokens: count(openai("limit-tokens") ?? anthropic("tokens-limit")),
    remainingTokens: count(openai("remaining-tokens") ?? anthropic("tokens-remaining")),
    resetTokensMs: parseReset(openai("reset-tokens") ?? anthropic("tokens-reset"), nowMs),
    retryAfterMs: retryAfterMsHeader !== null
      ? Math.round(retryAfterMsHeader)
      : retryAfter !== null ? parseRetryAfter(retryAfter, nowMs) : null,
  };
}

/** True when the headers said anything at all about limits. */
export function hasRateLimitInfo(info: RateLimitInfo): boolean {
  return Object.values(info).some((v) => v !== null);
}
