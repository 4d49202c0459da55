// Every failure of a provider call is a ProviderError whose kind tells the caller what to do:
// retry later (timeout, network, http 5xx), give the task back to the pacer (rate_limited), stop
// calling the provider for the run (quota), or fail the task (config, invalid_response, http 4xx).
import type { RateLimitInfo } from "./rate-limit-headers.ts";

export type ProviderErrorKind =
  | "timeout"
  | "http"
  | "network"
  | "invalid_response"
  | "config"
  /** A 429 that asks to slow down: retryable after retryAfterMs. */
  | "rate_limited"
  /** A 429 for an exhausted quota or billing problem: no retry helps until an operator acts. */
  | "quota"
  /** An answer over the read cap (4 MiB): the call fails, the rest of the invocation goes on. */
  | "response_too_large";

export interface ProviderErrorOptions {
  provider: string;
  kind: ProviderErrorKind;
  status?: number | null;
  retryable: boolean;
  retryAfterMs?: number | null;
  attempts?: number;
  rateLimit?: RateLimitInfo | null;
  latencyMs?: number | null;
  cause?: unknown;
}

export class ProviderError extends Error {
  readonly provider: string;
  readonly kind: ProviderErrorKind;
  readonly status: number | null;
  readonly retryable: boolean;
  readonly retryAfterMs: number | null;
  /** HTTP attempts behind this error (1 for a single call). */
  readonly attempts: number;
  /** What the failing response's headers said about the provider's limits. */
  readonly rateLimit: RateLimitInfo | null;
  /** Duration of the failing HTTP attempt; null when no response came back. */
  readonly latencyMs: number | null;

  constructor(message: string, options: ProviderErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
    this.provider = options.provider;
    this.kind = options.kind;
    this.status = options.status ?? null;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs ?? null;
    this.attempts = options.attempts ?? 1;
    this.rateLimit = options.rateLimit ?? null;
    this.latencyMs = options.latencyMs ?? null;
  }
}

const QUOTA_CODES = new Set(["insufficient_quota", "billing_hard_limit_reached", "billing_not_active"]);

/**
 * A 429 is a quota problem when the body says so by code (OpenAI `insufficient_quota`), or when it
 * talks of quota or billing and the provider gave no hint of when to retry. Anything else is a
 * plain rate limit.
 */
export function isQuotaExhausted(body: string, rateLimit: RateLimitInfo): boolean {
  let code: unknown;
  let type: unknown;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; type?: unknown } };
    code = parsed?.error?.code;
    type = parsed?.error?.type;
  } catch {
    // not JSON: only the text below can tell
  }
  if (QUOTA_CODES.has(String(code)) || QUOTA_CODES.has(String(type))) return true;
  const noRetryHint = rateLimit.retryAfterMs === null;
  return noRetryHint && /\b(quota|billing|credit balance)\b/i.test(body);
}
