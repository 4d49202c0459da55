// One queue per provider inside a processor invocation: the lane keeps up to its share of calls in
// flight and claims again as soon as slots free and the provider's pacer (in Postgres) grants
// calls, so a slow or rate-limited provider never holds back the others. Each call's outcome goes
// to the round recorder; the lane never writes task state itself.
import type { EnvReader } from "./auth.ts";
import type { CallDeadlines } from "./call-deadline.ts";
import type { Sql } from "./db.ts";
import { claimPacedTasks, type PacedTask, type TaskOutcome } from "./paced-claim.ts";
import { retryThroughOutage } from "./transient.ts";
import { callWithFallback, ProviderError, type ProviderConfig } from "./providers/openai-compatible.ts";
import { abortableSleep } from "./providers/retry-policy.ts";
import type { AttemptInfo } from "./providers/openai-compatible.ts";
import type { CallAttempt, RoundRecorder } from "./round-recorder.ts";
import { loadSuggestionRequest, parseSuggestions, suggestionInstruction } from "./suggestions.ts";

/** Stop working on a task this long before its lease ends, so a live worker never outlives it. */
const LEASE_MARGIN_MS = 5000;
/** Floor for re-claiming when nothing was granted and the pacer gave no wait (others hold the rows). */
const MIN_RECLAIM_MS = 25;
/** Floor for a wait the pacer gave, once the claim's round trip is taken off it. */
const MIN_PACED_WAIT_MS = 5;
/** How often a lane with nothing in flight looks for a free slot of the invocation. */
const SLOT_POLL_MS = 50;
/** How long a lane holds its claims after a 429 that named no retry-after (the pacer's first pause). */
const RATE_LIMITED_HOLD_MS = 500;

export interface LaneContext {
  sql: Sql;
  env: EnvReader;
  fetch?: typeof globalThis.fetch;
  worker: string;
  providers: Map<string, ProviderConfig>;
  /** Each provider's call deadline, from its recent latency. */
  deadlines: CallDeadlines;
  recorder: RoundRecorder;
  claimBatch: number;
  /** A claim also grants the calls whose turn comes within this long; each starts on its turn. */
  claimAheadMs: number;
  retryBaseDelayMs: number;
  /** Aborts in-flight calls at the invocation's hard deadline. */
  hardDeadline: AbortSignal;
  /** Calls this invocation may still start (shared by its lanes); takes up to n for the lane of
   * `provider`, which holds `held`, and returns how many. */
  takeSlots(provider: string, n: number, held: number): number;
  /** Gives back the slots of the lane's last take that its claim did not fill. */
  returnUnusedSlots(provider: string, unused: number): void;
  /** Gives back the slot of a call that came back. */
  releaseSlot(): void;
  /** Whether the lane may claim more (false once the invocation hands over or runs out of budget). */
  mayClaim(): boolean;
  onTaskStarted(): void;
}

export class ProviderLane {
  private inFlight = 0;
  /** After a 429 the lane holds its claims at once, before the pause reaches the database. */
  private holdUntil = 0;
  private wakeUp: (() => void) | null = null;
  /** True once the lane stopped claiming and everything it started has come back. */
  finished = false;
  readonly done: Promise<void>;

  constructor(readonly provider: string, private readonly ctx: LaneContext) {
    this.done = this.run().finally(() => {
      this.finished = true;
    });
  }

  get busy(): number {
    return this.inFlight;
  }

