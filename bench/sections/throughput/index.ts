// Section 1, task throughput: daybreak's task path at 1/4/16 workers against pg-boss and
// graphile-worker doing the equivalent no-op job, with pgbench's single-row UPDATE TPS as the
// physical anchor, all on the same cluster in the same run.
import { seedOrganizations } from "../../../harness/fixtures.ts";
import type { ThroughputSizes } from "../../lib/config.ts";
import { clearRunState, type Sql } from "../../lib/db.ts";
import { startMockProcess } from "../../../harness/mock-provider/process.ts";
import { log, table } from "../../lib/report.ts";
import { median, round } from "../../lib/stats.ts";
import { runAdapterOnly, type AdapterSample } from "./adapter-only.ts";
import { runDaybreakPass, variantLabel } from "./daybreak.ts";
import { runGraphileWorker } from "./graphile-worker.ts";
import { runPgBoss } from "./pg-boss.ts";
import { runPgbench, type PgbenchSample } from "./pgbench.ts";
import type { DuplicateCauses, ThroughputSample } from "./types.ts";

export interface ThroughputRow {
  system: string;
  workers: number;
  batch: number;
  medianTasksPerSecond: number;
  samplesTasksPerSecond: number[];
  duplicates: number;
  /** daybreak only: what `duplicates` sums over the passes, and why tasks were attempted again. */
  duplicateCauses?: DuplicateCauses;
  missing: number;
  /** Median cores busy during the passes: the worker process and the Postgres cluster. */
  cpu: { node: number; postgres: number | null };
  /** Passes whose run stayed `running` after every batch job ended (finalize race; see BENCHMARKS.md). */
  runsLeftRunning: number;
  /** Median tasks/s over the faster library's median at the same worker count. */
  ratioToFasterLibrary: number | null;
}

export interface ThroughputResult {
  tasks: number;
  repetitions: number;
  rows: ThroughputRow[];
  pgbench: PgbenchSample[];
  adapterOnly: AdapterSample[];
  /** Target: daybreak's task path (provider over HTTP, as the target states it) at the top worker
   * count ≥ 1.5 × the faster library, 0 duplicates. */
  target: ThroughputTarget | null;
  /** The same comparison for the in-memory provider (no socket: the no-op equivalent). */
  noOpEquivalent: ThroughputTarget | null;
}

export interface ThroughputTarget {
  workers: number;
  system: string;
  daybreak: number;
  fasterLibrary: number;
  ratio: number;
  goal: 1.5;
  met: boolean;
}

const LIBRARIES = ["pg-boss", "graphile-worker"];

export async function benchThroughput(sql: Sql, s: ThroughputSizes): Promise<{ result: ThroughputResult; report: string }> {
  const tasks = s.organizations * s.promptsPerOrg;
  const mock = await startMockProcess(0);
  const samples: ThroughputSample[] = [];
  const adapterOnly: AdapterSample[] = [];
  try {
    await seedOrganizations(sql, { organizations: s.organizations, promptsPerOrg: s.promptsPerOrg, providers: { mock: mock.url } });
    let pass = 0;
    for (const workers of s.workers) {
      for (const variant of s.daybreakVariants) {
        for (let rep = 0; rep < s.repetitions; rep++) {
          const runKey = `2026-01-${String((++pass % 28) + 1).padStart(2, "0")}`;
          const sample = await runDaybreakPass(sql, { ...variant, workers, runKey, mock });
          log(`${variantLabel(variant)} workers=${workers} claim=${variant.claimBatch}: ${Math.round(sample.tasksPerSecond)} tasks/s (${sample.seconds.toFixed(2)} s)`);
          if (sample.duplicates > 0) log(`  counted as duplicates: ${JSON.stringify(sample.duplicateCauses)}`);
          samples.push(sample);
        }
      }
      const http = s.daybreakVariants.filter((v) => v.provider === "http").map((v) => v.claimBatch);
      if (http.length) adapterOnly.push(await runAdapterOnly(mock, workers * Math.max(...http), tasks));
      if (!s.libraryWorkers.includes(workers)) continue;
      const lib = { workers, batch: s.libraryBatch, tasks, repetitions: s.repetitions };
      for (const sample of [...(await runPgBoss(sql, lib)), ...(await runGraphileWorker(sql, lib))]) {
        log(`${sample.system} workers=${workers} batch=${sample.batch}: ${Math.round(sample.tasksPerSecond)} jobs/s (${sample.seconds.toFixed(2)} s)`);
        samples.push(sample);
      }
    }
  } finally {
    await mock.stop();
    await clearRunState(sql);
    await sql`truncate public.organizations cascade`;
  }
  log("pgbench single-row UPDATE");
  const pgbench = await runPgbench(sql, { clients: s.pgbenchClients, seconds: s.pgbenchSeconds, scale: s.pgbenchScale });

  const rows = aggregate(samples);
  const result: ThroughputResult = {
    tasks, repetitions: s.repetitions, rows, pgbench, adapterOnly,
    target: target(rows, variantLabel({ provider: "http", claimBatch: 0 })),
    noOpEquivalent: target(rows, variantLabel({ provider: "memory", claimBatch: 0 })),
  };
  return { result, report: render(result) };
}

