// A local OpenAI-compatible provider for the demo, tests and bench that behaves like a real one
// under load: per-model requests/min and tokens/min buckets answering 429 with retry-after and
// rate-limit headers (OpenAI or Anthropic style; refused calls count against the limit), a
// log-normal latency from a seeded generator, a quota-exhausted mode, deterministic answers, and
// fault rules (429 with Retry-After, 500/503/400, hang) limited to a model or a task and to a
// number of calls. It counts every call so tests can assert "each task called once", and the peak
// calls in flight. Used in-process (`startMockProvider`) or as a process (mock-provider/cli.ts),
// driven through GET /__calls, GET /__stats, POST /__rules, POST /__config and POST /__reset.
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { retryAfterHeaders, rateLimitHeaders } from "./headers.ts";
import { handleControl } from "./control.ts";
import { countWords, header, readBody, sendJson, sendJsonSlowly } from "./http.ts";
import { logNormalSampler, seededRandom, type LogNormalLatency } from "./latency.ts";
import { ModelRateLimiter, type ModelLimits } from "./rate-limits.ts";
import { chatBodySchema, QUOTA_BODY } from "./schemas.ts";
import { StatsRecorder, type MockStats } from "./stats.ts";

export type { HeaderStyle, ModelLimits } from "./rate-limits.ts";
export type { CallRecord, FaultRule, MockProvider } from "./types.ts";
import type { CallRecord, FaultRule, MockProvider } from "./types.ts";
export type { LogNormalLatency } from "./latency.ts";
export type { MockStats, ModelStats } from "./stats.ts";

export interface MockProviderOptions {
  port?: number;
  host?: string;
  latencyMs?: number;
  latency?: LogNormalLatency | null;
  seed?: number;
  limits?: Record<string, ModelLimits>;
  rules?: FaultRule[];
}

export const READY_PREFIX = "mock provider listening on";

interface ActiveRule {
  rule: FaultRule;
  remaining: number;
}

/** The deterministic answer the mock gives; exported so tests can compute expectations. */
export function mockAnswer(taskId: string | null, model: string, region: string | null, prompt: string): string {
  const digest = createHash("sha256").update(prompt).digest("hex").slice(0, 12);
  // weekly-suggestions asks for five new prompts as a JSON array (functions/_shared/suggestions.ts).
  if (prompt.startsWith("Suggest five new prompts")) {
    return JSON.stringify([1, 2, 3, 4, 5].map((n) => `suggested prompt ${n} for task ${taskId ?? "-"} (${model}): ${digest}`));
  }
  return `mock answer for task ${taskId ?? "-"} (${model}, ${region ?? "-"}): ${digest}`;
}

