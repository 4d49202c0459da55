// Section "paced day": a day's batch at the providers' rate limits. Three providers limited to
// 1,200, 600 and 300 requests/min with a log-normal latency (median 800 ms, σ 0.5), served by the
// mock in its own process; daybreak as shipped, once with the limits configured and once learning
// them from the headers; then pg-boss and graphile-worker at fixed per-provider concurrencies
// against the same mock and limits. daybreak runs on the local edge runtime with the free plan's
// limits (150 s per worker, 2 s CPU, 256 MB). Reports makespan, η = T_LB ÷ makespan, 429 share,
// peak calls in flight, invocations, CPU per task measured from outside the workers, workers and
// their kills, daybreak's peak database connections, and projects a 600,000-call day.
import { resetState, seedOrganizations, setVault } from "../../../harness/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET } from "../../../harness/processes.ts";
import { analyzeSchemas, clearVault, type Sql } from "../../lib/db.ts";
import { startMockProcess } from "../../../harness/mock-provider/process.ts";
import { log, table } from "../../lib/report.ts";
import { daybreakPass, type PacedPassResult } from "./daybreak-pass.ts";
import { peerPass } from "./peers.ts";
import { lowerBoundSeconds, mockArgs, projectLargeDay, tasksPerProvider, type PacedPlan } from "./plan.ts";

export { PACED_LATENCY, PACED_PROVIDERS, type PacedPlan } from "./plan.ts";

export interface PacedDayResult {
  plan: PacedPlan & { tasks: number; lowerBoundSeconds: number };
  passes: PacedPassResult[];
  configured: PacedPassResult;
  learned: PacedPassResult;
  /** The configured pass again with max_processor_invocations in flight: the connection budget. */
  fleetAtCap: PacedPassResult;
  /** Each peer's best pass (highest η) over the concurrencies tried. */
  bestPeers: PacedPassResult[];
  projection: ReturnType<typeof projectLargeDay>;
}

export async function benchPacedDay(sql: Sql, plan: PacedPlan): Promise<{ result: PacedDayResult; report: string }> {
  await resetState(sql);
  const mock = await startMockProcess(0, mockArgs(plan));
  const providers = Object.fromEntries(plan.providers.map((p) => [p.name, mock.url]));
  await seedOrganizations(sql, { organizations: plan.organizations, promptsPerOrg: plan.promptsPerOrg, providers });
  await analyzeSchemas(sql, "scheduler", "public");
  const functions = await startFunctions();
  const passes: PacedPassResult[] = [];
  try {
    await setVault(sql, functions.url, TEST_CRON_SECRET);
    for (const mode of ["configured", "learned"] as const) {
      log(`paced day: daybreak, limits ${mode}`);
      passes.push(await daybreakPass(sql, functions, mock, plan, mode));
    }
    log("paced day: daybreak, limits configured, the fleet at its cap (connections)");
    passes.push(await daybreakPass(sql, functions, mock, plan, "configured", { fleetAtCap: true }));
  } finally {
    await functions.stop();
    await clearVault(sql);
  }
  try {
    for (const peer of ["pg-boss", "graphile-worker"] as const) {
      for (const factor of plan.peerFactors) {
        log(`paced day: ${peer} at ${factor} × Little's law concurrency`);
        passes.push(await peerPass(peer, mock, plan, factor));
      }
    }
  } finally {
    await mock.stop();
    await resetState(sql);
  }
  const configured = passes.find((p) => p.system === "daybreak" && p.limits === "configured")!;
  const learned = passes.find((p) => p.system === "daybreak" && p.limits === "learned")!;
  const fleetAtCap = passes.find((p) => p.system === "daybreak" && p.limits.endsWith("fleet at its cap"))!;
  const bestPeers = ["pg-boss", "graphile-worker"].map((system) =>
    passes.filter((p) => p.system === system).reduce((a, b) => (b.efficiency > a.efficiency ? b : a))
  );
  const result: PacedDayResult = {
    plan: { ...plan, tasks: tasksPerProvider(plan) * plan.providers.length, lowerBoundSeconds: Math.round(lowerBoundSeconds(plan) * 10) / 10 },
    passes, configured, learned, fleetAtCap, bestPeers,
    projection: projectLargeDay(Math.min(configured.efficiency, 1)),
  };
  return { result, report: render(result) };
}

function render(r: PacedDayResult): string {
  const rows = r.passes.map((p) => [
    p.system, p.limits + (p.concurrency ? ` ${Object.values(p.concurrency).join("/")}` : ""), p.tasks, p.makespanSeconds, p.efficiency,
    p.calls, `${p.rateLimited} (${(p.rateLimitedShare * 100).toFixed(2)}%)`,
    Object.entries(p.peakInFlight).map(([k, v]) => `${k} ${v}`).join(", "),
    p.duplicates, p.notTerminal, p.failed, p.invocations ?? "-", p.cpuMsPerTask ?? "-", p.cpuMsPerInvocation ?? "-",
    p.workers ?? "-", p.maxWorkerCpuMs ?? "-", p.workerKills ? Object.entries(p.workerKills).map(([k, v]) => `${k} ${v}`).join(", ") || "0" : "-",
    p.peakConnections ?? "-", p.stopReasons ? Object.entries(p.stopReasons).map(([k, v]) => `${k} ${v}`).join(", ") : "-",
  ]);
  const x = r.projection;
  return [
    table(`Paced day: ${r.plan.tasks} tasks, limits ${r.plan.providers.map((p) => `${p.name} ${p.requestsPerMinute}/min`).join(", ")}, ` +
      `latency log-normal median ${r.plan.latency.medianMs} ms σ ${r.plan.latency.sigma}; T_LB ${r.plan.lowerBoundSeconds} s`,
      ["system", "limits / concurrency", "tasks", "makespan s", "η", "calls", "429s", "peak in flight", "dup", "not terminal", "failed",
        "invocations", "CPU ms/task", "CPU ms/invocation", "workers", "max worker CPU ms", "worker kills", "peak connections",
        "stop reasons"], rows),
    `projection: ${x.calls.toLocaleString("en-US")} calls at ${Object.entries(x.limits).map(([k, v]) => `${k} ${v}/min`).join(", ")}: ` +
      `${x.hoursAtLimit} h at the limits, ${x.hoursAtMeasuredEfficiency} h at the measured η`,
  ].join("\n");
}
