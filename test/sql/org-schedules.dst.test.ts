// One run per (organization, local date) across DST, with two tickers racing and a 4-hour outage:
// organizations at 01:30 and 02:30 America/New_York (and 00:00, 01:00 with other catch-up rules)
// and at 02:15 and 01:45 Australia/Lord_Howe (a 30-minute shift), ticked every 5 minutes of a fake
// clock through the due pass (the gate, from two connections at once) and the cron tick's SQL.
// Every (organization, local date) must get exactly one run at its stated instant, or, past its
// catch-up window, exactly one missed row; the catch-up lands on the first tick after recovery.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { resetState } from "../../harness/fixtures.ts";
import { createScheduledOrgs, duePass, expectedInstant, type OrgSpec, racers } from "../helpers/org-clock.ts";

const sql = connect(4);
afterAll(() => sql.end());
beforeEach(async () => {
  await resetState(sql);
  await sql`update scheduler.schedules set enabled = true where name = 'daily-batch'`;
});

const TICK_MS = 5 * 60_000;
const NY = "America/New_York";
const LH = "Australia/Lord_Howe";
const ORGS: OrgSpec[] = [
  { name: "ny-0130", timezone: NY, runAt: "01:30", window: 60 },
  { name: "ny-0230", timezone: NY, runAt: "02:30", window: 60 },
  { name: "ny-0100-skip", timezone: NY, runAt: "01:00", window: 60, catchUp: "skip" },
  { name: "ny-0000-short", timezone: NY, runAt: "00:00", window: 60, catchUp: "once", catchUpMinutes: 120 },
  { name: "lh-0215", timezone: LH, runAt: "02:15", window: 60 },
  { name: "lh-0145", timezone: LH, runAt: "01:45", window: 60 },
  { name: "lh-0100-skip", timezone: LH, runAt: "01:00", window: 60, catchUp: "skip" },
];

interface Outcome {
  kind: "run" | "missed";
  due: number;
  claimedAt?: number;
  catchUp?: boolean;
}

const RANGES = [
  { name: "New York falls back (01:30 twice, 2026-11-01)", start: "2026-10-30T12:00:00Z", end: "2026-11-03T12:00:00Z", outage: ["2026-11-01T04:00:00Z", "2026-11-01T08:00:00Z"] },
  { name: "New York springs forward (02:30 never, 2027-03-14)", start: "2027-03-12T12:00:00Z", end: "2027-03-16T12:00:00Z", outage: ["2027-03-14T04:00:00Z", "2027-03-14T08:00:00Z"] },
  { name: "Lord Howe springs forward 30 min (02:15 never, 2026-10-04)", start: "2026-10-02T00:00:00Z", end: "2026-10-05T18:00:00Z", outage: ["2026-10-03T13:00:00Z", "2026-10-03T17:00:00Z"] },
  { name: "Lord Howe falls back 30 min (01:45 twice, 2027-04-04)", start: "2027-04-02T00:00:00Z", end: "2027-04-05T18:00:00Z", outage: ["2027-04-03T13:00:00Z", "2027-04-03T17:00:00Z"] },
] as const;

/** What the stated rules predict for each (organization, local date) whose instant falls in the range. */
function predict(range: (typeof RANGES)[number], jitters: Map<string, number>): Map<string, Outcome> {
  const start = Date.parse(range.start);
  const end = Date.parse(range.end);
  const [outStart, outEnd] = range.outage.map((t) => Date.parse(t)) as [number, number];
  const ticks: number[] = [];
  for (let t = start + TICK_MS; t <= end; t += TICK_MS) if (t < outStart || t >= outEnd) ticks.push(t);
  const expected = new Map<string, Outcome>();
  for (const spec of ORGS) {
    for (let day = start - 2 * 86_400_000; day <= end + 86_400_000; day += 86_400_000) {
      const date = new Date(day).toISOString().slice(0, 10);
      const due = expectedInstant(date, `${spec.runAt}:00`, spec.timezone).getTime() + jitters.get(spec.name)! * 1000;
      if (due <= start || due > end) continue;
      const tick = ticks.find((t) => t >= due);
      if (tick === undefined) continue;
      const late = tick - due;
      const window = (spec.window ?? 180) * 60_000;
      const catchUp = spec.catchUp ?? "once";
      const catchUpWindow = (spec.catchUpMinutes ?? 360) * 60_000;
      if (late < window) expected.set(`${spec.name}|${date}`, { kind: "run", due, claimedAt: tick, catchUp: false });
      else if (catchUp === "once" && late < catchUpWindow) expected.set(`${spec.name}|${date}`, { kind: "run", due, claimedAt: tick, catchUp: true });
      else expected.set(`${spec.name}|${date}`, { kind: "missed", due });
    }
  }
  return expected;
}

