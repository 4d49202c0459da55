// scripts/status as a child process against the real database: exit 0 when
// scheduler.v_health_problems is empty, 1 with a stuck batch job, 2 when it cannot connect.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, databaseUrl, type Sql } from "../../harness/db.ts";
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import { freePort, runCommand, type CommandResult } from "../../harness/processes.ts";
import { ROOT } from "../../scripts/lib/root.ts";
import { DEFAULT_CONFIG, holdBatchJob, setConfig, startRunInSql } from "../../harness/runs.ts";

const STATUS = path.join(ROOT, "scripts/status");

let sql: Sql;
let tmp: string;

beforeAll(() => {
  sql = connect();
  tmp = mkdtempSync(path.join(os.tmpdir(), "daybreak-status-test-"));
});
afterAll(async () => {
  await sql?.end();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});
beforeEach(async () => {
  await resetState(sql);
  await setConfig(sql, DEFAULT_CONFIG);
  await setCronJobsActive(false);
});


function status(args: string[], env: Record<string, string> = { DATABASE_URL: databaseUrl() }): Promise<CommandResult> {
  return runCommand(STATUS, args, tmp, { PATH: process.env.PATH!, HOME: process.env.HOME ?? tmp, DAYBREAK_DEV_ENV_FILE: path.join(tmp, "absent.env"), ...env });
}

// The global setup pauses the daybreak cron jobs (a paused job is a health problem).
async function setCronJobsActive(active: boolean): Promise<void> {
  await sql`select cron.alter_job(jobid, active := ${active}) from cron.job where jobname like 'daybreak-%'`;
}

describe("scripts/status on a healthy stack", () => {
  let markerRunIds: number[] = [];

  afterEach(async () => {
    await setCronJobsActive(false);
    if (markerRunIds.length > 0) await sql`delete from cron.job_run_details where runid = any(${markerRunIds}::bigint[])`;
    markerRunIds = [];
  });

  it("exits 0 and says healthy; --json has healthy=true and every section", async () => {
    await setCronJobsActive(true);
    // A successful run of each job just now: the shared cluster's last real runs may be older than
    // the 15 minutes v_cron_health allows, since the jobs are paused during the suite.
    const markers = await sql<{ runid: number }[]>`
      insert into cron.job_run_details (jobid, database, username, command, status, return_message, start_time, end_time)
      select jobid, current_database(), current_user, command, 'succeeded', 'scripts.status test marker', now(), now()
        from cron.job where jobname like 'daybreak-%'
      returning runid`;
    markerRunIds = markers.map((m) => Number(m.runid));
    expect(markerRunIds).toHaveLength(2);

    const r = await status([]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^daybreak: healthy$/m);
    for (const view of ["v_health_problems", "v_batch_health", "v_stuck_batch_jobs", "v_run_completeness", "v_provider_pace", "v_processor_fleet", "v_cron_health", "v_daily_history", "v_org_schedules", "v_duplicate_results"]) {
      expect(r.stdout).toContain(`scheduler.${view}`);
    }
    expect(r.stdout).toMatch(/daybreak-trigger\s+\*\/5 \* \* \* \*\s+true\s+ok/);
    expect(r.stdout).toMatch(/daily-batch\s+\d{4}-\d{2}-\d{2}\s+paused/);
    expect(r.stdout).not.toMatch(/\x1b\[/); // not a terminal: no colour

    const j = await status(["--json"]);
    expect(j.code, j.stderr).toBe(0);
    const report = JSON.parse(j.stdout);
    expect(Object.keys(report).sort()).toEqual(["batch_health", "completeness", "cron", "duplicates", "fleet", "healthy", "history",
      "org_schedules", "org_schedules_total", "pace", "problems", "stuck"]);
    expect(report).toMatchObject({ healthy: true, problems: [], stuck: [], duplicates: [] });
    expect(report.cron.map((c: { jobname: string; health: string }) => [c.jobname, c.health]).sort())
      .toEqual([["daybreak-reconciler", "ok"], ["daybreak-trigger", "ok"]]);
  });
});

describe("scripts/status with a stuck batch job", () => {
  it("exits 1, lists the stuck job; --json has healthy=false and a stuck_batch_job problem", async () => {
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    const [{ key }] = await sql<{ key: string }[]>`select to_char((now() at time zone 'America/New_York')::date, 'YYYY-MM-DD') as key`;
    const { runId } = await startRunInSql(sql, key!);
    const jobId = (await holdBatchJob(sql, "w", 0)).batchJobId;
    await sql`update scheduler.batch_jobs set last_heartbeat = now() - interval '3 minutes' where id = ${jobId}`;

    const r = await status([]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^daybreak: \d+ problems?$/m);
    expect(r.stdout).toMatch(new RegExp(`stuck_batch_job\\s+${jobId}\\s+processing batch job for org-\\d \\(run ${key}\\) heartbeat_stale`));
    const stuckSection = r.stdout.split("Stuck batch jobs")[1]!.split("\n\n")[0]!;
    expect(stuckSection).toContain(jobId);
    expect(stuckSection).toMatch(/heartbeat_stale/);

    const j = await status(["--json"]);
    expect(j.code).toBe(1);
    const report = JSON.parse(j.stdout);
    expect(report.healthy).toBe(false);
    expect(report.problems).toContainEqual(expect.objectContaining({ problem: "stuck_batch_job", subject: jobId }));
    expect(report.stuck).toEqual([expect.objectContaining({ batch_job_id: jobId, reason: "heartbeat_stale", run_id: runId, tasks_live: 1 })]);
    expect(report.batch_health[0]).toMatchObject({ run_id: runId, run_status: "running", batch_jobs: 2, jobs_live: 2 });
    expect(report.completeness).toEqual([expect.objectContaining({ run_id: runId, provider: "a", planned: 2, missing: 2 })]);
    expect(report.pace).toEqual([expect.objectContaining({ run_id: runId, provider: "a", planned: 2, in_flight: 0, live: 2, calls: 0, rate_limited: 0, limit_source: "unknown" })]);
    expect(r.stdout.split("Provider pace")[1]!.split("\n\n")[0]).toMatch(/\ba\s+2\s+0\s+0\s+0\s+0\s+0\s+0\.0000\s+291\.0\s+unknown\b/);
  });
});

describe("scripts/status without a database", () => {
  it("exits 2 with a clear message and the password masked", async () => {
    const port = await freePort();
    const r = await status([], { DATABASE_URL: `postgresql://postgres:sekret-pw-123@127.0.0.1:${port}/postgres` });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`cannot query the database at postgresql://postgres:\\*\\*\\*\\*@127\\.0\\.0\\.1:${port}/postgres`));
    expect(r.stdout + r.stderr).not.toContain("sekret-pw-123");
  });

  it("exits 2 when DATABASE_URL is nowhere", async () => {
    const r = await status([], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/DATABASE_URL is not set/);
  });

  it("exits 2 on an unknown flag", async () => {
    const r = await status(["--jsn"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage: scripts\/status/);
  });
});

