// The mock provider itself: fault rules, counters, control endpoints, deterministic answers, and
// a close() that does not wait for hanging requests.
import { createHash } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { startMockProvider } from "../../harness/mock-provider/index.ts";
import { useMockProvider } from "../helpers/mock-provider.ts";

const mock = useMockProvider();

async function complete(
  taskId: string | null,
  model = "gpt-mock",
  prompt = "hello",
  region: string | null = "eu-west",
  base = mock.url,
) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (taskId !== null) headers["x-daybreak-task-id"] = taskId;
  if (region !== null) headers["x-daybreak-region"] = region;
  const res = await fetch(`${base}/chat/completions`, {
    method: "POST",
    headers,
    body: JSON.stringify({ model, messages: [{ role: "user", content: prompt }] }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, any> };
}

function controlUrl(path: string): string {
  return mock.url.replace(/\/v1$/, path);
}

describe("mock provider", () => {
  it("listens on loopback with a /v1 base URL", () => {
    expect(mock.url).toBe(`http://127.0.0.1:${mock.port}/v1`);
    expect(mock.port).toBeGreaterThan(0);
  });

  it("answers deterministically in the chat.completion shape", async () => {
    const first = await complete("t-1", "gpt-mock", "What is up?");
    const second = await complete("t-1", "gpt-mock", "What is up?");
    const other = await complete("t-1", "gpt-mock", "Something else");
    const digest = createHash("sha256").update("What is up?").digest("hex").slice(0, 12);

    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      object: "chat.completion",
      model: "gpt-mock",
      choices: [{ index: 0, message: { role: "assistant" }, finish_reason: "stop" }],
      usage: { prompt_tokens: 3 },
    });
    const content = first.body.choices[0].message.content;
    expect(content).toBe(`mock answer for task t-1 (gpt-mock, eu-west): ${digest}`);
    expect(second.body.choices[0].message.content).toBe(content);
    expect(other.body.choices[0].message.content).not.toBe(content);
    expect(first.body.usage.total_tokens).toBe(first.body.usage.prompt_tokens + first.body.usage.completion_tokens);
  });

  it("applies a rule only `times` times, and only to matching calls", async () => {
    mock.setRules([{ taskId: "a", status: 500, times: 2 }]);
    const statuses = [];
    for (const task of ["a", "b", "a", "a", "b"]) statuses.push([task, (await complete(task)).status]);
    expect(statuses).toEqual([
      ["a", 500],
      ["b", 200],
      ["a", 500],
      ["a", 200],
      ["b", 200],
    ]);
  });

  it("uses the first matching rule that has calls left", async () => {
    mock.setRules([
      { model: "m1", status: 503, times: 1 },
      { status: 429, retryAfterSeconds: 9, times: 1 },
    ]);
    const r1 = await complete("x", "m2");
    const r2 = await complete("x", "m1");
    const r3 = await complete("x", "m1");
    expect([r1.status, r2.status, r3.status]).toEqual([429, 503, 200]);
    expect(r1.headers.get("retry-after")).toBe("9");
    expect(mock.calls().map((c) => c.status)).toEqual([429, 503, 200]);
  });

  it("records every call, counts per task, and rejects a malformed body with 400", async () => {
    mock.setRules([{ taskId: "t2", status: 500, times: 1 }]);
    const before = Date.now();
    await complete("t1");
    await complete("t2", "gpt-x", "p", null);
    await complete("t2", "gpt-x", "p", null);
    await complete(null);
    const bad = await fetch(`${mock.url}/chat/completions`, {
      method: "POST",
      headers: { "x-daybreak-task-id": "t3" },
      body: JSON.stringify({ model: "gpt-mock" }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain("messages");

    expect(mock.calls()).toMatchObject([
      { taskId: "t1", model: "gpt-mock", region: "eu-west", status: 200 },
      { taskId: "t2", model: "gpt-x", region: null, status: 500 },
      { taskId: "t2", model: "gpt-x", region: null, status: 200 },
      { taskId: null, model: "gpt-mock", status: 200 },
      { taskId: "t3", model: "gpt-mock", status: 400 },
    ]);
    expect(mock.calls().every((c) => c.at >= before && c.at <= Date.now())).toBe(true);
    expect(mock.callsByTask()).toEqual({ t1: 1, t2: 2, "-": 1, t3: 1 });

    mock.reset();
    expect(mock.calls()).toEqual([]);
    expect((await complete("t2")).status).toBe(200); // rules cleared too
  });

  it("waits the configured latency, per rule or globally", async () => {
    mock.setLatency(150);
    let started = Date.now();
    await complete("slow");
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    mock.setLatency(0);
    mock.setRules([{ taskId: "slower", latencyMs: 250 }]);
    started = Date.now();
    expect((await complete("slower")).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
  });

  it("is driven over HTTP by the control endpoints", async () => {
    const setRules = await fetch(controlUrl("/__rules"), {
      method: "POST",
      body: JSON.stringify({ rules: [{ taskId: "c", status: 503, times: 1 }], latencyMs: 0 }),
    });
    expect(setRules.status).toBe(200);
    expect((await complete("c")).status).toBe(503);
    expect((await complete("c")).status).toBe(200);

    const listed = (await (await fetch(controlUrl("/__calls"))).json()) as {
      calls: { taskId: string; status: number }[];
      byTask: Record<string, number>;
    };
    expect(listed.calls.map((c) => [c.taskId, c.status])).toEqual([
      ["c", 503],
      ["c", 200],
    ]);
    expect(listed.byTask).toEqual({ c: 2 });

    const badRules = await fetch(controlUrl("/__rules"), {
      method: "POST",
      body: JSON.stringify({ rules: [{ status: 418 }] }),
    });
    expect(badRules.status).toBe(400);

    expect((await fetch(controlUrl("/__reset"), { method: "POST" })).status).toBe(200);
    expect(mock.calls()).toEqual([]);
    expect((await fetch(controlUrl("/nope"))).status).toBe(404);
  });

  it("logs each call's claim (x-daybreak-attempt) and whether its caller stayed for the answer", async () => {
    const own = await startMockProvider({ latencyMs: 300 });
    const send = (taskId: string, signal?: AbortSignal) => fetch(`${own.url}/chat/completions`, {
      method: "POST", signal,
      headers: { "content-type": "application/json", "x-daybreak-task-id": taskId, "x-daybreak-attempt": `claim-${taskId}` },
      body: JSON.stringify({ model: "gpt-mock", messages: [{ role: "user", content: "hi" }] }),
    }).then((r) => r.text());
    await send("stayed");
    const leaving = new AbortController();
    const left = send("left", leaving.signal).catch(() => "gone");
    await vi.waitFor(() => expect(own.calls()).toHaveLength(2));
    leaving.abort();
    await left;
    await vi.waitFor(() => expect(own.calls().map((c) => c.delivered)).toEqual([true, false]));
    expect(own.calls()).toMatchObject([
      { taskId: "stayed", attempt: "claim-stayed", status: 200, delivered: true },
      { taskId: "left", attempt: "claim-left", status: 200, delivered: false },
    ]);
    await own.close();
  });

  it("close() destroys a hanging connection instead of waiting for it", async () => {
    const own = await startMockProvider({ rules: [{ hang: true }] });
    const pending = complete("hang", "gpt-mock", "hello", "eu-west", own.url).then(
      () => "answered",
      () => "failed",
    );
    await vi.waitFor(() => expect(own.calls()).toHaveLength(1));
    expect(own.calls()[0].status).toBe("hang");

    const closed = await Promise.race([
      own.close().then(() => "closed"),
      new Promise((resolve) => setTimeout(() => resolve("close() still waiting"), 2_000).unref()),
    ]);
    expect(closed).toBe("closed");
    expect(await pending).toBe("failed");
    await expect(fetch(`${own.url}/chat/completions`, { method: "POST" })).rejects.toThrow();
  });
});
