// Recovery as users feel it: how long after a fault takes effect the run completes tasks at 80% of
// the pace it kept before the fault again, judged over a 5 s window. The time to "the next task
// done" measured only the next call already in flight; this measures the run getting back to speed.

/** The window the pace is judged over, and the share of the pre-fault pace that counts as back. */
export const RECOVERY_WINDOW_MS = 5000;
export const RECOVERY_SHARE = 0.8;
/** The pre-fault pace needs this much of the run before the fault to mean anything. */
export const MIN_PRE_FAULT_MS = 5000;
const STEP_MS = 100;

export interface Recovery {
  /** Seconds from the fault to the start of the first window at 80% of the pre-fault pace; when
   * the run ran out of work before such a window, to its last task done. */
  seconds: number;
  /** Tasks done per second before the fault. */
  pre_rate: number;
  /** Whether the run ended before a full window at pace (seconds is then to its last task). */
  ended: boolean;
}

/** completions: when each of the run's tasks was done (ms). The pre-fault pace runs from the
 * run's first task done (its start-up, planning and the first kicks, is not pace) to the fault.
 * Null when there is no pre-fault pace to compare with, or nothing was done after the fault. */
export function recoveryAfter(completions: number[], faultAt: number): Recovery | null {
  const done = [...completions].sort((a, b) => a - b);
  const before = done.filter((t) => t < faultAt);
  const after = done.filter((t) => t >= faultAt);
  const span = before.length === 0 ? 0 : faultAt - before[0]!;
  if (span < MIN_PRE_FAULT_MS || after.length === 0) return null;
  const preRate = before.length / (span / 1000);
  const needed = RECOVERY_SHARE * preRate * (RECOVERY_WINDOW_MS / 1000);
  const last = after.at(-1)!;
  for (let start = faultAt; start + RECOVERY_WINDOW_MS <= last + STEP_MS; start += STEP_MS) {
    const inWindow = after.filter((t) => t >= start && t < start + RECOVERY_WINDOW_MS).length;
    if (inWindow >= needed) return { seconds: (start - faultAt) / 1000, pre_rate: preRate, ended: false };
  }
  return { seconds: (last - faultAt) / 1000, pre_rate: preRate, ended: true };
}
