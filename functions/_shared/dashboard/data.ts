// What the status page shows, read from the operator views (one source of truth) in a fixed number
// of queries however long the history: the last 30 periods per schedule, the latest run per
// organization and per provider, stuck jobs, health problems, the cron jobs, and organizations' own
// schedules (next run, last 30 local days).
import type { Sql } from "../db.ts";
import { readOrgSchedules } from "./org-schedules.ts";

type Row = Record<string, unknown>;

/** The RUNBOOK procedure that fixes each health problem. */
export const PROCEDURES: Record<string, string> = {
  stuck_batch_job: "RUNBOOK.md §5 A stuck job",
  duplicate_result: "RUNBOOK.md §7 Investigating a duplicate-run report",
  incomplete_run: "RUNBOOK.md §6 Retrying failed tasks",
  missed_period: "RUNBOOK.md §4 Backfilling a missed day",
  cron_job: "RUNBOOK.md §1 Health check (pg_cron jobs)",
};

export interface DashboardData {
  generated_at: string;
  calendar: Row[];
  latest_run: Row | null;
  organizations: Row[];
  providers: Row[];
  stuck: Row[];
  problems: Row[];
  cron: Row[];
  /** Organizations' own schedules (at most 100, missed first) and how many there are. */
  org_schedules: Row[];
  org_schedules_total: number;
}

export async function readDashboardData(sql: Sql): Promise<DashboardData> {
  // One row per period: its outcome, how it was started, who won and how many callers were
  // turned away, and completeness (results ÷ planned).
  const calendar = await sql<Row[]>`
    with h as (select * from scheduler.v_daily_history),
    per as (
      select schedule, run_key, min(day_status) as day_status,
             (array_agg(run_id) filter (where run_id is not null))[1] as run_id,
             count(*) filter (where call_status = 'skipped' and call_reason = 'already_ran')::int as turned_away
        from h group by schedule, run_key
    ), ranked as (
      select per.*, row_number() over (partition by schedule order by run_key desc) as n from per
    )
    select r.schedule, r.run_key, r.day_status, r.turned_away, run.id::text as run_id, run.status as run_status,
           run.trigger_source as winner_source, run.forced, run.note,
           round(extract(epoch from coalesce(run.completed_at, now()) - run.created_at)::numeric, 1)::float8 as duration_s,
           run.tasks_planned as planned,
           (select count(*)::int from public.prompt_results p where p.run_id = run.id) as results,
           coalesce(run.forced and scheduler.period_key(s.period, (run.created_at at time zone s.timezone)::date) <> run.run_key, false) as backfilled
      from ranked r
      left join scheduler.runs run on run.id = r.run_id
      left join scheduler.schedules s on s.name = r.schedule
     where r.n <= 30
     order by r.schedule, r.run_key desc`;
  const [latest] = await sql<Row[]>`
    select id::text as run_id, schedule, run_key, status, trigger_source, forced, note, tasks_planned as planned,
           created_at, completed_at, status = 'running' as live
      from scheduler.runs order by created_at desc limit 1`;
  const runId = (latest?.run_id as string | undefined) ?? null;
  const organizations = runId === null ? [] : await sql<Row[]>`
    select o.name as organization, count(t.id)::int as planned,
           count(t.id) filter (where t.status = 'succeeded')::int as succeeded,
           count(t.id) filter (where t.status = 'failed')::int as failed,
           count(t.id) filter (where t.status = 'processing')::int as in_flight,
           j.status
      from scheduler.batch_jobs j
      join public.organizations o on o.id = j.org_id
      left join scheduler.batch_tasks t on t.batch_job_id = j.id
     where j.run_id = ${runId}::uuid
     group by o.name, j.status order by o.name`;
  const providers = runId === null ? [] : await sql<Row[]>`
    select provider, planned::int, succeeded::int, failed::int, in_flight::int, calls::int, rate_limited::int,
           rate_limited_share::float8, paced_rpm::float8, limit_rpm, limit_source, observed_rpm,
           latency_p50_ms, latency_p95_ms, paused_until, quota_reason, eta
      from scheduler.v_provider_pace where run_id = ${runId}::uuid order by provider`;
  const stuck = await sql<Row[]>`select * from scheduler.v_stuck_batch_jobs order by silent_for_s desc limit 50`;
  const problems = await sql<Row[]>`select problem, subject, detail from scheduler.v_health_problems order by problem, subject limit 100`;
  // Only what the page shows: never a job's command or its output (they may carry credentials).
  const cron = await sql<Row[]>`select jobname, schedule, active, health, last_status, last_start from scheduler.v_cron_health`;
  const orgSchedules = await readOrgSchedules(sql, 100);
  return {
    generated_at: new Date().toISOString(),
    calendar: [...calendar].map((c) => ({ ...c, outcome: outcomeOf(c) })),
    latest_run: latest ?? null,
    organizations: [...organizations],
    providers: [...providers],
    stuck: [...stuck],
    problems: [...problems].map((p) => ({ ...p, procedure: PROCEDURES[String(p.problem)] ?? "RUNBOOK.md §1 Health check" })),
    cron: [...cron],
    org_schedules: orgSchedules.rows,
    org_schedules_total: orgSchedules.total,
  };
}

/** One word per period for the calendar: what an operator looks for first. */
export function outcomeOf(c: Row): string {
  if (c.day_status === "missed") return "missed";
  if (c.run_status === "running") return "running";
  if (c.run_status === "failed" || c.run_status === "completed_with_errors") return "failed";
  if (c.backfilled === true) return "backfilled";
  if (c.forced === true) return "forced";
  if (c.day_status === "ran") return "ran";
  return String(c.day_status); // due, paused
}
