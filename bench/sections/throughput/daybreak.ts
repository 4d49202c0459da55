// daybreak's own task path, driven by N concurrent workers in this process. As shipped, each
// worker is the real processor invocation (functions/_shared/processor.ts runProcessor): a lane per
// provider claiming with scheduler.claim_paced_tasks (the provider's pacer row, FOR UPDATE SKIP
// LOCKED, lease, attempt token) in batches, the provider call through the real adapter
// (callWithFallback → callWithRetries → callChatCompletion), then one
// scheduler.record_task_outcomes per round of finished calls (one transaction). The provider's
// limit is set far above what the machine can do, so this measures the queue, not the pacer.
// Variants: the provider over HTTP (the zero-latency mock in its own process) or answered in
// memory (no socket: the equivalent of the libraries' no-op job).
import postgres from "postgres";
import { readEnv } from "../../../functions/_shared/env.ts";
import { runProcessor, type ProcessorDeps } from "../../../functions/_shared/processor.ts";
import { cpuMark, cpuShareSince } from "../../lib/cpu.ts";
import { analyzeSchemas, clearRunState, databaseUrl, type Sql } from "../../lib/db.ts";
import type { MockProcess } from "../../../harness/mock-provider/process.ts";
import { inMemoryProvider } from "./in-memory-provider.ts";
import type { DuplicateCauses, ThroughputSample } from "./types.ts";

const HOUR_MS = 3_600_000;

export interface DaybreakVariant {
  provider: "http" | "memory";
  claimBatch: number;
}

export function variantLabel(v: DaybreakVariant): string {
  const provider = v.provider === "http" ? "HTTP mock" : "in-memory provider";
  return `daybreak, ${provider}`;
}

export interface DaybreakRunOptions extends DaybreakVariant {
  workers: number;
  runKey: string;
  mock: MockProcess;
}

export async function runDaybreakPass(sql: Sql, o: DaybreakRunOptions): Promise<ThroughputSample> {
  await clearRunState(sql);
  await sql`update public.providers set requests_per_minute = 1000000000`;
  const [plan] = await sql<{ r: { tasks: number; run_id: string } }[]>`
    select scheduler.try_mark_daily_run('daily-batch'::text, ${o.runKey}::text) as r`;
  const { tasks, run_id: runId } = plan!.r;
  await analyzeSchemas(sql, "scheduler", "public");
  await o.mock.reset();
  const memory = o.provider === "memory" ? inMemoryProvider() : null;

  const pool = postgres(databaseUrl(), { max: o.workers + 2, onnotice: () => {}, connection: { application_name: "daybreak-bench-worker" } }) as Sql;
  try {
    const cpu = cpuMark();
    const started = performance.now();
    await Promise.all(Array.from({ length: o.workers }, (_, i) => runWorker(pool, o, `bench-${i}`, memory?.fetch)));
    const seconds = (performance.now() - started) / 1000;
    const cpuShare = cpuShareSince(cpu);
    const check = await verifyRun(sql, runId);
    const calledTwice = memory ? memory.calledTwice() : Object.values(await o.mock.callsByTask()).filter((n) => n > 1).length;
    return {
      system: variantLabel(o),
      workers: o.workers,
      batch: o.claimBatch,
      tasks,
      seconds,
      tasksPerSecond: tasks / seconds,
      cpu: cpuShare,
      duplicates: check.causes.extraResults + check.causes.refusedCompletions + calledTwice,
      duplicateCauses: { ...check.causes, repeatedCalls: calledTwice },
      missing: tasks - check.results,
      runsLeftRunning: check.leftRunning ? 1 : 0,
    };
  } finally {
    await pool.end({ timeout: 5 });
  }
}

async function runWorker(pool: Sql, o: DaybreakRunOptions, worker: string, fetch: typeof globalThis.fetch | undefined): Promise<void> {
  const deps: ProcessorDeps = {
    sql: pool,
    env: readEnv,
    fetch,
    // One worker keeps one claim's worth in flight; no CPU budget
    // (these workers are not edge invocations).
    settings: {
      budgetMs: HOUR_MS, hardDeadlineMs: 2 * HOUR_MS, claimBatchSize: o.claimBatch, maxInFlight: o.claimBatch,
      taskBudget: Number.MAX_SAFE_INTEGER, cpuHandoverMs: Number.MAX_SAFE_INTEGER, claimAheadMs: 0, roundSize: o.claimBatch, roundDelayMs: 5, heartbeatMs: 15_000, retryBaseDelayMs: 0,
      workerStartedAt: Date.now(), workerWallClockMs: 4 * HOUR_MS,
    },
  };
  const report = await runProcessor(deps, { processorId: null });
  if (report.failed > 0) throw new Error(`${worker}: ${report.failed} tasks failed`);
}

interface RunCheck {
  results: number;
  causes: Omit<DuplicateCauses, "repeatedCalls">;
  /** Every batch job ended but the run was still `running` (left for the reconciler to close). */
  leftRunning: boolean;
}

/** One result per task: results vs distinct tasks, plus duplicates the SQL prevented (counted).
 * A run whose jobs all ended but that is still `running` is closed here with
 * scheduler.finalize_run, the step the reconciler would take, and reported. */
async function verifyRun(sql: Sql, runId: string): Promise<RunCheck> {
  const [row] = await sql<{ results: number; distinct_tasks: number; prevented: number; status: string; unfinished: number; live_jobs: number }[]>`
    select (select count(*)::int from public.prompt_results where run_id = ${runId}) as results,
           (select count(distinct task_id)::int from public.prompt_results where run_id = ${runId}) as distinct_tasks,
           (select coalesce(sum(duplicates_prevented), 0)::int from scheduler.batch_jobs where run_id = ${runId}) as prevented,
           (select count(*)::int from scheduler.batch_tasks where run_id = ${runId} and status <> 'succeeded') as unfinished,
           (select count(*)::int from scheduler.batch_jobs where run_id = ${runId} and status in ('pending', 'processing')) as live_jobs,
           (select status from scheduler.runs where id = ${runId}) as status`;
  const r = row!;
  if (r.unfinished > 0 || r.live_jobs > 0) throw new Error(`daybreak run ${runId}: ${r.unfinished} unfinished tasks, ${r.live_jobs} live jobs`);
  const leftRunning = r.status === "running";
  if (leftRunning) await sql`select scheduler.finalize_run(${runId}::uuid)`;
  const reattempted = await sql<{ error: string; n: number }[]>`
    select coalesce(left(last_error, 80), 'no error recorded') as error, count(*)::int as n from scheduler.batch_tasks
     where run_id = ${runId} and attempts > 1 group by 1 order by 2 desc limit 5`;
  return {
    results: r.distinct_tasks,
    causes: {
      extraResults: r.results - r.distinct_tasks,
      refusedCompletions: r.prevented,
      reattemptedBy: Object.fromEntries(reattempted.map((x) => [x.error, x.n])),
    },
    leftRunning,
  };
}
