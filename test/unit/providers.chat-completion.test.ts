// One attempt against a real mock provider over loopback HTTP (callChatCompletion): the request it
// sends, how every kind of failure is classified, and what a 429's Retry-After says.
import { describe, expect, it } from "vitest";
import {
  callChatCompletion,
  callWithRetries,
  DEFAULT_PROVIDER_TIMEOUT_MS,
  parseRetryAfter,
  type ProviderConfig,
} from "../../functions/_shared/providers/openai-compatible.ts";
import { mockAnswer, startMockProvider } from "../../harness/mock-provider/index.ts";
import { useMockProvider } from "../helpers/mock-provider.ts";
import { fakeSleep, providerConfig, rejection, request } from "../helpers/provider-fixtures.ts";

const mock = useMockProvider();
const config = (overrides: Partial<ProviderConfig> = {}) => providerConfig(mock, overrides);

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
    const result = await callChatCompletion(config({ apiKeyEnv: "MOCK_API_KEY" }), request, {
      fetch: recordingFetch,
      env: (name) => (name === "MOCK_API_KEY" ? "sk-test" : undefined),
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
      callWithRetries(config({ apiKeyEnv: "MISSING_TEST_API_KEY" }), request, { env: () => undefined }),
    );
    expect(error.kind).toBe("config");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("MISSING_TEST_API_KEY");
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
