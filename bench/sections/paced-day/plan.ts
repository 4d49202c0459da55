// The paced day's shape: three providers with different limits, the same log-normal latency, and
// every organization's prompts sent to each. Its lower bound is the slowest provider's share at
// its limit plus one median call: T_LB = max_p(tasks_p ÷ rate_p) + median latency.
import type { MockStats } from "../../../harness/mock-provider/index.ts";
import { round } from "../../lib/stats.ts";

export interface PacedProvider {
  name: string;
  requestsPerMinute: number;
}

export interface PacedPlan {
  organizations: number;
  promptsPerOrg: number;
  providers: PacedProvider[];
  latency: { medianMs: number; sigma: number };
  /** Fixed-concurrency factors tried for the peers, times the Little's-law concurrency. */
  peerFactors: number[];
}

export const PACED_PROVIDERS: PacedProvider[] = [
  { name: "alpha", requestsPerMinute: 1200 },
  { name: "beta", requestsPerMinute: 600 },
  { name: "gamma", requestsPerMinute: 300 },
];

export const PACED_LATENCY = { medianMs: 800, sigma: 0.5 };

export function tasksPerProvider(plan: PacedPlan): number {
  return plan.organizations * plan.promptsPerOrg;
}

export function lowerBoundSeconds(plan: PacedPlan): number {
  const n = tasksPerProvider(plan);
  return Math.max(...plan.providers.map((p) => n / (p.requestsPerMinute / 60))) + plan.latency.medianMs / 1000;
}

/** Calls that must be in flight to hold a provider at its limit (Little's law, mean latency). */
export function littlesLawConcurrency(p: PacedProvider, latency: { medianMs: number; sigma: number }): number {
  const meanMs = latency.medianMs * Math.exp((latency.sigma * latency.sigma) / 2);
  return (p.requestsPerMinute / 60) * (meanMs / 1000);
}

/** The mock's CLI flags for the plan: limits per model, OpenAI-style headers, the latency. */
export function mockArgs(plan: PacedPlan, seed = 7): string[] {
  return [
    ...plan.providers.flatMap((p) => ["--rpm", `${p.name}-model=${p.requestsPerMinute}`]),
    "--headers", "openai",
    "--latency-median-ms", String(plan.latency.medianMs),
    "--latency-sigma", String(plan.latency.sigma),
    "--seed", String(seed),
  ];
}

/** What the mock saw and the makespan, as every pass reports them. */
export function passFigures(stats: MockStats, lowerBound: number, makespanSeconds: number) {
  return {
    makespanSeconds: round(makespanSeconds, 1),
    lowerBoundSeconds: round(lowerBound, 1),
    efficiency: round(lowerBound / makespanSeconds, 3),
    calls: stats.calls,
    rateLimited: stats.rateLimited,
    rateLimitedShare: round(stats.rateLimited / Math.max(stats.calls, 1), 4),
    peakInFlight: Object.fromEntries(Object.entries(stats.models).map(([m, s]) => [m.replace(/-model$/, ""), s.peakInFlight])),
  };
}

/** A 600,000-call day (10,000 organizations × 20 prompts × 3 providers) at stated limits. */
export function projectLargeDay(efficiency: number): { calls: number; limits: Record<string, number>; hoursAtLimit: number; hoursAtMeasuredEfficiency: number } {
  const perProvider = 200_000;
  const limits = { openai: 10_000, anthropic: 4_000, gemini: 2_000 };
  const hoursAtLimit = Math.max(...Object.values(limits).map((rpm) => perProvider / rpm)) / 60;
  return { calls: perProvider * 3, limits, hoursAtLimit: round(hoursAtLimit, 2), hoursAtMeasuredEfficiency: round(hoursAtLimit / efficiency, 2) };
}
