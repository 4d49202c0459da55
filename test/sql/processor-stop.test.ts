// A processor's stop (scheduler.stop_processor): a stopped processor holds nothing. A claim that
// committed but whose answer was lost (the connection dropped; the processor's retry claimed other
// tasks) is given back at the stop, not when its lease runs out.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import { startRunInSql } from "../../harness/runs.ts";

const sql = connect(3);
beforeEach(async () => {
  await resetState(sql);
  await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 6, providers: { a: "http://127.0.0.1:9/v1" } });
  await sql`update public.providers set requests_per_minute = 6000000`;
});
afterAll(() => sql.end());

async function processor(worker: string): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into scheduler.processors (worker, status, started_at, last_seen) values (${worker}, 'running', now(), now()) returning id`;
  return row!.id;
}

const claim = (worker: string, n: number) => sql`select scheduler.claim_paced_tasks(${worker}, 'a', ${n}::int)`;

const tasksOf = (worker: string) => sql<{ status: string; attempts: number; token: string | null }[]>`
  select status, attempts, attempt_token::text as token from scheduler.batch_tasks where claimed_by = ${worker} order by id`;

describe("a processor's stop", () => {
  it("gives back the tasks its worker still holds (a claim whose answer was lost), uncounted, and no one else's", async () => {
    await startRunInSql(sql);
    const id = await processor("worker-a");
    await claim("worker-a", 2); // committed; its answer never reached the processor
    await claim("worker-b", 2); // another processor's live claim
    expect(await tasksOf("worker-a")).toHaveLength(2);

    await sql`select scheduler.stop_processor(${id}::uuid, 'stopped', 'no_work', 0, 10)`;

    expect(await tasksOf("worker-a")).toEqual([]);
    const given = await sql<{ n: number; attempts: number; tokens: number }[]>`
      select count(*)::int as n, max(attempts)::int as attempts, count(attempt_token)::int as tokens
        from scheduler.batch_tasks where status = 'pending'`;
    expect(given[0]).toEqual({ n: 4, attempts: 0, tokens: 0 });
    expect((await tasksOf("worker-b")).map((t) => t.status)).toEqual(["processing", "processing"]);
    const [row] = await sql`select status, stop_reason from scheduler.processors where id = ${id}`;
    expect(row).toEqual({ status: "stopped", stop_reason: "no_work" });
  });

  it("gives back nothing while handing over: its calls are still in flight", async () => {
    await startRunInSql(sql);
    const id = await processor("worker-a");
    await claim("worker-a", 2);
    await sql`select scheduler.stop_processor(${id}::uuid, 'handing_over', 'wall_clock', 2, 10)`;
    expect((await tasksOf("worker-a")).map((t) => [t.status, t.attempts])).toEqual([["processing", 1], ["processing", 1]]);
  });
});
