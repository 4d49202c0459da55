// A claim reaching ahead (scheduler.claim_paced_tasks with p_ahead_ms): it grants the calls whose
// turn at the provider's pace comes within the horizon, each with start_in_ms, and the bucket goes
// into debt for them, so the calls' turns — not the claims — follow the pace, whoever claims and
// however often. Claims take p_now, so "later" is a parameter, not a sleep.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect, waitFor } from "../../harness/db.ts";
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import { DEFAULT_CONFIG, setConfig, startRunInSql } from "../../harness/runs.ts";

const sql = connect(30);
afterAll(() => sql.end());
beforeEach(async () => {
  await resetState(sql);
  await sql`delete from scheduler.processors`;
});
afterEach(() => setConfig(sql, DEFAULT_CONFIG));

interface Claim { tasks: { task_id: string; start_in_ms: number; estimated_tokens: number }[]; wait_ms: number | null; elapsed_ms: number }

const T0 = new Date("2026-11-23T08:00:00Z");
const plus = (ms: number) => new Date(T0.getTime() + ms);

async function claim(limit: number, ms: number, aheadMs: number | null, worker = "w"): Promise<Claim> {
  const [row] = aheadMs === null
    ? await sql<{ c: Claim }[]>`select scheduler.claim_paced_tasks(${worker}, 'a', ${limit}::int, ${plus(ms)}) as c`
    : await sql<{ c: Claim }[]>`select scheduler.claim_paced_tasks(${worker}, 'a', ${limit}::int, ${plus(ms)}, ${aheadMs}::int) as c`;
  return row!.c;
}

/** Each granted call's turn, in ms after T0. */
const turns = (ms: number, c: Claim) => c.tasks.map((t) => ms + t.start_in_ms);

async function seed(requestsPerMinute: number, tokensPerMinute: number | null = null): Promise<void> {
  await seedOrganizations(sql, { organizations: 10, promptsPerOrg: 40, providers: { a: "http://127.0.0.1:9/v1" } });
  await sql`update public.providers set requests_per_minute = ${requestsPerMinute}, tokens_per_minute = ${tokensPerMinute}`;
  await startRunInSql(sql);
}

