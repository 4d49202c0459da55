// The mock provider (harness/mock-provider/cli.ts) in a process of its own, as a real
// provider is remote: its HTTP serving does not share the event loop of the workers under test.
// Driven through its control routes (/__calls, /__stats, /__reset).
import path from "node:path";
import type { MockStats } from "./index.ts";
import { freePort, startService, type Service } from "../processes.ts";
import { ROOT } from "../../scripts/lib/root.ts";

export interface MockProcess {
  /** Base URL ending in /v1, for public.providers.base_url. */
  url: string;
  reset(): Promise<void>;
  /** Completion calls received per task id. */
  callsByTask(): Promise<Record<string, number>>;
  stats(): Promise<MockStats>;
  stop(): Promise<void>;
}

/** extraArgs: the CLI's limit and latency flags (--rpm model=N, --latency-median-ms, ...). */
export async function startMockProcess(latencyMs = 0, extraArgs: string[] = []): Promise<MockProcess> {
  const port = await freePort();
  const service: Service = await startService("mock-provider", path.join(ROOT, "node_modules/.bin/tsx"),
    ["harness/mock-provider/cli.ts", "--port", String(port), "--latency", String(latencyMs), ...extraArgs], {}, /mock provider listening on/);
  const base = `http://127.0.0.1:${port}`;
  return {
    url: `${base}/v1`,
    async reset() {
      const res = await fetch(`${base}/__reset`, { method: "POST" });
      if (!res.ok) throw new Error(`mock provider reset: HTTP ${res.status}`);
    },
    async callsByTask() {
      const res = await fetch(`${base}/__calls`);
      return ((await res.json()) as { byTask: Record<string, number> }).byTask;
    },
    async stats() {
      return (await (await fetch(`${base}/__stats`)).json()) as MockStats;
    },
    stop: () => service.stop(),
  };
}
