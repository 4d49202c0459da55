// What the provider-adapter tests share: a config pointing at the test file's mock provider, a
// request, a sleep that records the delays it was asked for, and a rejection catcher.
import { expect } from "vitest";
import { ProviderError, type CompletionRequest, type ProviderConfig } from "../../functions/_shared/providers/openai-compatible.ts";
import type { MockProvider } from "../../harness/mock-provider/index.ts";

export function providerConfig(mock: MockProvider, overrides: Partial<ProviderConfig> = {}): ProviderConfig {
  return {
    name: "openai-mock",
    baseUrl: `${mock.url}/`, // trailing slash must be stripped
    model: "gpt-mock",
    apiKeyEnv: null,
    timeoutMs: 5_000,
    fallbackProvider: null, maxTokens: null,
    ...overrides,
  };
}

export const request: CompletionRequest = { taskId: "task-1", prompt: "What is the capital of France?", region: "us-east" };

/** Records requested delays instead of sleeping. */
export function fakeSleep() {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
}

export async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error("expected a rejection");
}
