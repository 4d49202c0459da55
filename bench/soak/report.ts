// The soak's summary (bench/results/soak.json) and its table. Keys a reader looks for first:
// runs, violations, faults (by kind: the actions that cannot touch a live run are not faults and
// are listed apart), recovery_seconds (by fault kind) and per_run (each run's outcome and the
// faults that explain its lost tasks).
import { table } from "../lib/report.ts";
import { percentile, round } from "../lib/stats.ts";
import { FAULT_KINDS, NO_EFFECT_ON_LIVE_RUN, PACE_MEASURED, type FaultKind } from "./faults.ts";
import type { RunRecord } from "./run-once.ts";

export interface RecoverySummary {
  /** Faults after which the run's pace could be measured (a pre-fault pace, work left after it). */
  n: number;
  /** Faults that struck before the run had recovered from an earlier one: the pace after them is
   * the earlier fault's too, so they are not counted in n. */
  overlapped: number;
  /** Of n: runs that ran out of work before a full window at pace (recovery is to their end). */
  ended: number;
  p50: number | null;
  p95: number | null;
  max: number | null;
}

export interface RunSummary {
  run: number;
  status: string;
  seconds: number;
  tasks: RunRecord["tasks"];
  faults: { kind: FaultKind; at_s: number; recovery_s: number | null }[];
  /** The faults that explain the run's lost tasks, with how many each explains (by status); the
   * tasks themselves are in run_records[].explained. */
  explained: { fault: FaultKind; fault_at_s: number; failed: number; cancelled: number }[];
  violations: string[];
}

export interface SoakSummary {
  date: string;
  commit: string;
  finished: boolean;
  options: Record<string, unknown>;
  runs: number;
  runs_with_faults: number;
  violations: number;
  faults: Partial<Record<FaultKind, number>>;
  /** Operator actions injected into live runs that cannot affect them (not counted as faults). */
  no_effect_actions: Partial<Record<FaultKind, number>>;
  faults_skipped: number;
  recovery_seconds: Partial<Record<FaultKind, RecoverySummary>>;
  recovery_rule: string;
  run_seconds: { p50: number; p95: number; max: number };
  /** Per run, the most CPU a processor worker spent after it retired: p50, p95 and max over runs. */
  cpu_after_retire_ms: { runs: number; p50: number | null; p95: number | null; max: number | null };
  runs_by_status: Record<string, number>;
  tasks: { planned: number; succeeded: number; failed: number; cancelled: number };
  /** Tasks lost, each tied to an injected fault (per_run says which). */
  tasks_lost_to_faults: number;
  repeated_answers: number;
  violation_details: { run: number; violation: string }[];
  per_run: RunSummary[];
  run_records: RunRecord[];
}

const COUNTED: readonly FaultKind[] = FAULT_KINDS.filter((k) => !NO_EFFECT_ON_LIVE_RUN.has(k));

export function summarize(records: RunRecord[], meta: { date: string; commit: string; options: Record<string, unknown>; finished: boolean }): SoakSummary {
  const faults = Object.fromEntries(COUNTED.map((k) => [k, 0])) as Record<FaultKind, number>;
  const noEffect: Partial<Record<FaultKind, number>> = Object.fromEntries([...NO_EFFECT_ON_LIVE_RUN].map((k) => [k, 0]));
  const recoveries = Object.fromEntries(PACE_MEASURED.map((k) => [k, [] as number[]])) as Record<FaultKind, number[]>;
  const overlapped = Object.fromEntries(PACE_MEASURED.map((k) => [k, 0])) as Record<FaultKind, number>;
  const ended = Object.fromEntries(PACE_MEASURED.map((k) => [k, 0])) as Record<FaultKind, number>;
  const tasks = { planned: 0, succeeded: 0, failed: 0, cancelled: 0 };
  const byStatus: Record<string, number> = {};
  for (const r of records) {
    for (const f of r.faults) {
      if (NO_EFFECT_ON_LIVE_RUN.has(f.kind)) {
        noEffect[f.kind] = (noEffect[f.kind] ?? 0) + 1;
        continue;
      }
      faults[f.kind] += 1;
      if (f.recovery_s === null) continue;
      if (notYetRecovered(r.faults, f)) overlapped[f.kind] += 1;
      else {
        recoveries[f.kind].push(f.recovery_s);
        if (f.recovery_ended) ended[f.kind] += 1;
      }
    }
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    for (const k of Object.keys(tasks) as (keyof typeof tasks)[]) tasks[k] += r.tasks?.[k] ?? 0;
  }
  const durations = records.map((r) => r.duration_s);
  const afterRetire = records.flatMap((r) => (r.max_cpu_after_retire_ms == null ? [] : [r.max_cpu_after_retire_ms]));
  const stat = (xs: number[], p: number) => (xs.length === 0 ? null : round(percentile(xs, p), 1));
  return {
    date: meta.date,
    commit: meta.commit,
    finished: meta.finished,
    options: meta.options,
    runs: records.length,
    runs_with_faults: records.filter((r) => r.faults.some((f) => !NO_EFFECT_ON_LIVE_RUN.has(f.kind))).length,
    violations: records.reduce((n, r) => n + r.violations.length, 0),
    faults,
    no_effect_actions: noEffect,
    faults_skipped: records.reduce((n, r) => n + r.faults_skipped.length, 0),
    recovery_seconds: Object.fromEntries(PACE_MEASURED.map((k) => {
      const xs = recoveries[k];
      return [k, { n: xs.length, overlapped: overlapped[k], ended: ended[k], p50: stat(xs, 50), p95: stat(xs, 95), max: xs.length === 0 ? null : round(Math.max(...xs), 1) }];
    })),
    recovery_rule: "seconds from the fault to the start of the first 5 s window in which the run completes tasks at >= 80% of its pace before the fault (faults come after the run's first 10 s); to the run's last task when it ran out of work first (ended); a fault that strikes before an earlier one of its run has recovered is overlapped, not measured",
    run_seconds: { p50: stat(durations, 50) ?? 0, p95: stat(durations, 95) ?? 0, max: round(Math.max(0, ...durations), 1) },
    cpu_after_retire_ms: {
      runs: afterRetire.length, p50: stat(afterRetire, 50), p95: stat(afterRetire, 95), max: afterRetire.length === 0 ? null : Math.max(...afterRetire),
    },
    runs_by_status: byStatus,
    tasks,
    tasks_lost_to_faults: records.reduce((n, r) => n + r.explained.length, 0),
    repeated_answers: records.reduce((n, r) => n + r.repeated_answers, 0),
    violation_details: records.flatMap((r) => r.violations.map((violation) => ({ run: r.index, violation }))),
    per_run: records.map((r) => ({
      run: r.index, status: r.status, seconds: round(r.duration_s, 1), tasks: r.tasks,
      faults: r.faults.map((f) => ({ kind: f.kind, at_s: round(f.at_s, 1), recovery_s: f.recovery_s === null ? null : round(f.recovery_s, 1) })),
      explained: lossesByFault(r.explained), violations: r.violations,
    })),
    run_records: records,
  };
}

