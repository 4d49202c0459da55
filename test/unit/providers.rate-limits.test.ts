// What the adapter reads from a provider's limits headers, how it tells a rate limit from an
// exhausted quota, and how it hands a 429 back to a pacing caller instead of sleeping on it.
import { describe, expect, it } from "vitest";
import {
  callChatCompletion,
  callWithFallback,
  callWithRetries,
  parseGoDuration,
  parseRateLimitHeaders,
  ProviderError,
  type AttemptInfo,
  type ProviderConfig,
} from "../../functions/_shared/providers/openai-compatible.ts";

const now = Date.parse("2026-11-23T08:00:00Z");
const request = { taskId: "t1", prompt: "hello", region: "us" };

function config(name: string, fallbackProvider: string | null = null): ProviderConfig {
  return { name, baseUrl: `https://${name}.invalid/v1`, model: "m", apiKeyEnv: null, timeoutMs: 5000, fallbackProvider, maxTokens: null };
}

const answer = (headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ model: "m", choices: [{ message: { content: "ok" } }], usage: { total_tokens: 12 } }), {
    status: 200,
    headers: { "content-type": "application/json", ...headers },
  });

/** A fetch answering from a script per host, recording which hosts were called. */
function scriptedFetch(script: Record<string, Array<() => Response>>) {
  const hosts: string[] = [];
  const fetch: typeof globalThis.fetch = async (input) => {
    const host = new URL(String(input)).hostname.replace(/\.invalid$/, "");
    hosts.push(host);
    const next = script[host]?.shift();
    if (!next) throw new Error(`no scripted answer left for ${host}`);
    return next();
  };
  return { fetch, hosts };
}

const rateLimited = (headers: Record<string, string>) =>
  new Response(JSON.stringify({ error: { message: "Rate limit reached for requests", type: "requests", code: "rate_limit_exceeded" } }), {
    status: 429,
    headers,
  });
const quotaExhausted = () =>
  new Response(JSON.stringify({
    error: { message: "You exceeded your current quota, please check your plan and billing details.", type: "insufficient_quota", code: "insufficient_quota" },
  }), { status: 429 });

describe("parseGoDuration", () => {
  it("reads the durations OpenAI sends in x-ratelimit-reset-*", () => {
    expect(parseGoDuration("1s")).toBe(1000);
    expect(parseGoDuration("6m0s")).toBe(360_000);
    expect(parseGoDuration("120ms")).toBe(120);
    expect(parseGoDuration("1h2m3.5s")).toBe(3_723_500);
    expect(parseGoDuration("0.5")).toBe(500);
  });
  it("refuses what is not a duration", () => {
    for (const bad of ["", "soon", "1x", "s1", "1s junk"]) expect(parseGoDuration(bad)).toBeNull();
  });
});

describe("parseRateLimitHeaders", () => {
  it("reads OpenAI-style headers", () => {
    const info = parseRateLimitHeaders(new Headers({
      "x-ratelimit-limit-requests": "1200",
      "x-ratelimit-remaining-requests": "1187",
      "x-ratelimit-reset-requests": "650ms",
      "x-ratelimit-limit-tokens": "400000",
      "x-ratelimit-remaining-tokens": "399000",
      "x-ratelimit-reset-tokens": "6m0s",
      "retry-after": "2",
    }), now);
    expect(info).toEqual({
      limitRequests: 1200, remainingRequests: 1187, resetRequestsMs: 650,
      limitTokens: 400_000, remainingTokens: 399_000, resetTokensMs: 360_000, retryAfterMs: 2000,
    });
  });
  it("reads Anthropic-style headers with RFC 3339 resets", () => {
    const info = parseRateLimitHeaders(new Headers({
      "anthropic-ratelimit-requests-limit": "50",
      "anthropic-ratelimit-requests-remaining": "0",
      "anthropic-ratelimit-requests-reset": "2026-11-23T08:00:01.500Z",
      "anthropic-ratelimit-tokens-limit": "40000",
      "retry-after-ms": "1234",
      "retry-after": "2",
    }), now);
    expect(info).toMatchObject({ limitRequests: 50, remainingRequests: 0, resetRequestsMs: 1500, limitTokens: 40_000, retryAfterMs: 1234 });
  });
  it("gives null for missing or malformed values rather than a guess", () => {
    const info = parseRateLimitHeaders(new Headers({ "x-ratelimit-limit-requests": "lots", "x-ratelimit-reset-requests": "later" }), now);
    expect(Object.values(info).every((v) => v === null)).toBe(true);
  });
});

