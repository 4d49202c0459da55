// Task claims (scheduler.claim_paced_tasks): SKIP LOCKED batches, leases, and fencing by attempt
// token when a round of outcomes is recorded (scheduler.record_task_outcomes).
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import postgres from "postgres";
import { connect, databaseUrl } from "../../harness/db.ts";
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import { DEFAULT_CONFIG, recordOutcomes, setConfig, startRunInSql } from "../../harness/runs.ts";

const sql = connect(5);
afterAll(() => sql.end());
beforeEach(async () => {
  await resetState(sql);
  await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 4, providers: { a: "http://127.0.0.1:9/v1" } });
  // A pace far above the test's claims: these tests are about leases and tokens, not the pacer.
  await sql`update public.providers set requests_per_minute = 6000000`;
});
afterEach(() => setConfig(sql, DEFAULT_CONFIG));

interface Claimed {
  task_id: string;
  attempt_token: string;
  attempts: number;
}

async function claim(worker: string, limit: number): Promise<Claimed[]> {
  const [row] = await sql<{ c: { tasks: Claimed[] } }[]>`select scheduler.claim_paced_tasks(${worker}, 'a', ${limit}::int) as c`;
  return row!.c.tasks;
}

/** One round of one outcome, as a processor records it; returns the round's report. */
const record = (worker: string, t: Claimed, outcome: Record<string, unknown>) =>
  recordOutcomes(sql, worker, [{ task_id: t.task_id, attempt_token: t.attempt_token, ...outcome }]);

const success = (by: string) => ({ outcome: "succeeded", answered_by: by, model: "m", response: `answer from ${by}`, attempts: 1, latency_ms: 5 });

describe("fencing", () => {
  it("a late completion from a worker whose lease was taken over is rejected and changes nothing", async () => {
    const { runId } = await startRunInSql(sql);
    const [a] = await claim("worker-a", 1);
    // A's lease expires (A is slow or paused); B reclaims the same task with a new token.
    await sql`update scheduler.batch_tasks set lease_expires_at = now() - interval '1 second' where id = ${a!.task_id}`;
    const [b] = await claim("worker-b", 1);
    expect(b!.task_id).toBe(a!.task_id);
    expect(b!.attempt_token).not.toBe(a!.attempt_token);
    expect(b!.attempts).toBe(2);

    const byB = await record("worker-b", b!, success("B"));
    expect(byB).toMatchObject({ accepted: [Number(b!.task_id)], duplicates: [], rejected: [] });
    const byA = await record("worker-a", a!, success("A"));
    expect(byA).toMatchObject({ accepted: [], rejected: [Number(a!.task_id)] });
    const failA = await record("worker-a", a!, { outcome: "failed", error: "late failure" });
    expect(failA).toMatchObject({ accepted: [], rejected: [Number(a!.task_id)] });

    const rows = await sql`select answered_by, response from public.prompt_results where task_id = ${a!.task_id}`;
    expect(rows).toEqual([{ answered_by: "B", response: "answer from B" }]);
    const [task] = await sql`select status, last_error from scheduler.batch_tasks where id = ${a!.task_id}`;
    expect(task).toEqual({ status: "succeeded", last_error: null });
    const [jobRow] = await sql`select duplicates_prevented from scheduler.batch_jobs where run_id = ${runId}`;
    expect(jobRow!.duplicates_prevented).toBe(1);
  });

  it("a live lease is never taken: concurrent claimers get disjoint tasks", async () => {
    await startRunInSql(sql);
    const claims = await Promise.all(["w1", "w2", "w3", "w4", "w5"].map((w) => claim(w, 2)));
    const ids = claims.flatMap((tasks) => tasks.map((t) => t.task_id));
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
  });

  it("a result that already exists is counted as a prevented duplicate, never written twice", async () => {
    const { runId } = await startRunInSql(sql);
    const [t] = await claim("w", 1);
    await sql`insert into public.prompt_results (task_id, run_id, org_id, prompt_id, provider, region, answered_by, model, response, attempts, latency_ms)
              select id, run_id, ${(await sql`select org_id from scheduler.batch_jobs where run_id = ${runId}`)[0]!.org_id}, prompt_id, provider, region, 'earlier', 'm', 'earlier', 1, 1
                from scheduler.batch_tasks where id = ${t!.task_id}`;
    const o = await record("w", t!, success("now"));
    expect(o).toMatchObject({ accepted: [Number(t!.task_id)], duplicates: [Number(t!.task_id)] });
    const [{ n }] = await sql`select count(*)::int as n from public.prompt_results where task_id = ${t!.task_id}`;
    expect(n).toBe(1);
    const [jobRow] = await sql`select duplicates_prevented from scheduler.batch_jobs where run_id = ${runId}`;
    expect(jobRow!.duplicates_prevented).toBe(1);
  });

});