  private async run(): Promise<void> {
    const { ctx } = this;
    while (ctx.mayClaim() && !ctx.hardDeadline.aborted) {
      const hold = this.holdUntil - Date.now();
      if (hold > 0) {
        await this.sleep(hold);
        continue;
      }
      const slots = ctx.takeSlots(this.provider, ctx.claimBatch, this.inFlight);
      if (slots === 0) {
        // The invocation's slots are held by other lanes too, whose completions do not wake this one.
        await this.sleep(this.inFlight > 0 ? null : SLOT_POLL_MS);
        continue;
      }
      let claim;
      const claimedFrom = Date.now();
      try {
        claim = await retryThroughOutage(() => claimPacedTasks(ctx.sql, ctx.worker, this.provider, slots, ctx.claimAheadMs));
      } catch (error) {
        ctx.returnUnusedSlots(this.provider, slots);
        console.error(`${ctx.worker}: claiming ${this.provider} tasks failed: ${(error as Error).message}`);
        await this.sleep(1000);
        continue;
      }
      ctx.returnUnusedSlots(this.provider, slots - claim.tasks.length);
      const claimedAt = Date.now();
      const turnsFrom = claimedAt - (claim.elapsed_ms ?? 0);
      for (const task of claim.tasks) this.start(task, turnsFrom + task.start_in_ms);
      if (claim.tasks.length === 0 && !claim.has_work) {
        if (this.inFlight === 0) break;
        await this.sleep(null); // what is in flight may come back (a 429) and be claimable again
        continue;
      }
      // The pacer's wait runs from when the claim ran in the database; the next claim reaches it a
      // round trip after this sleep ends: taking the last round trip off keeps a lane on the pace
      // (at one call per burst, every ms late is pace lost, as the bucket fills no further).
      // A paced wait is not cut short by a call coming back: the pacer would grant nothing sooner.
      if (claim.tasks.length < slots) {
        if (!claim.wait_ms) await this.sleep(Math.max(claim.wait_ms ?? 1000, MIN_RECLAIM_MS));
        else await this.sleep(Math.max(claim.wait_ms - (Date.now() - claimedFrom), MIN_PACED_WAIT_MS), false);
      }
    }
    while (this.inFlight > 0) await this.sleep(null);
  }

  /** Waits for ms (null: for one of this lane's calls to finish), or the hard deadline, or, unless
   * told not to, one of this lane's calls to finish. */
  private sleep(ms: number | null, wakeOnReturn = true): Promise<void> {
    return new Promise((resolve) => {
      const signal = this.ctx.hardDeadline;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        if (this.wakeUp === done) this.wakeUp = null;
        resolve();
      };
      const timer = ms === null ? undefined : setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      if (wakeOnReturn || ms === null) this.wakeUp = done;
    });
  }

  /** A claim reaching ahead grants calls before their turn: each waits for it (from when the claim
   * came back less the time the database says it had counted: late by the answer's way back at
   * most, never early). One whose turn falls in a hold
   * after a 429 goes back unsent, to be claimed once the pause is over. */
  private async callOnTurn(task: PacedTask, turnAt: number): Promise<TaskOutcome> {
    const wait = turnAt - Date.now();
    if (wait > 0) await abortableSleep(wait, this.ctx.hardDeadline);
    if (this.holdUntil > Date.now()) return { outcome: "released", task, error: "", provider_called: false };
    return callProviderForTask(this.ctx, task);
  }

  private start(task: PacedTask, turnAt: number): void {
    this.inFlight += 1;
    this.ctx.onTaskStarted();
    this.callOnTurn(task, turnAt)
      .then((outcome) => {
        if (outcome.outcome === "rate_limited") this.holdUntil = Math.max(this.holdUntil, Date.now() + (outcome.retry_after_ms ?? RATE_LIMITED_HOLD_MS));
        this.ctx.recorder.add(outcome);
      })
      .catch((error) => console.error(`${this.ctx.worker}: task ${task.task_id}: ${(error as Error).message}`))
      .finally(() => {
        this.inFlight -= 1;
        this.ctx.releaseSlot();
        this.wakeUp?.();
      });
  }
}