describe("429 classification", () => {
  it("a rate limit is retryable and carries the provider's hints", async () => {
    const { fetch } = scriptedFetch({ a: [() => rateLimited({ "retry-after": "3", "x-ratelimit-limit-requests": "600" })] });
    const error = await callChatCompletion(config("a"), request, { fetch, now: () => now }).catch((e) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ kind: "rate_limited", status: 429, retryable: true, retryAfterMs: 3000 });
    expect(error.rateLimit.limitRequests).toBe(600);
  });
  it("insufficient_quota is a quota error: not retried, no fallback", async () => {
    const { fetch, hosts } = scriptedFetch({ a: [quotaExhausted, quotaExhausted], b: [() => answer()] });
    const error = await callWithFallback(config("a", "b"), config("b"), request, { fetch, sleep: async () => {} }).catch((e) => e);
    expect(error).toMatchObject({ kind: "quota", retryable: false, attempts: 1 });
    expect(hosts).toEqual(["a"]);
  });
  it("a quota-worded 429 without a retry hint is a quota error; with a hint it is a rate limit", async () => {
    const body = JSON.stringify({ error: { message: "Your credit balance is too low / billing" } });
    const noHint = scriptedFetch({ a: [() => new Response(body, { status: 429 })] });
    expect(await callChatCompletion(config("a"), request, { fetch: noHint.fetch }).catch((e) => e)).toMatchObject({ kind: "quota" });
    const hint = scriptedFetch({ a: [() => new Response(body, { status: 429, headers: { "retry-after": "1" } })] });
    expect(await callChatCompletion(config("a"), request, { fetch: hint.fetch }).catch((e) => e)).toMatchObject({ kind: "rate_limited" });
  });
});

describe("retryRateLimited: false (a pacing caller)", () => {
  it("hands a 429 back at once: one call, no sleep, no fallback", async () => {
    const { fetch, hosts } = scriptedFetch({ a: [() => rateLimited({ "retry-after": "1" })], b: [() => answer()] });
    const slept: number[] = [];
    const error = await callWithFallback(config("a", "b"), config("b"), request, {
      fetch, retryRateLimited: false, sleep: async (ms) => void slept.push(ms),
    }).catch((e) => e);
    expect(error).toMatchObject({ kind: "rate_limited", attempts: 1 });
    expect(hosts).toEqual(["a"]);
    expect(slept).toEqual([]);
  });
  it("still retries 5xx, and reports every attempt with status, latency and limits", async () => {
    const attempts: AttemptInfo[] = [];
    const { fetch } = scriptedFetch({
      a: [() => new Response("boom", { status: 503 }), () => answer({ "x-ratelimit-limit-requests": "900" })],
    });
    const result = await callWithRetries(config("a"), request, {
      fetch, retryRateLimited: false, sleep: async () => {}, onAttempt: (a) => attempts.push(a),
    });
    expect(result).toMatchObject({ attempts: 2, status: 200, text: "ok" });
    expect(attempts.map((a) => a.status)).toEqual([503, 200]);
    expect(attempts[1].rateLimit?.limitRequests).toBe(900);
    expect(attempts[1].usage?.total_tokens).toBe(12);
    expect(attempts.every((a) => typeof a.latencyMs === "number")).toBe(true);
  });
  it("by default a 429 is retried after retry-after, as before", async () => {
    const { fetch, hosts } = scriptedFetch({ a: [() => rateLimited({ "retry-after": "2" }), () => answer()] });
    const slept: number[] = [];
    const result = await callWithRetries(config("a"), request, { fetch, sleep: async (ms) => void slept.push(ms), random: () => 0 });
    expect(result.attempts).toBe(2);
    expect(slept).toEqual([2000]);
    expect(hosts).toEqual(["a", "a"]);
  });
});
