// The soak's checker must be able to fail: states that break each rule it reads from the database
// (built here by hand) are reported; a clean run is not. The rules on the call log and the closing
// reconcile alone are tried in test/unit/soak-checker-rules.test.ts.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { checkRun, type CheckInput } from "../../bench/soak/checker.ts";
import type { InjectedFault } from "../../bench/soak/faults.ts";
import { closingReconcile } from "../../bench/soak/reconcile-rule.ts";
import type { PlannedTask } from "../../bench/soak/task-state.ts";
import type { CallRecord } from "../../harness/mock-provider/index.ts";
import { connect } from "../../harness/db.ts";
import { resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startRunInSql } from "../../harness/runs.ts";

const sql = connect(3);
afterAll(() => sql.end());

let runId: string;
let taskIds: string[];
let expected: PlannedTask[];
const t0 = Date.now();

beforeEach(async () => {
  await resetState(sql);
  await setVault(sql, "http://127.0.0.1:9/functions/v1", "x".repeat(40));
  const { orgIds } = await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 3, providers: { a: "http://127.0.0.1:9/v1" } });
  expected = (await sql<{ id: string }[]>`select id::text from public.prompts where org_id = any(${orgIds}::uuid[])`)
    .map((p) => ({ prompt_id: p.id, provider: "a", region: "global" }));
  ({ runId } = await startRunInSql(sql));
  taskIds = (await sql`select id::text from scheduler.batch_tasks where run_id = ${runId} order by id`).map((r) => r.id as string);
});

const CLEAN_RECONCILE: CheckInput["reconcile"] = {
  report: { stale: 0, resumed: 0, finalized: 0, failed: 0, runs_closed: 0, rescued: { processors: 0, tasks: 0 } },
  stopped: {},
};
function input(calls: CallRecord[], faults: InjectedFault[] = []): CheckInput {
  return { runId, startedAt: t0 - 60_000, expected, calls, faults, reconcile: CLEAN_RECONCILE, limitKills: [] };
}
const fault = (kind: InjectedFault["kind"], at: number, inFlight: string[] = []): InjectedFault => ({ kind, at, endAt: at, detail: "", inFlight });

/** Every task claimed once, answered under its claim and recorded; the run and its jobs finalized;
 * the fleet stopped. Returns the provider's log of it. */
async function finishCleanly(): Promise<CallRecord[]> {
  const claimed = await sql<{ id: string; token: string }[]>`
    update scheduler.batch_tasks set status = 'succeeded', attempts = 1, attempt_token = gen_random_uuid(), completed_at = now()
     where run_id = ${runId} returning id::text, attempt_token::text as token`;
  await sql`insert into public.prompt_results (task_id, run_id, org_id, prompt_id, provider, region, answered_by, model, response, attempts, latency_ms)
            select t.id, t.run_id, j.org_id, t.prompt_id, t.provider, t.region, t.provider, 'a-model', 'ok', 1, 10
              from scheduler.batch_tasks t join scheduler.batch_jobs j on j.id = t.batch_job_id where t.run_id = ${runId}`;
  for (const job of await sql`select id from scheduler.batch_jobs where run_id = ${runId}`) await sql`select scheduler.finalize_batch_job(${job.id})`;
  await sql`update scheduler.processors set status = 'stopped'`;
  await sql`update scheduler.scheduler_runs set status = 'completed' where status = 'running'`;
  return claimed.sort((a, b) => Number(a.id) - Number(b.id)).map((t) => call(t.id, t.token, Date.now() - 5000));
}
const call = (taskId: string, attempt: string, at: number, status: CallRecord["status"] = 200): CallRecord =>
  ({ taskId, attempt, model: "a-model", region: "global", at, status });

/** Turns a succeeded task into a failed one (its result gone) and the run into what its tasks say. */
async function failTask(id: string, runStatus = "completed_with_errors"): Promise<void> {
  await sql`delete from public.prompt_results where task_id = ${id}::bigint`;
  await sql`update scheduler.batch_tasks set status = 'failed', last_error = 'HTTP 500 [gave up after 3 attempts]' where id = ${id}::bigint`;
  await sql`update scheduler.runs set status = ${runStatus} where id = ${runId}`;
}

