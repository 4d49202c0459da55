// The soak's invariant checker. After a run (and the closing reconcile) it reads only the database,
// the mock provider's call log, what the soak itself seeded and the faults it injected, and reports
// every rule that does not hold. The rules are the ones the schema does not already enforce:
//   outcome-rules.ts: the run's tasks are exactly the seeded ones; a run ends completed with every
//     task succeeded unless an injected fault explains each loss (a cancel, a 500 storm or hang
//     that outlasted the retries); nothing is left pending, processing or running.
//   call-rules.ts: every provider call belongs to a claim of its task; every result comes from the
//     task's current claim; an answer no result was kept from belongs to a task that was in
//     flight when an answer-losing fault struck.
//   reconcile-rule.ts: the closing reconcile repairs nothing unless a fault made it necessary.
//   worker-rule.ts: no worker was killed at a limit unless the soak drove it there (no invocation
//     outlived its worker).
import type { CallRecord } from "../../harness/mock-provider/index.ts";
import type { Sql } from "../lib/db.ts";
import { checkCalls } from "./call-rules.ts";
import type { InjectedFault } from "./faults.ts";
import { checkOutcome, checkPlanned, type ExplainedLoss } from "./outcome-rules.ts";
import { checkClosingReconcile, type ClosingReconcile } from "./reconcile-rule.ts";
import type { PlannedTask, TaskState } from "./task-state.ts";
import { checkLimitKills, type LimitKill } from "./worker-rule.ts";

export interface CheckInput {
  runId: string;
  /** Date.now() when the run was started: invocations since then belong to it. */
  startedAt: number;
  /** The tasks the soak's own seed data calls for (prompt × provider × region). */
  expected: PlannedTask[];
  /** The mock provider's log of this run's calls. */
  calls: CallRecord[];
  faults: InjectedFault[];
  reconcile: ClosingReconcile;
  /** Workers the runtimes killed at a limit during the run. */
  limitKills: LimitKill[];
}

export interface CheckResult {
  violations: string[];
  runStatus: string;
  tasks: { planned: number; succeeded: number; failed: number; cancelled: number };
  /** Claims whose provider call was answered (or hung) with no result kept from it. */
  repeatedAnswers: number;
  /** Tasks not succeeded, each with the injected fault that explains it. */
  explained: ExplainedLoss[];
}

export async function checkRun(sql: Sql, input: CheckInput): Promise<CheckResult> {
  const violations: string[] = [];
  const [run] = await sql<{ status: string; tasks_planned: number }[]>`
    select status, tasks_planned from scheduler.runs where id = ${input.runId}::uuid`;
  if (!run) {
    return { violations: [`run ${input.runId} does not exist`], runStatus: "missing", tasks: { planned: 0, succeeded: 0, failed: 0, cancelled: 0 }, repeatedAnswers: 0, explained: [] };
  }
  const tasks = await sql<TaskState[]>`
    select t.id::text, t.status, t.attempts, t.rate_limited, t.attempt_token::text as token, t.last_error,
           t.started_at as claimed_at, t.completed_at, t.prompt_id::text, t.provider, t.region, r.task_id is not null as has_result, r.created_at as result_at
      from scheduler.batch_tasks t left join public.prompt_results r on r.task_id = t.id
     where t.run_id = ${input.runId}::uuid order by t.id`;
  const [config] = await sql<{ max_rl: number }[]>`select scheduler.config_int('max_rate_limited_releases') as max_rl`;
  const maxRateLimited = config!.max_rl;

  checkPlanned(input.expected, run.tasks_planned, tasks, violations);
  const explained = checkOutcome({ status: run.status, tasks, calls: input.calls, faults: input.faults, maxRateLimited }, violations);
  const repeated = checkCalls(tasks, input.calls, input.faults, violations);
  checkClosingReconcile(input.reconcile, input.faults, violations);
  checkLimitKills(input.limitKills, input.faults, violations);

  const [left] = await sql<{ jobs: number; processors: number; invocations: number }[]>`
    select (select count(*)::int from scheduler.batch_jobs where run_id = ${input.runId}::uuid and status in ('pending', 'processing')) as jobs,
           (select count(*)::int from scheduler.processors where status <> 'stopped') as processors,
           (select count(*)::int from scheduler.scheduler_runs
             where status = 'running' and started_at >= to_timestamp(${input.startedAt / 1000})) as invocations`;
  if (left!.jobs > 0) violations.push(`${left!.jobs} batch job(s) still pending or processing after a reconcile`);
  if (left!.processors > 0) violations.push(`${left!.processors} processor(s) not stopped after a reconcile`);
  if (left!.invocations > 0) violations.push(`${left!.invocations} invocation(s) still running after a reconcile`);

  const count = (status: string) => tasks.filter((t) => t.status === status).length;
  return {
    violations,
    runStatus: run.status,
    tasks: { planned: run.tasks_planned, succeeded: count("succeeded"), failed: count("failed"), cancelled: count("cancelled") },
    repeatedAnswers: repeated,
    explained,
  };
}
