// A local OpenAI-compatible provider for the demo and tests: deterministic answers, configurable
// latency, and fault rules (429 with Retry-After, 500/503/400, hang) that can be limited to a
// model or a task and to a number of calls. It counts every call so tests can assert "each task
// called once". Used in-process (`startMockProvider`) or as a separate process:
//   npx tsx scripts/lib/mock-provider.ts --port 54330 --latency 50
// which prints `mock provider listening on http://127.0.0.1:54330/v1` and is driven through
// GET /__calls, POST /__rules {rules, latencyMs?} and POST /__reset.
import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { z } from "zod";

export interface FaultRule {
  model?: string;
  taskId?: string;
  status?: 429 | 500 | 503 | 400;
  retryAfterSeconds?: number;
  hang?: boolean;
  latencyMs?: number;
  /** How many matching calls get this fault before it stops applying; default unlimited. */
  times?: number;
}

export interface CallRecord {
  taskId: string | null;
  model: string;
  region: string | null;
  /** Date.now() when the request arrived. */
  at: number;
  status: number | "hang";
}

export interface MockProvider {
  /** Base URL ending in /v1, ready for ProviderConfig.baseUrl. */
  url: string;
  port: number;
  calls(): CallRecord[];
  callsByTask(): Record<string, number>;
  setLatency(ms: number): void;
  setRules(rules: FaultRule[]): void;
  /** Clears calls and rules (latency stays). */
  reset(): void;
  /** Stops listening and destroys open connections, hanging ones included. */
  close(): Promise<void>;
}

export interface MockProviderOptions {
  port?: number;
  host?: string;
  latencyMs?: number;
  rules?: FaultRule[];
}

const READY_PREFIX = "mock provider listening on";
const MAX_BODY_BYTES = 1024 * 1024;

const faultRuleSchema = z.strictObject({
  model: z.string().optional(),
  taskId: z.string().optional(),
  status: z.union([z.literal(429), z.literal(500), z.literal(503), z.literal(400)]).optional(),
  retryAfterSeconds: z.number().nonnegative().optional(),
  hang: z.boolean().optional(),
  latencyMs: z.number().int().nonnegative().optional(),
  times: z.number().int().positive().optional(),
});

const rulesBodySchema = z.strictObject({
  rules: z.array(faultRuleSchema),
  latencyMs: z.number().int().nonnegative().optional(),
});

const chatBodySchema = z.object({
  model: z.string().min(1),
  messages: z.array(z.object({ role: z.string(), content: z.string() })).min(1),
});

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
}

/** The deterministic answer the mock gives; exported so tests can compute expectations. */
export function mockAnswer(taskId: string | null, model: string, region: string | null, prompt: string): string {
  const digest = createHash("sha256").update(prompt).digest("hex").slice(0, 12);
  return `mock answer for task ${taskId ?? "-"} (${model}, ${region ?? "-"}): ${digest}`;
}

