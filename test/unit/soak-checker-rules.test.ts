// The soak checker's rules on the provider's call log, on the closing reconcile and its recovery
// measure, each tried against a state that breaks it (and one that does not).
import { describe, expect, it } from "vitest";
import { checkCalls } from "../../bench/soak/call-rules.ts";
import type { InjectedFault } from "../../bench/soak/faults.ts";
import { checkClosingReconcile, type ClosingReconcile } from "../../bench/soak/reconcile-rule.ts";
import { recoveryAfter } from "../../bench/soak/recovery.ts";
import type { TaskState } from "../../bench/soak/task-state.ts";
import { checkLimitKills, type LimitKill } from "../../bench/soak/worker-rule.ts";
import type { CallRecord } from "../../harness/mock-provider/index.ts";

const T = 1_800_000_000_000;
const task = (id: string, over: Partial<TaskState> = {}): TaskState => ({
  id, status: "succeeded", attempts: 1, rate_limited: 0, token: `tok-${id}`, last_error: null, claimed_at: new Date(T), completed_at: new Date(T + 10_000),
  prompt_id: `p-${id}`, provider: "a", region: "global", has_result: true, result_at: new Date(T + 10_000), ...over,
});
const call = (taskId: string | null, attempt: string | null, at: number, status: CallRecord["status"] = 200): CallRecord =>
  ({ taskId, attempt, model: "a-model", region: "global", at, status });
const fault = (kind: InjectedFault["kind"], at: number, inFlight: string[] = []): InjectedFault => ({ kind, at, endAt: at, detail: "", inFlight });

function violationsOf(tasks: TaskState[], calls: CallRecord[], faults: InjectedFault[] = []): string[] {
  const violations: string[] = [];
  checkCalls(tasks, calls, faults, violations);
  return violations;
}

