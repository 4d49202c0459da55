// The local edge runtime charges a worker what hosted does: its process's CPU (threads already gone
// included) less V8's platform threads, which hosted shares among all isolates and charges to none.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { V8_PLATFORM_THREAD, WorkerCpu } from "../../scripts/edge-runtime/proc-stats.ts";
import { DENO_BIN } from "../../scripts/lib/deno.ts";

/** A /proc stat line: pid (name) state, then fields up to utime (14th) and stime (15th). */
function stat(pid: number, name: string, utime: number, stime: number): string {
  return `${pid} (${name}) S 1 ${pid} ${pid} 0 -1 4194560 100 0 0 0 ${utime} ${stime} 0 0 20 0 8 0 100 0 0`;
}

describe("the CPU a worker is charged", () => {
  it("is the process's total less its V8 platform threads, in ms", () => {
    const process = stat(40, "deno", 150, 30); // 1,800 ms, a gone thread's time included
    const threads = [stat(40, "deno", 90, 20), stat(41, V8_PLATFORM_THREAD, 25, 5), stat(42, V8_PLATFORM_THREAD, 10, 0), stat(43, "tokio-runtime-w", 8, 2)];
    expect(new WorkerCpu(40).charge(process, threads)).toBe(1400);
  });

  it("keeps a platform thread's time off once the thread has ended: a process exiting does not jump", () => {
    const meter = new WorkerCpu(40);
    expect(meter.charge(stat(40, "deno", 100, 0), [stat(40, "deno", 70, 0), stat(41, V8_PLATFORM_THREAD, 30, 0)])).toBe(700);
    // The platform thread is gone, its 30 ticks (and 2 more since the last read) in the process's total.
    expect(meter.charge(stat(40, "deno", 104, 0), [stat(40, "deno", 72, 0)])).toBe(740);
  });

  it("reads names holding spaces and parentheses, and charges every thread V8 did not start", () => {
    const process = stat(7, "a (b) c", 100, 0);
    expect(new WorkerCpu(7).charge(process, [stat(7, "a (b) c", 60, 0), stat(8, "V8 DefaultWorker", 40, 0)])).toBe(1000);
    expect(new WorkerCpu(7).charge(process, [stat(8, `(${V8_PLATFORM_THREAD})`, 40, 0)])).toBe(1000);
  });

  it("charges a live deno worker its main thread's busy loop, and never more than the process spent", async () => {
    const child = spawn(DENO_BIN, ["eval", "const end = performance.now() + 400; while (performance.now() < end); console.log('done'); setTimeout(() => {}, 60_000)"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("done") && resolve());
        child.on("exit", (code) => reject(new Error(`deno exited (${code}) before its loop ended`)));
      });
      const charged = new WorkerCpu(child.pid!).ms()!;
      const fields = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      const whole = ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
      expect(charged).toBeGreaterThanOrEqual(350);
      expect(charged).toBeLessThanOrEqual(whole);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("is null once the process is gone", () => {
    expect(new WorkerCpu(2 ** 22 + 12345).ms()).toBeNull();
  });
});
