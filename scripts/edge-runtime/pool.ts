// Which worker takes a request, as the edge runtime's pool decides it under the per_worker policy:
// each function has one active worker, and every request for it, concurrent ones included, goes
// there until it retires; then the next request starts a new worker. Retired workers finish what
// they hold (and are dropped or killed by their supervisor). A worker is one OS process running
// worker-main.ts under Deno, with the function's entry point.
import path from "node:path";
import { ROOT } from "../lib/root.ts";
import type { EdgeLimits } from "./limits.ts";
import { EdgeWorker, type KillReason, type WorkerRecord } from "./supervisor.ts";

/** Ended workers kept for the report. */
const KEEP_ENDED = 10_000;

export interface PoolOptions {
  limits: EdgeLimits;
  /** deno, and the flags every worker runs with (permissions, import map, cache). */
  denoCommand: string[];
  env: NodeJS.ProcessEnv;
  log(line: string): void;
  /** Told when a worker dies with requests in flight, so the gateway fails them. */
  onExit(worker: EdgeWorker, killed: KillReason | null): void;
}

export class WorkerPool {
  private readonly active = new Map<string, EdgeWorker>();
  private readonly all = new Set<EdgeWorker>();
  private readonly ended: WorkerRecord[] = [];
  private sequence = 0;

  constructor(private readonly options: PoolOptions) {}

  /** The function's active worker, started when it has none (or its last one retired). */
  workerFor(name: string, entrypoint: string): EdgeWorker {
    const current = this.active.get(name);
    if (current?.acceptsRequests) return current;
    this.sequence += 1;
    const o = this.options;
    const worker = new EdgeWorker(name, `w${this.sequence}`, [...o.denoCommand, path.join(ROOT, "scripts/edge-runtime/worker-main.ts"), entrypoint],
      { ...o.env, DAYBREAK_EDGE_PLAN: o.limits.plan, DAYBREAK_EDGE_WALL_CLOCK_MS: String(o.limits.wallClockMs) }, o.limits, {
        log: o.log,
        retired: (w) => {
          if (this.active.get(name) === w) this.active.delete(name);
        },
        exited: (w, killed) => {
          this.all.delete(w);
          this.ended.push(w.record());
          if (this.ended.length > KEEP_ENDED) this.ended.shift();
          o.onExit(w, killed);
        },
      });
    this.active.set(name, worker);
    this.all.add(worker);
    return worker;
  }

  /** The live worker of the function holding the most work (requests in flight plus background
   * work), or null when none of its workers holds any. */
  busiestWorker(name: string): EdgeWorker | null {
    let busiest: EdgeWorker | null = null;
    for (const w of this.all) {
      if (w.name === name && w.workHeld > 0 && w.workHeld > (busiest?.workHeld ?? 0)) busiest = w;
    }
    return busiest;
  }

  /** Every worker's process, killed: the runtime is shutting down. */
  stopAll(): void {
    for (const worker of this.all) worker.stop();
  }

  /** Every worker, alive or ended, with what it spent: the bench's measurement from outside. */
  report(): WorkerRecord[] {
    return [...this.ended, ...[...this.all].map((w) => w.record())];
  }
}
