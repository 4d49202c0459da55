// One edge worker and its supervisor, after the edge runtime's per_worker policy
// (crates/base/src/worker/supervisor/strategy_per_worker.rs in supabase/edge-runtime):
//   - wall clock: retired (no new request) at half of it, `beforeunload` wall_clock at 90%, killed at 100%;
//   - CPU: retired at the soft limit, `beforeunload` cpu at 90% of the hard limit, killed at the hard limit;
//   - memory: `beforeunload` memory at 90% of the limit, killed at the limit;
//   - a retired worker whose requests are all answered gets `drain`, and once every waitUntil
//     promise has settled it is dropped early (`beforeunload` early_drop, then it exits).
// CPU and memory are read from /proc every POLL_MS (proc-stats.ts). A kill is SIGKILL: nothing in
// the worker runs after it, as nothing in an isolate does after the runtime terminates it.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { EdgeLimits } from "./limits.ts";
import { residentBytes, WorkerCpu } from "./proc-stats.ts";
import { CONTROL_PREFIX, type SupervisorMessage, type UnloadReason, type WorkerMessage } from "./protocol.ts";

const POLL_MS = 50;
/** How long after its warning a worker driven to its CPU or memory limit on demand is killed: the
 * last 10% of the default 2 s CPU limit at full burn (200 ms), four polls. */
const BURST_TO_LIMIT_MS = 4 * POLL_MS;

export type KillReason = "wall_clock" | "cpu" | "memory";
/** Why a worker retired (WorkerRecord.retired). */
export const CPU_RETIREMENT = "CPU soft limit";
export const WALL_CLOCK_RETIREMENT = "wall clock half";

export interface WorkerEvents {
  log(line: string): void;
  /** The worker takes no more requests (retired, or dead). */
  retired(worker: EdgeWorker): void;
  /** The process is gone; requests still in flight are failed by the gateway. */
  exited(worker: EdgeWorker, killed: KillReason | null): void;
}

/** What one worker spent and how it ended, for the runtime's /_edge/workers report. */
export interface WorkerRecord {
  function: string;
  id: string;
  pid: number | null;
  startedAt: number;
  /** When it could take its first request (its boot: startedAt to readyAt) and when it retired. */
  readyAt: number | null;
  retiredAt: number | null;
  endedAt: number | null;
  /** CPU since it became ready (module loading excluded, as on hosted), and its highest memory. */
  cpuMs: number;
  peakMemoryBytes: number;
  requests: number;
  retired: string | null;
  /** CPU when it retired: what it spent after is what finishing its work cost (a hand-over's). */
  cpuAtRetireMs: number | null;
  killed: KillReason | null;
}

export class EdgeWorker {
  readonly startedAt = Date.now();
  endedAt: number | null = null;
  port: number | null = null;
  retiredBecause: string | null = null;
  killed: KillReason | null = null;
  /** A limit reached on demand (reachLimit): its kill is due, so the worker is not picked again. */
  private limitReached: KillReason | null = null;
  inFlight = 0;
  private pending = 0;
  private readonly child: ChildProcess;
  private readonly cpuMeter: WorkerCpu;
  private readonly ready: Promise<number>;
  private readonly timers: NodeJS.Timeout[] = [];
  private poll: NodeJS.Timeout | undefined;
  private readonly warned = new Set<UnloadReason>();
  private drained = false;
  private cpuAtReady = 0;
  private memoryAtReady = 0;
  private cpuSpent = 0;
  private cpuAtRetire: number | null = null;
  private readyAt: number | null = null;
  private retiredAt: number | null = null;
  private peakMemory = 0;
  private requests = 0;
  private exited = false;

