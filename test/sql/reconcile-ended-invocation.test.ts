// The reconciler closes invocations with no outcome past the abandon threshold; one that records
// its end while the pass waits for its row keeps that end. Two real connections: one holds the
// invocation's end uncommitted while the other's reconcile reaches the row and waits on its lock.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { connect, waitFor } from "../../harness/db.ts";
import { resetState } from "../../harness/fixtures.ts";

const sql = connect(3);
const reconciler = connect(1);
afterAll(async () => {
  await sql.end();
  await reconciler.end();
});
beforeEach(() => resetState(sql));

describe("an invocation that recorded its end", () => {
  it("is not closed as abandoned by a reconcile that read it as running before the end committed", async () => {
    const [{ id }] = await sql`
      insert into scheduler.scheduler_runs (function_name, trigger_source, status, started_at)
      values ('robust-batch-processor', 'api', 'running', now() - interval '10 minutes') returning id`;
    const ending = await sql.reserve();
    try {
      await ending`begin`;
      await ending`update scheduler.scheduler_runs set status = 'completed', completed_at = now() where id = ${id}`;
      const pass = reconciler`select scheduler.reconcile(false, now()) as r`;
      pass.catch(() => {});
      await waitFor("the reconcile to wait on the invocation's row", () => sql`
        select count(*)::int as n from pg_stat_activity
         where wait_event_type = 'Lock' and query like '%scheduler.reconcile(false%'`, (r) => r[0]!.n === 1, 10_000, 20);
      await ending`commit`;
      const [{ r }] = await pass;
      expect(r.runs_closed).toBe(0);
    } finally {
      ending.release();
    }
    const [row] = await sql`select status, reason, error_message from scheduler.scheduler_runs where id = ${id}`;
    expect(row).toEqual({ status: "completed", reason: null, error_message: null });
  });

  it("one that never recorded an end is still closed", async () => {
    await sql`insert into scheduler.scheduler_runs (function_name, trigger_source, status, started_at)
              values ('robust-batch-processor', 'api', 'running', now() - interval '10 minutes')`;
    const [{ r }] = await sql`select scheduler.reconcile(false, now()) as r`;
    expect(r.runs_closed).toBe(1);
    const [row] = await sql`select status, reason from scheduler.scheduler_runs`;
    expect(row).toEqual({ status: "failed", reason: "abandoned" });
  });
});
