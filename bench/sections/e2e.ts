// Section 2, end to end through HTTP: one forced run of the default schedule as an operator
// starts it (POST daily-batch-trigger, x-manual-call, force), processed by robust-batch-processor
// invocations served by Deno and kicked through the real pg_net, against the
// zero-latency mock provider; everything as shipped (processor settings, the fleet), with the
// providers' limits stated far above what the mock can serve.
// Measures wall time from the trigger call to the run's `completed`, and the edge invocations used.
import { startMockProvider } from "../../harness/mock-provider/index.ts";
import { resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET } from "../../harness/processes.ts";
import type { ShapeSizes } from "../lib/config.ts";
import { analyzeSchemas, clearRunState, clearVault, type Sql } from "../lib/db.ts";
import { timedCall, expectStatus } from "../../harness/timed-call.ts";
import { log, table } from "../lib/report.ts";
import { median, round, sleep } from "../lib/stats.ts";

const RUN_TIMEOUT_MS = 600_000;

export interface E2eRun {
  runStatus: string;
  /** Trigger call → every batch job terminal (the work is done). */
  jobsDoneSeconds: number;
  /** Trigger call → run `completed` (as an operator sees it). */
  wallSeconds: number;
  /** runs.completed_at − the trigger's scheduler_runs.started_at, in the database. */
  databaseSeconds: number;
  tasksPerSecond: number;
  invocations: { trigger: number; processor: number; reconciler: number };
  netRequests: number;
  results: number;
  duplicates: number;
  providerCalls: number;
}

export interface E2eResult {
  organizations: number;
  tasks: number;
  repetitions: number;
  /** Medians over the repetitions. */
  jobsDoneSeconds: number;
  wallSeconds: number;
  tasksPerSecond: number;
  runs: E2eRun[];
}

export async function benchE2e(sql: Sql, s: ShapeSizes & { repetitions: number }): Promise<{ result: E2eResult; report: string }> {
  await resetState(sql);
  const mock = await startMockProvider({ latencyMs: 0 });
  const providers = Object.fromEntries(Array.from({ length: s.providers }, (_, i) => [`mock-${i + 1}`, mock.url]));
  const seeded = await seedOrganizations(sql, { organizations: s.organizations, promptsPerOrg: s.promptsPerOrg, providers });
  // The zero-latency mock sends no rate-limit headers, so unconfigured it would be paced at
  // pace_unknown_requests_per_minute; this section measures the pipeline, so its limits are stated
  // far above what it can reach (the paced-day section measures pacing).
  await sql`update public.providers set requests_per_minute = 1000000000`;
  await analyzeSchemas(sql, "scheduler", "public");
  const functions = await startFunctions();
  try {
    await setVault(sql, functions.url, TEST_CRON_SECRET);
    const runs: E2eRun[] = [];
    for (let rep = 0; rep < s.repetitions; rep++) {
      await clearRunState(sql);
      mock.reset();
      log(`e2e: forced run of ${seeded.expectedTasks} tasks (${rep + 1} of ${s.repetitions})`);
      runs.push(await onePass(sql, functions.url, () => mock.calls().length, () => mock.callsByTask()));
    }
    const result: E2eResult = {
      organizations: s.organizations,
      tasks: seeded.expectedTasks,
      repetitions: s.repetitions,
      jobsDoneSeconds: round(median(runs.map((r) => r.jobsDoneSeconds)), 3),
      wallSeconds: round(median(runs.map((r) => r.wallSeconds)), 3),
      tasksPerSecond: round(median(runs.map((r) => r.tasksPerSecond)), 0),
      runs,
    };
    return { result, report: render(result) };
  } finally {
    await functions.stop();
    await mock.close();
    await clearVault(sql);
    await resetState(sql);
  }
}