/** Calls the provider (with its retries for 5xx and its fallback) and classifies what came back. */
export async function callProviderForTask(ctx: LaneContext, task: PacedTask): Promise<TaskOutcome> {
  const primary = ctx.providers.get(task.provider);
  if (!primary) return { outcome: "failed", task, error: `provider "${task.provider}" is not in public.providers (or is disabled)` };
  // A task without a prompt text is a suggestions task (weekly-suggestions), or its prompt was deleted.
  let prompt = task.prompt_text;
  let suggestions = false;
  if (prompt === null) {
    const request = await retryThroughOutage(() => loadSuggestionRequest(ctx.sql, task.task_id));
    if (!request) return { outcome: "failed", task, error: `prompt ${task.prompt_id} was deleted after the run was planned` };
    prompt = suggestionInstruction(request.prompts);
    suggestions = true;
  }
  const signal = AbortSignal.any([ctx.hardDeadline, AbortSignal.timeout(Math.max(task.lease_ms - LEASE_MARGIN_MS, 1000))]);
  const configuredFallback = primary.fallbackProvider ? (ctx.providers.get(primary.fallbackProvider) ?? null) : null;
  // A suggestions call asks for more than the daily answers the deadline is learned from: it keeps
  // the configured timeout.
  const withDeadline = async (config: ProviderConfig): Promise<ProviderConfig> =>
    suggestions ? config : { ...config, deadlineMs: ctx.deadlines.forProvider(config.name, config.timeoutMs) };
  const [first, fallback] = await Promise.all([withDeadline(primary), configuredFallback && withDeadline(configuredFallback)]);
  if (signal.aborted) return { outcome: "released", task, error: "", provider_called: false };
  let claimedCallUsed = false;
  const onAttempt = (info: AttemptInfo) => {
    const claimed = !claimedCallUsed && info.provider === task.provider;
    if (claimed) claimedCallUsed = true;
    ctx.recorder.attempt(toCallAttempt(info, task.run_id, claimed ? task.estimated_tokens : null));
  };
  try {
    const result = await callWithFallback(first, fallback, { taskId: task.task_id, prompt, region: task.region, attemptToken: task.attempt_token }, {
      env: ctx.env,
      fetch: ctx.fetch,
      signal,
      baseDelayMs: ctx.retryBaseDelayMs,
      retryRateLimited: false,
      onAttempt,
    });
    let response = result.text;
    if (suggestions) {
      const five = parseSuggestions(result.text);
      if (!five) return { outcome: "failed", task, error: "the answer did not hold five prompts" };
      response = JSON.stringify(five);
    }
    return {
      outcome: "succeeded", task, answered_by: result.provider, model: result.model, response,
      attempts: result.attempts, latency_ms: Math.round(result.latencyMs),
    };
  } catch (error) {
    const message = (error as Error).message;
    if (signal.aborted) {
      // Cut off mid-call: the provider may have done the work, so this counts as an attempt.
      return { outcome: "released", task, error: `cut off at the processor's deadline: ${message}`, provider_called: claimedCallUsed };
    }
    if (error instanceof ProviderError && error.provider === task.provider) {
      if (error.kind === "rate_limited") return { outcome: "rate_limited", task, retry_after_ms: error.retryAfterMs ?? null };
      if (error.kind === "quota") return { outcome: "quota", task, error: message };
    }
    return { outcome: "failed", task, error: message };
  }
}

/** claimedTokens: the tokens the claim drew, for the attempt the claim paid for; null for the others. */
function toCallAttempt(info: AttemptInfo, runId: string, claimedTokens: number | null): CallAttempt {
  const rl = info.rateLimit ?? null;
  const error = info.error;
  const status = info.status ?? (error?.kind === "timeout" ? "timeout" : error ? "network" : "unknown");
  return {
    provider: info.provider,
    runId,
    status,
    claimed: claimedTokens !== null,
    estimatedTokens: claimedTokens ?? 0,
    latencyMs: info.latencyMs ?? null,
    rateLimited: error?.kind === "rate_limited",
    retryAfterMs: error?.kind === "rate_limited" ? (error.retryAfterMs ?? rl?.retryAfterMs ?? null) : null,
    limitRequests: rl?.limitRequests ?? null,
    limitTokens: rl?.limitTokens ?? null,
    remainingRequests: rl?.remainingRequests ?? null,
    resetRequestsMs: rl?.resetRequestsMs ?? null,
    totalTokens: info.usage?.total_tokens ?? null,
    completionTokens: info.usage?.completion_tokens ?? null,
  };
}
