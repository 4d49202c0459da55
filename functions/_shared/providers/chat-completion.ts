// One HTTP attempt against an OpenAI-compatible chat completion API. Runtime-neutral: the same
// file runs under Deno (edge functions) and Node (tests, scripts), so no `Deno.*` or `node:*`
// here; fetch and env are injectable.
import { z } from "zod";
import { readEnv } from "../env.ts";
import { readBoundedText, ResponseTooLarge } from "./bounded-body.ts";
import { isQuotaExhausted, ProviderError } from "./provider-error.ts";
import { baseUrlProblem, keyVariableProblem } from "./provider-policy.ts";
import { parseRateLimitHeaders, type RateLimitInfo } from "./rate-limit-headers.ts";
import { redactSecrets } from "./redact.ts";

/** The provider timeout; the task lease must stay longer than this (docs/design/ARCHITECTURE.md, invariant 3). */
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
  // How much of an error response body goes into the message (and so into last_error), redacted.
  errorBodyChars: 200,
});

export interface ProviderConfig {
  name: string;
  baseUrl: string;
  model: string;
  apiKeyEnv: string | null;
  timeoutMs: number;
  /** The first attempt's deadline, from the provider's recent latency (call-deadline.ts); each retry
   * gets twice the one before and the last attempt gets timeoutMs, so a provider that slowed down
   * is still waited out. Absent: every attempt gets timeoutMs. */
  deadlineMs?: number;
  fallbackProvider: string | null;
  /** max_tokens sent with every call; null: the provider's default. */
  maxTokens: number | null;
}

export interface CompletionRequest {
  taskId: string;
  prompt: string;
  region: string;
  /** The claim this call belongs to (its attempt token): lets a provider's log, or the soak's
   * mock, tell a retry within one claim from a second claim of the same task. */
  attemptToken?: string;
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
  /** HTTP status of the answering attempt. */
  status: number;
  /** Duration of the answering HTTP attempt (backoff waits not included). */
  latencyMs: number;
  usage: CompletionUsage | null;
  /** What the answer's headers said about the provider's limits. */
  rateLimit: RateLimitInfo;
}

export interface ProviderDeps {
  /** Reads an API key by env var name; defaults to the runtime environment. */
  env?: (name: string) => string | undefined;
  fetch?: typeof globalThis.fetch;
  /** Caller's abort signal (e.g. the invocation's wall-clock deadline). */
  signal?: AbortSignal;
  now?: () => number;
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
  if (request.attemptToken !== undefined) headers["x-daybreak-attempt"] = request.attemptToken;
  let key: string | null = null;
  if (config.apiKeyEnv !== null) {
    const refused = keyVariableProblem(config.apiKeyEnv);
    if (refused) throw new ProviderError(`${provider}: ${refused}`, { provider, kind: "config", retryable: false });
    key = (deps.env ?? readEnv)(config.apiKeyEnv) ?? null;
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
  let res: Response;
  let body: string;
  try {
    // The signal also covers reading the body: a provider that sends headers and then stalls
    // still times out.
    res = await doFetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify({
        model: config.model,
        messages: [{ role: "user", content: request.prompt }],
        ...(config.maxTokens ? { max_tokens: config.maxTokens } : {}),
      }),
      signal,
    });
    body = await readBoundedText(res);
  } catch (cause) {
    if (cause instanceof ResponseTooLarge) {
      throw new ProviderError(`${provider}: ${cause.message}; not read further`, {
        provider, kind: "response_too_large", retryable: false, latencyMs: now() - started, cause,
      });
    }
    throw transportError(config, cause, deps.signal);
  }
  const status = res.status;
  const rateLimit = parseRateLimitHeaders(res.headers, now());
  const latencyMs = now() - started;

  if (status < 200 || status > 299) {
    throw httpError(provider, status, redactSecrets(body, [key]), rateLimit, latencyMs);
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (cause) {
    throw new ProviderError(
      `${provider}: invalid response: not JSON: ${redactSecrets(body.slice(0, PROVIDER_DEFAULTS.errorBodyChars), [key])}`,
      { provider, kind: "invalid_response", status, retryable: false, rateLimit, latencyMs, cause },
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
      rateLimit,
      latencyMs,
      cause: checked.error,
    });
  }
  return {
    provider,
    model: checked.data.model,
    text: checked.data.choices[0].message.content,
    attempts: 1,
    status,
    latencyMs,
    usage: checked.data.usage ?? null,
    rateLimit,
  };
}

function httpError(provider: string, status: number, body: string, rateLimit: RateLimitInfo, latencyMs: number): ProviderError {
  const snippet = body.slice(0, PROVIDER_DEFAULTS.errorBodyChars);
  const common = { provider, status, rateLimit, latencyMs };
  if (status === 429 && isQuotaExhausted(body, rateLimit)) {
    return new ProviderError(`${provider}: quota exhausted (HTTP 429): ${snippet}`, { ...common, kind: "quota", retryable: false });
  }
  if (status === 429) {
    return new ProviderError(`${provider}: rate limited (HTTP 429): ${snippet}`, {
      ...common,
      kind: "rate_limited",
      retryable: true,
      retryAfterMs: rateLimit.retryAfterMs,
    });
  }
  const retryable = status === 408 || status >= 500;
  return new ProviderError(`${provider}: HTTP ${status}: ${snippet}`, { ...common, kind: "http", retryable });
}

function chatCompletionsUrl(config: ProviderConfig): string {
  const refused = baseUrlProblem(config.baseUrl);
  if (refused) throw new ProviderError(`${config.name}: ${refused}`, { provider: config.name, kind: "config", retryable: false });
  return `${config.baseUrl.replace(/\/+$/, "")}/chat/completions`;
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