describe("the call rules", () => {
  const clean = [call("1", "tok-1", T), call("2", "tok-2", T + 100)];

  it("pass a run whose every task was answered once, under its claim", () => {
    expect(violationsOf([task("1"), task("2")], clean)).toEqual([]);
  });

  it("report a call for no task of the run, a call under no claim and a malformed request", () => {
    expect(violationsOf([task("1"), task("2")], [...clean, call("9", "tok-9", T)])).toEqual([expect.stringMatching(/^1 provider call\(s\) for no task of the run: 9@/)]);
    expect(violationsOf([task("1"), task("2")], [...clean, call("2", null, T)])).toEqual(["1 provider call(s) under no claim (no attempt token): 2"]);
    expect(violationsOf([task("1"), task("2")], [...clean, call("2", "tok-2", T, 400)])).toEqual(["a malformed request reached the provider (task 2)"]);
  });

  it("report calls under more claims than the task had, and more calls per claim than retries allow", () => {
    const twoClaims = [call("1", "tok-old", T, 500), call("1", "tok-1", T + 1)];
    expect(violationsOf([task("1")], twoClaims)).toEqual(["task 1: provider calls under 2 claims, it was claimed 1 time(s)"]);
    expect(violationsOf([task("1", { attempts: 1, rate_limited: 1 })], [call("1", "tok-old", T, 429), call("1", "tok-1", T + 1)])).toEqual([]);
    const four = [500, 500, 500, 200].map((s, i) => call("1", "tok-1", T + i, s as CallRecord["status"]));
    expect(violationsOf([task("1")], four)).toEqual(["task 1: 4 calls under one claim (tok-1), retries allow 3"]);
  });

  it("report a result with no answer under the task's current claim before it was written", () => {
    expect(violationsOf([task("1", { result_at: new Date(T + 5000) })], [call("1", "tok-1", T + 8000)])).toEqual([
      "task 1: its result is not from its current claim (no answer under tok-1 before it was written)",
    ]);
    expect(violationsOf([task("1")], [call("1", "tok-1", T, 500)])).toHaveLength(1);
  });

  it("report a call outside the claim it was made under", () => {
    expect(violationsOf([task("1")], [call("1", "tok-1", T - 1000)])).toEqual([expect.stringMatching(/^1 provider call\(s\) outside the claim they were made under: 1@.* before its claim$/)]);
    const late = [call("1", "tok-1", T), call("1", "tok-1", T + 12_000, 500)];
    expect(violationsOf([task("1")], late)).toEqual([expect.stringMatching(/^1 provider call\(s\) outside .* after the task was done$/)]);
    // A cancel overtakes calls in flight.
    expect(violationsOf([task("1", { status: "cancelled", has_result: false })], late, [fault("run_cancelled", T + 9000, ["1"])])).toEqual([]);
    // A worker that goes on calling for a claim taken over (its lease expired, the task claimed again).
    const zombie = [call("1", "tok-old", T - 20_000, 500), call("1", "tok-old", T + 2000, 500), call("1", "tok-1", T + 100)];
    expect(violationsOf([task("1", { attempts: 2 })], zombie)).toEqual([expect.stringMatching(/under a claim taken over at /)]);
    // Given back after its last 429, a task holds no token: its latest claim is the one called last.
    const givenBack = task("1", { status: "failed", token: null, attempts: 0, rate_limited: 2, has_result: false });
    expect(violationsOf([givenBack], [call("1", "tok-a", T - 3000, 429), call("1", "tok-b", T + 100, 429)])).toEqual([]);
    expect(violationsOf([givenBack], [call("1", "tok-a", T + 50_000, 429), call("1", "tok-b", T + 60_000, 429)]))
      .toEqual([expect.stringMatching(/under a claim taken over at /)]);
  });

  it("excuse a second answer only for a task in flight when an answer-losing fault struck, once per fault", () => {
    const tasks = [task("1", { attempts: 2 }), task("2")];
    const twice = [call("1", "tok-lost", T - 5000), ...clean];
    expect(violationsOf(tasks, twice)).toEqual(["1 task(s) with provider answers no result was kept from and no fault to explain them: 1: 1 answer(s) lost, in flight at 0 answer-losing fault(s)"]);
    expect(violationsOf(tasks, twice, [fault("functions_kill", T - 4000, ["1"])])).toEqual([]);
    expect(violationsOf(tasks, twice, [fault("pg_restart_immediate", T - 4000, ["1"])])).toEqual([]);
    // A fault that was not holding this task, or one that loses no answers, excuses nothing.
    expect(violationsOf(tasks, twice, [fault("functions_kill", T - 4000, ["2"])])).toHaveLength(1);
    expect(violationsOf(tasks, twice, [fault("provider_429_storm", T - 4000, ["1"])])).toHaveLength(1);
    const thrice = [call("1", "tok-lost-2", T - 3000), ...twice];
    const three = [task("1", { attempts: 3 }), task("2")];
    expect(violationsOf(three, thrice, [fault("functions_kill", T - 4000, ["1"])])).toHaveLength(1);
    expect(violationsOf(three, thrice, [fault("functions_kill", T - 4000, ["1"]), fault("invocation_kill", T - 2000, ["1"])])).toEqual([]);
    const cutOff = [{ ...call("1", "tok-lost", T - 5000), delivered: false }, ...clean];
    expect(violationsOf(tasks, cutOff)).toEqual([expect.stringMatching(/1 answer\(s\) lost, 1 of them cut off before the answer was out, in flight at 0/)]);
  });

  it("excuse a hung call only after an injected hang", () => {
    const tasks = [task("1", { attempts: 2 })];
    const hung = [call("1", "tok-hung", T - 15_000, "hang"), call("1", "tok-1", T)];
    expect(violationsOf(tasks, hung)).toEqual([expect.stringMatching(/^1 task\(s\) with provider answers no result was kept from.*hung at .* with no injected hang/)]);
    expect(violationsOf(tasks, hung, [fault("provider_hang", T - 16_000)])).toEqual([]);
    expect(violationsOf(tasks, hung, [fault("provider_hang", T - 14_000)])).toHaveLength(1);
  });
});

