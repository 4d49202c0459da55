// The days the dashboard tests look at, made the way they happen: runs planned by SQL, processed
// by the real fleet (Deno, kicked through pg_net) against the mock provider. On the default
// schedule: a day that ran, two missed days, a forced backfill, and a day with failed tasks.
import { expect } from "vitest";
import type { MockProvider } from "../../scripts/lib/mock-provider.ts";
import type { Sql } from "./db.ts";
import { seedOrganizations } from "./fixtures.ts";
import { waitForRunEnd } from "./runs.ts";

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
    select scheduler.claim_and_plan_run('daily-batch', ${runKey}, ${source}, null, ${forced}, ${note}) as r`;
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
