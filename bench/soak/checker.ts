// The soak's invariant checker. After a run (and a reconcile) it reads only the database and the
// mock provider's call log, and reports every invariant that does not hold:
//   one run per period; every planned task terminal; at most one result per task and exactly one
//   per succeeded task; no batch job, processor or invocation left running; provider answers
//   beyond one per task only for calls cut off by a fault (each matched to the fault in the log);
//   no malformed request sent to a provider; the run's status agrees with its tasks.
import type { CallRecord } from "../../harness/mock-provider/index.ts";
import type { Sql } from "../lib/db.ts";
import { CUTTING_FAULTS, type InjectedFault } from "./faults.ts";

export interface CheckInput {
  runId: string;
  schedule: string;
  /** Date.now() when the run was started: invocations since then belong to it. */
  startedAt: number;
  /** The mock provider's log of this run's calls. */
  calls: CallRecord[];
  faults: InjectedFault[];
  leaseMs: number;
}

export interface CheckResult {
  violations: string[];
  runStatus: string;
  tasks: { planned: number; succeeded: number; failed: number; cancelled: number };
  /** Provider answers no result was kept from, each explained by a fault. */
  repeatedAnswers: number;
}

/** A call cut off by a fault began before the fault was over and at most a lease before it. */
const SLACK_MS = 2000;

export async function checkRun(sql: Sql, input: CheckInput): Promise<CheckResult> {
  const violations: string[] = [];
  const [run] = await sql<{ status: string; tasks_planned: number; run_key: string }[]>`
    select status, tasks_planned, run_key from scheduler.runs where id = ${input.runId}::uuid`;
  if (!run) return { violations: [`run ${input.runId} does not exist`], runStatus: "missing", tasks: { planned: 0, succeeded: 0, failed: 0, cancelled: 0 }, repeatedAnswers: 0 };

  const periods = await sql<{ run_key: string; n: number }[]>`
    select run_key, count(*)::int as n from scheduler.runs where schedule = ${input.schedule} group by run_key`;
  if (periods.length !== 1 || periods[0]!.n !== 1) violations.push(`schedule ${input.schedule}: runs per period ${JSON.stringify(periods)}, expected one`);

  const tasks = await sql<{ id: string; status: string; results: number }[]>`
    select t.id::text, t.status, (select count(*)::int from public.prompt_results r where r.task_id = t.id) as results
      from scheduler.batch_tasks t where t.run_id = ${input.runId}::uuid`;
  if (tasks.length !== run.tasks_planned) violations.push(`${tasks.length} tasks exist, ${run.tasks_planned} were planned`);
  const count = (status: string) => tasks.filter((t) => t.status === status).length;
  const live = tasks.filter((t) => t.status === "pending" || t.status === "processing");
  if (live.length > 0) violations.push(`${live.length} task(s) not terminal: ${sample(live.map((t) => `${t.id}:${t.status}`))}`);
  const twice = tasks.filter((t) => t.results > 1);
  if (twice.length > 0) violations.push(`${twice.length} task(s) with more than one result: ${sample(twice.map((t) => t.id))}`);
  const unanswered = tasks.filter((t) => t.status === "succeeded" && t.results !== 1);
  if (unanswered.length > 0) violations.push(`${unanswered.length} succeeded task(s) without exactly one result: ${sample(unanswered.map((t) => t.id))}`);
  const stray = tasks.filter((t) => t.status !== "succeeded" && t.results > 0);
  if (stray.length > 0) violations.push(`${stray.length} task(s) not succeeded but with a result: ${sample(stray.map((t) => `${t.id}:${t.status}`))}`);
  const [orphans] = await sql<{ n: number }[]>`
    select count(*)::int as n from public.prompt_results r where r.run_id = ${input.runId}::uuid
       and not exists (select from scheduler.batch_tasks t where t.id = r.task_id)`;
  if (orphans!.n > 0) violations.push(`${orphans!.n} result(s) for no planned task`);

  const [left] = await sql<{ jobs: number; processors: number; invocations: number }[]>`
    select (select count(*)::int from scheduler.batch_jobs where run_id = ${input.runId}::uuid and status in ('pending', 'processing')) as jobs,
           (select count(*)::int from scheduler.processors where status <> 'stopped') as processors,
           (select count(*)::int from scheduler.scheduler_runs
             where status = 'running' and started_at >= to_timestamp(${input.startedAt / 1000})) as invocations`;
  if (left!.jobs > 0) violations.push(`${left!.jobs} batch job(s) still pending or processing after a reconcile`);
  if (left!.processors > 0) violations.push(`${left!.processors} processor(s) not stopped after a reconcile`);
  if (left!.invocations > 0) violations.push(`${left!.invocations} invocation(s) still running after a reconcile`);

  const expected = expectedRunStatus(count("succeeded"), count("failed"), count("cancelled"), tasks.length);
  if (live.length === 0 && run.status !== expected) violations.push(`run status ${run.status}, its tasks say ${expected}`);

  const repeated = checkCalls(input, tasks, violations);
  return {
    violations,
    runStatus: run.status,
    tasks: { planned: run.tasks_planned, succeeded: count("succeeded"), failed: count("failed"), cancelled: count("cancelled") },
    repeatedAnswers: repeated,
  };
}

export function expectedRunStatus(succeeded: number, failed: number, cancelled: number, total: number): string {
  if (cancelled > 0) return "cancelled";
  if (total > 0 && failed === total) return "failed";
  if (failed > 0) return "completed_with_errors";
  return succeeded === total ? "completed" : "running";
}

/** Every answer (HTTP 200) no result was kept from must fall in the window of a fault that cuts
 * calls off, or come after the run was cancelled; a succeeded task needs an answer at all. */
function checkCalls(input: CheckInput, tasks: { id: string; status: string }[], violations: string[]): number {
  const byTask = new Map<string, CallRecord[]>();
  for (const call of input.calls) {
    if (call.status === 400) violations.push(`a malformed request reached the provider (task ${call.taskId})`);
    if (call.taskId === null) continue;
    const list = byTask.get(call.taskId) ?? [];
    list.push(call);
    byTask.set(call.taskId, list);
  }
  const explainers = input.faults.filter((f) => CUTTING_FAULTS.has(f.kind) || f.kind === "run_cancelled");
  const explained = (at: number) =>
    explainers.some((f) => f.kind === "run_cancelled" ? at <= f.endAt + SLACK_MS && at >= f.at - input.leaseMs : at >= f.at - input.leaseMs && at <= f.endAt + SLACK_MS);
  let repeated = 0;
  const unexplained: string[] = [];
  for (const task of tasks) {
    const answers = (byTask.get(task.id) ?? []).filter((c) => c.status === 200).sort((a, b) => a.at - b.at);
    if (task.status === "succeeded" && answers.length === 0) violations.push(`task ${task.id} has a result but the provider never answered it`);
    // The answer a result was kept from is the last; every other one was lost to something.
    const wasted = task.status === "succeeded" ? answers.slice(0, -1) : answers;
    for (const call of wasted) {
      repeated += 1;
      if (!explained(call.at)) unexplained.push(`${task.id}@${new Date(call.at).toISOString()}`);
    }
  }
  if (unexplained.length > 0) violations.push(`${unexplained.length} provider answer(s) wasted with no fault to explain them: ${sample(unexplained)}`);
  return repeated;
}

function sample(items: string[]): string {
  return items.length <= 5 ? items.join(", ") : `${items.slice(0, 5).join(", ")} … (+${items.length - 5})`;
}
