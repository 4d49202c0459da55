// Per-provider figures of a pass, from the simulator's side: makespan (start → its last answer),
// the bound from its stated limits, η, 429s, calls in flight, and proof from its log that no
// enforced window admitted more than its limit (and how far above it the client offered).
import { perWindow, type Kind } from "../../sim/kinds.ts";
import type { SimModelStats } from "../../sim/model-stats.ts";
import { round } from "../../lib/stats.ts";
import { providerBound, type ProviderBound } from "./plan.ts";

export interface ProviderFigures {
  provider: string;
  tasks: number;
  makespanSeconds: number | null;
  bound: ProviderBound;
  efficiency: number | null;
  calls: number;
  rateLimited: number;
  rateLimitedShare: number;
  peakInFlight: number;
  settledInFlight: number | null;
  /** Every enforced window admitted at most its limit (every client counted). */
  limitsHeld: boolean;
  /** The most the client sent in one enforced window ÷ the window's limit (refused calls too). */
  offeredOverLimit: number | null;
  /** Share of the key's admitted requests the other clients got while this client was calling. */
  backgroundShare: number | null;
  duplicateAnswers: number;
}

function windowKey(seconds: number): "1s" | "10s" | "60s" {
  if (seconds !== 1 && seconds !== 10 && seconds !== 60) throw new Error(`windows are 1, 10 or 60 s, not ${seconds}`);
  return `${seconds}s`;
}

export function providerFigures(
  provider: string, kind: Kind, tasks: number, stats: SimModelStats, startedAt: number, bestThroughput: number | null = null,
): ProviderFigures {
  const bound = providerBound(kind, tasks, stats, bestThroughput);
  const makespan = stats.lastAnswerAt === null ? null : (stats.lastAnswerAt - startedAt) / 1000;
  let limitsHeld = true;
  let offeredOverLimit: number | null = null;
  if (kind.requests) {
    const key = windowKey(kind.requests.windowSeconds);
    const limit = perWindow(kind.requests);
    const admitted = kind.requests.mode === "fixed" ? stats.admittedRequestsAligned[key] : stats.admittedRequests[key];
    limitsHeld &&= admitted <= limit;
    offeredOverLimit = round(stats.offeredRequests[key] / limit, 2);
  }
  if (kind.tokens) {
    const key = windowKey(kind.tokens.windowSeconds);
    limitsHeld &&= kind.tokens.mode === "fixed" || stats.admittedTokens[key] <= perWindow(kind.tokens);
    limitsHeld &&= (stats.enforced.tokens?.peak ?? 0) <= perWindow(kind.tokens);
  }
  const admitted = stats.ok + stats.background.admittedWhileCalling;
  return {
    provider,
    tasks,
    makespanSeconds: makespan === null ? null : round(makespan, 1),
    bound: { ...bound, rateSeconds: round(bound.rateSeconds, 1), latencySeconds: round(bound.latencySeconds, 1), seconds: round(bound.seconds, 1) },
    efficiency: makespan === null || bound.seconds === 0 ? null : round(bound.seconds / makespan, 3),
    calls: stats.calls,
    rateLimited: stats.rateLimited,
    rateLimitedShare: round(stats.rateLimited / Math.max(1, stats.calls), 4),
    peakInFlight: stats.peakInFlight,
    settledInFlight: stats.settledInFlight,
    limitsHeld,
    offeredOverLimit,
    backgroundShare: kind.background ? round(stats.background.admittedWhileCalling / Math.max(1, admitted), 3) : null,
    duplicateAnswers: stats.duplicateAnswers,
  };
}
