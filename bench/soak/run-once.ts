// One soak run: a fresh schedule, started by a cron tick (through pg_net) or by a race of callers,
// its faults injected at their moments while it is live, then the wait for it to end, a
// reconcile, the checker, and the recovery time after each fault.
import { timedCall } from "../../harness/timed-call.ts";
import { checkRun, type CheckResult } from "./checker.ts";
import { inject, sleep, type FaultKind, type InjectedFault, type RunPlan } from "./faults.ts";
import type { SoakStack } from "./stack.ts";

export interface RunOptions {
  index: number;
  plan: RunPlan;
  expectedMs: number;
  leaseMs: number;
  maxRunMs: number;
  log: (line: string) => void;
}

export interface FaultRecord {
  kind: FaultKind;
  at_s: number;
  detail: string;
  /** From the fault to the run's next task done; null when nothing was left to do. */
  recovery_s: number | null;
}

export interface RunRecord {
  index: number;
  schedule: string;
  run_id: string | null;
  duration_s: number;
  status: string;
  faults: FaultRecord[];
  faults_skipped: FaultKind[];
  tasks: CheckResult["tasks"] | null;
  repeated_answers: number;
  violations: string[];
}

export async function soakRun(stack: SoakStack, o: RunOptions): Promise<RunRecord> {
  const schedule = `soak-${String(o.index).padStart(4, "0")}`;
  await stack.read((sql) => sql`
    insert into scheduler.schedules (name, timezone, window_start, window_end, period, enabled)
    values (${schedule}, 'UTC', '00:00', '23:59:59.999999', 'daily', true)`);
  stack.mock.reset();
  const startedAt = Date.now();
  const injected: InjectedFault[] = [];
  const skipped: FaultKind[] = [];
  const record = (status: string, violations: string[], runId: string | null = null): RunRecord => ({
    index: o.index, schedule, run_id: runId, duration_s: (Date.now() - startedAt) / 1000, status,
    faults: injected.map((f) => ({ kind: f.kind, at_s: (f.at - startedAt) / 1000, detail: f.detail, recovery_s: null })),
    faults_skipped: skipped, tasks: null, repeated_answers: 0, violations,
  });

  if (o.plan.raceStart) injected.push(await raceStart(stack, schedule));
  else await stack.read((sql) => sql`select scheduler.cron_trigger_tick()`);

  const runId = await waitFor(30_000, () => stack.read(async (sql) => {
    const [row] = await sql<{ id: string }[]>`select id::text from scheduler.runs where schedule = ${schedule}`;
    return row?.id ?? null;
  }));
  if (runId === null) return record("never_started", [`no run for ${schedule} 30 s after it was triggered`]);
  const isRunning = () => stack.read(async (sql) => (await sql`select status from scheduler.runs where id = ${runId}::uuid`)[0]!.status === "running");

  for (const fault of o.plan.faults) {
    await sleep(startedAt + fault.at * o.expectedMs - Date.now());
    if (!(await isRunning())) {
      skipped.push(fault.kind);
      continue;
    }
    o.log(`  ${schedule}: ${fault.kind}`);
    injected.push(await inject(stack, fault, { id: runId, schedule }));
  }

  // A provider fault lasts its number of calls, or until the run is over.
  const ended = await waitFor(o.maxRunMs, async () => ((await isRunning()) ? null : true));
  stack.mock.setRules([]);
  const durationS = (Date.now() - startedAt) / 1000;
  if (ended === null) o.log(`  ${schedule}: still running after ${o.maxRunMs / 1000} s`);
  await settle(stack);
  const check = await stack.read((sql) => checkRun(sql, {
    runId, schedule, startedAt, calls: stack.mock.calls(), faults: injected, leaseMs: o.leaseMs,
  }));
  const violations = ended === null ? [`run still running ${o.maxRunMs / 1000} s after it started`, ...check.violations] : check.violations;
  const result = { ...record(check.runStatus, violations, runId), duration_s: durationS, tasks: check.tasks, repeated_answers: check.repeatedAnswers };
  result.faults = await Promise.all(injected.map(async (f, i) => ({ ...result.faults[i]!, recovery_s: await recoverySeconds(stack, runId, f) })));
  return result;
}

/** Two cron-style calls, a manual backfill of the same period and a pg_cron tick, all at once. */
async function raceStart(stack: SoakStack, schedule: string): Promise<InjectedFault> {
  const at = Date.now();
  const [period] = await stack.read((sql) => sql<{ key: string }[]>`select scheduler.period_key('daily', (now() at time zone 'UTC')::date) as key`);
  const url = stack.functionsUrl;
  const answers = await Promise.allSettled([
    timedCall(url, "daily-batch-trigger", { schedule }, "cron"),
    timedCall(url, "daily-batch-trigger", { schedule }, "cron"),
    timedCall(url, "daily-batch-trigger", { schedule, force: true, run_key: period!.key, note: "soak backfill racing the tick" }, "manual"),
    stack.read((sql) => sql`select scheduler.cron_trigger_tick()`),
  ]);
  const started = answers.filter((a) => a.status === "fulfilled" && (a.value as { body?: { status?: string } }).body?.status === "started").length;
  return { kind: "trigger_race", at, endAt: Date.now(), detail: `4 callers; ${started} HTTP caller(s) answered started` };
}

/** Lets the fleet wind down (no processor live), then reconciles as of when every threshold has
 * passed: the state the invariants speak of ("after a reconcile"). */
async function settle(stack: SoakStack): Promise<void> {
  await waitFor(90_000, () => stack.read(async (sql) => {
    const [row] = await sql<{ n: number }[]>`select scheduler.live_processor_count() as n`;
    return row!.n === 0 ? true : null;
  }));
  await stack.read((sql) => sql`
    select scheduler.reconcile(false, now() + make_interval(mins => scheduler.config_int('abandoned_invocation_minutes') + 1))`);
}

/** From the fault to the run's next task done; for a single runtime's kill, whose sibling keeps
 * the run going, to the rescue of the last invocation it killed (null when it held none). */
async function recoverySeconds(stack: SoakStack, runId: string, fault: InjectedFault): Promise<number | null> {
  if (fault.kind === "trigger_race" || fault.kind === "run_cancelled") return null;
  if (fault.kind === "invocation_kill") {
    // The processors this kill silenced: alive at the fault, so heard from within two heartbeats
    // before it (a processor an earlier kill silenced, and an earlier settle stopped as of a later
    // moment, is not this fault's).
    const [row] = await stack.read((sql) => sql<{ rescued: Date | null }[]>`
      select max(stopped_at) as rescued from scheduler.processors
       where stop_reason = 'lost'
         and last_seen between to_timestamp(${fault.at / 1000}) - make_interval(secs => 2 * scheduler.config_int('heartbeat_seconds'))
                           and to_timestamp(${fault.at / 1000})
         and stopped_at between to_timestamp(${fault.at / 1000}) and to_timestamp(${fault.at / 1000}) + interval '3 minutes'`);
    return row!.rescued ? (row!.rescued.getTime() - fault.at) / 1000 : null;
  }
  const [row] = await stack.read((sql) => sql<{ next: Date | null }[]>`
    select min(completed_at) as next from scheduler.batch_tasks
     where run_id = ${runId}::uuid and status in ('succeeded', 'failed') and completed_at > to_timestamp(${fault.at / 1000})`);
  return row!.next ? Math.max(0, (row!.next.getTime() - fault.at) / 1000) : null;
}

async function waitFor<T>(timeoutMs: number, probe: () => Promise<T | null>): Promise<T | null> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() >= until) return null;
    await sleep(200);
  }
}
