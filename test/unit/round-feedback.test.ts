// What a round tells the pacer (summarizeAttempts): per provider and run, the answered calls, the
// 429s, the calls no claim paid for, the freshest headers, the median latency (a heavy tail does
// not read as queueing) and the tokens used against what the claims drew.
import { describe, expect, it } from "vitest";
import { summarizeAttempts, type CallAttempt } from "../../functions/_shared/round-recorder.ts";

function attempt(over: Partial<CallAttempt>): CallAttempt {
  return {
    provider: "a", runId: "r1", status: 200, claimed: true, latencyMs: 800, rateLimited: false, retryAfterMs: null,
    limitRequests: null, limitTokens: null, remainingRequests: null, resetRequestsMs: null,
    totalTokens: null, completionTokens: null, estimatedTokens: 0, ...over,
  };
}

describe("summarizeAttempts", () => {
  it("counts answers and 429s, takes the median latency and the freshest limit", () => {
    const [f] = summarizeAttempts([
      attempt({ latencyMs: 700, limitRequests: 500 }),
      attempt({ latencyMs: 15_000 }), // the tail
      attempt({ latencyMs: 900, limitRequests: 600, remainingRequests: 120 }),
      attempt({ status: 429, rateLimited: true, latencyMs: 5, retryAfterMs: 300 }),
      attempt({ status: 500, claimed: false, latencyMs: 50 }),
    ]);
    expect(f).toMatchObject({
      provider: "a", run_id: "r1", calls: 5, successes: 3, rate_limited: 1, extra_calls: 1, retry_after_ms: 300,
      limit_requests: 600, remaining_requests: 120, latency_ms: 900, calls_by_status: { 200: 3, 429: 1, 500: 1 },
    });
  });

  it("settles tokens: an answer's usage against its claim's estimate; a refused claimed call gives its estimate back; a retry's answer counts whole", () => {
    const [f] = summarizeAttempts([
      attempt({ totalTokens: 150, completionTokens: 50, estimatedTokens: 200 }),
      attempt({ totalTokens: 260, completionTokens: 60, estimatedTokens: 200 }),
      attempt({ status: 429, rateLimited: true, estimatedTokens: 300 }),
      attempt({ claimed: false, totalTokens: 90, completionTokens: 40, estimatedTokens: 0 }),
    ]);
    expect(f).toMatchObject({ tokens_used: 500, token_adjustment: -50 + 60 - 300 + 90, completion_tokens: 50, tokens_per_call: 500 / 3 });
  });

  it("keeps providers and runs apart, in one order", () => {
    const rows = summarizeAttempts([attempt({ provider: "b" }), attempt({ runId: "r2" }), attempt({})]);
    expect(rows.map((r) => [r.provider, r.run_id, r.calls])).toEqual([["a", "r1", 1], ["a", "r2", 1], ["b", "r1", 1]]);
  });
});
