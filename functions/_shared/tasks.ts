// Task state changes. Every completion or failure carries the attempt token of the claim it
// finishes, so a worker whose lease was taken over cannot overwrite the newer attempt.
import type { Sql } from "./db.ts";

export interface ClaimedTask {
  task_id: string;
  attempt_token: string;
  attempts: number;
  prompt_id: string;
  /** Null when the prompt was deleted after planning. */
  prompt_text: string | null;
  provider: string;
  region: string;
  run_id: string;
  org_id: string;
  /** How long the claim's lease lasts, measured by the database. */
  lease_ms: number;
}

export interface TaskResult {
  answered_by: string;
  model: string;
  response: string;
  attempts: number;
  latency_ms: number;
}

export async function claimTasks(sql: Sql, batchJobId: string, worker: string, limit: number): Promise<ClaimedTask[]> {
  return await sql<ClaimedTask[]>`
    select task_id::text, attempt_token, attempts, prompt_id, prompt_text, provider, region, run_id, org_id, lease_ms
      from scheduler.claim_tasks(${batchJobId}::uuid, ${worker}, ${limit}::int)`;
}

export interface AnsweredTask {
  task: ClaimedTask;
  result: TaskResult;
}

export interface CompletionReport {
  /** Task ids completed by this call (their attempt was current). */
  accepted: string[];
  /** Accepted tasks whose result already existed (kept as it was). */
  duplicates: string[];
  /** Task ids refused: their lease was taken over (or the run cancelled) since the claim. */
  rejected: string[];
  duplicates_prevented: number;
}

/** Completes a claimed batch in one transaction (scheduler.complete_tasks). */
export async function completeTasks(sql: Sql, answered: AnsweredTask[]): Promise<CompletionReport> {
  if (answered.length === 0) return { accepted: [], duplicates: [], rejected: [], duplicates_prevented: 0 };
  const rows = answered.map(({ task, result }) => ({ task_id: task.task_id, attempt_token: task.attempt_token, ...result }));
  const [row] = await sql<{ report: CompletionReport }[]>`
    select scheduler.complete_tasks(${sql.json(rows as never)}) as report`;
  const r = row!.report;
  const ids = (xs: unknown[]) => xs.map(String);
  return { accepted: ids(r.accepted), duplicates: ids(r.duplicates), rejected: ids(r.rejected), duplicates_prevented: r.duplicates_prevented };
}

export async function failTask(sql: Sql, task: ClaimedTask, error: string): Promise<boolean> {
  const [row] = await sql<{ ok: boolean | null }[]>`
    select scheduler.fail_task(${task.task_id}::bigint, ${task.attempt_token}::uuid, ${error}) as ok`;
  return row!.ok === true;
}

/** Gives a task back at the deadline; counted as an attempt when its provider was already called. */
export async function releaseTask(sql: Sql, task: ClaimedTask, providerCalled: boolean, reason: string): Promise<boolean> {
  const [row] = await sql<{ ok: boolean | null }[]>`
    select scheduler.release_task(${task.task_id}::bigint, ${task.attempt_token}::uuid, ${providerCalled}::boolean, ${reason}) as ok`;
  return row!.ok === true;
}
