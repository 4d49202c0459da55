// robust-batch-processor over real HTTP (Deno), with the kicks travelling through pg_net and an
// OpenAI-compatible mock provider: complete runs, contention, faults, and the time budget.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, waitFor, type Sql } from "../../harness/db.ts";
import { seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET, TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";
import { DEFAULT_CONFIG, duplicateResults, setConfig, startRunInSql, taskStatusCounts, waitForRunEnd } from "../../harness/runs.ts";
import { freshState, stopSuite } from "../helpers/suite.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";

let sql: Sql;
let mock: MockProvider;
let fns: Awaited<ReturnType<typeof startFunctions>> | undefined;

async function serveFunctions(env: Record<string, string> = {}) {
  await fns?.stop();
  fns = await startFunctions({ DAYBREAK_HEARTBEAT_MS: "200", ...env });
  await setVault(sql, fns.url, TEST_CRON_SECRET);
  return fns;
}

beforeAll(async () => {
  sql = connect();
  mock = await startMockProvider({ latencyMs: 0 });
});
afterAll(() => stopSuite({ fns, mock, sql }));
beforeEach(async () => {
  await freshState(sql, mock);
  mock.setLatency(0);
});
afterEach(async () => setConfig(sql, DEFAULT_CONFIG));

function postProcessor(body: unknown) {
  return fetch(`${fns!.url}/robust-batch-processor`, {
    method: "POST",
    headers: { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("a planned run is processed to completion", () => {
  it("every task done once through the kicked processors; the run completes", async () => {
    await serveFunctions();
    await seedOrganizations(sql, { organizations: 6, promptsPerOrg: 4, providers: { "mock-a": mock.url, "mock-b": mock.url }, regions: ["us", "eu"] });
    const { runId, tasks } = await startRunInSql(sql);
    expect(tasks).toBe(96);
    expect(await waitForRunEnd(sql, runId)).toBe("completed");
    const [{ results }] = await sql`select count(*)::int as results from public.prompt_results where run_id = ${runId}`;
    expect(results).toBe(96);
    expect(await duplicateResults(sql)).toEqual([]);
    const byTask = mock.callsByTask();
    expect(Object.keys(byTask)).toHaveLength(96);
    expect(Object.values(byTask).every((n) => n === 1)).toBe(true);
    const jobs = await sql`select status, count(*)::int as n from scheduler.batch_jobs where run_id = ${runId} group by status`;
    expect(jobs).toEqual([{ status: "completed", n: 6 }]);
  });
});

describe("contention", () => {
  it("8 processors started at once on one organization's work: each task called once, results = tasks", async () => {
    await serveFunctions();
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 20, providers: { "mock-a": mock.url, "mock-b": mock.url } });
    await sql`delete from vault.secrets`; // no kicks: only the 8 processors below work
    mock.setLatency(20);
    const { runId, tasks } = await startRunInSql(sql);
    const answers = await Promise.all(Array.from({ length: 8 }, () => postProcessor({})));
    const reports = await Promise.all(answers.map((r) => r.json()));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(reports.reduce((sum, r) => sum + r.processed, 0)).toBe(tasks);
    expect(reports.filter((r) => r.processed > 0).length).toBeGreaterThan(1); // they really worked side by side
    const byTask = mock.callsByTask();
    expect(Object.keys(byTask)).toHaveLength(tasks);
    expect(Object.values(byTask).every((n) => n === 1)).toBe(true);
    const [{ results }] = await sql`select count(*)::int as results from public.prompt_results`;
    expect(results).toBe(tasks);
    expect(await waitForRunEnd(sql, runId, 10_000)).toBe("completed");
  });
});

describe("provider faults", () => {
  it("429 with Retry-After and 500s are retried with backoff; a hang times out; the failing provider's tasks fail, the others succeed", async () => {
    await serveFunctions();
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 2, providers: { healthy: mock.url, limited: mock.url, broken: mock.url, hanging: mock.url } });
    await sql`update public.providers set timeout_ms = 1000 where name = 'hanging'`;
    mock.setRules([
      { model: "limited-model", status: 429, retryAfterSeconds: 2, times: 2 },
      { model: "broken-model", status: 500 },
      { model: "hanging-model", hang: true },
    ]);
    const { runId, tasks } = await startRunInSql(sql);
    expect(tasks).toBe(8);
    expect(await waitForRunEnd(sql, runId, 90_000)).toBe("completed_with_errors");

    const rows = await sql`select provider, status, last_error from scheduler.batch_tasks where run_id = ${runId} order by provider`;
    for (const r of rows) {
      if (r.provider === "healthy" || r.provider === "limited") expect(r, r.provider).toMatchObject({ status: "succeeded", last_error: null });
      if (r.provider === "broken") {
        expect(r.status).toBe("failed");
        expect(r.last_error).toMatch(/HTTP 500/);
        expect(r.last_error).toMatch(/3 attempts/);
      }
      if (r.provider === "hanging") {
        expect(r.status).toBe("failed");
        expect(r.last_error).toMatch(/timed out/);
      }
    }
    const [job] = await sql`select status, last_error from scheduler.batch_jobs where run_id = ${runId}`;
    expect(job).toMatchObject({ status: "completed_with_errors", last_error: "4 of 8 tasks failed" });

    // Backoff seen in the mock's call timestamps: ~1 s then ~2 s (+ up to 25% jitter) for 500s,
    // and at least the 2 s Retry-After for 429s.
    const calls = mock.calls();
    const gaps = (model: string) => {
      const byTask = new Map<string, number[]>();
      for (const c of calls.filter((c) => c.model === model)) byTask.set(c.taskId!, [...(byTask.get(c.taskId!) ?? []), c.at]);
      return [...byTask.values()].map((ts) => ts.slice(1).map((t, i) => t - ts[i]!));
    };
    for (const g of gaps("broken-model")) {
      expect(g).toHaveLength(2);
      expect(g[0]).toBeGreaterThanOrEqual(950);
      expect(g[0]).toBeLessThan(1250 + 300);
      expect(g[1]).toBeGreaterThanOrEqual(1950);
      expect(g[1]).toBeLessThan(2500 + 300);
    }
    const limited = gaps("limited-model").flat();
    expect(limited.length).toBeGreaterThanOrEqual(1);
    for (const g of limited) expect(g).toBeGreaterThanOrEqual(1950);
  }, 120_000);

  it("uses the fallback provider when the primary fails, and records who answered", async () => {
    await serveFunctions({ DAYBREAK_RETRY_BASE_DELAY_MS: "10" });
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 2, providers: { primary: mock.url } });
    await sql`insert into public.providers (name, base_url, model, timeout_ms) values ('backup', ${mock.url}, 'backup-model', 5000)`;
    await sql`update public.providers set fallback_provider = 'backup' where name = 'primary'`;
    mock.setRules([{ model: "primary-model", status: 503 }]);
    const { runId } = await startRunInSql(sql);
    expect(await waitForRunEnd(sql, runId, 30_000)).toBe("completed");
    const results = await sql`select provider, answered_by from public.prompt_results`;
    expect(results).toEqual([{ provider: "primary", answered_by: "backup" }, { provider: "primary", answered_by: "backup" }]);
  });
});