describe("scripts/status and organizations' own schedules", () => {
  it("shows each one's next run in local time and in UTC and its last 30 local days; a missed period is a problem (exit 1)", async () => {
    const { orgIds } = await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    const org = orgIds[0]!;
    await sql`select public.set_org_schedule(${org}::uuid, 'daily-batch', 'Asia/Kathmandu', '06:45')`;
    const yesterday = (await sql`select to_char((now() at time zone 'Asia/Kathmandu')::date - 1, 'YYYY-MM-DD') as d`)[0]!.d as string;
    await sql`insert into scheduler.missed_runs (schedule, org_id, run_key, due_at, recorded_at, reason)
              values ('daily-batch', ${org}, ${yesterday}, now() - interval '1 day', now(), 'past the catch-up window (360 min)')`;
    const j = await status(["--json"]);
    expect(j.code, j.stderr).toBe(1);
    const report = JSON.parse(j.stdout);
    expect(report.org_schedules_total).toBe(1);
    const [row] = report.org_schedules;
    expect(row).toMatchObject({ org_id: org, timezone: "Asia/Kathmandu", run_at: "06:45:00", missed_30d: 1 });
    expect(row.next_run_local).toMatch(/^\d{4}-\d{2}-\d{2} 06:(4[5-9]|5\d|59):\d{2}$|^\d{4}-\d{2}-\d{2} 07:0\d:\d{2}$/);
    expect(row.next_run_utc).toMatch(/^\d{4}-\d{2}-\d{2} 01:\d{2}:\d{2}$/); // +5:45, plus up to 15 minutes of jitter
    expect(row.last_30).toHaveLength(30);
    expect(row.last_30.endsWith("M·")).toBe(true); // yesterday missed, today not yet run
    expect(report.problems).toContainEqual(expect.objectContaining({ problem: "missed_period", subject: `daily-batch/${org}/${yesterday}` }));
    const t = await status([]);
    expect(t.stdout).toContain("scheduler.v_org_schedules");
    expect(t.stdout).toMatch(/Asia\/Kathmandu\s+06:45:00/);
  });
});