export async function startMockProvider(options: MockProviderOptions = {}): Promise<MockProvider> {
  const host = options.host ?? "127.0.0.1";
  let latencyMs = checkLatency(options.latencyMs ?? 0);
  let rules: ActiveRule[] = [];
  let calls: CallRecord[] = [];
  let completionSeq = 0;
  const timers = new Set<NodeJS.Timeout>();

  function setRules(next: FaultRule[]): void {
    rules = next.map((rule) => ({ rule: { ...rule }, remaining: rule.times ?? Infinity }));
  }
  setRules(options.rules ?? []);

  /** First matching rule with calls left; consumes one of its calls. */
  function takeRule(model: string, taskId: string | null): FaultRule | null {
    for (const active of rules) {
      if (active.remaining <= 0) continue;
      if (active.rule.model !== undefined && active.rule.model !== model) continue;
      if (active.rule.taskId !== undefined && active.rule.taskId !== taskId) continue;
      active.remaining -= 1;
      return active.rule;
    }
    return null;
  }

  function later(ms: number, fn: () => void): void {
    if (ms <= 0) return fn();
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  }

  function callsByTask(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const c of calls) {
      const key = c.taskId ?? "-";
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }

  async function handleCompletion(req: http.IncomingMessage, res: http.ServerResponse, at: number): Promise<void> {
    const taskId = header(req, "x-daybreak-task-id");
    const region = header(req, "x-daybreak-region");
    const raw = await readBody(req);
    let parsedJson: unknown = undefined;
    try {
      parsedJson = JSON.parse(raw);
    } catch {
      // fall through to the schema check, which reports it as a 400
    }
    const body = chatBodySchema.safeParse(parsedJson);
    if (!body.success) {
      const model = typeof (parsedJson as { model?: unknown } | null)?.model === "string"
        ? (parsedJson as { model: string }).model
        : "";
      calls.push({ taskId, model, region, at, status: 400 });
      const message = parsedJson === undefined
        ? "body is not JSON"
        : body.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
      return sendJson(res, 400, { error: { message, type: "invalid_request_error" } });
    }

    const { model, messages } = body.data;
    const rule = takeRule(model, taskId);
    const status = rule?.hang ? "hang" : rule?.status ?? 200;
    calls.push({ taskId, model, region, at, status });
    if (status === "hang") return; // never answered; close() destroys the socket

    later(rule?.latencyMs ?? latencyMs, () => {
      if (res.destroyed) return;
      if (status !== 200) {
        const headers: Record<string, string> = {};
        if (status === 429 && rule?.retryAfterSeconds !== undefined) {
          headers["retry-after"] = String(rule.retryAfterSeconds);
        }
        return sendJson(res, status, { error: { message: `mock fault ${status}`, type: "mock_fault" } }, headers);
      }
      const prompt = messages.map((m) => m.content).join("\n");
      const content = mockAnswer(taskId, model, region, prompt);
      const promptTokens = countWords(prompt);
      const completionTokens = countWords(content);
      completionSeq += 1;
      sendJson(res, 200, {
        id: `chatcmpl-mock-${completionSeq}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      });
    });
  }

  async function handleControl(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    if (path === "/__calls" && req.method === "GET") {
      return sendJson(res, 200, { calls, byTask: callsByTask() });
    }
    if (path === "/__reset" && req.method === "POST") {
      await readBody(req);
      provider.reset();
      return sendJson(res, 200, { ok: true });
    }
    if (path === "/__rules" && req.method === "POST") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(await readBody(req));
      } catch {
        return sendJson(res, 400, { error: "body is not JSON" });
      }
      const body = rulesBodySchema.safeParse(parsed);
      if (!body.success) return sendJson(res, 400, { error: z.prettifyError(body.error) });
      setRules(body.data.rules);
      if (body.data.latencyMs !== undefined) latencyMs = body.data.latencyMs;
      return sendJson(res, 200, { ok: true, rules: body.data.rules.length, latencyMs });
    }
    return sendJson(res, 404, { error: `no route ${req.method} ${path}` });
  }

  const server = http.createServer((req, res) => {
    const at = Date.now();
    const path = new URL(req.url ?? "/", "http://mock").pathname.replace(/\/+$/, "");
    const handled = path === "/v1/chat/completions" && req.method === "POST"
      ? handleCompletion(req, res, at)
      : handleControl(req, res, path);
    handled.catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) sendJson(res, 500, { error: String(error) });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  const provider: MockProvider = {
    url: `http://${urlHost}:${port}/v1`,
    port,
    calls: () => calls.map((c) => ({ ...c })),
    callsByTask,
    setLatency(ms) {
      latencyMs = checkLatency(ms);
    },
    setRules,
    reset() {
      calls = [];
      rules = [];
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Hanging requests and idle keep-alive sockets would otherwise keep close() waiting.
        server.closeAllConnections();
      });
    },
  };
  return provider;
}

function checkLatency(ms: number): number {
  if (!Number.isInteger(ms) || ms < 0) throw new Error(`mock provider latency must be an integer >= 0 ms, got ${ms}`);
  return ms;
}

function header(req: http.IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  if (Array.isArray(value)) return value[0] ?? null;
  return value ?? null;
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).byteLength;
    if (total > MAX_BODY_BYTES) throw new Error(`request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
  res.end(JSON.stringify(body));
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: "0" },
      host: { type: "string", default: "127.0.0.1" },
      latency: { type: "string", default: "0" },
    },
  });
  const port = Number(values.port);
  const latencyMs = Number(values.latency);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0..65535, got ${values.port}`);
  if (!Number.isInteger(latencyMs) || latencyMs < 0) throw new Error(`--latency must be an integer >= 0, got ${values.latency}`);
  const mock = await startMockProvider({ port, host: values.host, latencyMs });
  console.log(`${READY_PREFIX} ${mock.url}`);
  const stop = () => {
    mock.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    // realpath: the script may be started through a symlink or a relative path.
    return realpathSync(new URL(import.meta.url)) === realpathSync(entry);
  } catch {
    return import.meta.url === pathToFileURL(entry).href;
  }
}

if (isEntryPoint()) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
