// The paced day's sizes (full and --quick set them in bench/lib/config.ts) and the rate-limit bound
// every efficiency is computed against: from the simulator's stated limits and what it measured
// (tokens charged, its longest latency), never from what daybreak learned.
import type { SimModelStats } from "../../sim/model-stats.ts";
import type { Kind } from "../../sim/kinds.ts";

export interface PacedPlan {
  /** daybreak passes per kind; each starts with nothing learned. */
  repeats: number;
  /** Tasks each provider gets in the kinds pass (the minute-window providers get minuteTasks). */
  tasks: number;
  minuteTasks: number;
  /** Seconds the stated limits allow for `tasks` (the minute windows: for minuteTasks). */
  targetSeconds: number;
  minuteTargetSeconds: number;
  /** Organizations sharing the day, their sizes spread so the largest is `sizeRatio` × the smallest. */
  organizations: number;
  minuteOrganizations: number;
  sizeRatio: number;
  /** Prompt lengths, log-uniform between these (characters). */
  promptChars: [number, number];
  peers: {
    kinds: string[];
    /** Concurrency factors (× rate × mean latency) the search may try, and how many it tries. */
    factorRange: [number, number];
    evaluations: number;
    /** Passes at the best factor after the search. */
    repeats: number;
  };
  /** The fixed-concurrency search against the no-limit provider. */
  capacitySearch: { maxConcurrency: number; evaluations: number; probeSeconds: number };
  large: { tasks: number; organizations: number; providers: number; requestsPerMinute: number; promptChars: [number, number] };
}

export interface ProviderBound {
  /** Seconds the stated limits need for the work daybreak was given (share of the key left to it). */
  rateSeconds: number;
  /** The simulator's longest latency in the pass (answered or cut off by the client). */
  latencySeconds: number;
  seconds: number;
  binding: "requests" | "tokens" | "capacity" | "none";
}

/** T_LB = max(tasks ÷ (share × requests/s), tokens ÷ (share × tokens/s)) + the longest latency;
 * for a provider with no limit, tasks ÷ the best fixed concurrency's throughput (the search's).
 * The longest latency is the simulator's, calls the client cut off included: a client that cuts
 * the heavy tail off and sends the call again must not shrink its own bound by it. */
export function providerBound(kind: Kind, tasks: number, stats: SimModelStats, bestThroughput: number | null = null): ProviderBound {
  const share = 1 - (kind.background?.share ?? 0);
  const requests = kind.requests ? tasks / ((share * kind.requests.perMinute) / 60) : bestThroughput ? tasks / bestThroughput : 0;
  const tokens = kind.tokens ? stats.tokens / ((share * kind.tokens.perMinute) / 60) : 0;
  const latencySeconds = stats.maxServedLatencyMs / 1000;
  const rateSeconds = Math.max(requests, tokens);
  const binding = kind.requests || kind.tokens ? (tokens > requests ? "tokens" : "requests") : kind.capacity ? "capacity" : "none";
  return { rateSeconds, latencySeconds, seconds: rateSeconds + latencySeconds, binding };
}
