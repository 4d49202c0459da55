// Section 4, reconciler at scale: with `runs × jobsPerRun` finished batch jobs and
// `× tasksPerJob` historical tasks (10,000 and 1,000,000 in full mode) plus one live run, and
// `cronHistoryDays` of pg_cron's run log as the two jobs fill it (288 + 8,640 rows a day; 30 days,
// what retention keeps, in full mode), times scheduler.cron_reconcile_tick() (an idle tick prunes
// history, that log included) and the stale scan (select * from scheduler.stale_batch_jobs()),
// and shows with EXPLAIN (ANALYZE, BUFFERS) that only live rows are read: the top-level plan of
// the call, and (through auto_explain at NOTICE level) the plan of the query inside the function,
// which is where the partial index batch_jobs_live is used.
import { connect, clearRunState, type Sql } from "../lib/db.ts";
import { log, table } from "../lib/report.ts";
import { summarize, type Summary } from "../lib/stats.ts";

export interface ReconcilerSizes {
  runs: number;
  jobsPerRun: number;
  tasksPerJob: number;
  liveJobs: number;
  /** Pending jobs of a large run just planned (one per organization): the most live rows a day has. */
  busyDayJobs: number;
  calls: number;
  cronHistoryDays: number;
}

export interface ReconcilerResult {
  historicalBatchJobs: number;
  historicalTasks: number;
  /** Rows in cron.job_run_details while the tick was timed. */
  cronRunDetails: number;
  liveBatchJobs: number;
  staleScanMs: Summary;
  reconcileTickMs: Summary;
  /** Execution Time reported by EXPLAIN ANALYZE (server side). */
  staleScanServerMs: number;
  reconcileTickServerMs: number;
  tickDecision: string;
  /** The stale scan again while a large run's jobs are all pending (just planned). */
  busyDay: { liveBatchJobs: number; staleScanMs: Summary; staleScanServerMs: number };
  plans: { staleScanCall: string; staleScanInner: string[] };
  /** Target: stale scan < 5 ms with 1M historical tasks. */
  target: { goalMs: 5; measuredMs: number; met: boolean | null };
}

export async function benchReconciler(sql: Sql, s: ReconcilerSizes): Promise<{ result: ReconcilerResult; report: string }> {
  await clearRunState(sql);
  await ensureOrganizations(sql, Math.max(s.jobsPerRun, s.liveJobs, s.busyDayJobs));
  log(`reconciler: writing ${s.runs * s.jobsPerRun} finished batch jobs and ${s.runs * s.jobsPerRun * s.tasksPerJob} historical tasks`);
  await writeHistory(sql, s);
  await writeLiveRun(sql, s);
  const cronRunDetails = await writeCronHistory(sql, s.cronHistoryDays);
  await sql`vacuum analyze scheduler.runs, scheduler.batch_jobs, scheduler.batch_tasks, scheduler.scheduler_runs, cron.job_run_details`;

  const staleScan = await timeCalls(s.calls, () => sql`select * from scheduler.stale_batch_jobs()`);
  const tickDecisions = new Set<string>();
  const reconcileTick = await timeCalls(s.calls, async () => {
    const [row] = await sql<{ r: { decision: string } }[]>`select scheduler.cron_reconcile_tick() as r`;
    tickDecisions.add(row!.r.decision);
  });
  const plans = await explainStaleScan();
  const tickServerMs = await explainTime(sql, "select scheduler.cron_reconcile_tick()");

  log(`reconciler: stale scan with ${s.busyDayJobs} more pending jobs (a large run just planned)`);
  await writeBusyDay(sql, s.busyDayJobs);
  const busyDay = {
    liveBatchJobs: s.liveJobs + s.busyDayJobs,
    staleScanMs: await timeCalls(s.calls, () => sql`select * from scheduler.stale_batch_jobs()`),
    staleScanServerMs: await explainTime(sql, "select * from scheduler.stale_batch_jobs()"),
  };
  const historicalTasks = s.runs * s.jobsPerRun * s.tasksPerJob;
  await clearRunState(sql);
  await sql`delete from cron.job_run_details where command like ${`${CRON_HISTORY}%`}`;

  const result: ReconcilerResult = {
    historicalBatchJobs: s.runs * s.jobsPerRun,
    historicalTasks,
    cronRunDetails,
    liveBatchJobs: s.liveJobs,
    staleScanMs: staleScan,
    reconcileTickMs: reconcileTick,
    staleScanServerMs: plans.executionMs,
    reconcileTickServerMs: tickServerMs,
    tickDecision: [...tickDecisions].join(","),
    busyDay,
    plans: { staleScanCall: plans.call, staleScanInner: plans.inner },
    target: { goalMs: 5, measuredMs: staleScan.p50, met: historicalTasks >= 1_000_000 ? staleScan.p50 < 5 : null },
  };
  return { result, report: render(result) };
}

