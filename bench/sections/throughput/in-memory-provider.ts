// A provider answered in memory: a `fetch` the adapter is given instead of the network. The real
// adapter still builds the request and validates the response; only the socket is gone, so the
// pass measures daybreak's database path, the equivalent of the libraries' no-op job.

export interface InMemoryProvider {
  fetch: typeof globalThis.fetch;
  /** Task ids called more than once. */
  calledTwice(): number;
}

export function inMemoryProvider(): InMemoryProvider {
  const calls = new Map<string, number>();
  const fetch: typeof globalThis.fetch = async (_input, init) => {
    const headers = new Headers(init?.headers);
    const taskId = headers.get("x-daybreak-task-id") ?? "-";
    calls.set(taskId, (calls.get(taskId) ?? 0) + 1);
    const { model } = JSON.parse(String(init?.body)) as { model: string };
    const body = {
      id: `chatcmpl-mem-${taskId}`,
      object: "chat.completion",
      model,
      choices: [{ index: 0, message: { role: "assistant", content: `in-memory answer for task ${taskId}` }, finish_reason: "stop" }],
      usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
    };
    return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
  };
  return { fetch, calledTwice: () => [...calls.values()].filter((n) => n > 1).length };
}
