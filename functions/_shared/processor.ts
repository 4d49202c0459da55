// robust-batch-processor: takes a batch job (under the global cap), heartbeats it, claims its tasks
// in small batches, calls the providers, and records each outcome with the claim's attempt token.
// It stops claiming at its time budget and hands the rest to a fresh invocation of itself; when a
// job is done it takes the next pending one. Crashes are the reconciler's business: nothing here
// is needed for correctness after a kill, only for progress.
import { z } from "zod";
import type { EnvReader } from "./auth.ts";
import {
  claimBatchJob,
  countLiveTasks,
  finalizeBatchJob,
  hasPendingBatchJobs,
  heartbeatBatchJob,
  isTerminalBatchJobStatus,
  queueProcessorContinuation,
  batchJobExists,
  type ClaimedBatchJob,
} from "./batch-jobs.ts";
import { FUNCTION_NAMES } from "./constants.ts";
import type { Sql } from "./db.ts";
import { acceptRequest, answerInternalErrors } from "./endpoint.ts";
import { readIntEnv } from "./env.ts";
import { json, newRequestId } from "./http.ts";
import { recordInvocationEnd, recordInvocationStart } from "./invocations.ts";
import { loadProviders } from "./providers/catalog.ts";
import { callWithFallback, type ProviderConfig } from "./providers/openai-compatible.ts";
import { claimTasks, completeTasks, failTask, releaseTask, type AnsweredTask, type ClaimedTask } from "./tasks.ts";
import { detectTriggerSource } from "./trigger-source.ts";

export const processorRequestSchema = z.object({ batch_job_id: z.uuid("batch_job_id must be a UUID").optional() }).strict();

export interface ProcessorSettings {
  /** Stop claiming new tasks after this long (the edge wall-clock limit is 150 s on the free plan). */
  budgetMs: number;
  /** In-flight provider calls are abandoned (and their tasks released) after this long. */
  hardDeadlineMs: number;
  /** Tasks claimed (and called concurrently) per round. */
  claimBatchSize: number;
  heartbeatMs: number;
  retryBaseDelayMs: number;
}

export function processorSettingsFromEnv(): ProcessorSettings {
  const budgetMs = readIntEnv("DAYBREAK_PROCESSOR_BUDGET_MS", 120_000, 1000);
  return {
    budgetMs,
    hardDeadlineMs: readIntEnv("DAYBREAK_PROCESSOR_HARD_DEADLINE_MS", Math.max(budgetMs + 25_000, 145_000), budgetMs),
    claimBatchSize: readIntEnv("DAYBREAK_TASK_CLAIM_BATCH", 5, 1),
    heartbeatMs: readIntEnv("DAYBREAK_HEARTBEAT_MS", 15_000, 100),
    retryBaseDelayMs: readIntEnv("DAYBREAK_RETRY_BASE_DELAY_MS", 1000, 0),
  };
}

export interface ProcessorReport {
  processed: number;
  succeeded: number;
  failed: number;
  remaining: number;
  continued: boolean;
}

export interface ProcessorDeps {
  sql: Sql;
  env: EnvReader;
  settings: ProcessorSettings;
  fetch?: typeof globalThis.fetch;
}

export function handleProcessorRequest(req: Request, deps: ProcessorDeps): Promise<Response> {
  return answerInternalErrors(FUNCTION_NAMES.processor, req, async () => {
    const accepted = await acceptRequest(req, processorRequestSchema, deps.env, 4096);
    if (accepted instanceof Response) return accepted;
    const batchJobId = accepted.body.batch_job_id ?? null;
    if (batchJobId && !(await batchJobExists(deps.sql, batchJobId))) {
      return json(404, { error: "unknown_batch_job", batch_job_id: batchJobId });
    }
    const requestId = req.headers.get("x-request-id") ?? newRequestId();
    const invocationId = await recordInvocationStart(deps.sql, {
      functionName: FUNCTION_NAMES.processor,
      triggerSource: detectTriggerSource(req.headers),
      authMethod: accepted.authMethod,
      headers: req.headers,
      requestId,
      details: batchJobId ? { batch_job_id: batchJobId } : {},
    });
    try {
      const report = await runProcessor(deps, batchJobId);
      await recordInvocationEnd(deps.sql, invocationId, {
        status: report.processed === 0 && !report.continued ? "skipped" : "completed",
        reason: report.processed === 0 && !report.continued ? "nothing_to_do" : null,
        details: { ...report },
      });
      return json(200, report);
    } catch (error) {
      await recordInvocationEnd(deps.sql, invocationId, { status: "failed", errorMessage: (error as Error).message })
        .catch(() => {});
      throw error;
    }
  });
}

