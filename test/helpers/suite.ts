// What the e2e suites that drive processors share: the state each test starts from, and the
// teardown of whatever a suite got to start.
import type { MockProvider } from "../../harness/mock-provider/index.ts";
import type { Sql } from "../../harness/db.ts";
import { resetState } from "../../harness/fixtures.ts";
import { DEFAULT_CONFIG, setConfig } from "../../harness/runs.ts";

/** Empty run state, the shipped thresholds, and a mock provider with no calls or rules. */
export async function freshState(sql: Sql, mock: MockProvider): Promise<void> {
  await resetState(sql);
  await setConfig(sql, DEFAULT_CONFIG);
  mock.reset();
}

/** Stops the functions server, the mock and the connection, each only if it was started. */
export async function stopSuite(parts: { fns?: { stop(): Promise<void> }; mock?: MockProvider; sql?: Sql }): Promise<void> {
  await parts.fns?.stop();
  await parts.mock?.close();
  await parts.sql?.end();
}
