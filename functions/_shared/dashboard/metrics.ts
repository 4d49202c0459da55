// Prometheus text exposition (format 0.0.4) of what the operator views say, for the monitoring
// stack teams already run. Names follow Prometheus conventions: `daybreak_` prefix, `_total` for
// counters, seconds for time. A fixed number of queries, however long the history.
import type { Sql } from "../db.ts";

/** Upper bounds of the provider latency histogram, in seconds. */
export const LATENCY_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

type Labels = Record<string, string>;
interface Sample {
  labels: Labels;
  value: number;
}
interface Family {
  name: string;
  type: "counter" | "gauge" | "histogram";
  help: string;
  samples: Sample[];
}

/** Runs one read (in its own read-only transaction, see handler.ts); reads run side by side. */
export type ReadRunner = <T>(read: (sql: Sql) => Promise<T>) => Promise<T>;

export async function collectMetrics(read: ReadRunner): Promise<Family[]> {
  const runsQuery = read((sql) => sql<{ schedule: string; status: string; n: number }[]>`
    select schedule, status, count(*)::int as n from scheduler.runs group by 1, 2 order by 1, 2`);
  const tasksQuery = read((sql) => sql<{ provider: string; status: string; n: number }[]>`
    select provider, status, count(*)::int as n from scheduler.batch_tasks group by 1, 2 order by 1, 2`);
  const dupsQuery = read((sql) => sql<{ prevented: number; stored: number; stuck: number; live: number }[]>`
    select (select coalesce(sum(duplicates_prevented), 0)::int from scheduler.batch_jobs) as prevented,
           (select coalesce(sum(results - 1), 0)::int from scheduler.v_duplicate_results) as stored,
           (select count(*)::int from scheduler.v_stuck_batch_jobs) as stuck,
           (select count(*)::int from scheduler.runs where status = 'running') as live`);
  const callsQuery = read((sql) => sql<{ provider: string; code: string; n: number }[]>`
    select s.provider, c.key as code, sum(c.value::bigint)::int as n
      from scheduler.provider_run_stats s cross join lateral jsonb_each_text(s.calls_by_status) c
     group by 1, 2 order by 1, 2`);
  // One pass over the results: a filtered count per bucket bound (the bounds are constants above).
  const bucketColumns = LATENCY_BUCKETS_S.map((le, i) => `count(*) filter (where latency_ms <= ${le * 1000})::int as b${i}`).join(", ");
  const latencyQuery = read((sql) => sql.unsafe<(Record<string, number> & { provider: string; sum_s: number; n: number })[]>(
    `select provider, ${bucketColumns}, (sum(latency_ms) / 1000.0)::float8 as sum_s, count(*)::int as n
       from public.prompt_results group by provider order by provider`,
  ));
  const schedulesQuery = read((sql) => sql<{ schedule: string; last_completed: number | null; missed: number }[]>`
    select s.name as schedule,
           (select extract(epoch from max(r.completed_at))::float8 from scheduler.runs r
             where r.schedule = s.name and r.status in ('completed', 'completed_with_errors')) as last_completed,
           (select count(distinct h.run_key)::int from scheduler.v_daily_history h
             where h.schedule = s.name and h.day_status = 'missed') as missed
      from scheduler.schedules s order by 1`);

  const processorsQuery = read((sql) => sql<{ status: string; stop_reason: string; n: number }[]>`
    select status, coalesce(stop_reason, '') as stop_reason, count(*)::int as n from scheduler.processors group by 1, 2 order by 1, 2`);

  // Organizations' own schedules: how many (active, paused), overdue (the tick should have claimed
  // them 10 minutes ago) and missed periods of the last 30 days not backfilled.
  const orgsQuery = read((sql) => sql<{ schedule: string; active: number; paused: number; overdue: number; missed: number }[]>`
    select s.name as schedule,
           (select count(*)::int from scheduler.org_schedules o where o.schedule = s.name and not o.paused) as active,
           (select count(*)::int from scheduler.org_schedules o where o.schedule = s.name and o.paused) as paused,
           (select count(*)::int from scheduler.org_schedules o
             where o.schedule = s.name and not o.paused and o.next_run_at < now() - interval '10 minutes') as overdue,
           (select count(*)::int from scheduler.v_org_history h where h.schedule = s.name and h.day_status = 'missed') as missed
      from scheduler.schedules s order by 1`);

  const [runs, tasks, [dups], calls, latency, schedules, processors, orgs] = await Promise.all([
    runsQuery, tasksQuery, dupsQuery, callsQuery, latencyQuery, schedulesQuery, processorsQuery, orgsQuery,
  ]);
  const histogram: Sample[] = [];
  for (const row of latency) {
    const provider = row.provider;
    LATENCY_BUCKETS_S.forEach((le, i) => histogram.push({ labels: { provider, le: String(le) }, value: row[`b${i}`]! }));
    histogram.push(
      { labels: { provider, le: "+Inf" }, value: row.n },
      { labels: { provider, __suffix: "_sum" }, value: row.sum_s },
      { labels: { provider, __suffix: "_count" }, value: row.n },
    );
  }
  return [
    { name: "daybreak_runs", type: "gauge", help: "Runs kept in scheduler.runs (30 days), by schedule and status.",
      samples: runs.map((r) => ({ labels: { schedule: r.schedule, status: r.status }, value: r.n })) },
    { name: "daybreak_tasks", type: "gauge", help: "Batch tasks kept, by provider and status.",
      samples: tasks.map((t) => ({ labels: { provider: t.provider, status: t.status }, value: t.n })) },
    { name: "daybreak_duplicate_results_prevented_total", type: "counter",
      help: "Second results refused by the one-result-per-task rule.", samples: [{ labels: {}, value: dups!.prevented }] },
    { name: "daybreak_duplicate_results_stored_total", type: "counter",
      help: "Results stored beyond one per task. Must always be 0.", samples: [{ labels: {}, value: dups!.stored }] },
    { name: "daybreak_provider_calls_total", type: "counter", help: "Provider calls by provider and HTTP status code (or timeout, network).",
      samples: calls.map((c) => ({ labels: { provider: c.provider, code: c.code }, value: c.n })) },
    { name: "daybreak_provider_latency_seconds", type: "histogram", help: "Latency of answered provider calls.", samples: histogram },
    { name: "daybreak_last_completed_run_timestamp_seconds", type: "gauge", help: "When each schedule's latest run completed (Unix time).",
      samples: schedules.filter((s) => s.last_completed !== null).map((s) => ({ labels: { schedule: s.schedule }, value: s.last_completed! })) },
    { name: "daybreak_missed_periods", type: "gauge", help: "Periods of the last 30 days whose window ended without a run.",
      samples: schedules.map((s) => ({ labels: { schedule: s.schedule }, value: s.missed })) },
    { name: "daybreak_org_schedules", type: "gauge", help: "Organizations with a schedule of their own, by schedule and state (active, paused).",
      samples: orgs.flatMap((o) => [{ labels: { schedule: o.schedule, state: "active" }, value: o.active },
                                     { labels: { schedule: o.schedule, state: "paused" }, value: o.paused }]) },
    { name: "daybreak_org_overdue", type: "gauge", help: "Organizations whose own run was due more than 10 minutes ago and is not claimed.",
      samples: orgs.map((o) => ({ labels: { schedule: o.schedule }, value: o.overdue })) },
    { name: "daybreak_org_missed_periods", type: "gauge",
      help: "Organizations' local periods of the last 30 days recorded missed (past the catch-up window) and not backfilled.",
      samples: orgs.map((o) => ({ labels: { schedule: o.schedule }, value: o.missed })) },
    { name: "daybreak_stuck_batch_jobs", type: "gauge", help: "Batch jobs the reconciler would rescue now.", samples: [{ labels: {}, value: dups!.stuck }] },
    { name: "daybreak_live_runs", type: "gauge", help: "Runs in progress.", samples: [{ labels: {}, value: dups!.live }] },
    { name: "daybreak_processors", type: "gauge",
      help: "Processor invocations kept (30 days), by status and stop reason; lost: found silent and rescued by the reconciler.",
      samples: processors.map((p) => ({ labels: { status: p.status, stop_reason: p.stop_reason }, value: p.n })) },
  ];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

export function renderMetrics(families: Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const { __suffix, ...labels } = s.labels;
      const name = f.type === "histogram" ? `${f.name}${__suffix ?? "_bucket"}` : f.name;
      const rendered = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",");
      lines.push(`${name}${rendered ? `{${rendered}}` : ""} ${Number.isFinite(s.value) ? s.value : 0}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
