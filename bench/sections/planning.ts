// Section 3, planning at scale: claim a day and plan 10,000 organizations × 20 prompts ×
// 3 providers (600,000 tasks) in ONE scheduler.try_mark_daily_run call (one transaction), run
// from a fresh Node process (planning-child.ts): seconds, peak memory of that calling process,
// and its Postgres backend's memory. Vault is unset, so the processor kicks are skipped with a
// warning and no HTTP request is queued.
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import type { ShapeSizes } from "../lib/config.ts";
import { analyzeSchemas, clearRunState, databaseUrl, type Sql } from "../lib/db.ts";
import { ROOT } from "../../scripts/lib/root.ts";
import { log, table } from "../lib/report.ts";
import { round } from "../lib/stats.ts";

const run = promisify(execFile);

interface ChildReport {
  seconds: number;
  plan: { updated: boolean; tasks: number; batch_jobs: number; configuration_errors: number };
  caller: { rssBeforeKiB: number; peakRssKiB: number };
  backend: { peakRssAnonKiB: number; peakRssKiB: number; hwmKiB: number } | null;
}

export interface PlanningResult {
  organizations: number;
  tasks: number;
  batchJobs: number;
  seconds: number;
  callerPeakRssMiB: number;
  callerRssBeforeCallMiB: number;
  /** Private (anonymous) memory of the Postgres backend at its peak during the call. */
  backendPeakPrivateMiB: number | null;
  /** Backend RSS high-water mark, shared buffers it touched included. */
  backendPeakRssMiB: number | null;
  /** Target: < 15 s for 600,000 tasks. */
  target: { goalSeconds: 15; goalTasks: 600_000; met: boolean | null };
}

const mib = (kib: number) => round(kib / 1024, 1);

export async function benchPlanning(sql: Sql, s: ShapeSizes): Promise<{ result: PlanningResult; report: string }> {
  await resetState(sql);
  const providers = Object.fromEntries(Array.from({ length: s.providers }, (_, i) => [`plan-${i + 1}`, "http://127.0.0.1:9/v1"]));
  log(`planning: seeding ${s.organizations} organizations × ${s.promptsPerOrg} prompts × ${s.providers} providers`);
  await seedOrganizations(sql, { organizations: s.organizations, promptsPerOrg: s.promptsPerOrg, providers });
  await analyzeSchemas(sql, "scheduler", "public");
  await sql`checkpoint`;
  log("planning: one try_mark_daily_run call");
  const { stdout } = await run(path.join(ROOT, "node_modules/.bin/tsx"), [path.join(ROOT, "bench/sections/planning-child.ts")], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl(), PLAN_RUN_KEY: "2026-02-01" },
    maxBuffer: 1 << 20,
  });
  const child = JSON.parse(stdout.trim().split("\n").pop()!) as ChildReport;
  if (!child.plan.updated) throw new Error("planning: the period was already claimed");
  await clearRunState(sql);
  const fullSize = child.plan.tasks >= 600_000;
  const result: PlanningResult = {
    organizations: s.organizations,
    tasks: child.plan.tasks,
    batchJobs: child.plan.batch_jobs,
    seconds: round(child.seconds, 3),
    callerPeakRssMiB: mib(child.caller.peakRssKiB),
    callerRssBeforeCallMiB: mib(child.caller.rssBeforeKiB),
    backendPeakPrivateMiB: child.backend ? mib(child.backend.peakRssAnonKiB) : null,
    backendPeakRssMiB: child.backend ? mib(Math.max(child.backend.hwmKiB, child.backend.peakRssKiB)) : null,
    target: { goalSeconds: 15, goalTasks: 600_000, met: fullSize ? child.seconds < 15 : null },
  };
  return { result, report: render(result) };
}

function render(r: PlanningResult): string {
  return table(
    "3. Planning at scale (one try_mark_daily_run call = one transaction)",
    ["organizations", "batch jobs", "tasks", "seconds", "tasks/s", "caller peak RSS MiB", "backend private MiB", "backend RSS MiB"],
    [[r.organizations, r.batchJobs, r.tasks, r.seconds, round(r.tasks / r.seconds, 0), r.callerPeakRssMiB,
      r.backendPeakPrivateMiB ?? "-", r.backendPeakRssMiB ?? "-"]],
  );
}
