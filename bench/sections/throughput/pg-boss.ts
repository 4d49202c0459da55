// pg-boss doing the equivalent no-op job with its documented batching: `work()` with
// `batchSize` (one fetch and one completion per batch), `localConcurrency` workers in this
// process, and `burstWhenBatchFull` so a worker re-fetches at once while batches come back full.
import { PgBoss } from "pg-boss";
import { cpuMark, cpuShareSince } from "../../lib/cpu.ts";
import { analyzeSchemas, databaseUrl, type Sql } from "../../lib/db.ts";
import { ExecutionTracker, waitUntilDrained, type ThroughputSample } from "./types.ts";

const SCHEMA = "pgboss";
const INSERT_CHUNK = 1000;

export interface LibraryRunOptions {
  workers: number;
  batch: number;
  tasks: number;
  repetitions: number;
}

export async function runPgBoss(sql: Sql, o: LibraryRunOptions): Promise<ThroughputSample[]> {
  const boss = new PgBoss({
    connectionString: databaseUrl(),
    schema: SCHEMA,
    max: o.workers + 2,
    schedule: false,
    supervise: false,
  });
  boss.on("error", (error: Error) => console.error(`[pg-boss] ${error.message}`));
  await boss.start();
  const samples: ThroughputSample[] = [];
  try {
    for (let rep = 0; rep < o.repetitions; rep++) samples.push(await onePass(sql, boss, o, `bench_w${o.workers}_r${rep}`));
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
  return samples;
}

async function onePass(sql: Sql, boss: PgBoss, o: LibraryRunOptions, queue: string): Promise<ThroughputSample> {
  await boss.createQueue(queue);
  for (let i = 0; i < o.tasks; i += INSERT_CHUNK) {
    const n = Math.min(INSERT_CHUNK, o.tasks - i);
    await boss.insert(queue, Array.from({ length: n }, (_, k) => ({ data: { task: i + k } })));
  }
  await analyzeSchemas(sql, SCHEMA);

  const tracker = new ExecutionTracker(o.tasks);
  const cpu = cpuMark();
  const started = performance.now();
  await boss.work(
    queue,
    { batchSize: o.batch, localConcurrency: o.workers, pollingIntervalSeconds: 0.5, burstWhenBatchFull: true },
    async (jobs) => {
      for (const job of jobs) tracker.record(job.id);
    },
  );
  await tracker.done;
  await waitUntilDrained(async () => {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from pgboss.job where name = ${queue} and state in ('created', 'retry', 'active')`;
    return row!.n;
  });
  const seconds = (performance.now() - started) / 1000;
  const cpuShare = cpuShareSince(cpu);
  await boss.offWork(queue, { wait: true });
  await boss.deleteQueue(queue);
  return tracker.sample("pg-boss", o.workers, o.batch, seconds, cpuShare);
}
