// A run's batch jobs end when their tasks do: each step one SQL call (one transaction) in scheduler.*.
import type { Sql } from "./db.ts";

/** Ends a batch job whose tasks are all terminal, and its run when it was the last; returns its status. */
export async function finalizeBatchJob(sql: Sql, batchJobId: string): Promise<string> {
  const [row] = await sql<{ status: string }[]>`select scheduler.finalize_batch_job(${batchJobId}::uuid) as status`;
  return row!.status;
}

/** Batch jobs of running runs with no live task left (exhausted tasks failed first), to finalize. */
export async function settleBatchJobs(sql: Sql): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select id from scheduler.settle_batch_jobs() id`;
  return rows.map((r) => r.id);
}

/** Tasks still pending or in flight in runs that are running: the work the fleet has left. */
export async function countLiveTasksOfRunningRuns(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from scheduler.batch_tasks t
     where t.status in ('pending', 'processing')
       and exists (select from scheduler.runs r where r.id = t.run_id and r.status = 'running')`;
  return row!.n;
}
