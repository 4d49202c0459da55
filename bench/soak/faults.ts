// The faults the soak injects, and a run's random schedule of them. Each injector does the real
// thing to the real part: kill -9 of the Deno server, pg_ctl restart, pg_net's worker terminated,
// queued kicks deleted, a processor's edge worker driven into its wall-clock, CPU or memory limit,
// the mock provider told to misbehave, the operator's own SQL calls.
import type { FaultRule } from "../../harness/mock-provider/index.ts";
import type { SoakStack } from "./stack.ts";

export const FAULT_KINDS = [
  "functions_kill",
  "invocation_kill",
  "worker_cpu_kill",
  "worker_memory_kill",
  "worker_wall_clock_kill",
  "pg_restart_fast",
  "pg_restart_immediate",
  "pg_net_stopped",
  "kicks_lost",
  "provider_429_storm",
  "provider_500s",
  "provider_hang",
  "provider_slow_body",
  "trigger_race",
  "run_cancelled",
  "schedule_paused",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The edge worker's limits each worker_*_kill drives a processor's worker into (gateway.ts, POST
 * /_edge/limit): the runtime's supervisor warns it (beforeunload) and kills it as at that limit. */
const LIMIT_OF = { worker_cpu_kill: "cpu", worker_memory_kill: "memory", worker_wall_clock_kill: "wall_clock" } as const;

/** Kills of the edge runtime (all of it, or one of two) or of one worker for a limit: the
 * processors they hold die with their claims. */
export const WORKER_KILLS: ReadonlySet<FaultKind> = new Set(["functions_kill", "invocation_kill", ...(Object.keys(LIMIT_OF) as FaultKind[])]);

/** Faults after which an answered provider call may never reach the database (the processor died,
 * the run was cancelled under it): a task then answered twice is excused only if it was claimed
 * (in flight) when one of them struck. A database restart is on the list because an invocation
 * may exhaust its retries while the database is down. */
export const ANSWER_LOSING: ReadonlySet<FaultKind> = new Set([
  ...WORKER_KILLS, "pg_restart_fast", "pg_restart_immediate", "run_cancelled",
]);

/** Faults that may lose a kick (pg_net's queue is unlogged, its worker can be stopped): a
 * processor that never starts is then rescued by the reconciler as never_started. */
export const KICK_LOSING: ReadonlySet<FaultKind> = new Set([
  ...WORKER_KILLS, "kicks_lost", "pg_net_stopped", "pg_restart_fast", "pg_restart_immediate",
]);

/** Operator actions that cannot touch a live run (pausing stops future periods only): injected to
 * show that, not counted as faults. */
export const NO_EFFECT_ON_LIVE_RUN: ReadonlySet<FaultKind> = new Set(["schedule_paused"]);

/** Faults whose effect on a run's pace is measured (recovery.ts): not the start race, the cancel
 * (it ends the run) nor the operator actions that cannot touch a live run. */
export const PACE_MEASURED: readonly FaultKind[] = FAULT_KINDS.filter(
  (k) => k !== "trigger_race" && k !== "run_cancelled" && !NO_EFFECT_ON_LIVE_RUN.has(k),
);

/** A fault that found nothing to strike (no worker of the processor holding work): recorded as
 * skipped, like one whose run ended before its moment. */
export class FaultSkipped extends Error {}

/** Injected while the run is live; trigger_race is how a run starts instead. */
const MID_RUN: readonly FaultKind[] = FAULT_KINDS.filter((k) => k !== "trigger_race");
/** A cancelled run ends at once, so it is drawn less often than the faults a run must outlive. */
const WEIGHT: Partial<Record<FaultKind, number>> = { run_cancelled: 0.4, schedule_paused: 0.6 };

export interface PlannedFault {
  kind: FaultKind;
  /** When, as a fraction of the run's expected duration. */
  at: number;
  /** How long the fault lasts where it has a duration (a restart delay, an outage), in ms. */
  forMs: number;
  /** How many provider calls a provider fault affects. */
  calls: number;
}

export interface InjectedFault {
  kind: FaultKind;
  /** Date.now() when it began and when it was over (the server back, the outage ended). */
  at: number;
  endAt: number;
  detail: string;
  /** The run's tasks held by a claim when an answer-losing fault struck (read just before and just
   * after it): the only tasks whose answers it may have lost. Empty for the other kinds. */
  inFlight: string[];
  /** The worker a limit kill drove into its limit, in which of the soak's runtimes. */
  victim?: { runtime: number; worker: string };
}

export interface RunPlan {
  raceStart: boolean;
  faults: PlannedFault[];
}

export function planRun(random: () => number, faultsPerRun: [number, number]): RunPlan {
  const [lo, hi] = faultsPerRun;
  const count = lo + Math.floor(random() * (hi - lo + 1));
  const faults: PlannedFault[] = [];
  for (let i = 0; i < count; i++) {
    faults.push({
      kind: pickWeighted(random),
      at: 0.15 + random() * 0.6,
      forMs: Math.round(1000 + random() * 9000),
      calls: 5 + Math.floor(random() * 40),
    });
  }
  faults.sort((a, b) => a.at - b.at);
  return { raceStart: random() < 0.35, faults };
}

function pickWeighted(random: () => number): FaultKind {
  const total = MID_RUN.reduce((n, k) => n + (WEIGHT[k] ?? 1), 0);
  let r = random() * total;
  for (const kind of MID_RUN) {
    r -= WEIGHT[kind] ?? 1;
    if (r <= 0) return kind;
  }
  return MID_RUN[MID_RUN.length - 1]!;
}

/** Does the fault; resolves once it is over (a server back up, an outage ended). struck is called
 * as soon as a kill has killed, before the runtime is started again. */
export async function inject(
  stack: SoakStack, fault: PlannedFault, run: { id: string; schedule: string }, struck: () => Promise<void> = async () => {},
): Promise<InjectedFault> {
  const at = Date.now();
  const done = (detail: string): InjectedFault => ({ kind: fault.kind, at, endAt: Date.now(), detail, inFlight: [] });
  const providerRule = (rule: FaultRule) => stack.mock.setRules([{ times: fault.calls, ...rule }]);
  switch (fault.kind) {
    case "functions_kill": {
      const downMs = Math.min(fault.forMs, 5000);
      await stack.killFunctions();
      await struck();
      await sleep(downMs);
      await stack.startFunctions();
      return done(`kill -9, back after ${downMs} ms`);
    }
    case "invocation_kill": {
      const victim = Math.floor(fault.forMs) % 2;
      await stack.killRuntime(victim);
      await struck();
      await sleep(Math.min(fault.forMs, 5000));
      await stack.startFunctions();
      return done(`kill -9 of runtime ${victim + 1} of 2 (its invocations only)`);
    }
    case "worker_cpu_kill":
    case "worker_memory_kill":
    case "worker_wall_clock_kill": {
      const reason = LIMIT_OF[fault.kind];
      const hit = await stack.reachWorkerLimit(reason, Math.floor(fault.forMs) % 2);
      if (hit === null) throw new FaultSkipped(`no runtime has a processor worker holding work to drive into its ${reason} limit`);
      const end = await stack.workerEnd(hit, hit.killInMs + 10_000);
      await struck();
      const how = end.killed === null ? "it was dropped early (its work handed over) before the kill" : `killed for ${end.killed}`;
      return {
        ...done(`${reason} limit reached by worker ${hit.worker} of runtime ${hit.runtime + 1} of 2 (kill due in ${hit.killInMs} ms); ${how}`),
        victim: { runtime: hit.runtime, worker: hit.worker },
      };
    }
    case "pg_restart_fast":
    case "pg_restart_immediate": {
      const mode = fault.kind === "pg_restart_fast" ? "fast" : "immediate";
      await stack.restartPostgres(mode);
      return done(`pg_ctl restart -m ${mode}`);
    }
    case "pg_net_stopped": {
      const stopped = await stack.whileRepeating(fault.forMs, 200, () => stack.terminatePgNetWorker());
      return done(`pg_net worker terminated ${stopped} time(s) over ${fault.forMs} ms`);
    }
    case "kicks_lost": {
      const lost = await stack.whileRepeating(fault.forMs, 100, () => stack.dropQueuedKicks());
      return done(`${lost} queued kick(s) deleted over ${fault.forMs} ms`);
    }
    case "provider_429_storm":
      providerRule({ status: 429, retryAfterSeconds: 1 });
      return done(`${fault.calls} calls answered 429`);
    case "provider_500s":
      providerRule({ status: 500 });
      return done(`${fault.calls} calls answered 500`);
    case "provider_hang":
      providerRule({ hang: true, times: Math.min(fault.calls, 4) });
      return done(`${Math.min(fault.calls, 4)} calls hang (cut off at their deadline; past the lease with a short one)`);
    case "provider_slow_body":
      providerRule({ slowBodyMs: 3000 });
      return done(`${fault.calls} bodies trickle over 3 s`);
    case "run_cancelled":
      await stack.sql`select scheduler.cancel_run(${run.id}::uuid, 'soak: cancelled mid-run')`;
      return done("scheduler.cancel_run");
    case "schedule_paused":
      await stack.sql`select scheduler.pause_schedule(${run.schedule})`;
      return done("scheduler.pause_schedule");
    case "trigger_race":
      throw new Error("trigger_race starts a run; it is not injected mid-run");
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