describe("the soak's checker, on the database", () => {
  it("reports a run left half done: live tasks, live jobs, processors not stopped", async () => {
    const { violations } = await checkRun(sql, input([]));
    expect(violations).toEqual(expect.arrayContaining([
      expect.stringMatching(/^3 task\(s\) not terminal/),
      expect.stringMatching(/batch job\(s\) still pending or processing/),
      expect.stringMatching(/processor\(s\) not stopped/),
    ]));
  });

  it("passes a clean run", async () => {
    const clean = await checkRun(sql, input(await finishCleanly()));
    expect(clean.violations).toEqual([]);
    expect(clean.runStatus).toBe("completed");
    expect(clean.tasks).toEqual({ planned: 3, succeeded: 3, failed: 0, cancelled: 0 });
  });

  it("holds the run's tasks to the seed, not to what the run says it planned", async () => {
    const calls = await finishCleanly();
    const other = { prompt_id: "00000000-0000-0000-0000-000000000001", provider: "a", region: "global" };
    const { violations } = await checkRun(sql, { ...input(calls), expected: [...expected.slice(1), other] });
    expect(violations).toEqual([
      `1 seeded task(s) never planned: ${other.prompt_id}/a/global`,
      expect.stringMatching(new RegExp(`^1 task\\(s\\) planned that the seed does not call for \\(or twice\\): \\d+:${expected[0]!.prompt_id}/a/global$`)),
    ]);
    const fewer = await checkRun(sql, { ...input(calls), expected: [...expected, other] });
    expect(fewer.violations).toEqual(["the run says 3 tasks were planned, the seed calls for 4", `1 seeded task(s) never planned: ${other.prompt_id}/a/global`]);
  });

  it("a failed task is a violation unless an injected fault it ran into explains it", async () => {
    const calls = await finishCleanly();
    const last = call(taskIds[2]!, calls[2]!.attempt!, calls[2]!.at, 500);
    await failTask(taskIds[2]!);
    const withFailure = [...calls.slice(0, 2), last];
    const bare = await checkRun(sql, input(withFailure));
    expect(bare.violations).toEqual([expect.stringMatching(/^1 task\(s\) lost with no injected fault to explain them: \d+:failed \(HTTP 500/)]);
    const storm = fault("provider_500s", last.at - 1000);
    const explained = await checkRun(sql, input(withFailure, [storm]));
    expect(explained.violations).toEqual([]);
    expect(explained.explained).toEqual([{ task: taskIds[2], status: "failed", fault: "provider_500s", fault_at: storm.at }]);
    // A storm that began after the task's last call cannot have failed it.
    expect((await checkRun(sql, input(withFailure, [fault("provider_500s", last.at + 1000)]))).violations).toHaveLength(1);
  });

  it("a run ends cancelled only after an injected cancel, and always after one", async () => {
    const calls = await finishCleanly();
    await sql`update scheduler.batch_tasks set status = 'cancelled' where id = ${taskIds[2]!}::bigint`;
    await sql`delete from public.prompt_results where task_id = ${taskIds[2]!}::bigint`;
    await sql`update scheduler.runs set status = 'cancelled' where id = ${runId}`;
    const bare = await checkRun(sql, input(calls.slice(0, 2)));
    expect(bare.violations).toEqual(["the run ended cancelled with no injected cancel", expect.stringMatching(/^1 task\(s\) lost with no injected fault/)]);
    expect((await checkRun(sql, input(calls.slice(0, 2), [fault("run_cancelled", t0)]))).violations).toEqual([]);
  });

  it("reports a cancel injected into a run that completed anyway", async () => {
    const calls = await finishCleanly();
    expect((await checkRun(sql, input(calls, [fault("run_cancelled", t0)]))).violations)
      .toEqual(["a cancel was injected into the live run, yet it ended completed"]);
  });

  it("reports a result that is not from the task's current claim (a fenced-off attempt's)", async () => {
    const calls = await finishCleanly();
    const [newer] = await sql<{ token: string }[]>`
      update scheduler.batch_tasks set attempts = 2, attempt_token = gen_random_uuid() where id = ${taskIds[1]!}::bigint returning attempt_token::text as token`;
    const { violations } = await checkRun(sql, input(calls));
    expect(violations).toEqual([
      `task ${taskIds[1]}: its result is not from its current claim (no answer under ${newer!.token} before it was written)`,
      expect.stringMatching(/^1 task\(s\) with provider answers no result was kept from and no fault/), // the older claim's answer, not kept
    ]);
    // The current claim's answer, arriving after the result was written, does not make it so.
    const late = call(taskIds[1]!, newer!.token, Date.now() + 1000);
    expect((await checkRun(sql, input([...calls, late]))).violations).toContain(violations[0]);
  });

  it("keeps the closing reconcile's report: a processor it found lost is a violation unless a kill explains it", async () => {
    const calls = await finishCleanly();
    await sql`insert into scheduler.processors (status, worker, started_at, last_seen)
              values ('running', 'silent-worker', now() - interval '1 minute', now() - interval '1 minute')`;
    const reconcile = await closingReconcile(sql);
    expect(reconcile.stopped).toEqual({ lost: 1 });
    expect(reconcile.report.rescued.processors).toBe(1);
    expect((await checkRun(sql, { ...input(calls), reconcile })).violations)
      .toEqual(["the closing reconcile repaired what no kill explains: lost_processors 1"]);
    expect((await checkRun(sql, { ...input(calls, [fault("functions_kill", t0)]), reconcile })).violations).toEqual([]);
    // Once repaired, the next closing reconcile finds nothing.
    expect(await closingReconcile(sql)).toMatchObject({ report: { rescued: { processors: 0, tasks: 0 } }, stopped: {} });
  });

  it("reports a run whose status disagrees with its tasks", async () => {
    const calls = await finishCleanly();
    await failTask(taskIds[2]!, "completed");
    const { violations } = await checkRun(sql, input([...calls.slice(0, 2), call(taskIds[2]!, calls[2]!.attempt!, calls[2]!.at, 500)],
      [fault("provider_500s", calls[2]!.at - 1000)]));
    expect(violations).toEqual(["run status completed, its tasks say completed_with_errors"]);
  });
});
