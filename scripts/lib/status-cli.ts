// scripts/status: the operator views in one report. Healthy means scheduler.v_health_problems is
// empty; the exit code says so (0 healthy, 1 problems, 2 usage/connection), so cron jobs and CI
// can run it as a check. Reads only: every query is a select on a scheduler view.
import postgres from "postgres";
import {
  colourEnabled,
  ConfigError,
  EXIT,
  isMain,
  parseFlags,
  redactUrl,
  resolveDatabaseUrl,
  runCli,
} from "./cli-env.ts";
import { type Colour, type Column, paint, renderTable } from "./table.ts";
import type { Sql } from "../../functions/_shared/db.ts";
import { readOrgSchedules } from "../../functions/_shared/dashboard/org-schedules.ts";

export const USAGE = `usage: scripts/status [--json]

Reports daybreak's operator views: health problems, the latest runs, stuck batch jobs, the latest
run's completeness, each provider's pace in the latest run (calls, 429s, pace against its limit,
latency, ETA), the processor fleet, the pg_cron jobs, the last 7 periods of every schedule,
organizations' own schedules (next run in local time and UTC, last 30 local days; missed first, 50
shown) and duplicate results.
  --json   one JSON object {healthy, problems, batch_health, stuck, completeness, pace, fleet, cron,
           history, org_schedules, org_schedules_total, duplicates} instead of tables
Config: DATABASE_URL from the environment, else from .local/dev.env (scripts/dev).
Exit: 0 healthy (scheduler.v_health_problems is empty), 1 problems found, 2 usage or connection error.`;

type Row = Record<string, unknown>;

export interface StatusReport {
  healthy: boolean;
  problems: Row[];
  batch_health: Row[];
  stuck: Row[];
  completeness: Row[];
  pace: Row[];
  fleet: Row[];
  cron: Row[];
  history: Row[];
  org_schedules: Row[];
  org_schedules_total: number;
  duplicates: Row[];
}


export async function collectStatus(sql: Sql): Promise<StatusReport> {
  const problems = await sql<Row[]>`select problem, subject, detail from scheduler.v_health_problems order by problem, subject`;
  const batchHealth = await sql<Row[]>`select * from scheduler.v_batch_health order by created_at desc limit 5`;
  const stuck = await sql<Row[]>`select * from scheduler.v_stuck_batch_jobs order by silent_for_s desc`;
  const completeness = await sql<Row[]>`
    select c.* from scheduler.v_run_completeness c
     where c.run_id = (select id from scheduler.runs order by created_at desc limit 1)
     order by c.provider, c.region`;
  const pace = await sql<Row[]>`
    select p.* from scheduler.v_provider_pace p
     where p.run_id = (select id from scheduler.runs order by created_at desc limit 1)
     order by p.provider`;
  // One row per processor state over the last hour: how many, the tasks they did, CPU per task.
  const fleet = await sql<Row[]>`
    select status, count(*)::int as processors, coalesce(sum(tasks), 0)::int as tasks,
           round(sum(cpu_ms)::numeric / nullif(sum(tasks), 0), 2) as cpu_ms_per_task,
           max(cpu_ms) as max_cpu_ms, max(duration_ms) as max_duration_ms, max(last_seen) as last_seen
      from scheduler.v_processor_fleet
     where coalesce(kicked_at, started_at) > now() - interval '1 hour'
     group by status
     order by status`;
  const cron = await sql<Row[]>`select * from scheduler.v_cron_health`;
  // v_daily_history has one row per call; compact it to one row per period: who called, and how.
  const history = await sql<Row[]>`
    with h as (select * from scheduler.v_daily_history),
    periods as (
      select schedule, run_key, row_number() over (partition by schedule order by run_key desc) as n
        from (select distinct schedule, run_key from h) p
    )
    select p.schedule, p.run_key,
           min(h.day_status) as day_status,
           (array_agg(h.run_id) filter (where h.run_id is not null))[1] as run_id,
           min(h.run_status) as run_status,
           min(h.winner_source) as winner_source,
           count(h.called_at)::int as calls,
           (select string_agg(format('%s %s%s ×%s', x.trigger_source, x.call_status,
                                     coalesce('/' || x.call_reason, ''), x.n), ', ' order by x.n desc, x.trigger_source)
              from (select trigger_source, call_status, call_reason, count(*) as n
                      from h h2
                     where h2.schedule = p.schedule and h2.run_key = p.run_key and h2.called_at is not null
                     group by 1, 2, 3) x) as callers,
           min(h.run_note) as run_note
      from periods p
      join h on h.schedule = p.schedule and h.run_key = p.run_key
     where p.n <= 7
     group by p.schedule, p.run_key
     order by p.schedule, p.run_key desc`;
  const duplicates = await sql<Row[]>`select * from scheduler.v_duplicate_results`;
  const orgSchedules = await readOrgSchedules(sql, 50);
  return {
    healthy: problems.length === 0,
    problems: [...problems],
    batch_health: [...batchHealth],
    stuck: [...stuck],
    completeness: [...completeness],
    pace: [...pace],
    fleet: [...fleet],
    cron: [...cron],
    history: [...history],
    org_schedules: orgSchedules.rows,
    org_schedules_total: orgSchedules.total,
    duplicates: [...duplicates],
  };
}

