// How the pacer follows limits it knows (scheduler.claim_paced_tasks, learn_pace): a limit stated
// by headers, short windows, other clients of the key, pauses, and tokens drawn per call.
import { describe, expect, it } from "vitest";
import { recordOutcomes, setConfig } from "../../harness/runs.ts";
import { sql, at, claim, learn, pace, delivered, seed } from "./pace-fixture.ts";

/** A 429 stated the limit (600/min) 4 s ago; a success since; 7 calls a second sent and delivered over 10 s. */
async function limitStatedFourSecondsAgo(): Promise<void> {
  await seed();
  await claim(1, 0);
  await learn(-4000, { calls: 1, rate_limited: 1, limit_requests: 600 });
  await learn(-1000, { calls: 1, successes: 1 });
  await delivered(-10_000, 0, 7);
}

describe("limits that are known", () => {
  it("a 429 stating the limit teaches it (no backoff for that one); a later 429 under it halves the burst and leaves the pace", async () => {
    await seed();
    await claim(64, 0);
    await learn(500, { calls: 2, rate_limited: 2, limit_requests: 600, retry_after_ms: 300 });
    let p = await pace();
    expect(p).toMatchObject({ learned_requests_per_minute: 600, burst_ms: null, backoff_factor: 1 });
    expect(p.paused_until).toEqual(at(800)); // retry-after
    await learn(1000, { calls: 1, successes: 1 });
    // Within the claim horizon (1 s) and the latency (2 s by default) of the first 429: calls sent
    // before it, the same episode.
    await learn(3000, { calls: 1, rate_limited: 1, limit_requests: 600 });
    expect(await pace()).toMatchObject({ burst_ms: null, backoff_factor: 1 });
    await learn(3100, { calls: 1, successes: 1 });
    await learn(4000, { calls: 1, rate_limited: 1, limit_requests: 600 });
    p = await pace();
    expect(p).toMatchObject({ burst_ms: 250, backoff_factor: 1, probe_rpm: expect.anything() });
    const [rate] = await sql`select * from scheduler.provider_rate('a', ${at(4000)})`;
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

  it("calls given back unsent are not counted as sent: what got through is then what daybreak sent, and a 429 is the timing", async () => {
    await seed();
    await claim(1, 0);
    await sql`update scheduler.provider_pace set learned_requests_per_minute = 600, limit_known_at = ${at(-20_000)} where provider = 'a'`;
    await delivered(-10_000, 0, 7, 10); // 7 of 10 claimed a second got through...
    // ...and 3 of them a second went back unsent (their turns fell in holds after 429s).
    const unsent = await sql<{ task_id: string; attempt_token: string }[]>`
      update scheduler.batch_tasks t set status = 'processing', attempt_token = gen_random_uuid(), attempts = 1,
             lease_expires_at = ${at(60_000)}, started_at = ${at(-10_000)}::timestamptz + make_interval(secs => x.n / 3)
        from (select id, row_number() over (order by id) - 1 as n from scheduler.batch_tasks where status = 'pending' limit 30) x
       where t.id = x.id
      returning t.id::text as task_id, t.attempt_token::text as attempt_token`;
    await recordOutcomes(sql, "w", unsent.map((u) => ({ ...u, outcome: "released", error: "", provider_called: false })));
    const [{ claimed }] = await sql`select sum(claimed)::int as claimed from scheduler.provider_seconds where provider = 'a' and second >= ${at(-10_000)} and second < ${at(0)}`;
    expect(claimed).toBe(70);
    await learn(0, { calls: 1, rate_limited: 1 });
    expect(await pace()).toMatchObject({ burst_ms: 250, backoff_factor: 1 });
  });

  it("a 429 within 10 s of the limit being stated is not read as others: slow start paced those seconds", async () => {
    await limitStatedFourSecondsAgo();
    await learn(0, { calls: 1, rate_limited: 1 });
    expect(await pace()).toMatchObject({ burst_ms: 250, backoff_factor: 1 });
  });

  it("a 429 whose remaining count says the key used more than daybreak sent: others, at once, even within 10 s of the limit being stated", async () => {
    await limitStatedFourSecondsAgo(); // 70 sent over the minute (and the claim's 1)
    await learn(0, { calls: 1, rate_limited: 1, limit_requests: 600, remaining_requests: 600 - 100 }); // the key used 100
    const cut = (0.9 * Math.min(0.7, 71 / 100)) / 0.97; // the smaller share: 420/min of 600 delivered
    expect(await pace()).toMatchObject({ burst_ms: null, backoff_factor: expect.closeTo(cut, 5) });
  });

  it("a 429 whose remaining count is what daybreak sent is the timing, not others", async () => {
    await limitStatedFourSecondsAgo();
    await learn(0, { calls: 1, rate_limited: 1, limit_requests: 600, remaining_requests: 600 - 68 }); // used a few less than sent
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
    expect(await pace()).toMatchObject({ paused_until: at(500), pauses_in_a_row: 1 }); // no retry-after: 0.5 s
    await learn(250, { calls: 3, rate_limited: 3 }); // in flight when the first came back
    expect(await pace()).toMatchObject({ paused_until: at(500), pauses_in_a_row: 1 });
    await learn(750, { calls: 1, rate_limited: 1 });
    expect(await pace()).toMatchObject({ paused_until: at(1750), pauses_in_a_row: 2 });
  });

  it("a 429 with the burst already at its shortest lowers the provider's share of its limit 3 points from where it recovered to, to 85% at least", async () => {
    await seed();
    await claim(1, 0);
    await sql`update scheduler.provider_pace set learned_requests_per_minute = 600, burst_ms = 50 where provider = 'a'`;
    for (let episode = 0; episode < 6; episode++) {
      await learn(episode * 10_000, { calls: 1, rate_limited: 1 });
      await learn(episode * 10_000 + 5_000, { calls: 1, successes: 1 });
    }
    const [row] = await sql`select target_percent, burst_ms from scheduler.provider_pace where provider = 'a'`;
    // 0.1 point a second back between episodes 10 s apart: 97 → 94, 95 → 92, 93 → 90, 91 → 88, 89 → 86, 87 → 85
    expect(row).toEqual({ target_percent: 85, burst_ms: 50 });
    const rateAt = async (ms: number) =>
      Number((await sql`select rate_per_minute from scheduler.provider_rate('a', ${at(ms)})`)[0]!.rate_per_minute);
    expect(await rateAt(80_000)).toBeCloseTo(600 * 0.88, 5); // 30 s after the last episode; the back-off itself has recovered
    expect(await rateAt(300_000)).toBeCloseTo(600 * 0.97, 5); // back to pace_target_percent, no further
  });

  it("a reaction that is not the short window's keeps the share it recovered", async () => {
    await seed();
    await claim(1, 0);
    await sql`update scheduler.provider_pace set learned_requests_per_minute = 600, limit_known_at = ${at(-20_000)}, burst_ms = 50,
                     target_percent = 85, backoff_at = ${at(0)} where provider = 'a'`;
    await delivered(20_000, 30_000, 6, 10); // 360/min of 600 sent got through: others use the key
    await learn(30_000, { calls: 1, rate_limited: 1 });
    const [row] = await sql`select target_percent, burst_ms, backoff_factor from scheduler.provider_pace where provider = 'a'`;
    // 85 + 30 s × 0.1 kept through backoff_at's reset; the cut is to 90% of the 60% that got through, of the 88% share
    expect(row).toEqual({ target_percent: expect.closeTo(88, 5), burst_ms: 50, backoff_factor: expect.closeTo((0.9 * 0.6) / 0.88, 5) });
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
