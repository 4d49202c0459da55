// scheduler.reconcile / resume_stuck_batch_job / cron_reconcile_tick against states the test builds.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { DEFAULT_CONFIG, holdBatchJob, recordOutcomes, setConfig, startRunInSql } from "../../harness/runs.ts";

const sql = connect(3);
afterAll(() => sql.end());
beforeEach(async () => {
  await resetState(sql);
  await setVault(sql, "http://127.0.0.1:9/functions/v1", "x".repeat(40));
  await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 3, providers: { a: "http://127.0.0.1:9/v1" } });
});
afterEach(() => setConfig(sql, DEFAULT_CONFIG));

async function snapshot() {
  return await sql`
    select (select jsonb_agg(to_jsonb(j) order by j.id) from scheduler.batch_jobs j) as jobs,
           (select jsonb_agg(to_jsonb(t) order by t.id) from scheduler.batch_tasks t) as tasks,
           (select jsonb_agg(to_jsonb(r) order by r.id) from scheduler.runs r) as runs,
           (select jsonb_agg(to_jsonb(s) order by s.id) from scheduler.scheduler_runs s) as invocations,
           (select count(*) from daybreak_test.net_requests) as queued`;
}

async function processingJob() {
  await startRunInSql(sql);
  await sql`truncate daybreak_test.net_requests`;
  // The fleet planning kicked never started (nothing serves its URL): the worker 'w' below is a
  // claim with no live processor behind it, the state a crash leaves.
  await sql`delete from scheduler.processors`;
  return (await holdBatchJob(sql, "w", 2)).batchJobId;
}

