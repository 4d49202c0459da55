// Least privilege over real HTTP (Deno functions, the mock provider, real Postgres): the read-only
// token reads the dashboard and nothing else, the page's data names only daybreak's cron jobs, a
// gateway that echoes the key gets it redacted before anything stores or shows it, an oversized
// answer fails its own call only, the headers, and a cron label without a tick recorded as api.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../harness/db.ts";
import { createOpenSchedule, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";
import { startFunctions, TEST_CRON_SECRET, TEST_METRICS_TOKEN, TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";
import { startRunInSql, waitForRunEnd } from "../../harness/runs.ts";
import { freshState, stopSuite } from "../helpers/suite.ts";

const GATEWAY_KEY = "sk-gateway-live-7a3f9c0d2e41b5a6";
let sql: Sql;
let mock: MockProvider;
let fns: Awaited<ReturnType<typeof startFunctions>>;

beforeAll(async () => {
  sql = connect();
  mock = await startMockProvider({ latencyMs: 0 });
  fns = await startFunctions({ GATEWAY_API_KEY: GATEWAY_KEY, DAYBREAK_HEARTBEAT_MS: "200" });
}, 120_000);
afterAll(() => stopSuite({ fns, mock, sql }));
beforeEach(async () => {
  await freshState(sql, mock);
  await setVault(sql, fns.url, TEST_CRON_SECRET);
});

const post = (fn: string, headers: Record<string, string>, body: unknown = {}) =>
  fetch(`${fns.url}/${fn}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
const dashboard = (path: string, headers: Record<string, string> = {}) => fetch(`${fns.url}/daybreak-dashboard${path}`, { headers });
const invocations = async () => (await sql`select count(*)::int as n from scheduler.scheduler_runs`)[0]!.n as number;

describe("the read-only token", () => {
  it("reads the page's data and the metrics", async () => {
    for (const path of ["/data", "/metrics"]) {
      const res = await dashboard(path, { authorization: `Bearer ${TEST_METRICS_TOKEN}` });
      expect(res.status, path).toBe(200);
    }
  });

  it("is refused by every function that acts, however it is presented, and nothing is written", async () => {
    await createOpenSchedule(sql);
    const before = await invocations();
    for (const fn of ["daily-batch-trigger", "robust-batch-processor", "batch-reconciler", "health"]) {
      const presentations: Record<string, string>[] = [{ authorization: `Bearer ${TEST_METRICS_TOKEN}` }, { "x-cron-secret": TEST_METRICS_TOKEN },
        { authorization: `Bearer ${TEST_METRICS_TOKEN}`, "x-manual-call": "true" }];
      for (const headers of presentations) {
        const res = await post(fn, headers, fn === "daily-batch-trigger" ? { schedule: "e2e-open" } : {});
        expect(res.status, `${fn} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      }
    }
    expect(await invocations()).toBe(before);
    expect((await sql`select count(*)::int as n from scheduler.runs`)[0]!.n).toBe(0);
  });
});

