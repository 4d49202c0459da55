// How the pacer finds limits nobody configured (scheduler.claim_paced_tasks, grow_probe,
// learn_pace): slow start while claims press, a 429 or a rise in latency ending it, additive
// probing, one reaction per episode, a limit stated by headers, short windows, other clients of the
// key, and tokens drawn per call. Every call takes p_now, so "a second later" is a parameter.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import { DEFAULT_CONFIG, setConfig, startRunInSql } from "../../harness/runs.ts";

const sql = connect(10);
afterAll(() => sql.end());
beforeEach(() => resetState(sql));
afterEach(() => setConfig(sql, DEFAULT_CONFIG));

const T0 = new Date("2026-11-23T08:00:00Z");
const at = (ms: number) => new Date(T0.getTime() + ms);

interface Claim { tasks: { task_id: string; estimated_tokens: number }[]; wait_ms: number | null; rate_per_minute: number }

async function claim(limit: number, ms: number, provider = "a"): Promise<Claim> {
  const [row] = await sql<{ c: Claim }[]>`select scheduler.claim_paced_tasks('w', ${provider}, ${limit}::int, ${at(ms)}) as c`;
  return row!.c;
}

/** A claim whose calls come back at once: nothing stays in flight (the in-flight ceiling is tested on its own). */
async function claimAndAnswer(limit: number, ms: number): Promise<Claim> {
  const c = await claim(limit, ms);
  await sql`update scheduler.batch_tasks set status = 'succeeded', lease_expires_at = null where status = 'processing'`;
  return c;
}

async function learn(ms: number, feedback: Record<string, unknown>): Promise<void> {
  await sql`select scheduler.learn_pace(${sql.json([{ provider: "a", calls: 1, successes: 0, rate_limited: 0, ...feedback }] as never)}, ${at(ms)})`;
}

async function pace() {
  const [row] = await sql`select probe_rpm, probe_phase, queueing, paused_until, pauses_in_a_row, burst_ms, backoff_factor,
                                 learned_requests_per_minute, remaining_requests, token_bucket, latency_floor_ms
                            from scheduler.provider_pace where provider = 'a'`;
  return row!;
}

/** What the provider delivered: n successes in each of the seconds [fromMs, toMs), of `sent` calls
 * daybreak claimed in each (as many as got through unless said). */
async function delivered(fromMs: number, toMs: number, perSecond: number, sent = perSecond): Promise<void> {
  for (let ms = fromMs; ms < toMs; ms += 1000) {
    await sql`insert into scheduler.provider_seconds (provider, second, claimed, successes)
              values ('a', date_trunc('second', ${at(ms)}::timestamptz), ${sent}, ${perSecond})
              on conflict (provider, second) do update set claimed = excluded.claimed, successes = excluded.successes`;
  }
}

async function seed(prompts = 400): Promise<void> {
  await seedOrganizations(sql, { organizations: 4, promptsPerOrg: prompts / 4, providers: { a: "http://127.0.0.1:9/v1" } });
  await startRunInSql(sql);
}