describe("complete_tasks (a whole claimed batch in one transaction)", () => {
  it("accepts current attempts, rejects a stale one, keeps an existing result, and counts both", async () => {
    const { runId } = await startRunInSql(sql);
    const claimed = await claim("w", 3);
    const [fresh, stale, existing] = claimed;
    await sql`update scheduler.batch_tasks set attempt_token = gen_random_uuid() where id = ${stale!.task_id}`; // taken over
    await sql`insert into public.prompt_results (task_id, run_id, org_id, prompt_id, provider, region, answered_by, model, response, attempts, latency_ms)
              select t.id, t.run_id, j.org_id, t.prompt_id, t.provider, t.region, 'earlier', 'm', 'earlier', 1, 1
                from scheduler.batch_tasks t join scheduler.batch_jobs j on j.id = t.batch_job_id where t.id = ${existing!.task_id}`;
    const entry = (t: typeof fresh) => ({ task_id: Number(t!.task_id), attempt_token: t!.attempt_token, answered_by: "a", model: "m", response: `r${t!.task_id}`, attempts: 1, latency_ms: 2 });
    const [res] = await sql`select scheduler.complete_tasks(${sql.json([entry(fresh), entry(stale), entry(existing)])}) as r`;
    expect(res!.r).toMatchObject({
      accepted: [Number(fresh!.task_id), Number(existing!.task_id)].sort((a, b) => a - b),
      duplicates: [Number(existing!.task_id)],
      rejected: [Number(stale!.task_id)],
      duplicates_prevented: 2,
    });
    const results = await sql`select task_id::int, response from public.prompt_results order by task_id`;
    expect(results).toEqual([
      { task_id: Number(fresh!.task_id), response: `r${fresh!.task_id}` },
      { task_id: Number(existing!.task_id), response: "earlier" },
    ].sort((a, b) => a.task_id - b.task_id));
    const [jobRow] = await sql`select duplicates_prevented from scheduler.batch_jobs where run_id = ${runId}`;
    expect(jobRow!.duplicates_prevented).toBe(2);
  });
});

describe("finalization under concurrency", () => {
  it("batch jobs of one run finalized at the same moment by different processors still end the run", async () => {
    await seedOrganizations(sql, { organizations: 7, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    for (let attempt = 0; attempt < 5; attempt++) {
      await sql`truncate scheduler.runs cascade`;
      const { runId } = await startRunInSql(sql, `2026-11-1${attempt}`);
      await sql`update scheduler.batch_tasks set status = 'succeeded' where run_id = ${runId}`;
      const jobs = await sql`select id from scheduler.batch_jobs where run_id = ${runId}`;
      const clients = jobs.map(() => postgres(databaseUrl(), { max: 1, onnotice: () => {} }));
      try {
        await Promise.all(clients.map((c) => c`select 1`));
        await Promise.all(jobs.map((j, i) => clients[i]!`select scheduler.finalize_batch_job(${j.id})`));
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
      const [run] = await sql`select status from scheduler.runs where id = ${runId}`;
      expect(run!.status, `attempt ${attempt}`).toBe("completed");
    }
  });
});
