// The targets (goals, not assertions) against what this run measured.
import type { IdleResult } from "../sections/idle.ts";
import type { DashboardResult } from "../sections/dashboard.ts";
import type { LatencyResult } from "../sections/latency.ts";
import type { OrgDayResult } from "../sections/org-day.ts";
import type { PacedDayResult } from "../sections/paced-day/index.ts";
import type { Spread } from "../sections/paced-day/summary.ts";
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
  const full = p.plan.tasks >= 500; // --quick's days are too short for the goals
  const met = (ok: boolean) => (full ? ok : null);
  const f = (s: Spread, d = 2) => (s.n ? `${s.median.toFixed(d)} (${s.min.toFixed(d)}–${s.max.toFixed(d)})` : "-");
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const lines: TargetLine[] = p.summaries.filter((s) => s.kind !== "no-limit").map((s) => ({
    name: `paced day, ${s.kind}: η and 429s, limits not configured`,
    goal: "η ≥ 0.9, 429s ≤ 2%",
    measured: `η ${f(s.efficiency)}, 429s ${pct(s.rateLimitedShare.median)} (max ${pct(s.rateLimitedShare.max)})`,
    met: met(s.efficiency.median >= 0.9 && s.rateLimitedShare.median <= 0.02),
  }));
  const background = p.summaries.find((s) => s.kind === "background");
  if (background) {
    lines.push({
      name: "paced day, background: the other clients keep their 30% of the key", goal: "≥ 27% of what the key admitted",
      measured: f(background.backgroundShare, 3), met: met(background.backgroundShare.median >= 0.27),
    });
  }
  const settled = p.capacity.settledRatio;
  lines.push({
    name: "paced day, no-limit: concurrency found vs best fixed", goal: "within 20%",
    measured: `${f(settled)} × ${p.capacity.bestConcurrency}`, met: met(settled.n > 0 && Math.abs(settled.median - 1) <= 0.2),
  });
  const held = p.summaries.every((s) => s.limitsHeld) && p.large.perProvider.every((x) => x.limitsHeld);
  lines.push({ name: "paced day: the simulator admitted no window over its limit", goal: "yes", measured: held ? "yes" : "NO", met: held });
  lines.push({
    name: "paced day: smallest organizations' p99 completion ÷ makespan", goal: "≤ 0.25",
    measured: `kinds day ${f(p.fairness.smallestP99)}; large day ${p.large.pass.fairness?.smallestP99 ?? "-"}`,
    met: met(p.fairness.smallestP99.median <= 0.25 && (p.large.pass.fairness?.smallestP99 ?? 1) <= 0.25),
  });
  lines.push({
    name: `large day: ${p.large.tasks.toLocaleString("en-US")} tasks, makespan ÷ bound`, goal: "≤ 1.2",
    measured: `${p.large.ratio} (${p.large.makespanSeconds} s vs ${p.large.boundSeconds} s)`, met: met(p.large.ratio <= 1.2),
  });
  const all = [...p.passes, p.large.pass];
  const bad = all.reduce((n, d) => n + d.duplicates + d.notTerminal, 0);
  const workerCpu = Math.max(...all.map((d) => d.maxWorkerCpuMs));
  const kills = all.reduce((n, d) => n + Object.values(d.workerKills).reduce((a, b) => a + b, 0), 0);
  lines.push(
    { name: "paced day: duplicates + tasks not terminal", goal: "0", measured: String(bad), met: bad === 0 },
    { name: "paced day: a processor worker's CPU (free plan)", goal: "< 2,000 ms", measured: `${workerCpu} ms max`, met: met(workerCpu < 2000) },
    { name: "paced day: workers killed for a limit", goal: "0", measured: String(kills), met: kills === 0 },
    { name: "large day: daybreak's database connections", goal: "≤ 30", measured: `${p.large.pass.peakConnections} at most`, met: met(p.large.pass.peakConnections <= 30) },
  );
  for (const kind of p.peers.kinds) {
    const mine = p.summaries.find((s) => s.kind === kind)!.efficiency;
    const best = Math.max(...p.peers.systems.map((s) => s.summaries.find((k) => k.kind === kind)!.efficiency.median));
    lines.push({ name: `paced day, ${kind}: η vs tuned peers`, goal: "above both", measured: `${f(mine)} vs best peer ${best}`, met: met(mine.median > best) });
  }
  return lines;
}