describe("the page shows only daybreak's own", () => {
  it("its cron rows are daybreak's jobs, with only the columns the page shows", async () => {
    const [other] = await sql`select cron.schedule('other-team-export', '0 3 1 1 *',
      $$select net.http_post('https://other.example', headers := '{"Authorization": "Bearer sk-other-team-0000000000"}')$$) as id`;
    try {
      const res = await dashboard("/data", { authorization: `Bearer ${TEST_METRICS_TOKEN}` });
      const data = await res.json();
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(data.cron.map((c: { jobname: string }) => c.jobname).sort()).toEqual(["daybreak-reconciler", "daybreak-trigger"]);
      for (const row of data.cron) expect(Object.keys(row).sort()).toEqual(["active", "health", "jobname", "last_start", "last_status", "schedule"]);
      expect(JSON.stringify(data)).not.toMatch(/other-team|sk-other|cron_reconcile_tick\(\)/);
    } finally {
      await sql`select cron.unschedule(${other!.id}::bigint)`;
    }
  });

  it("the page allows its own script by hash only, and is never framed", async () => {
    const csp = (await dashboard("")).headers.get("content-security-policy") ?? "";
    const scriptSrc = /script-src ([^;]*)/.exec(csp)?.[1] ?? "";
    expect(scriptSrc).toMatch(/^'sha256-[A-Za-z0-9+/]+=*'$/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
  });
});

describe("provider answers", () => {
  async function runAgainst(rules: Parameters<MockProvider["setRules"]>[0], apiKeyEnv: string | null) {
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 3, providers: { gateway: mock.url } });
    await sql`update public.providers set api_key_env = ${apiKeyEnv}`;
    mock.setRules(rules);
    const { runId } = await startRunInSql(sql);
    return { runId, status: await waitForRunEnd(sql, runId) };
  }

  it("a gateway that echoes the key: the key is redacted before it is stored or shown", async () => {
    const { runId } = await runAgainst([{ status: 401, echoKey: true }], "GATEWAY_API_KEY");
    const errors = await sql`select last_error from scheduler.batch_tasks where run_id = ${runId}`;
    expect(errors.length).toBe(6);
    for (const { last_error } of errors) {
      expect(last_error).toMatch(/Incorrect API key provided: \[redacted\]/);
      expect(last_error).not.toContain(GATEWAY_KEY);
    }
    const stored = await sql`select to_jsonb(t)::text as row from scheduler.batch_tasks t
                             union all select to_jsonb(s)::text from scheduler.provider_run_stats s
                             union all select to_jsonb(r)::text from scheduler.scheduler_runs r`;
    expect(stored.filter((r) => String(r.row).includes(GATEWAY_KEY))).toEqual([]);
    const page = await (await dashboard("/data", { authorization: `Bearer ${TEST_METRICS_TOKEN}` })).text();
    expect(page).not.toContain(GATEWAY_KEY);
  });

  it("an answer over 4 MiB fails that call with response_too_large; the invocation's other calls succeed", async () => {
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 3, providers: { gateway: mock.url } });
    const { runId, tasks } = await startRunInSql(sql);
    const [big] = await sql`select id::text from scheduler.batch_tasks where run_id = ${runId} order by id limit 1`;
    mock.setRules([{ taskId: big!.id, bodyBytes: 5 * 1024 * 1024 }]);
    expect(await waitForRunEnd(sql, runId)).toBe("completed_with_errors");
    const rows = await sql`select id::text, status, last_error from scheduler.batch_tasks where run_id = ${runId} order by id`;
    expect(rows[0]).toMatchObject({ id: big!.id, status: "failed" });
    expect(rows[0]!.last_error).toMatch(/response_too_large/);
    expect(rows.slice(1).every((r) => r.status === "succeeded")).toBe(true);
    expect(rows).toHaveLength(tasks);
  });
});

describe("attribution", () => {
  it("a call that says cron but carries no tick's request id is recorded as api, with its claim beside it", async () => {
    await createOpenSchedule(sql);
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    const res = await post("daily-batch-trigger", { "x-cron-secret": TEST_CRON_SECRET, "x-trigger-source": "cron",
      "user-agent": "pg_net/0.20.4", "x-request-id": "forged-tick" }, { schedule: "e2e-open" });
    expect(await res.json()).toMatchObject({ status: "started", trigger_source: "api" });
    expect(await sql`select trigger_source, claimed_trigger_source from scheduler.scheduler_runs where request_id = 'forged-tick'`)
      .toEqual([{ trigger_source: "api", claimed_trigger_source: "cron" }]);
    expect((await sql`select trigger_source from scheduler.runs`)[0]!.trigger_source).toBe("api");
    const manual = await post("batch-reconciler", { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}`, "x-manual-call": "true" });
    expect(manual.status).toBe(200);
  });
});
