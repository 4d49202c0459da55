// Local edge runtime: `deno serve --no-config --import-map functions/import_map.json --cached-only
// --host 127.0.0.1 --port 54321 scripts/serve-functions.ts` (scripts/lib/deno.cjs) serves every
// function under /functions/v1/<name>, as Supabase's gateway does. Each function module is the
// same file Supabase deploys (its `default { fetch }`), resolved through the same import map the
// Supabase CLI uploads with it. EdgeRuntime.waitUntil is emulated below.
import batchReconciler from "../functions/batch-reconciler/index.ts";
import dailyBatchTrigger from "../functions/daily-batch-trigger/index.ts";
import daybreakDashboard from "../functions/daybreak-dashboard/index.ts";
import health from "../functions/health/index.ts";
import robustBatchProcessor from "../functions/robust-batch-processor/index.ts";

type EdgeFunction = { fetch(req: Request): Response | Promise<Response> };

// Supabase's edge runtime offers EdgeRuntime.waitUntil(promise): the function answers, and the
// runtime keeps the promise running (up to the function's wall-clock limit). Functions use it to
// answer pg_net's kicks with 202 at once (functions/_shared/endpoint.ts, answerAsyncWhenAsked).
// This server emulates it: the promise is kept alive until it settles, and a failure is logged.
const background = new Set<Promise<unknown>>();
if (!("EdgeRuntime" in globalThis)) {
  Object.defineProperty(globalThis, "EdgeRuntime", {
    configurable: true,
    value: Object.freeze({
      waitUntil(promise: Promise<unknown>): void {
        const task: Promise<unknown> = Promise.resolve(promise)
          .catch((error) => console.error("background task failed:", (error as Error)?.message ?? error))
          .finally(() => background.delete(task));
        background.add(task);
      },
    }),
  });
}

const functions: Record<string, EdgeFunction> = {
  "health": health,
  "daily-batch-trigger": dailyBatchTrigger,
  "robust-batch-processor": robustBatchProcessor,
  "batch-reconciler": batchReconciler,
  "daybreak-dashboard": daybreakDashboard,
};

export default {
  async fetch(req: Request): Promise<Response> {
    // Sub-paths go to the function too (daybreak-dashboard/metrics), as on Supabase.
    const match = new URL(req.url).pathname.match(/^\/functions\/v1\/([a-z0-9-]+)(?:\/[a-z0-9-]*)*\/?$/);
    const fn = match ? functions[match[1]!] : undefined;
    if (!fn) {
      return new Response(JSON.stringify({ error: "not_found" }), {
        status: 404,
        headers: { "content-type": "application/json" },
      });
    }
    try {
      return await fn.fetch(req);
    } catch (error) {
      // A thrown error must still answer JSON, like Supabase's runtime answers 500.
      console.error(`function ${match![1]} threw:`, (error as Error).message);
      return new Response(JSON.stringify({ error: "internal" }), {
        status: 500,
        headers: { "content-type": "application/json" },
      });
    }
  },
};
