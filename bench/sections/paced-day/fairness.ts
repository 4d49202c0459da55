// Fairness across organizations of skewed sizes: when each organization's last result landed,
// from the run's start (the run row's creation), against the whole day's makespan. The smallest
// organizations (the tenth with the fewest tasks) should not wait for the largest: the goal is their
// p99 completion ≤ 0.25 of the makespan.
import type { Sql } from "../../lib/db.ts";
import { percentile, round } from "../../lib/stats.ts";

export interface Fairness {
  organizations: number;
  smallestTasks: number;
  largestTasks: number;
  makespanSeconds: number;
  /** Completion ÷ makespan: p50 and p99 of the smallest tenth, of all, and the largest's. */
  smallestP50: number;
  smallestP99: number;
  allP50: number;
  largest: number;
  /** By organization size, fifths from the smallest: tasks range and completion ÷ makespan p50 / p99. */
  bySize: { tasks: string; p50: number; p99: number }[];
  /** Every organization: its tasks and the seconds from the run's start to its last result. */
  perOrganization: { tasks: number; seconds: number }[];
}

export async function measureFairness(sql: Sql, runId: string): Promise<Fairness | null> {
  const rows = await sql<{ tasks: number; seconds: number }[]>`
    select count(*)::int as tasks, extract(epoch from max(pr.created_at) - r.created_at)::float8 as seconds
      from public.prompt_results pr join scheduler.runs r on r.id = pr.run_id
     where pr.run_id = ${runId}
     group by pr.org_id, r.created_at`;
  if (rows.length === 0) return null;
  const makespan = Math.max(...rows.map((r) => r.seconds));
  const bySize = [...rows].sort((a, b) => a.tasks - b.tasks || a.seconds - b.seconds);
  const smallest = bySize.slice(0, Math.max(1, Math.floor(rows.length / 10))).map((r) => r.seconds / makespan);
  return {
    organizations: rows.length,
    smallestTasks: bySize[0]!.tasks,
    largestTasks: bySize.at(-1)!.tasks,
    makespanSeconds: round(makespan, 1),
    smallestP50: round(percentile(smallest, 50), 3),
    smallestP99: round(percentile(smallest, 99), 3),
    allP50: round(percentile(rows.map((r) => r.seconds / makespan), 50), 3),
    largest: round(bySize.at(-1)!.seconds / makespan, 3),
    bySize: [0, 1, 2, 3, 4].map((i) => {
      const part = bySize.slice(Math.floor((i * bySize.length) / 5), Math.floor(((i + 1) * bySize.length) / 5));
      const xs = part.map((r) => r.seconds / makespan);
      return { tasks: part.length ? `${part[0]!.tasks}–${part.at(-1)!.tasks}` : "-", p50: round(percentile(xs, 50), 3), p99: round(percentile(xs, 99), 3) };
    }),
    perOrganization: bySize.map((r) => ({ tasks: r.tasks, seconds: round(r.seconds, 1) })),
  };
}
