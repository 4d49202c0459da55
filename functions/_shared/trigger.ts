// daily-batch-trigger: auth → body → source → window → one SQL call that claims the period and
// plans it (scheduler.try_mark_daily_run, the day gate) → answer. An unforced call first claims
// every organization whose own schedule is due (org-runs.ts); `org_id` forces or backfills one. Exactly-once lives in that SQL
// call's unique key; this module only decides whether to ask, and records who asked. Each step waits out a
// database restart in place; a claim whose commit was cut off is recognized as its own on retry.
import type { EnvReader } from "./auth.ts";
import { DEFAULT_SCHEDULE, FUNCTION_NAMES, MAX_BACKFILL_DAYS, MAX_TRIGGER_BODY_BYTES } from "./constants.ts";
import type { Sql } from "./db.ts";
import { acceptRequest, answerInternalErrors } from "./endpoint.ts";
import { json, newRequestId } from "./http.ts";
import { recordInvocationEnd, recordInvocationStart } from "./invocations.ts";
import { claimDueOrganizations, loadOrgSchedule } from "./org-runs.ts";
import { loadSchedule } from "./schedules.ts";
import { retryThroughOutage as durably } from "./transient.ts";
import { detectTriggerSource, isManualCall } from "./trigger-source.ts";
import { triggerRequestSchema } from "./trigger-request.ts";
import { backfillProblem, currentRunKey, isInExecutionWindow } from "./window.ts";

export interface TriggerDeps {
  sql: Sql;
  env: EnvReader;
  now: () => Date;
}

interface ClaimResult {
  updated: boolean;
  previous_key: string | null;
  new_key: string;
  run_id?: string;
  existing_run_id?: string;
  batch_jobs?: number;
  tasks?: number;
}

function invalid(...messages: { path: string[]; message: string }[]): Response {
  return json(400, { error: "invalid_request", details: messages });
}

export function handleTriggerRequest(req: Request, deps: TriggerDeps): Promise<Response> {
  return answerInternalErrors(FUNCTION_NAMES.trigger, req, () => handle(req, deps));
}

