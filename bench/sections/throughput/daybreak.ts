// daybreak's own task path, driven by N concurrent workers in this process: each worker is the
// real processor loop (functions/_shared/processor.ts runProcessor): scheduler.claim_batch_job,
// scheduler.claim_tasks (FOR UPDATE SKIP LOCKED, lease, attempt token) in batches, the provider
// call through the real adapter (callWithFallback → callWithRetries → callChatCompletion) to a
// zero-latency mock, then scheduler.complete_task(task_id, attempt_token, result) per task.
import postgres from "postgres";
import { readEnv } from "../../../functions/_shared/env.ts";
import { runProcessor, type ProcessorDeps } from "../../../functions/_shared/processor.ts";
import type { MockProvider } from "../../../scripts/lib/mock-provider.ts";
import { analyzeSchemas, clearRunState, databaseUrl, setConfigInt, type Sql } from "../../lib/db.ts";
import type { ThroughputSample } from "./types.ts";

const HOUR_MS = 3_600_000;

export interface DaybreakRunOptions {
  workers: number;
  claimBatch: number;
  runKey: string;
  mock: MockProvider;
}

export async function runDaybreakPass(sql: Sql, o: DaybreakRunOptions): Promise<ThroughputSample> {
  await clearRunState(sql);
  // Every worker gets a batch job at once: the global cap (default 4) is a production safety
  // setting for edge invocations, not a limit of the task path.
  await setConfigInt(sql, "max_concurrent_batch_jobs", Math.max(o.workers, 4));
  const [plan] = await sql<{ r: { tasks: number; run_id: string } }[]>`
    select scheduler.try_mark_daily_run('daily-batch'::text, ${o.runKey}::text) as r`;
  const { tasks, run_id: runId } = plan!.r;
  await analyzeSchemas(sql, "scheduler", "public");
  o.mock.reset();

  const pool = postgres(databaseUrl(), {
    max: o.workers + 2,
    onnotice: () => {},
    connection: { application_name: "daybreak-bench-worker" },
  }) as Sql;
  const deps: ProcessorDeps = {
    sql: pool,
    env: readEnv,
    settings: { budgetMs: HOUR_MS, hardDeadlineMs: 2 * HOUR_MS, claimBatchSize: o.claimBatch, heartbeatMs: 15_000, retryBaseDelayMs: 0 },
  };
  try {
    const started = performance.now();
    const reports = await Promise.all(Array.from({ length: o.workers }, () => runProcessor(deps, null)));
    const seconds = (performance.now() - started) / 1000;
    const failed = reports.reduce((n, r) => n + r.failed, 0);
    if (failed > 0) throw new Error(`daybreak: ${failed} tasks failed during the throughput pass`);
    const check = await verifyRun(sql, runId);
    const calledTwice = Object.values(o.mock.callsByTask()).filter((n) => n > 1).length;
    return {
      system: `daybreak (claim ${o.claimBatch})`,
      workers: o.workers,
      batch: o.claimBatch,
      tasks,
      seconds,
      tasksPerSecond: tasks / seconds,
      duplicates: check.duplicates + calledTwice,
      missing: tasks - check.results,
    };
  } finally {
    await pool.end({ timeout: 5 });
  }
}

interface RunCheck {
  results: number;
  duplicates: number;
}

/** One result per task: results vs distinct tasks, plus duplicates the SQL prevented (counted). */
async function verifyRun(sql: Sql, runId: string): Promise<RunCheck> {
  const [row] = await sql<{ results: number; distinct_tasks: number; prevented: number; status: string; unfinished: number }[]>`
    select (select count(*)::int from public.prompt_results where run_id = ${runId}) as results,
           (select count(distinct task_id)::int from public.prompt_results where run_id = ${runId}) as distinct_tasks,
           (select coalesce(sum(duplicates_prevented), 0)::int from scheduler.batch_jobs where run_id = ${runId}) as prevented,
           (select count(*)::int from scheduler.batch_tasks where run_id = ${runId} and status <> 'succeeded') as unfinished,
           (select status from scheduler.runs where id = ${runId}) as status`;
  if (row!.status !== "completed" || row!.unfinished > 0) {
    throw new Error(`daybreak run ${runId} ended ${row!.status} with ${row!.unfinished} unfinished tasks`);
  }
  return { results: row!.distinct_tasks, duplicates: row!.results - row!.distinct_tasks + row!.prevented };
}
