// The limits an edge worker lives by, as on hosted Supabase (docs: Edge Functions limits; the
// edge runtime's supervisor, policy per_worker): a worker serves many requests; it retires (takes no
// new request) at half its wall clock or at the CPU soft limit, is warned by `beforeunload` at 90%
// of each limit, and is killed at the wall clock, the CPU hard limit or the memory limit.
// DAYBREAK_EDGE_PLAN picks the wall clock (free: 150 s, pro: 400 s; free by default, the stricter);
// each number can be made stricter by tests (a 20 s wall clock, say) through its own variable.
import { readIntEnv } from "../../functions/_shared/env.ts";
import { EDGE_PLANS, type EdgePlan } from "../../functions/_shared/worker-life.ts";

export interface EdgeLimits {
  plan: EdgePlan;
  wallClockMs: number;
  cpuSoftMs: number;
  cpuHardMs: number;
  memoryBytes: number;
  /** beforeunload is dispatched at this share of each limit (the runtime's default is 90%). */
  beforeunloadPercent: number;
  /** A request whose answer has not started after this long gets 504 (hosted: 150 s). */
  requestIdleTimeoutMs: number;
  /** Without a custom domain, hosted rewrites a GET's text/html answer to text/plain. */
  customDomain: boolean;
}

export function limitsFromEnv(env: Record<string, string | undefined> = process.env): EdgeLimits {
  const plan = (env.DAYBREAK_EDGE_PLAN ?? "free") as EdgePlan;
  if (!(plan in EDGE_PLANS)) throw new Error(`DAYBREAK_EDGE_PLAN must be one of ${Object.keys(EDGE_PLANS).join(", ")}, got ${JSON.stringify(plan)}`);
  const cpuHardMs = readIntEnv("DAYBREAK_EDGE_CPU_HARD_MS", 2000, 1);
  return {
    plan,
    wallClockMs: readIntEnv("DAYBREAK_EDGE_WALL_CLOCK_MS", EDGE_PLANS[plan].wallClockMs, 1000),
    cpuSoftMs: Math.min(readIntEnv("DAYBREAK_EDGE_CPU_SOFT_MS", 1000, 1), cpuHardMs),
    cpuHardMs,
    memoryBytes: readIntEnv("DAYBREAK_EDGE_MEMORY_MB", 256, 16) * 1024 * 1024,
    beforeunloadPercent: 90,
    requestIdleTimeoutMs: readIntEnv("DAYBREAK_EDGE_REQUEST_IDLE_TIMEOUT_MS", 150_000, 1000),
    customDomain: env.DAYBREAK_EDGE_CUSTOM_DOMAIN === "1",
  };
}
