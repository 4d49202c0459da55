// A processor whose worker drains hands over without a gap in the provider's pace: it claims on
// until a successor is claiming, for at most a second, whichever of its lanes or its own loop hears
// the drain first. A drain before half the worker's wall clock means the CPU soft limit retired it:
// then the worker's invocations together start only a few more tasks, and none once the runtime
// warns of a limit (beforeunload), so what the worker holds is finished before the hard limit. The processor is the real one
// (functions/_shared/processor.ts) in this process, against the mock provider; the test plays the
// runtime's drain event and the successor.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { readEnv } from "../../functions/_shared/env.ts";
import { processorSettingsFromEnv, runProcessor } from "../../functions/_shared/processor.ts";
import { OVERLAP_TASKS_AFTER_CPU_RETIREMENT, type WorkerEnding, workerLife } from "../../functions/_shared/worker-life.ts";
import { connect, waitFor, type Sql } from "../../harness/db.ts";
import { seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";
import { startRunInSql } from "../../harness/runs.ts";
import { freshState, stopSuite } from "../helpers/suite.ts";

let sql: Sql;
/** The processor's own pool, as a worker has: the test's reads never wait behind its queries. */
let processorSql: Sql;
let mock: MockProvider;

beforeAll(async () => {
  sql = connect(4);
  processorSql = connect(4);
  mock = await startMockProvider({ latencyMs: 200 });
});
afterAll(async () => {
  await processorSql.end();
  await stopSuite({ mock, sql });
});
beforeEach(async () => {
  await freshState(sql, mock);
  workerLife.ending = null;
  workerLife.drainedAt = null;
  workerLife.overlapTasksLeft = OVERLAP_TASKS_AFTER_CPU_RETIREMENT;
  await sql`delete from scheduler.processors`; // a kick queued by the test before counts as live
  await seedOrganizations(sql, { organizations: 4, promptsPerOrg: 40, providers: { paced: mock.url } });
  await sql`update public.providers set requests_per_minute = 600`; // paced at 9.7 calls/s
});

/** What the edge runtime's `drain` and `beforeunload` events do to the worker's processors (worker-life.ts). */
function endTheWorker(ending: WorkerEnding): void {
  if (ending === "drain") workerLife.drainedAt ??= Date.now();
  if (workerLife.ending === null || workerLife.ending === "drain") workerLife.ending = ending;
  for (const listener of workerLife.listeners) listener(ending);
}
const drainTheWorker = () => endTheWorker("drain");

const WALL_CLOCK_MS = 150_000;
const CLAIM_BATCH = processorSettingsFromEnv().claimBatchSize;

/** Starts the processor as a worker's only invocation, and waits until it is working at the pace.
 * workerAgeMs: how long the worker has lived already (a drain after half its wall clock is no CPU retirement). */
async function startProcessor(worker: string, workerAgeMs = 0) {
  const settings = {
    ...processorSettingsFromEnv(),
    taskBudget: Number.MAX_SAFE_INTEGER, cpuHandoverMs: Number.MAX_SAFE_INTEGER, heartbeatMs: 200,
    workerStartedAt: Date.now() - workerAgeMs, workerWallClockMs: WALL_CLOCK_MS,
  };
  await startRunInSql(sql); // Vault is empty: planning kicks nothing
  // From here kicks are queued (and captured), never sent: the test plays the successor.
  await setVault(sql, "http://127.0.0.1:9/functions/v1", "s".repeat(40));
  const report = runProcessor({ sql: processorSql, env: readEnv, settings }, { processorId: null, worker });
  await waitFor("answers", () => sql`select count(*)::int as n from public.prompt_results`, (r) => r[0]!.n >= 10, 20_000, 50);
  return { report }; // not the promise itself: an async function would wait for it
}

async function dbNow(): Promise<Date> {
  return (await sql<{ now: Date }[]>`select clock_timestamp() as now`)[0]!.now;
}

const claimsSince = async (worker: string, since: Date) =>
  (await sql<{ n: number }[]>`select count(*)::int as n from scheduler.batch_tasks where claimed_by = ${worker} and started_at > ${since}`)[0]!.n;

describe("a processor whose worker drains", () => {
  it("claims on for a second when no successor comes, then stops claiming", async () => {
    const { report } = await startProcessor("processor-old");
    const drainedAt = await dbNow();
    drainTheWorker();
    expect(await report).toMatchObject({ stop_reason: "worker_drain", continued: true });
    // About 9 calls at the pace in the second; before, its loop heard the drain first and no lane claimed again.
    expect(await claimsSince("processor-old", drainedAt)).toBeGreaterThanOrEqual(3);
    expect(await claimsSince("processor-old", new Date(drainedAt.getTime() + 1500))).toBe(0);
  });

  it("claims on while its successor only registered, and stops once the successor is claiming", async () => {
    const { report } = await startProcessor("processor-old");
    drainTheWorker();
    const [kicked] = await waitFor("the successor's kick", () => sql<{ id: string }[]>`select id::text from scheduler.processors where status = 'kicked'`,
      (r) => r.length === 1, 5000, 10);
    await sql`select scheduler.register_processor(${kicked!.id}::uuid, 'processor-new')`;
    const registeredAt = await dbNow();
    await new Promise((resolve) => setTimeout(resolve, 300)); // booting: registered, not claiming yet
    await waitFor("the successor's first claim",
      () => sql<{ c: { tasks: unknown[] } }[]>`select scheduler.claim_paced_tasks('processor-new', 'paced', 1) as c`,
      (r) => r[0]!.c.tasks.length === 1, 5000, 20);
    const successorClaimedAt = await dbNow();
    expect(await report).toMatchObject({ stop_reason: "worker_drain", continued: true });
    // Its lanes poll every 100 ms (and a claim may be on its way): the margins are for that.
    expect(await claimsSince("processor-old", new Date(registeredAt.getTime() + 150))).toBeGreaterThanOrEqual(1);
    expect(await claimsSince("processor-old", new Date(successorClaimedAt.getTime() + 350))).toBe(0);
  });

  describe("at a fast pace (about 100 calls/s)", () => {
    beforeEach(async () => {
      await sql`update public.providers set requests_per_minute = 6000`;
      // Work for a few seconds at that pace, so the hand-over does not find it all claimed.
      await sql`insert into public.prompts (org_id, text)
                select o.org_id, 'more ' || g from (select distinct org_id from public.prompts) o, generate_series(1, 100) g`;
    });

    it("starts at most a few more tasks, all its invocations together, when the CPU soft limit retired the worker", async () => {
      const { report } = await startProcessor("processor-old");
      const drainedAt = await dbNow();
      drainTheWorker();
      expect(await report).toMatchObject({ stop_reason: "worker_drain", continued: true });
      // A claim on its way at the drain was taken before it, so it is not counted against the overlap.
      const claimed = await claimsSince("processor-old", drainedAt);
      expect(claimed).toBeGreaterThanOrEqual(1);
      expect(claimed).toBeLessThanOrEqual(OVERLAP_TASKS_AFTER_CPU_RETIREMENT + CLAIM_BATCH);
    });

    // Its half-life comes 3 s after it starts: a drain now is the runtime retiring it for its age.
    const NEAR_HALF_LIFE = WALL_CLOCK_MS / 2 - 3000;

    it("claims on at the pace when the worker retired at half its wall clock", async () => {
      const { report } = await startProcessor("processor-old", NEAR_HALF_LIFE);
      const drainedAt = await dbNow();
      drainTheWorker();
      expect(await report).toMatchObject({ stop_reason: "worker_drain", continued: true });
      expect(await claimsSince("processor-old", drainedAt)).toBeGreaterThan(OVERLAP_TASKS_AFTER_CPU_RETIREMENT + CLAIM_BATCH);
    });

    it("stops claiming at once when the runtime warns of a limit during the hand-over", async () => {
      const { report } = await startProcessor("processor-old", NEAR_HALF_LIFE);
      drainTheWorker();
      await waitFor("the hand-over", () => sql<{ n: number }[]>`
          select count(*)::int as n from scheduler.processors where worker = 'processor-old' and status = 'handing_over'`,
        (r) => r[0]!.n === 1, 5000, 10);
      endTheWorker("cpu");
      const warnedAt = await dbNow();
      expect(await report).toMatchObject({ stop_reason: "worker_drain", continued: true });
      // A claim already on its way when the warning came may land: the margin is for it.
      expect(await claimsSince("processor-old", new Date(warnedAt.getTime() + 150))).toBe(0);
    });
  });
});