const GOOD = new Set(["ok", "ran", "completed", "succeeded", "healthy"]);
const BAD = new Set(["failed", "missed", "missing", "completed_with_errors", "last run failed", "unexpected job", "not run for 15 minutes"]);
const WARN = new Set(["paused", "due", "running", "processing", "pending"]);
const statusColour = (text: string): Colour | undefined =>
  GOOD.has(text) ? "green" : BAD.has(text) ? "red" : WARN.has(text) ? "yellow" : undefined;
const nonZeroRed = (text: string): Colour | undefined => (text !== "" && text !== "0" ? "red" : undefined);
const col = <R extends Row>(key: string, extra: Partial<Column<R>> = {}): Column<R> => ({ key, ...extra }) as Column<R>;

interface Section {
  title: string;
  rows: Row[];
  columns: Column<Row>[];
  empty: string;
}

export function renderStatus(report: StatusReport, colour: boolean): string {
  const sections: Section[] = [
    {
      title: "Health problems (scheduler.v_health_problems)",
      rows: report.problems,
      columns: [col("problem", { colour: () => "red" }), col("subject"), col("detail")],
      empty: "none",
    },
    {
      title: "Latest runs (scheduler.v_batch_health)",
      rows: report.batch_health,
      columns: [
        col("schedule"), col("run_key"), col("run_status", { header: "status", colour: statusColour }), col("trigger_source", { header: "source" }),
        col("forced"), col("batch_jobs", { header: "jobs" }), col("jobs_live", { header: "live" }),
        col("jobs_failed", { header: "jobs_failed", colour: nonZeroRed }), col("tasks_planned", { header: "tasks" }),
        col("tasks_succeeded", { header: "ok" }), col("tasks_failed", { header: "failed", colour: nonZeroRed }),
        col("tasks_live", { header: "live" }), col("duplicates_prevented", { header: "dups_prevented" }),
        col("created_at"), col("duration_s", { header: "secs" }), col("run_id"),
      ],
      empty: "no runs in the last 30 days",
    },
    {
      title: "Stuck batch jobs (scheduler.v_stuck_batch_jobs)",
      rows: report.stuck,
      columns: [
        col("batch_job_id"), col("reason", { colour: () => "red" }), col("status"), col("organization", { maxWidth: 30 }),
        col("schedule"), col("run_key"), col("attempts"), col("silent_for_s", { header: "silent_s" }), col("tasks_live"),
      ],
      empty: "none",
    },
    {
      title: "Latest run completeness (scheduler.v_run_completeness)",
      rows: report.completeness,
      columns: [
        col("schedule"), col("run_key"), col("run_status", { header: "status", colour: statusColour }), col("provider"), col("region"),
        col("planned"), col("succeeded"), col("failed", { colour: nonZeroRed }), col("live"), col("results"),
        col("missing", { colour: nonZeroRed }), col("extra", { colour: nonZeroRed }),
      ],
      empty: "no tasks planned for the latest run",
    },
    {
      title: "Provider pace, latest run (scheduler.v_provider_pace)",
      rows: report.pace,
      columns: [
        col("provider"), col("planned"), col("succeeded", { header: "ok" }), col("failed", { colour: nonZeroRed }),
        col("in_flight"), col("calls"), col("rate_limited", { header: "429s" }), col("rate_limited_share", { header: "429_share" }),
        col("paced_rpm", { header: "pace/min" }), col("limit_rpm", { header: "limit/min" }), col("limit_source", { header: "limit_from" }),
        col("observed_rpm", { header: "seen/min" }), col("latency_p50_ms", { header: "p50_ms" }), col("latency_p95_ms", { header: "p95_ms" }),
        col("paused_until"), col("quota_reason", { header: "quota", colour: () => "red", maxWidth: 40 }), col("eta"),
      ],
      empty: "no tasks in the latest run",
    },
    {
      title: "Processor fleet, last hour (scheduler.v_processor_fleet)",
      rows: report.fleet,
      columns: [
        col("status", { colour: statusColour }), col("processors"), col("tasks"), col("cpu_ms_per_task"), col("max_cpu_ms"),
        col("max_duration_ms"), col("last_seen"),
      ],
      empty: "no processor invocations in the last hour",
    },
    {
      title: "pg_cron jobs (scheduler.v_cron_health)",
      rows: report.cron,
      columns: [
        col("jobname"), col("schedule"), col("active"), col("health", { colour: statusColour }),
        col("last_status", { colour: statusColour }), col("last_start"), col("last_message", { maxWidth: 50 }),
      ],
      empty: "no daybreak cron jobs",
    },
    {
      title: "Last 7 periods (scheduler.v_daily_history)",
      rows: report.history,
      columns: [
        col("schedule"), col("run_key"), col("day_status", { header: "day", colour: statusColour }),
        col("run_status", { colour: statusColour }), col("winner_source", { header: "winner" }), col("calls"),
        col("callers", { maxWidth: 100 }), col("run_note", { header: "note", maxWidth: 40 }),
      ],
      empty: "no schedules",
    },
    {
      title: `Organization schedules (scheduler.v_org_schedules; last 30 local days: R ran, M missed)${
        report.org_schedules_total > report.org_schedules.length ? `, ${report.org_schedules.length} of ${report.org_schedules_total}` : ""}`,
      rows: report.org_schedules,
      columns: [
        col("organization", { maxWidth: 30 }), col("schedule"), col("timezone"), col("run_at"),
        col("next_run_local", { header: "next (local)" }), col("next_run_utc", { header: "next (UTC)" }),
        col("paused"), col("missed_30d", { header: "missed", colour: nonZeroRed }), col("last_30", { header: "last 30 days" }),
      ],
      empty: "none: every organization runs in its schedule's global run",
    },
    {
      title: "Duplicate results (scheduler.v_duplicate_results, always empty)",
      rows: report.duplicates,
      columns: [col("run_id"), col("prompt_id"), col("provider"), col("region"), col("results", { colour: () => "red" })],
      empty: "none",
    },
  ];
  const n = report.problems.length;
  const verdict = report.healthy
    ? paint("daybreak: healthy", "green", colour)
    : paint(`daybreak: ${n} problem${n === 1 ? "" : "s"}`, "red", colour);
  const body = sections.map((s) =>
    [paint(s.title, "bold", colour), s.rows.length === 0 ? `  (${s.empty})` : renderTable(s.columns, s.rows, { colour })].join("\n")
  );
  return [verdict, ...body].join("\n\n");
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { json: { type: "boolean" }, help: { type: "boolean", short: "h" } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const { url, source } = resolveDatabaseUrl();
  const sql = postgres(url, {
    max: 1,
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: "daybreak-status" },
    // Counts are bigint; in a report they are plain numbers (JSON has no bigint).
    types: { bigint: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) } },
  }) as unknown as Sql; // the bigint parser changes values at run time, not the queries' types
  let report: StatusReport;
  try {
    report = await collectStatus(sql);
  } catch (error) {
    const e = error as Error & { code?: string };
    const where = `${redactUrl(url)}${source === "environment" ? "" : ` (from ${source})`}`;
    if (e.code === "42P01" || e.code === "3F000") {
      throw new ConfigError(`the operator views are missing at ${where}: ${e.message} — are the migrations applied?`);
    }
    throw new ConfigError(`cannot query the database at ${where}: ${e.message}`);
  } finally {
    await sql.end({ timeout: 5 }).catch(() => {});
  }
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(`${renderStatus(report, colourEnabled(process.stdout))}\n`);
  return report.healthy ? EXIT.ok : EXIT.failed;
}

if (isMain(import.meta.url)) {
  await runCli("scripts/status", USAGE, () => main(process.argv.slice(2)));
}
