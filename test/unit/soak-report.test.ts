// The soak's summary counts what it should: a paused schedule is not a fault, a fault that strikes
// before an earlier one has recovered is overlapped rather than measured, and each run lists the
// faults that explain its lost tasks.
import { describe, expect, it } from "vitest";
import { summarize } from "../../bench/soak/report.ts";
import type { FaultRecord, RunRecord } from "../../bench/soak/run-once.ts";

const fault = (kind: FaultRecord["kind"], at_s: number, recovery_s: number | null): FaultRecord =>
  ({ kind, at_s, detail: "", in_flight: 0, recovery_s, recovery_ended: false });

function run(index: number, faults: FaultRecord[], over: Partial<RunRecord> = {}): RunRecord {
  return {
    index, schedule: `soak-${index}`, run_id: null, duration_s: 30, status: "completed", faults, faults_skipped: [],
    tasks: { planned: 120, succeeded: 120, failed: 0, cancelled: 0 }, repeated_answers: 0, explained: [],
    closing_reconcile: null, hand_overs: 0, rescues: 0, violations: [], ...over,
  };
}
const meta = { date: "2026-12-01T00:00:00Z", commit: "abc", options: {}, finished: true };

describe("the soak's summary", () => {
  it("does not count a paused schedule as a fault, nor a run with only that as a run with faults", () => {
    const s = summarize([run(0, [fault("schedule_paused", 12, null)]), run(1, [fault("pg_restart_fast", 12, 0.4)])], meta);
    expect(s.faults).not.toHaveProperty("schedule_paused");
    expect(s.no_effect_actions).toEqual({ schedule_paused: 1 });
    expect(s.recovery_seconds).not.toHaveProperty("schedule_paused");
    expect(s.runs_with_faults).toBe(1);
    expect(s.faults.pg_restart_fast).toBe(1);
  });

  it("measures a fault only when no earlier fault of its run was still being recovered from", () => {
    const s = summarize([
      run(0, [fault("functions_kill", 12, 23), fault("invocation_kill", 17, 15)]),
      run(1, [fault("kicks_lost", 12, 0), fault("invocation_kill", 17, 20)]),
    ], meta);
    expect(s.recovery_seconds.functions_kill).toMatchObject({ n: 1, overlapped: 0, p50: 23 });
    expect(s.recovery_seconds.invocation_kill).toMatchObject({ n: 1, overlapped: 1, p50: 20 });
    expect(s.recovery_seconds).not.toHaveProperty("run_cancelled");
  });

  it("lists per run the faults that explain its lost tasks, with how many each", () => {
    const explained: RunRecord["explained"] = [
      { task: "1", status: "failed", fault: "provider_500s", fault_at_s: 14.04 },
      { task: "2", status: "failed", fault: "provider_500s", fault_at_s: 14.04 },
      { task: "3", status: "cancelled", fault: "run_cancelled", fault_at_s: 20 },
    ];
    const s = summarize([run(0, [fault("provider_500s", 14.04, 3), fault("run_cancelled", 20, null)], { status: "cancelled", explained })], meta);
    expect(s.per_run[0]!.explained).toEqual([
      { fault: "provider_500s", fault_at_s: 14, failed: 2, cancelled: 0 },
      { fault: "run_cancelled", fault_at_s: 20, failed: 0, cancelled: 1 },
    ]);
    expect(s.tasks_lost_to_faults).toBe(3);
  });

  it("reports the CPU workers spent after they retired over the runs that measured it", () => {
    const s = summarize([run(0, [], { max_cpu_after_retire_ms: 420 }), run(1, [], { max_cpu_after_retire_ms: null }), run(2, [], { max_cpu_after_retire_ms: 610 })], meta);
    expect(s.cpu_after_retire_ms).toMatchObject({ runs: 2, max: 610 });
  });
});
