// The paced path's two state changes, each one SQL call (one transaction) in scheduler.*:
// claiming a provider's tasks within its pace (scheduler.claim_paced_tasks), and recording a round
// of finished calls with what the providers said (scheduler.record_task_outcomes). Every
// completion carries the attempt token of the claim it finishes, so a worker whose lease was taken
// over cannot overwrite the newer attempt.
import type { Sql } from "./db.ts";

export interface PacedTask {
  task_id: string;
  attempt_token: string;
  attempts: number;
  prompt_id: string;
  /** Null when the prompt was deleted after planning. */
  prompt_text: string | null;
  provider: string;
  region: string;
  run_id: string;
  org_id: string;
  batch_job_id: string;
  /** How long the claim's lease lasts, measured by the database. */
  lease_ms: number;
  /** Tokens the claim drew for this call (prompt length ÷ 4 + expected completion); usage corrects it. */
  estimated_tokens: number;
  /** How long after the claim its turn comes at the provider's pace (a claim reaching ahead). */
  start_in_ms: number;
}

export interface PacedClaim {
  tasks: PacedTask[];
  /** How long the turns had been counting when the answer left the database (a wait for the
   * provider's row, the claim's own work): taken off each start_in_ms. */
  elapsed_ms?: number;
  /** How long until the pacer can grant another call; null when only a completion frees a slot. */
  wait_ms: number | null;
  rate_per_minute: number | null;
  in_flight: number;
  /** Whether the provider still has claimable work (pending, or an expired lease). */
  has_work: boolean;
  paused?: boolean;
}

/** aheadMs: also grant the calls whose turn comes within this long, each with its start_in_ms. */
export async function claimPacedTasks(sql: Sql, worker: string, provider: string, limit: number, aheadMs = 0): Promise<PacedClaim> {
  const [row] = await sql<{ claim: PacedClaim }[]>`
    select scheduler.claim_paced_tasks(${worker}, ${provider}, ${limit}::int, p_ahead_ms => ${aheadMs}::int) as claim`;
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
  | { outcome: "rate_limited"; task: PacedTask; retry_after_ms?: number | null }
  | { outcome: "quota"; task: PacedTask; error: string };

/** What one provider said during a round, for one run: the pacer's input and the per-run counters. */
export interface ProviderFeedback {
  provider: string;
  run_id: string;
  calls: number;
  calls_by_status: Record<string, number>;
  /** Calls answered with a 2xx. */
  successes: number;
  rate_limited: number;
  /** HTTP calls beyond the one each claim paid for (retries, fallbacks): drawn from the bucket after the fact. */
  extra_calls: number;
  retry_after_ms: number | null;
  limit_requests: number | null;
  limit_tokens: number | null;
  remaining_requests: number | null;
  reset_requests_ms: number | null;
  /** Median latency of the round's answered calls (a heavy tail does not read as queueing). */
  latency_ms: number | null;
  tokens_per_call: number | null;
  /** Tokens the answered calls used (usage.total_tokens). */
  tokens_used: number;
  /** Tokens used minus tokens the claims drew: a 429'd claimed call gives its estimate back. */
  token_adjustment: number;
  completion_tokens: number | null;
}

export interface RoundReport {
  /** Task ids completed by this round (their attempt was current). */
  accepted: string[];
  /** Accepted tasks whose result already existed (kept as it was). */
  duplicates: string[];
  /** Task ids refused: their lease was taken over (or the run cancelled) since the claim. */
  rejected: string[];
  duplicates_prevented: number;
  /** Batch jobs left with no live task, for the caller to finalize. */
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
