// One soak run: a fresh schedule, started by a cron tick (through pg_net) or by a race of callers,
// its faults injected at their moments while it is live (never in its first seconds, so there is
// a pace to recover to), then the wait for it to end, the closing reconcile, the checker, and the
// recovery after each fault.
import { timedCall } from "../../harness/timed-call.ts";
import { checkRun, type CheckResult } from "./checker.ts";
import { ANSWER_LOSING, FaultSkipped, inject, PACE_MEASURED, sleep, type FaultKind, type InjectedFault, type PlannedFault, type RunPlan } from "./faults.ts";
import { closingReconcile, type ClosingReconcile } from "./reconcile-rule.ts";
import { recoveryAfter } from "./recovery.ts";
import type { SoakStack } from "./stack.ts";

export interface RunOptions {
  index: number;
  plan: RunPlan;
  expectedMs: number;
  maxRunMs: number;
  /** No fault before this long into the run: the pace before it is what recovery returns to.
   * A planned fault's `at` is a fraction of the rest of the run's expected time. */
  preFaultMs: number;
  log: (line: string) => void;
}

export interface FaultRecord {
  kind: FaultKind;
  at_s: number;
  detail: string;
  /** The run's tasks held by a claim when it struck (answer-losing faults only). */
  in_flight: number;
  /** From the fault to the run back at 80% of its pre-fault pace over 5 s (recovery.ts); null
   * for faults with no pace to recover (a start race, a cancel, a paused schedule) or no work left. */
  recovery_s: number | null;
  /** Whether the run ran out of work before a full window at pace (recovery_s is to its end). */
  recovery_ended: boolean;
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
  /** Tasks not succeeded, each with the fault that explains it (seconds into the run). */
  explained: { task: string; status: string; fault: FaultKind; fault_at_s: number }[];
  closing_reconcile: ClosingReconcile | null;
  /** Processors of the run that stopped on a budget (wall clock, CPU, the worker ending) and
   * handed their work over: what the full soak's long runs are for. */
  hand_overs: number;
  /** Processors of the run found lost (killed with their worker) whose work a rescue handed to a
   * successor: hand-overs forced by a kill, which restart the survivors' budgets. */
  rescues: number;
  /** The most CPU a processor worker of the run spent after it retired (ms; the hard limit is
   * 1,000 ms past the soft one that retires it): what a hand-over costs, against the kill. */
  max_cpu_after_retire_ms?: number | null;
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
    faults: injected.map((f) => ({
      kind: f.kind, at_s: (f.at - startedAt) / 1000, detail: f.detail, in_flight: f.inFlight.length, recovery_s: null, recovery_ended: false,
    })),
    faults_skipped: skipped, tasks: null, repeated_answers: 0, explained: [], closing_reconcile: null, hand_overs: 0, rescues: 0, max_cpu_after_retire_ms: null, violations,
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
    await sleep(startedAt + o.preFaultMs + fault.at * Math.max(0, o.expectedMs - o.preFaultMs) - Date.now());
    if (!(await isRunning())) {
      skipped.push(fault.kind);
      continue;
    }
    o.log(`  ${schedule}: ${fault.kind}`);
    try {
      injected.push(await injectRecordingClaims(stack, fault, { id: runId, schedule }));
    } catch (error) {
      // Nothing to strike (no processor worker holding work), or the run ended between the look
      // and the cancel (cancel_run refuses): nothing was injected, and the checker must not expect
      // its effects (a cancelled run, say).
      const cancelTooLate = fault.kind === "run_cancelled" && /already ended/.test((error as Error).message);
      if (!(error instanceof FaultSkipped) && !cancelTooLate) throw error;
      o.log(`  ${schedule}: ${fault.kind} skipped: ${(error as Error).message}`);
      skipped.push(fault.kind);
    }
  }

  // A provider fault lasts its number of calls, or until the run is over.
  const ended = await waitFor(o.maxRunMs, async () => ((await isRunning()) ? null : true));
  stack.mock.setRules([]);
  const durationS = (Date.now() - startedAt) / 1000;
  if (ended === null) o.log(`  ${schedule}: still running after ${o.maxRunMs / 1000} s`);
  const reconcile = await settle(stack);
  const { limitKills, maxCpuAfterRetireMs } = await stack.workersSince(startedAt);
  const check = await stack.read((sql) => checkRun(sql, {
    runId, startedAt, expected: stack.plannedTasks, calls: stack.mock.calls(), faults: injected, reconcile, limitKills,
  }));
  const violations = ended === null ? [`run still running ${o.maxRunMs / 1000} s after it started`, ...check.violations] : check.violations;
  const result: RunRecord = {
    ...record(check.runStatus, violations, runId), duration_s: durationS, tasks: check.tasks, repeated_answers: check.repeatedAnswers,
    explained: check.explained.map((e) => ({ task: e.task, status: e.status, fault: e.fault, fault_at_s: (e.fault_at - startedAt) / 1000 })),
    closing_reconcile: reconcile,
    max_cpu_after_retire_ms: maxCpuAfterRetireMs,
    ...await stack.read(async (sql) => (await sql<{ hand_overs: number; rescues: number }[]>`
      select count(*) filter (where stop_reason not in ('no_work', 'lost', 'never_started'))::int as hand_overs,
             count(*) filter (where stop_reason = 'lost')::int as rescues
        from scheduler.processors where started_at >= to_timestamp(${startedAt / 1000})`)[0]!),
  };
  const completions = await stack.read(async (sql) => (await sql<{ at: Date }[]>`
    select completed_at as at from scheduler.batch_tasks
     where run_id = ${runId}::uuid and status in ('succeeded', 'failed') and completed_at is not null`).map((r) => r.at.getTime()));
  result.faults = injected.map((f, i) => {
    const measured = PACE_MEASURED.includes(f.kind) ? recoveryAfter(completions, f.at) : null;
    return { ...result.faults[i]!, recovery_s: measured?.seconds ?? null, recovery_ended: measured?.ended ?? false };
  });
  return result;
}

