// One measured pass of a queue over a backlog of tasks.
import type { CpuShare } from "../../lib/cpu.ts";

export interface ThroughputSample {
  system: string;
  workers: number;
  /** Claim batch (daybreak claim_tasks n, pg-boss batchSize, graphile-worker localQueue.size). */
  batch: number;
  tasks: number;
  seconds: number;
  tasksPerSecond: number;
  /** Tasks executed (or recorded) more than once. Must be 0. */
  duplicates: number;
  /** Tasks never executed or recorded. Must be 0. */
  missing: number;
  /** Cores busy during the pass: this (worker) process and the whole Postgres cluster. */
  cpu: CpuShare;
  /** daybreak only: passes whose run stayed `running` after its last batch job ended. */
  runsLeftRunning?: number;
  /** daybreak only: what `duplicates` sums, and why tasks took more than one attempt. */
  duplicateCauses?: DuplicateCauses;
}

export interface DuplicateCauses {
  /** Results beyond one per task (the guarantee: never more than 0). */
  extraResults: number;
  /** Completions the SQL refused (a fenced attempt, an answer already recorded). */
  refusedCompletions: number;
  /** Tasks the provider was called for more than once. */
  repeatedCalls: number;
  /** Tasks that took more than one attempt, by their last error (the commonest few). */
  reattemptedBy: Record<string, number>;
}

/** Counts executions per job id; `done` resolves once every one of `total` ids ran. */
export class ExecutionTracker {
  private readonly counts = new Map<string, number>();
  private resolveDone!: () => void;
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(private readonly total: number) {}

  record(id: string): void {
    const n = (this.counts.get(id) ?? 0) + 1;
    this.counts.set(id, n);
    if (n === 1 && this.counts.size === this.total) this.resolveDone();
  }

  get duplicates(): number {
    let d = 0;
    for (const n of this.counts.values()) d += n - 1;
    return d;
  }

  get missing(): number {
    return this.total - this.counts.size;
  }

  /** The pass as a sample: the library ran `total` jobs with `workers` and claim batch `batch`. */
  sample(system: string, workers: number, batch: number, seconds: number, cpu: CpuShare): ThroughputSample {
    return {
      system, workers, batch, tasks: this.total, seconds, tasksPerSecond: this.total / seconds, cpu,
      duplicates: this.duplicates, missing: this.missing,
    };
  }
}

/** Polls until `remaining()` is 0 (the queue's own record that every job is finished). */
export async function waitUntilDrained(remaining: () => Promise<number>, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await remaining()) === 0) return;
    if (Date.now() > deadline) throw new Error(`queue not drained after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
