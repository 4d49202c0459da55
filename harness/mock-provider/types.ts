// What the mock provider is and records, shared by the server (index.ts) and its control routes.
import type { LogNormalLatency } from "./latency.ts";
import type { ModelLimits } from "./rate-limits.ts";
import type { MockStats } from "./stats.ts";

export interface FaultRule {
  model?: string;
  taskId?: string;
  status?: 429 | 500 | 503 | 400 | 401;
  /** With status 401: the error body echoes the bearer key it was sent, as some gateways do. */
  echoKey?: boolean;
  /** Answer 200 with a content this many bytes long (a runaway or hostile endpoint). */
  bodyBytes?: number;
  retryAfterSeconds?: number;
  hang?: boolean;
  latencyMs?: number;
  /** Answer 200 with the body trickling out over this long (after the latency). */
  slowBodyMs?: number;
  /** How many matching calls get this fault before it stops applying; default unlimited. */
  times?: number;
}

export interface CallRecord {
  taskId: string | null;
  /** The x-daybreak-attempt header: the claim the call was made under; null when not sent. */
  attempt?: string | null;
  model: string;
  region: string | null;
  /** Date.now() when the request arrived. */
  at: number;
  status: number | "hang";
  /** Once the connection closed: whether the whole answer went out before it did (false: the
   * caller went away mid-call). Absent while the call is open. */
  delivered?: boolean;
}

export interface MockProvider {
  /** Base URL ending in /v1, ready for ProviderConfig.baseUrl. */
  url: string;
  port: number;
  calls(): CallRecord[];
  callsByTask(): Record<string, number>;
  setLatency(ms: number): void;
  setRules(rules: FaultRule[]): void;
  /** Per-model limits (by the request's `model`); replaces the previous set and refills buckets. */
  setLimits(limits: Record<string, ModelLimits>): void;
  /** A log-normal latency for calls without a rule's latency; null goes back to the fixed one. */
  setLatencyDistribution(latency: LogNormalLatency | null, seed?: number): void;
  stats(): MockStats;
  /** Clears calls, rules and stats, and refills the buckets (latency and limits stay). */
  reset(): void;
  /** Stops listening and destroys open connections, hanging ones included. */
  close(): Promise<void>;
}
