// The SQL window (used by the cron tick) and the TypeScript window (used by the trigger) must
// agree at every 5-minute instant of 2026, DST switches included.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { resetState } from "../../harness/fixtures.ts";
import { currentRunKey, isInExecutionWindow, type Schedule } from "../../functions/_shared/window.ts";

const sql = connect(2);
beforeAll(async () => {
  await resetState(sql);
  await sql`insert into scheduler.schedules (name, timezone, window_start, window_end, period, weekday)
            values ('weekly-agreement', 'America/New_York', '03:00', '06:00', 'weekly', 7)`;
});
afterAll(() => sql.end());

async function compareYear(name: string, schedule: Schedule) {
  const rows = await sql<{ t: Date; inside: boolean; key: string }[]>`
    select t, scheduler.is_in_execution_window(${name}, t) as inside, scheduler.current_run_key(${name}, t) as key
      from generate_series('2026-01-01T00:00:00Z'::timestamptz, '2026-12-31T23:55:00Z', interval '5 minutes') t`;
  expect(rows).toHaveLength(365 * 288);
  const disagreements = rows.filter((r) => r.inside !== isInExecutionWindow(schedule, r.t) || r.key !== currentRunKey(schedule, r.t));
  expect(disagreements.slice(0, 5)).toEqual([]);
  return rows.filter((r) => r.inside).length;
}

describe("SQL and TypeScript windows agree over 2026", () => {
  it("daily-batch: 36 ticks a day, every day", async () => {
    const daily: Schedule = { name: "daily-batch", timezone: "America/New_York", windowStart: "03:00:00", windowEnd: "06:00:00", period: "daily", weekday: null, enabled: true };
    expect(await compareYear("daily-batch", daily)).toBe(365 * 36);
  });
  it("a weekly schedule (Sundays)", async () => {
    const weekly: Schedule = { name: "weekly-agreement", timezone: "America/New_York", windowStart: "03:00:00", windowEnd: "06:00:00", period: "weekly", weekday: 7, enabled: true };
    expect(await compareYear("weekly-agreement", weekly)).toBe(52 * 36);
  });
});