describe("the closing reconcile rule", () => {
  const nothing: ClosingReconcile = { report: { stale: 0, resumed: 0, finalized: 0, failed: 0, runs_closed: 0, rescued: { processors: 0, tasks: 0 } }, stopped: {} };
  const check = (r: ClosingReconcile, faults: InjectedFault[] = []) => {
    const violations: string[] = [];
    checkClosingReconcile(r, faults, violations);
    return violations;
  };

  it("passes a reconcile that repaired nothing", () => {
    expect(check(nothing)).toEqual([]);
  });

  it("reports repairs no kill explains, and accepts them after one", () => {
    const rescued: ClosingReconcile = { report: { ...nothing.report, runs_closed: 1, rescued: { processors: 1, tasks: 4 } }, stopped: { lost: 1 } };
    expect(check(rescued, [fault("provider_500s", T)])).toEqual(["the closing reconcile repaired what no kill explains: runs_closed 1, tasks_rescued 4, lost_processors 1"]);
    expect(check(rescued, [fault("invocation_kill", T)])).toEqual([]);
    expect(check({ ...nothing, report: { ...nothing.report, finalized: 1 } })).toEqual(["the closing reconcile repaired what no kill explains: finalized 1"]);
  });

  it("reports a processor that never started unless a kick could have been lost", () => {
    const neverStarted: ClosingReconcile = { ...nothing, stopped: { never_started: 2 } };
    expect(check(neverStarted, [fault("provider_hang", T)])).toEqual(["the closing reconcile stopped 2 processor(s) that never started, with no lost kick to explain it"]);
    expect(check(neverStarted, [fault("kicks_lost", T)])).toEqual([]);
    expect(check(neverStarted, [fault("pg_restart_immediate", T)])).toEqual([]);
  });
});

describe("no invocation outlives its worker", () => {
  const kill = (runtime: number, worker: string, killed = "wall_clock"): LimitKill =>
    ({ runtime, worker, function: "robust-batch-processor", killed, cpuMs: 2010, lifeMs: 21_300, requests: 4, retired: "CPU soft limit", cpuAtRetireMs: 1040 });
  const driven = (runtime: number, worker: string): InjectedFault =>
    ({ kind: "worker_cpu_kill", at: 0, endAt: 0, detail: "", inFlight: [], victim: { runtime, worker } });

  it("a worker killed at a limit the soak did not drive it to is a violation", () => {
    const violations: string[] = [];
    checkLimitKills([kill(1, "w7")], [], violations);
    expect(violations).toEqual([expect.stringMatching(
      /w7 .*runtime 2 was killed at its wall_clock limit: an invocation outlived its worker \(2010 ms of CPU over 21\.3 s, 4 request\(s\), retired: CPU soft limit at 1040 ms of CPU\)/)]);
  });

  it("the victim of a limit kill is excused, on its own runtime only", () => {
    const violations: string[] = [];
    checkLimitKills([kill(0, "w3", "cpu"), kill(1, "w3", "cpu")], [driven(0, "w3")], violations);
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatch(/runtime 2/);
  });
});

describe("recovery to the pre-fault pace", () => {
  // Four tasks a second from the run's start (T) to its 40th second, but for a stop.
  const steady = (stopFrom: number, stopTo: number) =>
    Array.from({ length: 160 }, (_, i) => T + 250 * i).filter((t) => t < T + stopFrom || t >= T + stopTo);

  it("is zero after a fault that did not slow the run", () => {
    expect(recoveryAfter(steady(0, 0), T + 12_000)).toEqual({ seconds: 0, pre_rate: 4, ended: false });
  });

  it("lasts about as long as the run stopped, not until the next task done", () => {
    const stopped = steady(12_000, 20_000).concat([T + 12_500]); // one call in flight comes back at once
    const r = recoveryAfter(stopped, T + 12_000)!;
    // A window is at 80% once four of its five seconds are at full pace: a second before the end.
    expect(r.seconds).toBeGreaterThanOrEqual(6.5);
    expect(r.seconds).toBeLessThanOrEqual(8);
  });

  it("runs to the run's last task when it ran out of work before a full window at pace", () => {
    const tail = steady(12_000, 40_000).concat([T + 30_000, T + 31_000]);
    expect(recoveryAfter(tail, T + 12_000)).toMatchObject({ seconds: 19, ended: true });
  });

  it("takes the pre-fault pace from the run's first task done, not from its start-up", () => {
    const lateStart = steady(0, 0).map((t) => t + 4000); // four seconds of planning and kicks first
    expect(recoveryAfter(lateStart, T + 16_000)).toEqual({ seconds: 0, pre_rate: 4, ended: false });
  });

  it("is not measured without a pre-fault pace or work after the fault", () => {
    expect(recoveryAfter(steady(0, 0), T + 3000)).toBeNull();
    expect(recoveryAfter(steady(0, 0), T + 45_000)).toBeNull();
  });
});