describe("reconcile", () => {
  it("on a healthy run changes nothing and the cron tick stays idle", async () => {
    await processingJob();
    const before = await snapshot();
    const [r] = await sql`select scheduler.reconcile() as r`;
    expect(r!.r).toMatchObject({ stale: 0, resumed: 0, finalized: 0, failed: 0, runs_closed: 0 });
    expect(await snapshot()).toEqual(before);
    const [tick] = await sql`select scheduler.cron_reconcile_tick() as t`;
    expect(tick!.t).toMatchObject({ decision: "idle" });
    expect((await sql`select count(*)::int as n from daybreak_test.net_requests`)[0]!.n).toBe(0);
  });

  it("never rescues a fresh heartbeat; rescues one 3 minutes stale: leases expired go back to pending and a processor is kicked", async () => {
    const jobId = await processingJob();
    await sql`update scheduler.batch_jobs set last_heartbeat = now() - interval '10 seconds' where id = ${jobId}`;
    expect((await sql`select * from scheduler.stale_batch_jobs()`)).toHaveLength(0);

    await sql`update scheduler.batch_jobs set last_heartbeat = now() - interval '3 minutes' where id = ${jobId}`;
    await sql`update scheduler.batch_tasks set lease_expires_at = now() - interval '1 second' where status = 'processing'`;
    const [tick] = await sql`select scheduler.cron_reconcile_tick() as t`;
    expect(tick!.t).toMatchObject({ decision: "called", stale: 1 });
    await sql`truncate daybreak_test.net_requests`;

    const [r] = await sql`select scheduler.reconcile() as r`;
    expect(r!.r).toMatchObject({ stale: 1, resumed: 1 });
    const [job] = await sql`select status, attempts from scheduler.batch_jobs where id = ${jobId}`;
    expect(job).toEqual({ status: "pending", attempts: 2 });
    const tasks = await sql`select status, count(*)::int as n from scheduler.batch_tasks where batch_job_id = ${jobId} group by 1`;
    expect(tasks).toEqual([{ status: "pending", n: 3 }]);
    // The fleet is kicked for the work (a kick names its processor row, never a batch job).
    const kicks = await sql`select url, convert_from(body, 'UTF8')::jsonb as body from daybreak_test.net_requests`;
    const [kicked] = await sql`select id from scheduler.processors where status = 'kicked'`;
    expect(kicks).toEqual([{ url: "http://127.0.0.1:9/functions/v1/robust-batch-processor", body: { processor_id: kicked!.id } }]);
  });

  it("finalizes a stuck job whose tasks are all terminal, and its run", async () => {
    const jobId = await processingJob();
    await sql`update scheduler.batch_tasks set status = 'succeeded' where batch_job_id = ${jobId}`;
    const [res] = await sql`select scheduler.resume_stuck_batch_job(${jobId}) as r`;
    expect(res!.r).toMatchObject({ action: "finalized", status: "completed" });
  });

  it("fails a job stalled past its attempt limit without progress", async () => {
    const jobId = await processingJob();
    await sql`update scheduler.batch_jobs set attempts = 5, last_heartbeat = now() - interval '3 minutes' where id = ${jobId}`;
    const [res] = await sql`select scheduler.resume_stuck_batch_job(${jobId}) as r`;
    expect(res!.r).toMatchObject({ action: "failed", tasks_failed: 3 });
    const [job] = await sql`select status, last_error from scheduler.batch_jobs where id = ${jobId}`;
    expect(job!.status).toBe("failed");
    expect(job!.last_error).toMatch(/stalled 5 times/);
  });

  it("a task whose lease expired max_task_attempts times is failed, not retried", async () => {
    const jobId = await processingJob();
    await sql`update scheduler.batch_jobs set last_heartbeat = now() - interval '3 minutes' where id = ${jobId}`;
    await sql`update scheduler.batch_tasks set attempts = 3, lease_expires_at = now() - interval '1 second' where status = 'processing'`;
    const [res] = await sql`select scheduler.resume_stuck_batch_job(${jobId}) as r`;
    expect(res!.r).toMatchObject({ action: "resumed", tasks_failed: 2, tasks_reset: 0 });
    const failed = await sql`select last_error from scheduler.batch_tasks where status = 'failed'`;
    expect(failed).toHaveLength(2);
    expect(failed[0]!.last_error).toMatch(/gave up after 3 attempts/);
  });

  it("a resume that comes after a processor picked the job up does nothing", async () => {
    const jobId = await processingJob(); // fresh heartbeat: a live processor holds it
    const [res] = await sql`select scheduler.resume_stuck_batch_job(${jobId}) as r`;
    expect(res!.r).toMatchObject({ action: "noop", reason: "not_stale" });
    const [job] = await sql`select status, attempts from scheduler.batch_jobs where id = ${jobId}`;
    expect(job).toEqual({ status: "processing", attempts: 1 });
    expect((await sql`select count(*)::int as n from daybreak_test.net_requests`)[0]!.n).toBe(0);
  });

  it("a job that made progress since its last resume starts counting stalls afresh", async () => {
    const jobId = await processingJob();
    await sql`update scheduler.batch_jobs set attempts = 5, resumed_at = now() - interval '10 minutes',
                     last_heartbeat = now() - interval '3 minutes' where id = ${jobId}`;
    await sql`update scheduler.batch_tasks set status = 'succeeded', completed_at = now() - interval '5 minutes'
               where id = (select min(id) from scheduler.batch_tasks where batch_job_id = ${jobId})`;
    const [res] = await sql`select scheduler.resume_stuck_batch_job(${jobId}) as r`;
    expect(res!.r).toMatchObject({ action: "resumed" });
    const [job] = await sql`select status, attempts from scheduler.batch_jobs where id = ${jobId}`;
    expect(job).toEqual({ status: "pending", attempts: 2 });
  });

  it("a task released mid-call at the deadline counts an attempt; one released before calling does not", async () => {
    const jobId = await processingJob();
    const tasks = await sql`select id, attempt_token from scheduler.batch_tasks where batch_job_id = ${jobId} and status = 'processing' order by id`;
    await recordOutcomes(sql, "w", [
      { task_id: tasks[0]!.id, attempt_token: tasks[0]!.attempt_token, outcome: "released", error: "", provider_called: false },
      { task_id: tasks[1]!.id, attempt_token: tasks[1]!.attempt_token, outcome: "released", error: "cut off at the deadline", provider_called: true },
    ]);
    const rows = await sql`select id, status, attempts, last_error from scheduler.batch_tasks where id in (${tasks[0]!.id}, ${tasks[1]!.id}) order by id`;
    expect(rows.map((r) => [r.status, r.attempts, r.last_error])).toEqual([
      ["pending", 0, null],
      ["pending", 1, "cut off at the deadline"],
    ]);
    // Out of attempts: never claimed again; the reconciler fails it.
    await sql`update scheduler.batch_tasks set attempts = 3 where id = ${tasks[1]!.id}`;
    const [claim] = await sql`select scheduler.claim_paced_tasks('w2', 'a', 10) as c`;
    expect(claim!.c.tasks.map((c: { task_id: string }) => c.task_id)).not.toContain(tasks[1]!.id);
  });

  it("the idle cron tick prunes old history itself, with no HTTP call", async () => {
    await sql`insert into scheduler.cron_ticks (tick, ticked_at, decision) values ('trigger', now() - interval '31 days', 'called')`;
    const [tick] = await sql`select scheduler.cron_reconcile_tick() as t`;
    expect(tick!.t).toMatchObject({ decision: "idle", pruned: { cron_ticks: 1 } });
    expect((await sql`select count(*)::int as n from daybreak_test.net_requests`)[0]!.n).toBe(0);
  });

  it("dry_run reports what it would do and changes nothing", async () => {
    const jobId = await processingJob();
    await sql`update scheduler.batch_jobs set last_heartbeat = now() - interval '3 minutes' where id = ${jobId}`;
    await sql`insert into scheduler.scheduler_runs (function_name, trigger_source, started_at) values ('daily-batch-trigger', 'api', now() - interval '11 minutes')`;
    const before = await snapshot();
    const [dry] = await sql`select scheduler.reconcile(true) as r`;
    expect(dry!.r).toMatchObject({ dry_run: true, stale: 1, resumed: 1, runs_closed: 1 });
    expect(await snapshot()).toEqual(before);
    const [real] = await sql`select scheduler.reconcile(false) as r`;
    expect(real!.r).toMatchObject({ stale: 1, resumed: 1, runs_closed: 1 });
    const [closed] = await sql`select status, reason from scheduler.scheduler_runs where started_at < now() - interval '10 minutes'`;
    expect(closed).toEqual({ status: "failed", reason: "abandoned" });
  });

  it("a pending job nobody picked up is stale only after the grace period and while no processor is live", async () => {
    await startRunInSql(sql);
    await sql`delete from scheduler.processors`; // the kicks planning queued never started
    await sql`update scheduler.batch_jobs set created_at = now() - interval '30 seconds'`;
    expect(await sql`select * from scheduler.stale_batch_jobs()`).toHaveLength(0);
    await sql`update scheduler.batch_jobs set created_at = now() - interval '50 seconds'`;
    expect(await sql`select * from scheduler.stale_batch_jobs()`).toHaveLength(2);
    // A live processor is working through the providers' queues: the job waits its turn.
    await sql`select scheduler.register_processor(null, 'live-worker')`;
    expect(await sql`select * from scheduler.stale_batch_jobs()`).toHaveLength(0);
  });

  it("prunes scheduler_runs, cron_ticks and daybreak's cron.job_run_details older than 30 days, keeping younger rows and other jobs' history", async () => {
    await sql`insert into scheduler.scheduler_runs (function_name, trigger_source, status, started_at) values
              ('daily-batch-trigger', 'cron', 'completed', now() - interval '31 days'),
              ('daily-batch-trigger', 'cron', 'completed', now() - interval '29 days')`;
    await sql`insert into scheduler.cron_ticks (tick, ticked_at, decision) values
              ('trigger', now() - interval '31 days', 'called'), ('trigger', now() - interval '29 days', 'called')`;
    // pg_cron's log as pg_cron writes it: runs numbered in start order (prune_history walks that order).
    await sql`delete from cron.job_run_details`;
    const [{ jobid }] = await sql`select jobid from cron.job where jobname = 'daybreak-trigger'`;
    for (const [job, age] of [[jobid, "31 days"], [jobid, "29 days"], [999003, "31 days"]] as const) {
      await sql`insert into cron.job_run_details (jobid, runid, database, username, command, status, start_time)
                values (${job}, nextval('cron.runid_seq'), 'postgres', 'postgres', 'select 1', 'succeeded', now() - ${age}::interval)`;
    }
    const [r] = await sql`select scheduler.reconcile() as r`;
    expect(r!.r.pruned).toEqual({ scheduler_runs: 1, cron_ticks: 1, processors: 0, job_run_details: 1 });
    expect((await sql`select count(*)::int as n from scheduler.scheduler_runs`)[0]!.n).toBe(1);
    const kept = await sql`select jobid = ${jobid} as daybreak, extract(day from now() - start_time)::int as days
                             from cron.job_run_details order by runid`;
    expect(kept.map((x) => [x.daybreak, x.days])).toEqual([[true, 29], [false, 31]]); // another team's history stays
    await sql`delete from cron.job_run_details`;
  });
});

