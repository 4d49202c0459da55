// scripts/dashboard: the status page for a project whose functions cannot serve HTML (hosted
// Supabase rewrites a GET's text/html to text/plain without a custom domain). It serves the same
// page the function serves, from this machine, on 127.0.0.1 only, and forwards the page's reads
// (GET /data) to {SUPABASE_URL}/functions/v1/daybreak-dashboard/data with the read-only token as a
// bearer. The token never reaches the browser; nothing but /data is forwarded.
import http from "node:http";
import { dashboardPage, pageScriptSource } from "../../functions/_shared/dashboard/page.ts";
import { ConfigError, describeSource, devEnvFile, EXIT, isMain, parseFlags, readDevEnv, runCli, type Env } from "./cli-env.ts";

export const USAGE = `usage: scripts/dashboard [--port N]

Serves daybreak's status page on http://127.0.0.1:N (default 54340) and forwards its reads to the
project's daybreak-dashboard function with the read-only token, which stays on this machine.
  --port N   the local port (default 54340)
Config: SUPABASE_URL and DAYBREAK_METRICS_TOKEN from the environment; without SUPABASE_URL in the
environment, both from .local/dev.env (scripts/dev).
Exit: 0 stopped with Ctrl-C, 2 usage or configuration error.`;

export interface ViewerConfig {
  dataUrl: string;
  token: string;
  source: string;
}

/** SUPABASE_URL + DAYBREAK_METRICS_TOKEN, both from the environment or both from .local/dev.env. */
export function resolveViewerConfig(env: Env = process.env): ViewerConfig {
  const file = devEnvFile(env);
  const [vars, source] = env.SUPABASE_URL ? [env, "environment"] : [readDevEnv(file) ?? {}, file];
  const missing = ["SUPABASE_URL", "DAYBREAK_METRICS_TOKEN"].filter((n) => !vars[n]);
  if (missing.length > 0) {
    throw new ConfigError(`missing in the ${describeSource(source)}: ${missing.join(", ")} (the read-only token: RUNBOOK.md section 15)`);
  }
  const base = vars.SUPABASE_URL!.replace(/\/+$/, "");
  return { dataUrl: `${base}/functions/v1/daybreak-dashboard/data`, token: vars.DAYBREAK_METRICS_TOKEN!, source };
}

export async function startViewer(config: ViewerConfig, port: number): Promise<http.Server> {
  const page = dashboardPage({ viewer: true });
  const csp = `default-src 'none'; script-src ${await pageScriptSource()}; style-src 'unsafe-inline'; ` +
    "connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";
  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://viewer").pathname;
    if (req.method !== "GET") return void res.writeHead(405, { allow: "GET" }).end();
    if (path === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-security-policy": csp, "cache-control": "no-store" });
      return void res.end(page);
    }
    if (path !== "/data") return void res.writeHead(404).end();
    try {
      const upstream = await fetch(config.dataUrl, { headers: { authorization: `Bearer ${config.token}` }, signal: AbortSignal.timeout(30_000) });
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json", "cache-control": "no-store" });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    } catch (error) {
      res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ error: "upstream_unreachable", message: (error as Error).message }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return server;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, { port: { type: "string" }, help: { type: "boolean", short: "h" } });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  const port = Number(values.port ?? "54340");
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`--port must be a port number, got ${values.port}`);
  const config = resolveViewerConfig();
  const server = await startViewer(config, port);
  const { port: bound } = server.address() as { port: number };
  process.stdout.write(`status page: http://127.0.0.1:${bound}/ (reads ${new URL(config.dataUrl).origin} with the read-only token from the ${describeSource(config.source)}; Ctrl-C stops)\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  server.close();
  return EXIT.ok;
}

if (isMain(import.meta.url)) {
  await runCli("scripts/dashboard", USAGE, () => main(process.argv.slice(2)));
}
