// One mock provider per test file: started before the file, closed after it, and cleared (calls,
// rules, latency) before each test. Returns a handle that forwards to the live instance.
import { afterAll, beforeAll, beforeEach } from "vitest";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";

export function useMockProvider(): MockProvider {
  let live: MockProvider | undefined;
  beforeAll(async () => {
    live = await startMockProvider();
  });
  afterAll(async () => {
    await live?.close();
  });
  beforeEach(() => {
    current().setLimits({});
    current().setLatencyDistribution(null);
    current().reset();
    current().setLatency(0);
  });
  const current = (): MockProvider => {
    if (!live) throw new Error("the mock provider is used before beforeAll started it");
    return live;
  };
  return {
    get url() {
      return current().url;
    },
    get port() {
      return current().port;
    },
    calls: () => current().calls(),
    callsByTask: () => current().callsByTask(),
    setLatency: (ms) => current().setLatency(ms),
    setRules: (rules) => current().setRules(rules),
    setLimits: (limits) => current().setLimits(limits),
    setLatencyDistribution: (latency, seed) => current().setLatencyDistribution(latency, seed),
    stats: () => current().stats(),
    reset: () => current().reset(),
    close: () => current().close(),
  };
}
