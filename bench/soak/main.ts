// The fault soak (`npm run soak`, started by bench/soak/run on its own cluster): many runs, each
// with a schedule of faults (random by default; --full deals three per run from a balanced deck,
// full-plan.ts), each run checked by the invariant checker.
// Prints a table (runs, faults by kind, violations, recovery per fault kind) and writes the
// results as JSON after every run, so an interrupted soak still leaves what it measured.
// Exits 1 when any rule was broken, when no fault was injected, or (--full) when a run crossed
// fewer than two processor hand-overs.
import { execFileSync } from "node:child_process";
import { parseArgs } from "node:util";
import { seededRandom } from "../../harness/mock-provider/latency.ts";
import { ROOT } from "../../scripts/lib/root.ts";
import { log, writeResults } from "../lib/report.ts";
import { FAULT_KINDS, planRun, type FaultKind, type RunPlan } from "./faults.ts";
import { BalancedPlanner } from "./full-plan.ts";
import { renderSoakTable, summarize } from "./report.ts";
import { soakRun, type RunRecord } from "./run-once.ts";
import { SOAK_PROVIDERS, SoakStack } from "./stack.ts";

/** The short soak (scripts/test, --cover) and the default: 120 tasks, ~26 s, a 15–30 s lease. */
const SHORT = { organizations: 6, prompts: 10, rpm: 150, leaseSeconds: 30 };
/** --full: 1,200 tasks at 300 calls/min per provider, ~2 minutes: past one invocation's task budget. */
const FULL = { organizations: 30, prompts: 20, rpm: 300 };
/** Processor hand-overs every run of the full soak must cross: on a budget, or by a rescue after a
 * kill (a runtime killed early restarts every processor's budget, so its run crosses fewer of the
 * first); at least one on a budget whatever the kills. */
const FULL_MIN_HAND_OVERS = 2;
const crossedHandOvers = (r: RunRecord) => r.hand_overs >= 1 && r.hand_overs + r.rescues >= FULL_MIN_HAND_OVERS;

const { values: args } = parseArgs({
  options: {
    runs: { type: "string" },
    seed: { type: "string", default: "20261123" },
    out: { type: "string", default: `${ROOT}/bench/results/soak.json` },
    organizations: { type: "string" },
    prompts: { type: "string" },
    // Per provider; slow enough that a run lasts well past the pre-fault seconds.
    rpm: { type: "string" },
    "lease-seconds": { type: "string" },
    faults: { type: "string", default: "1-2" },
    // Every kind in turn, two or three per run, before random plans: the short soak in scripts/test.
    cover: { type: "boolean", default: false },
    // The soak that counts: the shipped lease and thresholds, runs long enough (1,200 tasks, about
    // two minutes) that each crosses processor hand-overs; a run that crossed fewer than two fails it.
    // Three faults a run, dealt so every measured kind comes up equally often (full-plan.ts).
    full: { type: "boolean", default: false },
  },
});
const sizes = args.full ? FULL : SHORT;

