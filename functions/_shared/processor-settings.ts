// How one processor invocation is sized, read once from its environment. The edge limits decide
// it: a worker's wall clock (150 s free / 400 s paid, from the worker's start) and its CPU (2 s,
// shared by every invocation in the worker) on Supabase; processor-budget.ts turns these into when
// to hand over. Off the edge runtime, the CPU one task costs (measured by `npm run bench`, section
// "paced day") sizes a task budget instead.
import { readEnv, readIntEnv } from "./env.ts";
import { inEdgeRuntime, workerLife, workerWallClockMs } from "./worker-life.ts";

export interface ProcessorSettings {
  /** Stop claiming new tasks after this long (the edge wall-clock limit is 150 s on the free plan). */
  budgetMs: number;
  /** In-flight provider calls are abandoned (and their tasks released) after this long. */
  hardDeadlineMs: number;
  /** Tasks asked for per claim (per provider lane). */
  claimBatchSize: number;
  /** A claim also takes the calls whose turn at the provider's pace comes within this long, and
   * starts each on its turn: the claim's round trip is off the pace, and claims are fewer. At the
   * horizon's most (1 s) a paced day's claims and rounds cost the processor and the database less
   * than at 500 ms (BENCHMARKS.md), and the calls a retiring worker holds carry the pace further
   * into the gap before its successor claims. */
  claimAheadMs: number;
  /** Tasks this invocation holds at once, all lanes together: calls in flight and calls claimed
   * ahead, waiting for their turn (up to claimAheadMs of each provider's pace). The fleet is sized
   * for processor_in_flight_per_invocation (64) calls in flight each; the slots hold half as many
   * again for the turns, or a lane runs out of slots before its pace (a provider with no limit
   * settled at 12-13 calls in flight where it serves 15, BENCHMARKS.md). */
  maxInFlight: number;
  /** Tasks one invocation starts at most: its CPU budget over the CPU one task costs. */
  taskBudget: number;
  /** Hand over once the process has spent this much CPU since the invocation began (80% of the
   * budget, leaving room to drain what is in flight). */
  cpuHandoverMs: number;
  /** Outcomes recorded per round at most, and the longest an outcome waits for its round (a 429
   * is recorded at once). Longer rounds are fewer: each one holds the pace rows of the providers
   * it reports on while it commits, and claims for them wait; at 100 ms a paced day's rounds
   * carried 4 outcomes each and took most of the database's time (BENCHMARKS.md). */
  roundSize: number;
  roundDelayMs: number;
  /** Null: scheduler.config heartbeat_seconds decides (the thresholds are multiples of it). */
  heartbeatMs: number | null;
  retryBaseDelayMs: number;
  /** When the worker this invocation runs in started, and how long it lives: its wall clock. */
  workerStartedAt: number;
  workerWallClockMs: number;
}

/** CPU one task costs the processor (claim, call, record), in µs: the paced-day bench measured
 * 3.3–5.3 ms per task in the Deno process (BENCHMARKS.md), so an invocation takes at most 300. */
export const DEFAULT_CPU_US_PER_TASK = 5000;
/** Supabase allows 2 s of CPU per request; stay well inside it. */
export const DEFAULT_CPU_BUDGET_MS = 1500;

export function processorSettingsFromEnv(): ProcessorSettings {
  const budgetMs = readIntEnv("DAYBREAK_PROCESSOR_BUDGET_MS", 120_000, 1000);
  const cpuBudgetMs = readIntEnv("DAYBREAK_PROCESSOR_CPU_BUDGET_MS", DEFAULT_CPU_BUDGET_MS, 1);
  const cpuUsPerTask = readIntEnv("DAYBREAK_PROCESSOR_CPU_US_PER_TASK", DEFAULT_CPU_US_PER_TASK, 1);
  return {
    budgetMs,
    hardDeadlineMs: readIntEnv("DAYBREAK_PROCESSOR_HARD_DEADLINE_MS", Math.max(budgetMs + 25_000, 145_000), budgetMs),
    claimBatchSize: readIntEnv("DAYBREAK_TASK_CLAIM_BATCH", 16, 1),
    claimAheadMs: Math.min(readIntEnv("DAYBREAK_CLAIM_AHEAD_MS", 1000, 0), 1000),
    maxInFlight: readIntEnv("DAYBREAK_PROCESSOR_MAX_IN_FLIGHT", 96, 1),
    taskBudget: Math.max(1, Math.floor((cpuBudgetMs * 1000) / cpuUsPerTask)),
    cpuHandoverMs: Math.round(cpuBudgetMs * 0.8),
    roundSize: readIntEnv("DAYBREAK_ROUND_SIZE", 64, 1),
    roundDelayMs: readIntEnv("DAYBREAK_ROUND_DELAY_MS", 300, 0),
    heartbeatMs: readEnv("DAYBREAK_HEARTBEAT_MS") === undefined ? null : readIntEnv("DAYBREAK_HEARTBEAT_MS", 5000, 100),
    retryBaseDelayMs: readIntEnv("DAYBREAK_RETRY_BASE_DELAY_MS", 1000, 0),
    workerStartedAt: workerLife.startedAt,
    workerWallClockMs: workerWallClockMs(),
  };
}

type ProcessLike = { cpuUsage?: () => { user: number; system: number } };

/** CPU time of this process so far in ms (Node and Deno expose `process`), or null where it cannot
 * be known: on Supabase's edge runtime process.cpuUsage() is a stub that reads 0 and logs a warning
 * on every call, so it is never called there. In a runtime that serves several requests per
 * process, it is the process's, not one request's. */
export function processorCpuMs(): number | null {
  if (inEdgeRuntime()) return null;
  const usage = (globalThis as { process?: ProcessLike }).process?.cpuUsage?.();
  return usage ? (usage.user + usage.system) / 1000 : null;
}
