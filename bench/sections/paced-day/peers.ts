// The peers on the same simulated providers and the same prompts: pg-boss and graphile-worker with
// one queue (task type) per provider at a fixed concurrency, each call through the provider's
// client-side limiter (peer-limiter.ts). The concurrency is what the search tunes.
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import { PgBoss } from "pg-boss";
import type { ProviderConfig } from "../../../functions/_shared/providers/openai-compatible.ts";
import { databaseUrl } from "../../lib/db.ts";
import type { Kind } from "../../sim/kinds.ts";
import type { SimProcess } from "../../sim/process.ts";
import { ExecutionTracker } from "../throughput/types.ts";
import { providerFigures, type ProviderFigures } from "./figures.ts";
import { estimatedTokens, peerLimiter, type PeerLimiter } from "./peer-limiter.ts";

export type Peer = "pg-boss" | "graphile-worker";

export interface PeerPass {
  system: Peer;
  factor: number;
  concurrency: Record<string, number>;
  providers: ProviderFigures[];
  failed: number;
  duplicates: number;
}

const quietLogger = new Logger(() => (level, message) => {
  if (level === "error") console.error(`[graphile-worker] ${message}`);
});

interface Lane {
  provider: string;
  prompts: string[];
  concurrency: number;
  limiter: PeerLimiter;
}

export async function peerPass(
  peer: Peer, sim: SimProcess, kinds: Record<string, Kind>, prompts: Record<string, string[]>, concurrency: Record<string, number>, factor: number,
): Promise<PeerPass> {
  if (!sim.alive()) await sim.restart(); // lost to another job on the machine: start it again
  await sim.reset();
  const lanes: Lane[] = Object.entries(prompts).map(([provider, list]) => {
    const config: ProviderConfig = { name: provider, baseUrl: sim.url, model: provider, apiKeyEnv: null, timeoutMs: 60_000, fallbackProvider: null, maxTokens: null };
    const largest = Math.max(...list.map(estimatedTokens));
    return { provider, prompts: list, concurrency: concurrency[provider]!, limiter: peerLimiter(config, kinds[provider]!, largest) };
  });
  const tracker = new ExecutionTracker(lanes.reduce((n, l) => n + l.prompts.length, 0));
  const failures = { n: 0 };
  const handle = async (lane: Lane, task: number) => {
    try {
      await lane.limiter.call(lane.prompts[task]!, `${lane.provider}-${task}`);
    } catch (error) {
      failures.n += 1;
      console.error(`[${peer}] ${lane.provider} task ${task}: ${(error as Error).message}`);
    }
    tracker.record(`${lane.provider}-${task}`);
  };
  let startedAt = 0;
  try {
    startedAt = peer === "pg-boss" ? await runPgBoss(lanes, tracker, handle) : await runGraphile(lanes, tracker, handle);
  } finally {
    await Promise.all(lanes.map((l) => l.limiter.stop()));
  }
  const stats = await sim.stats();
  return {
    system: peer,
    factor,
    concurrency,
    providers: lanes.map((l) => providerFigures(l.provider, kinds[l.provider]!, l.prompts.length, stats.models[l.provider]!, startedAt)),
    failed: failures.n,
    duplicates: tracker.duplicates,
  };
}

type Handle = (lane: Lane, task: number) => Promise<void>;

/** Enqueues every task, then starts the workers; resolves with the time they started, once all ran. */
async function runPgBoss(lanes: Lane[], tracker: ExecutionTracker, handle: Handle): Promise<number> {
  const total = lanes.reduce((n, l) => n + l.concurrency, 0);
  const boss = new PgBoss({ connectionString: databaseUrl(), schema: "pgboss", max: total + 4, schedule: false, supervise: false });
  boss.on("error", (error: Error) => console.error(`[pg-boss] ${error.message}`));
  await boss.start();
  try {
    const queues = new Map<Lane, string>();
    for (const lane of lanes) {
      const queue = `paced_${lane.provider.replace(/[^a-z0-9]/g, "_")}_${Date.now()}`;
      await boss.createQueue(queue);
      await boss.insert(queue, lane.prompts.map((_, i) => ({ data: { task: i } })));
      queues.set(lane, queue);
    }
    const startedAt = Date.now();
    for (const lane of lanes) {
      await boss.work<{ task: number }>(queues.get(lane)!, { batchSize: 1, localConcurrency: lane.concurrency, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const job of jobs) await handle(lane, job.data.task);
      });
    }
    await tracker.done;
    return startedAt;
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}

async function runGraphile(lanes: Lane[], tracker: ExecutionTracker, handle: Handle): Promise<number> {
  const utils = await makeWorkerUtils({ connectionString: databaseUrl(), logger: quietLogger });
  const identifier = (lane: Lane) => `paced_${lane.provider.replace(/[^a-z0-9]/g, "_")}`;
  try {
    await utils.migrate();
    for (const lane of lanes) await utils.addJobs(lane.prompts.map((_, i) => ({ identifier: identifier(lane), payload: { task: i } })));
  } finally {
    await utils.release();
  }
  const startedAt = Date.now();
  // One runner per provider: graphile-worker's concurrency is per runner, and a runner only takes
  // the task types it knows.
  const runners = await Promise.all(lanes.map((lane) => run({
    connectionString: databaseUrl(),
    concurrency: lane.concurrency,
    maxPoolSize: lane.concurrency + 2,
    pollInterval: 500,
    noHandleSignals: true,
    logger: quietLogger,
    taskList: { [identifier(lane)]: async (payload) => handle(lane, (payload as { task: number }).task) },
  })));
  try {
    await tracker.done;
    return startedAt;
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
  }
}
