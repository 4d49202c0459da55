// A worker's CPU and memory, read from outside it (/proc), as the runtime's supervisor reads them
// from outside the isolate. CPU is what Supabase's edge runtime charges a worker (crates/cpu_timer
// and crates/base/src/runtime/mod.rs in supabase/edge-runtime): the CPU time of the thread its
// isolate runs on (CLOCK_THREAD_CPUTIME_ID, taken around every turn of its event loop) plus its
// blocking ops'. V8's platform threads (background compilation, concurrent GC) serve every isolate
// of the hosted runtime and are charged to none; here each worker is a process of its own, so they
// are taken off its total. Every other thread counts (the runtime's I/O and blocking pools, threads
// already gone), so this stays stricter than hosted, never looser. Memory is the resident set's
// growth since the worker became ready, plus the heap it had then: the runtime counts heap +
// external memory, which the resident set's growth follows.
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** The name (comm, cut to 15 characters) V8 gives its platform worker threads. */
export const V8_PLATFORM_THREAD = "V8 DefaultWorke";

/** One worker process's charged CPU, read as often as the supervisor polls. A platform thread's
 * time stays off the total once the thread has ended (the process's total keeps it): as the
 * process exits, its threads go one by one, and the charge must not jump by what they had spent. */
export class WorkerCpu {
  private readonly platformTicks = new Map<number, number>();

  constructor(private readonly pid: number) {}

  /** ms of CPU charged so far, or null once the process is gone. */
  ms(): number | null {
    try {
      const process = readFileSync(`/proc/${this.pid}/stat`, "utf8");
      const threads: string[] = [];
      for (const tid of readdirSync(`/proc/${this.pid}/task`)) {
        try {
          threads.push(readFileSync(`/proc/${this.pid}/task/${tid}/stat`, "utf8"));
        } catch {
          // the thread ended between the listing and the read: its time is in the process's total
        }
      }
      return this.charge(process, threads);
    } catch {
      return null;
    }
  }

  /** From the process's stat line and its live threads': user + system of all, less V8's platform
   * threads (each at the most it was seen to have spent). */
  charge(processStat: string, threadStats: readonly string[]): number {
    for (const line of threadStats) {
      const thread = statTicks(line);
      if (thread.name === V8_PLATFORM_THREAD) this.platformTicks.set(thread.id, Math.max(thread.ticks, this.platformTicks.get(thread.id) ?? 0));
    }
    let ticks = statTicks(processStat).ticks;
    for (const platform of this.platformTicks.values()) ticks -= platform;
    return (Math.max(0, ticks) * 1000) / TICKS_PER_SECOND;
  }
}

function statTicks(stat: string): { id: number; name: string; ticks: number } {
  // The name sits in parentheses and may hold spaces; utime is the 14th field of the line, stime
  // the 15th.
  const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { id: Number.parseInt(stat, 10), name, ticks: Number(fields[11]) + Number(fields[12]) };
}

export function residentBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? null : Number(kb) * 1024;
  } catch {
    return null;
  }
}
