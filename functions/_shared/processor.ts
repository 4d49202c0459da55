// robust-batch-processor: one invocation of the fleet. It registers, then runs one lane per
// provider with work (provider-lane.ts): each keeps calls in flight and claims as the provider's
// shared pacer allows, across every organization's batch job. Finished calls are recorded in
// rounds (round-recorder.ts). Before its wall-clock or CPU budget runs out it hands over: it
// leaves the fleet, kicks its successor (ensure_processor_fleet, sent on commit by pg_net), stops
// claiming and finishes what is in flight. Its life: starting → working → handing_over | draining
// → stopped. A database restart is waited out in place (every step is retried through the outage);
// a crash is the reconciler's business: it finds the processor lost and gives its tasks back.
import { z } from "zod";
import type { EnvReader } from "./auth.ts";
import { countLiveTasksOfRunningRuns, finalizeBatchJob, settleBatchJobs } from "./batch-jobs.ts";
import { CallDeadlines } from "./call-deadline.ts";
import { FUNCTION_NAMES } from "./constants.ts";
import type { Sql } from "./db.ts";
import { acceptRequest, answerInternalErrors } from "./endpoint.ts";
import { json, newRequestId } from "./http.ts";
import { recordInvocationEnd, recordInvocationStart } from "./invocations.ts";
import {
  ensureProcessorFleet,
  heartbeatIntervalMs,
  heartbeatProcessor,
  registerProcessor,
  rescueLostProcessors,
  stopProcessor,
  successorClaiming,
} from "./fleet.ts";
import { providersWithWork } from "./paced-claim.ts";
import { InvocationBudget, type StopReason } from "./processor-budget.ts";
import type { ProcessorSettings } from "./processor-settings.ts";
import { ProviderLane } from "./provider-lane.ts";
import { loadProviders } from "./providers/catalog.ts";
import { RoundRecorder } from "./round-recorder.ts";
import { retryThroughOutage as durably } from "./transient.ts";
import { detectTriggerSource } from "./trigger-source.ts";

export { processorSettingsFromEnv, type ProcessorSettings } from "./processor-settings.ts";

/** A kick names the scheduler.processors row it was queued for; a direct call names none. */
export const processorRequestSchema = z.object({
  processor_id: z.uuid("processor_id must be a UUID").optional(),
}).strict();

export interface ProcessorReport {
  processed: number;
  succeeded: number;
  failed: number;
  remaining: number;
  continued: boolean;
  rate_limited: number;
  tasks_started: number;
  cpu_ms: number | null;
  stop_reason: StopReason;
}

export interface ProcessorDeps {
  sql: Sql;
  env: EnvReader;
  settings: ProcessorSettings;
  fetch?: typeof globalThis.fetch;
}

export interface ProcessorRequest {
  processorId: string | null;
  /** The name its claims carry (tasks.claimed_by); a rescue finds its tasks and invocation by it. */
  worker?: string;
}

function newWorkerName(): string {
  return `processor-${crypto.randomUUID().slice(0, 8)}`;
}

/** robust-batch-processor, or weekly-suggestions: the same worker (claims are per provider, so any
 * invocation may take any kind of task), recorded under the function that was called. */
export function handleProcessorRequest(
  req: Request, deps: ProcessorDeps, functionName: string = FUNCTION_NAMES.processor,
): Promise<Response> {
  return answerInternalErrors(functionName, req, async () => {
    const accepted = await acceptRequest(req, processorRequestSchema, deps.env, 4096);
    if (accepted instanceof Response) return accepted;
    const requestId = req.headers.get("x-request-id") ?? newRequestId();
    const worker = newWorkerName();
    const { id: invocationId } = await durably(() => recordInvocationStart(deps.sql, {
      functionName,
      claimedTriggerSource: detectTriggerSource(req.headers),
      processorId: accepted.body.processor_id ?? null,
      authMethod: accepted.authMethod,
      headers: req.headers,
      requestId,
      details: { worker, ...(accepted.body.processor_id ? { processor_id: accepted.body.processor_id } : {}) },
    }));
    try {
      const report = await runProcessor(deps, { processorId: accepted.body.processor_id ?? null, worker });
      const idle = report.tasks_started === 0 && !report.continued;
      await durably(() => recordInvocationEnd(deps.sql, invocationId, {
        status: idle ? "skipped" : "completed",
        reason: idle ? "nothing_to_do" : null,
        details: { ...report },
      }));
      return json(200, report);
    } catch (error) {
      await durably(() => recordInvocationEnd(deps.sql, invocationId, { status: "failed", errorMessage: (error as Error).message }))
        .catch(() => {});
      throw error;
    }
  });
}

