// Section 5, idle cost: scheduler.cron_trigger_tick(p_now) at every 5-minute instant and
// scheduler.cron_reconcile_tick(p_now) every 10 seconds of one simulated UTC day (288 + 8,640
// calls, what pg_cron runs), with the
// day's run happening inside the window. When a trigger tick calls daily-batch-trigger, the
// trigger is emulated in SQL (try_mark_daily_run(schedule, period), the claim the function makes), its
// batch jobs are then processed by emulated workers (heartbeats at simulated time) and completed
// `runMinutes` later. HTTP requests are counted in daybreak_test.net_requests, the copy of every
// request queued for pg_net (its worker sends and deletes them). Beside it: the legacy nine-job schedule's firings that day,
// computed from their cron expressions (test/fixtures/legacy-cron-jobs.sql); each firing was an
// edge function call.
import { readFileSync } from "node:fs";
import path from "node:path";
import { resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { firingsOnDay } from "../lib/cron.ts";
import { clearVault, type Sql } from "../lib/db.ts";
import { ROOT } from "../../scripts/lib/root.ts";
import { table } from "../lib/report.ts";

// The cron jobs' cadences (supabase/schema/cron.sql, "cron jobs"): */5 * * * * and '10 seconds'.
const TRIGGER_TICK_SECONDS = 300;
const RECONCILE_TICK_SECONDS = 10;
const LEGACY_FIXTURE = "test/fixtures/legacy-cron-jobs.sql";

export interface IdleResult {
  day: string;
  window: string;
  ticks: { trigger: number; reconcile: number };
  httpRequests: { trigger: number; reconciler: number; processorKicks: number };
  decisions: { trigger: Record<string, number>; reconcile: Record<string, number> };
  run: { runKey: string; startedAtTick: string; completedAtTick: string; status: string } | null;
  legacy: { jobs: { name: string; schedule: string; perDay: number }[]; invocationsPerDay: number };
  /** Targets: ≤ 2 requests from the trigger tick, 0 from the reconciler tick once the run is done. */
  target: { triggerRequests: number; triggerGoal: 2; reconcilerRequestsAfterRun: number; met: boolean };
}

interface RunInFlight {
  runId: string;
  runKey: string;
  startedAt: Date;
}

export async function benchIdle(sql: Sql, s: { day: string; runMinutes: number }): Promise<{ result: IdleResult; report: string }> {
  await resetState(sql);
  await sql`update scheduler.schedules set enabled = true where name = 'daily-batch'`;
  await seedOrganizations(sql, { organizations: 20, promptsPerOrg: 5, providers: { idle: "http://127.0.0.1:9/v1" } });
  // Vault as in production; the URL is never called (no dispatcher), requests just queue.
  await setVault(sql, "http://127.0.0.1:9/functions/v1", "idle-bench-secret-0123456789abcdefghijklmnop");
  try {
    const decisions = { trigger: {} as Record<string, number>, reconcile: {} as Record<string, number> };
    let run: RunInFlight | null = null;
    let summary: IdleResult["run"] = null;
    let reconcilerRequestsAfterRun = 0;
    const dayStart = new Date(`${s.day}T00:00:00Z`).getTime();
    const seconds = 24 * 3600;
    for (let i = 0; i < seconds; i += RECONCILE_TICK_SECONDS) {
      const now = new Date(dayStart + i * 1000);
      if (i % TRIGGER_TICK_SECONDS === 0) {
        const [t] = await sql<{ r: { decision: string; run_key: string }[] }[]>`select scheduler.cron_trigger_tick(${now}) as r`;
        for (const d of t!.r.filter((x) => x.decision !== "disabled")) {
          count(decisions.trigger, d.decision);
          if (d.decision === "called" && run === null) run = await emulateTrigger(sql, d.run_key, now);
        }
      }
      if (run) {
        if (now.getTime() - run.startedAt.getTime() >= s.runMinutes * 60_000) {
          summary = { runKey: run.runKey, startedAtTick: run.startedAt.toISOString(), completedAtTick: now.toISOString(),
            status: await completeRun(sql, run.runId, now) };
          run = null;
        } else {
          await sql`update scheduler.batch_jobs set last_heartbeat = ${now} where run_id = ${run.runId} and status = 'processing'`;
          await sql`update scheduler.processors set last_seen = ${now} where status = 'running'`;
        }
      }
      const [r] = await sql<{ r: { decision: string } }[]>`select scheduler.cron_reconcile_tick(${now}) as r`;
      count(decisions.reconcile, r!.r.decision);
      if (summary && r!.r.decision === "called") reconcilerRequestsAfterRun++;
    }
    const httpRequests = await countRequests(sql);
    const legacy = legacyFirings(s.day);
    const result: IdleResult = {
      day: s.day,
      window: "03:00-06:00 America/New_York (daily-batch as shipped)",
      ticks: { trigger: seconds / TRIGGER_TICK_SECONDS, reconcile: seconds / RECONCILE_TICK_SECONDS },
      httpRequests,
      decisions,
      run: summary,
      legacy,
      target: {
        triggerRequests: httpRequests.trigger,
        triggerGoal: 2,
        reconcilerRequestsAfterRun,
        met: httpRequests.trigger >= 1 && httpRequests.trigger <= 2 && reconcilerRequestsAfterRun === 0,
      },
    };
    return { result, report: render(result) };
  } finally {
    await clearVault(sql);
    await resetState(sql);
  }
}

function count(into: Record<string, number>, key: string): void {
  into[key] = (into[key] ?? 0) + 1;
}

/** What daily-batch-trigger does for a cron call in the window, then processors taking the jobs. */
async function emulateTrigger(sql: Sql, runKey: string, now: Date): Promise<RunInFlight> {
  const [row] = await sql<{ r: { updated: boolean; run_id: string } }[]>`
    select scheduler.try_mark_daily_run('daily-batch'::text, ${runKey}::text) as r`;
  if (!row!.r.updated) throw new Error(`idle: period ${runKey} was already claimed`);
  await sql`update scheduler.batch_jobs set status = 'processing', attempts = 1, started_at = ${now}, last_heartbeat = ${now},
                   claimed_by = 'idle-bench' where run_id = ${row!.r.run_id} and status = 'pending'`;
  // The processors the claim kicked start, heartbeat at simulated time, and stop with the run.
  await sql`update scheduler.processors set status = 'running', worker = 'idle-bench', started_at = ${now}, last_seen = ${now}
             where status = 'kicked'`;
  return { runId: row!.r.run_id, runKey, startedAt: now };
}

async function completeRun(sql: Sql, runId: string, now: Date): Promise<string> {
  await sql`update scheduler.batch_tasks set status = 'succeeded', attempts = 1, completed_at = ${now} where run_id = ${runId}`;
  const jobs = await sql<{ id: string }[]>`select id from scheduler.batch_jobs where run_id = ${runId}`;
  for (const j of jobs) await sql`select scheduler.finalize_batch_job(${j.id}::uuid)`;
  await sql`update scheduler.processors set status = 'stopped', stop_reason = 'no_work', stopped_at = ${now} where status = 'running'`;
  const [row] = await sql<{ status: string }[]>`select status from scheduler.runs where id = ${runId}`;
  return row!.status;
}

async function countRequests(sql: Sql): Promise<IdleResult["httpRequests"]> {
  const [row] = await sql<IdleResult["httpRequests"][]>`
    select count(*) filter (where url like '%/daily-batch-trigger')::int as trigger,
           count(*) filter (where url like '%/batch-reconciler')::int as reconciler,
           count(*) filter (where url like '%/robust-batch-processor')::int as "processorKicks"
      from daybreak_test.net_requests`;
  return row!;
}

function legacyFirings(day: string): IdleResult["legacy"] {
  const text = readFileSync(path.join(ROOT, LEGACY_FIXTURE), "utf8");
  const jobs = [...text.matchAll(/cron\.schedule\('([^']+)',\s*'([^']+)'/g)].map(([, name, schedule]) => ({
    name: name!, schedule: schedule!, perDay: firingsOnDay(schedule!, day),
  }));
  if (jobs.length !== 9) throw new Error(`expected the nine legacy jobs in ${LEGACY_FIXTURE}, found ${jobs.length}`);
  return { jobs, invocationsPerDay: jobs.reduce((n, j) => n + j.perDay, 0) };
}

function render(r: IdleResult): string {
  const daybreak = table(
    `5. Idle cost over ${r.day} (UTC day, ${r.ticks.trigger} trigger + ${r.ticks.reconcile} reconciler ticks; run ${r.run ? `${r.run.startedAtTick.slice(11, 16)}→${r.run.completedAtTick.slice(11, 16)} UTC, ${r.run.status}` : "never started"})`,
    ["what", "calls", "HTTP requests"],
    [
      ["daybreak cron_trigger_tick", r.ticks.trigger, r.httpRequests.trigger],
      ["daybreak cron_reconcile_tick", r.ticks.reconcile, r.httpRequests.reconciler],
      ["  (processor kicks: the run's work, not idle cost)", "-", r.httpRequests.processorKicks],
      ["legacy nine jobs (each firing = an edge call)", r.legacy.invocationsPerDay, r.legacy.invocationsPerDay],
    ],
  );
  const legacy = table("   legacy schedule per job", ["job", "cron", "firings/day"], r.legacy.jobs.map((j) => [j.name, j.schedule, j.perDay]));
  return `${daybreak}\n${legacy}`;
}