async function ensureOrganizations(sql: Sql, needed: number): Promise<void> {
  await sql`insert into public.organizations (name)
            select 'history-org-' || g from generate_series(1, greatest(${needed}::int - (select count(*) from public.organizations)::int, 0)) g`;
}

async function writeHistory(sql: Sql, s: ReconcilerSizes): Promise<void> {
  const runs = await sql<{ id: string }[]>`
    insert into scheduler.runs (schedule, run_key, status, trigger_source, created_at, completed_at, batch_jobs_planned, tasks_planned)
    select 'daily-batch', to_char(date '2026-06-01' + g, 'YYYY-MM-DD'), 'completed', 'cron',
           (date '2026-06-01' + g) + time '08:00' , (date '2026-06-01' + g) + time '08:30',
           ${s.jobsPerRun}::int, ${s.jobsPerRun * s.tasksPerJob}::int
      from generate_series(0, ${s.runs - 1}::int) g
    returning id`;
  for (const run of runs) {
    await sql`
      with jobs as (
        insert into scheduler.batch_jobs (run_id, org_id, status, attempts, tasks_total, created_at, started_at, completed_at, last_heartbeat)
        select r.id, o.id, 'completed', 1, ${s.tasksPerJob}::int, r.created_at, r.created_at, r.completed_at, r.completed_at
          from scheduler.runs r cross join (select id from public.organizations order by id limit ${s.jobsPerRun}::int) o
         where r.id = ${run.id}
        returning id, run_id, created_at, completed_at
      )
      insert into scheduler.batch_tasks (batch_job_id, run_id, prompt_id, provider, region, status, attempts, created_at, started_at, completed_at)
      select j.id, j.run_id, gen_random_uuid(), 'history', 'global', 'succeeded', 1, j.created_at, j.created_at, j.completed_at
        from jobs j cross join generate_series(1, ${s.tasksPerJob}::int)`;
  }
}

/** Today's run, in progress: three jobs processing (fresh heartbeat) and the rest pending
 * (planned just now, so within their grace period): the scan reads both kinds. */
async function writeLiveRun(sql: Sql, s: ReconcilerSizes): Promise<void> {
  await sql`
    with run as (
      insert into scheduler.runs (schedule, run_key, trigger_source, batch_jobs_planned)
      values ('daily-batch', to_char(now(), 'YYYY-MM-DD'), 'cron', ${s.liveJobs}::int) returning id
    ), jobs as (
      insert into scheduler.batch_jobs (run_id, org_id, status, attempts, tasks_total, started_at, last_heartbeat)
      select run.id, o.id, case when o.n <= cap.n then 'processing' else 'pending' end,
             case when o.n <= cap.n then 1 else 0 end, ${s.tasksPerJob}::int,
             case when o.n <= cap.n then now() end, case when o.n <= cap.n then now() end
        from run
        cross join (select 3 as n) cap
        cross join (select id, row_number() over (order by id desc) as n from public.organizations
                     order by id desc limit ${s.liveJobs}::int) o
      returning id, run_id
    )
    insert into scheduler.batch_tasks (batch_job_id, run_id, prompt_id, provider, region)
    select j.id, j.run_id, gen_random_uuid(), 'history', 'global' from jobs j cross join generate_series(1, ${s.tasksPerJob}::int)`;
}

const CRON_HISTORY = "bench: ";

/** pg_cron's run log as the daybreak jobs fill it over `days` days (every row inside retention, so
 * the tick's prune deletes nothing and the timing is its steady state), numbered by pg_cron's sequence. */