type LifeState = "starting" | "working" | "handing_over" | "draining" | "stopped";
export type { StopReason } from "./processor-budget.ts";

/** How often the invocation looks for providers with work it has no lane for yet. */
const DISCOVERY_MS = 1000;
/** How often a working invocation re-sizes the fleet (the demand grows once limits are learned). */
const FLEET_CHECK_MS = 5000;
/** Handing over for a reason that leaves the worker time (retired, or half its wall clock), an
 * invocation claims on until a successor is claiming, at most this long, so the providers' pace has
 * no gap while a fresh worker boots (every invocation of a retired worker hands over at once).
 * Short: a worker retired at the CPU soft limit has about a second of CPU left before the hard one. */
const HAND_OVER_OVERLAP_MS = 1000;
const SUCCESSOR_POLL_MS = 100;
const OVERLAPPING_REASONS: ReadonlySet<StopReason> = new Set(["worker_drain", "wall_clock_budget"]);

export async function runProcessor(deps: ProcessorDeps, request: ProcessorRequest): Promise<ProcessorReport> {
  const { sql, settings } = deps;
  const worker = request.worker ?? newWorkerName();
  const budget = new InvocationBudget(settings);
  const { hardDeadline, startedAt } = budget;
  let state: LifeState = "starting";
  let stopReason: StopReason = "no_work";
  let continued = false;
  let slotsFree = settings.maxInFlight;
  /** While handing over for an overlapping reason: claims go on until then. */
  let overlapUntil = 0;
  /** Whichever sees the budget spent first (a lane, or the invocation's loop) starts the overlap. */
  const overBudget = (): StopReason | null => {
    const over = budget.overBudget();
    if (over !== null && OVERLAPPING_REASONS.has(over) && overlapUntil === 0) overlapUntil = budget.overlapUntil(HAND_OVER_OVERLAP_MS);
    return over;
  };

  // At once, not one after another: a successor's first claim ends its predecessors' overlap.
  const [processorId, heartbeatMs, providers, firstWork] = await Promise.all([
    durably(() => registerProcessor(sql, request.processorId, worker)),
    settings.heartbeatMs ?? durably(() => heartbeatIntervalMs(sql)),
    durably(() => loadProviders(sql)),
    durably(() => providersWithWork(sql)),
  ]);
  const deadlines = new CallDeadlines(sql);
  deadlines.prefetch(firstWork);
  const recorder = new RoundRecorder(sql, worker, settings.roundSize, settings.roundDelayMs);
  const lanes = new Map<string, ProviderLane>();
  /** What each lane's last take charged to the overlap's tasks (a lane has one claim out at a time). */
  const overlapCharged = new Map<string, number>();
  const laneContext = {
    sql, env: deps.env, fetch: deps.fetch, worker, providers, recorder, hardDeadline, deadlines,
    claimBatch: settings.claimBatchSize,
    claimAheadMs: settings.claimAheadMs,
    retryBaseDelayMs: settings.retryBaseDelayMs,
    takeSlots(provider: string, n: number, held: number) {
      // A lane holding its fair share or more leaves a claim's worth of slots to the others, so a
      // provider probing upwards cannot starve the rest of the invocation.
      const fairShare = Math.ceil(settings.maxInFlight / Math.max(1, lanes.size));
      const room = held >= fairShare ? slotsFree - settings.claimBatchSize : slotsFree;
      let granted = Math.max(0, Math.min(room, budget.tasksAllowed(n, settings.maxInFlight - slotsFree)));
      if (overlapUntil > 0) {
        const overlap = budget.takeOverlapTasks(granted);
        granted = overlap.granted;
        if (overlap.charged > 0) overlapCharged.set(provider, overlap.charged);
      }
      slotsFree -= granted;
      return granted;
    },
    returnUnusedSlots(provider: string, unused: number) {
      slotsFree += unused;
      const charged = overlapCharged.get(provider);
      if (charged === undefined) return;
      overlapCharged.delete(provider);
      budget.returnOverlapTasks(Math.min(unused, charged));
    },
    releaseSlot() {
      slotsFree += 1;
    },
    mayClaim: () => {
      if (state === "working" && overBudget() === null) return true;
      return state !== "draining" && state !== "stopped" && Date.now() < overlapUntil && budget.mayOverlap();
    },
    onTaskStarted: () => budget.taskStarted(),
  };

  const heartbeat = setInterval(() => {
    heartbeatProcessor(sql, processorId, worker, budget.tasksStarted).catch((e) =>
      console.error(`${worker}: heartbeat failed: ${(e as Error).message}`)
    );
  }, heartbeatMs);

  try {
    state = "working";
    let lastFleetCheck = Date.now();
    let withWork: string[] | null = firstWork;
    while (state === "working") {
      const over = overBudget();
      if (over) {
        stopReason = over;
        state = "handing_over";
        break;
      }
      for (const provider of withWork ?? (await durably(() => providersWithWork(sql)))) {
        if (!lanes.has(provider)) lanes.set(provider, new ProviderLane(provider, laneContext));
      }
      withWork = null;
      for (const [provider, lane] of lanes) {
        if (lane.finished) lanes.delete(provider);
      }
      if (lanes.size === 0) break; // no provider has claimable work: what others hold, they finish
      if (Date.now() - lastFleetCheck >= FLEET_CHECK_MS) {
        lastFleetCheck = Date.now();
        // A sibling that died (its runtime recycled) held tasks: give them back now rather than at
        // the reconciler's next tick, then size the fleet.
        await rescueLostProcessors(sql)
          .then(() => ensureProcessorFleet(sql, "api"))
          .catch((e) => console.error(`${worker}: fleet check failed: ${(e as Error).message}`));
      }
      await Promise.race([budget.sleep(DISCOVERY_MS), Promise.race([...lanes.values()].map((l) => l.done))]);
    }

    if (state === "handing_over") {
      // Leave the fleet first, so the successor it kicks is counted in its place.
      const handingOverAt = new Date();
      await durably(() => stopProcessor(sql, processorId, "handing_over", stopReason, budget.tasksStarted, null));
      continued = (await durably(() => ensureProcessorFleet(sql, "api"))) > 0;
      while (continued && Date.now() < overlapUntil && budget.mayOverlap() && !hardDeadline.aborted) {
        if (await successorClaiming(sql, processorId, handingOverAt).catch(() => true)) break;
        await budget.sleep(SUCCESSOR_POLL_MS);
      }
    }
    state = "draining";
    await Promise.all([...lanes.values()].map((l) => l.done));
    if (hardDeadline.aborted) stopReason = "hard_deadline";
    await recorder.flush();
    if (stopReason === "no_work") {
      for (const jobId of await durably(() => settleBatchJobs(sql))) await durably(() => finalizeBatchJob(sql, jobId));
    }
    const remaining = await durably(() => countLiveTasksOfRunningRuns(sql));
    const cpuMs = budget.cpuMs();
    state = "stopped";
    await durably(() => stopProcessor(sql, processorId, "stopped", stopReason, budget.tasksStarted, cpuMs, {
      rounds: recorder.totals.rounds, duration_ms: Date.now() - startedAt,
    }));
    // Last one out: what this invocation gave back while draining (calls cut off at the deadline,
    // 429s) may have no live processor left to take it; the fleet check kicks one only then.
    if (remaining > 0) continued = (await durably(() => ensureProcessorFleet(sql, "api"))) > 0 || continued;
    const t = recorder.totals;
    return {
      processed: t.processed, succeeded: t.succeeded, failed: t.failed, remaining, continued,
      rate_limited: t.rateLimited, tasks_started: budget.tasksStarted, cpu_ms: cpuMs, stop_reason: stopReason,
    };
  } finally {
    clearInterval(heartbeat);
    budget.close();
  }
}

