// Errors a step may simply be tried again after: the database chose this transaction as a
// deadlock victim or a serialization failure, or the connection went away (a restart, a
// failover). The transaction rolled back as a whole, and every daybreak write is fenced (attempt
// tokens, unique keys), so running the same step again is safe.

/** SQLSTATEs worth retrying: deadlock, serialization failure, admin/crash shutdown, connection loss. */
const TRANSIENT_CODES = new Set(["40P01", "40001", "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004"]);
const TRANSIENT_NODE_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED"]);

export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (TRANSIENT_CODES.has(code) || TRANSIENT_NODE_CODES.has(code));
}

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts?: number;
  baseDelayMs?: number;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** Runs step, trying it again with exponential backoff and jitter while it fails transiently. */
export async function retryTransient<T>(step: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 6;
  const base = options.baseDelayMs ?? 20;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      const delayMs = Math.round(base * 2 ** (attempt - 1) * (1 + Math.random()));
      options.onRetry?.(error, attempt, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
