// The mock provider under load: rate buckets answering 429 with the headers real providers send,
// refused calls counting against the limit, quota mode, log-normal latency, peak in flight, and
// the control routes. The adapter's own header parser reads what the mock sends.
import { describe, expect, it } from "vitest";
import { callChatCompletion, parseRateLimitHeaders, type ProviderConfig } from "../../functions/_shared/providers/openai-compatible.ts";
import { logNormalSampler, seededRandom } from "../../harness/mock-provider/latency.ts";
import { TokenBucket } from "../../harness/mock-provider/rate-limits.ts";
import { useMockProvider } from "../helpers/mock-provider.ts";

const mock = useMockProvider();

function post(model: string, taskId = "t") {
  return fetch(`${mock.url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-daybreak-task-id": taskId },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello there" }] }),
  });
}

describe("rate buckets", () => {
  it("admit about a burst's worth at once, then 429 with retry-after and x-ratelimit headers", async () => {
    mock.setLimits({ "m-model": { requestsPerMinute: 600, headers: "openai" } }); // 10 per 1 s burst
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => post("m-model", `t${i}`)));
    const ok = answers.filter((r) => r.status === 200);
    const limited = answers.filter((r) => r.status === 429);
    expect(ok.length).toBeGreaterThanOrEqual(10);
    expect(ok.length).toBeLessThanOrEqual(12); // refill during the burst is at most a few ms' worth
    expect(limited.length).toBe(30 - ok.length);
    const r = limited[0]!;
    expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(r.headers.get("retry-after-ms"))).toBeGreaterThan(0);
    const info = parseRateLimitHeaders(r.headers, Date.now());
    expect(info).toMatchObject({ limitRequests: 600, remainingRequests: 0 });
    expect(info.resetRequestsMs).toBeGreaterThan(0);
    expect((await r.json()).error.code).toBe("rate_limit_exceeded");
    const stats = mock.stats();
    expect(stats.models["m-model"]).toMatchObject({ calls: 30, rateLimited: limited.length });
  });

  it("count refused calls against the limit: hammering pushes the next admission further out", () => {
    const bucket = new TokenBucket(60, 1, 0); // 1 per second, capacity 1
    expect(bucket.take(1, 0)).toBe(true);
    expect(bucket.msUntil(1, 0)).toBe(1000);
    expect(bucket.take(1, 0)).toBe(false);
    expect(bucket.msUntil(1, 0)).toBe(2000); // the refused call was counted
    expect(bucket.take(1, 1000)).toBe(false);
    expect(bucket.take(1, 3500)).toBe(true);
  });

  it("send Anthropic-style headers with RFC 3339 resets when asked", async () => {
    mock.setLimits({ "a-model": { requestsPerMinute: 50, tokensPerMinute: 40_000, headers: "anthropic" } });
    const r = await post("a-model");
    expect(r.status).toBe(200);
    expect(r.headers.get("anthropic-ratelimit-requests-reset")).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const info = parseRateLimitHeaders(r.headers, Date.now());
    expect(info).toMatchObject({ limitRequests: 50, limitTokens: 40_000 });
    expect(info.remainingRequests).toBeLessThan(50);
  });

  it("quota mode: 429 insufficient_quota with no retry hint, which the adapter does not retry", async () => {
    mock.setLimits({ "q-model": { requestsPerMinute: 1000, quotaExhausted: true } });
    const config: ProviderConfig = { name: "q", baseUrl: mock.url, model: "q-model", apiKeyEnv: null, timeoutMs: 5000, fallbackProvider: null, maxTokens: null };
    const error = await callChatCompletion(config, { taskId: "t", prompt: "p", region: "us" }).catch((e) => e);
    expect(error).toMatchObject({ kind: "quota", status: 429, retryable: false, retryAfterMs: null });
    expect(mock.calls().map((c) => c.status)).toEqual([429]);
  });
});

describe("latency and load", () => {
  it("log-normal: the median and the one-sigma quantile land where asked, the same for the same seed", () => {
    const draw = logNormalSampler({ medianMs: 800, sigma: 0.5 }, seededRandom(42));
    const samples = Array.from({ length: 20_001 }, draw).sort((a, b) => a - b);
    const median = samples[10_000]!;
    expect(Math.abs(median - 800) / 800).toBeLessThan(0.03);
    const p84 = samples[Math.round(0.8413 * 20_000)]!;
    expect(Math.abs(p84 - 800 * Math.exp(0.5)) / (800 * Math.exp(0.5))).toBeLessThan(0.04);
    const again = logNormalSampler({ medianMs: 800, sigma: 0.5 }, seededRandom(42));
    expect(Array.from({ length: 5 }, again)).toEqual(Array.from({ length: 5 }, logNormalSampler({ medianMs: 800, sigma: 0.5 }, seededRandom(42))));
  });

  it("counts the peak of calls in flight, per model and overall", async () => {
    mock.setLatency(150);
    await Promise.all([...Array.from({ length: 5 }, (_, i) => post("x-model", `x${i}`)), post("y-model", "y")]);
    const stats = mock.stats();
    expect(stats.models["x-model"]!.peakInFlight).toBe(5);
    expect(stats.models["y-model"]!.peakInFlight).toBe(1);
    expect(stats.peakInFlight).toBe(6);
    expect(stats.inFlight).toBe(0);
  });

  it("GET /__stats and POST /__config drive it from another process; bad config is a 400", async () => {
    const base = mock.url.replace(/\/v1$/, "");
    const set = await fetch(`${base}/__config`, { method: "POST", body: JSON.stringify({ limits: { "c-model": { requestsPerMinute: 60 } } }) });
    expect(set.status).toBe(200);
    expect((await post("c-model")).status).toBe(200);
    expect((await post("c-model")).status).toBe(429);
    const stats = await (await fetch(`${base}/__stats`)).json();
    expect(stats.models["c-model"]).toMatchObject({ calls: 2, rateLimited: 1, byStatus: { "200": 1, "429": 1 } });
    const bad = await fetch(`${base}/__config`, { method: "POST", body: JSON.stringify({ limits: { m: { requestsPerMinute: -1 } } }) });
    expect(bad.status).toBe(400);
  });
});
