// The closing reconcile: after the run ended and the fleet wound down, the soak reconciles as of a
// moment past every threshold and keeps what it repaired. The periodic reconciler and the
// processors should have left it nothing to do; a repair is excused only by a fault that makes it
// necessary: a killed worker (a lost processor, its claims, its invocation, a stale job) or a lost
// kick (a processor that never started).
import type { Sql } from "../lib/db.ts";
import { KICK_LOSING, WORKER_KILLS, type InjectedFault } from "./faults.ts";

/** What scheduler.reconcile reported, and the processors it stopped, by stop_reason. */
export interface ClosingReconcile {
  report: {
    stale: number;
    resumed: number;
    finalized: number;
    failed: number;
    runs_closed: number;
    rescued: { processors: number; tasks: number };
  };
  stopped: Record<string, number>;
}

/** Reconciles as of the moment every threshold has passed (the abandon threshold, the longest, plus
 * a minute) and returns its report with the processors it stopped, found by that moment. */
export async function closingReconcile(sql: Sql): Promise<ClosingReconcile> {
  const [row] = await sql<{ report: ClosingReconcile["report"]; at: string }[]>`
    with moment as (select now() + make_interval(mins => scheduler.config_int('abandoned_invocation_minutes') + 1) as at)
    select scheduler.reconcile(false, at) as report, at::text from moment`;
  // The moment goes back as text: as a timestamptz parameter it would pass through a JS Date and
  // lose its microseconds, and match no processor.
  const stopped = await sql<{ reason: string; n: number }[]>`
    select stop_reason as reason, count(*)::int as n from scheduler.processors
     where stopped_at = ${row!.at}::text::timestamptz group by 1`;
  return { report: row!.report, stopped: Object.fromEntries(stopped.map((r) => [r.reason, r.n])) };
}

export function checkClosingReconcile(r: ClosingReconcile, faults: InjectedFault[], violations: string[]): void {
  const killed = faults.some((f) => WORKER_KILLS.has(f.kind));
  const kickLost = faults.some((f) => KICK_LOSING.has(f.kind));
  const { stale, resumed, finalized, failed, runs_closed, rescued } = r.report;
  const afterKills = { stale, resumed, finalized, failed, runs_closed, tasks_rescued: rescued.tasks, lost_processors: r.stopped.lost ?? 0 };
  const repaired = Object.entries(afterKills).filter(([, n]) => n > 0);
  if (!killed && repaired.length > 0) {
    violations.push(`the closing reconcile repaired what no kill explains: ${repaired.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  }
  const neverStarted = r.stopped.never_started ?? 0;
  if (!kickLost && neverStarted > 0) violations.push(`the closing reconcile stopped ${neverStarted} processor(s) that never started, with no lost kick to explain it`);
  const other = Object.entries(r.stopped).filter(([reason]) => reason !== "lost" && reason !== "never_started");
  if (other.length > 0) violations.push(`the closing reconcile stopped processors for ${other.map(([k, n]) => `${k} ${n}`).join(", ")}`);
}
