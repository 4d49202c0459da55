// The provider simulator's HTTP face: POST /v1/chat/completions as an OpenAI-compatible provider
// answers it (choices[0].message.content, usage), 429s with OpenAI's error body, the kind's headers;
// control routes POST /__sim/config {seed, kinds}, POST /__sim/reset, GET /__sim/stats.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { retryAfterHeaders } from "./key-limits.ts";
import { checkKind, simConfigSchema } from "./kinds.ts";
import type { SimModelStats } from "./model-stats.ts";
import { SimModel } from "./sim-model.ts";

export const SIM_READY = "provider simulator listening on";
const MAX_BODY = 4 * 1024 * 1024;

const chatSchema = z.object({
  model: z.string().min(1),
  messages: z.array(z.object({ role: z.string(), content: z.string() })).min(1),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
});

export interface SimStats {
  at: number;
  models: Record<string, SimModelStats>;
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).byteLength;
    if (total > MAX_BODY) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

export async function startSimulator(port: number): Promise<{ url: string; close(): Promise<void> }> {
  let config = simConfigSchema.parse({ seed: 1, kinds: {} });
  let models = new Map<string, SimModel>();
  let sequence = 0;

  function reset(): void {
    for (const m of models.values()) m.stop();
    models = new Map(Object.entries(config.kinds).map(([name, kind]) => [name, new SimModel(name, kind, config.seed)]));
  }

  const sampler = setInterval(() => {
    const now = Date.now();
    for (const m of models.values()) m.stats.sample(now);
  }, 100);

  async function completion(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const parsed = chatSchema.safeParse(JSON.parse(await readBody(req)));
    if (!parsed.success) return send(res, 400, { error: { message: "invalid body", type: "invalid_request_error" } });
    const model = models.get(parsed.data.model);
    if (!model) return send(res, 404, { error: { message: `The model ${parsed.data.model} does not exist`, type: "invalid_request_error", code: "model_not_found" } });
    const task = String(req.headers["x-daybreak-task-id"] ?? "");
    const region = String(req.headers["x-daybreak-region"] ?? "global");
    const prompt = parsed.data.messages.map((m) => m.content).join("\n");
    const maxTokens = parsed.data.max_completion_tokens ?? parsed.data.max_tokens ?? null;
    const plan = model.plan(Date.now(), prompt, region, maxTokens);
    const style = model.kind.headers;
    if (!plan.verdict.ok) {
      const headers = style === "none" ? {} : { ...model.limits.headers(Date.now()), ...retryAfterHeaders(plan.verdict.retryAfterMs) };
      return send(res, 429, {
        error: {
          message: `Rate limit reached for ${parsed.data.model} on ${plan.verdict.by}. Please try again in ${plan.verdict.retryAfterMs}ms.`,
          type: plan.verdict.by, code: "rate_limit_exceeded",
        },
      }, headers);
    }
    const served = await model.serve(plan, () => res.destroyed);
    if (!served) return;
    const total = plan.promptTokens + plan.completionTokens;
    model.stats.answered(Date.now(), served.latencyMs, total, task || `${region}:${prompt}`, plan.draw.tail);
    sequence += 1;
    send(res, 200, {
      id: `chatcmpl-sim-${sequence}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: parsed.data.model,
      choices: [{ index: 0, message: { role: "assistant", content: `sim answer ${sequence}: ${plan.completionTokens} tokens` }, finish_reason: "stop" }],
      usage: { prompt_tokens: plan.promptTokens, completion_tokens: plan.completionTokens, total_tokens: total },
    }, style === "always" ? model.limits.headers(Date.now()) : {});
  }

  async function control(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    if (path === "/__sim/config" && req.method === "POST") {
      const next = simConfigSchema.parse(JSON.parse(await readBody(req)));
      for (const [name, kind] of Object.entries(next.kinds)) checkKind(name, kind);
      config = next;
      reset();
      return send(res, 200, { ok: true, models: [...models.keys()] });
    }
    if (path === "/__sim/reset" && req.method === "POST") {
      reset();
      return send(res, 200, { ok: true });
    }
    if (path === "/__sim/stats" && req.method === "GET") {
      const stats: SimStats = { at: Date.now(), models: {} };
      for (const [name, m] of models) stats.models[name] = m.stats.snapshot(m.limits.peaks());
      return send(res, 200, stats);
    }
    send(res, 404, { error: "not_found" });
  }

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://sim").pathname.replace(/\/+$/, "");
    const handled = path === "/v1/chat/completions" && req.method === "POST" ? completion(req, res) : control(req, res, path);
    handled.catch((error: unknown) => send(res, error instanceof SyntaxError || error instanceof z.ZodError ? 400 : 500, { error: String(error) }));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close() {
      clearInterval(sampler);
      for (const m of models.values()) m.stop();
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