async function onePass(sql: Sql, functionsUrl: string, providerCalls: () => number,
  callsByTask: () => Record<string, number>): Promise<E2eRun> {
  const started = performance.now();
  const res = await timedCall(functionsUrl, "daily-batch-trigger", { force: true, note: "bench: end to end" }, "manual");
  expectStatus("forced trigger", res, "status", "started");
  const runId = res.body.run_id as string;
  const { status: runStatus, jobsDoneAt } = await waitForRunEnd(sql, runId);
  const wallSeconds = (performance.now() - started) / 1000;
  // The last processor may still be writing its invocation row; give it a moment.
  await sleep(500);
  const run = await collect(sql, runId, wallSeconds, runStatus);
  run.duplicates += Object.values(callsByTask()).filter((n) => n > 1).length;
  return { ...run, jobsDoneSeconds: round((jobsDoneAt - started) / 1000, 3), providerCalls: providerCalls() };
}

/** Polls until the run ends; also notes when its last batch job ended (the two differ when the
 * run is left for the reconciler to close). */
async function waitForRunEnd(sql: Sql, runId: string): Promise<{ status: string; jobsDoneAt: number }> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  let jobsDoneAt: number | null = null;
  for (;;) {
    const [row] = await sql<{ status: string; live: number }[]>`
      select r.status, (select count(*)::int from scheduler.batch_jobs j
                         where j.run_id = r.id and j.status in ('pending', 'processing')) as live
        from scheduler.runs r where r.id = ${runId}`;
    if (row!.live === 0 && jobsDoneAt === null) jobsDoneAt = performance.now();
    if (row!.status !== "running") return { status: row!.status, jobsDoneAt: jobsDoneAt ?? performance.now() };
    if (Date.now() > deadline) throw new Error(`run ${runId} still running after ${RUN_TIMEOUT_MS} ms`);
    await sleep(25);
  }
}

async function collect(sql: Sql, runId: string, wallSeconds: number, runStatus: string): Promise<Omit<E2eRun, "providerCalls" | "jobsDoneSeconds">> {
  const [row] = await sql<{ tasks: number; db_seconds: number; trigger: number; processor: number; reconciler: number;
    net: number; results: number; distinct_results: number; prevented: number }[]>`
    select (select tasks_planned from scheduler.runs where id = ${runId}) as tasks,
           (select extract(epoch from r.completed_at - s.started_at)::float8
              from scheduler.runs r join scheduler.scheduler_runs s on s.run_id = r.id and s.function_name = 'daily-batch-trigger'
             where r.id = ${runId}) as db_seconds,
           (select count(*)::int from scheduler.scheduler_runs where function_name = 'daily-batch-trigger') as trigger,
           (select count(*)::int from scheduler.scheduler_runs where function_name = 'robust-batch-processor') as processor,
           (select count(*)::int from scheduler.scheduler_runs where function_name = 'batch-reconciler') as reconciler,
           (select count(*)::int from net._http_response) + (select count(*)::int from net.http_request_queue) as net,
           (select count(*)::int from public.prompt_results where run_id = ${runId}) as results,
           (select count(distinct task_id)::int from public.prompt_results where run_id = ${runId}) as distinct_results,
           (select coalesce(sum(duplicates_prevented), 0)::int from scheduler.batch_jobs where run_id = ${runId}) as prevented`;
  const r = row!;
  return {
    runStatus,
    wallSeconds: round(wallSeconds, 3),
    databaseSeconds: round(r.db_seconds, 3),
    tasksPerSecond: round(r.tasks / wallSeconds, 0),
    invocations: { trigger: r.trigger, processor: r.processor, reconciler: r.reconciler },
    netRequests: r.net,
    results: r.results,
    duplicates: r.results - r.distinct_results + r.prevented,
  };
}

function render(r: E2eResult): string {
  return table(
    `2. End to end through HTTP (${r.organizations} orgs, ${r.tasks.toLocaleString("en-US")} tasks; forced run, Deno functions, real pg_net, zero-latency mock)`,
    ["pass", "status", "jobs done s", "run completed s", "tasks/s", "processor invocations", "reconciler invocations",
      "pg_net requests", "results", "dup"],
    [
      ...r.runs.map((x, i) => [String(i + 1), x.runStatus, x.jobsDoneSeconds, x.wallSeconds, x.tasksPerSecond, x.invocations.processor,
        x.invocations.reconciler, x.netRequests, x.results, x.duplicates]),
      ["median", "", r.jobsDoneSeconds, r.wallSeconds, r.tasksPerSecond, "", "", "", "", ""],
    ],
  );
}
