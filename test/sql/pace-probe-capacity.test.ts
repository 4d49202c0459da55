// A provider that never refused a call is found by its latency (scheduler.learn_pace, grow_probe):
// what it delivered while it queued is its capacity as read; the probe climbs back to near it
// quickly and past it slowly, and holds while latency has risen.
import { describe, expect, it } from "vitest";
import { sql, at, claim, claimAndAnswer, learn, pace, delivered, seed } from "./pace-fixture.ts";

async function deliveredOver10s(ms: number): Promise<number> {
  const [row] = await sql<{ rpm: number }[]>`select successes_per_minute as rpm from scheduler.delivered_per_minute('a', ${at(ms)}, interval '10 seconds')`;
  return Number(row!.rpm);
}

async function capacityRead(): Promise<number | null> {
  const [row] = await sql<{ rpm: number | null }[]>`select probe_queued_rpm as rpm from scheduler.provider_pace where provider = 'a'`;
  return row!.rpm === null ? null : Number(row!.rpm);
}

/** A provider past slow start that never refused a call, with a floor of 800 ms, at `probeRpm`. */
async function steady(probeRpm: number, capacityRpm: number | null): Promise<void> {
  await seed();
  await claim(64, 0);
  await learn(100, { calls: 60, successes: 60, latency_ms: 800 });
  await sql`update scheduler.provider_pace set probe_rpm = ${probeRpm}, probe_phase = 'steady', probe_queued_rpm = ${capacityRpm}
             where provider = 'a'`;
}

describe("a provider found by its latency", () => {
  it("what it delivers while it queues is its capacity: the most over any 10 s of the episode, read afresh when slow start ends", async () => {
    await seed();
    await claim(64, 0);
    await sql`update scheduler.provider_pace set probe_rpm = 3000 where provider = 'a'`;
    await learn(100, { calls: 60, successes: 60, latency_ms: 800 });
    await delivered(0, 5000, 10);
    await delivered(5000, 10_000, 16);
    await learn(10_000, { calls: 16, successes: 16, latency_ms: 2400 });
    expect(await pace()).toMatchObject({ queueing: true, probe_phase: "steady" });
    const atExit = await deliveredOver10s(10_000); // slow start's climb is in it
    expect(atExit).toBeLessThan(16 * 60);
    expect(await capacityRead()).toBeCloseTo(atExit, 5);
    // The queue it built drains at the provider's capacity: the most that got through while it
    // queued counts, not what came before.
    await delivered(10_000, 21_000, 17);
    await learn(21_000, { calls: 17, successes: 17, latency_ms: 2000 });
    expect((await pace()).queueing).toBe(true);
    const draining = await deliveredOver10s(21_000);
    expect(draining).toBeGreaterThan(atExit);
    expect(await capacityRead()).toBeCloseTo(draining, 5);
    // Less later (paced under it, or a rise read wrong) lowers nothing.
    await delivered(21_000, 40_000, 12);
    await learn(40_000, { calls: 12, successes: 12, latency_ms: 1900 });
    expect(await deliveredOver10s(40_000)).toBeLessThan(draining);
    expect(await capacityRead()).toBeCloseTo(draining, 5);
  });

  it("a rise cuts the probe to 90% of the last 3 s however far above them it ran, and the queue drained gives nothing back", async () => {
    await steady(1600, 960);
    await delivered(2000, 5000, 16); // 960/min: the pace was 1.67× what the provider serves
    await learn(5500, { calls: 100, successes: 100, latency_ms: 2400 });
    let p = await pace();
    expect(p.queueing).toBe(true);
    expect(Number(p.probe_rpm)).toBeCloseTo(960 * 0.9, 5);
    await learn(5600, { calls: 100, successes: 100, latency_ms: 800 });
    await learn(5700, { calls: 100, successes: 100, latency_ms: 800 });
    p = await pace();
    expect(p.queueing).toBe(false);
    expect(Number(p.probe_rpm)).toBeCloseTo(960 * 0.9, 5);
  });

  it("the probe climbs 3% a second to 92% of the capacity read, 0.3% a second past it", async () => {
    await steady(800, 1000);
    for (let ms = 150; ms <= 2150; ms += 50) await claimAndAnswer(64, ms); // 2 s pressed
    const climbed = Number((await pace()).probe_rpm) / 800;
    expect(climbed).toBeGreaterThan(1.05);
    expect(climbed).toBeLessThan(1.031 ** 2);
    await sql`update scheduler.provider_pace set probe_rpm = 920 where provider = 'a'`;
    for (let ms = 2200; ms <= 4200; ms += 50) await claimAndAnswer(64, ms);
    const crept = Number((await pace()).probe_rpm) / 920;
    expect(crept).toBeGreaterThan(1.004);
    expect(crept).toBeLessThan(1.0031 ** 2);
  });

  it("the probe holds while latency is more than half the rise above its floor, and climbs again once it is back", async () => {
    await steady(800, null);
    await learn(200, { calls: 100, successes: 100, latency_ms: 1000 }); // 1.2× the floor: not queueing yet
    let p = await pace();
    expect(p.queueing).toBe(false);
    expect(Number(p.latency_ms_ewma) / 800).toBeGreaterThan(1.125);
    for (let ms = 250; ms <= 2000; ms += 50) await claimAndAnswer(64, ms); // pressed, held
    expect(Number((await pace()).probe_rpm)).toBeCloseTo(800, 5);
    await learn(2100, { calls: 100, successes: 100, latency_ms: 800 });
    await learn(2200, { calls: 100, successes: 100, latency_ms: 800 });
    p = await pace();
    expect(Number(p.latency_ms_ewma) / 800).toBeLessThan(1.125);
    for (let ms = 2250; ms <= 4000; ms += 50) await claimAndAnswer(64, ms);
    expect(Number((await pace()).probe_rpm)).toBeGreaterThan(800 * 1.04);
  });
});
