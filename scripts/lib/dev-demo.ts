// The demo `scripts/dev` runs once the stack is up: each step talks to the running stack and
// prints what it saw; any failed step exits non-zero (so `scripts/dev --once` fails with it).
//   1. health: Deno → Postgres, pg_cron, migrations
//   2. seed: supabase/seed.sql (demo organizations, prompts, mock providers; idempotent)
//   3. a forced manual run of daily-batch-trigger (or, if today's run exists, that run: one run
//      per day is the point)
//   4. progress of the run's tasks while it is running, processed by robust-batch-processor
//      invocations that the trigger queued through pg_net
//   5. a per-organization summary of the run
// Run alone against a running stack: `node_modules/.bin/tsx scripts/lib/dev-demo.ts`.
import path from "node:path";
import postgres from "postgres";
import { paceLine, paceTable, readPace, type PaceRow } from "./dev-demo-pace.ts";
import { type FunctionsConfig, resolveDatabaseUrl, resolveFunctionsConfig } from "./cli-env.ts";
import { callFunction, functionsUrl } from "./function-call.ts";
import { ROOT } from "./root.ts";
import type { Sql } from "../../functions/_shared/db.ts";

const say = (line: string) => console.log(`[demo] ${line}`);

const SEED_FILE = path.join(ROOT, "supabase/seed.sql");
const LOG_DIR = path.join(process.env.DAYBREAK_DEV_DIR ?? ".local", "logs");
const POLL_MS = 250;
const PLAIN_PROGRESS_EVERY_MS = 2000;
const RUN_TIMEOUT_MS = 5 * 60_000;


class DemoError extends Error {}

interface HealthAnswer {
  ok: boolean;
  pg_cron?: string;
  migrations?: number;
}

/** Step 1: the health function proves Deno → Postgres, pg_cron and the applied migrations. */
async function checkHealth(stack: FunctionsConfig): Promise<void> {
  say(`POST ${functionsUrl(stack)}/health`);
  const { status, body } = await callFunction(stack, "health");
  const answer = body as HealthAnswer;
  if (status !== 200 || typeof answer !== "object" || answer === null || answer.ok !== true) {
    throw new DemoError(`health answered ${status}: ${JSON.stringify(body)}`);
  }
  say(`health ok: pg_cron ${answer.pg_cron}, ${answer.migrations} migration(s) applied`);
}

/** Step 2: the demo data, applied in one transaction. */
async function applySeed(sql: Sql): Promise<void> {
  say(`applying ${path.relative(ROOT, SEED_FILE)}`);
  await sql.begin(async (tx) => {
    await tx.file(SEED_FILE);
    // seed.sql names the default mock port; follow the mock wherever this stack runs it.
    const mockUrl = process.env.MOCK_PROVIDER_URL;
    if (mockUrl) await tx`update public.providers set base_url = ${mockUrl} where name like 'mock-%'`;
  });
  const [row] = await sql<{ organizations: number; prompts: number; providers: number }[]>`
    select (select count(*) from public.organizations where active)::int as organizations,
           (select count(*) from public.prompts p join public.organizations o on o.id = p.org_id
             where p.active and o.active)::int as prompts,
           (select count(*) from public.providers where enabled)::int as providers`;
  say(`seeded: ${row!.organizations} active organization(s), ${row!.prompts} active prompt(s), ${row!.providers} provider(s)`);
}

interface StartedAnswer {
  status: "started";
  run_id: string;
  run_key?: string;
  trigger_source?: string;
  batch_jobs?: number;
  tasks?: number;
}

interface SkippedAnswer {
  status: "skipped";
  reason: "already_ran";
  run_key?: string;
  existing_run_id: string;
}