/** Injects the fault; for one that may lose answers, also which of the run's tasks were claimed
 * when it struck: read just before it and just after (the union, as a claim made between the read
 * and the fault is still held after it, or, after a cancel, cancelled with its claim on it: a task
 * given back or rescued before the cancel lost its claimed_by); after a kill, read at once, before
 * the runtime is back and the survivors' new claims blur it. */
async function injectRecordingClaims(stack: SoakStack, fault: PlannedFault, run: { id: string; schedule: string }): Promise<InjectedFault> {
  if (!ANSWER_LOSING.has(fault.kind)) return inject(stack, fault, run);
  const claimed = () => stack.read(async (sql) => (await sql<{ id: string }[]>`
    select id::text from scheduler.batch_tasks
     where run_id = ${run.id}::uuid
       and (status = 'processing' or (status = 'cancelled' and claimed_by is not null))`).map((r) => r.id));
  const before = await claimed();
  let after: string[] | null = null;
  const injected = await inject(stack, fault, run, async () => {
    after = await claimed();
  });
  return { ...injected, inFlight: [...new Set([...before, ...(after ?? (await claimed()))])] };
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
  return { kind: "trigger_race", at, endAt: Date.now(), detail: `4 callers; ${started} HTTP caller(s) answered started`, inFlight: [] };
}

/** Lets the fleet wind down (no processor live), then reconciles as of when every threshold has
 * passed: the state the invariants speak of ("after a reconcile"). Returns what that reconcile
 * repaired and the processors it stopped, for the checker (reconcile-rule.ts). */
/** Waits for the fleet to wind down: every processor stopped (kicked, running or handing over: a
 * run cancelled as a processor hands over still gets its successor, which finds no work), and no
 * invocation still recording its end (a processor stops before its invocation writes its outcome).
 * The closing reconcile is dated past every threshold, so anything still moving would read to it
 * as lost or abandoned. */
async function settle(stack: SoakStack): Promise<ClosingReconcile> {
  await waitFor(90_000, () => stack.read(async (sql) => {
    const [row] = await sql<{ n: number }[]>`
      select (select count(*) from scheduler.processors where status <> 'stopped')::int
             + (select count(*) from scheduler.scheduler_runs where status = 'running')::int as n`;
    return row!.n === 0 ? true : null;
  }));
  return stack.read(closingReconcile);
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
