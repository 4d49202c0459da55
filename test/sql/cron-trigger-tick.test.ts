// scheduler.cron_trigger_tick: calls the trigger only when a schedule is due, never when idle.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { connect } from "../../harness/db.ts";
import { ROOT } from "../../scripts/lib/root.ts";
import { resetState, setVault } from "../../harness/fixtures.ts";

const sql = connect(2);
afterAll(() => sql.end());
beforeEach(async () => {
  await resetState(sql);
  await sql`update scheduler.schedules set enabled = true where name = 'daily-batch'`;
  await setVault(sql, "http://127.0.0.1:9/functions/v1", "x".repeat(40));
});

const queued = async () => (await sql`select count(*)::int as n from daybreak_test.net_requests`)[0]!.n as number;

describe("cron_trigger_tick", () => {
  it("queues nothing outside the window", async () => {
    for (const t of ["2026-11-22T07:55:00Z", "2026-11-22T11:00:00Z", "2026-07-04T06:55:00Z", "2026-03-08T06:55:00Z"]) {
      const [row] = await sql`select scheduler.cron_trigger_tick(${t}::timestamptz) as d`;
      expect(row!.d[0].decision, t).toBe("outside_window");
    }
    expect(await queued()).toBe(0);
    expect((await sql`select count(*)::int as n from scheduler.cron_ticks`)[0]!.n).toBe(0);
  });

  it("queues nothing when the period is already claimed", async () => {
    await sql`select scheduler.try_mark_daily_run('2026-11-22')`;
    await sql`truncate daybreak_test.net_requests`;
    const [row] = await sql`select scheduler.cron_trigger_tick('2026-11-22T08:05:00Z') as d`;
    expect(row!.d[0].decision).toBe("already_claimed");
    expect(await queued()).toBe(0);
  });

  it("queues nothing for a paused schedule", async () => {
    await sql`update scheduler.schedules set enabled = false where name = 'daily-batch'`;
    const [row] = await sql`select scheduler.cron_trigger_tick('2026-11-22T08:05:00Z') as d`;
    expect(row!.d[0].decision).toBe("disabled");
    expect(await queued()).toBe(0);
  });

  it("in the window and unclaimed: one call with a fresh x-request-id, recorded in cron_ticks", async () => {
    const [row] = await sql`select scheduler.cron_trigger_tick('2026-11-22T08:05:00Z') as d`;
    const decision = row!.d[0];
    expect(decision).toMatchObject({ decision: "called", run_key: "2026-11-22", schedule: "daily-batch" });
    const requests = await sql`select id, url, headers, convert_from(body, 'UTF8')::jsonb as body from daybreak_test.net_requests`;
    expect(requests).toHaveLength(1);
    expect(requests[0]!.url).toBe("http://127.0.0.1:9/functions/v1/daily-batch-trigger");
    expect(requests[0]!.headers["x-request-id"]).toBe(decision.request_id);
    expect(requests[0]!.headers["x-cron-secret"]).toBe("x".repeat(40));
    expect(requests[0]!.body).toEqual({ schedule: "daily-batch" });
    const ticks = await sql`select decision, request_id, net_request_id::text from scheduler.cron_ticks`;
    expect(ticks).toEqual([{ decision: "called", request_id: decision.request_id, net_request_id: String(requests[0]!.id) }]);
  });

  it("over a whole simulated day, calls only inside the window and stops once the day is claimed", async () => {
    const start = Date.parse("2026-11-22T00:00:00Z");
    let calls = 0;
    for (let i = 0; i < 288; i++) {
      const t = new Date(start + i * 300_000).toISOString();
      const [row] = await sql`select scheduler.cron_trigger_tick(${t}::timestamptz) as d`;
      if (row!.d[0].decision === "called") {
        calls++;
        expect(t).toBe("2026-11-22T08:00:00.000Z");
        await sql`select scheduler.try_mark_daily_run('2026-11-22')`; // what the trigger does
      }
    }
    expect(calls).toBe(1);
  });
});

describe("pg_cron jobs after migrations", () => {
  it("the nine legacy jobs (created before migrations) are gone: exactly daybreak-trigger and daybreak-reconciler remain", async () => {
    const jobs = await sql`select jobname, schedule, command from cron.job where jobname not like 'platform-test-%' order by jobname`;
    const names = jobs.map((j) => j.jobname);
    expect(names).toEqual(["daybreak-reconciler", "daybreak-trigger"]);
    const trigger = jobs.find((j) => j.jobname === "daybreak-trigger")!;
    expect(trigger).toMatchObject({ schedule: "*/5 * * * *", command: "select scheduler.cron_trigger_tick()" });
    const reconciler = jobs.find((j) => j.jobname === "daybreak-reconciler")!;
    expect(reconciler).toMatchObject({ schedule: "10 seconds", command: "select scheduler.cron_reconcile_tick()" });
  });

  it("the legacy cleanup migration is idempotent and removes the jobs wherever they reappear", async () => {
    const file = fs.readdirSync(path.join(ROOT, "supabase/migrations")).find((f) => f.includes("unschedule_legacy"))!;
    const text = fs.readFileSync(path.join(ROOT, "supabase/migrations", file), "utf8");
    await sql`select cron.schedule('daily-scheduler-3am-edt', '0 7 * * *', 'select 1')`;
    await sql.unsafe(text);
    await sql.unsafe(text);
    const [row] = await sql`select count(*)::int as n from cron.job where jobname = 'daily-scheduler-3am-edt'`;
    expect(row!.n).toBe(0);
  });
});
