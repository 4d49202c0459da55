// When a processor invocation must stop claiming and hand over, and when it must cut its calls off.
// On the edge runtime the worker decides: its wall clock runs from the worker's start, not the
// invocation's (a kick may land in a worker that is already old), it retires at half of it, and its
// CPU is shared by every invocation in it. So an invocation hands over when the runtime says the
// worker is ending (drain, beforeunload), or when its own budget or the worker's half-life is
// reached, whichever comes first; it cuts in-flight calls off a few seconds before the worker's
// wall clock kills it. Where there is no edge runtime (the bench's in-process workers), the CPU is
// counted instead: the tasks started against a CPU budget, and the process's measured CPU.
import type { ProcessorSettings } from "./processor-settings.ts";
import { processorCpuMs } from "./processor-settings.ts";
import { inEdgeRuntime, onWorkerEnding, type WorkerEnding, workerLife } from "./worker-life.ts";

export type StopReason =
  | "no_work"
  | "wall_clock_budget"
  | "cpu_budget"
  | "hard_deadline"
  /** The runtime said the worker is ending: retired and drained, or a limit near. */
  | `worker_${WorkerEnding}`;

/** In-flight calls are cut off this long before the worker's wall clock, so their tasks are recorded. */
const CUT_OFF_BEFORE_KILL_MS = 5000;

export class InvocationBudget {
  readonly startedAt = Date.now();
  /** Aborts in-flight provider calls: the invocation's hard deadline or the worker's, the earlier. */
  readonly hardDeadline: AbortSignal;
  tasksStarted = 0;
  private readonly handOverAt: number;
  private readonly cutOffAt: number;
  private readonly cpuAtStart = processorCpuMs();
  private readonly edge = inEdgeRuntime();
  private readonly stopListening: () => void;
  private wake: (() => void) | null = null;

  constructor(private readonly settings: ProcessorSettings) {
    const workerEnd = settings.workerStartedAt + settings.workerWallClockMs;
    this.handOverAt = Math.min(this.startedAt + settings.budgetMs, settings.workerStartedAt + settings.workerWallClockMs / 2);
    this.cutOffAt = Math.min(this.startedAt + settings.hardDeadlineMs, workerEnd - CUT_OFF_BEFORE_KILL_MS);
    this.hardDeadline = AbortSignal.timeout(Math.max(0, this.cutOffAt - this.startedAt));
    this.stopListening = onWorkerEnding(() => this.wake?.());
  }

  /** Why to stop claiming now, or null to go on. */
  overBudget(): StopReason | null {
    if (workerLife.ending) return `worker_${workerLife.ending}`;
    if (Date.now() >= this.handOverAt) return "wall_clock_budget";
    if (this.edge) return null; // the runtime's drain and beforeunload speak for the worker's CPU
    if (this.tasksStarted >= this.settings.taskBudget) return "cpu_budget";
    const cpu = processorCpuMs();
    if (this.cpuAtStart !== null && cpu !== null && cpu - this.cpuAtStart >= this.settings.cpuHandoverMs) return "cpu_budget";
    return null;
  }

  /** Until when a hand-over may claim on: ms from now at most, and never so near the cut-off that
   * what it claims is cut off (the same margin the cut-off keeps before the kill). */
  overlapUntil(ms: number): number {
    return Math.min(Date.now() + ms, this.cutOffAt - CUT_OFF_BEFORE_KILL_MS);
  }

  /** Tasks this invocation may still start out of n, by its task budget (not counted on the edge). */
  tasksAllowed(n: number, inFlight: number): number {
    return this.edge ? n : Math.max(0, Math.min(n, this.settings.taskBudget - this.tasksStarted - inFlight));
  }

  /** Whether a hand-over's overlap may go on: not once the runtime warns of a limit (beforeunload),
   * when what the worker has left is for finishing its calls. */
  mayOverlap(): boolean {
    return workerLife.ending === null || workerLife.ending === "drain";
  }

  /** Takes up to n of the tasks a hand-over may start: any number after a retirement at half the
   * wall clock (the CPU is not near its limit), OVERLAP_TASKS_AFTER_CPU_RETIREMENT for the whole
   * worker after a drain that came before it (the CPU soft limit retired the worker). `charged`:
   * how many of them count against that, to give back with returnOverlapTasks if not started. */
  takeOverlapTasks(n: number): { granted: number; charged: number } {
    if (!this.retiredForCpu()) return { granted: n, charged: 0 };
    const charged = Math.max(0, Math.min(n, workerLife.overlapTasksLeft));
    workerLife.overlapTasksLeft -= charged;
    return { granted: charged, charged };
  }

  /** Gives back charged overlap tasks a claim did not start. */
  returnOverlapTasks(charged: number): void {
    workerLife.overlapTasksLeft += charged;
  }

  /** The runtime drained the worker more than a few seconds (timers' slack) before half its wall
   * clock: only the CPU soft limit retires a worker that young. */
  private retiredForCpu(): boolean {
    const halfLife = this.settings.workerStartedAt + this.settings.workerWallClockMs / 2;
    return workerLife.drainedAt !== null && workerLife.drainedAt < halfLife - CUT_OFF_BEFORE_KILL_MS;
  }

  taskStarted(): void {
    this.tasksStarted += 1;
    workerLife.tasksStarted += 1;
  }

  /** Resolves after ms, or at once when the runtime says the worker is ending. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(ms, this.handOverAt - Date.now())));
      this.wake = done;
    });
  }

  /** CPU this invocation's process spent since it began, where it can be measured (not on the edge). */
  cpuMs(): number | null {
    const now = processorCpuMs();
    return this.cpuAtStart === null || now === null ? null : Math.round(now - this.cpuAtStart);
  }

  close(): void {
    this.stopListening();
  }
}
