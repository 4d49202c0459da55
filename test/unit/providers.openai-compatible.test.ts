// The provider layer against a real mock provider over loopback HTTP. Backoff waits go through an
// injected sleep that records the requested delays, so no test waits out a real backoff.
import { describe, expect, it } from "vitest";
import {
  callChatCompletion,
  callWithFallback,
  callWithRetries,
  DEFAULT_PROVIDER_TIMEOUT_MS,
  parseRetryAfter,
  ProviderError,
  type AttemptInfo,
  type CompletionRequest,
  type ProviderConfig,
} from "../../functions/_shared/providers/openai-compatible.ts";
import { mockAnswer, startMockProvider } from "../../harness/mock-provider/index.ts";
import { useMockProvider } from "../helpers/mock-provider.ts";

const mock = useMockProvider();

function config(overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    name: "openai-mock",
    baseUrl: `${mock.url}/`, // trailing slash must be stripped
    model: "gpt-mock",
    apiKeyEnv: null,
    timeoutMs: 5_000,
    fallbackProvider: null,
    ...overrides,
  };
}

const request: CompletionRequest = { taskId: "task-1", prompt: "What is the capital of France?", region: "us-east" };

/** Records requested delays instead of sleeping. */
function fakeSleep() {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error("expected a rejection");
}

describe("callChatCompletion", () => {
  it("posts the prompt and returns the validated answer", async () => {
    const seen: { url: string; headers: Record<string, string>; body: unknown }[] = [];
    const recordingFetch: typeof fetch = async (input, init) => {
      seen.push({
        url: String(input),
        headers: init?.headers as Record<string, string>,
        body: JSON.parse(String(init?.body)),
      });
      return fetch(input, init);
    };
    const result = await callChatCompletion(config({ apiKeyEnv: "MOCK_KEY" }), request, {
      fetch: recordingFetch,
      env: (name) => (name === "MOCK_KEY" ? "sk-test" : undefined),
    });

    expect(result).toMatchObject({
      provider: "openai-mock",
      model: "gpt-mock",
      text: mockAnswer("task-1", "gpt-mock", "us-east", request.prompt),
      attempts: 1,
    });
    expect(result.text).toMatch(/^mock answer for task task-1 \(gpt-mock, us-east\): [0-9a-f]{12}$/);
    expect(result.usage?.total_tokens).toBe((result.usage?.prompt_tokens ?? 0) + (result.usage?.completion_tokens ?? 0));
    expect(result.usage?.prompt_tokens).toBe(6);
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);

    expect(seen).toHaveLength(1);
    expect(seen[0].url).toBe(`${mock.url}/chat/completions`);
    expect(seen[0].headers).toMatchObject({
      "content-type": "application/json",
      authorization: "Bearer sk-test",
      "x-daybreak-task-id": "task-1",
      "x-daybreak-region": "us-east",
    });
    expect(seen[0].body).toEqual({ model: "gpt-mock", messages: [{ role: "user", content: request.prompt }] });
    expect(mock.calls()).toMatchObject([{ taskId: "task-1", model: "gpt-mock", region: "us-east", status: 200 }]);
  });

  it("sends no authorization header when the provider needs no key", async () => {
    let headers: Record<string, string> = {};
    await callChatCompletion(config(), request, {
      fetch: async (input, init) => {
        headers = init?.headers as Record<string, string>;
        return fetch(input, init);
      },
    });
    expect(headers).not.toHaveProperty("authorization");
  });

  it("rejects a missing API key as a config error without calling the provider", async () => {
    const error = await rejection(
      callWithRetries(config({ apiKeyEnv: "DAYBREAK_TEST_MISSING_KEY" }), request, { env: () => undefined }),
    );
    expect(error.kind).toBe("config");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("DAYBREAK_TEST_MISSING_KEY");
    expect(mock.calls()).toHaveLength(0);
  });

  it("rejects a 200 whose body is not a chat completion, without retrying", async () => {
    let fetches = 0;
    const badShape: typeof fetch = async () => {
      fetches += 1;
      return new Response(JSON.stringify({ model: "gpt-mock", choices: [] }), { status: 200 });
    };
    const { delays, sleep } = fakeSleep();
    const error = await rejection(callWithRetries(config(), request, { fetch: badShape, sleep }));
    expect(error.kind).toBe("invalid_response");
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/^openai-mock: invalid response: choices/);
    expect(fetches).toBe(1);
    expect(delays).toEqual([]);
  });

  it("rejects non-JSON and a null message content as invalid responses", async () => {
    const notJson = await rejection(
      callChatCompletion(config(), request, { fetch: async () => new Response("<html>oops</html>", { status: 200 }) }),
    );
    expect(notJson.kind).toBe("invalid_response");
    expect(notJson.message).toContain("not JSON: <html>oops</html>");

    const nullContent = await rejection(
      callChatCompletion(config(), request, {
        fetch: async () =>
          new Response(JSON.stringify({ model: "m", choices: [{ message: { content: null } }] }), { status: 200 }),
      }),
    );
    expect(nullContent.kind).toBe("invalid_response");
    expect(nullContent.message).toContain("choices.0.message.content");
  });

  it("puts the status and the start of the body in the message", async () => {
    const body = "x".repeat(500);
    const error = await rejection(
      callChatCompletion(config(), request, { fetch: async () => new Response(body, { status: 502 }) }),
    );
    expect(error.message).toBe(`openai-mock: HTTP 502: ${"x".repeat(200)}`);
    expect(error).toMatchObject({ kind: "http", status: 502, retryable: true, retryAfterMs: null });
  });

  it("classifies 408 as retryable and other 4xx as not", async () => {
    const status = async (code: number) =>
      rejection(callChatCompletion(config(), request, { fetch: async () => new Response("", { status: code }) }));
    expect((await status(408)).retryable).toBe(true);
    expect((await status(401)).retryable).toBe(false);
    expect((await status(404)).retryable).toBe(false);
  });

  it("reports an unreachable provider as a retryable network error", async () => {
    const closed = await startMockProvider();
    const url = closed.url;
    await closed.close();
    const error = await rejection(callChatCompletion(config({ baseUrl: url }), request));
    expect(error.kind).toBe("network");
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^openai-mock: network error: /);
    expect(error.cause).toBeDefined();
  });

  it("exports the 120 s default timeout", () => {
    expect(DEFAULT_PROVIDER_TIMEOUT_MS).toBe(120_000);
  });
});

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

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  it("reads delta-seconds and HTTP dates", () => {
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter(" 1.5 ", now)).toBe(1500);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:59:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeNull();
  });

  it("turns an HTTP-date Retry-After from the provider into retryAfterMs", async () => {
    const error = await rejection(
      callChatCompletion(config(), request, {
        now: () => now,
        fetch: async () =>
          new Response("slow down", { status: 429, headers: { "retry-after": "Thu, 01 Jan 2026 00:00:04 GMT" } }),
      }),
    );
    expect(error).toMatchObject({ kind: "rate_limited", status: 429, retryable: true, retryAfterMs: 4000 });
  });
});
