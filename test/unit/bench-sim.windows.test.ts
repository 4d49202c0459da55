// The bench's provider simulator (bench/sim/): its window accounting, on a fake clock, and one
// simulator over HTTP read by the adapter's own header parser. A window that let one unit too many
// through, forgot too early or too late, or a header that said the wrong thing fails here.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRateLimitHeaders } from "../../functions/_shared/providers/openai-compatible.ts";
import { KeyLimits } from "../../bench/sim/key-limits.ts";
import { kindSchema } from "../../bench/sim/kinds.ts";
import { startSimulator } from "../../bench/sim/server.ts";
import { makeWindow, peakInAlignedWindows, peakInAnyInterval } from "../../bench/sim/windows.ts";

describe("fixed window", () => {
  it("admits the limit per epoch-aligned window and forgets everything at the boundary", () => {
    const w = makeWindow({ mode: "fixed", seconds: 10, limit: 3 });
    const t0 = 1_000_000; // a window boundary (multiple of 10,000 ms)
    for (const t of [t0 + 100, t0 + 200, t0 + 9_000]) {
      expect(w.waitMs(t, 1)).toBe(0);
      w.add(t, 1);
    }
    expect(w.waitMs(t0 + 9_500, 1)).toBe(500); // full until the boundary
    expect(w.used(t0 + 9_999)).toBe(3);
    expect(w.used(t0 + 10_000)).toBe(0); // a new window: a burst of 3 right after 3 is allowed
    expect(w.waitMs(t0 + 10_000, 3)).toBe(0);
    expect(w.waitMs(t0 + 10_000, 4)).toBe(Infinity);
    expect(w.peak).toBe(3);
  });
});

describe("sliding log", () => {
  it("admits the limit in any window-long interval, one slot freeing as each entry ages out", () => {
    const w = makeWindow({ mode: "sliding", seconds: 1, limit: 2 });
    w.add(0, 1);
    w.add(400, 1);
    expect(w.waitMs(500, 1)).toBe(500); // the entry at 0 leaves at 1,000
    expect(w.waitMs(999, 1)).toBe(1);
    expect(w.waitMs(1_000, 1)).toBe(0);
    w.add(1_000, 1);
    expect(w.used(1_000)).toBe(2);
    expect(w.waitMs(1_100, 1)).toBe(300); // next: the entry at 400
    expect(w.resetMs(1_100)).toBe(900); // empty once the entry at 1,000 leaves
  });

  it("weighs entries (tokens) and waits for enough of them to leave", () => {
    const w = makeWindow({ mode: "sliding", seconds: 10, limit: 1_000 });
    w.add(0, 600);
    w.add(2_000, 300);
    expect(w.waitMs(3_000, 100)).toBe(0);
    expect(w.waitMs(3_000, 200)).toBe(7_000); // 600 must leave (at 10,000)
    expect(w.waitMs(3_000, 900)).toBe(9_000); // both must leave (the second at 12,000)
  });
});

describe("peaks over a log", () => {
  const times = [0, 100, 900, 1_000, 1_050, 1_999, 2_500];
  it("any interval: the most in [t, t + W)", () => {
    expect(peakInAnyInterval(times, null, 1_000)).toBe(4); // [100, 1,100): 100, 900, 1,000, 1,050
    expect(peakInAnyInterval(times, times.map(() => 2), 1_000)).toBe(8);
    expect(peakInAnyInterval([], null, 1_000)).toBe(0);
  });
  it("aligned windows: the most in [k·W, (k+1)·W)", () => {
    expect(peakInAlignedWindows(times, null, 1_000)).toBe(3); // 0, 100, 900 and 1,000, 1,050, 1,999
    expect(peakInAlignedWindows(times, null, 10_000)).toBe(7);
  });
});