describe("probing a provider with no known limit", () => {
  it("slow start: the pace grows 1.5× a second while claims press against it, and not while they do not", async () => {
    await seed();
    await claim(64, 0); // the first claim starts the probe at 300/min × 97%
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(291, 5);
    for (let ms = 100; ms <= 2000; ms += 100) await claimAndAnswer(64, ms); // each takes what the bucket holds: pressed
    const grown = Number((await pace()).probe_rpm);
    expect(grown).toBeGreaterThan(291 * 1.5 ** 1.8);
    expect(grown).toBeLessThan(291 * 1.5 ** 2.01);
    // Claims of one call, which the bucket always holds, do not press: the pace stays (after the
    // 0.1 s since the last claim that pressed).
    for (let ms = 2100; ms <= 4000; ms += 100) await claimAndAnswer(1, ms);
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(grown * 1.5 ** 0.1, 0);
  });

  it("a 429 ends slow start: the probe becomes what got through over 10 s (×97%), once per episode, and is kept for the next run", async () => {
    await seed();
    await claim(64, 0);
    await sql`update scheduler.provider_pace set probe_rpm = 2000 where provider = 'a'`;
    await delivered(-9000, 1000, 10); // 600/min got through
    await learn(1000, { calls: 3, rate_limited: 3 });
    let p = await pace();
    expect(p.probe_phase).toBe("steady");
    expect(Number(p.probe_rpm)).toBeCloseTo(600 * 0.97, 5);
    expect(p.paused_until).toEqual(at(2000)); // no retry-after: 1 s
    // A second 429 in a row (the window still spent) pauses longer and changes nothing else.
    await learn(2100, { calls: 1, rate_limited: 1 });
    p = await pace();
    expect(Number(p.probe_rpm)).toBeCloseTo(582, 5);
    expect(p.paused_until).toEqual(at(4100));
    expect(p.pauses_in_a_row).toBe(2);
    // A success ends the episode; the next 429 takes 10% off (what got through is higher now).
    await learn(4200, { calls: 1, successes: 1 });
    expect((await pace()).pauses_in_a_row).toBe(0);
    await delivered(5000, 15000, 11);
    await learn(15000, { calls: 1, rate_limited: 1 });
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(582 * 0.9, 5);
    // The next run starts from what was found, not from 300/min.
    await sql`update scheduler.runs set status = 'completed'`;
    const [rate] = await sql`select * from scheduler.provider_rate('a', ${at(20000)})`;
    expect(rate).toMatchObject({ limit_source: "probed", limit_per_minute: null });
    expect(Number(rate!.rate_per_minute)).toBeCloseTo(582 * 0.9, 5);
  });

  it("a 429 before ten calls got through takes 10% off the probe: nothing got through says nothing about the limit", async () => {
    await seed();
    await claim(64, 0);
    await delivered(-3000, 0, 2); // 6 calls: too few to read a rate from
    await learn(0, { calls: 2, rate_limited: 2, retry_after_ms: 2000 });
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(291 * 0.9, 5);
  });

  it("after slow start the probe grows additively while pressed: 1% of itself a second once the provider refused a call, 3% while it never did", async () => {
    await seed();
    await claim(64, 0);
    await sql`update scheduler.provider_pace set probe_rpm = 600, probe_phase = 'steady', rate_limited_total = 1 where provider = 'a'`;
    for (let ms = 100; ms <= 5000; ms += 100) await claimAndAnswer(64, ms);
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(600 * (1 + 0.01 * 0.1) ** 50, 0); // 50 claims, 0.1 s apart
    // Found by latency (never refused): running past it queues, so it climbs back faster.
    await sql`update scheduler.provider_pace set probe_rpm = 600, rate_limited_total = 0 where provider = 'a'`;
    for (let ms = 5100; ms <= 10_000; ms += 100) await claimAndAnswer(64, ms);
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(600 * (1 + 0.03 * 0.1) ** 50, 0);
  });

  it("latency above 1.5× its floor means the provider queues: the probe becomes 90% of what it delivered in the last 3 s and holds until latency falls back", async () => {
    await seed();
    await claim(64, 0);
    await sql`update scheduler.provider_pace set probe_rpm = 3000 where provider = 'a'`;
    await learn(100, { calls: 60, successes: 60, latency_ms: 800 }); // enough calls for a floor
    expect(Number((await pace()).latency_floor_ms)).toBe(800);
    await delivered(2000, 5000, 15); // 900/min at capacity
    await learn(5500, { calls: 100, successes: 100, latency_ms: 2400 });
    let p = await pace();
    expect(p.queueing).toBe(true);
    expect(p.probe_phase).toBe("steady");
    expect(Number(p.probe_rpm)).toBeCloseTo(900 * 0.9, 5);
    for (let ms = 5600; ms <= 7000; ms += 100) await claimAndAnswer(64, ms); // pressed, but queueing: no growth
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(810, 5);
    await learn(7100, { calls: 100, successes: 100, latency_ms: 800 });
    await learn(7200, { calls: 100, successes: 100, latency_ms: 800 });
    p = await pace();
    expect(p.queueing).toBe(false);
    expect(Number(p.probe_rpm)).toBeCloseTo(810, 5); // latency coming back does not raise it by itself
    // After slow start a rise cuts to 90% of what got through (the queue drains), 15% off at most.
    await sql`update scheduler.provider_pace set probe_rpm = 1000 where provider = 'a'`;
    await delivered(5000, 9000, 16); // 960/min
    await learn(9500, { calls: 100, successes: 100, latency_ms: 2400 });
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(960 * 0.9, 5);
    await learn(9600, { calls: 100, successes: 100, latency_ms: 800 }); // falls back: queueing ends
    await sql`update scheduler.provider_pace set probe_rpm = 1200 where provider = 'a'`;
    await delivered(9000, 13000, 16);
    await learn(13500, { calls: 100, successes: 100, latency_ms: 2400 });
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(1200 * 0.85, 5);
  });

  it("latency does not steer the probe of a provider that refused a call: its 429s state its limit", async () => {
    await seed();
    await claim(64, 0);
    await sql`update scheduler.provider_pace set probe_rpm = 3000, rate_limited_total = 1 where provider = 'a'`;
    await learn(100, { calls: 60, successes: 60, latency_ms: 800 });
    await delivered(2000, 5000, 15);
    await learn(5500, { calls: 100, successes: 100, latency_ms: 2400 });
    expect(await pace()).toMatchObject({ queueing: false, probe_phase: "slow_start", probe_rpm: 3000 });
  });

  it("no more calls in flight than the probed pace needs at the provider's floor latency × 1.5", async () => {
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 100, providers: { a: "http://127.0.0.1:9/v1" } });
    await startRunInSql(sql);
    await claim(1, 0);
    await setConfig(sql, { pace_probe_burst_ms: 100_000 }); // the bucket holds plenty
    await sql`update scheduler.provider_pace set probe_rpm = 600, latency_floor_ms = 1000, bucket = 100, bucket_at = ${at(0)}
               where provider = 'a'`; // 10/s × 1 s × 1.5 = 15 in flight
    const c = await claim(64, 0);
    expect(c.tasks.length).toBe(14); // 1 already in flight
    const more = await claim(64, 10);
    expect(more).toMatchObject({ tasks: [], wait_ms: null }); // only a completion frees a slot
  });
});

