// graphile-worker doing the equivalent no-op job with its documented batching
// (worker.graphile.org/docs/performance#batching): a local queue that locks and pulls
// `localQueue.size` jobs per fetch, and batched completions (`completeJobBatchDelay: 0`).
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import { cpuMark, cpuShareSince } from "../../lib/cpu.ts";
import { analyzeSchemas, databaseUrl, type Sql } from "../../lib/db.ts";
import type { LibraryRunOptions } from "./pg-boss.ts";
import { ExecutionTracker, waitUntilDrained, type ThroughputSample } from "./types.ts";

const SCHEMA = "graphile_worker";
const INSERT_CHUNK = 1000;
const TASK = "bench_noop";

const quietLogger = new Logger(() => (level, message) => {
  if (level === "error") console.error(`[graphile-worker] ${message}`);
});

export async function runGraphileWorker(sql: Sql, o: LibraryRunOptions): Promise<ThroughputSample[]> {
  const samples: ThroughputSample[] = [];
  for (let rep = 0; rep < o.repetitions; rep++) samples.push(await onePass(sql, o));
  return samples;
}

async function onePass(sql: Sql, o: LibraryRunOptions): Promise<ThroughputSample> {
  const utils = await makeWorkerUtils({ connectionString: databaseUrl(), logger: quietLogger });
  try {
    await utils.migrate();
    for (let i = 0; i < o.tasks; i += INSERT_CHUNK) {
      const n = Math.min(INSERT_CHUNK, o.tasks - i);
      await utils.addJobs(Array.from({ length: n }, (_, k) => ({ identifier: TASK, payload: { task: i + k } })));
    }
  } finally {
    await utils.release();
  }
  await analyzeSchemas(sql, SCHEMA);

  const tracker = new ExecutionTracker(o.tasks);
  const cpu = cpuMark();
  const started = performance.now();
  const runner = await run({
    connectionString: databaseUrl(),
    concurrency: o.workers,
    maxPoolSize: o.workers + 2,
    pollInterval: 500,
    noHandleSignals: true,
    logger: quietLogger,
    taskList: {
      [TASK]: async (_payload, helpers) => {
        tracker.record(helpers.job.id);
      },
    },
    preset: { worker: { localQueue: { size: o.batch }, completeJobBatchDelay: 0 } },
  });
  try {
    await tracker.done;
    // Finished jobs are deleted: the backlog is drained when no job row is left.
    await waitUntilDrained(async () => {
      const [row] = await sql<{ n: number }[]>`select count(*)::int as n from graphile_worker._private_jobs`;
      return row!.n;
    });
    const seconds = (performance.now() - started) / 1000;
    const cpuShare = cpuShareSince(cpu);
    return tracker.sample("graphile-worker", o.workers, o.batch, seconds, cpuShare);
  } finally {
    await runner.stop();
  }
}
