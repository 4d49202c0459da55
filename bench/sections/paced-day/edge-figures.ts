// What the paced day measures around daybreak rather than inside it: the CPU its processor
// workers spent, read by the local edge runtime from outside each worker (/_edge/workers), and the
// database connections daybreak holds, sampled from pg_stat_activity.
import type { Sql } from "../../lib/db.ts";
import { CPU_RETIREMENT } from "../../../scripts/edge-runtime/supervisor.ts";

interface WorkerRecord {
  function: string;
  id: string;
  cpuMs: number;
  retired: string | null;
  cpuAtRetireMs: number | null;
  killed: string | null;
}

export interface WorkerCpu {
  cpuMs: number;
  workers: number;
  maxWorkerCpuMs: number;
  /** The most a worker the CPU soft limit retired spent after it (finishing its calls, handing
   * over), against the hard limit; null when none retired so. */
  maxCpuAfterRetireMs: number | null;
  kills: Record<string, number>;
}

export interface CpuSnapshot {
  byWorker: Map<string, WorkerRecord>;
  /** CPU and workers of robust-batch-processor since an earlier snapshot. */
  since(before: CpuSnapshot): WorkerCpu;
}

export async function edgeWorkerCpu(functionsUrl: string): Promise<CpuSnapshot> {
  const res = await fetch(`${functionsUrl.replace(/\/functions\/v1\/?$/, "")}/_edge/workers`);
  if (!res.ok) throw new Error(`the edge runtime's report: HTTP ${res.status}`);
  const records = ((await res.json()) as WorkerRecord[]).filter((w) => w.function === "robust-batch-processor");
  const byWorker = new Map(records.map((w) => [w.id, w]));
  return {
    byWorker,
    since(before) {
      let cpuMs = 0;
      let workers = 0;
      let maxWorkerCpuMs = 0;
      let maxCpuAfterRetireMs: number | null = null;
      const kills: Record<string, number> = {};
      for (const [id, w] of byWorker) {
        const spent = w.cpuMs - (before.byWorker.get(id)?.cpuMs ?? 0);
        if (spent <= 0 && before.byWorker.has(id)) continue;
        workers += before.byWorker.has(id) ? 0 : 1;
        cpuMs += spent;
        maxWorkerCpuMs = Math.max(maxWorkerCpuMs, w.cpuMs);
        if (w.retired === CPU_RETIREMENT && w.cpuAtRetireMs !== null) {
          maxCpuAfterRetireMs = Math.max(maxCpuAfterRetireMs ?? 0, w.cpuMs - w.cpuAtRetireMs);
        }
        if (w.killed && !before.byWorker.get(id)?.killed) kills[w.killed] = (kills[w.killed] ?? 0) + 1;
      }
      return { cpuMs, workers, maxWorkerCpuMs, maxCpuAfterRetireMs, kills };
    },
  };
}

/** Samples daybreak's connections every 250 ms until stopped; resolves to the most seen at once. */
export function sampleConnections(sql: Sql): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const [row] = await sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where application_name = 'daybreak-edge'`;
      peak = Math.max(peak, row!.n);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}
