// The trigger through a lost connection: a claim whose commit went through but whose answer was
// lost (the connection dropped at the commit) is retried, recognized as this invocation's own run
// and answered `started`, with its invocation row as the claim left it; a claim refused by the
// database while it restarts is retried until it goes through.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { handleTriggerRequest } from "../../functions/_shared/trigger.ts";
import type { Sql as FunctionSql } from "../../functions/_shared/db.ts";
import { connect, type Sql } from "../../harness/db.ts";
import { createOpenSchedule, resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";

const sql = connect(3);
afterAll(() => sql.end());
const env = (name: string) => ({ CRON_SECRET: "c".repeat(40), SUPABASE_SERVICE_ROLE_KEY: TEST_SERVICE_ROLE_KEY })[name];

beforeEach(async () => {
  await resetState(sql);
  await setVault(sql, "http://127.0.0.1:9/functions/v1", "x".repeat(40));
  await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 3, providers: { a: "http://127.0.0.1:9/v1" } });
  await createOpenSchedule(sql, "outage");
});

/** The real connection, except that the claim misbehaves the first time, as `fault` says. */
function withFlakyClaim(fault: "answer_lost" | "refused"): { sql: FunctionSql; claims: () => number } {
  let claims = 0;
  const flaky = new Proxy(sql, {
    apply(target, thisArg, args: [TemplateStringsArray, ...unknown[]]) {
      // The period's claim; the due pass (the gate called with a null run key) finds no organization due here.
      const text = args[0].join("?");
      if (!text.includes("try_mark_daily_run(") || text.includes("null::text, ?::text, ?::uuid")) return Reflect.apply(target, thisArg, args);
      claims += 1;
      if (claims > 1) return Reflect.apply(target, thisArg, args);
      const lost = Object.assign(new Error("connection closed"), { code: fault === "refused" ? "ECONNREFUSED" : "CONNECTION_CLOSED" });
      if (fault === "refused") return Promise.reject(lost);
      return (Reflect.apply(target, thisArg, args) as Promise<unknown>).then(() => Promise.reject(lost));
    },
  });
  return { sql: flaky as unknown as FunctionSql, claims: () => claims };
}

function trigger(flaky: FunctionSql): Promise<Response> {
  const req = new Request("http://local/functions/v1/daily-batch-trigger", {
    method: "POST",
    headers: { authorization: `Bearer ${TEST_SERVICE_ROLE_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ schedule: "outage" }),
  });
  return handleTriggerRequest(req, { sql: flaky, env, now: () => new Date() });
}

describe("the trigger through a lost connection", () => {
  it("a claim committed but unanswered is retried and recognized: started, one run, the invocation row says started", async () => {
    const flaky = withFlakyClaim("answer_lost");
    const res = await trigger(flaky.sql);
    const body = await res.json();
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ status: "started", tasks: 6, batch_jobs: 2 });
    expect(flaky.claims()).toBe(1); // the retry asked whether the run was its own, and did not claim again
    const runs = await sql`select id::text, scheduler_run_id::text from scheduler.runs where schedule = 'outage'`;
    expect(runs).toHaveLength(1);
    expect(runs[0]!.id).toBe(body.run_id);
    const [invocation] = await sql`select status, reason, run_id::text from scheduler.scheduler_runs where id = ${runs[0]!.scheduler_run_id}::uuid`;
    expect(invocation).toEqual({ status: "completed", reason: "started", run_id: body.run_id });
  });

  it("a claim refused while the database restarts is tried again and goes through once", async () => {
    const flaky = withFlakyClaim("refused");
    const res = await trigger(flaky.sql);
    expect(await res.json()).toMatchObject({ status: "started", tasks: 6 });
    expect(flaky.claims()).toBe(2);
    expect((await sql`select count(*)::int as n from scheduler.runs where schedule = 'outage'`)[0]!.n).toBe(1);
  });
});
