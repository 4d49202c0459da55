// A worker's CPU and memory, read from outside it (/proc), as the runtime's supervisor reads them
// from outside the isolate. CPU is the whole process's user + system time: the runtime counts only
// the isolate's thread, so this is stricter (V8's helper threads count too), never looser. Memory is
// the resident set's growth since the worker became ready, plus the heap it had then: the runtime
// counts heap + external memory, which the resident set's growth follows.
import { readFileSync } from "node:fs";

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

export function cpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces, inside parentheses): utime is the 14th
    // field of the line, stime the 15th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return null; // the process is gone
  }
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
