// What the soak's checker rules read: the tasks the seed data calls for, and each task of the run
// as the database holds it after the closing reconcile.

/** One task the seeded schedule calls for: a prompt, asked of a provider in a region. */
export interface PlannedTask {
  prompt_id: string;
  provider: string;
  region: string;
}

/** A task as the checker sees it: its row and its result, if any. */
export interface TaskState extends PlannedTask {
  id: string;
  status: string;
  attempts: number;
  rate_limited: number;
  /** The token of the task's latest claim (kept after it succeeded). */
  token: string | null;
  last_error: string | null;
  /** When the latest claim was made (every claim sets it), and when the task was done. */
  claimed_at: Date | null;
  completed_at: Date | null;
  has_result: boolean;
  result_at: Date | null;
}

/** A few items of a long list, for a violation's message. */
export function sample(items: string[]): string {
  return items.length <= 5 ? items.join(", ") : `${items.slice(0, 5).join(", ")} … (+${items.length - 5})`;
}
