// One paced day through daybreak as shipped: a forced trigger call, the processor fleet kicked
// by pg_net and served by the local edge runtime with the free plan's limits, pacing from Postgres;
// limits configured on public.providers, or left unset and learned from the mock's x-ratelimit-*
// headers. The processors' CPU is measured from outside their workers (the runtime's report), and
// daybreak's connections are sampled from pg_stat_activity throughout.
import type { Service } from "../../../harness/processes.ts";
import { edgeWorkerCpu, sampleConnections } from "./edge-figures.ts";
import { clearRunState, type Sql } from "../../lib/db.ts";
import { timedCall, expectStatus } from "../../../harness/timed-call.ts";
import type { MockProcess } from "../../../harness/mock-provider/process.ts";
import { round, sleep } from "../../lib/stats.ts";
import { lowerBoundSeconds, passFigures, type PacedPlan } from "./plan.ts";

const RUN_TIMEOUT_MS = 900_000;

export interface PacedPassResult {
  system: string;
  limits: string;
  concurrency?: Record<string, number>;
  tasks: number;
  makespanSeconds: number;
  lowerBoundSeconds: number;
  efficiency: number;
  calls: number;
  rateLimited: number;
  rateLimitedShare: number;
  peakInFlight: Record<string, number>;
  duplicates: number;
  notTerminal: number;
  failed: number;
  invocations?: number;
  cpuMsPerTask?: number | null;
  maxTasksPerInvocation?: number;
  /** CPU one invocation would use at the measured rate for its largest share of tasks. */
  cpuMsPerInvocation?: number | null;
  /** The largest CPU an invocation reported (null on the edge runtime, where it cannot be read). */
  maxReportedCpuMs?: number | null;
  stopReasons?: Record<string, number>;
  /** Processor workers the edge runtime started, the most CPU one spent, and any it killed, by reason. */
  workers?: number;
  maxWorkerCpuMs?: number;
  workerKills?: Record<string, number>;
  /** daybreak's database connections (application_name daybreak-edge), most at once during the pass. */
  peakConnections?: number;
}

/** The fleet at its cap: every invocation keeps few calls in flight, so the fleet the rate needs is
 * max_processor_invocations; the pass then shows the connections daybreak holds at its largest. */
const FLEET_AT_CAP_IN_FLIGHT = 4;

export async function daybreakPass(
  sql: Sql, functions: Service & { url: string }, mock: MockProcess, plan: PacedPlan, mode: "configured" | "learned",
  options: { fleetAtCap?: boolean } = {},
): Promise<PacedPassResult> {
  await clearRunState(sql);
  await sql`truncate scheduler.processors, scheduler.provider_pace, scheduler.provider_run_stats`;
  await sql`update scheduler.config set value = to_jsonb(${options.fleetAtCap ? FLEET_AT_CAP_IN_FLIGHT : 64}::int)
             where key = 'processor_in_flight_per_invocation'`;
  for (const p of plan.providers) {
    await sql`update public.providers set requests_per_minute = ${mode === "configured" ? p.requestsPerMinute : null}
               where name = ${p.name}`;
  }
  await mock.reset();
  const cpuBefore = await edgeWorkerCpu(functions.url);
  const connections = sampleConnections(sql);
  const started = performance.now();
  const res = await timedCall(functions.url, "daily-batch-trigger", { force: true, note: `bench: paced day (${mode}${options.fleetAtCap ? ", fleet at its cap" : ""})` }, "manual");
  expectStatus("forced trigger", res, "status", "started");
  const runId = res.body.run_id as string;
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  for (;;) {
    const [row] = await sql<{ status: string }[]>`select status from scheduler.runs where id = ${runId}`;
    if (row!.status !== "running") break;
    if (Date.now() > deadline) throw new Error(`paced run ${runId} still running after ${RUN_TIMEOUT_MS} ms`);
    await sleep(100);
  }
  const makespanSeconds = (performance.now() - started) / 1000;
  // The fleet stops once it finds no work; wait for the last one so its CPU and counts are in.
  for (let i = 0; i < 100; i++) {
    const [live] = await sql<{ n: number }[]>`select count(*)::int as n from scheduler.processors where status <> 'stopped' and started_at is not null`;
    if (live!.n === 0) break;
    await sleep(100);
  }
  const peakConnections = await connections.stop();
  const cpu = (await edgeWorkerCpu(functions.url)).since(cpuBefore);
  const [db] = await sql<{ tasks: number; failed: number; not_terminal: number; duplicates: number; invocations: number; max_tasks: number; max_cpu: number | null; stop_reasons: Record<string, number> | null }[]>`
    select (select count(*)::int from scheduler.batch_tasks where run_id = ${runId}) as tasks,
           (select count(*)::int from scheduler.batch_tasks where run_id = ${runId} and status = 'failed') as failed,
           (select count(*)::int from scheduler.batch_tasks where run_id = ${runId} and status not in ('succeeded', 'failed')) as not_terminal,
           (select count(*)::int from scheduler.v_duplicate_results) as duplicates,
           (select count(*)::int from scheduler.processors where started_at is not null) as invocations,
           (select coalesce(max(tasks), 0)::int from scheduler.processors) as max_tasks,
           (select max(cpu_ms)::int from scheduler.processors) as max_cpu,
           (select jsonb_object_agg(stop_reason, n) from (select stop_reason, count(*)::int as n from scheduler.processors
             where status = 'stopped' group by 1) x) as stop_reasons`;
  const stats = await mock.stats();
  const lb = lowerBoundSeconds(plan);
  const cpuMsPerTask = round(cpu.cpuMs / db!.tasks, 3);
  return {
    system: "daybreak",
    limits: options.fleetAtCap ? `${mode}, fleet at its cap` : mode,
    tasks: db!.tasks,
    ...passFigures(stats, lb, makespanSeconds),
    duplicates: db!.duplicates,
    notTerminal: db!.not_terminal,
    failed: db!.failed,
    invocations: db!.invocations,
    cpuMsPerTask,
    maxTasksPerInvocation: db!.max_tasks,
    cpuMsPerInvocation: cpuMsPerTask === null ? null : round(cpuMsPerTask * db!.max_tasks, 0),
    maxReportedCpuMs: db!.max_cpu,
    stopReasons: db!.stop_reasons ?? {},
    workers: cpu.workers,
    maxWorkerCpuMs: cpu.maxWorkerCpuMs,
    workerKills: cpu.kills,
    peakConnections,
  };
}
