// The tasks a hand-over may start after the CPU soft limit retired the worker are one allowance for
// the whole worker, shared by its invocations; what a claim took and did not start goes back; a
// drain near half the wall clock (a retirement for age) leaves the overlap unbounded.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvocationBudget } from "../../functions/_shared/processor-budget.ts";
import { processorSettingsFromEnv } from "../../functions/_shared/processor-settings.ts";
import { OVERLAP_TASKS_AFTER_CPU_RETIREMENT, workerLife } from "../../functions/_shared/worker-life.ts";

const WALL_CLOCK_MS = 150_000;
const budgets: InvocationBudget[] = [];

function invocation(workerAgeMs: number): InvocationBudget {
  const budget = new InvocationBudget({ ...processorSettingsFromEnv(), workerStartedAt: Date.now() - workerAgeMs, workerWallClockMs: WALL_CLOCK_MS });
  budgets.push(budget);
  return budget;
}

beforeEach(() => {
  workerLife.ending = "drain";
  workerLife.drainedAt = Date.now();
  workerLife.overlapTasksLeft = OVERLAP_TASKS_AFTER_CPU_RETIREMENT;
});
afterEach(() => {
  for (const b of budgets.splice(0)) b.close();
  workerLife.ending = null;
  workerLife.drainedAt = null;
});

describe("the overlap's tasks after a CPU retirement", () => {
  it("are one allowance for all the worker's invocations", () => {
    const [a, b] = [invocation(10_000), invocation(10_000)];
    expect(a.takeOverlapTasks(16)).toEqual({ granted: 16, charged: 16 });
    expect(b.takeOverlapTasks(16)).toEqual({ granted: 16, charged: 16 });
    expect(a.takeOverlapTasks(16)).toEqual({ granted: 0, charged: 0 });
    expect(workerLife.overlapTasksLeft).toBe(OVERLAP_TASKS_AFTER_CPU_RETIREMENT - 32);
  });

  it("get back what a claim took and did not start", () => {
    const a = invocation(10_000);
    const took = a.takeOverlapTasks(OVERLAP_TASKS_AFTER_CPU_RETIREMENT);
    a.returnOverlapTasks(took.charged - 3); // the claim started 3
    expect(a.takeOverlapTasks(100)).toEqual({ granted: OVERLAP_TASKS_AFTER_CPU_RETIREMENT - 3, charged: OVERLAP_TASKS_AFTER_CPU_RETIREMENT - 3 });
  });

  it("are not bounded, nor charged, when the drain came near half the wall clock", () => {
    const a = invocation(WALL_CLOCK_MS / 2 - 2000);
    expect(a.takeOverlapTasks(100)).toEqual({ granted: 100, charged: 0 });
    expect(workerLife.overlapTasksLeft).toBe(OVERLAP_TASKS_AFTER_CPU_RETIREMENT);
  });

  it("stop at once when the runtime warns of a limit", () => {
    const a = invocation(10_000);
    expect(a.mayOverlap()).toBe(true);
    workerLife.ending = "cpu";
    expect(a.mayOverlap()).toBe(false);
  });
});
