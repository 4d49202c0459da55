// scripts/trigger as an operator runs it: a child process calling the Deno-served functions
// through supabase-js, against the real database. Config comes from the environment only
// (DAYBREAK_DEV_ENV_FILE points at nothing, so a developer's .local/dev.env cannot leak in).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../harness/db.ts";
import { countRows, resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { runCommand, startFunctions, TEST_CRON_SECRET, TEST_SERVICE_ROLE_KEY, type CommandResult } from "../../harness/processes.ts";
import { ROOT } from "../../scripts/lib/root.ts";

const TRIGGER = path.join(ROOT, "scripts/trigger");
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

let sql: Sql;
let fns: Awaited<ReturnType<typeof startFunctions>>;
let tmp: string;
let expectedTasks: number;

beforeAll(async () => {
  sql = connect();
  fns = await startFunctions();
  tmp = mkdtempSync(path.join(os.tmpdir(), "daybreak-trigger-test-"));
});
afterAll(async () => {
  await fns?.stop();
  await sql?.end();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});
beforeEach(async () => {
  await resetState(sql);
  await setVault(sql, fns.url, TEST_CRON_SECRET);
  ({ expectedTasks } = await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 2, providers: { a: "http://127.0.0.1:9/v1" } }));
});


function trigger(args: string[], env: Record<string, string>): Promise<CommandResult> {
  return runCommand(TRIGGER, args, tmp, { PATH: process.env.PATH!, HOME: process.env.HOME ?? tmp, NO_COLOR: "1", DAYBREAK_DEV_ENV_FILE: path.join(tmp, "absent.env"), ...env });
}

const serviceRole = () => ({ SUPABASE_URL: `http://127.0.0.1:${fns.port}`, SUPABASE_SERVICE_ROLE_KEY: TEST_SERVICE_ROLE_KEY });