async function handle(req: Request, deps: TriggerDeps): Promise<Response> {
  const accepted = await acceptRequest(req, triggerRequestSchema, deps.env, MAX_TRIGGER_BODY_BYTES);
  if (accepted instanceof Response) return accepted;
  const { authMethod, body } = accepted;

  const manual = isManualCall(req.headers);
  const claimedTriggerSource = detectTriggerSource(req.headers);
  const force = body.force === true;
  // x-manual-call labels a call; it grants nothing. Only a manual call may bend the window.
  if (force && !manual) return invalid({ path: ["force"], message: "force is only accepted on a manual call (x-manual-call: true)" });
  for (const [key, what] of [["run_key", "run_key (backfill)"], ["org_id", "org_id (one organization's run)"]] as const) {
    if (body[key] === undefined) continue;
    if (!manual) return invalid({ path: [key], message: `${what} is only accepted on a manual call (x-manual-call: true)` });
    if (!force) return invalid({ path: [key], message: `${what} needs force: true, since it is run outside the window` });
  }

  const { sql } = deps;
  const scheduleName = body.schedule ?? DEFAULT_SCHEDULE;
  const schedule = await durably(() => loadSchedule(sql, scheduleName));
  if (!schedule) return invalid({ path: ["schedule"], message: `unknown schedule "${scheduleName}"` });
  const orgId = body.org_id ?? null;
  const org = orgId === null ? null : await durably(() => loadOrgSchedule(sql, schedule.name, orgId));
  if (orgId !== null && !org) {
    return invalid({ path: ["org_id"], message: `organization ${orgId} has no schedule of its own for "${schedule.name}": it runs in the schedule's global run` });
  }
  // An organization's periods are its own local dates (or weeks).
  const zoned = org ? { ...schedule, timezone: org.timezone } : schedule;

  const now = deps.now();
  if (body.run_key !== undefined) {
    const problem = backfillProblem(zoned, body.run_key, now, MAX_BACKFILL_DAYS);
    if (problem) return invalid({ path: ["run_key"], message: problem });
  }
  const runKey = body.run_key ?? currentRunKey(zoned, now);
  const inWindow = isInExecutionWindow(schedule, now);
  const requestId = req.headers.get("x-request-id") ?? newRequestId();

  const { id: invocationId, triggerSource } = await durably(() => recordInvocationStart(sql, {
    functionName: FUNCTION_NAMES.trigger,
    claimedTriggerSource,
    authMethod,
    schedule: schedule.name,
    runKey,
    orgId,
    forced: force,
    note: body.note ?? null,
    headers: req.headers,
    requestId,
    details: { in_window: inWindow, manual_test: body.manual_test ?? false, backfill: body.run_key !== undefined },
  }));

  try {
    if (!schedule.enabled && !force) {
      await durably(() => recordInvocationEnd(sql, invocationId, { status: "skipped", reason: "schedule_paused" }));
      return json(200, { status: "skipped", reason: "schedule_paused", schedule: schedule.name, run_key: runKey });
    }
    // An unforced call (the cron tick's) also claims every organization whose own run is due.
    const organizations = force ? null
      : await claimDueOrganizations(sql, schedule.name, triggerSource, invocationId, body.note ?? null, now);
    const withOrgs = organizations && organizations.due + organizations.missed > 0 ? { organizations } : {};
    if (!inWindow && !force) {
      const started = (organizations?.started ?? 0) > 0;
      await durably(() => recordInvocationEnd(sql, invocationId, started
        ? { status: "completed", reason: "organizations_started" }
        : { status: "skipped", reason: "outside_window" }));
      return json(200, { status: "skipped", reason: "outside_window", schedule: schedule.name, run_key: runKey, ...withOrgs });
    }

    // The claim, the plan, the processor kicks and closing this invocation row: one transaction.
    const result = await claimAndPlanRun(sql, invocationId, schedule.name, runKey, triggerSource, force, body.note ?? null, orgId, now);
    const forOrg = orgId === null ? {} : { org_id: orgId };
    if (!result.updated) {
      return json(200, {
        status: "skipped",
        reason: "already_ran",
        schedule: schedule.name,
        run_key: runKey,
        ...forOrg,
        existing_run_id: result.existing_run_id,
        ...withOrgs,
      });
    }
    return json(200, {
      status: "started",
      run_id: result.run_id,
      schedule: schedule.name,
      run_key: runKey,
      ...forOrg,
      trigger_source: triggerSource,
      batch_jobs: result.batch_jobs,
      tasks: result.tasks,
      ...withOrgs,
    });
  } catch (error) {
    const message = (error as Error).message;
    console.error(`daily-batch-trigger ${requestId} failed: ${message}`);
    await recordInvocationEnd(sql, invocationId, { status: "failed", errorMessage: message }).catch((e) =>
      console.error(`daily-batch-trigger ${requestId}: could not record the failure: ${(e as Error).message}`)
    );
    return json(500, { error: "internal", request_id: requestId });
  }
}

/** The claim, waiting out a database restart. A retry first asks whether the try before it
 * committed and only its answer was lost (the run then carries this invocation's id): that run is
 * this invocation's own, and claiming again would record it as turned away. */
function claimAndPlanRun(
  sql: Sql, invocationId: string, schedule: string, runKey: string, triggerSource: string, force: boolean, note: string | null,
  orgId: string | null, now: Date,
): Promise<ClaimResult> {
  let retry = false;
  return durably(async () => {
    if (retry) {
      const [own] = await sql<ClaimResult[]>`
        select true as updated, id::text as run_id, run_key as new_key, null as previous_key,
               batch_jobs_planned as batch_jobs, tasks_planned as tasks
          from scheduler.runs where scheduler_run_id = ${invocationId}::uuid`;
      if (own) return own;
    }
    retry = true;
    const [row] = await sql<{ result: ClaimResult }[]>`
      select scheduler.try_mark_daily_run(${schedule}::text, ${runKey}::text, ${triggerSource}::text,
                                          ${invocationId}::uuid, ${force}::boolean, ${note}::text,
                                          ${orgId}::uuid, ${now}::timestamptz) as result`;
    return row!.result;
  });
}
