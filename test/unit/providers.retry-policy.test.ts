// Retries with backoff and the fallback provider (callWithRetries, callWithFallback), against a real
// mock provider over loopback HTTP. Backoff waits go through an injected sleep that records the
// requested delays, so no test waits out a real backoff.
import { describe, expect, it } from "vitest";
import {
  callWithFallback,
  callWithRetries,
  ProviderError,
  type AttemptInfo,
  type ProviderConfig,
} from "../../functions/_shared/providers/openai-compatible.ts";
import { mockAnswer } from "../../harness/mock-provider/index.ts";
import { useMockProvider } from "../helpers/mock-provider.ts";
import { fakeSleep, providerConfig, rejection, request } from "../helpers/provider-fixtures.ts";

const mock = useMockProvider();
const config = (overrides: Partial<ProviderConfig> = {}) => providerConfig(mock, overrides);

describe("callWithRetries", () => {
  it("honours Retry-After on a 429 when it is longer than the backoff", async () => {
    mock.setRules([{ status: 429, retryAfterSeconds: 7, times: 1 }]);
    const { delays, sleep } = fakeSleep();
    const result = await callWithRetries(config(), request, { sleep, random: () => 0 });
    expect(result.attempts).toBe(2);
    expect(delays).toEqual([7000]);
    expect(mock.calls().map((c) => c.status)).toEqual([429, 200]);
  });

  it("waits the backoff when Retry-After is shorter", async () => {
    mock.setRules([{ status: 429, retryAfterSeconds: 0, times: 1 }]);
    const { delays, sleep } = fakeSleep();
    await callWithRetries(config(), request, { sleep, random: () => 0.2 });
    expect(delays).toEqual([1050]);
  });

  it("gives up instead of waiting a Retry-After beyond maxRetryDelayMs", async () => {
    mock.setRules([{ status: 429, retryAfterSeconds: 3600 }]);
    const { delays, sleep } = fakeSleep();
    const error = await rejection(callWithRetries(config(), request, { sleep, random: () => 0 }));
    expect(delays).toEqual([]);
    expect(error).toMatchObject({ kind: "rate_limited", status: 429, retryable: true, retryAfterMs: 3_600_000, attempts: 1 });
    expect(error.message).toContain("exceeds 30000 ms");
    expect(mock.calls()).toHaveLength(1);
  });

  it("retries two 500s with exponential backoff plus jitter and succeeds on the third attempt", async () => {
    mock.setRules([{ status: 500, times: 2 }]);
    const { delays, sleep } = fakeSleep();
    const attempts: AttemptInfo[] = [];
    const result = await callWithRetries(config(), request, {
      sleep,
      random: () => 0.5,
      onAttempt: (info) => attempts.push(info),
    });
    expect(result.attempts).toBe(3);
    expect(result.text).toBe(mockAnswer("task-1", "gpt-mock", "us-east", request.prompt));
    // 1000 and 2000 ms, each plus 0.5 * 25%.
    expect(delays).toEqual([1125, 2250]);
    expect(mock.calls().map((c) => c.status)).toEqual([500, 500, 200]);
    expect(attempts.map((a) => [a.attempt, a.error?.status ?? null, a.delayMs ?? null])).toEqual([
      [1, 500, 1125],
      [2, 500, 2250],
      [3, null, null],
    ]);
  });

  it("doubles the delay each attempt and keeps jitter within 25% of it", async () => {
    mock.setRules([{ status: 503, times: 3 }]);
    const { delays, sleep } = fakeSleep();
    const result = await callWithRetries(config(), request, { sleep, random: () => 0.999999, maxAttempts: 4 });
    expect(result.attempts).toBe(4);
    expect(delays).toEqual([1250, 2500, 5000]);
  });

  it("does not retry a 400", async () => {
    mock.setRules([{ status: 400 }]);
    const { delays, sleep } = fakeSleep();
    const error = await rejection(callWithRetries(config(), request, { sleep }));
    expect(error).toMatchObject({ kind: "http", status: 400, retryable: false, attempts: 1 });
    expect(error.message).toMatch(/^openai-mock: HTTP 400: /);
    expect(delays).toEqual([]);
    expect(mock.calls()).toHaveLength(1);
  });

  it("times out a hanging provider and retries it", async () => {
    mock.setRules([{ hang: true }]);
    const { delays, sleep } = fakeSleep();
    const started = Date.now();
    const error = await rejection(
      callWithRetries(config({ timeoutMs: 300 }), request, { sleep, random: () => 0, maxAttempts: 2 }),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 300 - 20);
    expect(error).toMatchObject({ kind: "timeout", retryable: true, attempts: 2, status: null });
    expect(error.message).toBe("openai-mock: timed out after 300 ms [gave up after 2 attempts]");
    expect(delays).toEqual([1000]);
    expect(mock.calls().map((c) => c.status)).toEqual(["hang", "hang"]);
  });

  it("throws the last error naming the attempts when retries are exhausted", async () => {
    mock.setRules([{ status: 503 }]);
    const { delays, sleep } = fakeSleep();
    const error = await rejection(callWithRetries(config(), request, { sleep, random: () => 0 }));
    expect(error.message).toMatch(/^openai-mock: HTTP 503: .* \[gave up after 3 attempts\]$/);
    expect(error).toMatchObject({ kind: "http", status: 503, retryable: true, attempts: 3 });
    expect(error.cause).toBeInstanceOf(ProviderError);
    expect(delays).toEqual([1000, 2000]);
    expect(mock.calls()).toHaveLength(3);
  });

  it("stops when the caller's signal is aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("invocation deadline"));
    const error = await rejection(
      callWithFallback(config(), config({ name: "openai-fallback" }), request, { signal: controller.signal }),
    );
    expect(error.message).toContain("aborted by caller: invocation deadline");
    expect(error.provider).toBe("openai-mock");
    expect(mock.calls()).toHaveLength(0);
  });
});

