// Errors a step may simply be tried again after: the database chose this transaction as a
// deadlock victim or a serialization failure, or the connection went away (a restart, a
// failover). The transaction rolled back as a whole, and every daybreak write is fenced (attempt
// tokens, unique keys), so running the same step again is safe.

/** SQLSTATEs worth retrying: deadlock, serialization failure, admin/crash shutdown, connection loss. */
const TRANSIENT_CODES = new Set(["40P01", "40001", "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004"]);
const TRANSIENT_NODE_CODES = new Set([
  "ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "CONNECT_TIMEOUT", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED",
]);

export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (TRANSIENT_CODES.has(code) || TRANSIENT_NODE_CODES.has(code));
}

export interface RetryOptions {
  /** Attempts in all, the first included (ignored when forMs is set). */
  attempts?: number;
  /** Keep trying for this long since the first attempt began, however many attempts that takes. */
  forMs?: number;
  baseDelayMs?: number;
  /** The longest wait between two attempts. */
  maxDelayMs?: number;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** A restart (fast or immediate) or a failover takes seconds: a step waits out up to 45 s of it,
 * trying again at least every second once the database is back. */
export const DATABASE_OUTAGE: RetryOptions = { forMs: 45_000, baseDelayMs: 50, maxDelayMs: 1000 };

/** Runs step, trying it again with exponential backoff and jitter while it fails transiently. */
export async function retryTransient<T>(step: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 6;
  const base = options.baseDelayMs ?? 20;
  const maxDelay = options.maxDelayMs ?? Number.POSITIVE_INFINITY;
  const startedAt = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (!isTransient(error)) throw error;
      const delayMs = Math.round(Math.min(maxDelay, base * 2 ** Math.min(attempt - 1, 20) * (1 + Math.random())));
      const outOfTries = options.forMs !== undefined ? Date.now() + delayMs - startedAt > options.forMs : attempt >= attempts;
      if (outOfTries) throw error;
      options.onRetry?.(error, attempt, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** One database step (one transaction) that outlives a restart or a failover of the database. */
export function retryThroughOutage<T>(step: () => Promise<T>, onRetry?: RetryOptions["onRetry"]): Promise<T> {
  return retryTransient(step, { ...DATABASE_OUTAGE, onRetry });
}