describe("time budget", () => {
  it("hands over to itself before the budget runs out, heartbeating throughout, and the run completes", async () => {
    // One invocation at a time, two calls in flight each: 40 tasks × 250 ms ÷ 2 = 5 s of work.
    await serveFunctions({ DAYBREAK_PROCESSOR_BUDGET_MS: "1500", DAYBREAK_TASK_CLAIM_BATCH: "2", DAYBREAK_PROCESSOR_MAX_IN_FLIGHT: "2" });
    await setConfig(sql, { max_processor_invocations: 1 });
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 40, providers: { "mock-a": mock.url } });
    mock.setLatency(250);
    const { runId, tasks } = await startRunInSql(sql);
    let worstHeartbeatAgeMs = 0;
    const status = await waitFor("the run to end", async () => {
      const [row] = await sql`
        select r.status, extract(epoch from (now() - j.last_heartbeat)) * 1000 as age
          from scheduler.runs r join scheduler.batch_jobs j on j.run_id = r.id where r.id = ${runId}`;
      if (row!.status === "running" && row!.age !== null) worstHeartbeatAgeMs = Math.max(worstHeartbeatAgeMs, Number(row!.age));
      return row!.status as string;
    }, (s) => s !== "running", 60_000, 100);
    expect(status).toBe("completed");
    const invocations = await sql`
      select details from scheduler.scheduler_runs where function_name = 'robust-batch-processor' and status = 'completed'`;
    expect(invocations.length).toBeGreaterThanOrEqual(3); // 5 s of work, 1.5 s budget each
    expect(invocations.filter((i) => i.details.continued === true).length).toBeGreaterThanOrEqual(2);
    expect(worstHeartbeatAgeMs).toBeLessThan(5_000);
    expect(Object.values(mock.callsByTask()).every((n) => n === 1)).toBe(true);
    const [{ results }] = await sql`select count(*)::int as results from public.prompt_results`;
    expect(results).toBe(tasks);
  }, 120_000);
});

