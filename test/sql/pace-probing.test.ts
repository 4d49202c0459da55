// How the pacer finds a limit nobody configured or stated (scheduler.claim_paced_tasks, grow_probe,
// learn_pace): slow start while claims press, a 429 or a rise in latency ending it, additive
// probing, one reaction per episode, the in-flight ceiling while probing.
import { describe, expect, it } from "vitest";
import { seedOrganizations } from "../../harness/fixtures.ts";
import { setConfig, startRunInSql } from "../../harness/runs.ts";
import { sql, at, claim, claimAndAnswer, learn, pace, delivered, seed } from "./pace-fixture.ts";

describe("probing a provider with no known limit", () => {
  it("slow start: the pace grows 1.5× a second while claims press against it, and not while they do not", async () => {
    await seed();
    await claim(64, 0); // the first claim starts the probe at 300/min × 97%
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(291, 5);
    for (let ms = 50; ms <= 2000; ms += 50) await claimAndAnswer(64, ms); // each takes what the bucket holds: pressed
    const grown = Number((await pace()).probe_rpm);
    expect(grown).toBeGreaterThan(291 * 1.5 ** 1.8);
    expect(grown).toBeLessThan(291 * 1.5 ** 2.01);
    // Claims of one call every 200 ms, while the pace gives two: the bucket refills past what it
    // holds (1.5 calls), part of the pace goes unused, and the pace stays.
    for (let ms = 2200; ms <= 4000; ms += 200) await claimAndAnswer(1, ms);
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(grown, 5);
  });

  it("claims smaller than the bucket holds (a lane short of slots) press while together they take all the pace gives", async () => {
    await seed();
    await claim(1, 0);
    // 20 calls a second, and a claim of one call every 50 ms: the claims take the whole pace.
    await sql`update scheduler.provider_pace set probe_rpm = 1200, probe_at = ${at(0)}, pressed_at = ${at(0)}, bucket = 0, bucket_at = ${at(0)}
               where provider = 'a'`;
    for (let ms = 50; ms <= 2000; ms += 50) await claimAndAnswer(1, ms);
    // It grew while they kept up with it (about half a second, until the bucket's 0.1 s of pace
    // overflowed), and no further once it outgrew them.
    const grown = Number((await pace()).probe_rpm);
    expect(grown).toBeGreaterThan(1200 * 1.5 ** 0.3);
    expect(grown).toBeLessThan(1200 * 1.5 ** 0.8);
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
    expect(p.paused_until).toEqual(at(1500)); // no retry-after: 0.5 s
    // A second 429 in a row (the window still spent) pauses longer and changes nothing else.
    await learn(2100, { calls: 1, rate_limited: 1 });
    p = await pace();
    expect(Number(p.probe_rpm)).toBeCloseTo(582, 5);
    expect(p.paused_until).toEqual(at(3100));
    expect(p.pauses_in_a_row).toBe(2);
    // A success ends the pauses in a row; a 429 within the claim horizon (1 s) and the latency (the
    // default 2 s, none observed) of the reaction is still the episode's: calls sent before it.
    await learn(2200, { calls: 1, successes: 1 });
    expect((await pace()).pauses_in_a_row).toBe(0);
    await learn(3900, { calls: 1, rate_limited: 1 });
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(582, 5);
    await learn(4200, { calls: 1, successes: 1 });
    // Later, the next 429 takes 10% off (what got through is higher now).
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
    for (let ms = 50; ms <= 5000; ms += 50) await claimAndAnswer(64, ms);
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(600 * (1 + 0.01 * 0.05) ** 100, 0); // 100 claims, 50 ms apart
    // Found by latency (never refused): running past it queues, so it climbs back faster.
    await sql`update scheduler.provider_pace set probe_rpm = 600, rate_limited_total = 0 where provider = 'a'`;
    for (let ms = 5050; ms <= 10_000; ms += 50) await claimAndAnswer(64, ms);
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(600 * (1 + 0.03 * 0.05) ** 100, 0);
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
    expect(Number(p.probe_rpm)).toBeCloseTo(810, 5); // the climb (grow_probe) starts from where the cut left it
  });

  it("leaving slow start lifts the floor by half the rise read after it: a floor read low while the pace grew does not hold queueing", async () => {
    await seed();
    await claim(64, 0);
    await sql`update scheduler.provider_pace set probe_rpm = 3000 where provider = 'a'`;
    // Read while the pace grows: the short calls come back first, so 700 ms where the provider
    // answers in 800 unloaded.
    await learn(100, { calls: 60, successes: 60, latency_ms: 700 });
    expect(Number((await pace()).latency_floor_ms)).toBe(700);
    await delivered(2000, 5000, 15);
    await learn(5500, { calls: 100, successes: 100, latency_ms: 2400 });
    let p = await pace();
    expect(p).toMatchObject({ queueing: true, probe_phase: "steady" });
    expect(Number(p.latency_floor_ms)).toBeCloseTo(700 * 1.125, 5);
    // The queue drains: between 1.125× and 1.25× the lifted floor queueing holds.
    await learn(6000, { calls: 100, successes: 100, latency_ms: 800 });
    p = await pace();
    expect(Number(p.latency_ms_ewma) / (700 * 1.125)).toBeGreaterThan(1.125);
    expect(p.queueing).toBe(true);
    // Back near 800 ms (822 now): 1.17× the floor slow start read, where queueing held for good
    // (it ends below 1.125×), under 1.125× the lifted one: over.
    await learn(6500, { calls: 100, successes: 100, latency_ms: 800 });
    p = await pace();
    expect(Number(p.latency_ms_ewma) / 700).toBeGreaterThan(1.125);
    expect(Number(p.latency_ms_ewma) / (700 * 1.125)).toBeLessThan(1.125);
    expect(p.queueing).toBe(false);
    expect(Number(p.probe_rpm)).toBeCloseTo(810, 5); // 90% of the 900/min delivered
    // The lowest smoothed latency from then on takes the floor down, and a rise of 25% from it is
    // queueing again.
    await learn(7000, { calls: 100, successes: 100, latency_ms: 760 });
    p = await pace();
    expect(Number(p.latency_ms_ewma)).toBeLessThan(700 * 1.125);
    expect(Number(p.latency_floor_ms)).toBeCloseTo(Number(p.latency_ms_ewma), 5);
    await delivered(5000, 10_000, 15);
    await learn(10_000, { calls: 100, successes: 100, latency_ms: 1100 });
    p = await pace();
    expect(Number(p.latency_ms_ewma) / Number(p.latency_floor_ms)).toBeGreaterThan(1.25);
    expect(p.queueing).toBe(true);
  });

  it("after slow start a rise of 25% is queueing (a rise the slow start does not read), until latency falls back halfway", async () => {
    await seed();
    await claim(64, 0);
    await sql`update scheduler.provider_pace set probe_rpm = 3000 where provider = 'a'`;
    await learn(100, { calls: 60, successes: 60, latency_ms: 800 });
    // 100 answers at 1170 ms move the smoothed latency 1 − 0.98^100 of the way: 1121 ms, 1.4× the floor.
    await learn(1000, { calls: 100, successes: 100, latency_ms: 1170 });
    let p = await pace();
    expect(Number(p.latency_ms_ewma)).toBeCloseTo(800 + (1 - 0.98 ** 100) * 370, 5);
    expect(p).toMatchObject({ queueing: false, probe_phase: "slow_start", probe_rpm: 3000 });
    // The same latency once slow start is over: queueing; the probe becomes 90% of what got through.
    await sql`update scheduler.provider_pace set probe_phase = 'steady', probe_rpm = 1000 where provider = 'a'`;
    await delivered(2000, 5000, 16); // 960/min
    await learn(5500, { calls: 100, successes: 100, latency_ms: 1121 });
    p = await pace();
    expect(p.queueing).toBe(true);
    expect(Number(p.probe_rpm)).toBeCloseTo(960 * 0.9, 5);
    // Between 1.125× and 1.25× the floor: still queueing; below 1.125×: it ends.
    await learn(5600, { calls: 100, successes: 100, latency_ms: 960 });
    p = await pace();
    expect(Number(p.latency_ms_ewma) / 800).toBeGreaterThan(1.125);
    expect(Number(p.latency_ms_ewma) / 800).toBeLessThan(1.25);
    expect(p.queueing).toBe(true);
    await learn(5700, { calls: 100, successes: 100, latency_ms: 800 });
    p = await pace();
    expect(Number(p.latency_ms_ewma) / 800).toBeLessThan(1.125);
    expect(p.queueing).toBe(false);
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
