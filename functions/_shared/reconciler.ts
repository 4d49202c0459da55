// batch-reconciler: one call to scheduler.reconcile, which resumes stale batch jobs, closes
// abandoned invocations, finalizes finished runs and prunes history, all in SQL. Each step waits
// out a database restart in place.
import { z } from "zod";
import type { EnvReader } from "./auth.ts";
import { FUNCTION_NAMES } from "./constants.ts";
import type { Sql } from "./db.ts";
import { acceptRequest, answerInternalErrors } from "./endpoint.ts";
import { json, newRequestId } from "./http.ts";
import { recordInvocationEnd, recordInvocationStart } from "./invocations.ts";
import { retryThroughOutage as durably } from "./transient.ts";
import { detectTriggerSource } from "./trigger-source.ts";

export const reconcilerRequestSchema = z.object({ dry_run: z.boolean().optional() }).strict();

export interface ReconcileReport {
  status: "completed";
  stale: number;
  resumed: number;
  finalized: number;
  failed: number;
  runs_closed: number;
  /** Lost processors closed, and the tasks they held given back. */
  rescued?: { processors: number; tasks: number };
  dry_run?: boolean;
  actions?: unknown[];
  pruned?: Record<string, number>;
}

export async function reconcile(sql: Sql, dryRun: boolean): Promise<ReconcileReport> {
  const [row] = await sql<{ report: ReconcileReport }[]>`select scheduler.reconcile(${dryRun}::boolean) as report`;
  return row!.report;
}

export function handleReconcilerRequest(req: Request, deps: { sql: Sql; env: EnvReader }): Promise<Response> {
  return answerInternalErrors(FUNCTION_NAMES.reconciler, req, async () => {
    const accepted = await acceptRequest(req, reconcilerRequestSchema, deps.env, 4096);
    if (accepted instanceof Response) return accepted;
    const dryRun = accepted.body.dry_run === true;
    if (dryRun) return json(200, await durably(() => reconcile(deps.sql, true))); // a dry run writes nothing, not even its log row
    const { id: invocationId } = await durably(() => recordInvocationStart(deps.sql, {
      functionName: FUNCTION_NAMES.reconciler,
      claimedTriggerSource: detectTriggerSource(req.headers),
      authMethod: accepted.authMethod,
      headers: req.headers,
      requestId: req.headers.get("x-request-id") ?? newRequestId(),
    }));
    try {
      // A pass is safe to run again whole: it acts only on what is still stale when it looks.
      const report = await durably(() => reconcile(deps.sql, false));
      const { actions, pruned, ...summary } = report;
      await durably(() => recordInvocationEnd(deps.sql, invocationId, { status: "completed", details: { ...summary, actions, pruned } }));
      return json(200, summary);
    } catch (error) {
      await recordInvocationEnd(deps.sql, invocationId, { status: "failed", errorMessage: (error as Error).message }).catch(() => {});
      throw error;
    }
  });
}
