// The days the dashboard tests look at, made the way they happen: runs planned by SQL, processed
// by the real fleet (Deno, kicked through pg_net) against the mock provider. On the default
// schedule: a day that ran, two missed days, a forced backfill, and a day with failed tasks.
import { expect } from "vitest";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";
import { connect, type Sql } from "../../harness/db.ts";
import { resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { startFunctions, TEST_CRON_SECRET } from "../../harness/processes.ts";
import { waitForRunEnd } from "../../harness/runs.ts";

export const daysAgo = (n: number): string => {
  const d = new Date(Date.now() - n * 86_400_000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: "America/New_York" }).format(d); // YYYY-MM-DD
};

export interface DashboardScenario {
  ran: string;
  missed: string[];
  backfilled: string;
  failedDay: string;
  runIds: Record<string, string>;
}

async function plan(sql: Sql, runKey: string, source: string, forced: boolean, note: string | null): Promise<string> {
  const [row] = await sql<{ r: { run_id: string } }[]>`
    select scheduler.try_mark_daily_run('daily-batch', ${runKey}, ${source}, null, ${forced}, ${note}) as r`;
  return row!.r.run_id;
}

export async function buildDashboardScenario(sql: Sql, mock: MockProvider): Promise<DashboardScenario> {
  await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 2, providers: { alpha: mock.url, beta: mock.url } });
  // The default schedule, on and a week old, so its past days count as missed when they have no run.
  await sql`update scheduler.schedules set enabled = true, created_at = now() - interval '8 days' where name = 'daily-batch'`;
  const s: DashboardScenario = { ran: daysAgo(5), missed: [daysAgo(4), daysAgo(3)], backfilled: daysAgo(2), failedDay: daysAgo(1), runIds: {} };
  s.runIds[s.ran] = await plan(sql, s.ran, "cron", false, null);
  expect(await waitForRunEnd(sql, s.runIds[s.ran]!)).toBe("completed");
  s.runIds[s.backfilled] = await plan(sql, s.backfilled, "manual", true, "dashboard test: backfill");
  expect(await waitForRunEnd(sql, s.runIds[s.backfilled]!)).toBe("completed");
  mock.setRules([{ model: "beta-model", status: 400 }]); // not retryable: beta's tasks fail at once
  s.runIds[s.failedDay] = await plan(sql, s.failedDay, "cron", false, null);
  expect(await waitForRunEnd(sql, s.runIds[s.failedDay]!)).toBe("completed_with_errors");
  mock.setRules([]);
  return s;
}

/** The stack the dashboard tests share: database, mock provider, Deno functions, the scenario. */
export interface DashboardStack {
  sql: Sql;
  mock: MockProvider;
  fns: Awaited<ReturnType<typeof startFunctions>>;
  scenario: DashboardScenario;
  stop(): Promise<void>;
}

/** customDomain: the edge runtime serves the page as HTML, as hosted does only behind a custom domain. */
export async function startDashboardStack(options: { customDomain?: boolean } = {}): Promise<DashboardStack> {
  const sql = connect();
  const mock = await startMockProvider({ latencyMs: 5 });
  const fns = await startFunctions(options.customDomain ? { DAYBREAK_EDGE_CUSTOM_DOMAIN: "1" } : {});
  await resetState(sql);
  await setVault(sql, fns.url, TEST_CRON_SECRET);
  const scenario = await buildDashboardScenario(sql, mock);
  return {
    sql, mock, fns, scenario,
    async stop() {
      await resetState(sql);
      await sql`update scheduler.schedules set created_at = now() where name = 'daily-batch'`;
      await fns.stop();
      await mock.close();
      await sql.end();
    },
  };
}
