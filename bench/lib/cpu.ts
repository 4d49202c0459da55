// CPU seconds spent by this Node process and by the benchmark's Postgres (postmaster and every
// backend/worker it forked), so each pass can say which side was the bottleneck on 2 cores.
// Linux /proc only; on other systems the Postgres side reads as null.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export interface CpuMark {
  node: number;
  postgres: number | null;
  at: number;
}

export interface CpuShare {
  /** CPU seconds per wall second: 1.0 = one core busy. */
  node: number;
  postgres: number | null;
}

function postmasterPid(): number | null {
  const datadir = process.env.BENCH_DATADIR;
  if (!datadir) return null;
  try {
    return Number(readFileSync(path.join(datadir, "postmaster.pid"), "utf8").split("\n")[0]);
  } catch {
    return null;
  }
}

function statOf(pid: string): { ppid: number; ticks: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name "(...)": state ppid ... utime(14) stime(15) cutime(16) cstime(17).
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) };
  } catch {
    return null;
  }
}

/** CPU seconds of the postmaster and its live children (backends that exited are in its cutime/cstime). */
function postgresCpuSeconds(): number | null {
  const root = postmasterPid();
  if (!root) return null;
  let ticks = 0;
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const s = statOf(entry);
      if (s && (Number(entry) === root || s.ppid === root)) ticks += s.ticks;
    }
  } catch {
    return null;
  }
  return ticks / TICKS_PER_SECOND;
}

export function cpuMark(): CpuMark {
  const u = process.cpuUsage();
  return { node: (u.user + u.system) / 1e6, postgres: postgresCpuSeconds(), at: performance.now() };
}

export function cpuShareSince(start: CpuMark): CpuShare {
  const end = cpuMark();
  const wall = (end.at - start.at) / 1000;
  const pg = end.postgres !== null && start.postgres !== null ? (end.postgres - start.postgres) / wall : null;
  return { node: Math.round(((end.node - start.node) / wall) * 100) / 100, postgres: pg === null ? null : Math.round(pg * 100) / 100 };
}

/** CPU seconds (user + system, all threads) a process has used so far; null when unreadable. */
export function processCpuSeconds(pid: number): number | null {
  const stat = statOf(String(pid));
  return stat === null ? null : stat.ticks / TICKS_PER_SECOND;
}
