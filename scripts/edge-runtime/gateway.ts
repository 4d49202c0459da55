// The local stand-in for Supabase's functions gateway and edge runtime, with hosted limits:
// `/functions/v1/<name>[/...]` goes to that function's active worker (pool.ts), a process that
// lives and dies by the plan's limits (supervisor.ts, limits.ts). As on hosted: a request whose
// answer has not started within the idle timeout gets 504; a request cut off by a worker killed for
// a limit gets 546 WORKER_LIMIT; a GET answered with text/html is rewritten to text/plain unless a
// custom domain is configured. `GET /_edge/workers` reports every worker; `POST /_edge/limit`
// drives a function's busiest worker into a limit now (reachLimit below), for the fault soak.
// Usage: node --import tsx scripts/edge-runtime/gateway.ts --port N   (limits from the environment:
// limits.ts; DAYBREAK_EDGE_FUNCTIONS_DIR serves another folder of functions, as the runtime's own
// tests do)
import { readdirSync, existsSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../lib/root.ts";
import { DENO_DIR, workerCommand } from "./deno-command.ts";
import { limitsFromEnv } from "./limits.ts";
import { WorkerPool } from "./pool.ts";
import type { EdgeWorker, KillReason } from "./supervisor.ts";

const FUNCTIONS_DIR = path.resolve(ROOT, process.env.DAYBREAK_EDGE_FUNCTIONS_DIR ?? "functions");
const ROUTE = /^\/functions\/v1\/([a-z0-9][a-z0-9_-]*)(\/[^?]*)?(\?.*)?$/;

function json(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { "content-type": "application/json", "x-content-type-options": "nosniff" });
  res.end(JSON.stringify(body));
}

const functionNames = new Set(readdirSync(FUNCTIONS_DIR).filter((n) => !n.startsWith("_") && existsSync(path.join(FUNCTIONS_DIR, n, "index.ts"))));
const limits = limitsFromEnv();
const inFlight = new Map<EdgeWorker, Set<http.ServerResponse>>();

const pool = new WorkerPool({
  limits,
  denoCommand: workerCommand(),
  env: { ...process.env, DENO_DIR },
  log: (line) => process.stdout.write(`${line}\n`),
  onExit(worker, killed) {
    for (const res of inFlight.get(worker) ?? []) {
      if (killed) json(res, 546, { code: "WORKER_LIMIT", message: `Worker failed to respond due to a resource limit (${killed})` });
      else json(res, 502, { error: "worker_exited" });
    }
    inFlight.delete(worker);
  },
});

async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  // The runtime's own report (not a function): every worker's CPU, memory, requests and end.
  if (req.url === "/_edge/workers" && req.method === "GET") return json(res, 200, pool.report());
  if (req.url === "/_edge/limit" && req.method === "POST") return reachLimit(req, res);
  const match = ROUTE.exec(req.url ?? "");
  const name = match?.[1];
  if (!name || !functionNames.has(name)) return json(res, 404, { error: "not_found" });
  const worker = pool.workerFor(name, path.join(FUNCTIONS_DIR, name, "index.ts"));
  worker.requestStarted();
  const held = inFlight.get(worker) ?? new Set();
  inFlight.set(worker, held.add(res));
  let answered = false;
  const finish = () => {
    if (answered) return;
    answered = true;
    held.delete(res);
    worker.requestAnswered();
  };
  res.once("close", finish);
  const idle = setTimeout(() => json(res, 504, { error: "gateway_timeout", message: "the function did not start answering in time" }),
    limits.requestIdleTimeoutMs);
  res.once("close", () => clearTimeout(idle));
  let port: number;
  try {
    port = await worker.whenReady();
  } catch (error) {
    return json(res, 503, { error: "worker_boot_failed", message: (error as Error).message });
  }
  const upstream = http.request({ host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
    clearTimeout(idle);
    const headers = { ...answer.headers };
    const type = String(headers["content-type"] ?? "");
    if (req.method === "GET" && !limits.customDomain && /^text\/html\b/i.test(type)) {
      headers["content-type"] = type.replace(/^text\/html/i, "text/plain");
    }
    if (res.headersSent || res.destroyed) return void answer.destroy();
    res.writeHead(answer.statusCode ?? 502, headers);
    answer.pipe(res);
  });
  upstream.on("error", () => {
    // The worker went away mid-request: onExit answers 546 for a limit; otherwise say so here.
    if (!worker.killed) json(res, 502, { error: "worker_unreachable" });
  });
  req.pipe(upstream);
}

const KILL_REASONS: readonly KillReason[] = ["wall_clock", "cpu", "memory"];

/** Not a hosted route: how the fault soak makes a limit kill happen when it wants one, to the
 * worker of {"function"} holding the most work (the one running a processor invocation), with
 * {"reason"}: wall_clock, cpu or memory. The supervisor then does exactly what it does when that
 * limit is reached (supervisor.ts, reachLimit), and requests in flight at the kill answer 546 as
 * for any limit kill. 409 when no worker of the function holds work. */
async function reachLimit(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  let body = "";
  for await (const chunk of req) body += String(chunk);
  let asked: { function?: unknown; reason?: unknown };
  try {
    asked = JSON.parse(body) as typeof asked;
  } catch {
    return json(res, 400, { error: "invalid_json" });
  }
  const reason = KILL_REASONS.find((r) => r === asked.reason);
  if (typeof asked.function !== "string" || !functionNames.has(asked.function) || reason === undefined) {
    return json(res, 400, { error: "invalid_request", message: `want {"function": one of the served functions, "reason": ${KILL_REASONS.join(" | ")}}` });
  }
  const worker = pool.busiestWorker(asked.function);
  if (worker === null) return json(res, 409, { error: "no_live_worker", message: `no worker of ${asked.function} holds work` });
  const killInMs = worker.reachLimit(reason);
  return json(res, 200, { function: worker.name, worker: worker.id, reason, kill_in_ms: killInMs });
}

const { values } = parseArgs({ options: { port: { type: "string", default: "54321" }, host: { type: "string", default: "127.0.0.1" } } });
const server = http.createServer((req, res) => {
  route(req, res).catch((error: unknown) => json(res, 500, { error: "internal", message: (error as Error).message }));
});
server.listen(Number(values.port), values.host, () => {
  const { port } = server.address() as { port: number };
  const wall = `${limits.wallClockMs / 1000} s`;
  process.stdout.write(`edge runtime (${limits.plan} plan: ${wall} wall clock, ${limits.cpuHardMs} ms CPU, ` +
    `${limits.memoryBytes / 1024 / 1024} MB per worker)\nListening on http://${values.host}:${port}/\n`);
});

function shutdown(): void {
  pool.stopAll();
  server.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
