// The local edge runtime's supervisor outlives its workers' ends: a worker that stops reading what it
// is told (its stdin closed, or the process on its way out) makes the next message fail with EPIPE,
// which must not take the runtime down; the limit is still enforced.
import { describe, expect, it } from "vitest";
import { limitsFromEnv } from "../../scripts/edge-runtime/limits.ts";
import { CONTROL_PREFIX } from "../../scripts/edge-runtime/protocol.ts";
import { EdgeWorker, type KillReason } from "../../scripts/edge-runtime/supervisor.ts";
import { DENO_BIN } from "../../scripts/lib/deno.ts";

/** A worker that says it is ready with its stdin already closed (by the shell, before deno starts). */
const STOPS_READING = [
  "sh", "-c", 'exec 0<&- "$0" eval "$1"', DENO_BIN,
  `console.log(${JSON.stringify(CONTROL_PREFIX)} + JSON.stringify({ event: "ready", port: 1, heapBytes: 0 })); setTimeout(() => {}, 60_000);`,
];

describe("the edge runtime's supervisor", () => {
  it("tells a worker that stopped reading of its limit without failing, and kills it at the limit", async () => {
    let ended!: (killed: KillReason | null) => void;
    const exited = new Promise<KillReason | null>((resolve) => (ended = resolve));
    const worker = new EdgeWorker("probe", "w1", STOPS_READING, process.env, limitsFromEnv({}), {
      log: () => {},
      retired: () => {},
      exited: (_worker, killed) => ended(killed),
    });
    try {
      await worker.whenReady();
      worker.reachLimit("memory"); // beforeunload now (a write into a closed pipe), the kill a burst later
      expect(await exited).toBe("memory");
      expect(worker.record().killed).toBe("memory");
    } finally {
      worker.stop();
    }
  });
});
