// How long a provider call's first attempt may take before it is cut off and tried again: the
// provider's recent latency decides it in Postgres (scheduler.call_deadline_ms: 3 × the p99 of its
// last answers, at least 5 s, at most its configured timeout), so one hung call costs seconds, not
// the timeout (retries double it and the last attempt gets the timeout: retry-policy.ts).
// Read per provider at most every REFRESH_MS, behind the calls; an invocation reads those of the
// providers it starts with in one query as it starts (prefetch). A call never waits for a read:
// until the database has said, and while it cannot, the configured timeout or the last deadline
// it gave stands. Calls that waited for a first read went out past their turns, together with the
// calls whose turns came meanwhile: at a 1 s window, 429s a second after each new invocation.
import type { Sql } from "./db.ts";

const REFRESH_MS = 5000;

interface Known {
  ms: number;
  at: number;
  refreshing: Promise<void> | null;
}

export class CallDeadlines {
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly sql: Sql,
    private readonly now: () => number = Date.now,
  ) {}

  /** The first attempt's deadline for a call to this provider, in ms, never above its timeout. */
  forProvider(provider: string, configuredTimeoutMs: number): number {
    let entry = this.known.get(provider);
    if (!entry) {
      entry = { ms: Infinity, at: -Infinity, refreshing: null };
      this.known.set(provider, entry);
    }
    if (this.now() - entry.at >= REFRESH_MS && entry.refreshing === null) {
      const e = entry;
      e.refreshing = this.refresh(provider, e).finally(() => {
        e.refreshing = null;
      });
    }
    return Math.min(entry.ms, configuredTimeoutMs);
  }

  /** Starts reading these providers' deadlines now, in one query. */
  prefetch(providers: string[]): void {
    const fresh = providers.filter((provider) => !this.known.has(provider));
    if (fresh.length === 0) return;
    const entries = new Map<string, Known>(fresh.map((p) => [p, { ms: Infinity, at: -Infinity, refreshing: null }]));
    const reading = this.readAll(entries).finally(() => {
      for (const entry of entries.values()) entry.refreshing = null;
    });
    for (const [provider, entry] of entries) {
      entry.refreshing = reading;
      this.known.set(provider, entry);
    }
  }

  private async readAll(entries: Map<string, Known>): Promise<void> {
    try {
      const rows = await this.sql<{ provider: string; ms: number | null }[]>`
        select p.provider, scheduler.call_deadline_ms(p.provider) as ms
          from jsonb_array_elements_text(${this.sql.json([...entries.keys()])}) as p(provider)`;
      for (const row of rows) {
        const entry = entries.get(row.provider);
        if (entry && row.ms != null) entry.ms = row.ms;
      }
    } catch (error) {
      console.error(`reading the call deadlines of ${[...entries.keys()].join(", ")} failed (keeping their timeouts): ${(error as Error).message}`);
    }
    const at = this.now();
    for (const entry of entries.values()) entry.at = at;
  }

  private async refresh(provider: string, entry: Known): Promise<void> {
    try {
      const [row] = await this.sql<{ ms: number | null }[]>`select scheduler.call_deadline_ms(${provider}) as ms`;
      if (row?.ms != null) entry.ms = row.ms;
    } catch (error) {
      console.error(`reading the call deadline for ${provider} failed (keeping ${entry.ms} ms): ${(error as Error).message}`);
    }
    entry.at = this.now();
  }
}
