// Writing an organization's schedule: only through public.set_org_schedule, which validates; an
// edit never makes a run due at once, a time zone change never runs a local date twice; a forced
// run and the due pass racing for one organization and date leave one run and a told loser.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { resetState } from "../../harness/fixtures.ts";
import { createScheduledOrgs, duePass, racers } from "../helpers/org-clock.ts";

const sql = connect(4);
afterAll(() => sql.end());
beforeEach(async () => {
  await resetState(sql);
  await sql`update scheduler.schedules set enabled = true where name = 'daily-batch'`;
});

const set = (org: string, args: { tz?: string; runAt?: string; window?: number; catchUp?: string; catchUpMinutes?: number; paused?: boolean; weekday?: number; schedule?: string }, now: string) =>
  sql`select public.set_org_schedule(${org}::uuid, ${args.schedule ?? "daily-batch"}, ${args.tz ?? null}, ${args.runAt ?? null},
                                     ${args.window ?? null}::int, ${args.catchUp ?? null}, ${args.catchUpMinutes ?? null}::int,
                                     ${args.paused ?? null}::boolean, ${args.weekday ?? null}::int, ${now}::timestamptz) as s`.then(([r]) => r!.s);

async function tickEvery5Min(from: string, to: string): Promise<number> {
  let started = 0;
  for (let t = Date.parse(from); t <= Date.parse(to); t += 300_000) started += (await duePass(sql, new Date(t))).started;
  return started;
}

describe("public.set_org_schedule", () => {
  it("rejects unknown time zones, bad times and bad settings with a clear error, and writes nothing", async () => {
    const [org] = await sql`insert into public.organizations (name) values ('o') returning id`;
    const cases: [Parameters<typeof set>[1], RegExp][] = [
      [{ tz: "Mars/Olympus_Mons" }, /unknown time zone "Mars\/Olympus_Mons"/],
      [{ tz: "EST5EDT4" }, /unknown time zone/],
      [{ runAt: "24:00" }, /bad run time "24:00"/],
      [{ runAt: "7am" }, /bad run time/],
      [{ window: 5 }, /bad window/],
      [{ catchUp: "twice" }, /bad catch-up policy "twice"/],
      [{ catchUpMinutes: 2000 }, /bad catch-up window/],
      [{ weekday: 3 }, /is daily: it takes no weekday/],
      [{ schedule: "no-such" }, /unknown schedule "no-such"/],
    ];
    for (const [args, message] of cases) await expect(set(org!.id, args, "2026-12-01T00:00:00Z")).rejects.toThrow(message);
    await expect(set("00000000-0000-4000-8000-000000000000", {}, "2026-12-01T00:00:00Z")).rejects.toThrow(/unknown organization/);
    expect((await sql`select count(*)::int as n from scheduler.org_schedules`)[0]!.n).toBe(0);
  });

  it("is the only way in: the service role may call it and cannot write the table; anon and authenticated cannot call it", async () => {
    const [org] = await sql`insert into public.organizations (name) values ('o') returning id`;
    await sql.begin(async (tx) => {
      await tx`set local role service_role`;
      const [r] = await tx`select public.set_org_schedule(${org!.id}::uuid, 'daily-batch', 'Australia/Sydney', '07:00') as s`;
      expect(r!.s).toMatchObject({ timezone: "Australia/Sydney", run_at: "07:00:00", created: true });
    });
    await expect(sql.begin(async (tx) => {
      await tx`set local role service_role`;
      await tx`update scheduler.org_schedules set run_at = '01:00'`;
    })).rejects.toThrow(/permission denied/);
    for (const role of ["anon", "authenticated"]) {
      await expect(sql.begin(async (tx) => {
        await tx`select set_config('role', ${role}, true)`;
        await tx`select public.set_org_schedule(${org!.id}::uuid, 'daily-batch', 'UTC', '01:00')`;
      })).rejects.toThrow(/permission denied/);
    }
  });

  it("an edit never fires: a run time moved to just before now waits for tomorrow, one moved later runs today", async () => {
    const ids = await createScheduledOrgs(sql, [{ name: "syd", timezone: "Australia/Sydney", runAt: "09:00" }], new Date("2026-12-01T12:00:00Z"));
    const org = ids.get("syd")!;
    // 2026-12-02 08:30 in Sydney (AEDT, +11) is 2026-12-01T21:30Z: move the run time to 08:00, just past.
    const moved = await set(org, { runAt: "08:00" }, "2026-12-01T21:30:00Z");
    expect(moved.next_local_date).toBe("2026-12-03");
    expect(await tickEvery5Min("2026-12-01T21:30:00Z", "2026-12-02T20:00:00Z")).toBe(0);
    // Moved later (10:00, still ahead): today's run comes at the new time, not before.
    const later = await set(org, { runAt: "10:00" }, "2026-12-02T21:30:00Z");
    expect(later.next_local_date).toBe("2026-12-03");
    expect(await tickEvery5Min("2026-12-02T21:30:00Z", "2026-12-02T22:55:00Z")).toBe(0);
    expect(await tickEvery5Min("2026-12-02T23:00:00Z", "2026-12-02T23:20:00Z")).toBe(1);
    const [run] = await sql`select run_key from scheduler.runs where org_id = ${org}`;
    expect(run!.run_key).toBe("2026-12-03");
  });

  it("a time zone change never runs a local date twice", async () => {
    const ids = await createScheduledOrgs(sql, [{ name: "mover", timezone: "Australia/Sydney", runAt: "08:00" }], new Date("2026-12-01T00:00:00Z"));
    const org = ids.get("mover")!;
    // Sydney's 2026-12-02 08:00 is 2026-12-01T21:00Z (+jitter): it runs.
    expect(await tickEvery5Min("2026-12-01T20:00:00Z", "2026-12-01T22:00:00Z")).toBe(1);
    // Then the organization moves to New York, where it is still 2026-12-01 17:00: 2026-12-02 already ran.
    const moved = await set(org, { tz: "America/New_York", runAt: "09:00" }, "2026-12-01T22:00:00Z");
    expect(moved.next_local_date).toBe("2026-12-03");
    expect(await tickEvery5Min("2026-12-01T22:05:00Z", "2026-12-03T15:00:00Z")).toBe(1);
    const keys = (await sql`select run_key from scheduler.runs where org_id = ${org} order by run_key`).map((r) => r.run_key);
    expect(keys).toEqual(["2026-12-02", "2026-12-03"]);
  });

  it("an organization leaving the global run starts after the global run's local date", async () => {
    const [org] = await sql`insert into public.organizations (name) values ('o') returning id`;
    await sql`insert into public.prompts (org_id, text) values (${org!.id}, 'p')`;
    await sql`select scheduler.try_mark_daily_run('2026-12-01')`; // the global run planned it
    const [r] = await sql`select created_at from scheduler.runs where org_id is null`;
    // Its own schedule (UTC 23:00) starts on the first date after the global run's local date in UTC.
    const own = await set(org!.id, { tz: "UTC", runAt: "23:00" }, new Date(r!.created_at).toISOString());
    expect(own.next_local_date > new Date(r!.created_at).toISOString().slice(0, 10)).toBe(true);
  });

  it("pausing stops the due pass; resuming runs the next date ahead, not the ones paused through", async () => {
    const ids = await createScheduledOrgs(sql, [{ name: "p", timezone: "UTC", runAt: "06:00" }], new Date("2026-12-01T00:00:00Z"));
    const org = ids.get("p")!;
    await set(org, { paused: true }, "2026-12-01T01:00:00Z");
    expect(await tickEvery5Min("2026-12-01T01:00:00Z", "2026-12-03T01:00:00Z")).toBe(0);
    const resumed = await set(org, { paused: false }, "2026-12-03T07:00:00Z");
    expect(resumed.next_local_date).toBe("2026-12-04");
    expect((await sql`select count(*)::int as n from scheduler.missed_runs`)[0]!.n).toBe(0);
  });
});