describe("a claim reaching ahead", () => {
  it("grants the calls whose turn comes within the horizon, one turn apart, and the next claim continues after them", async () => {
    await seed(1238); // paced at 97%: 20 calls a second, one turn every 50 ms
    await claim(64, 0, null); // takes the full bucket's 10 calls: 0.007 of a call left at T0
    const first = await claim(64, 0, 500);
    expect(turns(0, first)).toEqual([50, 100, 150, 200, 250, 300, 350, 400, 450, 500].map((t) => expect.closeTo(t, -0.5)));
    expect(await claim(64, 0, 500)).toMatchObject({ tasks: [] }); // the horizon's turns are all granted
    const next = await claim(64, 200, 500);
    expect(turns(200, next)).toEqual([550, 600, 650, 700].map((t) => expect.closeTo(t, -0.5)));
    // Without reaching ahead, a claim gets what the bucket holds now: nothing before the turn at
    // 750 ms, then the turns of 750 and 800 ms at once.
    expect(await claim(64, 700, null)).toMatchObject({ tasks: [] });
    expect((await claim(64, 800, null)).tasks.map((t) => t.start_in_ms)).toEqual([0, 0]);
  });

  it("the pacer's wait lets half the horizon's calls gather before the next claim", async () => {
    await seed(1238);
    await claim(64, 0, null);
    const c = await claim(64, 0, 500);
    expect(c.tasks).toHaveLength(10);
    expect(c.wait_ms).toBeGreaterThanOrEqual(249);
    expect(c.wait_ms).toBeLessThanOrEqual(251);
  });

  it("30 connections claiming at once, again and again: the granted turns never run ahead of the pace plus one burst, and no task is granted twice", async () => {
    await seed(1238); // 20/s; the burst: 500 ms at the pace, 10 calls (the bucket starts full)
    const claims: { ms: number; c: Claim }[] = [];
    // 30 claimers at the same moment, each reaching 500 ms ahead, at moments 20-200 ms apart over 4 s.
    for (let ms = 0; ms < 4000; ms += 20 + Math.floor(Math.random() * 180)) {
      claims.push(...await Promise.all(Array.from({ length: 30 }, async (_, k) => ({ ms, c: await claim(8, ms, 500, `w${k}`) }))));
    }
    const ids = claims.flatMap(({ c }) => c.tasks.map((t) => t.task_id));
    expect(new Set(ids).size).toBe(ids.length);
    const all = claims.flatMap(({ ms, c }) => turns(ms, c)).sort((a, b) => a - b);
    expect(all.length).toBeGreaterThan(70); // about 20/s over 4 s, plus the first burst
    // Over any span, at most the pace's calls in it plus the burst (and one for rounding).
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        expect(j - i + 1).toBeLessThanOrEqual(Math.floor(((all[j]! - all[i]!) / 1000) * 20.01 + 10 + 1));
      }
    }
  });

  it("the token bucket reaches ahead too: a call's turn is the later of its request turn and its tokens' turn", async () => {
    await seed(60_000, 60_000); // 1,000 tokens a second, requests plenty
    await sql`update public.providers set max_tokens = 100`; // each call costs its prompt's tokens + 100
    await claim(64, 0, null); // empties the token bucket, but for less than a call's tokens
    const c = await claim(64, 0, 1000);
    const cost = c.tasks.map((t) => t.estimated_tokens);
    expect(c.tasks.length).toBeGreaterThan(5);
    // A second's tokens at 97%, and what the bucket had left.
    expect(cost.reduce((s, x) => s + x, 0)).toBeLessThanOrEqual(970 + Math.max(...cost));
    // Each call waits for its own tokens after the one before it (970 a second).
    for (let i = 1; i < c.tasks.length; i++) {
      expect(c.tasks[i]!.start_in_ms - c.tasks[i - 1]!.start_in_ms).toBeGreaterThanOrEqual(cost[i]! / 0.97 - 1);
    }
  });

  it("a claim that waited for the provider's row says how long its turns had been counting when it answered", async () => {
    await seed(600);
    await sql`insert into scheduler.provider_pace (provider) values ('a')`;
    const holder = await sql.reserve();
    try {
      await holder`begin`;
      await holder`select 1 from scheduler.provider_pace where provider = 'a' for update`; // a round's outcomes, say
      const sent = Date.now();
      const claiming = sql<{ c: Claim }[]>`select scheduler.claim_paced_tasks('w', 'a', 5, p_ahead_ms => 1000) as c`; // the database's clock
      claiming.catch(() => {});
      await waitFor("the claim to wait on the provider's row", () => sql`
        select count(*)::int as n from pg_stat_activity
         where wait_event_type = 'Lock' and query like '%claim_paced_tasks(''w''%'`, (r) => r[0]!.n === 1, 10_000, 20);
      const waitSeen = Date.now();
      await holder`select pg_sleep(0.3)`; // the lock held on: what the claim's turns must not be late by
      await holder`commit`;
      const released = Date.now();
      const [{ c }] = await claiming;
      const answered = Date.now();
      expect(c.tasks.length).toBe(5);
      expect(c.elapsed_ms).toBeGreaterThanOrEqual(released - waitSeen - 20);
      expect(c.elapsed_ms).toBeLessThanOrEqual(answered - sent);
    } finally {
      holder.release();
    }
  });

  it("without the horizon a claim is what it was: every call starts at once", async () => {
    await seed(1237);
    const c = await claim(64, 0, null);
    expect(c.tasks.length).toBeGreaterThan(0);
    expect(c.tasks.every((t) => t.start_in_ms === 0)).toBe(true);
  });
});
