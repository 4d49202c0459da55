// A hung provider call against the real processor (Deno, over HTTP): with the provider's answers
// of the last hour known (a run before), the call is cut off at 3 × their p99 (5 s at least) and retried, not held
// for the provider's configured timeout (120 s), so the run ends seconds after the hang.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../harness/db.ts";
import { seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";
import { startFunctions, TEST_CRON_SECRET } from "../../harness/processes.ts";
import { startRunInSql, waitForRunEnd } from "../../harness/runs.ts";
import { freshState, stopSuite } from "../helpers/suite.ts";

let sql: Sql;
let mock: MockProvider;
let fns: Awaited<ReturnType<typeof startFunctions>> | undefined;

beforeAll(async () => {
  sql = connect();
  mock = await startMockProvider({ latencyMs: 20 });
  fns = await startFunctions({ DAYBREAK_HEARTBEAT_MS: "200" });
});
afterAll(() => stopSuite({ fns, mock, sql }));
beforeEach(async () => {
  await freshState(sql, mock);
  await setVault(sql, fns!.url, TEST_CRON_SECRET);
});

describe("a hung call costs seconds, not the provider's timeout", () => {
  it("after a run of quick answers, a hang is cut off at 5 s and retried within its claim; the run ends in seconds", async () => {
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 30, providers: { fast: mock.url } });
    // The shipped timeout; a stated limit, so the pace is not probed up from nothing.
    await sql`update public.providers set timeout_ms = 120000, requests_per_minute = 6000 where name = 'fast'`;
    const first = await startRunInSql(sql, "2026-11-21");
    expect(await waitForRunEnd(sql, first.runId)).toBe("completed");
    const [{ ms }] = await sql`select scheduler.call_deadline_ms('fast') as ms`;
    expect(ms).toBe(5000);

    mock.setRules([{ model: "fast-model", hang: true, times: 1 }]);
    const startedAt = Date.now();
    const second = await startRunInSql(sql, "2026-11-22");
    // Held for the timeout, the run would still be running at 100 s.
    expect(await waitForRunEnd(sql, second.runId, 100_000)).toBe("completed");
    const tookMs = Date.now() - startedAt;
    expect(tookMs).toBeGreaterThanOrEqual(5000);
    expect(tookMs).toBeLessThan(30_000);
    const retried = await sql`
      select r.attempts, t.attempts as claims from public.prompt_results r join scheduler.batch_tasks t on t.id = r.task_id
       where r.run_id = ${second.runId} and r.attempts > 1`;
    expect(retried).toEqual([{ attempts: 2, claims: 1 }]);
    expect(mock.calls().filter((c) => c.status === "hang")).toHaveLength(1);
  }, 150_000);
});
