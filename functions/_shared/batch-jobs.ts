// Batch-job state changes, each one SQL call (one transaction) in scheduler.*.
import type { Sql } from "./db.ts";
import { BATCH_JOB_STATUS } from "./constants.ts";

export interface ClaimedBatchJob {
  batch_job_id: string;
  run_id: string;
  org_id: string;
  status: string;
  joined: boolean;
}

const TERMINAL: readonly string[] = [
  BATCH_JOB_STATUS.completed,
  BATCH_JOB_STATUS.completedWithErrors,
  BATCH_JOB_STATUS.failed,
  BATCH_JOB_STATUS.cancelled,
];

export function isTerminalBatchJobStatus(status: string): boolean {
  return TERMINAL.includes(status);
}

export async function batchJobExists(sql: Sql, batchJobId: string): Promise<boolean> {
  const rows = await sql`select 1 from scheduler.batch_jobs where id = ${batchJobId}::uuid`;
  return rows.length > 0;
}

export async function claimBatchJob(sql: Sql, worker: string, batchJobId: string | null): Promise<ClaimedBatchJob | null> {
  const [row] = await sql<ClaimedBatchJob[]>`select * from scheduler.claim_batch_job(${worker}, ${batchJobId}::uuid)`;
  return row ?? null;
}

export async function heartbeatBatchJob(sql: Sql, batchJobId: string, worker: string): Promise<void> {
  await sql`select scheduler.heartbeat_batch_job(${batchJobId}::uuid, ${worker})`;
}

export async function finalizeBatchJob(sql: Sql, batchJobId: string): Promise<string> {
  const [row] = await sql<{ status: string }[]>`select scheduler.finalize_batch_job(${batchJobId}::uuid) as status`;
  return row!.status;
}

export async function countLiveTasks(sql: Sql, batchJobId: string): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from scheduler.batch_tasks
     where batch_job_id = ${batchJobId}::uuid and status in ('pending', 'processing')`;
  return row!.n;
}

export async function hasPendingBatchJobs(sql: Sql): Promise<boolean> {
  const rows = await sql`select 1 from scheduler.batch_jobs where status = 'pending' limit 1`;
  return rows.length > 0;
}

/** Hands the rest of a batch job to a fresh invocation (queued through pg_net; sent on commit). */
export async function queueProcessorContinuation(sql: Sql, batchJobId: string | null): Promise<boolean> {
  const body = batchJobId ? { batch_job_id: batchJobId } : {};
  const [row] = await sql<{ id: string | null }[]>`
    select scheduler.queue_function_call('robust-batch-processor', ${sql.json(body)}, 'api')::text as id`;
  return row!.id !== null;
}
