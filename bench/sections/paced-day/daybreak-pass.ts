// One day through daybreak as shipped: a forced trigger call, the processor fleet kicked by pg_net
// and served by the local edge runtime with the free plan's limits, pacing from Postgres, against
// the simulator. Each pass starts with nothing learned (scheduler.provider_pace emptied); limits
// are left unset on public.providers (daybreak must find them) unless `configured` gives them.
// The processors' CPU is read from outside their workers (/_edge/workers), daybreak's connections
// sampled from pg_stat_activity, per-provider figures read from the simulator's side.
import { expectStatus, timedCall } from "../../../harness/timed-call.ts";
import { clearRunState, type Sql } from "../../lib/db.ts";
import { cpuMark, cpuShareSince, machineBusySince, machineMark, type CpuShare } from "../../lib/cpu.ts";
import { round, sleep } from "../../lib/stats.ts";
import type { Kind } from "../../sim/kinds.ts";
import type { SimStats } from "../../sim/server.ts";
import { edgeWorkerCpu, sampleConnections } from "./edge-figures.ts";
import { measureFairness, type Fairness } from "./fairness.ts";
import { sampleFleet, type FleetSeries } from "./fleet-samples.ts";
import type { DayServices } from "./services.ts";

const RUN_TIMEOUT_MS = 1_800_000;

export interface DaybreakPass {
  runId: string;
  startedAt: number;
  makespanSeconds: number;
  tasks: number;
  failed: number;
  notTerminal: number;
  duplicates: number;
  invocations: number;
  stopReasons: Record<string, number>;
  cpuMsPerTask: number | null;
  workers: number;
  maxWorkerCpuMs: number;
  /** The most CPU a worker spent after it retired: the hand-over's cost, against the hard limit. */
  maxCpuAfterRetireMs: number | null;
  workerKills: Record<string, number>;
  peakConnections: number;
  /** Cores the database and the whole machine kept busy over the run. */
  cpu: CpuShare & { machine: number | null };
  fairness: Fairness | null;
  fleet: FleetSeries | null;
  sim: SimStats;
}

export async function runDaybreakDay(
  sql: Sql, services: DayServices, kinds: Record<string, Kind>,
  options: { note: string; configured?: boolean; sampleFleet?: boolean },
): Promise<DaybreakPass> {
  services.check();
  const { functions, sim } = services;
  await clearRunState(sql);
  await sql`truncate scheduler.processors, scheduler.provider_pace, scheduler.provider_run_stats`;
  for (const [name, kind] of Object.entries(kinds)) {
    const rpm = options.configured ? kind.requests?.perMinute ?? null : null;
    const tpm = options.configured ? kind.tokens?.perMinute ?? null : null;
    await sql`update public.providers set requests_per_minute = ${rpm}, tokens_per_minute = ${tpm}, max_in_flight = null where name = ${name}`;
  }
  await sim.reset();
  const cpuBefore = await edgeWorkerCpu(functions.url);
  const connections = sampleConnections(sql);
  const fleet = options.sampleFleet ? sampleFleet(sql, functions.url) : null;
  const marks = { cpu: cpuMark(), machine: machineMark() };
  const startedAt = Date.now();
  let runId: string;
  try {
    runId = await waitForRun(sql, services, functions.url, options.note, startedAt);
  } catch (error) {
    await connections.stop();
    await fleet?.stop();
    throw error;
  }
  const makespanSeconds = (Date.now() - startedAt) / 1000;
  const cpu = { ...cpuShareSince(marks.cpu), machine: machineBusySince(marks.machine) };
  // The fleet stops once it finds no work; wait for the last one so its CPU and counts are in.
  for (let i = 0; i < 150; i++) {
    const [live] = await sql<{ n: number }[]>`select count(*)::int as n from scheduler.processors where status <> 'stopped' and started_at is not null`;
    if (live!.n === 0) break;
    await sleep(100);
  }
  const peakConnections = await connections.stop();
  const fleetSeries = fleet ? await fleet.stop() : null;
  const workerCpu = (await edgeWorkerCpu(functions.url)).since(cpuBefore);
  const [db] = await sql<{ tasks: number; failed: number; not_terminal: number; duplicates: number; invocations: number; stop_reasons: Record<string, number> | null }[]>`
    select (select count(*)::int from scheduler.batch_tasks where run_id = ${runId}) as tasks,
           (select count(*)::int from scheduler.batch_tasks where run_id = ${runId} and status = 'failed') as failed,
           (select count(*)::int from scheduler.batch_tasks where run_id = ${runId} and status not in ('succeeded', 'failed')) as not_terminal,
           (select count(*)::int from scheduler.v_duplicate_results) as duplicates,
           (select count(*)::int from scheduler.processors where started_at is not null) as invocations,
           (select jsonb_object_agg(stop_reason, n) from (select stop_reason, count(*)::int as n from scheduler.processors
             where status = 'stopped' group by 1) x) as stop_reasons`;
  return {
    runId,
    startedAt,
    makespanSeconds: round(makespanSeconds, 1),
    tasks: db!.tasks,
    failed: db!.failed,
    notTerminal: db!.not_terminal,
    duplicates: db!.duplicates,
    invocations: db!.invocations,
    stopReasons: db!.stop_reasons ?? {},
    cpuMsPerTask: db!.tasks ? round(workerCpu.cpuMs / db!.tasks, 3) : null,
    workers: workerCpu.workers,
    maxWorkerCpuMs: workerCpu.maxWorkerCpuMs,
    maxCpuAfterRetireMs: workerCpu.maxCpuAfterRetireMs,
    workerKills: workerCpu.kills,
    peakConnections,
    cpu,
    fairness: await measureFairness(sql, runId),
    fleet: fleetSeries,
    sim: await sim.stats(),
  };
}

/** The forced trigger call, then polls until the run is no longer running. */
async function waitForRun(sql: Sql, services: DayServices, functionsUrl: string, note: string, startedAt: number): Promise<string> {
  const res = await timedCall(functionsUrl, "daily-batch-trigger", { force: true, note: `bench: ${note}` }, "manual").catch((error: unknown) => {
    services.check(); // a lost runtime says so; anything else is the error itself
    throw error;
  });
  expectStatus("forced trigger", res, "status", "started");
  const runId = res.body.run_id as string;
  const deadline = startedAt + RUN_TIMEOUT_MS;
  for (;;) {
    const [row] = await sql<{ status: string }[]>`select status from scheduler.runs where id = ${runId}`;
    if (row!.status !== "running") return runId;
    if (Date.now() > deadline) throw new Error(`run ${runId} still running after ${RUN_TIMEOUT_MS} ms`);
    services.check();
    await sleep(100);
  }
}
