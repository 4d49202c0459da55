// The fleet's size over a run, sampled every second: processor rows by status
// (scheduler.processors, what v_processor_fleet shows) and the edge runtime's processor workers
// alive (/_edge/workers: started and not ended).
import type { Sql } from "../../lib/db.ts";

export interface FleetSample {
  /** Seconds from the start of sampling. */
  t: number;
  running: number;
  kicked: number;
  handingOver: number;
  workersAlive: number;
}

export interface FleetSeries {
  samples: FleetSample[];
  peakRunning: number;
  medianRunning: number;
  peakWorkersAlive: number;
}

export function sampleFleet(sql: Sql, functionsUrl: string, everyMs = 1000): { stop(): Promise<FleetSeries> } {
  const samples: FleetSample[] = [];
  const started = Date.now();
  const report = `${functionsUrl.replace(/\/functions\/v1\/?$/, "")}/_edge/workers`;
  let running = true;
  const loop = (async () => {
    while (running) {
      const [row] = await sql<{ running: number; kicked: number; handing_over: number }[]>`
        select count(*) filter (where status = 'running')::int as running,
               count(*) filter (where status = 'kicked')::int as kicked,
               count(*) filter (where status = 'handing_over')::int as handing_over
          from scheduler.processors`;
      let workersAlive = -1;
      try {
        const workers = (await (await fetch(report)).json()) as { function: string; endedAt: number | null }[];
        workersAlive = workers.filter((w) => w.function === "robust-batch-processor" && w.endedAt === null).length;
      } catch {
        // the report is best effort; -1 says it was not read
      }
      samples.push({ t: Math.round((Date.now() - started) / 100) / 10, running: row!.running, kicked: row!.kicked, handingOver: row!.handing_over, workersAlive });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const sorted = samples.map((s) => s.running).sort((a, b) => a - b);
      return {
        samples,
        peakRunning: sorted.at(-1) ?? 0,
        medianRunning: sorted[Math.floor(sorted.length / 2)] ?? 0,
        peakWorkersAlive: Math.max(0, ...samples.map((s) => s.workersAlive)),
      };
    },
  };
}
