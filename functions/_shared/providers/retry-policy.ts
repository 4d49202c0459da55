// Retries and fallback around one provider attempt. Backoff is exponential with jitter; a 429's
// Retry-After is honoured. A processor driven by the shared pacer passes `retryRateLimited: false`:
// a 429 then comes straight back so the task returns to the pacer, which slows the whole fleet,
// rather than one call sleeping on it.
import { callChatCompletion, PROVIDER_DEFAULTS, type CompletionRequest, type CompletionResult, type CompletionUsage, type ProviderConfig, type ProviderDeps } from "./chat-completion.ts";
import { ProviderError } from "./provider-error.ts";
import type { RateLimitInfo } from "./rate-limit-headers.ts";

/** One HTTP attempt as it happened, reported whether it succeeded or not. */
export interface AttemptInfo {
  provider: string;
  attempt: number;
  error?: ProviderError;
  /** Wait before the next attempt; absent when no further attempt follows. */
  delayMs?: number;
  /** HTTP status; null when no response came back (timeout, network, config). */
  status: number | null;
  latencyMs: number | null;
  rateLimit: RateLimitInfo | null;
  usage: CompletionUsage | null;
}

export interface RetryDeps extends ProviderDeps {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Whether a 429 is retried here (default) or thrown at once for the caller's pacer. */
  retryRateLimited?: boolean;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onAttempt?: (info: AttemptInfo) => void;
}

/**
 * Up to maxAttempts attempts with backoff baseDelayMs * 2^(attempt-1) plus up to 25% jitter;
 * a 429's Retry-After is honoured when longer. Non-retryable errors stop at once. On exhaustion
 * throws the last error, re-worded to say how many attempts were made.
 */
export async function callWithRetries(
  config: ProviderConfig,
  request: CompletionRequest,
  deps: RetryDeps = {},
): Promise<CompletionResult> {
  const maxAttempts = deps.maxAttempts ?? PROVIDER_DEFAULTS.maxAttempts;
  const baseDelayMs = deps.baseDelayMs ?? PROVIDER_DEFAULTS.baseDelayMs;
  const maxRetryDelayMs = deps.maxRetryDelayMs ?? PROVIDER_DEFAULTS.maxRetryDelayMs;
  const retryRateLimited = deps.retryRateLimited ?? true;
  const random = deps.random ?? Math.random;
  const sleep = deps.sleep ?? ((ms: number) => abortableSleep(ms, deps.signal));
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new ProviderError(`${config.name}: maxAttempts must be an integer >= 1, got ${maxAttempts}`, {
      provider: config.name,
      kind: "config",
      retryable: false,
    });
  }

  for (let attempt = 1; ; attempt++) {
    let error: ProviderError;
    try {
      const result = await callChatCompletion({ ...config, timeoutMs: attemptTimeoutMs(config, attempt, maxAttempts) }, request, deps);
      deps.onAttempt?.({
        provider: config.name, attempt, status: result.status, latencyMs: result.latencyMs, rateLimit: result.rateLimit, usage: result.usage,
      });
      return { ...result, attempts: attempt };
    } catch (e) {
      if (!(e instanceof ProviderError)) throw e;
      error = e;
    }

    const backoff = baseDelayMs * 2 ** (attempt - 1);
    const delayMs = Math.round(Math.max(error.retryAfterMs ?? 0, backoff + random() * PROVIDER_DEFAULTS.jitterRatio * backoff));
    const handedBack = error.kind === "rate_limited" && !retryRateLimited;
    const last = attempt >= maxAttempts || !error.retryable || handedBack || deps.signal?.aborted === true || delayMs > maxRetryDelayMs;
    const info: AttemptInfo = {
      provider: config.name, attempt, error, status: error.status, latencyMs: error.latencyMs, rateLimit: error.rateLimit, usage: null,
    };
    deps.onAttempt?.(last ? info : { ...info, delayMs });
    if (last) {
      if (attempt === 1 && (!error.retryable || handedBack)) throw error;
      const tooLong = delayMs > maxRetryDelayMs && attempt < maxAttempts && error.retryable && !handedBack;
      throw gaveUp(error, attempt, tooLong ? `next wait of ${delayMs} ms exceeds ${maxRetryDelayMs} ms` : null);
    }
    await sleep(delayMs);
    if (deps.signal?.aborted) throw gaveUp(error, attempt, "aborted by caller");
  }
}

/** The attempt's timeout: the config's deadline doubled for each attempt before it, never above
 * timeoutMs, and timeoutMs itself for the last attempt. */
export function attemptTimeoutMs(config: ProviderConfig, attempt: number, maxAttempts: number): number {
  if (config.deadlineMs === undefined || attempt >= maxAttempts) return config.timeoutMs;
  return Math.min(config.timeoutMs, config.deadlineMs * 2 ** (attempt - 1));
}

function gaveUp(error: ProviderError, attempts: number, why: string | null): ProviderError {
  const plural = attempts === 1 ? "" : "s";
  return new ProviderError(`${error.message} [gave up after ${attempts} attempt${plural}${why ? `: ${why}` : ""}]`, {
    provider: error.provider,
    kind: error.kind,
    status: error.status,
    retryable: error.retryable,
    retryAfterMs: error.retryAfterMs,
    rateLimit: error.rateLimit,
    latencyMs: error.latencyMs,
    attempts,
    cause: error,
  });
}

/**
 * Primary with retries, then (if given) the fallback with retries. A primary that is rate limited
 * (when the caller paces) or out of quota does not fall back: the caller's pacer decides about
 * those. Throws a ProviderError naming both failures when both fail; its cause is an
 * AggregateError of [primary, fallback].
 */
export async function callWithFallback(
  primary: ProviderConfig,
  fallback: ProviderConfig | null,
  request: CompletionRequest,
  deps: RetryDeps = {},
): Promise<CompletionResult> {
  let primaryError: ProviderError;
  try {
    return await callWithRetries(primary, request, deps);
  } catch (e) {
    if (!(e instanceof ProviderError)) throw e;
    // The caller gave up (deadline): do not start another provider.
    if (fallback === null || deps.signal?.aborted) throw e;
    if (e.kind === "quota" || (e.kind === "rate_limited" && deps.retryRateLimited === false)) throw e;
    primaryError = e;
  }
  try {
    return await callWithRetries(fallback, request, deps);
  } catch (e) {
    if (!(e instanceof ProviderError)) throw e;
    throw new ProviderError(
      `primary ${primary.name} failed: ${primaryError.message}; fallback ${fallback.name} failed: ${e.message}`,
      {
        provider: fallback.name,
        kind: e.kind,
        status: e.status,
        retryable: primaryError.retryable || e.retryable,
        retryAfterMs: e.retryAfterMs,
        rateLimit: e.rateLimit,
        latencyMs: e.latencyMs,
        attempts: primaryError.attempts + e.attempts,
        cause: new AggregateError([primaryError, e], "primary and fallback providers failed"),
      },
    );
  }
}

/** Resolves after ms, or at once when the signal aborts. */
export function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