describe("a deadline from the provider's latency", () => {
  it("cuts the first attempt at the deadline, doubles it for the next, and gives the last the full timeout", async () => {
    mock.setRules([{ hang: true, times: 2 }]);
    const { delays, sleep } = fakeSleep();
    const attempts: AttemptInfo[] = [];
    const result = await callWithRetries(config({ deadlineMs: 100, timeoutMs: 5000 }), request, {
      sleep, random: () => 0, onAttempt: (a) => attempts.push(a),
    });
    expect(result.attempts).toBe(3);
    expect(attempts.map((a) => a.error?.message ?? "ok")).toEqual([
      expect.stringMatching(/timed out after 100 ms/), expect.stringMatching(/timed out after 200 ms/), "ok",
    ]);
    expect(delays).toHaveLength(2);
  });

  it("a provider that slowed past the deadline is still waited out by the last attempt", async () => {
    mock.setLatency(700);
    const { sleep } = fakeSleep();
    const result = await callWithRetries(config({ deadlineMs: 150, timeoutMs: 5000 }), request, { sleep, random: () => 0 });
    expect(result.attempts).toBe(3); // cut at 150 and 300 ms, answered within the timeout
    expect(result.latencyMs).toBeGreaterThanOrEqual(700);
  });

  it("never gives an attempt more than the timeout", async () => {
    mock.setRules([{ hang: true }]);
    const { sleep } = fakeSleep();
    const attempts: AttemptInfo[] = [];
    await rejection(callWithRetries(config({ deadlineMs: 300, timeoutMs: 400 }), request, { sleep, onAttempt: (a) => attempts.push(a) }));
    expect(attempts.map((a) => /after (\d+) ms/.exec(a.error!.message)![1])).toEqual(["300", "400", "400"]);
  });
});

describe("callWithFallback", () => {
  const fallback = () => config({ name: "openai-fallback", model: "gpt-fallback" });

  it("uses the fallback when the primary fails", async () => {
    mock.setRules([{ model: "gpt-mock", status: 500 }]);
    const { delays, sleep } = fakeSleep();
    const result = await callWithFallback(config(), fallback(), request, { sleep, random: () => 0 });
    expect(result).toMatchObject({
      provider: "openai-fallback",
      model: "gpt-fallback",
      attempts: 1,
      text: mockAnswer("task-1", "gpt-fallback", "us-east", request.prompt),
    });
    expect(delays).toEqual([1000, 2000]);
    expect(mock.calls().map((c) => [c.model, c.status])).toEqual([
      ["gpt-mock", 500],
      ["gpt-mock", 500],
      ["gpt-mock", 500],
      ["gpt-fallback", 200],
    ]);
  });

  it("does not call the fallback when the primary answers", async () => {
    const result = await callWithFallback(config(), fallback(), request);
    expect(result.provider).toBe("openai-mock");
    expect(mock.calls()).toHaveLength(1);
  });

  it("names both failures when primary and fallback fail", async () => {
    mock.setRules([{ model: "gpt-mock", status: 400 }, { model: "gpt-fallback", status: 503 }]);
    const { sleep } = fakeSleep();
    const error = await rejection(callWithFallback(config(), fallback(), request, { sleep }));
    expect(error.message).toMatch(/^primary openai-mock failed: openai-mock: HTTP 400: .*; fallback openai-fallback failed: openai-fallback: HTTP 503: .*gave up after 3 attempts/);
    expect(error).toMatchObject({ provider: "openai-fallback", retryable: true, attempts: 4 });
    expect(error.cause).toBeInstanceOf(AggregateError);
    expect((error.cause as AggregateError).errors.map((e: ProviderError) => e.status)).toEqual([400, 503]);
  });

  it("throws the primary's error as is when there is no fallback", async () => {
    mock.setRules([{ status: 400 }]);
    const error = await rejection(callWithFallback(config(), null, request));
    expect(error.message).toMatch(/^openai-mock: HTTP 400: /);
  });
});

