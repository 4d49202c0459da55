// The peers pace the way their users do: a fixed concurrency per provider queue, and a 429 retried
// after its retry-after. pg-boss and graphile-worker each run the paced day against the same mock
// and limits, with one queue (or task type) per provider at concurrency ⌈factor × Little's law⌉.
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import { PgBoss } from "pg-boss";
import { callWithRetries, type ProviderConfig } from "../../../functions/_shared/providers/openai-compatible.ts";
import { databaseUrl } from "../../lib/db.ts";
import type { MockProcess } from "../../../harness/mock-provider/process.ts";
import { ExecutionTracker } from "../throughput/types.ts";
import type { PacedPassResult } from "./daybreak-pass.ts";
import { littlesLawConcurrency, lowerBoundSeconds, passFigures, tasksPerProvider, type PacedPlan } from "./plan.ts";

type Peer = "pg-boss" | "graphile-worker";

const quietLogger = new Logger(() => (level, message) => {
  if (level === "error") console.error(`[graphile-worker] ${message}`);
});

function providerConfig(mock: MockProcess, name: string): ProviderConfig {
  return { name, baseUrl: mock.url, model: `${name}-model`, apiKeyEnv: null, timeoutMs: 30_000, fallbackProvider: null, maxTokens: null };
}

/** One job: the provider call with the adapter's retries, 429s waited out as their users do. */
async function callTask(mock: MockProcess, provider: string, task: number, failures: { n: number }): Promise<void> {
  try {
    await callWithRetries(providerConfig(mock, provider), { taskId: `${provider}-${task}`, prompt: `prompt ${task}`, region: "global" }, {
      maxAttempts: 20, maxRetryDelayMs: 60_000,
    });
  } catch {
    failures.n += 1;
  }
}

export async function peerPass(peer: Peer, mock: MockProcess, plan: PacedPlan, factor: number): Promise<PacedPassResult> {
  await mock.reset();
  const perProvider = tasksPerProvider(plan);
  const concurrency = Object.fromEntries(plan.providers.map((p) => [p.name, Math.max(1, Math.ceil(factor * littlesLawConcurrency(p, plan.latency)))]));
  const tracker = new ExecutionTracker(perProvider * plan.providers.length);
  const failures = { n: 0 };
  const started = performance.now();
  if (peer === "pg-boss") await runPgBoss(mock, plan, concurrency, tracker, failures);
  else await runGraphile(mock, plan, concurrency, tracker, failures);
  const makespanSeconds = (performance.now() - started) / 1000;
  const stats = await mock.stats();
  const lb = lowerBoundSeconds(plan);
  return {
    system: peer,
    limits: "fixed concurrency",
    concurrency,
    tasks: perProvider * plan.providers.length,
    ...passFigures(stats, lb, makespanSeconds),
    duplicates: tracker.duplicates,
    notTerminal: 0,
    failed: failures.n,
  };
}

async function runPgBoss(mock: MockProcess, plan: PacedPlan, concurrency: Record<string, number>, tracker: ExecutionTracker, failures: { n: number }) {
  const total = Object.values(concurrency).reduce((a, b) => a + b, 0);
  const boss = new PgBoss({ connectionString: databaseUrl(), schema: "pgboss", max: total + 4, schedule: false, supervise: false });
  boss.on("error", (error: Error) => console.error(`[pg-boss] ${error.message}`));
  await boss.start();
  try {
    for (const p of plan.providers) {
      const queue = `paced_${p.name}_${Date.now()}`;
      await boss.createQueue(queue);
      await boss.insert(queue, Array.from({ length: tasksPerProvider(plan) }, (_, i) => ({ data: { task: i } })));
      await boss.work<{ task: number }>(queue, { batchSize: 1, localConcurrency: concurrency[p.name]!, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const job of jobs) {
          await callTask(mock, p.name, job.data.task, failures);
          tracker.record(`${p.name}-${job.data.task}`);
        }
      });
    }
    await tracker.done;
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}

async function runGraphile(mock: MockProcess, plan: PacedPlan, concurrency: Record<string, number>, tracker: ExecutionTracker, failures: { n: number }) {
  const utils = await makeWorkerUtils({ connectionString: databaseUrl(), logger: quietLogger });
  try {
    await utils.migrate();
    for (const p of plan.providers) {
      await utils.addJobs(Array.from({ length: tasksPerProvider(plan) }, (_, i) => ({ identifier: `paced_${p.name}`, payload: { task: i } })));
    }
  } finally {
    await utils.release();
  }
  // One runner per provider: graphile-worker's concurrency is per runner, and a runner only takes
  // the task types it knows.
  const runners = await Promise.all(plan.providers.map((p) => run({
    connectionString: databaseUrl(),
    concurrency: concurrency[p.name]!,
    maxPoolSize: concurrency[p.name]! + 2,
    pollInterval: 500,
    noHandleSignals: true,
    logger: quietLogger,
    taskList: {
      [`paced_${p.name}`]: async (payload) => {
        const task = (payload as { task: number }).task;
        await callTask(mock, p.name, task, failures);
        tracker.record(`${p.name}-${task}`);
      },
    },
  })));
  try {
    await tracker.done;
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
  }
}
