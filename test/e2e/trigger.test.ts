// daily-batch-trigger over real HTTP, served by Deno, against the real database.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../harness/db.ts";
import { countRows, createOpenSchedule, resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET, TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";
import { DEFAULT_CONFIG, setConfig } from "../../harness/runs.ts";

const PREVIOUS_SECRET = "previous-cron-secret-0123456789abcdefghijk";
let sql: Sql;
let fns: Awaited<ReturnType<typeof startFunctions>>;

beforeAll(async () => {
  sql = connect();
  fns = await startFunctions({ CRON_SECRET_PREVIOUS: PREVIOUS_SECRET });
});
afterAll(async () => {
  await fns?.stop();
  await sql?.end();
});
// The processor kicks the trigger queues go to a port where nothing listens: these tests are
// about the trigger, and the real pg_net sends every committed kick (the processors' own tests
// let them through).
const KICKS_URL = "http://127.0.0.1:9/functions/v1";
beforeEach(async () => {
  await resetState(sql);
  await setVault(sql, KICKS_URL, TEST_CRON_SECRET);
});

function call(headers: Record<string, string>, body?: unknown, init: RequestInit = {}) {
  return fetch(`${fns.url}/daily-batch-trigger`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}
const cron = { "x-cron-secret": TEST_CRON_SECRET, "user-agent": "pg_net/0.19.5" };
const manual = { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}`, "x-manual-call": "true" };
const github = { "x-cron-secret": TEST_CRON_SECRET, "user-agent": "GitHub-Actions/daily-batch", "x-github-run-id": "987654" };

describe("exactly once under 50 concurrent callers", () => {
  it("mixed sources → one run, one plan, 50 invocation rows, 49 already_ran with the winner's run_id", async () => {
    const schedule = await createOpenSchedule(sql);
    const seeded = await seedOrganizations(sql, { organizations: 6, promptsPerOrg: 3, providers: { a: "http://127.0.0.1:9/v1", b: "http://127.0.0.1:9/v1" } });
    const callers = Array.from({ length: 50 }, (_, i) => {
      if (i % 3 === 0) return { source: "cron", headers: cron, body: { schedule } };
      if (i % 3 === 1) return { source: "manual", headers: manual, body: { schedule, force: true, note: `caller ${i}` } };
      return { source: "github_actions", headers: github, body: { schedule } };
    });
    // The cron callers carry the request ids of ticks daybreak's cron job queued: a cron label needs that proof.
    for (const i of callers.flatMap((c, i) => (c.source === "cron" ? [i] : []))) {
      await sql`insert into scheduler.cron_ticks (tick, ticked_at, decision, schedule, request_id) values ('trigger', now(), 'called', ${schedule}, ${`req-${i}`})`;
    }
    const answers = await Promise.all(callers.map(async (c, i) => {
      const res = await call({ ...c.headers, "x-request-id": `req-${i}` }, c.body);
      return { status: res.status, body: (await res.json()) as Record<string, unknown>, source: c.source, i };
    }));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const started = answers.filter((a) => a.body.status === "started");
    expect(started).toHaveLength(1);
    const winner = started[0]!;
    expect(winner.body).toMatchObject({ schedule, batch_jobs: 6, tasks: seeded.expectedTasks, trigger_source: winner.source });
    const skipped = answers.filter((a) => a.body.status === "skipped");
    expect(skipped).toHaveLength(49);
    for (const s of skipped) expect(s.body).toMatchObject({ reason: "already_ran", existing_run_id: winner.body.run_id });

    const counts = await countRows(sql);
    expect(counts).toMatchObject({ runs: 1, batch_jobs: 6, batch_tasks: seeded.expectedTasks, scheduler_runs: 50 });
    const rows = await sql`select request_id, trigger_source, status, reason, run_id, user_agent, github_run_id
                             from scheduler.scheduler_runs where function_name = 'daily-batch-trigger'`;
    expect(rows).toHaveLength(50);
    for (const row of rows) {
      const i = Number(String(row.request_id).slice(4));
      expect(row.trigger_source, `caller ${i}`).toBe(callers[i]!.source);
      expect(row.run_id).toBe(winner.body.run_id);
      expect(row.status).toBe(i === winner.i ? "completed" : "skipped");
    }
    expect(rows.filter((r) => r.github_run_id === "987654")).toHaveLength(callers.filter((c) => c.source === "github_actions").length);
    const [run] = await sql`select trigger_source, scheduler_run_id from scheduler.runs`;
    expect(run!.trigger_source).toBe(winner.source);
  });
});

describe("authentication", () => {
  const cases: [string, Record<string, string>][] = [
    ["no credentials", {}],
    ["a wrong secret", { "x-cron-secret": TEST_CRON_SECRET.replace(/.$/, "!") }],
    ["x-manual-call: true without a secret", { "x-manual-call": "true" }],
    ["the cron secret as a bearer token", { authorization: `Bearer ${TEST_CRON_SECRET}` }],
  ];
  for (const [what, headers] of cases) {
    it(`${what} → 401 and zero rows in every table`, async () => {
      await createOpenSchedule(sql);
      await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
      const res = await call(headers, { schedule: "e2e-open", force: true });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "unauthorized" });
      expect(await countRows(sql)).toMatchObject({ runs: 0, scheduler_runs: 0, batch_jobs: 0, batch_tasks: 0, net_requests: 0 });
    });
  }

  it("accepts the previous secret during rotation", async () => {
    await createOpenSchedule(sql);
    const res = await call({ "x-cron-secret": PREVIOUS_SECRET }, { schedule: "e2e-open" });
    expect(res.status).toBe(200);
    const [row] = await sql`select auth_method from scheduler.scheduler_runs`;
    expect(row!.auth_method).toBe("cron_secret_previous");
  });

  it("fails closed with 500 misconfigured when CRON_SECRET is unset", async () => {
    const unset = await startFunctions({ CRON_SECRET: "" });
    try {
      const res = await fetch(`${unset.url}/daily-batch-trigger`, { method: "POST", headers: manual, body: "{}" });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: "misconfigured" });
      expect(await countRows(sql)).toMatchObject({ runs: 0, scheduler_runs: 0 });
    } finally {
      await unset.stop();
    }
  });
});

describe("bad input writes nothing", () => {
  const bad: [string, Record<string, string>, string | undefined, number, RegExp][] = [
    ["malformed JSON", manual, "{not json", 400, /malformed JSON/],
    ["an unknown key", manual, JSON.stringify({ forse: true }), 400, /forse/],
    ["a wrong type", manual, JSON.stringify({ force: "yes" }), 400, /force/],
    ["a non-object body", manual, JSON.stringify([1, 2]), 400, /invalid_request/],
    ["a body over 16 KiB", manual, JSON.stringify({ note: "x".repeat(17 * 1024) }), 413, /payload_too_large/],
    ["a note over 500 chars", manual, JSON.stringify({ note: "x".repeat(501) }), 400, /500 characters/],
    ["force on a non-manual call", cron, JSON.stringify({ force: true }), 400, /only accepted on a manual call/],
    ["run_key without force", manual, JSON.stringify({ run_key: "2026-01-01" }), 400, /needs force/],
    ["a run_key in the future", manual, JSON.stringify({ force: true, run_key: "2099-01-01" }), 400, /future/],
    ["a run_key 31 days back", manual, JSON.stringify({ force: true, run_key: daysAgo(31) }), 400, /31 days back/],
    ["an unknown schedule", manual, JSON.stringify({ schedule: "nope" }), 400, /unknown schedule .*nope/],
  ];
  for (const [what, headers, body, status, message] of bad) {
    it(`${what} → ${status} JSON naming the problem, zero rows`, async () => {
      const res = await call(headers, body);
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      expect(JSON.stringify(await res.json())).toMatch(message);
      expect(await countRows(sql)).toMatchObject({ runs: 0, scheduler_runs: 0, batch_jobs: 0, batch_tasks: 0 });
    });
  }

  it("GET → 405", async () => {
    const res = await fetch(`${fns.url}/daily-batch-trigger`, { headers: manual });
    expect(res.status).toBe(405);
    expect(await res.json()).toMatchObject({ error: "method_not_allowed" });
    expect(await countRows(sql)).toMatchObject({ scheduler_runs: 0 });
  });
});

describe("window, force and backfill", () => {
  it("outside the window a call is skipped and recorded; force on a manual call starts the run with its note", async () => {
    await sql`update scheduler.schedules set enabled = true, window_start = '00:00', window_end = '00:00:00.000001', timezone = 'UTC' where name = 'daily-batch'`;
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    const skipped = await (await call(cron, {})).json();
    expect(skipped).toMatchObject({ status: "skipped", reason: "outside_window", schedule: "daily-batch" });
    const forced = await (await call(manual, { force: true, note: "ops: rerun after incident 42" })).json();
    expect(forced).toMatchObject({ status: "started", trigger_source: "manual", batch_jobs: 2, tasks: 2 });
    const rows = await sql`select status, reason, forced, note from scheduler.scheduler_runs order by started_at`;
    expect(rows).toEqual([
      { status: "skipped", reason: "outside_window", forced: false, note: null },
      { status: "completed", reason: "started", forced: true, note: "ops: rerun after incident 42" },
    ]);
    const [run] = await sql`select forced, note, trigger_source from scheduler.runs`;
    expect(run).toEqual({ forced: true, note: "ops: rerun after incident 42", trigger_source: "manual" });
    // force never bypasses the one-run-per-day gate
    const again = await (await call(manual, { force: true })).json();
    expect(again).toMatchObject({ status: "skipped", reason: "already_ran", existing_run_id: forced.run_id });
  });

  it("backfills a missed past day with run_key on a manual forced call", async () => {
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 2, providers: { a: "http://127.0.0.1:9/v1" } });
    const key = daysAgo(3);
    const res = await (await call(manual, { force: true, run_key: key, note: "backfill missed day" })).json();
    expect(res).toMatchObject({ status: "started", run_key: key, tasks: 2 });
    const [run] = await sql`select run_key, note from scheduler.runs`;
    expect(run).toEqual({ run_key: key, note: "backfill missed day" });
  });

  it("queues the processor fleet the demand needs (rate × latency ÷ calls per invocation), sent through pg_net after commit", async () => {
    await createOpenSchedule(sql);
    await seedOrganizations(sql, { organizations: 6, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    // 1,200/min paced at 97% = 19.4 calls/s × 2 s assumed latency ≈ 39 calls in flight; 10 per invocation → 4.
    await sql`update public.providers set requests_per_minute = 1200`;
    await setConfig(sql, { processor_in_flight_per_invocation: 10 });
    try {
      const res = await (await call(cron, { schedule: "e2e-open" })).json();
      expect(res.status).toBe("started");
      const kicks = await sql`select url, headers->>'x-trigger-source' as source from daybreak_test.net_requests`;
      expect(kicks).toHaveLength(4);
      expect(kicks.every((k) => k.url === `${KICKS_URL}/robust-batch-processor`)).toBe(true);
      expect(await sql`select status, count(*)::int as n from scheduler.processors group by 1`).toEqual([{ status: "kicked", n: 4 }]);
    } finally {
      await setConfig(sql, DEFAULT_CONFIG);
    }
  });
});

function daysAgo(n: number): string {
  // In America/New_York, as the trigger counts days.
  const ny = new Date(new Date().toLocaleString("en-US", { timeZone: "America/New_York" }));
  ny.setDate(ny.getDate() - n);
  return `${ny.getFullYear()}-${String(ny.getMonth() + 1).padStart(2, "0")}-${String(ny.getDate()).padStart(2, "0")}`;
}
