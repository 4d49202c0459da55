// PROTOTYPE, measured to size what batching the completion would change; not daybreak's shipped
// path and not in the migrations. A worker like the processor (claim_batch_job, claim_tasks in
// batches, provider calls through the real adapter), but it records a whole claimed batch in ONE
// statement that makes complete_task's state changes for every task (fenced by attempt token,
// results inserted ON CONFLICT DO NOTHING) instead of one complete_task transaction per task.
import { claimBatchJob, finalizeBatchJob } from "../../../functions/_shared/batch-jobs.ts";
import { loadProviders } from "../../../functions/_shared/providers/catalog.ts";
import { callWithFallback, type CompletionResult } from "../../../functions/_shared/providers/openai-compatible.ts";
import { claimTasks, type ClaimedTask } from "../../../functions/_shared/tasks.ts";
import type { Sql } from "../../lib/db.ts";

export interface BatchedWorkerReport {
  completed: number;
  /** Tasks whose completion was rejected (stale token) or whose result already existed. */
  rejected: number;
}

export async function runBatchedWorker(sql: Sql, worker: string, claimBatch: number, fetch?: typeof globalThis.fetch): Promise<BatchedWorkerReport> {
  const providers = await loadProviders(sql);
  const report: BatchedWorkerReport = { completed: 0, rejected: 0 };
  for (let job = await claimBatchJob(sql, worker, null); job; job = await claimBatchJob(sql, worker, null)) {
    for (;;) {
      const tasks = await claimTasks(sql, job.batch_job_id, worker, claimBatch);
      if (tasks.length === 0) break;
      const results = await Promise.all(tasks.map((task) => {
        const primary = providers.get(task.provider);
        if (!primary || task.prompt_text === null) throw new Error(`task ${task.task_id}: unknown provider or deleted prompt`);
        return callWithFallback(primary, null, { taskId: task.task_id, prompt: task.prompt_text, region: task.region }, { fetch, baseDelayMs: 0 });
      }));
      const { accepted, recorded } = await completeTasks(sql, tasks, results);
      report.completed += recorded;
      report.rejected += tasks.length - recorded + (accepted - recorded);
    }
    await finalizeBatchJob(sql, job.batch_job_id);
  }
  return report;
}

async function completeTasks(sql: Sql, tasks: ClaimedTask[], results: CompletionResult[]): Promise<{ accepted: number; recorded: number }> {
  const rows = tasks.map((t, i) => ({
    task_id: t.task_id, attempt_token: t.attempt_token, answered_by: results[i]!.provider, model: results[i]!.model,
    response: results[i]!.text, attempts: results[i]!.attempts, latency_ms: Math.round(results[i]!.latencyMs),
  }));
  const [row] = await sql<{ accepted: number; recorded: number }[]>`
    with input as (
      select * from jsonb_to_recordset(${sql.json(rows as never)})
        as x(task_id bigint, attempt_token uuid, answered_by text, model text, response text, attempts int, latency_ms int)
    ), done as (
      update scheduler.batch_tasks t
         set status = 'succeeded', completed_at = now(), lease_expires_at = null, last_error = null, answered_by = i.answered_by
        from input i
       where t.id = i.task_id and t.attempt_token = i.attempt_token and t.status = 'processing'
      returning t.id, t.run_id, t.batch_job_id, t.prompt_id, t.provider, t.region, i.answered_by, i.model, i.response,
                i.attempts, i.latency_ms
    ), recorded as (
      insert into public.prompt_results (task_id, run_id, org_id, prompt_id, provider, region, answered_by, model,
                                         response, attempts, latency_ms)
      select d.id, d.run_id, j.org_id, d.prompt_id, d.provider, d.region, d.answered_by, d.model, d.response,
             d.attempts, d.latency_ms
        from done d join scheduler.batch_jobs j on j.id = d.batch_job_id
      on conflict on constraint prompt_results_one_per_task do nothing
      returning task_id
    )
    select (select count(*) from done)::int as accepted, (select count(*) from recorded)::int as recorded`;
  return row!;
}