function sumCauses(all: DuplicateCauses[]): DuplicateCauses {
  const reattemptedBy: Record<string, number> = {};
  for (const c of all) for (const [error, n] of Object.entries(c.reattemptedBy)) reattemptedBy[error] = (reattemptedBy[error] ?? 0) + n;
  const sum = (pick: (c: DuplicateCauses) => number) => all.reduce((n, c) => n + pick(c), 0);
  return { extraResults: sum((c) => c.extraResults), refusedCompletions: sum((c) => c.refusedCompletions), repeatedCalls: sum((c) => c.repeatedCalls), reattemptedBy };
}

function aggregate(samples: ThroughputSample[]): ThroughputRow[] {
  const groups = new Map<string, ThroughputSample[]>();
  for (const sample of samples) {
    const key = `${sample.system}|${sample.workers}|${sample.batch}`;
    groups.set(key, [...(groups.get(key) ?? []), sample]);
  }
  const rows: ThroughputRow[] = [...groups.values()].map((g) => ({
    system: g[0]!.system,
    workers: g[0]!.workers,
    batch: g[0]!.batch,
    medianTasksPerSecond: round(median(g.map((x) => x.tasksPerSecond)), 0),
    samplesTasksPerSecond: g.map((x) => round(x.tasksPerSecond, 0)),
    duplicates: g.reduce((n, x) => n + x.duplicates, 0),
    ...(g[0]!.duplicateCauses ? { duplicateCauses: sumCauses(g.map((x) => x.duplicateCauses!)) } : {}),
    missing: g.reduce((n, x) => n + x.missing, 0),
    runsLeftRunning: g.reduce((n, x) => n + (x.runsLeftRunning ?? 0), 0),
    cpu: {
      node: round(median(g.map((x) => x.cpu.node)), 2),
      postgres: g.every((x) => x.cpu.postgres !== null) ? round(median(g.map((x) => x.cpu.postgres!)), 2) : null,
    },
    ratioToFasterLibrary: null,
  }));
  for (const row of rows) {
    const best = fasterLibrary(rows, row.workers);
    row.ratioToFasterLibrary = best ? round(row.medianTasksPerSecond / best, 3) : null;
  }
  return rows;
}

function fasterLibrary(rows: ThroughputRow[], workers: number): number | null {
  const libs = rows.filter((r) => r.workers === workers && LIBRARIES.includes(r.system));
  return libs.length ? Math.max(...libs.map((r) => r.medianTasksPerSecond)) : null;
}

function target(rows: ThroughputRow[], system: string): ThroughputTarget | null {
  const workers = Math.max(...rows.map((r) => r.workers));
  const best = fasterLibrary(rows, workers);
  const daybreak = rows.filter((r) => r.workers === workers && r.system === system);
  if (!best || daybreak.length === 0) return null;
  const top = Math.max(...daybreak.map((r) => r.medianTasksPerSecond));
  const ratio = round(top / best, 3);
  const clean = rows.every((r) => r.duplicates === 0 && r.missing === 0);
  return { workers, system, daybreak: top, fasterLibrary: best, ratio, goal: 1.5, met: ratio >= 1.5 && clean };
}

function render(r: ThroughputResult): string {
  const main = table(
    `1. Task throughput (${r.tasks.toLocaleString("en-US")} tasks, median of ${r.repetitions})`,
    ["system", "workers", "batch", "tasks/s", "samples", "× faster lib", "node CPU", "pg CPU", "dup", "missing", "run left open"],
    r.rows.map((x) => [x.system, x.workers, x.batch, x.medianTasksPerSecond, x.samplesTasksPerSecond.join(" / "),
      x.ratioToFasterLibrary ?? "-", x.cpu.node, x.cpu.postgres ?? "-", x.duplicates, x.missing,
      x.system.startsWith("daybreak") ? x.runsLeftRunning : "-"]),
  );
  const bench = table("   pgbench single-row UPDATE (same cluster)", ["clients", "TPS"], r.pgbench.map((p) => [p.clients, round(p.tps, 0)]));
  const adapter = table("   provider adapter → mock only, no database (ceiling of the HTTP leg)", ["concurrency", "calls/s"],
    r.adapterOnly.map((a) => [a.concurrency, round(a.callsPerSecond, 0)]));
  return [main, bench, adapter].join("\n");
}