export async function runProcessor(deps: ProcessorDeps, batchJobId: string | null): Promise<ProcessorReport> {
  const { sql, settings } = deps;
  const worker = `processor-${crypto.randomUUID().slice(0, 8)}`;
  const startedAt = Date.now();
  const hardDeadline = AbortSignal.timeout(settings.hardDeadlineMs);
  const overBudget = () => Date.now() - startedAt >= settings.budgetMs;
  const providers = await loadProviders(sql);
  const report: ProcessorReport = { processed: 0, succeeded: 0, failed: 0, remaining: 0, continued: false };

  let job = await claimBatchJob(sql, worker, batchJobId);
  while (job) {
    const outcome = await withHeartbeat(sql, job, worker, settings.heartbeatMs, () =>
      processBatchJob(deps, job!, worker, providers, report, overBudget, hardDeadline));
    if (outcome === "budget") {
      report.remaining = await countLiveTasks(sql, job.batch_job_id);
      if (report.remaining > 0) {
        report.continued = await queueProcessorContinuation(sql, job.batch_job_id);
        return report;
      }
      await finalizeBatchJob(sql, job.batch_job_id);
    }
    if (overBudget()) {
      // Pending jobs waiting for a slot: pass the slot on rather than let it idle.
      report.continued = (await hasPendingBatchJobs(sql)) && (await queueProcessorContinuation(sql, null));
      return report;
    }
    job = await claimBatchJob(sql, worker, null);
  }
  return report;
}

type JobOutcome = "finished" | "others_working" | "budget";

async function processBatchJob(
  deps: ProcessorDeps,
  job: ClaimedBatchJob,
  worker: string,
  providers: Map<string, ProviderConfig>,
  report: ProcessorReport,
  overBudget: () => boolean,
  hardDeadline: AbortSignal,
): Promise<JobOutcome> {
  const { sql, settings } = deps;
  while (!overBudget() && !hardDeadline.aborted) {
    const tasks = await claimTasks(sql, job.batch_job_id, worker, settings.claimBatchSize);
    if (tasks.length === 0) {
      // Nothing claimable: either every task is terminal (finalize), or other live workers hold
      // the rest (the last of them finalizes; a dead one's leases expire and the reconciler acts).
      const status = await finalizeBatchJob(sql, job.batch_job_id);
      return isTerminalBatchJobStatus(status) ? "finished" : "others_working";
    }
    const outcomes = await Promise.all(tasks.map((task) => callProviderForTask(deps, task, providers, hardDeadline)));
    const answered = outcomes.filter((o): o is AnsweredTask => typeof o === "object");
    // One transaction for the whole round's results: one round trip, not one per task.
    const completion = await completeTasks(sql, answered);
    report.processed += completion.accepted.length + outcomes.filter((o) => o === "failed").length;
    report.succeeded += completion.accepted.length;
    report.failed += outcomes.filter((o) => o === "failed").length;
  }
  return "budget";
}

/** Stop working on a task this long before its lease ends, so a live worker never outlives it. */
const LEASE_MARGIN_MS = 5000;

/** Calls the provider for one claimed task. A failure or a release is recorded here; an answer is
 * returned for the round's batched completion. */
async function callProviderForTask(
  deps: ProcessorDeps,
  task: ClaimedTask,
  providers: Map<string, ProviderConfig>,
  hardDeadline: AbortSignal,
): Promise<AnsweredTask | "failed" | "released"> {
  const { sql } = deps;
  const primary = providers.get(task.provider);
  if (!primary) {
    await failTask(sql, task, `provider "${task.provider}" is not in public.providers (or is disabled)`);
    return "failed";
  }
  if (task.prompt_text === null) {
    await failTask(sql, task, `prompt ${task.prompt_id} was deleted after the run was planned`);
    return "failed";
  }
  const fallback = primary.fallbackProvider ? (providers.get(primary.fallbackProvider) ?? null) : null;
  const signal = AbortSignal.any([hardDeadline, AbortSignal.timeout(Math.max(task.lease_ms - LEASE_MARGIN_MS, 1000))]);
  if (signal.aborted) {
    await releaseTask(sql, task, false, "");
    return "released";
  }
  try {
    const result = await callWithFallback(primary, fallback, { taskId: task.task_id, prompt: task.prompt_text, region: task.region }, {
      env: deps.env,
      fetch: deps.fetch,
      signal,
      baseDelayMs: deps.settings.retryBaseDelayMs,
    });
    return {
      task,
      result: {
        answered_by: result.provider,
        model: result.model,
        response: result.text,
        attempts: result.attempts,
        latency_ms: Math.round(result.latencyMs),
      },
    };
  } catch (error) {
    if (signal.aborted) {
      // Cut off mid-call: the provider may have done the work, so this counts as an attempt.
      await releaseTask(sql, task, true, `cut off at the processor's deadline: ${(error as Error).message}`);
      return "released";
    }
    await failTask(sql, task, (error as Error).message);
    return "failed";
  }
}

async function withHeartbeat<T>(sql: Sql, job: ClaimedBatchJob, worker: string, everyMs: number, work: () => Promise<T>): Promise<T> {
  const timer = setInterval(() => {
    heartbeatBatchJob(sql, job.batch_job_id, worker).catch((e) =>
      console.error(`${worker}: heartbeat for ${job.batch_job_id} failed: ${(e as Error).message}`)
    );
  }, everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
