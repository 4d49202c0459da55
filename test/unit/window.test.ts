import { describe, expect, it } from "vitest";
import { backfillProblem, currentRunKey, isInExecutionWindow, periodStartDate, type Schedule } from "../../functions/_shared/window.ts";

const daily: Schedule = {
  name: "daily-batch", timezone: "America/New_York", windowStart: "03:00:00", windowEnd: "06:00:00",
  period: "daily", weekday: null, enabled: true,
};
const weekly: Schedule = { ...daily, name: "weekly", period: "weekly", weekday: 1 };

// New York local time → UTC instant, written out by hand so the test does not reuse the code under test.
const cases: [string, string, boolean][] = [
  // an ordinary winter day (EST, UTC-5)
  ["2026-01-15T07:59:59Z", "02:59:59 EST", false],
  ["2026-01-15T08:00:00Z", "03:00:00 EST", true],
  ["2026-01-15T10:59:59Z", "05:59:59 EST", true],
  ["2026-01-15T11:00:00Z", "06:00:00 EST", false],
  // 2026-03-08: clocks jump 02:00 EST → 03:00 EDT; 03:00 EDT is 07:00Z
  ["2026-03-08T06:59:59Z", "01:59:59 EST (02:59:59 does not exist)", false],
  ["2026-03-08T07:00:00Z", "03:00:00 EDT", true],
  ["2026-03-08T09:59:59Z", "05:59:59 EDT", true],
  ["2026-03-08T10:00:00Z", "06:00:00 EDT", false],
  // 2026-11-01: clocks fall back 02:00 EDT → 01:00 EST; window is 08:00Z–11:00Z
  ["2026-11-01T07:59:59Z", "02:59:59 EST", false],
  ["2026-11-01T08:00:00Z", "03:00:00 EST", true],
  ["2026-11-01T10:59:59Z", "05:59:59 EST", true],
  ["2026-11-01T11:00:00Z", "06:00:00 EST", false],
  ["2026-11-01T05:30:00Z", "01:30 EDT (first 01:30)", false],
  ["2026-11-01T06:30:00Z", "01:30 EST (second 01:30)", false],
  // summer (EDT, UTC-4)
  ["2026-07-04T06:59:59Z", "02:59:59 EDT", false],
  ["2026-07-04T07:00:00Z", "03:00:00 EDT", true],
  ["2026-07-04T09:59:59.999Z", "05:59:59.999 EDT", true],
  ["2026-07-04T10:00:00Z", "06:00:00 EDT", false],
];

describe("isInExecutionWindow (America/New_York 03:00–06:00)", () => {
  for (const [utc, local, expected] of cases) {
    it(`${utc} (${local}) is ${expected ? "inside" : "outside"}`, () => {
      expect(isInExecutionWindow(daily, new Date(utc))).toBe(expected);
    });
  }

  it("is always three local hours a day, 07:00–10:00Z in summer and 08:00–11:00Z in winter", () => {
    for (const day of ["2026-03-07", "2026-03-08", "2026-03-09", "2026-10-31", "2026-11-01", "2026-11-02"]) {
      let minutesInside = 0;
      const start = Date.parse(`${day}T00:00:00Z`);
      for (let m = 0; m < 24 * 60; m++) if (isInExecutionWindow(daily, new Date(start + m * 60_000))) minutesInside++;
      expect(minutesInside, day).toBe(180);
    }
  });
});

describe("currentRunKey", () => {
  it("is the New York date, not the UTC date", () => {
    // 01:30Z on the 22nd is 20:30 EST on the 21st
    expect(currentRunKey(daily, new Date("2026-11-22T01:30:00Z"))).toBe("2026-11-21");
    expect(currentRunKey(daily, new Date("2026-11-22T08:30:00Z"))).toBe("2026-11-22");
  });

  it("is the ISO week for weekly schedules, across a year boundary", () => {
    expect(currentRunKey(weekly, new Date("2026-11-23T12:00:00Z"))).toBe("2026-W48");
    // 2027-01-01 (a Friday) belongs to ISO week 2026-W53
    expect(currentRunKey(weekly, new Date("2027-01-01T12:00:00Z"))).toBe("2026-W53");
  });

  it("a weekly window is open only on its weekday", () => {
    expect(isInExecutionWindow(weekly, new Date("2026-11-23T08:30:00Z"))).toBe(true); // Monday
    expect(isInExecutionWindow(weekly, new Date("2026-11-24T08:30:00Z"))).toBe(false); // Tuesday
  });
});

describe("periodStartDate and backfillProblem", () => {
  it("parses valid keys and rejects impossible ones", () => {
    expect(periodStartDate("daily", "2026-02-28")?.toISOString()).toBe("2026-02-28T00:00:00.000Z");
    expect(periodStartDate("daily", "2026-02-30")).toBeNull();
    expect(periodStartDate("weekly", "2026-W01")?.toISOString()).toBe("2025-12-29T00:00:00.000Z");
    expect(periodStartDate("weekly", "2025-W53")).toBeNull(); // 2025 has 52 ISO weeks
  });

  const now = new Date("2026-11-22T15:00:00Z"); // 10:00 EST on the 22nd
  it("accepts today and up to 30 days back", () => {
    expect(backfillProblem(daily, "2026-11-22", now, 30)).toBeNull();
    expect(backfillProblem(daily, "2026-10-23", now, 30)).toBeNull();
  });
  it("rejects the future and 31 days back, saying why", () => {
    expect(backfillProblem(daily, "2026-11-23", now, 30)).toMatch(/future/);
    expect(backfillProblem(daily, "2026-10-22", now, 30)).toMatch(/31 days back/);
    expect(backfillProblem(daily, "2026-13-01", now, 30)).toMatch(/not a valid/);
  });
});