function lossesByFault(explained: RunRecord["explained"]): RunSummary["explained"] {
  const byFault = new Map<string, RunSummary["explained"][number]>();
  for (const e of explained) {
    const key = `${e.fault}@${e.fault_at_s}`;
    const entry = byFault.get(key) ?? { fault: e.fault, fault_at_s: round(e.fault_at_s, 1), failed: 0, cancelled: 0 };
    if (e.status === "failed") entry.failed += 1;
    else entry.cancelled += 1;
    byFault.set(key, entry);
  }
  return [...byFault.values()];
}

/** Whether an earlier fault of the run had not yet been recovered from when f struck. */
function notYetRecovered(faults: RunRecord["faults"], f: RunRecord["faults"][number]): boolean {
  return faults.some((g) => g !== f && g.at_s < f.at_s && g.recovery_s !== null && g.at_s + g.recovery_s > f.at_s);
}

export function renderSoakTable(s: SoakSummary): string {
  const sum = (o: Partial<Record<FaultKind, number>>) => Object.values(o).reduce((a, b) => a + (b ?? 0), 0);
  const head = table(`Fault soak (${s.date}, ${s.commit}${s.finished ? "" : ", interrupted"})`, ["", "value"], [
    ["runs", s.runs],
    ["runs with faults", s.runs_with_faults],
    ["faults injected", sum(s.faults)],
    ["actions that cannot touch a live run (not faults)", Object.entries(s.no_effect_actions).map(([k, v]) => `${k} ${v}`).join(", ")],
    ["faults not injected (run already over)", s.faults_skipped],
    ["violations", s.violations],
    ["tasks planned / succeeded / failed / cancelled", `${s.tasks.planned} / ${s.tasks.succeeded} / ${s.tasks.failed} / ${s.tasks.cancelled}`],
    ["tasks lost, each tied to an injected fault", s.tasks_lost_to_faults],
    ["provider answers (or hung calls) no result was kept from", s.repeated_answers],
    ["run seconds p50 / p95 / max", `${s.run_seconds.p50} / ${s.run_seconds.p95} / ${s.run_seconds.max}`],
    ["CPU a worker spent after it retired, ms (run's most; p50 / p95 / max; the kill is 1,000 past)",
      s.cpu_after_retire_ms ? `${s.cpu_after_retire_ms.p50 ?? "-"} / ${s.cpu_after_retire_ms.p95 ?? "-"} / ${s.cpu_after_retire_ms.max ?? "-"}` : "-"],
    ["runs by status", Object.entries(s.runs_by_status).map(([k, v]) => `${k} ${v}`).join(", ")],
  ]);
  const fmt = (v: number | null) => (v === null ? "-" : v.toFixed(1));
  const kinds = table("Faults and recovery (seconds from the fault until the run completes tasks at 80% of its pre-fault pace over 5 s)",
    ["fault", "injected", "measured", "overlapped", "ran out of work", "p50", "p95", "max"],
    COUNTED.map((k) => {
      const r = s.recovery_seconds[k];
      return r ? [k, s.faults[k] ?? 0, r.n, r.overlapped, r.ended, fmt(r.p50), fmt(r.p95), fmt(r.max)] : [k, s.faults[k] ?? 0, "-", "-", "-", "-", "-", "-"];
    }));
  const violations = s.violation_details.length === 0 ? "" : `\n\nViolations:\n${s.violation_details.map((v) => `  run ${v.run}: ${v.violation}`).join("\n")}`;
  return `${head}\n${kinds}${violations}`;
}
