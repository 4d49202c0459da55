// retry_failed_tasks after a provider outage brings the run to completed, with no duplicate result.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../harness/db.ts";
import { resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET } from "../../harness/processes.ts";
import { duplicateResults, startRunInSql, taskStatusCounts, waitForRunEnd } from "../../harness/runs.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";

let sql: Sql;
let mock: MockProvider;
let fns: Awaited<ReturnType<typeof startFunctions>>;

beforeAll(async () => {
  sql = connect();
  await resetState(sql);
  mock = await startMockProvider({ latencyMs: 0 });
  fns = await startFunctions({ DAYBREAK_RETRY_BASE_DELAY_MS: "20" });
  await setVault(sql, fns.url, TEST_CRON_SECRET);
});
afterAll(async () => {
  await fns?.stop();
  await mock?.close();
  await sql?.end();
});

describe("retry_failed_tasks", () => {
  it("after an outage of one provider, retrying brings the run to completed with one result per task", async () => {
    await seedOrganizations(sql, { organizations: 3, promptsPerOrg: 3, providers: { steady: mock.url, flaky: mock.url } });
    mock.setRules([{ model: "flaky-model", status: 503 }]);
    const { runId, tasks } = await startRunInSql(sql);
    expect(await waitForRunEnd(sql, runId)).toBe("completed_with_errors");
    expect(await taskStatusCounts(sql, runId)).toEqual({ succeeded: 9, failed: 9 });

    mock.setRules([]); // the provider is back
    const [retry] = await sql`select scheduler.retry_failed_tasks(${runId}) as r`;
    expect(retry!.r).toMatchObject({ tasks_reset: 9, batch_jobs_reopened: 3 });
    expect(retry!.r.processors_kicked).toBeGreaterThan(0);
    expect(await waitForRunEnd(sql, runId)).toBe("completed");

    expect(await taskStatusCounts(sql, runId)).toEqual({ succeeded: tasks });
    const [{ n }] = await sql`select count(*)::int as n from public.prompt_results where run_id = ${runId}`;
    expect(n).toBe(tasks);
    expect(await duplicateResults(sql)).toEqual([]);
    const steadyCalls = mock.calls().filter((c) => c.model === "steady-model");
    expect(steadyCalls).toHaveLength(9); // the tasks that had succeeded were not run again
    // Retrying a completed run is a no-op.
    const [again] = await sql`select scheduler.retry_failed_tasks(${runId}) as r`;
    expect(again!.r).toEqual({ tasks_reset: 0, batch_jobs_reopened: 0, processors_kicked: 0 });
  });
});