describe("limits that are known", () => {
  it("a 429 stating the limit teaches it (no backoff for that one); a later 429 under it halves the burst and leaves the pace", async () => {
    await seed();
    await claim(64, 0);
    await learn(500, { calls: 2, rate_limited: 2, limit_requests: 600, retry_after_ms: 300 });
    let p = await pace();
    expect(p).toMatchObject({ learned_requests_per_minute: 600, burst_ms: null, backoff_factor: 1 });
    expect(p.paused_until).toEqual(at(800)); // retry-after
    await learn(1000, { calls: 1, successes: 1 });
    await learn(3000, { calls: 1, rate_limited: 1, limit_requests: 600 });
    p = await pace();
    expect(p).toMatchObject({ burst_ms: 250, backoff_factor: 1, probe_rpm: expect.anything() });
    const [rate] = await sql`select * from scheduler.provider_rate('a', ${at(3000)})`;
    expect(rate).toMatchObject({ limit_per_minute: 600, limit_source: "learned" });
    expect(Number(rate!.rate_per_minute)).toBeCloseTo(600 * 0.97, 5);
  });

  it("a 429 when less than 80% of the pace got through over 10 s, of calls sent at the pace: others use the key; the pace is cut to 90% of what got through, the burst kept", async () => {
    await seed();
    await claim(1, 0);
    await sql`update scheduler.provider_pace set learned_requests_per_minute = 600, limit_known_at = ${at(-20_000)} where provider = 'a'`;
    await delivered(-10_000, 0, 7, 10); // 420/min of 600 sent: 70% of the limit
    await learn(0, { calls: 1, rate_limited: 1 });
    const cut = (0.9 * 0.7) / 0.97;
    expect(await pace()).toMatchObject({ burst_ms: null, backoff_factor: expect.closeTo(cut, 5) });
    const [rate] = await sql`select rate_per_minute from scheduler.provider_rate('a', ${at(10_000)})`;
    expect(Number(rate!.rate_per_minute)).toBeCloseTo(600 * 0.97 * (cut + 0.005 * 10), 5); // recovering 0.5 %/s
  });

  it("a 429 within 10 s of the limit being stated is not read as others: slow start paced those seconds", async () => {
    await seed();
    await claim(1, 0);
    await learn(-3000, { calls: 1, rate_limited: 1, limit_requests: 600 });
    await learn(-1000, { calls: 1, successes: 1 });
    await delivered(-10_000, 0, 7);
    await learn(0, { calls: 1, rate_limited: 1 });
    expect(await pace()).toMatchObject({ burst_ms: 250, backoff_factor: 1 });
  });

  it("a 429 when less than the pace got through but all daybreak sent did (it sent below its pace) is the timing, not others", async () => {
    await seed();
    await claim(1, 0);
    await sql`update scheduler.provider_pace set learned_requests_per_minute = 600, limit_known_at = ${at(-20_000)} where provider = 'a'`;
    await delivered(-10_000, 0, 7); // 420/min got through of 420/min sent: paused, between workers, short of slots
    await learn(0, { calls: 1, rate_limited: 1 });
    expect(await pace()).toMatchObject({ burst_ms: 250, backoff_factor: 1 });
  });

  it("a 429 when the pace got through is the timing: the burst halves, the pace stays", async () => {
    await seed();
    await claim(1, 0);
    await sql`update scheduler.provider_pace set learned_requests_per_minute = 600 where provider = 'a'`;
    await delivered(-10_000, 0, 10); // 600/min
    await learn(0, { calls: 1, rate_limited: 1 });
    expect(await pace()).toMatchObject({ burst_ms: 250, backoff_factor: 1 });
  });

  it("429s to calls sent before a pause do not lengthen it; one after it doubles the next", async () => {
    await seed();
    await claim(1, 0);
    await learn(0, { calls: 1, rate_limited: 1 });
    expect(await pace()).toMatchObject({ paused_until: at(1000), pauses_in_a_row: 1 });
    await learn(500, { calls: 3, rate_limited: 3 }); // in flight when the first came back
    expect(await pace()).toMatchObject({ paused_until: at(1000), pauses_in_a_row: 1 });
    await learn(1500, { calls: 1, rate_limited: 1 });
    expect(await pace()).toMatchObject({ paused_until: at(3500), pauses_in_a_row: 2 });
  });

  it("a 429 with the burst already at its shortest lowers the provider's share of its limit, 3 points at a time, to 85% at least", async () => {
    await seed();
    await claim(1, 0);
    await sql`update scheduler.provider_pace set learned_requests_per_minute = 600, burst_ms = 50 where provider = 'a'`;
    for (let episode = 0; episode < 6; episode++) {
      await learn(episode * 10_000, { calls: 1, rate_limited: 1 });
      await learn(episode * 10_000 + 5_000, { calls: 1, successes: 1 });
    }
    const [row] = await sql`select target_percent, burst_ms from scheduler.provider_pace where provider = 'a'`;
    expect(row).toEqual({ target_percent: 85, burst_ms: 50 }); // 97 → 94 → 91 → 88 → 85 → 85
    const [rate] = await sql`select rate_per_minute from scheduler.provider_rate('a', ${at(120_000)})`;
    expect(Number(rate!.rate_per_minute)).toBeCloseTo(600 * 0.85, 5); // the back-off itself has recovered
  });

  it("a configured limit is never probed above: slow start does not apply", async () => {
    await seed();
    await sql`update public.providers set requests_per_minute = 120`;
    for (let ms = 0; ms <= 3000; ms += 100) await claim(64, ms);
    expect((await pace()).probe_rpm).toBeNull();
    const granted = (await sql`select count(*)::int as n from scheduler.batch_tasks where status = 'processing'`)[0]!.n;
    // 3 s at 120 × 97%/min, plus the bucket it started with (0.5 s of pace, at least 1.5 calls).
    expect(granted).toBeLessThanOrEqual(Math.floor(3 * 2 * 0.97 + 1.5));
  });

  it("remaining headers hold the claims: what the provider says remains (other clients' calls counted), refilled at the limit's rate, less what was claimed since", async () => {
    await seed();
    await sql`update public.providers set requests_per_minute = 600`; // 10/s; bucket 4.85
    await claim(1, 0);
    // Other clients of the key left 2 calls of the minute: the bucket holds more, the claim gets 2.
    await learn(1000, { calls: 1, successes: 1, remaining_requests: 2 });
    expect((await claim(64, 1000)).tasks).toHaveLength(2);
    // 500 ms later the provider has refilled 5 (at 600/min); the bucket holds 4.85: 4 go.
    const later = await claim(64, 1500);
    expect(later.tasks).toHaveLength(4);
    expect(Number((await pace()).remaining_requests)).toBeCloseTo(1, 5);
  });

});

