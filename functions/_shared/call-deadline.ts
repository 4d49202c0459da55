// How long a provider call may take before it is cut off and retried: the provider's recent
// latency decides it in Postgres (scheduler.call_deadline_ms: 3 × the p99 of its last answers, at
// least 5 s, at most its configured timeout), so one hung call costs seconds, not the timeout.
// Read per provider at most every REFRESH_MS; while the database cannot say, the last deadline it
// gave stands, and before it ever said, the configured timeout.
import type { Sql } from "./db.ts";

const REFRESH_MS = 5000;

export class CallDeadlines {
  private readonly known = new Map<string, { ms: number; at: number; refreshing: Promise<void> | null }>();

  constructor(private readonly sql: Sql, private readonly now: () => number = Date.now) {}

  /** The deadline for a call to this provider, in ms, never above its configured timeout. */
  async forProvider(provider: string, configuredTimeoutMs: number): Promise<number> {
    let entry = this.known.get(provider);
    if (!entry) {
      entry = { ms: configuredTimeoutMs, at: -Infinity, refreshing: null };
      this.known.set(provider, entry);
    }
    if (this.now() - entry.at >= REFRESH_MS) {
      const known = entry.at > -Infinity;
      entry.refreshing ??= this.refresh(provider, entry).finally(() => {
        entry.refreshing = null;
      });
      // Only the first read is waited for; later ones refresh behind the calls, which keep the
      // deadline they have (so a database outage never holds a call up).
      if (!known) await entry.refreshing;
    }
    return Math.min(entry.ms, configuredTimeoutMs);
  }

  private async refresh(provider: string, entry: { ms: number; at: number }): Promise<void> {
    try {
      const [row] = await this.sql<{ ms: number | null }[]>`select scheduler.call_deadline_ms(${provider}) as ms`;
      if (row?.ms != null) entry.ms = row.ms;
    } catch (error) {
      console.error(`reading the call deadline for ${provider} failed (keeping ${entry.ms} ms): ${(error as Error).message}`);
    }
    entry.at = this.now();
  }
}