describe("a provider slower than an invocation", () => {
  it("is cut off at the deadline, counted, retried by the next invocation, and failed after 3 attempts: the run still ends", async () => {
    await serveFunctions({ DAYBREAK_PROCESSOR_BUDGET_MS: "1000", DAYBREAK_PROCESSOR_HARD_DEADLINE_MS: "1500" });
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 2, providers: { glacial: mock.url, quick: mock.url } });
    await sql`update public.providers set timeout_ms = 10000 where name = 'glacial'`;
    mock.setRules([{ model: "glacial-model", hang: true }]);
    const { runId } = await startRunInSql(sql);
    expect(await waitForRunEnd(sql, runId, 60_000)).toBe("completed_with_errors");
    const rows = await sql`select provider, status, attempts, last_error from scheduler.batch_tasks where run_id = ${runId} order by provider`;
    for (const r of rows.filter((r) => r.provider === "glacial")) {
      expect(r.status).toBe("failed");
      expect(r.attempts).toBe(3);
      expect(r.last_error).toMatch(/cut off at the processor's deadline/);
      expect(r.last_error).toMatch(/gave up after 3 attempts/);
    }
    expect(rows.filter((r) => r.provider === "quick").every((r) => r.status === "succeeded")).toBe(true);
    const glacialCalls = mock.calls().filter((c) => c.model === "glacial-model").length;
    expect(glacialCalls).toBe(6); // 2 tasks × 3 invocations, each cut off mid-call
  });
});

describe("bad input", () => {
  it("wrong types and unknown keys (batch_job_id is one: kicks name a processor) get 400 JSON and change nothing", async () => {
    await serveFunctions();
    const before = await sql`select count(*)::int as n from scheduler.scheduler_runs`;
    for (const [body, status, message] of [
      [{ processor_id: 42 }, 400, /processor_id/],
      [{ processor_id: "not-a-uuid" }, 400, /UUID/],
      [{ batch: "x" }, 400, /batch/],
      [{ batch_job_id: "7d4b1e1c-2f1a-4c55-9a52-8e6a5e2b9c11" }, 400, /batch_job_id/],
    ] as const) {
      const res = await postProcessor(body);
      expect(res.status).toBe(status);
      expect(JSON.stringify(await res.json())).toMatch(message);
    }
    const reconciler = await fetch(`${fns!.url}/batch-reconciler`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}` },
      body: JSON.stringify({ dry_run: "yes", extra: 1 }),
    });
    expect(reconciler.status).toBe(400);
    expect(JSON.stringify(await reconciler.json())).toMatch(/dry_run/);
    const after = await sql`select count(*)::int as n from scheduler.scheduler_runs`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });
});