describe("lost processors", () => {
  /** Two processors holding tasks, each with its invocation row: the state a fleet mid-run is in. */
  async function twoWorkingProcessors() {
    await startRunInSql(sql);
    await sql`delete from scheduler.processors`;
    await sql`update public.providers set requests_per_minute = 600000`; // the pacer grants every claim here
    const tokens: Record<string, { task_id: string; attempt_token: string }[]> = {};
    for (const worker of ["w-dead", "w-live"]) {
      await sql`select scheduler.register_processor(null, ${worker})`;
      const [c] = await sql`select scheduler.claim_paced_tasks(${worker}, 'a', 2) as c`;
      tokens[worker] = c!.c.tasks;
      await sql`insert into scheduler.scheduler_runs (function_name, trigger_source, details)
                values ('robust-batch-processor', 'api', ${sql.json({ worker })})`;
    }
    await sql`truncate daybreak_test.net_requests`;
    return tokens;
  }

  it("a processor silent for stale_heartbeat_seconds is rescued: its tasks back to pending, its rows closed; a live one untouched", async () => {
    const tokens = await twoWorkingProcessors();
    expect(tokens["w-dead"]).toHaveLength(2);
    await sql`update scheduler.processors set last_seen = now() - interval '15 seconds' where worker = 'w-dead'`;
    expect(await sql`select * from scheduler.lost_processors()`).toHaveLength(0); // 3 heartbeats late: not yet
    await sql`update scheduler.processors set last_seen = now() - interval '25 seconds' where worker = 'w-dead'`;
    expect(await sql`select worker, reason from scheduler.lost_processors()`).toEqual([{ worker: "w-dead", reason: "heartbeat_lost" }]);

    const [tick] = await sql`select scheduler.cron_reconcile_tick() as t`;
    expect(tick!.t).toMatchObject({ decision: "called", lost: 1 });
    const [r] = await sql`select scheduler.reconcile() as r`;
    expect(r!.r).toMatchObject({ rescued: { processors: 1, tasks: 2 }, runs_closed: 1 });

    const byWorker = await sql`
      select p.worker, p.status as processor, p.stop_reason, s.status as invocation, s.reason
        from scheduler.processors p join scheduler.scheduler_runs s on s.details ->> 'worker' = p.worker order by p.worker`;
    expect(byWorker).toEqual([
      { worker: "w-dead", processor: "stopped", stop_reason: "lost", invocation: "failed", reason: "abandoned" },
      { worker: "w-live", processor: "running", stop_reason: null, invocation: "running", reason: null },
    ]);
    const deadIds = tokens["w-dead"]!.map((t) => Number(t.task_id));
    const rescued = await sql`select status, attempts, claimed_by from scheduler.batch_tasks where id = any(${deadIds}::bigint[])`;
    expect(rescued).toEqual([{ status: "pending", attempts: 1, claimed_by: null }, { status: "pending", attempts: 1, claimed_by: null }]);
    // The dead worker coming back late is fenced off by its stale attempt token.
    const late = tokens["w-dead"]![0]!;
    const fenced = await recordOutcomes(sql, "w-dead", [{ task_id: late.task_id, attempt_token: late.attempt_token, outcome: "failed", error: "late" }]);
    expect(fenced.rejected).toEqual([Number(late.task_id)]);
    const live = await sql`select count(*)::int as n from scheduler.batch_tasks where claimed_by = 'w-live' and status = 'processing'`;
    expect(live[0]!.n).toBe(2);
  });

  it("a kicked processor that never started (its kick lost) is closed, and the fleet is kicked again at once", async () => {
    await startRunInSql(sql);
    await sql`update scheduler.processors set kicked_at = now() - interval '40 seconds' where status = 'kicked'`;
    const kicked = (await sql`select count(*)::int as n from scheduler.processors where status = 'kicked'`)[0]!.n;
    expect(kicked).toBeGreaterThan(0);
    await sql`truncate daybreak_test.net_requests`;
    const [r] = await sql`select scheduler.rescue_lost_processors() as r`;
    expect(r!.r).toMatchObject({ processors: kicked, tasks: 0, invocations: 0 });
    expect(r!.r.processors_kicked).toBeGreaterThan(0);
    const rows = await sql`select status, stop_reason, count(*)::int as n from scheduler.processors group by 1, 2 order by 1`;
    expect(rows).toEqual([
      { status: "kicked", stop_reason: null, n: r!.r.processors_kicked },
      { status: "stopped", stop_reason: "never_started", n: kicked },
    ]);
    const kicks = await sql`select convert_from(body, 'UTF8')::jsonb as body from daybreak_test.net_requests`;
    expect(kicks).toHaveLength(r!.r.processors_kicked);
    expect(kicks.every((k) => typeof k.body.processor_id === "string")).toBe(true);
    // A second pass finds nothing lost: the fresh kicks are within their grace.
    const [again] = await sql`select scheduler.rescue_lost_processors() as r`;
    expect(again!.r).toMatchObject({ processors: 0, processors_kicked: 0 });
  });

  it("rescuers racing from many connections close each lost processor exactly once", async () => {
    await startRunInSql(sql);
    await sql`delete from scheduler.processors`;
    await sql`update public.providers set requests_per_minute = 600000`;
    for (let i = 0; i < 12; i++) {
      await sql`select scheduler.register_processor(null, ${`w-${i}`})`;
      await sql`select scheduler.claim_paced_tasks(${`w-${i}`}, 'a', 1)`;
    }
    await sql`update scheduler.processors set last_seen = now() - interval '1 minute'`;
    const racers = Array.from({ length: 8 }, () => connect(1));
    try {
      const reports = await Promise.all(racers.map((c) => c`select scheduler.rescue_lost_processors() as r`.then((rows) => rows[0]!.r)));
      expect(reports.reduce((n, r) => n + r.processors, 0)).toBe(12);
      expect(reports.reduce((n, r) => n + r.tasks, 0)).toBe(6); // 2 orgs x 3 prompts: six tasks to claim
    } finally {
      await Promise.all(racers.map((c) => c.end()));
    }
    expect((await sql`select count(*)::int as n from scheduler.batch_tasks where status = 'processing'`)[0]!.n).toBe(0);
  });
});
