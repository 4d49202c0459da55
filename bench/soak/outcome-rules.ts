// Outcome rules: what a run must end with, judged against the soak's own seed data and the faults
// it injected, never against daybreak's own bookkeeping (a run that failed every task, or planned
// half of them, agrees with itself).
import type { CallRecord } from "../../harness/mock-provider/index.ts";
import { ANSWER_LOSING, type FaultKind, type InjectedFault } from "./faults.ts";
import { sample, type PlannedTask, type TaskState } from "./task-state.ts";

/** A task that did not succeed, and the injected fault that explains it. */
export interface ExplainedLoss {
  task: string;
  status: string;
  fault: FaultKind;
  /** Date.now() when that fault began. */
  fault_at: number;
}

const key = (t: PlannedTask) => `${t.prompt_id}/${t.provider}/${t.region}`;

/** The run's tasks are exactly the seeded ones: each prompt × provider × region once. */
export function checkPlanned(expected: PlannedTask[], tasksPlanned: number, tasks: TaskState[], violations: string[]): void {
  if (tasksPlanned !== expected.length) violations.push(`the run says ${tasksPlanned} tasks were planned, the seed calls for ${expected.length}`);
  const wanted = new Map<string, number>();
  for (const t of expected) wanted.set(key(t), (wanted.get(key(t)) ?? 0) + 1);
  const extra: string[] = [];
  for (const t of tasks) {
    const left = wanted.get(key(t)) ?? 0;
    if (left === 0) extra.push(`${t.id}:${key(t)}`);
    else wanted.set(key(t), left - 1);
  }
  const missing = [...wanted].flatMap(([k, n]) => Array.from({ length: n }, () => k));
  if (missing.length > 0) violations.push(`${missing.length} seeded task(s) never planned: ${sample(missing)}`);
  if (extra.length > 0) violations.push(`${extra.length} task(s) planned that the seed does not call for (or twice): ${sample(extra)}`);
}

export interface OutcomeInput {
  status: string;
  tasks: TaskState[];
  calls: CallRecord[];
  faults: InjectedFault[];
  /** scheduler.config max_rate_limited_releases: 429s after which a task is given up. */
  maxRateLimited: number;
}

/** Every task ends succeeded unless an injected fault explains it; a run ends cancelled only after
 * an injected cancel, and then always; its status agrees with its tasks. Returns the explained. */
export function checkOutcome(o: OutcomeInput, violations: string[]): ExplainedLoss[] {
  const live = o.tasks.filter((t) => t.status === "pending" || t.status === "processing");
  if (live.length > 0) violations.push(`${live.length} task(s) not terminal: ${sample(live.map((t) => `${t.id}:${t.status}`))}`);
  const cancel = o.faults.find((f) => f.kind === "run_cancelled");
  if (o.status === "cancelled" && !cancel) violations.push("the run ended cancelled with no injected cancel");
  if (cancel && o.status !== "cancelled") violations.push(`a cancel was injected into the live run, yet it ended ${o.status}`);

  const explained: ExplainedLoss[] = [];
  const unexplained: string[] = [];
  for (const task of o.tasks) {
    if (task.status === "succeeded") {
      if (!task.has_result) violations.push(`task ${task.id} succeeded without a result`);
      continue;
    }
    if (task.has_result) violations.push(`task ${task.id} is ${task.status} but has a result`);
    if (task.status !== "failed" && task.status !== "cancelled") continue; // reported as not terminal
    const fault = task.status === "cancelled" ? (cancel ?? null) : explainFailure(task, o);
    if (fault) explained.push({ task: task.id, status: task.status, fault: fault.kind, fault_at: fault.at });
    else unexplained.push(`${task.id}:${task.status} (${(task.last_error ?? "no error").slice(0, 80)})`);
  }
  if (unexplained.length > 0) violations.push(`${unexplained.length} task(s) lost with no injected fault to explain them: ${sample(unexplained)}`);

  const count = (status: string) => o.tasks.filter((t) => t.status === status).length;
  const expected = expectedRunStatus(count("succeeded"), count("failed"), count("cancelled"), o.tasks.length);
  if (live.length === 0 && o.status !== expected) violations.push(`run status ${o.status}, its tasks say ${expected}`);
  return explained;
}

/** The fault a failed task's last provider call ran into: a 500 storm or a hang that outlasted
 * the retries, a 429 storm that used up its releases, or an answer-losing fault that struck while
 * it was claimed (its attempts spent on claims that died). */
function explainFailure(task: TaskState, o: OutcomeInput): InjectedFault | null {
  const calls = o.calls.filter((c) => c.taskId === task.id).sort((a, b) => a.at - b.at);
  const last = calls.at(-1);
  const latest = (kind: FaultKind, before: number) => o.faults.filter((f) => f.kind === kind && f.at <= before).at(-1) ?? null;
  if (last?.status === 500) return latest("provider_500s", last.at);
  if (last?.status === "hang") return latest("provider_hang", last.at);
  if (last?.status === 429) return task.rate_limited >= o.maxRateLimited ? latest("provider_429_storm", last.at) : null;
  return o.faults.find((f) => ANSWER_LOSING.has(f.kind) && f.kind !== "run_cancelled" && f.inFlight.includes(task.id)) ?? null;
}

export function expectedRunStatus(succeeded: number, failed: number, cancelled: number, total: number): string {
  if (cancelled > 0) return "cancelled";
  if (total > 0 && failed === total) return "failed";
  if (failed > 0) return "completed_with_errors";
  return succeeded === total ? "completed" : "running";
}
