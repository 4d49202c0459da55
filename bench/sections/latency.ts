// Section 6, trigger latency: daily-batch-trigger over HTTP (Deno, as scripts/dev serves it),
// p50/p99 of an `already_ran` call (as pg_cron makes it, x-cron-secret) and of a forced `started`
// call (manual, service role) that plans 100 organizations. Every `started` call needs an
// unclaimed period, so the run it created is deleted (cascading to its jobs and tasks) and the
// tables vacuumed between calls, outside the timed window.
// Server side = the database time of each call: the functions connect as a role whose statements
// Postgres logs with durations (lib/statement-log.ts); per call, the sum over its statements
// (invocation row, schedule lookup, the claim-and-plan transaction, ...) and that transaction
// (scheduler.try_mark_daily_run) alone. (scheduler_runs.started_at/completed_at cannot serve:
// both are now(), the start of their transactions, so the claim transaction itself falls outside.)
// Client side = the whole HTTP round trip from this local client over loopback.
import { createOpenSchedule, resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET } from "../../harness/processes.ts";
import type { ShapeSizes } from "../lib/config.ts";
import { analyzeSchemas, clearVault, databaseUrl, type Sql } from "../lib/db.ts";
import { timedCall, expectStatus } from "../../harness/timed-call.ts";
import { log, table } from "../lib/report.ts";
import { createLoggedRole, groupByCall, ServerLog } from "../lib/statement-log.ts";
import { summarize, type Summary } from "../lib/stats.ts";

const SCHEDULE = "bench-latency";
const TRIGGER = "daily-batch-trigger";
const WARMUP_CALLS = 5;
// The claim-and-plan call: the contract's try_mark_daily_run, or the name the trigger calls it by.
const CLAIM_STATEMENT = /select scheduler\.(try_mark_daily_run|claim_and_plan_run)\(/;

export interface LatencySeries {
  calls: number;
  /** Database time per call: every statement the function ran for it. */
  serverDbMs: Summary | null;
  /** The claim-and-plan transaction alone (scheduler.try_mark_daily_run). */
  claimMs: Summary | null;
  /** HTTP round trip from a local client. */
  clientMs: Summary;
}

export interface LatencyResult {
  organizations: number;
  tasksPerStartedCall: number;
  alreadyRan: LatencySeries;
  forcedStarted: LatencySeries;
  /** Target: already_ran p50 < 20 ms (server side; client side when the server log is unavailable). */
  target: { goalMs: 20; p50ServerMs: number | null; p50ClientMs: number; met: boolean };
}

export async function benchLatency(sql: Sql, s: ShapeSizes & { calls: number }): Promise<{ result: LatencyResult; report: string }> {
  await resetState(sql);
  const providers = Object.fromEntries(Array.from({ length: s.providers }, (_, i) => [`latency-${i + 1}`, "http://127.0.0.1:9/v1"]));
  const seeded = await seedOrganizations(sql, { organizations: s.organizations, promptsPerOrg: s.promptsPerOrg, providers });
  await createOpenSchedule(sql, SCHEDULE);
  await analyzeSchemas(sql, "scheduler", "public");
  const functions = await startFunctions({ SUPABASE_DB_URL: await createLoggedRole(sql, databaseUrl()) });
  const serverLog = new ServerLog();
  try {
    // Vault set as in production, so the processor kicks are queued in the timed transaction; they
    // point at a closed port, so pg_net's worker sends them nowhere and no processor competes for
    // the CPU.
    await setVault(sql, "http://127.0.0.1:9/functions/v1", TEST_CRON_SECRET);
    const forced = async () => {
      const res = await timedCall(functions.url, TRIGGER, { schedule: SCHEDULE, force: true, note: "bench: trigger latency" }, "manual");
      expectStatus("forced trigger", res, "status", "started");
      await sql`delete from scheduler.runs where id = ${res.body.run_id as string}`;
      await sql`truncate net.http_request_queue`;
      // Every call then plans into the same clean tables, not into a growing pile of dead rows.
      await sql`vacuum scheduler.runs, scheduler.batch_jobs, scheduler.batch_tasks`;
      return res.ms;
    };
    const cron = async () => {
      const res = await timedCall(functions.url, TRIGGER, { schedule: SCHEDULE }, "cron");
      expectStatus("cron trigger", res, "reason", "already_ran");
      return res.ms;
    };

    log(`trigger latency: ${s.calls} forced started calls (${seeded.expectedTasks} tasks each)`);
    const forcedStarted = await series(serverLog, s.calls, forced);
    const first = await timedCall(functions.url, TRIGGER, { schedule: SCHEDULE }, "cron");
    expectStatus("first cron trigger", first, "status", "started");
    log(`trigger latency: ${s.calls} already_ran calls`);
    const alreadyRan = await series(serverLog, s.calls, cron);

    const p50Server = alreadyRan.serverDbMs?.p50 ?? null;
    const result: LatencyResult = {
      organizations: s.organizations,
      tasksPerStartedCall: seeded.expectedTasks,
      alreadyRan,
      forcedStarted,
      target: { goalMs: 20, p50ServerMs: p50Server, p50ClientMs: alreadyRan.clientMs.p50, met: (p50Server ?? alreadyRan.clientMs.p50) < 20 },
    };
    return { result, report: render(result) };
  } finally {
    await functions.stop();
    await clearVault(sql);
    await resetState(sql);
  }
}

async function series(serverLog: ServerLog, calls: number, call: () => Promise<number>): Promise<LatencySeries> {
  for (let i = 0; i < WARMUP_CALLS; i++) await call();
  serverLog.mark();
  const client: number[] = [];
  for (let i = 0; i < calls; i++) client.push(await call());
  const perCall = groupByCall(serverLog.statements(), "insert into scheduler.scheduler_runs");
  const complete = perCall.length === calls;
  const sum = (xs: { ms: number }[]) => xs.reduce((n, x) => n + x.ms, 0);
  return {
    calls,
    serverDbMs: complete ? summarize(perCall.map(sum)) : null,
    claimMs: complete ? summarize(perCall.map((c) => sum(c.filter((x) => CLAIM_STATEMENT.test(x.text))))) : null,
    clientMs: summarize(client),
  };
}

function render(r: LatencyResult): string {
  const row = (name: string, x: LatencySeries) => [name, x.calls, x.serverDbMs?.p50 ?? "-", x.serverDbMs?.p99 ?? "-",
    x.claimMs?.p50 ?? "-", x.claimMs?.p99 ?? "-", x.clientMs.p50, x.clientMs.p99];
  return table(
    "6. Trigger latency, ms (server = database time of the call's statements; claim = try_mark_daily_run; client = local HTTP round trip)",
    ["call", "calls", "server p50", "server p99", "claim p50", "claim p99", "client p50", "client p99"],
    [row("already_ran (cron)", r.alreadyRan), row(`forced started (${r.organizations} orgs, ${r.tasksPerStartedCall} tasks)`, r.forcedStarted)],
  );
}