describe("scripts/trigger", () => {
  it("--force starts a manual run; a second call reports already_ran with the same run id", async () => {
    const first = await trigger(["--force", "--note", "e2e: scripts/trigger"], serviceRole());
    expect(first.code, first.stderr).toBe(0);
    const m = first.stdout.match(new RegExp(`^started run (${UUID}) for daily-batch (\\d{4}-\\d{2}-\\d{2}) \\(manual\\): 2 batch jobs, ${expectedTasks} tasks$`, "m"));
    expect(m, first.stdout).not.toBeNull();
    const [, runId, runKey] = m!;
    const runs = await sql`select id, run_key, trigger_source, forced, note from scheduler.runs`;
    expect(runs).toEqual([{ id: runId, run_key: runKey, trigger_source: "manual", forced: true, note: "e2e: scripts/trigger" }]);
    const [call] = await sql`select trigger_source, auth_method from scheduler.scheduler_runs where run_id = ${runId!} and status = 'completed'`;
    expect(call).toEqual({ trigger_source: "manual", auth_method: "service_role" });

    const second = await trigger(["--force"], serviceRole());
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim()).toBe(`skipped: already_ran — run ${runId} already exists for daily-batch ${runKey}`);
    expect(await countRows(sql)).toMatchObject({ runs: 1 });
  });

  it("without --force on the paused default schedule: skipped schedule_paused, exit 0, no run", async () => {
    const r = await trigger([], serviceRole());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^skipped: schedule_paused — schedule daily-batch is disabled/);
    expect(await countRows(sql)).toMatchObject({ runs: 0 });
  });

  it("--json prints the function's answer as JSON", async () => {
    const r = await trigger(["--force", "--json"], serviceRole());
    expect(r.code, r.stderr).toBe(0);
    const answer = JSON.parse(r.stdout);
    expect(answer).toMatchObject({ status: "started", schedule: "daily-batch", trigger_source: "manual", batch_jobs: 2, tasks: expectedTasks });
    expect(r.stderr).toMatch(/^started run /);
  });

  it("authenticates with CRON_SECRET alone (x-cron-secret), still labelled manual", async () => {
    const r = await trigger(["--force"], { SUPABASE_URL: `http://127.0.0.1:${fns.port}`, CRON_SECRET: TEST_CRON_SECRET });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^started run .* \(manual\)/);
    const [call] = await sql`select trigger_source, auth_method from scheduler.scheduler_runs`;
    expect(call).toEqual({ trigger_source: "manual", auth_method: "cron_secret" });
  });

  it("a wrong key: exit 1, the 401 explained, the key not printed, nothing written", async () => {
    const wrongKey = "wrong-service-role-key-0123456789abcdefghijk";
    const r = await trigger(["--force"], { ...serviceRole(), SUPABASE_SERVICE_ROLE_KEY: wrongKey });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unauthorized \(401\): the key was refused — check SUPABASE_SERVICE_ROLE_KEY \/ CRON_SECRET for this project/);
    expect(r.stdout + r.stderr).not.toContain(wrongKey);
    expect(await countRows(sql)).toMatchObject({ runs: 0, scheduler_runs: 0 });
  });

  it("--run-key in the future: exit 1 with the server's 400 detail, nothing written", async () => {
    const r = await trigger(["--run-key", "2999-01-01"], serviceRole());
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid request \(400\)/);
    expect(r.stderr).toMatch(/- run_key: run_key "2999-01-01" is in the future \(current period is \d{4}-\d{2}-\d{2}\)/);
    expect(await countRows(sql)).toMatchObject({ runs: 0, scheduler_runs: 0 });
  });

  it("--run-key backfills a past day as a forced manual run", async () => {
    const [{ key }] = await sql<{ key: string }[]>`
      select to_char((now() at time zone 'America/New_York')::date - 2, 'YYYY-MM-DD') as key`;
    const r = await trigger(["--run-key", key!, "--note", "backfill after outage"], serviceRole());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^started run ${UUID} for daily-batch ${key} \\(manual\\)`));
    const [run] = await sql`select run_key, forced, note from scheduler.runs`;
    expect(run).toEqual({ run_key: key, forced: true, note: "backfill after outage" });
  });

  it("usage mistakes exit 2 before any call", async () => {
    for (const args of [["--run-key", "2026-02-30"], ["--frce"], ["--reconcile", "--force"], ["--dry-run"]]) {
      const r = await trigger(args, serviceRole());
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/usage: scripts\/trigger/);
    }
    expect(await countRows(sql)).toMatchObject({ scheduler_runs: 0 });
  });

  it("no configuration at all: exit 2 naming what to set", async () => {
    const r = await trigger(["--force"], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY \(or CRON_SECRET\)/);
  });

  it("reads .local/dev.env when the environment has no SUPABASE_URL", async () => {
    const file = path.join(tmp, "dev.env");
    writeFileSync(file, `SUPABASE_URL='http://127.0.0.1:${fns.port}'\nSUPABASE_SERVICE_ROLE_KEY='${TEST_SERVICE_ROLE_KEY}'\n`);
    const r = await trigger(["--force"], { DAYBREAK_DEV_ENV_FILE: file });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^started run /);
  });

  it("--reconcile [--dry-run] reports the reconciler's summary", async () => {
    const dry = await trigger(["--reconcile", "--dry-run"], serviceRole());
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^reconciler dry run \(nothing changed\), would do: 0 stale, 0 resumed, 0 finalized, 0 failed, 0 runs closed/);
    const real = await trigger(["--reconcile"], serviceRole());
    expect(real.code, real.stderr).toBe(0);
    expect(real.stdout.trim()).toBe("reconciler completed: 0 stale, 0 resumed, 0 finalized, 0 failed, 0 runs closed");
    const calls = await sql`select function_name, trigger_source from scheduler.scheduler_runs`;
    expect(calls).toEqual([{ function_name: "batch-reconciler", trigger_source: "manual" }]);
  });
});

describe("scripts/trigger against a function without CRON_SECRET", () => {
  it("explains the 500 misconfigured answer", async () => {
    const misconfigured = await startFunctions({ CRON_SECRET: "" });
    try {
      const r = await trigger(["--force"], { SUPABASE_URL: `http://127.0.0.1:${misconfigured.port}`, SUPABASE_SERVICE_ROLE_KEY: TEST_SERVICE_ROLE_KEY });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/misconfigured \(500\): the function's CRON_SECRET is missing or shorter than 32 characters/);
    } finally {
      await misconfigured.stop();
    }
  });
});