  constructor(readonly name: string, readonly id: string, command: string[], env: NodeJS.ProcessEnv,
    private readonly limits: EdgeLimits, private readonly events: WorkerEvents) {
    this.child = spawn(command[0]!, command.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
    this.cpuMeter = new WorkerCpu(this.child.pid!);
    // A worker that is exiting (or closed its stdin) while it is told something: the write fails with
    // EPIPE, and its end is the exit handler's business, never the runtime's.
    this.child.stdin!.on("error", () => {});
    this.ready = new Promise<number>((resolve, reject) => {
      this.child.once("exit", (code, signal) => reject(new Error(`worker ${this.id} of ${name} exited (${signal ?? code}) before it was ready`)));
      createInterface({ input: this.child.stdout! }).on("line", (line) => {
        if (!line.startsWith(CONTROL_PREFIX)) return this.events.log(`[${name} ${id}] ${line}`);
        const message = JSON.parse(line.slice(CONTROL_PREFIX.length)) as WorkerMessage;
        if (message.event === "ready") {
          this.port = message.port;
          this.readyAt = Date.now();
          this.cpuAtReady = this.cpuMeter.ms() ?? 0;
          this.memoryAtReady = (residentBytes(this.child.pid!) ?? 0) - message.heapBytes;
          this.poll = setInterval(() => this.measure(), POLL_MS);
          resolve(message.port);
        } else if (message.event === "pending") {
          this.pending = message.count;
          this.settle();
        }
      });
    });
    this.ready.catch(() => {});
    createInterface({ input: this.child.stderr! }).on("line", (line) => this.events.log(`[${name} ${id}] ${line}`));
    this.child.once("exit", () => this.gone());
    const wall = limits.wallClockMs;
    this.at(wall / 2, () => this.retire(WALL_CLOCK_RETIREMENT));
    this.at((wall * limits.beforeunloadPercent) / 100, () => this.warn("wall_clock"));
    this.at(wall, () => this.kill("wall_clock"));
  }

  /** The worker's port once it is ready to take requests. */
  whenReady(): Promise<number> {
    return this.ready;
  }

  get acceptsRequests(): boolean {
    return this.retiredBecause === null && !this.exited;
  }

  requestStarted(): void {
    this.inFlight += 1;
    this.requests += 1;
  }

  record(): WorkerRecord {
    return {
      function: this.name, id: this.id, pid: this.child.pid ?? null, startedAt: this.startedAt, readyAt: this.readyAt, retiredAt: this.retiredAt, endedAt: this.endedAt,
      cpuMs: Math.round(this.cpuSpent), peakMemoryBytes: this.peakMemory, requests: this.requests,
      retired: this.retiredBecause, cpuAtRetireMs: this.cpuAtRetire === null ? null : Math.round(this.cpuAtRetire), killed: this.killed,
    };
  }

  requestAnswered(): void {
    this.inFlight -= 1;
    this.settle();
  }

  /** What the work this worker holds comes to: requests not answered plus waitUntil promises not
   * settled (a processor kicked with respond-async answers 202 and works in the background). */
  get workHeld(): number {
    return this.exited || this.killed !== null || this.limitReached !== null ? 0 : this.inFlight + this.pending;
  }

  /** The worker runs into a limit now, and the supervisor does what it does at that limit: for
   * CPU, retired and warned (the soft limit and 90% of the hard one passed in one burst), killed a
   * poll or two later; for memory, warned, then killed likewise; for the wall clock, at 90% of it:
   * retired, warned, killed at 100% (10% of the wall clock later). This is how the soak reaches a
   * limit on demand (gateway.ts, POST /_edge/limit); the limits themselves are enforced as always.
   * Returns when the kill is due, in ms from now. */
  reachLimit(reason: KillReason): number {
    this.limitReached = reason;
    const l = this.limits;
    const killInMs = reason === "wall_clock" ? (l.wallClockMs * (100 - l.beforeunloadPercent)) / 100 : BURST_TO_LIMIT_MS;
    if (reason === "cpu") this.retire(CPU_RETIREMENT);
    if (reason === "wall_clock") this.retire(WALL_CLOCK_RETIREMENT);
    this.warn(reason);
    this.at(killInMs, () => this.kill(reason));
    return killInMs;
  }

  /** The runtime shutting down: the worker goes at once. */
  stop(): void {
    this.clearTimers();
    this.child.kill("SIGKILL");
  }

  private at(ms: number, fn: () => void): void {
    this.timers.push(setTimeout(fn, ms));
  }

  private measure(): void {
    const pid = this.child.pid!;
    const cpu = (this.cpuMeter.ms() ?? this.cpuAtReady) - this.cpuAtReady;
    const memory = (residentBytes(pid) ?? 0) - this.memoryAtReady;
    this.cpuSpent = Math.max(this.cpuSpent, cpu);
    this.peakMemory = Math.max(this.peakMemory, memory);
    const l = this.limits;
    if (cpu >= l.cpuHardMs) return this.kill("cpu");
    if (memory >= l.memoryBytes) return this.kill("memory");
    if (cpu >= l.cpuSoftMs) this.retire(CPU_RETIREMENT);
    if (cpu >= (l.cpuHardMs * l.beforeunloadPercent) / 100) this.warn("cpu");
    if (memory >= (l.memoryBytes * l.beforeunloadPercent) / 100) this.warn("memory");
  }

  private retire(why: string): void {
    if (this.retiredBecause !== null || this.exited) return;
    this.retiredBecause = why;
    this.cpuAtRetire = this.cpuSpent;
    this.retiredAt = Date.now();
    this.events.log(`[${this.name} ${this.id}] retired: ${why}`);
    this.events.retired(this);
    this.settle();
  }

  /** A retired worker with every request answered drains; with every waitUntil settled too, it goes. */
  private settle(): void {
    if (this.retiredBecause === null || this.exited || this.inFlight > 0) return;
    if (!this.drained) {
      this.drained = true;
      this.send({ drain: true });
    }
    if (this.pending === 0) {
      this.warn("early_drop");
      this.send({ exit: true });
    }
  }

  private warn(reason: UnloadReason): void {
    if (this.warned.has(reason) || this.exited) return;
    this.warned.add(reason);
    this.send({ beforeunload: reason });
  }

  private kill(reason: KillReason): void {
    // Killed once: a second limit reached before the process is gone does not rename the first.
    if (this.exited || this.killed !== null) return;
    this.killed = reason;
    this.events.log(`[${this.name} ${this.id}] killed: ${reason} limit`);
    this.child.kill("SIGKILL");
  }

  private send(message: SupervisorMessage): void {
    if (!this.exited && this.child.stdin?.writable) this.child.stdin.write(`${JSON.stringify(message)}\n`);
  }

  private gone(): void {
    if (this.exited) return;
    this.exited = true;
    this.endedAt = Date.now();
    this.clearTimers();
    this.events.retired(this);
    this.events.exited(this, this.killed);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    clearInterval(this.poll);
  }
}