describe("a forced run, a backfill and the due pass for one organization and date", () => {
  it("race 20 times: one run, the loser told already_ran with the winner's id (or finding nothing due)", async () => {
    const clients = await racers(3);
    try {
      for (let i = 0; i < 20; i++) {
        await resetState(sql);
        await sql`update scheduler.schedules set enabled = true where name = 'daily-batch'`;
        const ids = await createScheduledOrgs(sql, [{ name: `r${i}`, timezone: "Asia/Tokyo", runAt: "05:00" }], new Date("2026-12-01T00:00:00Z"));
        const org = ids.get(`r${i}`)!;
        const [s] = await sql`select next_local_date::text as d, next_run_at from scheduler.org_schedules`;
        const now = new Date(s!.next_run_at.getTime() + 60_000);
        const forced = (c: typeof sql) => c`select scheduler.try_mark_daily_run('daily-batch', ${s!.d}, 'manual', null, true, 'race',
                                                                              ${org}::uuid, ${now}::timestamptz) as r`.then(([x]) => x!.r);
        const [a, b, pass] = await Promise.all([forced(clients[0]!), forced(clients[1]!), duePass(clients[2]!, now)]);
        const runs = await sql`select id::text from scheduler.runs where org_id = ${org}`;
        expect(runs).toHaveLength(1);
        const winners = [a.updated, b.updated, pass.started === 1].filter(Boolean);
        expect(winners, JSON.stringify({ a, b, pass })).toHaveLength(1);
        for (const f of [a, b]) if (!f.updated) expect(f.existing_run_id).toBe(runs[0]!.id);
        // Whoever won, the date is done: no later pass claims it again.
        expect((await duePass(sql, new Date(now.getTime() + 3_600_000))).started).toBe(0);
      }
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it("a backfill of a past date claims it once; the due pass never claims it", async () => {
    const ids = await createScheduledOrgs(sql, [{ name: "b", timezone: "Europe/Berlin", runAt: "04:00" }], new Date("2026-12-05T00:00:00Z"));
    const org = ids.get("b")!;
    const backfill = () => sql`select scheduler.try_mark_daily_run('daily-batch', '2026-12-01', 'manual', null, true, 'backfill',
                                                                ${org}::uuid, '2026-12-05T01:00:00Z'::timestamptz) as r`.then(([x]) => x!.r);
    expect((await backfill()).updated).toBe(true);
    expect(await backfill()).toMatchObject({ updated: false, new_key: "2026-12-01" });
    expect(await tickEvery5Min("2026-12-05T01:00:00Z", "2026-12-05T04:30:00Z")).toBe(1);
    const keys = (await sql`select run_key from scheduler.runs where org_id = ${org} order by run_key`).map((r) => r.run_key);
    expect(keys).toEqual(["2026-12-01", "2026-12-05"]);
  });

  it("an organization without a schedule of its own is refused (it runs in the global run)", async () => {
    const [org] = await sql`insert into public.organizations (name) values ('global') returning id`;
    await expect(sql`select scheduler.try_mark_daily_run('daily-batch', '2026-12-01', 'manual', null, true, null, ${org!.id}::uuid)`)
      .rejects.toThrow(/has no schedule of its own/);
  });
});
