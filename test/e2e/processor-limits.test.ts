// The processor under the edge runtime's limits (scripts/edge-runtime), with limits made small so
// the test does not wait 150 s: it hands over when its worker drains (retired at half its wall
// clock), so a run longer than many worker lives completes without a kill; and a worker killed for
// its wall clock, its CPU or its memory, mid-run, costs no task and no second result: its
// processors are found lost and their tasks given back. The reconciler's cron tick is played by
// the test (scheduler.reconcile() every half second), since the suite pauses daybreak's cron jobs.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, waitFor, type Sql } from "../../harness/db.ts";
import { seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";
import { startFunctions, TEST_CRON_SECRET } from "../../harness/processes.ts";
import { DEFAULT_CONFIG, duplicateResults, setConfig, startRunInSql } from "../../harness/runs.ts";
import { freshState, stopSuite } from "../helpers/suite.ts";

let sql: Sql;
let mock: MockProvider;
let fns: Awaited<ReturnType<typeof startFunctions>> | undefined;

beforeAll(async () => {
  sql = connect();
  mock = await startMockProvider({ latencyMs: 0 });
});
afterAll(() => stopSuite({ fns, mock, sql }));
beforeEach(async () => {
  await freshState(sql, mock);
  // Lost after 3 s of silence (heartbeats every 0.5 s), so a kill is rescued in seconds.
  await setConfig(sql, { heartbeat_seconds: 1, stale_heartbeat_seconds: 3, processor_kick_grace_seconds: 5 });
});
afterEach(async () => {
  await fns?.stop();
  fns = undefined;
  await setConfig(sql, DEFAULT_CONFIG);
});

async function serve(limits: Record<string, string>) {
  fns = await startFunctions({ DAYBREAK_HEARTBEAT_MS: "500", ...limits });
  await setVault(sql, fns.url, TEST_CRON_SECRET);
  return fns;
}

/** Waits for the run to end, reconciling as the cron tick would; returns its status. */
async function untilRunEnds(runId: string, timeoutMs: number): Promise<string> {
  const [row] = await waitFor(`run ${runId} to end`, async () => {
    await sql`select scheduler.reconcile()`;
    return await sql`select status from scheduler.runs where id = ${runId}`;
  }, (r) => r[0]?.status !== "running", timeoutMs, 500);
  return row!.status as string;
}

async function expectEveryTaskAnsweredOnce(runId: string, tasks: number): Promise<void> {
  const [counts] = await sql`
    select count(*) filter (where status = 'succeeded')::int as succeeded, count(*)::int as tasks,
           (select count(*)::int from public.prompt_results where run_id = ${runId}) as results
      from scheduler.batch_tasks where run_id = ${runId}`;
  expect(counts).toEqual({ succeeded: tasks, tasks, results: tasks });
  expect(await duplicateResults(sql)).toEqual([]);
}

const kills = (reason: string) => (fns!.output().match(new RegExp(`robust-batch-processor w\\d+\\] killed: ${reason} limit`, "g")) ?? []).length;

describe("the processor on the edge runtime", () => {
  it("hands over when its worker drains: a run through several worker lives completes, and no worker is killed", async () => {
    await serve({ DAYBREAK_EDGE_WALL_CLOCK_MS: "12000" });
    await seedOrganizations(sql, { organizations: 4, promptsPerOrg: 25, providers: { paced: mock.url } });
    await sql`update public.providers set requests_per_minute = 360`; // 6/s: 100 tasks take ~17 s, three half-lives
    mock.setLatency(150);
    const { runId, tasks } = await startRunInSql(sql);
    expect(await untilRunEnds(runId, 90_000)).toBe("completed");
    await expectEveryTaskAnsweredOnce(runId, tasks);
    expect(kills("\\w+")).toBe(0);
    // process.cpuUsage() is a stub on the edge runtime that warns on every call: never called there.
    expect(fns!.output()).not.toContain("Not implemented: process.cpuUsage()");
    const reasons = await sql`select distinct stop_reason from scheduler.processors where stop_reason is not null`;
    expect(reasons.map((r) => r.stop_reason)).toContain("worker_drain");
  });

  it("a worker killed for its wall clock mid-run (its rounds held up by a lock) costs no task and no second result", async () => {
    await serve({ DAYBREAK_EDGE_WALL_CLOCK_MS: "8000" });
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 20, providers: { paced: mock.url } });
    await sql`update public.providers set requests_per_minute = 600`;
    mock.setLatency(100);
    const { runId, tasks } = await startRunInSql(sql);
    await waitFor("calls in flight", async () => mock.calls().length, (n) => n >= 5, 10_000, 50);
    // Nothing can be recorded or claimed while the provider's pacer row is locked: the worker
    // reaches its wall clock holding tasks.
    const holder = connect(1);
    const lock = holder.begin(async (tx) => {
      await tx`select * from scheduler.provider_pace for update`;
      await waitFor("a worker killed for its wall clock", async () => kills("wall_clock"), (n) => n >= 1, 20_000, 100);
    });
    await lock;
    await holder.end();
    expect(await untilRunEnds(runId, 90_000)).toBe("completed");
    await expectEveryTaskAnsweredOnce(runId, tasks);
  });

  it("a worker killed for its CPU mid-run (answers costly to read) costs no task and no second result", async () => {
    await serve({ DAYBREAK_EDGE_CPU_SOFT_MS: "500", DAYBREAK_EDGE_CPU_HARD_MS: "700", DAYBREAK_EDGE_MEMORY_MB: "2048", DAYBREAK_EDGE_WALL_CLOCK_MS: "60000" });
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 30, providers: { paced: mock.url } });
    await sql`update public.providers set requests_per_minute = 60000`;
    mock.setLatency(50);
    mock.setRules([{ bodyBytes: 3_500_000, times: 40 }]);
    const { runId, tasks } = await startRunInSql(sql);
    await waitFor("a worker killed for its CPU", async () => kills("cpu"), (n) => n >= 1, 30_000, 100)
      .catch((e) => { console.error(fns!.output().split("\n").filter((l) => /retired|killed|robust/.test(l)).slice(-40).join("\n")); throw e; });
    mock.setRules([]);
    expect(await untilRunEnds(runId, 90_000)).toBe("completed");
    await expectEveryTaskAnsweredOnce(runId, tasks);
  });

  it("a worker killed for its memory mid-run (large answers arriving together) costs no task and no second result", async () => {
    await serve({ DAYBREAK_EDGE_MEMORY_MB: "160", DAYBREAK_EDGE_WALL_CLOCK_MS: "60000" });
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 30, providers: { paced: mock.url } });
    await sql`update public.providers set requests_per_minute = 60000`;
    mock.setLatency(300);
    mock.setRules([{ bodyBytes: 3_900_000, times: 48 }]);
    const { runId, tasks } = await startRunInSql(sql);
    await waitFor("a worker killed for its memory", async () => kills("memory"), (n) => n >= 1, 30_000, 100);
    mock.setRules([]);
    expect(await untilRunEnds(runId, 90_000)).toBe("completed");
    await expectEveryTaskAnsweredOnce(runId, tasks);
  });
});
