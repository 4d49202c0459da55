// Crash: kill -9 the Deno process serving the processor in the middle of a batch, restart it, run
// the reconciler → the run completes with one result per planned task and nothing left processing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, waitFor, type Sql } from "../helpers/db.ts";
import { resetState, seedOrganizations, setVault } from "../helpers/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET, TEST_SERVICE_ROLE_KEY } from "../helpers/processes.ts";
import { DEFAULT_CONFIG, duplicateResults, setConfig, startRunInSql, taskStatusCounts } from "../helpers/runs.ts";
import { startMockProvider, type MockProvider } from "../../scripts/lib/mock-provider.ts";

let sql: Sql;
let mock: MockProvider;
let fns: Awaited<ReturnType<typeof startFunctions>> | undefined;
const FUNCTION_ENV = { DAYBREAK_HEARTBEAT_MS: "300", DAYBREAK_TASK_CLAIM_BATCH: "3" };

beforeAll(async () => {
  sql = connect();
  await resetState(sql);
  // Thresholds scaled down from minutes to seconds; the lease still outlives the provider timeout.
  await setConfig(sql, { ...DEFAULT_CONFIG, stale_heartbeat_seconds: 2, task_lease_seconds: 4, pending_grace_seconds: 3, max_concurrent_batch_jobs: 2 });
  mock = await startMockProvider({ latencyMs: 300 });
  fns = await startFunctions(FUNCTION_ENV);
  await setVault(sql, fns.url, TEST_CRON_SECRET);
});
afterAll(async () => {
  await setConfig(sql, DEFAULT_CONFIG);
  await fns?.stop();
  await mock?.close();
  await sql?.end();
});

const count = async (q: PromiseLike<readonly Record<string, unknown>[]>) => Number((await q)[0]!.n);

describe("a processor killed mid-batch", () => {
  it("is recovered by the reconciler: every planned task has exactly one result", async () => {
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 15, providers: { slow: mock.url } });
    await sql`update public.providers set timeout_ms = 2000`;
    const { runId, tasks } = await startRunInSql(sql);
    expect(tasks).toBe(30);

    await waitFor("some results", () => count(sql`select count(*)::int as n from public.prompt_results`), (n) => n >= 6, 30_000, 50);
    await fns!.stop("SIGKILL");
    const [state] = await sql`
      select (select count(*)::int from public.prompt_results) as results,
             (select count(*)::int from scheduler.batch_tasks where status = 'processing') as processing`;
    expect(state!.results).toBeLessThan(tasks);
    expect(state!.processing).toBeGreaterThan(0); // work was in flight when the process died

    fns = await startFunctions({ ...FUNCTION_ENV, PORT: String(fns!.port) });
    const reports: Record<string, unknown>[] = [];
    await waitFor("the run to end", async () => {
      const [run] = await sql`select status from scheduler.runs where id = ${runId}`;
      if (run!.status !== "running") return run!.status as string;
      const stale = await count(sql`select count(*)::int as n from scheduler.stale_batch_jobs()`);
      if (stale > 0) {
        const res = await fetch(`${fns!.url}/batch-reconciler`, {
          method: "POST", headers: { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}` }, body: "{}",
        });
        reports.push(await res.json());
      }
      return run!.status as string;
    }, (s) => s !== "running", 90_000, 250);

    const [run] = await sql`select status, tasks_planned from scheduler.runs where id = ${runId}`;
    expect(run!.status).toBe("completed");
    expect(reports.some((r) => Number(r.resumed) > 0)).toBe(true);
    expect(await count(sql`select count(*)::int as n from public.prompt_results where run_id = ${runId}`)).toBe(run!.tasks_planned);
    expect(await duplicateResults(sql)).toEqual([]);
    expect(await taskStatusCounts(sql, runId)).toEqual({ succeeded: tasks });
    // A provider is called twice only for a task whose lease expired while its worker was dead.
    const repeated = Object.values(mock.callsByTask()).filter((n) => n > 1).length;
    expect(repeated).toBeLessThanOrEqual(state!.processing);
  }, 150_000);
});
