// The mock's control routes, for a test or bench driving it in another process:
// GET /__calls, GET /__stats, POST /__rules {rules, latencyMs?},
// POST /__config {limits?, latency?, latencyMs?, seed?} and POST /__reset.
import type http from "node:http";
import { z } from "zod";
import type { MockProvider } from "./types.ts";
import { readBody, sendJson } from "./http.ts";
import { configBodySchema, rulesBodySchema } from "./schemas.ts";

async function readJson(req: http.IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false }> {
  try {
    return { ok: true, value: JSON.parse(await readBody(req)) };
  } catch {
    return { ok: false };
  }
}

export async function handleControl(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  mock: MockProvider,
  callLog: () => unknown,
): Promise<void> {
  if (path === "/__calls" && req.method === "GET") return sendJson(res, 200, callLog());
  if (path === "/__stats" && req.method === "GET") return sendJson(res, 200, mock.stats());
  if (path === "/__reset" && req.method === "POST") {
    await readBody(req);
    mock.reset();
    return sendJson(res, 200, { ok: true });
  }
  if ((path === "/__config" || path === "/__rules") && req.method === "POST") {
    const json = await readJson(req);
    if (!json.ok) return sendJson(res, 400, { error: "body is not JSON" });
    if (path === "/__rules") {
      const body = rulesBodySchema.safeParse(json.value);
      if (!body.success) return sendJson(res, 400, { error: z.prettifyError(body.error) });
      mock.setRules(body.data.rules);
      if (body.data.latencyMs !== undefined) mock.setLatency(body.data.latencyMs);
      return sendJson(res, 200, { ok: true, rules: body.data.rules.length, latencyMs: body.data.latencyMs ?? null });
    }
    const body = configBodySchema.safeParse(json.value);
    if (!body.success) return sendJson(res, 400, { error: z.prettifyError(body.error) });
    if (body.data.limits !== undefined) mock.setLimits(body.data.limits);
    if (body.data.latency !== undefined) mock.setLatencyDistribution(body.data.latency, body.data.seed);
    if (body.data.latencyMs !== undefined) mock.setLatency(body.data.latencyMs);
    return sendJson(res, 200, { ok: true, ...body.data });
  }
  return sendJson(res, 404, { error: `no route ${req.method} ${path}` });
}