/** Step 3: a forced manual run (force bends the 03:00–06:00 window, never the one-run-per-day rule). */
async function forceRun(stack: FunctionsConfig): Promise<{ runId: string; fresh: boolean }> {
  say(`POST ${functionsUrl(stack)}/daily-batch-trigger (manual call, force: true)`);
  const { status, body } = await callFunction(
    stack,
    "daily-batch-trigger",
    { force: true, note: "scripts/dev demo run" },
    { headers: { "x-manual-call": "true" } },
  );
  const answer = (typeof body === "object" && body !== null ? body : {}) as Partial<StartedAnswer | SkippedAnswer>;
  if (status === 200 && answer.status === "started" && typeof (answer as StartedAnswer).run_id === "string") {
    const a = answer as StartedAnswer;
    say(`run started: ${a.run_id} (run key ${a.run_key}, source ${a.trigger_source}): ${a.batch_jobs} batch job(s), ${a.tasks} task(s)`);
    return { runId: a.run_id, fresh: true };
  }
  if (
    status === 200 && answer.status === "skipped" && (answer as SkippedAnswer).reason === "already_ran" &&
    typeof (answer as SkippedAnswer).existing_run_id === "string"
  ) {
    const a = answer as SkippedAnswer;
    say(`skipped: already_ran. Today's run (${a.run_key}) exists, so no second run was started: one run per`);
    say(`day is the point, and force only bends the time window. The existing run is ${a.existing_run_id}.`);
    say(`(scripts/dev --reset starts from an empty database, for a fresh run.)`);
    return { runId: a.existing_run_id, fresh: false };
  }
  throw new DemoError(`daily-batch-trigger answered ${status}: ${typeof body === "string" ? body : JSON.stringify(body)}`);
}

