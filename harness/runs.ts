// Helpers for tests that drive whole runs.
import type { Sql } from "./db.ts";
import { waitFor } from "./db.ts";

export async function startRunInSql(sql: Sql, runKey = "2026-11-22"): Promise<{ runId: string; tasks: number }> {
  const [row] = await sql<{ r: { run_id: string; tasks: number; updated: boolean } }[]>`
    select scheduler.try_mark_daily_run('daily-batch', ${runKey}, 'manual', null, false, null) as r`;
  if (!row!.r.updated) throw new Error(`run ${runKey} already claimed`);
  return { runId: row!.r.run_id, tasks: row!.r.tasks };
}

export async function waitForRunEnd(sql: Sql, runId: string, timeoutMs = 60_000): Promise<string> {
  const [row] = await waitFor(`run ${runId} to end`, () => sql`select status from scheduler.runs where id = ${runId}`,
    (r) => r.length === 1 && r[0]!.status !== "running", timeoutMs, 200);
  return row!.status as string;
}

export async function taskStatusCounts(sql: Sql, runId: string): Promise<Record<string, number>> {
  const rows = await sql<{ status: string; n: number }[]>`
    select status, count(*)::int as n from scheduler.batch_tasks where run_id = ${runId} group by status`;
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Results recorded twice for one (run, prompt, provider, region): must always be empty. */
export async function duplicateResults(sql: Sql): Promise<unknown[]> {
  return [...await sql`
    select run_id, prompt_id, provider, region, count(*)::int as n
      from public.prompt_results group by 1, 2, 3, 4 having count(*) > 1`];
}

export async function setConfig(sql: Sql, values: Record<string, number>): Promise<void> {
  for (const [key, value] of Object.entries(values)) {
    await sql`update scheduler.config set value = ${sql.json(value)} where key = ${key}`;
  }
}

export const DEFAULT_CONFIG = Object.freeze({
  heartbeat_seconds: 5,
  stale_heartbeat_seconds: 20,
  pending_grace_seconds: 45,
  task_lease_seconds: 300,
  max_task_attempts: 3,
  max_batch_job_attempts: 5,
  abandoned_invocation_minutes: 3,
  retention_days: 30,
  max_processor_invocations: 10,
  processor_in_flight_per_invocation: 64,
  pace_burst_ms: 500,
  pace_default_latency_ms: 2000,
  pace_probe_burst_ms: 100,
  function_call_timeout_ms: 2000,
});

export interface HeldTask {
  task_id: string;
  attempt_token: string;
  attempts: number;
  provider: string;
}

/** The state a processor holding one organization's work leaves: the oldest pending batch job of a
 * running run in processing (heartbeat now), and up to `tasks` of its pending tasks claimed by
 * `worker` (an attempt counted, a fresh token, a lease), as scheduler.claim_paced_tasks claims them.
 * Tests build a crash from it by backdating the heartbeat or the lease. */
export async function holdBatchJob(sql: Sql, worker: string, tasks: number): Promise<{ batchJobId: string; tasks: HeldTask[] }> {
  return await sql.begin(async (tx) => {
    const [job] = await tx<{ id: string }[]>`
      update scheduler.batch_jobs j
         set status = 'processing', attempts = greatest(j.attempts, 1), started_at = coalesce(j.started_at, now()),
             last_heartbeat = now(), claimed_by = ${worker}
       where j.id = (select b.id from scheduler.batch_jobs b join scheduler.runs r on r.id = b.run_id and r.status = 'running'
                      where b.status = 'pending' order by b.created_at, b.id limit 1)
      returning j.id`;
    if (!job) throw new Error("no pending batch job of a running run to hold");
    const held = await tx<HeldTask[]>`
      update scheduler.batch_tasks t
         set status = 'processing', attempts = t.attempts + 1, attempt_token = gen_random_uuid(), claimed_by = ${worker},
             lease_expires_at = now() + make_interval(secs => scheduler.config_int('task_lease_seconds')), started_at = now()
       where t.id in (select id from scheduler.batch_tasks where batch_job_id = ${job.id} and status = 'pending' order by id limit ${tasks})
      returning t.id::text as task_id, t.attempt_token, t.attempts, t.provider`;
    return { batchJobId: job.id, tasks: [...held].sort((a, b) => Number(a.task_id) - Number(b.task_id)) };
  }) as { batchJobId: string; tasks: HeldTask[] };
}

/** Records one round of outcomes for `worker` (scheduler.record_task_outcomes); returns its report. */
export async function recordOutcomes(sql: Sql, worker: string, outcomes: ({ task_id: string; attempt_token: string } & Record<string, unknown>)[]) {
  const [row] = await sql<{ r: { accepted: number[]; duplicates: number[]; rejected: number[]; jobs_to_finalize: string[] } }[]>`
    select scheduler.record_task_outcomes(${worker}, ${sql.json(outcomes as never)}) as r`;
  return row!.r;
}
