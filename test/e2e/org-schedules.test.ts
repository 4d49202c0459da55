// Organizations' own schedules end to end: pg_cron's SQL (cron_trigger_tick) queues the trigger
// through real pg_net when an organization is due, the trigger's due pass claims and plans it,
// the processors (or weekly-suggestions) work it against the mock provider; scripts/trigger --org
// forces and backfills one organization's date.
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, waitFor, type Sql } from "../../harness/db.ts";
import { setVault } from "../../harness/fixtures.ts";
import { runCommand, startFunctions, TEST_CRON_SECRET, TEST_SERVICE_ROLE_KEY } from "../../harness/processes.ts";
import { waitForRunEnd } from "../../harness/runs.ts";
import { startMockProvider, type MockProvider } from "../../harness/mock-provider/index.ts";
import { ROOT } from "../../scripts/lib/root.ts";
import { freshState, stopSuite } from "../helpers/suite.ts";

let sql: Sql;
let mock: MockProvider;
let fns: Awaited<ReturnType<typeof startFunctions>> | undefined;

beforeAll(async () => {
  sql = connect();
  mock = await startMockProvider({ latencyMs: 0 });
  fns = await startFunctions({ DAYBREAK_HEARTBEAT_MS: "200" });
});
afterAll(() => stopSuite({ fns, mock, sql }));
beforeEach(async () => {
  await freshState(sql, mock);
  await setVault(sql, fns!.url, TEST_CRON_SECRET);
  await sql`insert into scheduler.schedules (name, timezone, window_start, window_end, period, weekday, enabled, work)
            values ('weekly-suggestions', 'America/New_York', '03:00', '06:00', 'weekly', 1, true, 'suggestions')`;
  await sql`update scheduler.schedules set enabled = true where name = 'daily-batch'`;
});

async function org(name: string, prompts: string[]): Promise<string> {
  await sql`insert into public.providers (name, base_url, model, timeout_ms) values ('mock', ${mock.url}, 'mock-model', 5000)
            on conflict (name) do nothing`;
  const [o] = await sql<{ id: string }[]>`insert into public.organizations (name) values (${name}) returning id`;
  for (const text of prompts) await sql`insert into public.prompts (org_id, text) values (${o!.id}, ${text})`;
  await sql`insert into public.organization_providers (org_id, provider, regions) values (${o!.id}, 'mock', '{global}')`;
  return o!.id;
}

/** A schedule set a day ago for 00:00 local (and, weekly, today's weekday there), so today's run is
 * due now and inside its 24-hour window (an edit made now would wait for the next date). */
const scheduleDueNow = (orgId: string, schedule: string, tz: string) =>
  sql`select public.set_org_schedule(${orgId}::uuid, ${schedule}, ${tz}, '00:00', 1440, 'once', 1440, null,
                                     case when ${schedule} = 'weekly-suggestions' then extract(isodow from now() at time zone ${tz})::int end,
                                     now() - interval '1 day')`;