async function writeCronHistory(sql: Sql, days: number): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    with ticks as (
      select 'select scheduler.cron_reconcile_tick()' as command, now() - make_interval(days => ${days}::int) + g * interval '10 seconds' as at
        from generate_series(1, ${days}::int * 8640) g
      union all
      select 'select scheduler.cron_trigger_tick()', now() - make_interval(days => ${days}::int) + g * interval '5 minutes'
        from generate_series(1, ${days}::int * 288) g
    ), inserted as (
      insert into cron.job_run_details (jobid, runid, job_pid, database, username, command, status, return_message, start_time, end_time)
      select 0, nextval('cron.runid_seq'), 0, 'postgres', 'postgres', ${CRON_HISTORY} || command, 'succeeded', '1 row', at, at + interval '4 ms'
        from ticks order by at
      returning 1
    )
    select count(*)::int as n from inserted`;
  return row!.n;
}

async function writeBusyDay(sql: Sql, jobs: number): Promise<void> {
  await sql`
    with run as (
      insert into scheduler.runs (schedule, run_key, trigger_source, batch_jobs_planned)
      values ('daily-batch', to_char(now() + interval '1 day', 'YYYY-MM-DD'), 'cron', ${jobs}::int) returning id
    )
    insert into scheduler.batch_jobs (run_id, org_id, tasks_total)
    select run.id, o.id, 60 from run cross join (select id from public.organizations order by id limit ${jobs}::int) o`;
  await sql`analyze scheduler.batch_jobs`;
}

async function timeCalls(calls: number, call: () => Promise<unknown>): Promise<Summary> {
  for (let i = 0; i < 5; i++) await call();
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await call();
    samples.push(performance.now() - t);
  }
  return summarize(samples);
}

async function explainTime(sql: Sql, query: string): Promise<number> {
  const rows = await sql.unsafe<{ "QUERY PLAN": string }[]>(`explain (analyze, buffers) ${query}`);
  const m = /Execution Time: ([\d.]+) ms/.exec(rows.map((r) => r["QUERY PLAN"]).join("\n"));
  return m ? Number(m[1]) : Number.NaN;
}

/** The call's plan, and the nested plans of the function body through auto_explain. */
async function explainStaleScan(): Promise<{ call: string; inner: string[]; executionMs: number }> {
  const notices: string[] = [];
  const conn = connect(1, "daybreak-bench-explain", (n) => notices.push(String(n.message)));
  try {
    await conn.unsafe(`load 'auto_explain'`);
    for (const setting of ["log_min_duration = 0", "log_analyze = on", "log_buffers = on", "log_timing = on",
      "log_nested_statements = on", "log_level = notice"]) {
      await conn.unsafe(`set auto_explain.${setting}`);
    }
    await conn`select * from scheduler.stale_batch_jobs()`; // warm: the first call plans config lookups
    notices.length = 0;
    const rows = await conn.unsafe<{ "QUERY PLAN": string }[]>(`explain (analyze, buffers) select * from scheduler.stale_batch_jobs()`);
    const call = rows.map((r) => r["QUERY PLAN"]).join("\n");
    const m = /Execution Time: ([\d.]+) ms/.exec(call);
    const inner = notices.filter((n) => n.includes("scheduler.batch_jobs j"));
    return { call, inner, executionMs: m ? Number(m[1]) : Number.NaN };
  } finally {
    await conn.end({ timeout: 5 });
  }
}

function render(r: ReconcilerResult): string {
  const timings = table(
    `4. Reconciler at scale (${r.historicalBatchJobs.toLocaleString("en-US")} finished batch jobs, ${r.historicalTasks.toLocaleString("en-US")} historical tasks, ${r.liveBatchJobs} live jobs, ${r.cronRunDetails.toLocaleString("en-US")} rows in cron.job_run_details)`,
    ["call", "calls", "client p50 ms", "client p99 ms", "server ms (EXPLAIN ANALYZE)"],
    [
      ["select * from scheduler.stale_batch_jobs()", r.staleScanMs.n, r.staleScanMs.p50, r.staleScanMs.p99, r.staleScanServerMs],
      [`scheduler.cron_reconcile_tick() → ${r.tickDecision}`, r.reconcileTickMs.n, r.reconcileTickMs.p50, r.reconcileTickMs.p99, r.reconcileTickServerMs],
      [`stale scan, ${r.busyDay.liveBatchJobs.toLocaleString("en-US")} live jobs (large run just planned)`, r.busyDay.staleScanMs.n,
        r.busyDay.staleScanMs.p50, r.busyDay.staleScanMs.p99, r.busyDay.staleScanServerMs],
    ],
  );
  const indent = (text: string) => text.split("\n").map((l) => `   ${l}`).join("\n");
  return [timings, "\n   EXPLAIN (ANALYZE, BUFFERS) select * from scheduler.stale_batch_jobs():", indent(r.plans.staleScanCall),
    "\n   the query inside the function (auto_explain, nested statements):", ...r.plans.staleScanInner.map(indent)].join("\n");
}
