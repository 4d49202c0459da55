// Kicks through the real pg_net worker. Its worker takes a batch of queued requests and takes no
// new ones until every request of the batch has finished, so a kick must never hold it: daybreak's
// calls carry `Prefer: respond-async` and the functions answer 202 at once, working on in the
// background (EdgeRuntime.waitUntil, emulated by scripts/serve-functions.ts). Also: a kick queued
// in a transaction that rolls back is never sent, and a kick whose HTTP call times out (pg_net's
// timeout_milliseconds) still leaves the run able to finish, because state lives in daybreak's tables.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import http from "node:http";
import { connect, waitFor, type Sql } from "../../harness/db.ts";
import { seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET, TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";
import { DEFAULT_CONFIG, setConfig, startRunInSql, waitForRunEnd } from "../../harness/runs.ts";
import { freshState, stopSuite } from "../helpers/suite.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";

let sql: Sql;
let mock: MockProvider;
let fns: Awaited<ReturnType<typeof startFunctions>>;

beforeAll(async () => {
  sql = connect();
  mock = await startMockProvider({ latencyMs: 0 });
  fns = await startFunctions({ DAYBREAK_HEARTBEAT_MS: "200" });
});
afterAll(() => stopSuite({ fns, mock, sql }));
beforeEach(async () => {
  await freshState(sql, mock);
  mock.setLatency(0);
});
afterEach(async () => setConfig(sql, DEFAULT_CONFIG));

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An HTTP server on a free port; `answer` decides what each request gets. */
async function startServer(answer: (req: Received, res: http.ServerResponse) => void) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const r = { path: req.url!, headers: req.headers, body };
      received.push(r);
      answer(r, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    received,
    url: `http://127.0.0.1:${port}/functions/v1`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

describe("a function started through pg_net answers at once", () => {
  it("a reconciler call queued while processors work is delivered within seconds", async () => {
    await setVault(sql, fns.url, TEST_CRON_SECRET);
    // Slow provider calls, two at a time: the kicked processors work for about 20 s (40 × 1 s / 2).
    // Had a processor answered its kick only when done, pg_net's worker would wait on it.
    mock.setLatency(1000);
    await seedOrganizations(sql, { organizations: 4, promptsPerOrg: 10, providers: { "mock-a": mock.url } });
    await sql`update public.providers set max_in_flight = 2`;
    const { runId } = await startRunInSql(sql);
    await waitFor("a processor at work", () => sql`select count(*)::int as n from public.prompt_results where run_id = ${runId}`,
      (r) => r[0]!.n > 0, 30_000, 100);
    const [{ working }] = await sql`select count(*)::int as working from scheduler.processors where status = 'running'`;
    expect(working).toBeGreaterThan(0);

    const requestId = crypto.randomUUID();
    const queuedAt = Date.now();
    await sql`select scheduler.queue_function_call('batch-reconciler', '{}'::jsonb, 'cron', ${requestId})`;
    await waitFor("the reconciler's invocation row", () => sql`select 1 from scheduler.scheduler_runs where request_id = ${requestId}`,
      (r) => r.length === 1, 15_000, 50);
    const deliveredMs = Date.now() - queuedAt;
    expect(deliveredMs).toBeLessThan(5000);
    // The run was still going: the reconciler did not wait for the processors.
    const [{ status }] = await sql`select status from scheduler.runs where id = ${runId}`;
    expect(status).toBe("running");

    // Every kick pg_net sent was answered 202 well inside its timeout.
    const responses = await waitFor("pg_net's response rows", () => sql`
        select status_code, timed_out, content::jsonb as content from net._http_response`,
      (r) => r.length > 0 && r.every((x) => x.status_code !== null || x.timed_out !== null));
    for (const r of responses) {
      expect(r).toMatchObject({ status_code: 202, timed_out: false });
      expect(r.content.accepted).toBe(true);
    }
    mock.setLatency(0);
    await sql`update public.providers set max_in_flight = null`;
    expect(await waitForRunEnd(sql, runId, 120_000)).toBe("completed");
  }, 180_000);

  it("without Prefer: respond-async a call is answered synchronously with the full report", async () => {
    const res = await fetch(`${fns.url}/batch-reconciler`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "completed", stale: 0 });
  });

  it("with it, a bad request still gets its 4xx at once, and nothing is started", async () => {
    const headers = { "x-cron-secret": TEST_CRON_SECRET, "content-type": "application/json", prefer: "respond-async" };
    const bad = await fetch(`${fns.url}/batch-reconciler`, { method: "POST", headers, body: '{"nope":1}' });
    expect(bad.status).toBe(400);
    const unauthorized = await fetch(`${fns.url}/batch-reconciler`, { method: "POST", headers: { prefer: "respond-async" }, body: "{}" });
    expect(unauthorized.status).toBe(401);
    const ok = await fetch(`${fns.url}/batch-reconciler`, { method: "POST", headers: { ...headers, "x-request-id": "async-probe" }, body: "{}" });
    expect(ok.status).toBe(202);
    expect(ok.headers.get("preference-applied")).toBe("respond-async");
    expect(await ok.json()).toEqual({ accepted: true, function: "batch-reconciler", request_id: "async-probe" });
    await waitFor("the background reconcile", () => sql`select status from scheduler.scheduler_runs where request_id = 'async-probe'`,
      (r) => r.length === 1 && r[0]!.status === "completed");
    expect((await sql`select count(*)::int as n from scheduler.scheduler_runs`)[0]!.n).toBe(1);
  });
});

describe("exactly when pg_net sends", () => {
  it("a kick queued in a transaction that rolls back is never sent", async () => {
    const server = await startServer((_r, res) => res.writeHead(202, { "content-type": "application/json" }).end("{}"));
    try {
      await setVault(sql, server.url, TEST_CRON_SECRET);
      const rolledBack = `rolled-back-${crypto.randomUUID()}`;
      await sql.begin(async (tx) => {
        await tx`select scheduler.queue_function_call('robust-batch-processor', '{}'::jsonb, 'api', ${rolledBack})`;
        throw new Error("roll back");
      }).catch((e) => expect((e as Error).message).toBe("roll back"));
      const committed = `committed-${crypto.randomUUID()}`;
      const [{ id }] = await sql`select scheduler.queue_function_call('robust-batch-processor', '{}'::jsonb, 'api', ${committed}) as id`;
      await waitFor("the committed kick's response", () => sql`select status_code from net._http_response where id = ${id}`,
        (r) => r.length === 1);
      // pg_net sends in queue order: the committed kick came after the rolled-back one.
      await new Promise((r) => setTimeout(r, 500));
      const ids = server.received.map((r) => r.headers["x-request-id"]);
      expect(ids).toContain(committed);
      expect(ids).not.toContain(rolledBack);
      expect(server.received.find((r) => r.headers["x-request-id"] === committed)!.headers["user-agent"]).toMatch(/^pg_net\//);
    } finally {
      await server.close();
    }
  });

  it("a kick whose HTTP call times out still leaves the run able to finish", async () => {
    // In front of the functions: forwards every kick at once (the function starts working) but
    // answers pg_net only after its timeout, so every kick is recorded as timed out.
    await setConfig(sql, { function_call_timeout_ms: 1000 });
    const proxy = await startServer((r, res) => {
      void fetch(`${fns.url}${r.path.replace(/^\/functions\/v1/, "")}`, {
        method: "POST",
        headers: Object.fromEntries(Object.entries(r.headers).filter(([k]) => !["host", "content-length", "connection"].includes(k))) as Record<string, string>,
        body: r.body,
      }).then((answer) => answer.text()).catch(() => {});
      setTimeout(() => res.writeHead(202).end(), 4000);
    });
    try {
      await setVault(sql, proxy.url, TEST_CRON_SECRET);
      await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 5, providers: { "mock-a": mock.url } });
      const { runId, tasks } = await startRunInSql(sql);
      expect(await waitForRunEnd(sql, runId, 120_000)).toBe("completed");
      const [{ results }] = await sql`select count(*)::int as results from public.prompt_results where run_id = ${runId}`;
      expect(results).toBe(tasks);
      const responses = await waitFor("the timed-out kicks", () => sql`select timed_out, error_msg from net._http_response`,
        (r) => r.length > 0);
      expect(responses.every((r) => r.timed_out === true)).toBe(true);
      expect(responses[0]!.error_msg).toMatch(/Timeout of 1000 ms/);
    } finally {
      await proxy.close();
    }
  }, 180_000);
});
