// The processor fleet, each step one SQL call (one transaction) in scheduler.*: an invocation
// registers, heartbeats, leaves (handing over or stopped), rescues lost siblings, and sizes the
// fleet to the work (scheduler.ensure_processor_fleet, whose kicks pg_net sends on commit).
import type { Sql } from "./db.ts";

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

/** Whether a processor started since `since` is claiming (holds a task in flight): the successor a
 * hand-over kicked has taken up the pace, not only registered. */
export async function successorClaiming(sql: Sql, processorId: string, since: Date): Promise<boolean> {
  const [row] = await sql<{ claiming: boolean }[]>`
    select exists (select from scheduler.processors p
                    where p.id <> ${processorId}::uuid and p.started_at >= ${since}
                      and exists (select from scheduler.batch_tasks t where t.claimed_by = p.worker and t.status = 'processing')) as claiming`;
  return row!.claiming;
}
