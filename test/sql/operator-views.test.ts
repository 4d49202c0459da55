// The operator views return the right rows for states the test creates.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import { holdBatchJob, recordOutcomes, startRunInSql } from "../../harness/runs.ts";

const sql = connect(3);
afterAll(() => sql.end());
beforeEach(() => resetState(sql));

/** Works the run to its end as a processor would: every task claimed, answered and recorded, its
 * batch jobs finalized. */
async function completeAll(runId: string) {
  await sql`update public.providers set requests_per_minute = 6000000`;
  for (const { provider } of await sql`select distinct provider from scheduler.batch_tasks where run_id = ${runId}`) {
    const [claim] = await sql`select scheduler.claim_paced_tasks('w', ${provider}, 1000) as c`;
    const tasks = claim!.c.tasks as { task_id: string; attempt_token: string }[];
    const report = await recordOutcomes(sql, "w", tasks.map((t) => ({
      task_id: t.task_id, attempt_token: t.attempt_token, outcome: "succeeded",
      answered_by: provider, model: "m", response: "ok", attempts: 1, latency_ms: 1,
    })));
    for (const job of report.jobs_to_finalize) await sql`select scheduler.finalize_batch_job(${job})`;
  }
  const [run] = await sql`select status from scheduler.runs where id = ${runId}`;
  return run!.status as string;
}

describe("v_stuck_batch_jobs", () => {
  it("shows a job whose heartbeat went stale, and not a fresh one", async () => {
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    await startRunInSql(sql);
    const claimed = [{ batch_job_id: (await holdBatchJob(sql, "w", 0)).batchJobId }];
    expect(await sql`select * from scheduler.v_stuck_batch_jobs where status = 'processing'`).toHaveLength(0);
    await sql`update scheduler.batch_jobs set last_heartbeat = now() - interval '3 minutes' where id = ${claimed[0]!.batch_job_id}`;
    const stuck = await sql`select batch_job_id, reason, organization, silent_for_s from scheduler.v_stuck_batch_jobs`;
    expect(stuck).toHaveLength(1);
    expect(stuck[0]).toMatchObject({ batch_job_id: claimed[0]!.batch_job_id, reason: "heartbeat_stale" });
    expect(stuck[0]!.silent_for_s).toBeGreaterThanOrEqual(179);
    const problems = await sql`select problem, subject from scheduler.v_health_problems where problem = 'stuck_batch_job'`;
    expect(problems).toEqual([{ problem: "stuck_batch_job", subject: claimed[0]!.batch_job_id }]);
  });
});

describe("v_run_completeness", () => {
  it("shows a provider whose results are missing, per region", async () => {
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 2, providers: { a: "http://127.0.0.1:9/v1", b: "http://127.0.0.1:9/v1" }, regions: ["us", "eu"] });
    const { runId } = await startRunInSql(sql);
    expect(await completeAll(runId)).toBe("completed");
    await sql`delete from public.prompt_results where provider = 'b' and region = 'eu'`;
    const rows = await sql`select provider, region, planned::int, succeeded::int, results::int, missing::int, extra::int
                             from scheduler.v_run_completeness where run_id = ${runId} order by provider, region`;
    expect(rows).toEqual([
      { provider: "a", region: "eu", planned: 4, succeeded: 4, results: 4, missing: 0, extra: 0 },
      { provider: "a", region: "us", planned: 4, succeeded: 4, results: 4, missing: 0, extra: 0 },
      { provider: "b", region: "eu", planned: 4, succeeded: 4, results: 0, missing: 4, extra: 0 },
      { provider: "b", region: "us", planned: 4, succeeded: 4, results: 4, missing: 0, extra: 0 },
    ]);
    expect(await sql`select * from scheduler.v_duplicate_results`).toEqual([]);
  });
});

