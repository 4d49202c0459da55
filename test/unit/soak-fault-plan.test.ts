// The soak's fault kinds and plans: the worker-limit kills count as kills everywhere the checker
// asks (they lose claims, answers and kicks), and the full soak's balanced plan deals every
// measured kind equally often within one shard, a cancel only last, at fixed spacing.
import { describe, expect, it } from "vitest";
import { ANSWER_LOSING, FAULT_KINDS, KICK_LOSING, PACE_MEASURED, WORKER_KILLS, type FaultKind } from "../../bench/soak/faults.ts";
import { BalancedPlanner, CANCEL_EVERY, FULL_SLOTS } from "../../bench/soak/full-plan.ts";
import { seededRandom } from "../../harness/mock-provider/latency.ts";

const LIMIT_KILLS: FaultKind[] = ["worker_cpu_kill", "worker_memory_kill", "worker_wall_clock_kill"];

describe("the worker-limit kills", () => {
  it("are fault kinds, kills, answer- and kick-losing, and measured", () => {
    for (const kind of LIMIT_KILLS) {
      expect(FAULT_KINDS).toContain(kind);
      expect(WORKER_KILLS.has(kind)).toBe(true);
      expect(ANSWER_LOSING.has(kind)).toBe(true);
      expect(KICK_LOSING.has(kind)).toBe(true);
      expect(PACE_MEASURED).toContain(kind);
    }
  });
});

describe("the full soak's balanced plan", () => {
  const RUNS = 40;
  const plansFor = (seed: number) => {
    const planner = new BalancedPlanner(seededRandom(seed));
    return Array.from({ length: RUNS }, (_, i) => planner.plan(i));
  };

  for (const seed of [1, 7, 20261123]) {
    it(`deals every measured kind within one of the others over ${RUNS} runs (seed ${seed})`, () => {
      const counts = new Map<FaultKind, number>(PACE_MEASURED.map((k) => [k, 0]));
      for (const plan of plansFor(seed)) {
        for (const f of plan.faults) if (counts.has(f.kind)) counts.set(f.kind, counts.get(f.kind)! + 1);
      }
      const values = [...counts.values()];
      expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(1);
      expect(Math.min(...values)).toBeGreaterThanOrEqual(8);
    });
  }

  it("gives each run its three faults at the fixed moments; a cancel only last, in one run of CANCEL_EVERY", () => {
    const plans = plansFor(7);
    for (const plan of plans) {
      const slotted = plan.faults.filter((f) => f.kind !== "schedule_paused");
      expect(slotted.map((f) => f.at)).toEqual([...FULL_SLOTS]);
      expect(slotted.slice(0, -1).some((f) => f.kind === "run_cancelled")).toBe(false);
      const at = plan.faults.map((f) => f.at);
      expect(at).toEqual([...at].sort((a, b) => a - b));
    }
    expect(plans.filter((p) => p.faults.at(-1)!.kind === "run_cancelled")).toHaveLength(RUNS / CANCEL_EVERY);
    expect(plans.some((p) => p.faults.some((f) => f.kind === "schedule_paused"))).toBe(true);
    expect(plans.filter((p) => p.faults.some((f) => f.kind === "schedule_paused")).length).toBeLessThan(RUNS / 5);
  });

  it("is the same plan for the same seed and another for another seed", () => {
    expect(plansFor(7)).toEqual(plansFor(7));
    expect(plansFor(7)).not.toEqual(plansFor(8));
  });
});