describe("a key's limits", () => {
  const kind = kindSchema.parse({
    requests: { mode: "fixed", windowSeconds: 1, perMinute: 120 },
    tokens: { mode: "sliding", windowSeconds: 10, perMinute: 6_000 },
    headers: "always",
    latency: { medianMs: 0, sigma: 0 },
    completion: { medianTokens: 10, sigma: 0, maxTokens: 100 },
  });

  it("refuses on whichever window is full, and a fixed window counts its refusals", () => {
    const k = new KeyLimits(kind); // 2 requests per second, 1,000 tokens per 10 s
    expect(k.admit(5_000, 400)).toEqual({ ok: true });
    expect(k.admit(5_100, 400)).toEqual({ ok: true });
    expect(k.admit(5_200, 10)).toEqual({ ok: false, by: "requests", retryAfterMs: 800 });
    expect(k.admit(6_000, 300)).toEqual({ ok: false, by: "tokens", retryAfterMs: 9_000 });
    // The refusal at 6,000 counted in the fixed request window: one more fits, then none.
    expect(k.admit(6_100, 100)).toEqual({ ok: true });
    expect(k.admit(6_200, 1).ok).toBe(false);
    expect(k.peaks().requests).toEqual({ limit: 2, peak: 3 });
    expect(k.peaks().tokens).toEqual({ limit: 1_000, peak: 900 });
  });

  it("states per-minute limits and what the last minute left", () => {
    const k = new KeyLimits(kind);
    k.admit(0, 250);
    const info = parseRateLimitHeaders(new Headers(k.headers(30_000)), 30_000);
    expect(info).toMatchObject({ limitRequests: 120, remainingRequests: 119, resetRequestsMs: 30_000, limitTokens: 6_000, remainingTokens: 5_750 });
  });
});

describe("the simulator over HTTP", () => {
  let sim: Awaited<ReturnType<typeof startSimulator>>;
  beforeAll(async () => {
    sim = await startSimulator(0);
  });
  afterAll(() => sim.close());

  const post = (model: string, content: string) => fetch(`${sim.url}/chat/completions`, {
    method: "POST", headers: { "content-type": "application/json", "x-daybreak-task-id": content },
    body: JSON.stringify({ model, messages: [{ role: "user", content }], max_tokens: 5 }),
  });

  it("answers with usage, refuses past a sliding window with headers only on the 429, and never exceeds it", async () => {
    const base = sim.url.replace(/\/v1$/, "");
    const res = await fetch(`${base}/__sim/config`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ seed: 3, kinds: { m: {
        requests: { mode: "sliding", windowSeconds: 10, perMinute: 30 }, headers: "on429",
        latency: { medianMs: 5, sigma: 0.2 }, completion: { medianTokens: 50, sigma: 0.5, maxTokens: 400 },
      } } }),
    });
    expect(res.status).toBe(200);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => post("m", `${"x".repeat(40)} prompt ${i}`)));
    const ok = answers.filter((a) => a.status === 200);
    expect(ok).toHaveLength(5);
    expect(ok[0]!.headers.get("x-ratelimit-limit-requests")).toBeNull();
    const body = (await ok[0]!.json()) as { choices: { message: { content: string } }[]; usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } };
    expect(body.usage.prompt_tokens).toBe(13); // 49 characters / 4, rounded up
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(5); // max_tokens honoured
    const refused = answers.find((a) => a.status === 429)!;
    const info = parseRateLimitHeaders(refused.headers, Date.now());
    expect(info.limitRequests).toBe(30);
    expect(info.retryAfterMs).toBeGreaterThan(9_000);
    const stats = (await (await fetch(`${base}/__sim/stats`)).json()) as { models: Record<string, { calls: number; ok: number; rateLimited: number; admittedRequests: Record<string, number>; enforced: { requests: { limit: number; peak: number } } }> };
    const m = stats.models.m!;
    expect([m.calls, m.ok, m.rateLimited]).toEqual([8, 5, 3]);
    expect(m.admittedRequests["10s"]).toBe(5);
    expect(m.enforced.requests).toEqual({ limit: 5, peak: 5 });
  });
});