export async function startMockProvider(options: MockProviderOptions = {}): Promise<MockProvider> {
  const host = options.host ?? "127.0.0.1";
  let latencyMs = checkLatency(options.latencyMs ?? 0);
  let sampleLatency: (() => number) | null = null;
  let limits: Record<string, ModelLimits> = {};
  let limiters = new Map<string, ModelRateLimiter>();
  const stats = new StatsRecorder();
  let rules: ActiveRule[] = [];
  let calls: CallRecord[] = [];
  let completionSeq = 0;
  const timers = new Set<NodeJS.Timeout>();

  function setRules(next: FaultRule[]): void {
    rules = next.map((rule) => ({ rule: { ...rule }, remaining: rule.times ?? Infinity }));
  }
  setRules(options.rules ?? []);

  function setLimits(next: Record<string, ModelLimits>): void {
    limits = { ...next };
    limiters = new Map(Object.entries(limits).map(([model, l]) => [model, new ModelRateLimiter(l, Date.now())]));
  }
  setLimits(options.limits ?? {});

  function setLatencyDistribution(latency: LogNormalLatency | null, seed = 1): void {
    sampleLatency = latency === null ? null : logNormalSampler(latency, seededRandom(seed));
  }
  setLatencyDistribution(options.latency ?? null, options.seed);

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
    const attempt = header(req, "x-daybreak-attempt");
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
      calls.push({ taskId, attempt, model, region, at, status: 400 });
      const message = parsedJson === undefined
        ? "body is not JSON"
        : body.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
      return sendJson(res, 400, { error: { message, type: "invalid_request_error" } });
    }

    const { model, messages } = body.data;
    const rule = takeRule(model, taskId);
    const limiter = limiters.get(model);
    const style = limits[model]?.headers ?? "openai";
    const prompt = messages.map((m) => m.content).join("\n");
    const content = mockAnswer(taskId, model, region, prompt);
    const promptTokens = countWords(prompt);
    const completionTokens = countWords(content);

    if (!rule && limiter) {
      const now = Date.now();
      const limitsHeaders = () => rateLimitHeaders(style, limiter.snapshot(Date.now()), Date.now());
      if (limits[model]?.quotaExhausted) {
        limiter.admit(promptTokens, now); // a refused call still counts
        calls.push({ taskId, attempt, model, region, at, status: 429 });
        stats.answered(model, 429);
        return sendJson(res, 429, QUOTA_BODY, limitsHeaders());
      }
      const verdict = limiter.admit(promptTokens + completionTokens, now);
      if (!verdict.admitted) {
        calls.push({ taskId, attempt, model, region, at, status: 429 });
        stats.answered(model, 429);
        return sendJson(res, 429, {
          error: { message: `Rate limit reached for ${model}: please try again in ${verdict.retryAfterMs}ms.`, type: "requests", code: "rate_limit_exceeded" },
        }, { ...limitsHeaders(), ...retryAfterHeaders(verdict.retryAfterMs) });
      }
    }

    const status = rule?.hang ? "hang" : rule?.status ?? 200;
    const record: CallRecord = { taskId, attempt, model, region, at, status };
    calls.push(record);
    // Whether the caller stayed for the whole answer or went away first (its deadline, its death).
    res.once("close", () => (record.delivered = res.writableFinished));
    if (status === "hang") {
      stats.answered(model, "hang");
      return; // never answered; close() destroys the socket
    }
    const ended = stats.started(model);
    res.once("close", ended);
    later(rule?.latencyMs ?? sampleLatency?.() ?? latencyMs, () => {
      ended();
      if (res.destroyed) return;
      const headers = limiter ? rateLimitHeaders(style, limiter.snapshot(Date.now()), Date.now()) : {};
      if (status !== 200) {
        stats.answered(model, status);
        if (status === 429 && rule?.retryAfterSeconds !== undefined) {
          headers["retry-after"] = String(rule.retryAfterSeconds);
        }
        if (rule?.echoKey) {
          const key = (header(req, "authorization") ?? "").replace(/^bearer\s+/i, "");
          return sendJson(res, status, { error: { message: `Incorrect API key provided: ${key}. Check the key you sent.`, type: "invalid_request_error", code: "invalid_api_key" } }, headers);
        }
        return sendJson(res, status, { error: { message: `mock fault ${status}`, type: "mock_fault" } }, headers);
      }
      stats.answered(model, 200, promptTokens + completionTokens);
      completionSeq += 1;
      const slowMs = rule?.slowBodyMs;
      const send: typeof sendJson = slowMs ? (r, st, b, h) => sendJsonSlowly(r, st, b, h ?? {}, slowMs, later) : sendJson;
      send(res, 200, {
        id: `chatcmpl-mock-${completionSeq}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [{ index: 0, message: { role: "assistant", content: rule?.bodyBytes ? content.padEnd(rule.bodyBytes, ".") : content }, finish_reason: "stop" }],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      }, headers);
    });
  }

  const server = http.createServer((req, res) => {
    const at = Date.now();
    const path = new URL(req.url ?? "/", "http://mock").pathname.replace(/\/+$/, "");
    const handled = path === "/v1/chat/completions" && req.method === "POST"
      ? handleCompletion(req, res, at)
      : handleControl(req, res, path, provider, () => ({ calls, byTask: callsByTask() }));
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
    setLimits,
    setLatencyDistribution,
    stats: () => stats.snapshot(),
    reset() {
      calls = [];
      rules = [];
      stats.reset();
      setLimits(limits);
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

