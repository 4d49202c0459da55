// daybreak-dashboard's routes: GET the page (no data in it), GET /data (JSON for the page) and
// GET /metrics (Prometheus text). Data and metrics take a bearer token: the read-only token
// (DAYBREAK_METRICS_TOKEN, which nothing else accepts), or the service-role key or the cron secret.
// Anything else is 401.
import { authenticate, authenticateReader, type EnvReader } from "../auth.ts";
import type { Sql } from "../db.ts";
import { json } from "../http.ts";
import { readDashboardData } from "./data.ts";
import { collectMetrics, renderMetrics } from "./metrics.ts";
import { dashboardPage, pageScriptSource } from "./page.ts";

/**
 * The reads run in one read-only transaction with JIT off: the views' cost estimates over a month
 * of tasks cross jit_above_cost, and compiling took ~1 s of a 30 ms query (measured in the bench).
 * A larger work_mem keeps the duplicate check's hash aggregate in memory.
 */
function readOnly<T>(sql: Sql, read: (tx: Sql) => Promise<T>): Promise<T> {
  return sql.begin("read only", async (tx) => {
    await tx`set local jit = off`;
    await tx`set local work_mem = '32MB'`;
    return await read(tx as unknown as Sql);
  }) as Promise<T>;
}

/** The bearer token: the read-only token, the service-role key, or the cron secret (Prometheus
 * sends only a bearer). */
function authorized(headers: Headers, env: EnvReader) {
  const reader = authenticateReader(headers, env);
  if (reader.ok) return reader;
  const direct = authenticate(headers, env);
  if (direct.ok || direct.status === 500) return direct;
  const bearer = /^bearer\s+(.+)$/i.exec(headers.get("authorization") ?? "")?.[1]?.trim();
  return bearer ? authenticate(new Headers({ "x-cron-secret": bearer }), env) : direct;
}

const NOSNIFF = { "x-content-type-options": "nosniff" };

export async function handleDashboardRequest(req: Request, deps: { sql: Sql; env: EnvReader }): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") return json(405, { error: "method_not_allowed", allow: "GET" }, { allow: "GET, HEAD" });
  const route = new URL(req.url).pathname.replace(/\/+$/, "").split("/").pop();
  if (route === "daybreak-dashboard") {
    return new Response(dashboardPage(), {
      headers: {
        "content-type": "text/html; charset=utf-8",
        // Nothing but this page's own script (by its hash), its styles and its own origin; never framed.
        "content-security-policy": `default-src 'none'; script-src ${await pageScriptSource()}; style-src 'unsafe-inline'; ` +
          "connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
        "cache-control": "no-store",
        ...NOSNIFF,
      },
    });
  }
  if (route !== "data" && route !== "metrics") return json(404, { error: "not_found" });
  const auth = authorized(req.headers, deps.env);
  if (!auth.ok) return json(auth.status, { error: auth.error });
  if (route === "data") return json(200, await readOnly(deps.sql, readDashboardData), { "cache-control": "no-store" });
  // Each metric's read in its own transaction, side by side on the pool.
  const metrics = await collectMetrics((read) => readOnly(deps.sql, read));
  return new Response(renderMetrics(metrics), {
    headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store", ...NOSNIFF },
  });
}
