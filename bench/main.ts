// The benchmark driver, run by bench/run against a throwaway cluster (DATABASE_URL). Runs the
// sections in an order that keeps them independent (each resets the state it uses), prints a
// table per section and a target summary, and writes the results with the machine they ran on.
//   tsx bench/main.ts [--quick] [--only=throughput,latency,e2e,paced-day,dashboard,idle,org-day,planning,reconciler]
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { FULL, QUICK, type BenchSizes } from "./lib/config.ts";
import { connect, type Sql } from "./lib/db.ts";
import { installNetCapture } from "../harness/net-capture.ts";
import { describeMachine } from "./lib/machine.ts";
import { ROOT } from "../scripts/lib/root.ts";
import { log, table, writeResults } from "./lib/report.ts";
import { summarizeTargets, type SectionResults, type TargetLine } from "./lib/targets.ts";
import { benchDashboard } from "./sections/dashboard.ts";
import { benchE2e } from "./sections/e2e.ts";
import { benchIdle } from "./sections/idle.ts";
import { benchLatency } from "./sections/latency.ts";
import { benchOrgDay } from "./sections/org-day.ts";
import { benchPacedDay } from "./sections/paced-day/index.ts";
import { benchPlanning } from "./sections/planning.ts";
import { benchReconciler } from "./sections/reconciler.ts";
import { benchThroughput } from "./sections/throughput/index.ts";

type SectionName = "throughput" | "latency" | "e2e" | "paced-day" | "dashboard" | "idle" | "org-day" | "planning" | "reconciler";
type Section = (sql: Sql, sizes: BenchSizes) => Promise<{ result: unknown; report: string }>;

// Planning runs before the reconciler: the reconciler section reuses its 10,000 organizations.
const SECTIONS: [SectionName, Section][] = [
  ["throughput", (sql, s) => benchThroughput(sql, s.throughput)],
  ["latency", (sql, s) => benchLatency(sql, s.latency)],
  ["e2e", (sql, s) => benchE2e(sql, s.e2e)],
  ["paced-day", (sql, s) => benchPacedDay(sql, s.pacedDay)],
  ["dashboard", (sql, s) => benchDashboard(sql, s.dashboard)],
  ["idle", (sql, s) => benchIdle(sql, s.idle)],
  ["org-day", (sql, s) => benchOrgDay(sql, s.orgDay)],
  ["planning", (sql, s) => benchPlanning(sql, s.planning)],
  ["reconciler", (sql, s) => benchReconciler(sql, s.reconciler)],
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, only: { type: "string" } } });
  const quick = values.quick === true;
  const only = values.only ? new Set(values.only.split(",")) : null;
  const unknown = [...(only ?? [])].filter((n) => !SECTIONS.some(([name]) => name === n));
  if (unknown.length) throw new Error(`unknown section(s) ${unknown.join(", ")}; known: ${SECTIONS.map(([n]) => n).join(", ")}`);
  const sizes = quick ? QUICK : FULL;
  const sql = connect(4);
  const started = performance.now();
  try {
    // The suites' fixtures reset the queued-request copy too; the bench shares them.
    await installNetCapture(sql);
    const machine = await describeMachine(sql);
    const results: Record<string, unknown> = {};
    const reports: string[] = [];
    const failed: Record<string, string> = {};
    for (const [name, section] of SECTIONS) {
      if (only && !only.has(name)) continue;
      log(`section ${name}`);
      const t = performance.now();
      try {
        const { result, report } = await section(sql, sizes);
        results[name] = result;
        reports.push(report);
        log(`section ${name} done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      } catch (error) {
        // One broken section must not cost the others' results: record it and go on.
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        console.error(`section ${name} failed: ${message}`);
        failed[name] = message.split("\n")[0]!;
        reports.push(`\n${name}: FAILED (${failed[name]})`);
      }
    }
    const targets: TargetLine[] = summarizeTargets(results as SectionResults);
    reports.push(table("Targets (goals, not assertions)", ["target", "goal", "measured", "met"],
      targets.map((t) => [t.name, t.goal, t.measured, t.met === null ? "-" : t.met ? "yes" : "NO"])));
    // A partial run must not overwrite the full run's results.
    const name = only ? `only-${[...only].sort().join("-")}` : "latest";
    const file = path.join(ROOT, "bench/results", quick ? "quick.json" : `${name}.json`);
    const totalSeconds = Math.round((performance.now() - started) / 100) / 10;
    const loadAverageAtEnd = os.loadavg().map((l) => Math.round(l * 100) / 100);
    writeResults(file, { mode: quick ? "quick" : "full", totalSeconds, machine, loadAverageAtEnd, sizes, results, failed, targets });
    process.stdout.write(`${reports.join("\n")}\n\nresults: ${path.relative(ROOT, file)} (${totalSeconds} s)\n`);
    if (Object.keys(failed).length) throw new Error(`section(s) failed: ${Object.keys(failed).join(", ")}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
