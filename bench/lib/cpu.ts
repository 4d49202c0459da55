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

export interface MachineMark {
  busySeconds: number | null;
  at: number;
}

/** CPU seconds the whole machine has been busy (every core; /proc/stat, all but idle and iowait). */
export function machineMark(): MachineMark {
  let busySeconds: number | null = null;
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    busySeconds = (total - fields[3]! - fields[4]!) / TICKS_PER_SECOND;
  } catch {
    // not Linux
  }
  return { busySeconds, at: performance.now() };
}

/** Cores the whole machine kept busy since the mark (every process, ours and others'). */
export function machineBusySince(start: MachineMark): number | null {
  const end = machineMark();
  if (start.busySeconds === null || end.busySeconds === null) return null;
  return Math.round(((end.busySeconds - start.busySeconds) / ((end.at - start.at) / 1000)) * 100) / 100;
}
