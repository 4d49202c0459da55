// Calls to OpenAI-compatible chat completion APIs: one attempt (`callChatCompletion`), retries
// with exponential backoff and jitter (`callWithRetries`), and a fallback provider
// (`callWithFallback`). Runtime-neutral: the same file runs under Deno (edge functions) and Node
// (tests, scripts), so no `Deno.*` or `node:*` here; fetch, env and sleep are injectable.
import { z } from "zod";
import { readEnv } from "../env.ts";

/** The provider timeout; the task lease must stay longer than this (ARCHITECTURE.md, invariant 3). */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 120_000;

export const PROVIDER_DEFAULTS = Object.freeze({
  timeoutMs: DEFAULT_PROVIDER_TIMEOUT_MS,
  maxAttempts: 3,
  baseDelayMs: 1000,
  // Share of the backoff delay added as random jitter, so retries from many workers spread out.
  jitterRatio: 0.25,
  // A Retry-After longer than this is not waited out inside one invocation (an edge function has
  // a wall-clock limit); the call fails as retryable and the task is retried later.
  maxRetryDelayMs: 30_000,
  // How much of an error response body goes into the message (and so into last_error).
  errorBodyChars: 200,
});

export interface ProviderConfig {
  name: string;
  baseUrl: string;
  model: string;
  apiKeyEnv: string | null;
  timeoutMs: number;
  fallbackProvider: string | null;
}

export interface CompletionRequest {
  taskId: string;
  prompt: string;
  region: string;
}

export interface CompletionUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

export interface CompletionResult {
  /** Name of the provider that answered (the fallback's name when the fallback answered). */
  provider: string;
  /** Model named in the response. */
  model: string;
  text: string;
  /** HTTP attempts made against the provider that answered. */
  attempts: number;
  /** Duration of the answering HTTP attempt (backoff waits not included). */
  latencyMs: number;
  usage: CompletionUsage | null;
}

export type ProviderErrorKind = "timeout" | "http" | "network" | "invalid_response" | "config";

export interface ProviderErrorOptions {
  provider: string;
  kind: ProviderErrorKind;
  status?: number | null;
  retryable: boolean;
  retryAfterMs?: number | null;
  attempts?: number;
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

  constructor(message: string, options: ProviderErrorOptions) {
    super(message, { cause: options.cause });
    this.name = "ProviderError";
    this.provider = options.provider;
    this.kind = options.kind;
    this.status = options.status ?? null;
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs ?? null;
    this.attempts = options.attempts ?? 1;
  }
}

export interface ProviderDeps {
  /** Reads an API key by env var name; defaults to the runtime environment. */
  env?: (name: string) => string | undefined;
  fetch?: typeof globalThis.fetch;
  /** Caller's abort signal (e.g. the invocation's wall-clock deadline). */
  signal?: AbortSignal;
  now?: () => number;
}

export interface AttemptInfo {
  provider: string;
  attempt: number;
  error?: ProviderError;
  /** Wait before the next attempt; absent when no further attempt follows. */
  delayMs?: number;
}

export interface RetryDeps extends ProviderDeps {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxRetryDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onAttempt?: (info: AttemptInfo) => void;
}

const usageSchema = z.object({
  prompt_tokens: z.number().optional(),
  completion_tokens: z.number().optional(),
  total_tokens: z.number().optional(),
});

const chatCompletionSchema = z.object({
  model: z.string(),
  choices: z
    .array(z.object({ message: z.object({ content: z.string() }) }))
    .min(1),
  usage: usageSchema.nullish(),
});