describe("v_daily_history", () => {
  it("shows a day with no run as missed, days with runs as ran, and today as due", async () => {
    await sql`insert into scheduler.schedules (name, timezone, window_start, window_end, period, created_at)
              values ('history', 'UTC', '00:00', '00:00:01', 'daily', now() - interval '5 days')`;
    const day = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
    for (const n of [1, 3, 4, 5]) await sql`select scheduler.try_mark_daily_run('history', ${day(n)})`;
    const rows = await sql`select run_key, day_status from scheduler.v_daily_history where schedule = 'history' order by run_key`;
    const status = Object.fromEntries(rows.map((r) => [r.run_key, r.day_status]));
    expect(status[day(2)]).toBe("missed");
    expect(status[day(1)]).toBe("ran");
    expect(status[day(3)]).toBe("ran");
    expect(status[day(0)]).toBe("missed"); // today's 1-second window is over
    const problems = await sql`select subject from scheduler.v_health_problems where problem = 'missed_period' order by subject`;
    expect(problems.map((p) => p.subject)).toEqual([`history/${day(2)}`, `history/${day(0)}`].sort());
  });

  it("shows three callers of one day with their sources, the winner marked, and the cron tick behind a call", async () => {
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    const callers = [
      { source: "cron", ua: "pg_net/0.19.5", request: "req-cron" },
      { source: "github_actions", ua: "GitHub-Actions/nightly", request: "req-gha" },
      { source: "manual", ua: "curl/8.5", request: "req-manual" },
    ];
    await sql`insert into scheduler.cron_ticks (tick, ticked_at, decision, schedule, run_key, request_id, net_request_id)
              values ('trigger', now(), 'called', 'daily-batch', '2026-11-20', 'req-cron', 424242)`;
    await sql`insert into net._http_response (id, status_code, content, timed_out) values (424242, 200, '{}', false)`;
    const results = [];
    for (const c of callers) {
      const [inv] = await sql`insert into scheduler.scheduler_runs (function_name, trigger_source, schedule, run_key, user_agent, request_id)
                              values ('daily-batch-trigger', ${c.source}, 'daily-batch', '2026-11-20', ${c.ua}, ${c.request}) returning id`;
      const [r] = await sql`select scheduler.try_mark_daily_run('daily-batch', '2026-11-20', ${c.source}, ${inv!.id}, false, null) as r`;
      results.push(r!.r);
    }
    expect(results.map((r) => r.updated)).toEqual([true, false, false]);
    const rows = await sql`select trigger_source, call_status, call_reason, is_winner, winner_source, net_status_code, cron_tick_at is not null as has_tick
                             from scheduler.v_daily_history where schedule = 'daily-batch' and run_key = '2026-11-20' order by called_at`;
    expect(rows).toEqual([
      { trigger_source: "cron", call_status: "completed", call_reason: "started", is_winner: true, winner_source: "cron", net_status_code: 200, has_tick: true },
      { trigger_source: "github_actions", call_status: "skipped", call_reason: "already_ran", is_winner: false, winner_source: "cron", net_status_code: null, has_tick: false },
      { trigger_source: "manual", call_status: "skipped", call_reason: "already_ran", is_winner: false, winner_source: "cron", net_status_code: null, has_tick: false },
    ]);
  });
});

describe("v_cron_health and v_recent_invocations", () => {
  it("lists daybreak's two jobs, flags a legacy job that came back, and never shows another team's job", async () => {
    const [legacy] = await sql`select cron.schedule('daily-scheduler-3am-edt', '0 7 * * *', 'select 1') as id`;
    const [other] = await sql`select cron.schedule('someone-elses-job', '0 * * * *', 'select 1') as id`;
    try {
      const rows = await sql`select jobname, health from scheduler.v_cron_health order by jobname`;
      const byName = Object.fromEntries(rows.map((r) => [r.jobname, r.health]));
      expect(byName["daily-scheduler-3am-edt"]).toBe("unexpected job");
      expect(Object.keys(byName)).toEqual(expect.arrayContaining(["daybreak-trigger", "daybreak-reconciler"]));
      expect(Object.keys(byName)).not.toContain("someone-elses-job");
    } finally {
      await sql`select cron.unschedule(${legacy!.id}::bigint)`;
      await sql`select cron.unschedule(${other!.id}::bigint)`;
    }
  });

  it("shows recent invocations newest first", async () => {
    await sql`insert into scheduler.scheduler_runs (function_name, trigger_source, status, started_at) values
              ('daily-batch-trigger', 'cron', 'skipped', now() - interval '2 minutes'),
              ('daily-batch-trigger', 'manual', 'completed', now() - interval '1 minute'),
              ('daily-batch-trigger', 'api', 'completed', now() - interval '8 days')`;
    const rows = await sql`select trigger_source from scheduler.v_recent_invocations`;
    expect(rows.map((r) => r.trigger_source)).toEqual(["manual", "cron"]);
  });
});

describe("operator functions", () => {
  it("pause_schedule / resume_schedule switch the schedule and name an unknown one", async () => {
    expect((await sql`select scheduler.resume_schedule('daily-batch') as r`)[0]!.r).toEqual({ schedule: "daily-batch", enabled: true });
    expect((await sql`select scheduler.pause_schedule('daily-batch') as r`)[0]!.r).toEqual({ schedule: "daily-batch", enabled: false });
    const [tick] = await sql`select scheduler.cron_trigger_tick('2026-11-22T08:05:00Z') as d`;
    expect(tick!.d[0].decision).toBe("disabled");
    await expect(sql`select scheduler.pause_schedule('nope')`).rejects.toThrow(/unknown schedule "nope"/);
  });

  it("cancel_run cancels live jobs and tasks, and a late completion is then rejected", async () => {
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 2, providers: { a: "http://127.0.0.1:9/v1" } });
    const { runId } = await startRunInSql(sql);
    const { tasks: [task] } = await holdBatchJob(sql, "w", 1);
    const [res] = await sql`select scheduler.cancel_run(${runId}, 'wrong prompts loaded') as r`;
    expect(res!.r).toMatchObject({ status: "cancelled", batch_jobs_cancelled: 2, tasks_cancelled: 4 });
    const late = await recordOutcomes(sql, "w", [{ task_id: task!.task_id, attempt_token: task!.attempt_token, outcome: "succeeded",
      answered_by: "a", model: "m", response: "late", attempts: 1, latency_ms: 1 }]);
    expect(late.accepted).toEqual([]);
    expect((await sql`select count(*)::int as n from public.prompt_results`)[0]!.n).toBe(0);
    await expect(sql`select scheduler.cancel_run(${runId}, 'again')`).rejects.toThrow(/already ended/);
    await expect(sql`select scheduler.cancel_run(${runId}, '')`).rejects.toThrow(/needs a reason/);
  });
});
