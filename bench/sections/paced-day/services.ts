// The processes a paced day stands on: the edge runtime serving the functions, and the simulator.
// On this shared 2-core machine another job may kill them mid-pass; a pass notices (ServiceLost),
// they are started again on the same ports (the URLs in Vault and public.providers stay right), and
// the pass is redone from scratch (each pass clears its run state), at most twice.
import { setVault } from "../../../harness/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET, type Service } from "../../../harness/processes.ts";
import type { Sql } from "../../lib/db.ts";
import { log } from "../../lib/report.ts";
import type { SimProcess } from "../../sim/process.ts";

export class ServiceLost extends Error {}

export interface DayServices {
  readonly functions: Service & { url: string; port: number };
  readonly sim: SimProcess;
  /** Throws ServiceLost when a process is gone. */
  check(): void;
  /** Runs a pass, redoing it after starting lost processes again. */
  withRevival<T>(what: string, pass: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

const alive = (s: Service) => s.proc.exitCode === null && s.proc.signalCode === null;
/** How a lost process ended, with the end of what it printed: the log says why, not just that. */
const exitOf = (s: Service) =>
  `${s.proc.signalCode ? `signal ${s.proc.signalCode}` : `code ${s.proc.exitCode}`}; its last output:\n${s.output().slice(-2000)}`;

export async function startDayServices(sql: Sql, sim: SimProcess): Promise<DayServices> {
  let functions = await startFunctions();
  await setVault(sql, functions.url, TEST_CRON_SECRET);
  const services: DayServices = {
    get functions() {
      return functions;
    },
    sim,
    check() {
      if (!alive(functions)) throw new ServiceLost(`the edge runtime (functions) exited (${exitOf(functions)})`);
      if (!sim.alive()) throw new ServiceLost("the simulator exited");
    },
    async withRevival(what, pass) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await pass();
        } catch (error) {
          if (!(error instanceof ServiceLost) || attempt > 2) throw error;
          log(`paced day: ${what}: ${error.message}; starting it again and redoing the pass`);
          // The runtime goes too, whichever was lost: stopping it ends the lost pass's processors,
          // which would otherwise go on claiming the redone pass's tasks.
          await functions.stop();
          functions = await startFunctions({ PORT: String(functions.port) });
          if (!sim.alive()) await sim.restart();
        }
      }
    },
    stop: () => functions.stop(),
  };
  return services;
}