describe("an organization's own schedule through pg_cron's SQL, pg_net and the trigger", () => {
  it("daily-batch: the tick calls once, the due pass claims the organization, the processors finish its run", async () => {
    const id = await org("sydney", ["p1", "p2", "p3"]);
    await scheduleDueNow(id, "daily-batch", "Australia/Sydney");
    const [tick] = await sql`select d from jsonb_array_elements(scheduler.cron_trigger_tick()) d where d ->> 'schedule' = 'daily-batch'`;
    expect(tick!.d).toMatchObject({ decision: "called", organizations_due: true });
    const [run] = await waitFor("the organization's run", () => sql`select id::text, trigger_source, catch_up from scheduler.runs where org_id = ${id}`, (r) => r.length === 1);
    expect(run).toMatchObject({ trigger_source: "cron" });
    expect(await waitForRunEnd(sql, run!.id)).toBe("completed");
    expect((await sql`select count(*)::int as n from public.prompt_results where run_id = ${run!.id}`)[0]!.n).toBe(3);
    // Its next run is its next local date; a second tick calls nothing for it.
    const [next] = await sql`select next_run_at > now() as ahead from scheduler.org_schedules where org_id = ${id}`;
    expect(next!.ahead).toBe(true);
    const [again] = await sql`select d from jsonb_array_elements(scheduler.cron_trigger_tick()) d where d ->> 'schedule' = 'daily-batch'`;
    expect(again!.d.organizations_due).toBe(false);
  });

  it("weekly-suggestions: one task through the pacer, five inactive suggestions stored once, by its own function", async () => {
    const id = await org("tokyo", ["What changed in our market this week?", "Summarize competitor pricing"]);
    await scheduleDueNow(id, "weekly-suggestions", "Asia/Tokyo");
    await sql`select scheduler.cron_trigger_tick()`;
    const [run] = await waitFor("the weekly run", () => sql`select id::text from scheduler.runs where org_id = ${id} and schedule = 'weekly-suggestions'`, (r) => r.length === 1);
    expect(await waitForRunEnd(sql, run!.id)).toBe("completed");
    const suggestions = await sql`select ordinal, text, active from public.prompt_suggestions where org_id = ${id} order by ordinal`;
    expect(suggestions.map((s) => s.ordinal)).toEqual([1, 2, 3, 4, 5]);
    expect(suggestions.every((s) => s.active === false && /^suggested prompt \d/.test(s.text))).toBe(true);
    const [task] = await sql`select kind, status, attempts from scheduler.batch_tasks where run_id = ${run!.id}`;
    expect(task).toEqual({ kind: "suggestions", status: "succeeded", attempts: 1 });
    const calls = await sql`select function_name from scheduler.scheduler_runs where function_name = 'weekly-suggestions'`;
    expect(calls.length).toBeGreaterThan(0);
    // The organization's prompts are untouched: suggestions wait for review.
    expect((await sql`select count(*)::int as n from public.prompts where org_id = ${id}`)[0]!.n).toBe(2);
  });
});

describe("scripts/trigger --org", () => {
  const trigger = (args: string[]) => runCommand(path.join(ROOT, "scripts/trigger"), args, ROOT, {
    PATH: process.env.PATH!, HOME: process.env.HOME ?? ROOT, NO_COLOR: "1", DAYBREAK_DEV_ENV_FILE: "/nonexistent",
    SUPABASE_URL: `http://127.0.0.1:${fns!.port}`, SUPABASE_SERVICE_ROLE_KEY: TEST_SERVICE_ROLE_KEY,
  });

  it("forces the organization's current local date once, backfills a past one, refuses an organization without its own schedule", async () => {
    const id = await org("berlin", ["p"]);
    await sql`select public.set_org_schedule(${id}::uuid, 'daily-batch', 'Europe/Berlin', '04:00')`;
    const [today] = await sql`select to_char(now() at time zone 'Europe/Berlin', 'YYYY-MM-DD') as d,
                                     to_char((now() at time zone 'Europe/Berlin')::date - 3, 'YYYY-MM-DD') as past`;
    const first = await trigger(["--org", id, "--note", "e2e: one organization"]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(new RegExp(`^started run \\S+ for daily-batch ${today!.d} of organization ${id} \\(manual\\): 1 batch jobs, 1 tasks$`, "m"));
    const second = await trigger(["--org", id]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^skipped: already_ran/m);
    const backfill = await trigger(["--org", id, "--run-key", today!.past]);
    expect(backfill.code, backfill.stderr).toBe(0);
    expect(backfill.stdout).toMatch(new RegExp(`for daily-batch ${today!.past} of organization`));
    const runs = await sql`select run_key, forced, trigger_source from scheduler.runs where org_id = ${id} order by run_key`;
    expect(runs).toEqual([
      { run_key: today!.past, forced: true, trigger_source: "manual" },
      { run_key: today!.d, forced: true, trigger_source: "manual" },
    ]);
    const other = await org("global-only", ["p"]);
    const refused = await trigger(["--org", other]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/has no schedule of its own/);
    expect((await trigger(["--org", "not-a-uuid"])).code).toBe(2);
  });
});
