// The provider simulator (bench/sim/cli.ts) started as a child process and driven over HTTP.
import path from "node:path";
import { freePort, startService } from "../../harness/processes.ts";
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
  stop(): Promise<void>;
}

export async function startSimProcess(): Promise<SimProcess> {
  const port = await freePort();
  const service = await startService("provider-sim", path.join(ROOT, "node_modules/.bin/tsx"),
    ["bench/sim/cli.ts", "--port", String(port)], {}, /provider simulator listening on/);
  const base = `http://127.0.0.1:${port}`;
  const post = async (route: string, body: unknown) => {
    const res = await fetch(`${base}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`simulator ${route}: HTTP ${res.status} ${await res.text()}`);
  };
  return {
    url: `${base}/v1`,
    configure: (config) => post("/__sim/config", config),
    reset: () => post("/__sim/reset", {}),
    async stats() {
      const res = await fetch(`${base}/__sim/stats`);
      if (!res.ok) throw new Error(`simulator stats: HTTP ${res.status}`);
      return (await res.json()) as SimStats;
    },
    stop: () => service.stop(),
  };
}
