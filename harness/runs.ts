// Helpers for tests that drive whole runs.
import type { Sql } from "./db.ts";
import { waitFor } from "./db.ts";

export async function startRunInSql(sql: Sql, runKey = "2026-11-22"): Promise<{ runId: string; tasks: number }> {
  const [row] = await sql<{ r: { run_id: string; tasks: number; updated: boolean } }[]>`
    select scheduler.claim_and_plan_run('daily-batch', ${runKey}, 'manual') as r`;
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
  max_concurrent_batch_jobs: 4,
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
  function_call_timeout_ms: 2000,
});