describe("tokens per minute", () => {
  it("each call draws its prompt's tokens plus max_tokens; long prompts get fewer calls; usage settles the difference", async () => {
    await seed(8);
    await sql`update public.prompts set text = repeat('x', 400)`; // 100 tokens + max_tokens 100 = 200 a call
    await sql`update public.providers set requests_per_minute = 60000, tokens_per_minute = 60000, max_tokens = 100`;
    await setConfig(sql, { pace_burst_ms: 1000 }); // token bucket: 970 tokens
    const first = await claim(64, 0);
    expect(first.tasks.map((t) => t.estimated_tokens)).toEqual([200, 200, 200, 200]);
    expect(Number((await pace()).token_bucket)).toBeCloseTo(970 - 800, 5);
    // The calls used 150 each: 200 tokens come back.
    await learn(0, { calls: 4, successes: 4, token_adjustment: -200 });
    expect(Number((await pace()).token_bucket)).toBeCloseTo(370, 5);
    await sql`update public.prompts set text = repeat('x', 8000)`; // 2,000 + 100 tokens: more than the bucket holds
    await sql`update scheduler.batch_tasks set status = 'pending', attempts = 0 where status = 'processing'`;
    await sql`update scheduler.provider_pace set token_bucket = null, token_bucket_at = null where provider = 'a'`;
    const big = await claim(64, 1000);
    expect(big.tasks.map((t) => t.estimated_tokens)).toEqual([2100]); // one goes when the bucket is full
    expect(Number((await pace()).token_bucket)).toBeCloseTo(970 - 2100, 5);
    const none = await claim(64, 1500); // the debt is paid back at 970/s before the next
    expect(none.tasks).toEqual([]);
    expect(none.wait_ms).toBeGreaterThan(700); // 645 tokens owed + the next call's 100, at 0.97 a ms
  });
});
