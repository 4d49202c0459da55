// The provider-call part alone: the real adapter (callWithRetries → callChatCompletion) against
// the zero-latency mock process, no database. At the daybreak passes' concurrency it is the
// ceiling the HTTP leg puts on daybreak's task path on this machine.
import type { ProviderConfig } from "../../../functions/_shared/providers/openai-compatible.ts";
import { callWithRetries } from "../../../functions/_shared/providers/openai-compatible.ts";
import type { MockProcess } from "../../../harness/mock-provider/process.ts";

export interface AdapterSample {
  concurrency: number;
  calls: number;
  seconds: number;
  callsPerSecond: number;
}

export async function runAdapterOnly(mock: MockProcess, concurrency: number, calls: number): Promise<AdapterSample> {
  const config: ProviderConfig = {
    name: "mock", baseUrl: mock.url, model: "mock-model", apiKeyEnv: null, timeoutMs: 5000, fallbackProvider: null, maxTokens: null,
  };
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < calls) {
      const i = next++;
      await callWithRetries(config, { taskId: String(i), prompt: `prompt ${i}`, region: "global" }, { baseDelayMs: 0 });
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  await mock.reset();
  return { concurrency, calls, seconds, callsPerSecond: calls / seconds };
}
