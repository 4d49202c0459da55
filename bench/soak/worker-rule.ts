// No invocation outlives its worker: on hosted Supabase a worker that reaches its wall clock, CPU or
// memory limit is killed with whatever it still holds, so a processor hands over before that (on
// the runtime's beforeunload, at half the wall clock). The local runtime reports every worker it
// killed for a limit (/_edge/workers); each such kill during a run must be one the soak drove on
// purpose (a worker_*_kill fault, which names its victim). A runtime killed whole (kill -9) takes
// its report with it: the workers it ran are not seen here.
import type { InjectedFault } from "./faults.ts";

export interface LimitKill {
  /** Which of the soak's runtimes (0-based) reported it, and the worker's id there. */
  runtime: number;
  worker: string;
  function: string;
  killed: string;
  /** What the runtime saw of the worker: its CPU, life, requests taken, why it retired and its CPU then. */
  cpuMs: number;
  lifeMs: number;
  requests: number;
  retired: string | null;
  cpuAtRetireMs: number | null;
}

export function checkLimitKills(kills: LimitKill[], faults: InjectedFault[], violations: string[]): void {
  const driven = new Set(faults.flatMap((f) => (f.victim ? [`${f.victim.runtime}:${f.victim.worker}`] : [])));
  for (const k of kills) {
    if (driven.has(`${k.runtime}:${k.worker}`)) continue;
    violations.push(`worker ${k.worker} (${k.function}) of runtime ${k.runtime + 1} was killed at its ${k.killed} limit: an invocation outlived its worker ` +
      `(${k.cpuMs} ms of CPU over ${(k.lifeMs / 1000).toFixed(1)} s, ${k.requests} request(s), retired: ${k.retired === null ? "no" : `${k.retired} at ${k.cpuAtRetireMs} ms of CPU`})`);
  }
}
