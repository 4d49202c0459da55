// The targets (goals, not assertions) against what this run measured.
import type { IdleResult } from "../sections/idle.ts";
import type { DashboardResult } from "../sections/dashboard.ts";
import type { LatencyResult } from "../sections/latency.ts";
import type { OrgDayResult } from "../sections/org-day.ts";
import type { PacedDayResult } from "../sections/paced-day/index.ts";
import type { PlanningResult } from "../sections/planning.ts";
import type { ReconcilerResult } from "../sections/reconciler.ts";
import type { ThroughputResult } from "../sections/throughput/index.ts";

export interface SectionResults {
  throughput?: ThroughputResult;
  latency?: LatencyResult;
  planning?: PlanningResult;
  reconciler?: ReconcilerResult;
  idle?: IdleResult;
  "paced-day"?: PacedDayResult;
  dashboard?: DashboardResult;
  "org-day"?: OrgDayResult;
}

export interface TargetLine {
  name: string;
  goal: string;
  measured: string;
  /** null when this run's sizes are not the ones the target is defined for (--quick). */
  met: boolean | null;
}

export function summarizeTargets(r: SectionResults): TargetLine[] {
  const lines: TargetLine[] = [];
  if (r.throughput) {
    const dup = r.throughput.rows.reduce((n, x) => n + x.duplicates + x.missing, 0);
    for (const t of [r.throughput.target, r.throughput.noOpEquivalent]) {
      if (!t) continue;
      lines.push({
        name: `throughput ${t.workers} workers: ${t.system}`,
        goal: "≥ 1.5× faster library, 0 dup",
        measured: `${t.ratio}× (${t.daybreak} vs ${t.fasterLibrary}/s), ${dup} dup/missing`,
        met: t.met,
      });
    }
  }
  if (r.planning) {
    lines.push({
      name: `plan ${r.planning.tasks.toLocaleString("en-US")} tasks`,
      goal: "600,000 tasks < 15 s",
      measured: `${r.planning.seconds} s`,
      met: r.planning.target.met,
    });
  }
  if (r.reconciler) {
    lines.push({
      name: `stale scan, ${r.reconciler.historicalTasks.toLocaleString("en-US")} historical tasks`,
      goal: "< 5 ms (1M tasks)",
      measured: `p50 ${r.reconciler.staleScanMs.p50} ms (server ${r.reconciler.staleScanServerMs} ms)`,
      met: r.reconciler.target.met,
    });
  }
  if (r.idle) {
    const i = r.idle;
    lines.push({
      name: "idle day: HTTP requests from ticks",
      goal: "trigger ≤ 2, reconciler 0 after run",
      measured: `trigger ${i.httpRequests.trigger}, reconciler ${i.httpRequests.reconciler} (legacy ${i.legacy.invocationsPerDay})`,
      met: i.target.met,
    });
  }
  if (r.latency) {
    lines.push({
      name: "already_ran latency p50",
      goal: "< 20 ms",
      measured: `server ${r.latency.target.p50ServerMs} ms, client ${r.latency.target.p50ClientMs} ms`,
      met: r.latency.target.met,
    });
  }
  const orgDay = r["org-day"];
  if (orgDay) {
    const full = orgDay.organizations >= 10_000;
    const t = orgDay.target;
    lines.push(
      { name: `org day: a tick with nothing due, ${orgDay.organizations.toLocaleString("en-US")} organizations`, goal: "< 20 ms, no HTTP call",
        measured: `p95 ${t.idleTickP95Ms} ms, ${orgDay.httpRequests.idleTicks} requests`, met: t.idleTickP95Ms < 20 && orgDay.httpRequests.idleTicks === 0 },
      { name: "org day: the busiest tick's organizations claimed and planned", goal: "1,000 due in < 2 s",
        measured: `${t.busiestStarted} in ${t.busiestPlanMs} ms`, met: full ? t.busiestPlanMs < 2000 && t.busiestStarted >= 900 : null },
      { name: "org day: organizations left without their run", goal: "0", measured: String(orgDay.organizationsWithoutRun), met: orgDay.organizationsWithoutRun === 0 },
    );
  }
  const paced = r["paced-day"];
  if (paced) lines.push(...pacedDayTargets(paced));
  if (r.dashboard) {
    const d = r.dashboard;
    const full = d.tasksPerDay >= 6000;
    for (const [what, ms] of [["data", d.dataMs], ["metrics", d.metricsMs]] as const) {
      lines.push({ name: `dashboard ${what}, ${d.days} days × ${d.tasksPerDay} tasks`, goal: "< 200 ms", measured: `${ms.p50} ms p50, ${ms.p95} ms p95`, met: full ? ms.p50 < 200 : null });
    }
  }
  return lines;
}

function pacedDayTargets(p: PacedDayResult): TargetLine[] {
  const full = p.plan.lowerBoundSeconds >= 100; // --quick's plan is too short for the goals
  const daybreak = [p.configured, p.learned];
  const share = Math.max(...daybreak.map((d) => d.rateLimitedShare));
  const bad = daybreak.reduce((n, d) => n + d.duplicates + d.notTerminal, 0);
  const workerCpu = Math.max(...daybreak.map((d) => d.maxWorkerCpuMs ?? Infinity));
  const kills = daybreak.reduce((n, d) => n + Object.values(d.workerKills ?? {}).reduce((a, b) => a + b, 0), 0);
  const connections = p.fleetAtCap?.peakConnections ?? Infinity;
  const bestPeer = Math.max(...p.bestPeers.map((b) => b.efficiency));
  const met = (ok: boolean) => (full ? ok : null);
  return [
    { name: "paced day η, limits configured", goal: "≥ 0.9", measured: String(p.configured.efficiency), met: met(p.configured.efficiency >= 0.9) },
    { name: "paced day η, limits learned", goal: "≥ 0.85", measured: String(p.learned.efficiency), met: met(p.learned.efficiency >= 0.85) },
    { name: "paced day 429s", goal: "≤ 2% of calls", measured: `${(share * 100).toFixed(2)}%`, met: met(share <= 0.02) },
    { name: "paced day duplicates + not terminal", goal: "0", measured: String(bad), met: bad === 0 },
    { name: "paced day: a processor worker's CPU (free plan)", goal: "< 2,000 ms", measured: `${workerCpu} ms max`, met: met(workerCpu < 2000) },
    { name: "paced day: workers killed for a limit", goal: "0", measured: String(kills), met: kills === 0 },
    { name: "paced day: daybreak's database connections, the fleet at its cap", goal: "≤ 30", measured: `${connections} at most`, met: met(connections <= 30) },
    {
      name: "paced day η vs peers", goal: "above both", measured: `${Math.min(p.configured.efficiency, p.learned.efficiency)} vs best peer ${bestPeer}`,
      met: met(Math.min(p.configured.efficiency, p.learned.efficiency) > bestPeer),
    },
  ];
}
