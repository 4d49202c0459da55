// The soak's invariant checker must be able to fail: states that break each invariant, built
// here by hand, are reported; a clean run is not; a repeated answer is excused only by a fault.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { checkRun, type CheckInput } from "../../bench/soak/checker.ts";
import type { CallRecord } from "../../harness/mock-provider/index.ts";
import { connect } from "../../harness/db.ts";
import { resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startRunInSql } from "../../harness/runs.ts";

const sql = connect(3);
afterAll(() => sql.end());

let runId: string;
let taskIds: string[];
const t0 = Date.now();

beforeEach(async () => {
  await resetState(sql);
  await setVault(sql, "http://127.0.0.1:9/functions/v1", "x".repeat(40));
  await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 3, providers: { a: "http://127.0.0.1:9/v1" } });
  ({ runId } = await startRunInSql(sql));
  taskIds = (await sql`select id::text from scheduler.batch_tasks where run_id = ${runId} order by id`).map((r) => r.id as string);
});

function input(calls: CallRecord[], faults: CheckInput["faults"] = []): CheckInput {
  return { runId, schedule: "daily-batch", startedAt: t0 - 60_000, calls, faults, leaseMs: 30_000 };
}
const answer = (taskId: string, at: number, status: CallRecord["status"] = 200): CallRecord => ({ taskId, model: "a-model", region: "global", at, status });

/** Every task answered once and recorded, the run and its jobs finalized, the fleet stopped. */
async function finishCleanly(): Promise<CallRecord[]> {
  await sql`update scheduler.batch_tasks set status = 'succeeded', completed_at = now() where run_id = ${runId}`;
  await sql`insert into public.prompt_results (task_id, run_id, org_id, prompt_id, provider, region, answered_by, model, response, attempts, latency_ms)
            select t.id, t.run_id, j.org_id, t.prompt_id, t.provider, t.region, t.provider, 'a-model', 'ok', 1, 10
              from scheduler.batch_tasks t join scheduler.batch_jobs j on j.id = t.batch_job_id where t.run_id = ${runId}`;
  for (const job of await sql`select id from scheduler.batch_jobs where run_id = ${runId}`) await sql`select scheduler.finalize_batch_job(${job.id})`;
  await sql`update scheduler.processors set status = 'stopped'`;
  await sql`update scheduler.scheduler_runs set status = 'completed' where status = 'running'`;
  return taskIds.map((id) => answer(id, Date.now() - 5000));
}

describe("the soak's checker", () => {
  it("reports a run left half done: live tasks, live jobs, processors not stopped", async () => {
    const { violations } = await checkRun(sql, input([]));
    expect(violations).toEqual(expect.arrayContaining([
      expect.stringMatching(/^3 task\(s\) not terminal/),
      expect.stringMatching(/batch job\(s\) still pending or processing/),
      expect.stringMatching(/processor\(s\) not stopped/),
    ]));
  });

  it("passes a clean run, and reports a succeeded task with no provider answer", async () => {
    const calls = await finishCleanly();
    const clean = await checkRun(sql, input(calls));
    expect(clean.violations).toEqual([]);
    expect(clean.runStatus).toBe("completed");
    const { violations } = await checkRun(sql, input(calls.slice(1)));
    expect(violations).toEqual([`task ${taskIds[0]} has a result but the provider never answered it`]);
  });

  it("a second answer for a task is a violation unless a fault that cuts calls off explains it", async () => {
    const calls = await finishCleanly();
    const repeatAt = Date.now() - 10_000;
    const twice = [...calls, answer(taskIds[0]!, repeatAt)];
    const bare = await checkRun(sql, input(twice));
    expect(bare.violations).toEqual([expect.stringMatching(/^1 provider answer\(s\) wasted with no fault/)]);
    const kill = { kind: "functions_kill" as const, at: repeatAt + 1000, endAt: repeatAt + 3000, detail: "" };
    expect((await checkRun(sql, input(twice, [kill]))).violations).toEqual([]);
    const storm = { kind: "provider_429_storm" as const, at: repeatAt + 1000, endAt: repeatAt + 1000, detail: "" };
    expect((await checkRun(sql, input(twice, [storm]))).violations).toHaveLength(1); // a 429 storm cuts nothing off
    expect((await checkRun(sql, input([...calls, answer(taskIds[1]!, repeatAt, 400)]))).violations)
      .toEqual([`a malformed request reached the provider (task ${taskIds[1]})`]);
  });

  it("reports a run whose status disagrees with its tasks", async () => {
    const calls = await finishCleanly();
    await sql`delete from public.prompt_results where task_id = ${taskIds[2]!}::bigint`;
    await sql`update scheduler.batch_tasks set status = 'failed' where id = ${taskIds[2]!}::bigint`;
    const { violations } = await checkRun(sql, input(calls.slice(0, 2)));
    expect(violations).toEqual(["run status completed, its tasks say completed_with_errors"]);
  });
});
