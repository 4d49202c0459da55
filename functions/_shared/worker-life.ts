// What a processor knows of the edge worker it runs in. On Supabase a worker serves many requests
// (every processor invocation kicked while it is the function's active worker lands in it), lives a
// plan's wall clock from its own start, and shares one CPU allowance among all of them. The runtime
// says when the end nears: `drain` when the worker retired (at half its wall clock, or at the CPU
// soft limit) and every request it took was answered, and `beforeunload` (detail.reason wall_clock,
// cpu, memory, early_drop) shortly before a limit kills it. Both are the cue to hand over: a
// successor kicked then lands on a fresh worker. process.cpuUsage() reads 0 there, so nothing here
// measures CPU; the worker's tasks are counted instead, across its invocations.
// Runtime-neutral: under Node (the bench's in-process workers) there are no such events.
import { readEnv, readIntEnv } from "./env.ts";

export const EDGE_PLANS = Object.freeze({
  free: { wallClockMs: 150_000 },
  pro: { wallClockMs: 400_000 },
});
export type EdgePlan = keyof typeof EDGE_PLANS;

/** Why this worker is ending, once the runtime has said so: drain, wall_clock, cpu, memory, early_drop. */
export type WorkerEnding = "drain" | "wall_clock" | "cpu" | "memory" | "early_drop";

interface WorkerLife {
  /** When this worker (this module instance) started: its wall clock runs from here, not from an invocation's start. */
  startedAt: number;
  ending: WorkerEnding | null;
  /** When the runtime said `drain`: before half the wall clock, the CPU soft limit retired the worker. */
  drainedAt: number | null;
  /** Tasks the worker's invocations may still start while handing over after a CPU retirement. */
  overlapTasksLeft: number;
  /** Tasks every invocation in this worker started: the worker's CPU is spent by all of them. */
  tasksStarted: number;
  listeners: Set<(ending: WorkerEnding) => void>;
}

/** After a CPU retirement the worker has only the gap to the hard limit left, and the calls it holds
 * spend most of it as they come back: its hand-over may start this many more, all invocations
 * together (about a tenth of what a worker starts before the soft limit), not a second's worth. */
export const OVERLAP_TASKS_AFTER_CPU_RETIREMENT = 32;

export const workerLife: WorkerLife = {
  startedAt: Date.now(), ending: null, drainedAt: null, overlapTasksLeft: OVERLAP_TASKS_AFTER_CPU_RETIREMENT, tasksStarted: 0, listeners: new Set(),
};

function ended(ending: WorkerEnding): void {
  if (ending === "drain" && workerLife.drainedAt === null) workerLife.drainedAt = Date.now();
  if (workerLife.ending === null || workerLife.ending === "drain") workerLife.ending = ending;
  for (const listener of workerLife.listeners) listener(ending);
}

type EventTargetLike = { addEventListener?: (type: string, listener: (event: Event) => void) => void };
const target = globalThis as EventTargetLike;
if (typeof target.addEventListener === "function" && "EdgeRuntime" in globalThis) {
  target.addEventListener("drain", () => ended("drain"));
  target.addEventListener("beforeunload", (event) => {
    const reason = (event as CustomEvent<{ reason?: string } | null>).detail?.reason;
    ended(reason === "wall_clock" || reason === "cpu" || reason === "memory" || reason === "early_drop" ? reason : "early_drop");
  });
}

/** Calls back once the runtime says this worker is ending; returns the way to stop listening. */
export function onWorkerEnding(listener: (ending: WorkerEnding) => void): () => void {
  workerLife.listeners.add(listener);
  return () => workerLife.listeners.delete(listener);
}

/** The wall clock of this worker: the plan's (DAYBREAK_EDGE_PLAN, free by default), or a stricter
 * one a test sets (DAYBREAK_EDGE_WALL_CLOCK_MS). */
export function workerWallClockMs(): number {
  const plan = (readEnv("DAYBREAK_EDGE_PLAN") ?? "free") as EdgePlan;
  const planned = (EDGE_PLANS[plan] ?? EDGE_PLANS.free).wallClockMs;
  return readIntEnv("DAYBREAK_EDGE_WALL_CLOCK_MS", planned, 1000);
}

/** True where the function runs inside Supabase's edge runtime (or its emulation). */
export function inEdgeRuntime(): boolean {
  return "EdgeRuntime" in globalThis;
}
