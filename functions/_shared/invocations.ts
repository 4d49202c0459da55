// scheduler.scheduler_runs: one row per authenticated function call, so an operator can see in
// one query who called, from where, and what came of it. The source a call claims is a label; the
// one recorded is verified in SQL (scheduler.verified_trigger_source: cron needs a tick's request
// id), and the claim is kept beside it.
import type { Sql } from "./db.ts";
import type { TriggerSource } from "./constants.ts";

export interface InvocationStart {
  functionName: string;
  /** What the call said it was (detectTriggerSource). */
  claimedTriggerSource: TriggerSource;
  /** The processor row a kick names: the proof a processor kick of a cron-started run carries. */
  processorId?: string | null;
  authMethod: string;
  schedule?: string | null;
  runKey?: string | null;
  /** The organization of a call about one organization's own run. */
  orgId?: string | null;
  forced?: boolean;
  note?: string | null;
  headers: Headers;
  requestId: string;
  details?: Record<string, unknown>;
}

export interface RecordedInvocation {
  id: string;
  /** The verified source, the one every row this call writes carries. */
  triggerSource: TriggerSource;
}

export async function recordInvocationStart(sql: Sql, start: InvocationStart): Promise<RecordedInvocation> {
  const h = start.headers;
  const [row] = await sql<{ id: string; trigger_source: TriggerSource }[]>`
    insert into scheduler.scheduler_runs
      (function_name, trigger_source, claimed_trigger_source, status, schedule, run_key, org_id, auth_method, forced, note,
       user_agent, request_id, cf_ray, github_run_id, details)
    values
      (${start.functionName},
       scheduler.verified_trigger_source(${start.claimedTriggerSource}, ${start.requestId}, ${start.processorId ?? null}::uuid),
       ${start.claimedTriggerSource}, 'running', ${start.schedule ?? null}, ${start.runKey ?? null}, ${start.orgId ?? null}::uuid,
       ${start.authMethod}, ${start.forced ?? false}, ${start.note ?? null},
       ${h.get("user-agent")}, ${start.requestId}, ${h.get("cf-ray")}, ${h.get("x-github-run-id")},
       ${sql.json((start.details ?? {}) as never)})
    returning id, trigger_source`;
  return { id: row!.id, triggerSource: row!.trigger_source };
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
