// One edge worker: the bootstrap a worker process runs (under Deno) before it imports a function,
// giving the function the world Supabase's edge runtime gives a user worker, and no more:
//   - EdgeRuntime is exactly { waitUntil }; the promises it keeps alive are counted and reported,
//     since a retired worker is dropped early only once they have all settled;
//   - no Web Workers (hosted offers none);
//   - process.cpuUsage() is a stub that warns and reads 0, and memoryUsage().rss reads 0, as in
//     the runtime's node polyfill: code that trusts them learns nothing, exactly as on hosted;
//   - `drain` (the worker retired and every request it took was answered) and `beforeunload`
//     (a CustomEvent whose detail.reason is wall_clock, cpu, memory or early_drop) are dispatched
//     when the supervisor (supervisor.ts) says so, over stdin.
// Messages to the supervisor go to stdout as lines starting with CONTROL_PREFIX. When stdin
// closes (the runtime died), the worker exits at once: a worker never outlives its runtime.
// Usage: deno run ... worker-main.ts <entrypoint path>
import { CONTROL_PREFIX, type SupervisorMessage, type WorkerMessage } from "./protocol.ts";

const entrypoint = Deno.args[0];
if (!entrypoint) throw new Error("usage: worker-main.ts <entrypoint path>");

function tell(message: WorkerMessage): void {
  console.log(`${CONTROL_PREFIX}${JSON.stringify(message)}`);
}

let pending = 0;
Object.defineProperty(globalThis, "EdgeRuntime", {
  configurable: false,
  value: Object.freeze({
    waitUntil<T>(promise: Promise<T>): Promise<T> {
      if (!(promise instanceof Promise)) return promise;
      pending += 1;
      tell({ event: "pending", count: pending });
      promise.catch(() => {}).finally(() => {
        pending -= 1;
        tell({ event: "pending", count: pending });
      });
      return promise;
    },
  }),
});
delete (globalThis as { Worker?: unknown }).Worker;

type ProcessLike = { cpuUsage?: unknown; memoryUsage?: (() => Record<string, number>) & { rss?: () => number } };
const nodeProcess = (globalThis as unknown as { process?: ProcessLike }).process;
if (nodeProcess) {
  nodeProcess.cpuUsage = () => {
    console.warn("Warning: Not implemented: process.cpuUsage()");
    return { user: 0, system: 0 };
  };
  const memoryUsage = () => {
    const m = Deno.memoryUsage();
    return { rss: 0, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: 0 };
  };
  nodeProcess.memoryUsage = Object.assign(memoryUsage, { rss: () => 0 });
}

const url = entrypoint.startsWith("file:") ? entrypoint : new URL(`file://${entrypoint}`).href;
const module = (await import(url)) as { default?: { fetch?: (req: Request) => Response | Promise<Response> } };
const handler = module.default?.fetch;
if (typeof handler !== "function") throw new Error(`${entrypoint} has no default export with a fetch(req) handler`);

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => tell({ event: "ready", port, heapBytes: Deno.memoryUsage().heapUsed }),
  onError: (error) => {
    console.error(`function threw: ${(error as Error)?.message ?? error}`);
    return new Response(JSON.stringify({ error: "internal" }), { status: 500, headers: { "content-type": "application/json" } });
  },
}, (req) => handler(req));

function obey(message: SupervisorMessage): void {
  if (message.drain) dispatchEvent(new Event("drain"));
  if (message.beforeunload) dispatchEvent(new CustomEvent("beforeunload", { detail: { reason: message.beforeunload } }));
  if (message.exit) Deno.exit(0);
}

let buffered = "";
const decoder = new TextDecoder();
for await (const chunk of Deno.stdin.readable) {
  buffered += decoder.decode(chunk, { stream: true });
  for (let end = buffered.indexOf("\n"); end !== -1; end = buffered.indexOf("\n")) {
    const line = buffered.slice(0, end).trim();
    buffered = buffered.slice(end + 1);
    if (line) obey(JSON.parse(line) as SupervisorMessage);
  }
}
Deno.exit(1); // stdin closed: the runtime is gone, and so is this worker
