// The provider layer's public face: calls to OpenAI-compatible chat completion APIs. One attempt
// (chat-completion.ts), retries and fallback (retry-policy.ts), what the provider says about its
// limits (rate-limit-headers.ts) and how failures are classified (provider-error.ts).
export {
  callChatCompletion,
  DEFAULT_PROVIDER_TIMEOUT_MS,
  PROVIDER_DEFAULTS,
  type CompletionRequest,
  type CompletionResult,
  type CompletionUsage,
  type ProviderConfig,
  type ProviderDeps,
} from "./chat-completion.ts";
export { isQuotaExhausted, ProviderError, type ProviderErrorKind, type ProviderErrorOptions } from "./provider-error.ts";
export { hasRateLimitInfo, parseGoDuration, parseRateLimitHeaders, parseRetryAfter, type RateLimitInfo } from "./rate-limit-headers.ts";
export { callWithFallback, callWithRetries, type AttemptInfo, type RetryDeps } from "./retry-policy.ts";
