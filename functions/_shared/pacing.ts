// The paced path's state changes, each one SQL call (one transaction) in scheduler.*: claiming a
// provider's tasks within its pace, recording a round of finished calls with what the providers
// said, and the processor fleet (register, heartbeat, stop, size to demand).
import type { Sql } from "./db.ts";
import type { ClaimedTask, CompletionReport } from "./tasks.ts";

export interface PacedTask extends ClaimedTask {
  batch_job_id: string;
}

export interface PacedClaim {
  tasks: PacedTask[];
  /** How long until the pacer can grant another call; null when only a completion frees a slot. */
  wait_ms: number | null;
  rate_per_minute: number | null;
  in_flight: number;
  /** Whether the provider still has claimable work (pending, or an expired lease). */
  has_work: boolean;
  paused?: boolean;
}

export async function claimPacedTasks(sql: Sql, worker: string, provider: string, limit: number): Promise<PacedClaim> {
  const [row] = await sql<{ claim: PacedClaim }[]>`
    select scheduler.claim_paced_tasks(${worker}, ${provider}, ${limit}::int) as claim`;
  return row!.claim;
}

export async function providersWithWork(sql: Sql): Promise<string[]> {
  const rows = await sql<{ provider: string }[]>`select provider from scheduler.providers_with_work() provider`;
  return rows.map((r) => r.provider);
}

export type TaskOutcome =
  | { outcome: "succeeded"; task: PacedTask; answered_by: string; model: string; response: string; attempts: number; latency_ms: number }
  | { outcome: "failed"; task: PacedTask; error: string }
  | { outcome: "released"; task: PacedTask; error: string; provider_called: boolean }
  | { outcome: "rate_limited"; task: PacedTask }
  | { outcome: "quota"; task: PacedTask; error: string };

/** What one provider said during a round, for one run: the pacer's input and the per-run counters. */
export interface ProviderFeedback {
  provider: string;
  run_id: string;
  calls: number;
  calls_by_status: Record<string, number>;
  rate_limited: number;
  /** HTTP calls beyond the one each claim paid for (retries, fallbacks): drawn from the bucket after the fact. */
  extra_calls: number;
  retry_after_ms: number | null;
  limit_requests: number | null;
  limit_tokens: number | null;
  remaining_requests: number | null;
  reset_requests_ms: number | null;
  latency_ms: number | null;
  tokens_per_call: number | null;
}

export interface RoundReport extends CompletionReport {
  jobs_to_finalize: string[];
}

export async function recordTaskOutcomes(sql: Sql, worker: string, outcomes: TaskOutcome[], feedback: ProviderFeedback[]): Promise<RoundReport> {
  const rows = outcomes.map(({ task, ...rest }) => ({ task_id: task.task_id, attempt_token: task.attempt_token, ...rest }));
  const [row] = await sql<{ report: RoundReport }[]>`
    select scheduler.record_task_outcomes(${worker}, ${sql.json(rows as never)}, ${sql.json(feedback as never)}) as report`;
  const r = row!.report;
  const ids = (xs: unknown[] | null | undefined) => (xs ?? []).map(String);
  return {
    accepted: ids(r.accepted),
    duplicates: ids(r.duplicates),
    rejected: ids(r.rejected),
    duplicates_prevented: Number(r.duplicates_prevented ?? 0),
    jobs_to_finalize: ids(r.jobs_to_finalize),
  };
}

/** Batch jobs of running runs with no live task left (exhausted tasks failed first), to finalize. */
export async function settleBatchJobs(sql: Sql): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`select id from scheduler.settle_batch_jobs() id`;
  return rows.map((r) => r.id);
}

export async function registerProcessor(sql: Sql, processorId: string | null, worker: string): Promise<string> {
  const [row] = await sql<{ id: string }[]>`select scheduler.register_processor(${processorId}::uuid, ${worker}) as id`;
  return row!.id;
}

export async function heartbeatProcessor(sql: Sql, processorId: string, worker: string, tasks: number): Promise<void> {
  await sql`select scheduler.heartbeat_processor(${processorId}::uuid, ${worker}, ${tasks}::int)`;
}

/** How often a processor reports (scheduler.config heartbeat_seconds); staleness is a multiple of it. */
export async function heartbeatIntervalMs(sql: Sql): Promise<number> {
  const [row] = await sql<{ s: number }[]>`select scheduler.config_int('heartbeat_seconds') as s`;
  return row!.s * 1000;
}

/** Closes processors that stopped reporting and gives their tasks back (scheduler.rescue_lost_processors). */
export async function rescueLostProcessors(sql: Sql): Promise<{ processors: number; tasks: number }> {
  const [row] = await sql<{ r: { processors: number; tasks: number } }[]>`select scheduler.rescue_lost_processors() as r`;
  return row!.r;
}

export type ProcessorEndStatus = "handing_over" | "stopped";

export async function stopProcessor(
  sql: Sql,
  processorId: string,
  status: ProcessorEndStatus,
  reason: string,
  tasks: number,
  cpuMs: number | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  await sql`select scheduler.stop_processor(${processorId}::uuid, ${status}, ${reason}, ${tasks}::int,
                                            ${cpuMs}::int, ${sql.json(details as never)})`;
}

/** Kicks the invocations the work needs (queued through pg_net, sent on commit); returns how many. */
export async function ensureProcessorFleet(sql: Sql, triggerSource: string): Promise<number> {
  const [row] = await sql<{ kicked: number }[]>`select scheduler.ensure_processor_fleet(${triggerSource}) as kicked`;
  return row!.kicked;
}

export async function countLiveTasksOfRunningRuns(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from scheduler.batch_tasks t
     where t.status in ('pending', 'processing')
       and exists (select from scheduler.runs r where r.id = t.run_id and r.status = 'running')`;
  return row!.n;
}