describe("organizations' own schedules across DST (fake clock, real Postgres)", () => {
  for (const range of RANGES) {
    it(range.name, async () => {
      const start = new Date(range.start);
      const ids = await createScheduledOrgs(sql, ORGS, start);
      const names = new Map([...ids].map(([name, id]) => [id, name]));
      const jitters = new Map((await sql<{ org_id: string; jitter_seconds: number }[]>`
        select org_id, jitter_seconds from scheduler.org_schedules`).map((r) => [names.get(r.org_id)!, r.jitter_seconds]));
      const expected = predict(range, jitters);
      const [outStart, outEnd] = range.outage.map((t) => Date.parse(t)) as [number, number];
      const clients = await racers(2);
      try {
        for (let t = start.getTime() + TICK_MS; t <= Date.parse(range.end); t += TICK_MS) {
          if (t >= outStart && t < outEnd) continue; // the outage: no tick at all
          const now = new Date(t);
          const dueHere = [...expected.values()].filter((o) => o.claimedAt === t || (o.kind === "missed" && o.due <= t)).length;
          const [tick] = await sql`select d from jsonb_array_elements(scheduler.cron_trigger_tick(${now}::timestamptz)) d
                                    where d ->> 'schedule' = 'daily-batch'`;
          const passes = await Promise.all(clients.map((c) => duePass(c, now)));
          const started = passes.reduce((n, p) => n + p.started, 0);
          expect(started, `runs started at ${now.toISOString()}`).toBe([...expected.values()].filter((o) => o.claimedAt === t).length);
          if (started > 0) expect(tick!.d.organizations_due, `the tick at ${now.toISOString()} saw them due`).toBe(true);
          if (dueHere === 0) expect(tick!.d.organizations_due, `the tick at ${now.toISOString()} calls nothing`).toBe(false);
        }
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }

      const runs = await sql<{ org_id: string; run_key: string; due_at: Date; claimed_at: Date; catch_up: boolean }[]>`
        select org_id, run_key, due_at, claimed_at, catch_up from scheduler.runs where org_id is not null`;
      const missed = await sql<{ org_id: string; run_key: string; due_at: Date }[]>`
        select org_id, run_key, due_at from scheduler.missed_runs`;
      const actual = new Map<string, Outcome>();
      for (const r of runs) {
        const key = `${names.get(r.org_id)}|${r.run_key}`;
        expect(actual.has(key), `${key} ran twice`).toBe(false);
        actual.set(key, { kind: "run", due: r.due_at.getTime(), claimedAt: r.claimed_at.getTime(), catchUp: r.catch_up });
      }
      for (const m of missed) {
        const key = `${names.get(m.org_id)}|${m.run_key}`;
        expect(actual.has(key), `${key} both ran and was missed`).toBe(false);
        actual.set(key, { kind: "missed", due: m.due_at.getTime() });
      }
      const show = (m: Map<string, Outcome>) => [...m].sort().map(([k, o]) =>
        `${k} ${o.kind} due ${new Date(o.due).toISOString()}${o.claimedAt ? ` at ${new Date(o.claimedAt).toISOString()}` : ""}${o.catchUp ? " catch-up" : ""}`);
      expect(show(actual)).toEqual(show(expected));
      // The outage produced each kind of outcome at least once.
      const outcomes = [...expected.values()];
      expect(outcomes.some((o) => o.catchUp)).toBe(true);
      expect(outcomes.some((o) => o.kind === "missed")).toBe(true);
      expect(outcomes.some((o) => o.catchUp && o.claimedAt === outEnd)).toBe(true);
    });
  }

  it("the stated instants on the DST dates (first occurrence; a gap shifts by its length)", async () => {
    const cases: [string, string, string, string][] = [
      ["2026-11-01", "01:30", NY, "2026-11-01T05:30:00Z"], // 01:30 EDT, not 01:30 EST
      ["2026-11-01", "02:30", NY, "2026-11-01T07:30:00Z"],
      ["2027-03-14", "02:30", NY, "2027-03-14T07:30:00Z"], // 03:30 EDT
      ["2027-03-14", "01:30", NY, "2027-03-14T06:30:00Z"],
      ["2026-10-04", "02:15", LH, "2026-10-03T15:45:00Z"], // 02:45 +11
      ["2026-10-04", "01:45", LH, "2026-10-03T15:15:00Z"],
      ["2027-04-04", "01:45", LH, "2027-04-03T14:45:00Z"], // 01:45 +11, not 01:45 +10:30
      ["2027-04-04", "02:15", LH, "2027-04-03T15:45:00Z"],
    ];
    for (const [date, time, zone, utc] of cases) {
      const [row] = await sql`select scheduler.local_instant(${date}::date, ${time}::time, ${zone}) as at`;
      expect(row!.at.toISOString(), `${date} ${time} ${zone}`).toBe(new Date(utc).toISOString());
      expect(expectedInstant(date, `${time}:00`, zone).toISOString()).toBe(new Date(utc).toISOString());
    }
  });
});
