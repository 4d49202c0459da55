// Finished calls are recorded in rounds, not one by one: outcomes and what the providers said
// are buffered and written with one scheduler.record_task_outcomes call (one transaction) when
// the buffer is full or a short delay has passed, so the database cost per task stays flat as the
// number of calls in flight grows. Batch jobs left with no live task are finalized after each round.
import { finalizeBatchJob } from "./batch-jobs.ts";
import type { Sql } from "./db.ts";
import { recordTaskOutcomes, type ProviderFeedback, type TaskOutcome } from "./paced-claim.ts";
import { retryThroughOutage } from "./transient.ts";

/** One HTTP attempt against a provider, as the adapter reports it. */
export interface CallAttempt {
  provider: string;
  runId: string;
  /** HTTP status, or a word for a call that got none ("timeout", "network"). */
  status: number | string;
  /** Whether this attempt was paid for by the claim (the first call to the task's own provider). */
  claimed: boolean;
  latencyMs: number | null;
  rateLimited: boolean;
  retryAfterMs: number | null;
  limitRequests: number | null;
  limitTokens: number | null;
  remainingRequests: number | null;
  resetRequestsMs: number | null;
  totalTokens: number | null;
  completionTokens: number | null;
  /** Tokens the claim drew for this call (the claimed attempt only; 0 for retries and fallbacks). */
  estimatedTokens: number;
}

export interface RoundTotals {
  processed: number;
  succeeded: number;
  failed: number;
  rateLimited: number;
  rejected: number;
  duplicatesPrevented: number;
  rounds: number;
}

export class RoundRecorder {
  private outcomes: TaskOutcome[] = [];
  private attempts: CallAttempt[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private writing: Promise<void> = Promise.resolve();
  readonly totals: RoundTotals = { processed: 0, succeeded: 0, failed: 0, rateLimited: 0, rejected: 0, duplicatesPrevented: 0, rounds: 0 };

  constructor(
    private readonly sql: Sql,
    private readonly worker: string,
    private readonly maxRound: number,
    private readonly maxDelayMs: number,
    private readonly log: (message: string) => void = console.error,
  ) {}

  attempt(a: CallAttempt): void {
    this.attempts.push(a);
    // A 429 is written at once: the pacer pauses the provider before more calls run into it.
    if (a.rateLimited) void this.flush();
  }

  add(outcome: TaskOutcome): void {
    this.outcomes.push(outcome);
    if (this.outcomes.length >= this.maxRound) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.maxDelayMs);
  }

  /** Writes what is buffered (rounds are written one at a time, in order). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const outcomes = this.outcomes.splice(0);
    const attempts = this.attempts.splice(0);
    if (outcomes.length === 0 && attempts.length === 0) return this.writing;
    this.writing = this.writing.then(() => this.write(outcomes, attempts));
    return this.writing;
  }

  private async write(outcomes: TaskOutcome[], attempts: CallAttempt[]): Promise<void> {
    try {
      // Concurrent rounds touch the same jobs and provider rows, and Postgres may pick one as a
      // deadlock victim: the round rolled back whole, so it is written again.
      const feedback = summarizeAttempts(attempts);
      outcomes.sort((a, b) => Number(a.task.task_id) - Number(b.task.task_id)); // same lock order for task rows
      // A restart of the database is waited out the same way: the outcomes are kept, not lost.
      const report = await retryThroughOutage(() => recordTaskOutcomes(this.sql, this.worker, outcomes, feedback),
        (error, attempt, delayMs) =>
          this.log(`${this.worker}: recording a round failed (${(error as Error).message}); try ${attempt + 1} in ${delayMs} ms`));
      const t = this.totals;
      t.rounds += 1;
      t.succeeded += report.accepted.length;
      t.failed += outcomes.filter((o) => o.outcome === "failed" || o.outcome === "quota").length;
      t.rateLimited += outcomes.filter((o) => o.outcome === "rate_limited").length;
      t.processed = t.succeeded + t.failed;
      t.rejected += report.rejected.length;
      t.duplicatesPrevented += report.duplicates_prevented;
      for (const jobId of report.jobs_to_finalize) await retryThroughOutage(() => finalizeBatchJob(this.sql, jobId));
    } catch (error) {
      // Not recorded: the tasks' leases expire and they are claimed again; the result rule holds.
      this.log(`${this.worker}: recording a round of ${outcomes.length} outcome(s) failed: ${(error as Error).message}`);
    }
  }
}

/** Per (provider, run): counts by status, 429s, the calls no claim paid for, the latest limits,
 * the round's median latency and the tokens used against those the claims drew. */
export function summarizeAttempts(attempts: CallAttempt[]): ProviderFeedback[] {
  type Partial = ProviderFeedback & { latencies: number[]; completion: number[]; tokenN: number };
  const byKey = new Map<string, Partial>();
  for (const a of attempts) {
    const key = `${a.provider}\u0000${a.runId}`;
    let f = byKey.get(key);
    if (!f) {
      f = {
        provider: a.provider, run_id: a.runId, calls: 0, calls_by_status: {}, successes: 0, rate_limited: 0, extra_calls: 0,
        retry_after_ms: null, limit_requests: null, limit_tokens: null, remaining_requests: null, reset_requests_ms: null,
        latency_ms: null, tokens_per_call: null, tokens_used: 0, token_adjustment: 0, completion_tokens: null,
        latencies: [], completion: [], tokenN: 0,
      };
      byKey.set(key, f);
    }
    f.calls += 1;
    const status = String(a.status);
    f.calls_by_status[status] = (f.calls_by_status[status] ?? 0) + 1;
    const answered = typeof a.status === "number" && a.status >= 200 && a.status < 300;
    if (answered) f.successes += 1;
    if (a.rateLimited) f.rate_limited += 1;
    if (!a.claimed) f.extra_calls += 1;
    if (a.retryAfterMs !== null) f.retry_after_ms = Math.max(f.retry_after_ms ?? 0, a.retryAfterMs);
    // Attempts arrive in completion order: the last report of a limit is the freshest.
    if (a.limitRequests !== null) f.limit_requests = a.limitRequests;
    if (a.limitTokens !== null) f.limit_tokens = a.limitTokens;
    if (a.remainingRequests !== null) {
      f.remaining_requests = a.remainingRequests;
      f.reset_requests_ms = a.resetRequestsMs;
    }
    if (a.latencyMs !== null && answered) f.latencies.push(a.latencyMs);
    if (answered && a.totalTokens !== null) {
      f.tokens_used += a.totalTokens;
      f.tokenN += 1;
      f.token_adjustment += a.totalTokens - a.estimatedTokens;
    } else if (a.rateLimited) {
      f.token_adjustment -= a.estimatedTokens; // refused: the provider counted none of it
    }
    if (answered && a.completionTokens !== null) f.completion.push(a.completionTokens);
  }
  // In one order everywhere, so concurrent rounds lock the same provider rows in the same order.
  const ordered = [...byKey.values()].sort((a, b) => a.provider.localeCompare(b.provider) || a.run_id.localeCompare(b.run_id));
  return ordered.map(({ latencies, completion, tokenN, ...f }) => ({
    ...f,
    latency_ms: median(latencies),
    tokens_per_call: tokenN > 0 ? f.tokens_used / tokenN : null,
    completion_tokens: completion.length > 0 ? completion.reduce((s, x) => s + x, 0) / completion.length : null,
  }));
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
