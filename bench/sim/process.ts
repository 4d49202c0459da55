// The provider simulator (bench/sim/cli.ts) started as a child process and driven over HTTP. It
// can be started again on the same port with the same configuration (restart), so a pass can be
// redone if the process was lost (another job on a shared machine may kill it).
import path from "node:path";
import { freePort, startService, type Service } from "../../harness/processes.ts";
import { ROOT } from "../../scripts/lib/root.ts";
import type { SimConfig } from "./kinds.ts";
import type { SimStats } from "./server.ts";

export interface SimProcess {
  /** Base URL ending in /v1, for public.providers.base_url. */
  url: string;
  configure(config: SimConfig): Promise<void>;
  /** Forgets every window, count and log; restarts the background traffic. */
  reset(): Promise<void>;
  stats(): Promise<SimStats>;
  alive(): boolean;
  /** Starts the process again on its port with the last configuration. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSimProcess(): Promise<SimProcess> {
  const port = await freePort();
  const start = () => startService("provider-sim", path.join(ROOT, "node_modules/.bin/tsx"),
    ["bench/sim/cli.ts", "--port", String(port)], {}, /provider simulator listening on/);
  let service: Service = await start();
  let config: SimConfig | null = null;
  const base = `http://127.0.0.1:${port}`;
  const post = async (route: string, body: unknown) => {
    const res = await fetch(`${base}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`simulator ${route}: HTTP ${res.status} ${await res.text()}`);
  };
  return {
    url: `${base}/v1`,
    async configure(next) {
      await post("/__sim/config", next);
      config = next;
    },
    reset: () => post("/__sim/reset", {}),
    async stats() {
      const res = await fetch(`${base}/__sim/stats`);
      if (!res.ok) throw new Error(`simulator stats: HTTP ${res.status}`);
      return (await res.json()) as SimStats;
    },
    alive: () => service.proc.exitCode === null && service.proc.signalCode === null,
    async restart() {
      await service.stop();
      service = await start();
      if (config) await post("/__sim/config", config);
    },
    stop: () => service.stop(),
  };
}