/** One attempt: POST {baseUrl}/chat/completions. Every failure is a ProviderError. */
export async function callChatCompletion(
  config: ProviderConfig,
  request: CompletionRequest,
  deps: ProviderDeps = {},
): Promise<CompletionResult> {
  const provider = config.name;
  const now = deps.now ?? Date.now;
  const doFetch = deps.fetch ?? globalThis.fetch;
  const url = chatCompletionsUrl(config);

  if (!Number.isFinite(config.timeoutMs) || config.timeoutMs <= 0) {
    throw new ProviderError(`${provider}: timeoutMs must be a positive number, got ${config.timeoutMs}`, {
      provider,
      kind: "config",
      retryable: false,
    });
  }
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-daybreak-task-id": request.taskId,
    "x-daybreak-region": request.region,
  };
  if (config.apiKeyEnv !== null) {
    const key = (deps.env ?? readEnv)(config.apiKeyEnv);
    if (!key) {
      throw new ProviderError(`${provider}: missing API key: environment variable ${config.apiKeyEnv} is not set`, {
        provider,
        kind: "config",
        retryable: false,
      });
    }
    headers.authorization = `Bearer ${key}`;
  }

  const timeout = AbortSignal.timeout(config.timeoutMs);
  const signal = deps.signal ? AbortSignal.any([timeout, deps.signal]) : timeout;
  const started = now();
  let status: number;
  let retryAfter: string | null;
  let body: string;
  try {
    // The signal also covers reading the body: a provider that sends headers and then stalls
    // still times out.
    const res = await doFetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify({ model: config.model, messages: [{ role: "user", content: request.prompt }] }),
      signal,
    });
    status = res.status;
    retryAfter = res.headers.get("retry-after");
    body = await res.text();
  } catch (cause) {
    throw transportError(config, cause, deps.signal);
  }
  const latencyMs = now() - started;

  if (status < 200 || status > 299) {
    const retryable = status === 408 || status === 429 || status >= 500;
    const retryAfterMs = status === 429 && retryAfter !== null ? parseRetryAfter(retryAfter, now()) : null;
    const snippet = body.slice(0, PROVIDER_DEFAULTS.errorBodyChars);
    throw new ProviderError(`${provider}: HTTP ${status}: ${snippet}`, {
      provider,
      kind: "http",
      status,
      retryable,
      retryAfterMs,
    });
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    throw new ProviderError(
      `${provider}: invalid response: not JSON: ${body.slice(0, PROVIDER_DEFAULTS.errorBodyChars)}`,
      { provider, kind: "invalid_response", status, retryable: false, cause },
    );
  }
  const checked = chatCompletionSchema.safeParse(parsed);
  if (!checked.success) {
    const issues = checked.error.issues
      .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    throw new ProviderError(`${provider}: invalid response: ${issues}`, {
      provider,
      kind: "invalid_response",
      status,
      retryable: false,
      cause: checked.error,
    });
  }
  return {
    provider,
    model: checked.data.model,
    text: checked.data.choices[0].message.content,
    attempts: 1,
    latencyMs,
    usage: checked.data.usage ?? null,
  };
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
      const result = await callChatCompletion(config, request, deps);
      deps.onAttempt?.({ provider: config.name, attempt });
      return { ...result, attempts: attempt };
    } catch (e) {
      if (!(e instanceof ProviderError)) throw e;
      error = e;
    }

    const backoff = baseDelayMs * 2 ** (attempt - 1);
    const delayMs = Math.round(Math.max(error.retryAfterMs ?? 0, backoff + random() * PROVIDER_DEFAULTS.jitterRatio * backoff));
    const last = attempt >= maxAttempts || !error.retryable || deps.signal?.aborted === true || delayMs > maxRetryDelayMs;
    deps.onAttempt?.(last ? { provider: config.name, attempt, error } : { provider: config.name, attempt, error, delayMs });
    if (last) {
      if (attempt === 1 && !error.retryable) throw error;
      const tooLong = delayMs > maxRetryDelayMs && attempt < maxAttempts && error.retryable;
      throw gaveUp(error, attempt, tooLong ? `next wait of ${delayMs} ms exceeds ${maxRetryDelayMs} ms` : null);
    }
    await sleep(delayMs);
    if (deps.signal?.aborted) throw gaveUp(error, attempt, "aborted by caller");
  }
}

function gaveUp(error: ProviderError, attempts: number, why: string | null): ProviderError {
  const plural = attempts === 1 ? "" : "s";
  return new ProviderError(`${error.message} [gave up after ${attempts} attempt${plural}${why ? `: ${why}` : ""}]`, {
    provider: error.provider,
    kind: error.kind,
    status: error.status,
    retryable: error.retryable,
    retryAfterMs: error.retryAfterMs,
    attempts,
    cause: error,
  });
}

/**
 * Primary with retries, then (if given) the fallback with retries. Throws a ProviderError naming
 * both failures when both fail; its cause is an AggregateError of [primary, fallback].
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
        attempts: primaryError.attempts + e.attempts,
        cause: new AggregateError([primaryError, e], "primary and fallback providers failed"),
      },
    );
  }
}

/** Retry-After as delta-seconds or an HTTP date, in ms from nowMs; null when unparseable. */
export function parseRetryAfter(value: string, nowMs: number): number | null {
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

function chatCompletionsUrl(config: ProviderConfig): string {
  const base = config.baseUrl.replace(/\/+$/, "");
  try {
    new URL(base);
  } catch (cause) {
    throw new ProviderError(`${config.name}: invalid baseUrl ${JSON.stringify(config.baseUrl)}`, {
      provider: config.name,
      kind: "config",
      retryable: false,
      cause,
    });
  }
  return `${base}/chat/completions`;
}

function transportError(config: ProviderConfig, cause: unknown, callerSignal: AbortSignal | undefined): ProviderError {
  const provider = config.name;
  if (callerSignal?.aborted) {
    // Retryable for the task (the provider did nothing wrong), but callWithRetries and
    // callWithFallback stop once the caller's signal has fired.
    return new ProviderError(`${provider}: aborted by caller: ${describe(callerSignal.reason)}`, {
      provider,
      kind: "timeout",
      retryable: true,
      cause,
    });
  }
  const name = (cause as { name?: unknown } | null)?.name;
  if (name === "TimeoutError" || name === "AbortError") {
    return new ProviderError(`${provider}: timed out after ${config.timeoutMs} ms`, {
      provider,
      kind: "timeout",
      retryable: true,
      cause,
    });
  }
  return new ProviderError(`${provider}: network error: ${describe(cause)}`, {
    provider,
    kind: "network",
    retryable: true,
    cause,
  });
}

/** Error message plus its cause's (fetch wraps ECONNREFUSED and friends in "fetch failed"). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = error.cause instanceof Error ? ` (${error.cause.message})` : "";
  return `${error.message}${inner}`;
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
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