const int = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number, got ${v}`);
  return n;
};
// 200 runs by default; the coverage pass needs its runs whatever --runs says.
const runs = Math.max(args.runs === undefined ? (args.cover ? 0 : 200) : int("runs", args.runs), args.cover ? coveragePairs().length : 0);
const seed = int("seed", args.seed);
if (args.full && args["lease-seconds"] !== undefined) throw new Error("--full runs with the shipped lease: drop --lease-seconds");
/** Null: the shipped task_lease_seconds stays. */
const leaseSeconds = args.full ? null : int("lease-seconds", args["lease-seconds"] ?? String(SHORT.leaseSeconds));
const rpm = int("rpm", args.rpm ?? String(sizes.rpm));
const [faultsLo, faultsHi] = (args.faults ?? "1-2").split("-").map((v) => int("faults", v)) as [number, number];
const datadir = process.env.DAYBREAK_SOAK_DATADIR;
if (!datadir) throw new Error("DAYBREAK_SOAK_DATADIR is not set: run the soak through bench/soak/run (npm run soak)");

const options = {
  runs, seed, organizations: int("organizations", args.organizations ?? String(sizes.organizations)),
  prompts_per_org: int("prompts", args.prompts ?? String(sizes.prompts)), providers: SOAK_PROVIDERS.length, requests_per_minute: rpm,
  lease_seconds: leaseSeconds ?? "shipped", faults_per_run: args.full ? "3, dealt from a balanced deck" : [faultsLo, faultsHi],
  cover: args.cover, full: args.full,
};
/** No fault in a run's first 10 s: the pace it keeps until then is what its recovery is measured against. */
const PRE_FAULT_MS = 10_000;
const tasksPerRun = options.organizations * options.prompts_per_org * SOAK_PROVIDERS.length;
const expectedMs = 1500 + (tasksPerRun / (SOAK_PROVIDERS.length * rpm * 0.97)) * 60_000;
if (expectedMs < PRE_FAULT_MS + 10_000) throw new Error(`runs of ~${Math.round(expectedMs / 1000)} s are too short to measure recovery after ${PRE_FAULT_MS / 1000} s: lower --rpm or add --prompts`);
const random = seededRandom(seed);
const balanced = args.full ? new BalancedPlanner(random) : null;
const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();

const stack = await SoakStack.start({
  datadir, seed, organizations: options.organizations, promptsPerOrg: options.prompts_per_org,
  requestsPerMinute: rpm, leaseSeconds, log,
});
const records: RunRecord[] = [];
const startedAt = new Date();
let exitCode = 0;
let shortRuns = 0;
try {
  log(`soak: ${runs} runs of ${tasksPerRun} tasks (~${Math.round(expectedMs / 1000)} s each without faults), seed ${seed}`);
  for (let i = 0; i < runs; i++) {
    const plan = (args.cover ? coveragePlan(i) : null) ?? balanced?.plan(i) ?? planRun(random, [faultsLo, faultsHi]);
    const rec = await soakRun(stack, { index: i, plan, expectedMs, maxRunMs: Math.max(300_000, 3 * expectedMs), preFaultMs: PRE_FAULT_MS, log });
    if (args.full && rec.status !== "cancelled" && !crossedHandOvers(rec)) {
      shortRuns += 1;
      log(`  run ${i + 1} crossed ${rec.hand_overs} hand-over(s) on a budget and ${rec.rescues} after a kill; the full soak needs ${FULL_MIN_HAND_OVERS}, one on a budget at least`);
    }
    records.push(rec);
    const faults = rec.faults.map((f) => `${f.kind}${f.recovery_s === null ? "" : ` (${f.recovery_s.toFixed(1)} s)`}`).join(", ") || "none";
    const lost = rec.explained.length === 0 ? "" : `; ${rec.explained.length} task(s) lost to faults`;
    log(`run ${i + 1}/${runs}: ${rec.status} in ${rec.duration_s.toFixed(1)} s; faults: ${faults}${lost}; hand-overs: ${rec.hand_overs} (+ ${rec.rescues} after a kill); violations: ${rec.violations.length}`);
    for (const v of rec.violations) log(`  VIOLATION ${v}`);
    writeResults(args.out!, summarize(records, { date: startedAt.toISOString(), commit, options, finished: i + 1 === runs }));
  }
} finally {
  await stack.stop();
}
const summary = summarize(records, { date: startedAt.toISOString(), commit, options, finished: records.length === runs });
process.stdout.write(`${renderSoakTable(summary)}\n`);
log(`results: ${args.out}`);
if (summary.violations > 0) exitCode = 1;
if (shortRuns > 0) {
  log(`${shortRuns} run(s) crossed fewer than ${FULL_MIN_HAND_OVERS} processor hand-overs: not a full soak`);
  exitCode = 1;
}
if (records.length > 0 && Object.values(summary.faults).reduce((a, b) => a + b, 0) === 0) {
  log("no fault was injected: the soak proved nothing");
  exitCode = 1;
}
process.exit(exitCode);

/** The coverage pass: every mid-run kind once, two or three per run. Kills hold a run up longest
 * (up to tens of seconds), so each comes last in its run, after a fault the run recovers from
 * within a second or so, and both are measured; the provider faults (a few seconds) share the last
 * two runs. schedule_paused (no fault) rides between two of them; run_cancelled (it ends its run)
 * comes last. */
function coveragePairs(): FaultKind[][] {
  const pairs: FaultKind[][] = [
    ["pg_net_stopped", "functions_kill"],
    ["kicks_lost", "invocation_kill"],
    ["pg_restart_fast", "worker_cpu_kill"],
    ["pg_restart_immediate", "worker_memory_kill"],
    ["provider_slow_body", "worker_wall_clock_kill"],
    ["provider_500s", "schedule_paused", "provider_hang"],
    ["provider_429_storm", "run_cancelled"],
  ];
  const covered = new Set(pairs.flat());
  const missing = FAULT_KINDS.filter((k) => k !== "trigger_race" && !covered.has(k));
  if (missing.length > 0) throw new Error(`the coverage pass leaves out ${missing.join(", ")}`);
  return pairs;
}

/** Run i of the coverage pass (the first started by a race), or null past its end. */
function coveragePlan(i: number): RunPlan | null {
  const pairs = coveragePairs();
  if (i >= pairs.length) return null;
  return {
    raceStart: i === 0,
    faults: pairs[i]!.map((kind, j, all) => ({ kind, at: all.length === 3 ? 0.2 + 0.25 * j : 0.25 + 0.3 * j, forMs: 3000, calls: 20 })),
  };
}
