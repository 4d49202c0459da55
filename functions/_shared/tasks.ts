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

export interface CompletionOutcome {
  accepted: boolean;
  duplicate?: boolean;
  reason?: string;
}

export async function completeTask(sql: Sql, task: ClaimedTask, result: TaskResult): Promise<CompletionOutcome> {
  const [row] = await sql<{ outcome: CompletionOutcome }[]>`
    select scheduler.complete_task(${task.task_id}::bigint, ${task.attempt_token}::uuid, ${sql.json(result as never)}) as outcome`;
  return row!.outcome;
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
