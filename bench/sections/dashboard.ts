// Section "dashboard": the status page's data and the Prometheus metrics, answered by the real
// function (Deno over HTTP) with 30 days of history, each day a run of the e2e section's size
// (200 organizations × 10 prompts × 3 providers = 6,000 tasks, every one with its result and its
// provider counted). Target: each answers in < 200 ms (median of 20 calls, after one warm-up).
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import { startFunctions, TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";
import type { ShapeSizes } from "../lib/config.ts";
import { analyzeSchemas, type Sql } from "../lib/db.ts";
import { log, table } from "../lib/report.ts";
import { percentile, round } from "../lib/stats.ts";

export interface DashboardResult {
  days: number;
  tasksPerDay: number;
  taskRows: number;
  dataMs: { p50: number; p95: number };
  metricsMs: { p50: number; p95: number };
  metricsBytes: number;
  dataBytes: number;
}

const CALLS = 20;

/** s.days completed runs of the default schedule, one a day, with results and provider counters. */
export async function seedHistory(sql: Sql, days: number, tasksPerDay: number): Promise<void> {
  log(`dashboard: ${days} days of ${tasksPerDay} tasks with results`);
  for (let d = 1; d <= days; d++) {
    const [row] = await sql<{ r: { run_id: string } }[]>`
      select scheduler.try_mark_daily_run('daily-batch', to_char((now() at time zone 'America/New_York')::date - ${d}::int, 'YYYY-MM-DD'), 'cron', null, false, null) as r`;
    const runId = row!.r.run_id;
    const at = sql`now() - make_interval(days => ${d})`;
    await sql`
      with done as (
        update scheduler.batch_tasks t set status = 'succeeded', attempts = 1, completed_at = ${at}
         where t.run_id = ${runId} returning t.*
      )
      insert into public.prompt_results (task_id, run_id, org_id, prompt_id, provider, region, answered_by, model, response, attempts, latency_ms, created_at)
      select d.id, d.run_id, j.org_id, d.prompt_id, d.provider, d.region, d.provider, 'bench-model', 'bench answer', 1,
             200 + (d.id % 1800)::int, ${at}
        from done d join scheduler.batch_jobs j on j.id = d.batch_job_id`;
    await sql`update scheduler.batch_jobs set status = 'completed', completed_at = ${at} where run_id = ${runId}`;
    await sql`update scheduler.runs set status = 'completed', created_at = ${at} - interval '20 minutes', completed_at = ${at} where id = ${runId}`;
    await sql`
      insert into scheduler.provider_run_stats (run_id, provider, calls, calls_by_status, rate_limited)
      select ${runId}, provider, count(*), jsonb_build_object('200', count(*)), 0
        from scheduler.batch_tasks where run_id = ${runId} group by provider`;
  }
}

export async function benchDashboard(sql: Sql, s: ShapeSizes & { days: number }): Promise<{ result: DashboardResult; report: string }> {
  await resetState(sql);
  const providers = Object.fromEntries(Array.from({ length: s.providers }, (_, i) => [`mock-${i + 1}`, "http://127.0.0.1:9/v1"]));
  const seeded = await seedOrganizations(sql, { organizations: s.organizations, promptsPerOrg: s.promptsPerOrg, providers });
  await sql`update scheduler.schedules set enabled = true, created_at = now() - make_interval(days => ${s.days + 1}) where name = 'daily-batch'`;
  await seedHistory(sql, s.days, seeded.expectedTasks);
  await analyzeSchemas(sql, "scheduler", "public");
  const functions = await startFunctions();
  try {
    const time = async (path: string) => {
      const samples: number[] = [];
      let bytes = 0;
      for (let i = 0; i <= CALLS; i++) {
        const started = performance.now();
        const res = await fetch(`${functions.url}/daybreak-dashboard${path}`, { headers: { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}` } });
        const body = await res.text();
        if (res.status !== 200) throw new Error(`dashboard${path}: HTTP ${res.status}: ${body.slice(0, 200)}`);
        if (i > 0) samples.push(performance.now() - started); // the first call warms the connection pool
        bytes = body.length;
      }
      return { ms: { p50: round(percentile(samples, 50), 1), p95: round(percentile(samples, 95), 1) }, bytes };
    };
    const data = await time("/data");
    const metrics = await time("/metrics");
    const [count] = await sql<{ n: number }[]>`select count(*)::int as n from scheduler.batch_tasks`;
    const result: DashboardResult = {
      days: s.days, tasksPerDay: seeded.expectedTasks, taskRows: count!.n,
      dataMs: data.ms, metricsMs: metrics.ms, dataBytes: data.bytes, metricsBytes: metrics.bytes,
    };
    const report = table(`Dashboard: ${s.days} days × ${seeded.expectedTasks} tasks (${count!.n} task rows), ${CALLS} calls each`,
      ["endpoint", "p50 ms", "p95 ms", "bytes"],
      [["GET /daybreak-dashboard/data", data.ms.p50, data.ms.p95, data.bytes], ["GET /daybreak-dashboard/metrics", metrics.ms.p50, metrics.ms.p95, metrics.bytes]]);
    return { result, report };
  } finally {
    await functions.stop();
    await resetState(sql);
    await sql`update scheduler.schedules set created_at = now() where name = 'daily-batch'`;
  }
}
