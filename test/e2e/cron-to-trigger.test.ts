// The whole path with nothing simulated: pg_cron (every 10 s here) → scheduler.cron_trigger_tick
// → net.http_post → the real pg_net worker → Deno daily-batch-trigger → one run in Postgres.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, waitFor, type Sql } from "../../harness/db.ts";
import { createOpenSchedule, resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET } from "../../harness/processes.ts";

let sql: Sql;
let fns: Awaited<ReturnType<typeof startFunctions>>;
let jobId: number | undefined;

beforeAll(async () => {
  sql = connect();
  await resetState(sql);
  fns = await startFunctions();
  await setVault(sql, fns.url, TEST_CRON_SECRET);
});
afterAll(async () => {
  if (jobId !== undefined) await sql`select cron.unschedule(${jobId}::bigint)`;
  await fns?.stop();
  await sql?.end();
});

describe("pg_cron → cron_trigger_tick → pg_net → daily-batch-trigger", () => {
  it("produces exactly one run with trigger_source = 'cron', traceable by x-request-id", async () => {
    await createOpenSchedule(sql);
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 2, providers: { a: "http://127.0.0.1:9/v1" } });
    const [job] = await sql`select cron.schedule('e2e-trigger-every-10s', '10 seconds', 'select scheduler.cron_trigger_tick()') as id`;
    jobId = Number(job!.id);

    const runs = await waitFor("a run started by the cron tick", () => sql`select id, trigger_source, tasks_planned from scheduler.runs`,
      (r) => r.length > 0, 30_000, 200);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ trigger_source: "cron", tasks_planned: 4 });

    // One tick, followed through pg_net to the invocation and the run it produced: pg_net's own
    // worker sent it (its response row, by request id) and the trigger answered at once (202,
    // Prefer: respond-async), naming the x-request-id under which it recorded the invocation.
    const [trace] = await waitFor("pg_net's response row for the tick", () => sql`
      select t.decision, t.request_id, r.status_code, r.content::jsonb as content, r.timed_out, s.trigger_source, s.run_id, s.user_agent
        from scheduler.cron_ticks t
        join net._http_response r on r.id = t.net_request_id
        join scheduler.scheduler_runs s on s.request_id = t.request_id
       where t.decision = 'called'`, (r) => r.length === 1);
    expect(trace).toMatchObject({ decision: "called", status_code: 202, timed_out: false, trigger_source: "cron", run_id: runs[0]!.id });
    expect(trace!.content).toEqual({ accepted: true, function: "daily-batch-trigger", request_id: trace!.request_id });
    expect(trace!.user_agent).toMatch(/^pg_net\//);

    // The next tick sees the period claimed and calls nothing.
    const [{ calls }] = await sql`select count(*)::int as calls from scheduler.cron_ticks`;
    await waitFor("another cron run of the tick job",
      () => sql`select count(*)::int as n from cron.job_run_details where jobid = ${jobId!} and status = 'succeeded'`,
      (r) => r[0]!.n >= 2, 30_000, 200);
    const [{ after }] = await sql`select count(*)::int as after from scheduler.cron_ticks`;
    expect(after).toBe(calls);
    expect((await sql`select count(*)::int as n from scheduler.runs`)[0]!.n).toBe(1);
  }, 90_000);
});
