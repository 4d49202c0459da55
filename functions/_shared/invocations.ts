// scheduler.scheduler_runs: one row per authenticated function call, so an operator can see in
// one query who called, from where, and what came of it.
import type { Sql } from "./db.ts";
import type { TriggerSource } from "./constants.ts";

export interface InvocationStart {
  functionName: string;
  triggerSource: TriggerSource;
  authMethod: string;
  schedule?: string | null;
  runKey?: string | null;
  forced?: boolean;
  note?: string | null;
  headers: Headers;
  requestId: string;
  details?: Record<string, unknown>;
}

export async function recordInvocationStart(sql: Sql, start: InvocationStart): Promise<string> {
  const h = start.headers;
  const [row] = await sql<{ id: string }[]>`
    insert into scheduler.scheduler_runs
      (function_name, trigger_source, status, schedule, run_key, auth_method, forced, note,
       user_agent, request_id, cf_ray, github_run_id, details)
    values
      (${start.functionName}, ${start.triggerSource}, 'running', ${start.schedule ?? null}, ${start.runKey ?? null},
       ${start.authMethod}, ${start.forced ?? false}, ${start.note ?? null},
       ${h.get("user-agent")}, ${start.requestId}, ${h.get("cf-ray")}, ${h.get("x-github-run-id")},
       ${sql.json((start.details ?? {}) as never)})
    returning id`;
  return row!.id;
}

export interface InvocationEnd {
  status: "completed" | "skipped" | "failed";
  reason?: string | null;
  runId?: string | null;
  errorMessage?: string | null;
  details?: Record<string, unknown>;
}

export async function recordInvocationEnd(sql: Sql, id: string, end: InvocationEnd): Promise<void> {
  await sql`
    update scheduler.scheduler_runs
       set status = ${end.status}, reason = ${end.reason ?? null}, run_id = coalesce(${end.runId ?? null}::uuid, run_id),
           error_message = ${end.errorMessage ?? null}, completed_at = now(),
           details = details || ${sql.json((end.details ?? {}) as never)}
     where id = ${id}`;
}
