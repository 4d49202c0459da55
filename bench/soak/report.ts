// The soak's summary (bench/results/soak.json) and its table.
import { table } from "../lib/report.ts";
import { percentile, round } from "../lib/stats.ts";
import { FAULT_KINDS, type FaultKind } from "./faults.ts";
import type { RunRecord } from "./run-once.ts";

export interface RecoverySummary {
  /** Faults after which the run still had work, so a recovery could be measured. */
  n: number;
  /** Faults that struck while an earlier stop (a kill, a restart) was still holding the run up:
   * the progress after them is that earlier fault's, so they are not counted in n. */
  overlapped: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export interface SoakSummary {
  date: string;
  commit: string;
  finished: boolean;
  options: Record<string, unknown>;
  runs: number;
  runs_with_faults: number;
  violations: number;
  faults: Record<FaultKind, number>;
  faults_skipped: number;
  recovery_seconds: Record<FaultKind, RecoverySummary>;
  /** Faults after which progress stops until recovery, whose recovery masks a later fault's. */
  overlap_rule: string;
  run_seconds: { p50: number; p95: number; max: number };
  runs_by_status: Record<string, number>;
  tasks: { planned: number; succeeded: number; failed: number; cancelled: number };
  repeated_answers: number;
  violation_details: { run: number; violation: string }[];
  run_records: RunRecord[];
}

export function summarize(records: RunRecord[], meta: { date: string; commit: string; options: Record<string, unknown>; finished: boolean }): SoakSummary {
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const recoveries = Object.fromEntries(FAULT_KINDS.map((k) => [k, [] as number[]])) as Record<FaultKind, number[]>;
  const overlapped = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const tasks = { planned: 0, succeeded: 0, failed: 0, cancelled: 0 };
  const byStatus: Record<string, number> = {};
  for (const r of records) {
    for (const f of r.faults) {
      faults[f.kind] += 1;
      if (f.recovery_s === null) continue;
      if (stillStoppedBy(r.faults, f)) overlapped[f.kind] += 1;
      else recoveries[f.kind].push(f.recovery_s);
    }
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    for (const k of Object.keys(tasks) as (keyof typeof tasks)[]) tasks[k] += r.tasks?.[k] ?? 0;
  }
  const durations = records.map((r) => r.duration_s);
  const stat = (xs: number[], p: number) => (xs.length === 0 ? null : round(percentile(xs, p), 1));
  return {
    date: meta.date,
    commit: meta.commit,
    finished: meta.finished,
    options: meta.options,
    runs: records.length,
    runs_with_faults: records.filter((r) => r.faults.length > 0).length,
    violations: records.reduce((n, r) => n + r.violations.length, 0),
    faults,
    faults_skipped: records.reduce((n, r) => n + r.faults_skipped.length, 0),
    recovery_seconds: Object.fromEntries(FAULT_KINDS.map((k) => {
      const xs = recoveries[k];
      return [k, { n: xs.length, overlapped: overlapped[k], p50: stat(xs, 50), p95: stat(xs, 95), max: xs.length === 0 ? null : round(Math.max(...xs), 1) }];
    })) as Record<FaultKind, RecoverySummary>,
    overlap_rule: "a fault that strikes while an earlier kill (of the runtime or of one runtime) or restart of the same run has not yet been recovered from is counted as overlapped, not measured",
    run_seconds: { p50: stat(durations, 50) ?? 0, p95: stat(durations, 95) ?? 0, max: round(Math.max(0, ...durations), 1) },
    runs_by_status: byStatus,
    tasks,
    repeated_answers: records.reduce((n, r) => n + r.repeated_answers, 0),
    violation_details: records.flatMap((r) => r.violations.map((violation) => ({ run: r.index, violation }))),
    run_records: records,
  };
}

/** Faults that can stop a run's progress until they are recovered from (a single runtime's kill
 * does when it held every invocation the run had; its recovery is then the rescue). */
const STOPPING: ReadonlySet<FaultKind> = new Set(["functions_kill", "invocation_kill", "pg_restart_fast", "pg_restart_immediate"]);

/** Whether an earlier kill or restart of the run had not yet been recovered from when f struck. */
function stillStoppedBy(faults: RunRecord["faults"], f: RunRecord["faults"][number]): boolean {
  return faults.some((g) => g !== f && STOPPING.has(g.kind) && g.at_s < f.at_s && g.recovery_s !== null && g.at_s + g.recovery_s > f.at_s);
}

export function renderSoakTable(s: SoakSummary): string {
  const head = table(`Fault soak (${s.date}, ${s.commit}${s.finished ? "" : ", interrupted"})`, ["", "value"], [
    ["runs", s.runs],
    ["runs with faults", s.runs_with_faults],
    ["faults injected", Object.values(s.faults).reduce((a, b) => a + b, 0)],
    ["faults not injected (run already over)", s.faults_skipped],
    ["violations", s.violations],
    ["tasks planned / succeeded / failed / cancelled", `${s.tasks.planned} / ${s.tasks.succeeded} / ${s.tasks.failed} / ${s.tasks.cancelled}`],
    ["provider answers wasted (each explained by a fault)", s.repeated_answers],
    ["run seconds p50 / p95 / max", `${s.run_seconds.p50} / ${s.run_seconds.p95} / ${s.run_seconds.max}`],
    ["runs by status", Object.entries(s.runs_by_status).map(([k, v]) => `${k} ${v}`).join(", ")],
  ]);
  const fmt = (v: number | null) => (v === null ? "-" : v.toFixed(1));
  const kinds = table("Faults and recovery (seconds from the fault to the run's next task done; invocation_kill: to the rescue of the invocations it killed)", ["fault", "injected", "measured", "overlapped", "p50", "p95", "max"],
    FAULT_KINDS.map((k) => {
      const r = s.recovery_seconds[k];
      return [k, s.faults[k], r.n, r.overlapped, fmt(r.p50), fmt(r.p95), fmt(r.max)];
    }));
  const violations = s.violation_details.length === 0 ? "" : `\n\nViolations:\n${s.violation_details.map((v) => `  run ${v.run}: ${v.violation}`).join("\n")}`;
  return `${head}\n${kinds}${violations}`;
}
