// The processor's claims reach ahead (DAYBREAK_CLAIM_AHEAD_MS): a claim takes the calls whose turn
// at the provider's pace comes within the horizon and the lane starts each on its turn, over real
// HTTP (Deno) against the mock provider. The provider sees the pace, not the claims; claims are
// fewer than calls; and a call whose turn falls in the hold after a 429 is given back unsent.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, type Sql } from "../../harness/db.ts";
import { seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";
import { startFunctions, TEST_CRON_SECRET } from "../../harness/processes.ts";
import { DEFAULT_CONFIG, duplicateResults, setConfig, startRunInSql, waitForRunEnd } from "../../harness/runs.ts";
import { freshState, stopSuite } from "../helpers/suite.ts";

let sql: Sql;
let mock: MockProvider;
let fns: Awaited<ReturnType<typeof startFunctions>> | undefined;

beforeAll(async () => {
  sql = connect();
  mock = await startMockProvider({ latencyMs: 0 });
});
afterAll(() => stopSuite({ fns, mock, sql }));
beforeEach(async () => {
  await freshState(sql, mock);
  mock.setLatency(20);
  fns = await startFunctions({ DAYBREAK_HEARTBEAT_MS: "200", DAYBREAK_CLAIM_AHEAD_MS: "500" });
  await setVault(sql, fns.url, TEST_CRON_SECRET);
});
afterEach(async () => {
  await fns?.stop();
  fns = undefined;
  await setConfig(sql, DEFAULT_CONFIG);
});

/** The most calls that arrived within any `spanMs` (from one arrival on). */
function mostWithin(arrivals: number[], spanMs: number): number {
  const at = [...arrivals].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < at.length; i++) {
    while (at[i]! - at[j]! >= spanMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe("claims reaching ahead", () => {
  it("at a 1 s window's pace the provider gets the pace, not bursts of claims, and one claim grants several calls", async () => {
    await seedOrganizations(sql, { organizations: 4, promptsPerOrg: 20, providers: { paced: mock.url } });
    await sql`update public.providers set requests_per_minute = 1200`; // 20/s, paced at 19.4/s
    await setConfig(sql, { pace_burst_ms: 50 }); // the shortest burst: a short window was found
    const { runId, tasks } = await startRunInSql(sql);
    expect(await waitForRunEnd(sql, runId)).toBe("completed");
    expect(await duplicateResults(sql)).toEqual([]);
    const arrivals = mock.calls().map((c) => c.at);
    expect(arrivals).toHaveLength(tasks);
    // 19.4 a second and one call of burst, with slack for the timers of a loaded machine: over a
    // second, and over 200 ms (3.9 calls, where a claim's calls sent at once would be 4 to 10).
    expect(mostWithin(arrivals, 1000)).toBeLessThanOrEqual(19 + 1 + 5);
    expect(mostWithin(arrivals, 200)).toBeLessThanOrEqual(4 + 1 + 2);
    const span = (Math.max(...arrivals) - Math.min(...arrivals)) / 1000;
    expect(tasks / span).toBeGreaterThan(19.4 * 0.8); // on the pace, not behind it
    // A claim stamps its tasks with its moment: fewer moments than tasks.
    const [{ claims }] = await sql`select count(distinct started_at)::int as claims from scheduler.batch_tasks where run_id = ${runId}`;
    expect(claims).toBeLessThan(tasks / 2);
  });

  it("a call whose turn falls in the hold after a 429 is given back unsent, and answered after the pause", async () => {
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 20, providers: { paced: mock.url } });
    await sql`update public.providers set requests_per_minute = 1200`;
    mock.setRules([{ status: 429, retryAfterSeconds: 2, times: 1 }]);
    const { runId, tasks } = await startRunInSql(sql);
    expect(await waitForRunEnd(sql, runId)).toBe("completed");
    const calls = mock.calls();
    const refused = calls.find((c) => c.status === 429)!;
    // Calls already on their way when the 429 came back may arrive just after it; none after that
    // until the pause is over (granted ahead, they would have gone out in the next 500 ms).
    const duringHold = calls.filter((c) => c.at > refused.at + 100 && c.at < refused.at + 1900);
    expect(duringHold).toEqual([]);
    const [{ succeeded }] = await sql`select count(*)::int as succeeded from scheduler.batch_tasks where run_id = ${runId} and status = 'succeeded'`;
    expect(succeeded).toBe(tasks);
    expect(await duplicateResults(sql)).toEqual([]);
  });
});
