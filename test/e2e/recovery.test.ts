// Recovery in seconds, with the real parts and the shipped thresholds: pg_cron's 10-second tick of
// the reconciler, a 5 s heartbeat, a processor lost after 20 s of silence.
//   kill -9 of the functions server mid-run (restarted at once, as a deploy recycles it): the
//   reconciler rescues the dead processors' tasks and the run finishes; the kill costs ≤ 45 s
//   (≤ 20 s until the processors are lost, ≤ 10 s to the next tick, and 15 s for the kick, the
//   runtime's start and a loaded machine; measured 19–27 s).
//   PostgreSQL restarted mid-run (pg_ctl restart -m fast): the processors wait it out in place,
//   no processor is lost, and the run's progress resumes within 30 s.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, waitFor, type Sql } from "../../harness/db.ts";
import { seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { clusterDatadir, restartPostgres } from "../../harness/postgres-restart.ts";
import { startFunctions, TEST_CRON_SECRET } from "../../harness/processes.ts";
import { duplicateResults, startRunInSql, taskStatusCounts, waitForRunEnd } from "../../harness/runs.ts";
import { freshState, stopSuite } from "../helpers/suite.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";
import { retryThroughOutage } from "../../functions/_shared/transient.ts";

let sql: Sql;
let mock: MockProvider;
let fns: Awaited<ReturnType<typeof startFunctions>> | undefined;

beforeAll(async () => {
  sql = connect(4);
  mock = await startMockProvider({ latencyMs: 200, limits: { "paced-model": { requestsPerMinute: 900 } } });
});
afterAll(() => stopSuite({ fns, mock, sql }));
beforeEach(async () => {
  await freshState(sql, mock);
  fns = await startFunctions();
  await setVault(sql, fns.url, TEST_CRON_SECRET);
  // 3 organizations × 60 prompts at 900 calls/min: a run of ~12 s, long enough to hurt mid-way.
  await seedOrganizations(sql, { organizations: 3, promptsPerOrg: 60, providers: { paced: mock.url } });
  await sql`update public.providers set requests_per_minute = 900`;
});
afterEach(async () => {
  await sql`select cron.alter_job(jobid, active := false) from cron.job where jobname like 'daybreak-%'`;
  await fns?.stop();
  fns = undefined;
});

const count = async (q: PromiseLike<readonly Record<string, unknown>[]>) => Number((await q)[0]!.n);
/** When the run next finished a task after the moment given (ms since the epoch), or null. */
async function nextProgressAfter(runId: string, at: number): Promise<number | null> {
  const [row] = await sql`select min(completed_at) as t from scheduler.batch_tasks
                           where run_id = ${runId} and completed_at > to_timestamp(${at / 1000})`;
  return row!.t ? (row!.t as Date).getTime() : null;
}

describe("recovery with the shipped thresholds", () => {
  it("kill -9 of the functions server mid-run costs at most 45 s: the cron reconciler rescues the lost processors", async () => {
    // The suites keep pg_cron's jobs paused (test/global-setup.ts); this one needs the reconciler's tick.
    await sql`select cron.alter_job(jobid, active := true) from cron.job where jobname = 'daybreak-reconciler'`;
    const { runId, tasks } = await startRunInSql(sql);
    expect(tasks).toBe(180);
    await waitFor("some results", () => count(sql`select count(*)::int as n from public.prompt_results`), (n) => n >= 20, 30_000, 50);
    await fns!.stop("SIGKILL");
    const killedAt = Date.now();
    const [state] = await sql`
      select (select count(*)::int from public.prompt_results) as results,
             (select count(*)::int from scheduler.batch_tasks where status = 'processing') as processing,
             (select count(*)::int from scheduler.processors where status = 'running') as running`;
    expect(state!.results).toBeLessThan(tasks);
    expect(state!.processing).toBeGreaterThan(0); // calls were in flight when the runtime died
    fns = await startFunctions({ PORT: String(fns!.port) }); // the runtime is back, and nobody kicks it

    expect(await waitForRunEnd(sql, runId, 150_000)).toBe("completed");
    const resumedAt = await nextProgressAfter(runId, killedAt);
    expect(resumedAt).not.toBeNull();
    const recoveryS = (resumedAt! - killedAt) / 1000;
    expect(recoveryS).toBeLessThanOrEqual(45);

    // It was the cron tick that did it: a reconcile call from cron, with lost processors rescued.
    const rescues = await sql`select details from scheduler.scheduler_runs
                               where function_name = 'batch-reconciler' and trigger_source = 'cron' and status = 'completed'`;
    expect(rescues.some((r) => Number(r.details.rescued?.tasks) > 0)).toBe(true);
    expect(await count(sql`select count(*)::int as n from scheduler.processors where stop_reason = 'lost'`)).toBe(state!.running);
    expect(await count(sql`select count(*)::int as n from public.prompt_results where run_id = ${runId}`)).toBe(tasks);
    expect(await duplicateResults(sql)).toEqual([]);
    expect(await taskStatusCounts(sql, runId)).toEqual({ succeeded: tasks });
    // A task's provider is answered twice only when its call was in flight at the kill.
    const repeated = Object.values(mock.callsByTask()).filter((n) => n > 1).length;
    expect(repeated).toBeLessThanOrEqual(state!.processing);
  }, 200_000);

  it("a PostgreSQL restart mid-run is waited out in place: no processor lost, progress again within 30 s", async () => {
    const { runId, tasks } = await startRunInSql(sql);
    await waitFor("some results", () => count(sql`select count(*)::int as n from public.prompt_results`), (n) => n >= 20, 30_000, 50);
    const processorsBefore = await sql`select id from scheduler.processors where status = 'running'`;
    expect(processorsBefore.length).toBeGreaterThan(0);
    const restartedAt = Date.now();
    await restartPostgres(clusterDatadir(), "fast");

    const status = await retryThroughOutage(() => waitForRunEnd(sql, runId, 120_000));
    expect(status).toBe("completed");
    const resumedAt = await nextProgressAfter(runId, restartedAt);
    expect(resumedAt).not.toBeNull();
    expect((resumedAt! - restartedAt) / 1000).toBeLessThanOrEqual(30);
    // The same invocations carried on: none was found lost, none of their tasks was rescued.
    expect(await count(sql`select count(*)::int as n from scheduler.processors where stop_reason = 'lost'`)).toBe(0);
    const carriedOn = await sql`select count(*)::int as n from scheduler.batch_tasks
                                 where run_id = ${runId} and claimed_by in (select worker from scheduler.processors where id = any(${processorsBefore.map((p) => p.id)}::uuid[]))
                                   and completed_at > to_timestamp(${restartedAt / 1000})`;
    expect(carriedOn[0]!.n).toBeGreaterThan(0);
    expect(await count(sql`select count(*)::int as n from public.prompt_results where run_id = ${runId}`)).toBe(tasks);
    expect(await duplicateResults(sql)).toEqual([]);
  }, 200_000);
});