interface Progress {
  runStatus: string;
  planned: number;
  pending: number;
  processing: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

async function readProgress(sql: Sql, runId: string): Promise<Progress> {
  const [row] = await sql<Progress[]>`
    select r.status as "runStatus", r.tasks_planned as planned,
           count(t.id) filter (where t.status = 'pending')::int as pending,
           count(t.id) filter (where t.status = 'processing')::int as processing,
           count(t.id) filter (where t.status = 'succeeded')::int as succeeded,
           count(t.id) filter (where t.status = 'failed')::int as failed,
           count(t.id) filter (where t.status = 'cancelled')::int as cancelled
      from scheduler.runs r
      left join scheduler.batch_tasks t on t.run_id = r.id
     where r.id = ${runId}::uuid
     group by r.id`;
  if (!row) throw new DemoError(`run ${runId} is not in scheduler.runs`);
  return row;
}

function progressLine(p: Progress, elapsedMs: number, bar: boolean): string {
  const done = p.succeeded + p.failed + p.cancelled;
  const total = Math.max(p.planned, done);
  const seconds = `${(elapsedMs / 1000).toFixed(1)}s`;
  const counts = `succeeded ${p.succeeded}  failed ${p.failed}  processing ${p.processing}  ${seconds}`;
  if (!bar) return `[demo] ${done}/${total} tasks  ${counts}`;
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${done}/${total} tasks  ${counts}`;
}

/** Step 4: the run's tasks as the processors finish them, until the run leaves 'running'. */
async function watchRun(sql: Sql, runId: string): Promise<void> {
  const tty = process.stdout.isTTY === true;
  const started = Date.now();
  let lastPlain = -Infinity;
  let drawn = false;
  const draw = (p: Progress, pace: PaceRow[], final = false) => {
    const elapsed = Date.now() - started;
    if (tty) {
      process.stdout.write(`\r${progressLine(p, elapsed, true)}  ${paceLine(pace)}\x1b[K${final ? "\n" : ""}`);
      drawn = !final;
    } else if (final || elapsed - lastPlain >= PLAIN_PROGRESS_EVERY_MS) {
      console.log(`${progressLine(p, elapsed, false)}  ${paceLine(pace)}`);
      lastPlain = elapsed;
    }
  };
  try {
    let progress = await readProgress(sql, runId);
    if (progress.runStatus !== "running") return;
    say(`watching run ${runId} (polling every ${POLL_MS} ms)`);
    while (progress.runStatus === "running") {
      draw(progress, await readPace(sql, runId));
      if (Date.now() - started > RUN_TIMEOUT_MS) {
        if (drawn) process.stdout.write("\n");
        drawn = false;
        throw new DemoError(
          `run ${runId} still running after ${RUN_TIMEOUT_MS / 60_000} minutes ` +
            `(${progress.pending} pending, ${progress.processing} processing); see the logs in ${LOG_DIR}/ ` +
            `(functions.log, mock-provider.log; pg_net's answers are in net._http_response)`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      progress = await readProgress(sql, runId);
    }
    draw(progress, await readPace(sql, runId), true);
    drawn = false;
  } finally {
    if (drawn) process.stdout.write("\n");
  }
}

interface OrgRow {
  organization: string;
  planned: number;
  succeeded: number;
  failed: number;
  duplicates_prevented: number;
  status: string;
}

interface RunRow {
  run_key: string;
  status: string;
  trigger_source: string;
  forced: boolean;
  note: string | null;
  created_at: string;
  completed_at: string | null;
  duration_s: number | null;
}

function table(header: string[], rows: string[][], numeric: boolean[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [fmt(header), rule, ...rows.slice(0, -1).map(fmt), rule, fmt(rows[rows.length - 1]!)];
}

/** Step 5: what the run did, per organization, and how long it took. */
async function summarize(sql: Sql, runId: string): Promise<void> {
  const [run] = await sql<RunRow[]>`
    select run_key, status, trigger_source, forced, note,
           to_char(created_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS"Z"') as created_at,
           to_char(completed_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS"Z"') as completed_at,
           extract(epoch from completed_at - created_at)::float8 as duration_s
      from scheduler.runs where id = ${runId}::uuid`;
  if (!run) throw new DemoError(`run ${runId} is not in scheduler.runs`);
  const orgs = await sql<OrgRow[]>`
    select o.name as organization, bj.tasks_total as planned,
           count(t.id) filter (where t.status = 'succeeded')::int as succeeded,
           count(t.id) filter (where t.status = 'failed')::int as failed,
           bj.duplicates_prevented, bj.status
      from scheduler.batch_jobs bj
      join public.organizations o on o.id = bj.org_id
      left join scheduler.batch_tasks t on t.batch_job_id = bj.id
     where bj.run_id = ${runId}::uuid
     group by bj.id, o.name
     order by o.name`;
  const sum = (key: "planned" | "succeeded" | "failed" | "duplicates_prevented") =>
    String(orgs.reduce((n, o) => n + o[key], 0));
  const rows = orgs.map((o) => [
    o.organization, String(o.planned), String(o.succeeded), String(o.failed), String(o.duplicates_prevented), o.status,
  ]);
  rows.push(["total", sum("planned"), sum("succeeded"), sum("failed"), sum("duplicates_prevented"), run.status]);
  console.log("");
  say(`run ${runId}  (run key ${run.run_key}, source ${run.trigger_source}${run.forced ? ", forced" : ""}${run.note ? `, note "${run.note}"` : ""})`);
  for (const line of table(
    ["organization", "tasks planned", "succeeded", "failed", "duplicates prevented", "status"],
    rows,
    [false, true, true, true, true, false],
  )) {
    console.log(`  ${line}`);
  }
  say("providers (scheduler.v_provider_pace): the shared pacer ran each at its limit, learned from the mock's headers");
  const pace = paceTable(await readPace(sql, runId));
  for (const line of table(pace.header, pace.rows, pace.numeric)) console.log(`  ${line}`);
  const duration = run.duration_s === null ? "not finished" : `${run.duration_s.toFixed(2)}s`;
  say(`run status ${run.status}; started ${run.created_at}, ${run.completed_at ? `completed ${run.completed_at}` : "not completed"}; duration ${duration}`);
  if (run.status === "running") throw new DemoError(`run ${runId} has not finished; see the logs in ${LOG_DIR}/`);
}

async function main(): Promise<void> {
  const stack = resolveFunctionsConfig();
  await checkHealth(stack);
  const sql = postgres(resolveDatabaseUrl().url, { max: 2, onnotice: () => {}, connection: { application_name: "daybreak-dev-demo" } });
  try {
    await applySeed(sql);
    const { runId } = await forceRun(stack);
    await watchRun(sql, runId);
    await summarize(sql, runId);
  } finally {
    await sql.end({ timeout: 5 });
  }
  say("done");
}

main().catch((error: unknown) => {
  const e = error as Error & { cause?: { message?: string } };
  console.error(`[demo] failed: ${e.message}${e.cause?.message ? ` (${e.cause.message})` : ""}`);
  process.exit(1);
});
