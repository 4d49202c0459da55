// The shared pacer (scheduler.claim_paced_tasks, record_task_outcomes, provider_rate) against a
// real database: the rate bound under many concurrent claimers, fairness between organizations,
// max_in_flight, AIMD and retry-after, learned vs configured limits, quota pauses, fencing.
// Claims take p_now, so "a second later" is a parameter, not a sleep.
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { connect } from "../../harness/db.ts";
import { resetState, seedOrganizations, setVault } from "../../harness/fixtures.ts";
import { DEFAULT_CONFIG, setConfig, startRunInSql } from "../../harness/runs.ts";

const sql = connect(40);
afterAll(() => sql.end());
beforeEach(async () => {
  await resetState(sql);
  await sql`delete from scheduler.processors`;
});
afterEach(() => setConfig(sql, DEFAULT_CONFIG));

interface Claim {
  tasks: { task_id: string; attempt_token: string; org_id: string; batch_job_id: string; run_id: string }[];
  wait_ms: number | null;
  rate_per_minute: number;
  has_work: boolean;
  paused?: boolean;
}

async function claim(provider: string, limit: number, at: Date, worker = "w"): Promise<Claim> {
  const [row] = await sql<{ c: Claim }[]>`select scheduler.claim_paced_tasks(${worker}, ${provider}, ${limit}::int, ${at}) as c`;
  return row!.c;
}

const T0 = new Date("2026-11-23T08:00:00Z");
const plus = (ms: number) => new Date(T0.getTime() + ms);

describe("the rate bound", () => {
  it("50 connections claiming at once never get more than the bucket holds; a second later, only the refill", async () => {
    await seedOrganizations(sql, { organizations: 20, promptsPerOrg: 20, providers: { a: "http://127.0.0.1:9/v1" } });
    await sql`update public.providers set requests_per_minute = 1200`; // 20/s paced at 97% → 19.4/s
    await setConfig(sql, { pace_burst_ms: 1000 }); // capacity 19.4 → 19 calls
    await startRunInSql(sql);
    const first = await Promise.all(Array.from({ length: 50 }, (_, i) => claim("a", 5, T0, `w${i}`)));
    const granted = first.flatMap((c) => c.tasks.map((t) => t.task_id));
    expect(granted).toHaveLength(19);
    expect(new Set(granted).size).toBe(19); // no task handed out twice
    const second = await Promise.all(Array.from({ length: 50 }, (_, i) => claim("a", 5, plus(1000), `w${i}`)));
    const more = second.flatMap((c) => c.tasks.map((t) => t.task_id));
    // 0.4 left over + 19.4 refilled, capped at the capacity: 19 more, none of them seen before.
    expect(more.length).toBe(19);
    expect(more.filter((id) => granted.includes(id))).toEqual([]);
    const waits = second.filter((c) => c.tasks.length === 0).map((c) => c.wait_ms!);
    expect(Math.min(...waits)).toBeGreaterThan(0);
  });

  it("max_in_flight caps calls in flight across claimers; a completion frees a slot", async () => {
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 10, providers: { a: "http://127.0.0.1:9/v1" } });
    await sql`update public.providers set requests_per_minute = 60000, max_in_flight = 3`;
    await startRunInSql(sql);
    const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => claim("a", 4, T0, `w${i}`)));
    const tasks = claims.flatMap((c) => c.tasks);
    expect(tasks).toHaveLength(3);
    expect(claims.filter((c) => c.tasks.length === 0).every((c) => c.wait_ms === null)).toBe(true);
    const t = tasks[0]!;
    await sql`select scheduler.record_task_outcomes('w', ${sql.json([{ task_id: t.task_id, attempt_token: t.attempt_token, outcome: "succeeded",
      answered_by: "a", model: "m", response: "r", attempts: 1, latency_ms: 5 }] as never)})`;
    expect((await claim("a", 4, plus(10))).tasks).toHaveLength(1);
  });
});

describe("fairness", () => {
  it("one organization's many prompts do not starve the others: first tasks of every organization go first", async () => {
    const { orgIds } = await seedOrganizations(sql, { organizations: 3, promptsPerOrg: 2, providers: { a: "http://127.0.0.1:9/v1" } });
    await sql`insert into public.prompts (org_id, text) select ${orgIds[0]!}, 'bulk ' || g from generate_series(1, 200) g`;
    await sql`update public.providers set requests_per_minute = 600000`;
    await startRunInSql(sql);
    const c = await claim("a", 6, T0);
    const perOrg = new Map<string, number>();
    for (const t of c.tasks) perOrg.set(t.org_id, (perOrg.get(t.org_id) ?? 0) + 1);
    expect([...perOrg.values()]).toEqual([2, 2, 2]);
  });
});

describe("learning and backing off", () => {
  it("an unconfigured limit is learned from the provider's headers; a configured one wins", async () => {
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    const { runId } = await startRunInSql(sql);
    const rate = async () => (await sql`select * from scheduler.provider_rate('a', ${plus(0)})`)[0]!;
    expect(await rate()).toMatchObject({ limit_per_minute: null, limit_source: "unknown", rate_per_minute: 300 * 0.97 });
    await feedback({ provider: "a", run_id: runId, calls: 1, calls_by_status: { 200: 1 }, limit_requests: 500 });
    expect(await rate()).toMatchObject({ limit_per_minute: 500, limit_source: "learned", rate_per_minute: 500 * 0.97 });
    await sql`update public.providers set requests_per_minute = 200`;
    expect(await rate()).toMatchObject({ limit_per_minute: 200, limit_source: "configured" });
    // A token limit becomes a request limit through the tokens a call uses.
    await sql`update public.providers set requests_per_minute = null, tokens_per_minute = 10000`;
    await feedback({ provider: "a", run_id: runId, calls: 1, calls_by_status: { 200: 1 }, tokens_per_call: 100 });
    expect((await rate()).limit_per_minute).toBeCloseTo(100, 5);
  });

  it("a 429 when others took their share cuts the rate to what got through, which recovers linearly; retry-after pauses claims; 429s are counted", async () => {
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 5, providers: { a: "http://127.0.0.1:9/v1" } });
    await sql`update public.providers set requests_per_minute = 1000`;
    const { runId } = await startRunInSql(sql);
    // Of 16 calls a second sent at the pace over the last 10 s, 8 got through: 480/min, under half
    // of what was paced.
    await sql`insert into scheduler.provider_seconds (provider, second, claimed, successes)
              select 'a', date_trunc('second', now()) - make_interval(secs => s), 16, 8 from generate_series(1, 10) s`;
    await feedback({ provider: "a", run_id: runId, calls: 2, calls_by_status: { 429: 2 }, rate_limited: 2, retry_after_ms: 3000 });
    const [pace] = await sql`select backoff_at, burst_ms, paused_until - backoff_at as pause from scheduler.provider_pace`;
    expect(pace!.burst_ms).toBeNull(); // not the timing: the burst is kept
    const at = (ms: number) => new Date(pace!.backoff_at.getTime() + ms);
    const rateAt = async (ms: number) => Number((await sql`select rate_per_minute from scheduler.provider_rate('a', ${at(ms)})`)[0]!.rate_per_minute);
    expect(await rateAt(0)).toBeCloseTo(970 * 0.5, 0); // 90% of 0.48 is under half: half (Date has ms, timestamptz µs)
    expect(await rateAt(20_000)).toBeCloseTo(970 * 0.6, 0); // +0.5% of the limit per second
    expect(await rateAt(100_000)).toBeCloseTo(970, 0);
    const paused = await claim("a", 5, at(1000));
    expect(paused).toMatchObject({ tasks: [], paused: true });
    expect(paused.wait_ms).toBeGreaterThanOrEqual(1999);
    expect(paused.wait_ms).toBeLessThanOrEqual(2001);
    expect((await claim("a", 5, at(3300))).tasks.length).toBeGreaterThan(0); // the bucket restarts empty at 3 s
    const [stats] = await sql`select calls, rate_limited, calls_by_status from scheduler.provider_run_stats`;
    expect(stats).toMatchObject({ calls: "2", rate_limited: "2", calls_by_status: { 429: 2 } });
  });
});

describe("outcomes", () => {
  it("a quota 429 fails the provider's tasks in that run with the reason; the other provider runs on", async () => {
    await seedOrganizations(sql, { organizations: 2, promptsPerOrg: 3, providers: { a: "http://127.0.0.1:9/v1", b: "http://127.0.0.1:9/v1" } });
    await sql`update public.providers set requests_per_minute = 60000`;
    await startRunInSql(sql);
    const [t] = (await claim("a", 1, T0)).tasks;
    const [r] = await sql`select scheduler.record_task_outcomes('w', ${sql.json([{ task_id: t!.task_id, attempt_token: t!.attempt_token,
      outcome: "quota", error: "a: HTTP 429: insufficient_quota" }] as never)}) as r`;
    const rows = await sql`select provider, status, count(*)::int as n, min(last_error) as error
                             from scheduler.batch_tasks group by 1, 2 order by 1, 2`;
    expect(rows).toEqual([
      { provider: "a", status: "failed", n: 6, error: expect.stringMatching(/insufficient_quota/) },
      { provider: "b", status: "pending", n: 6, error: null },
    ]);
    expect(r!.r.jobs_to_finalize).toEqual([]); // b's tasks keep both jobs live
    const [stats] = await sql`select quota_reason from scheduler.provider_run_stats where provider = 'a'`;
    expect(stats!.quota_reason).toMatch(/insufficient_quota/);
  });

  it("a 429 gives the task back without spending an attempt; a late worker's outcome is fenced out", async () => {
    await seedOrganizations(sql, { organizations: 1, promptsPerOrg: 1, providers: { a: "http://127.0.0.1:9/v1" } });
    await sql`update public.providers set requests_per_minute = 60000`;
    await setConfig(sql, { task_lease_seconds: 10 });
    await startRunInSql(sql);
    const [first] = (await claim("a", 1, T0, "w1")).tasks;
    await sql`select scheduler.record_task_outcomes('w1', ${sql.json([{ ...pick(first!), outcome: "rate_limited" }] as never)})`;
    expect((await sql`select status, attempts, rate_limited from scheduler.batch_tasks`)[0]).toEqual({ status: "pending", attempts: 0, rate_limited: 1 });
    const [second] = (await claim("a", 1, plus(100), "w2")).tasks;
    // w2's lease expires; w3 reclaims it; w2's late answer is rejected, w3's is recorded once.
    const [third] = (await claim("a", 1, plus(20_000), "w3")).tasks;
    expect(third!.task_id).toBe(second!.task_id);
    const late = await sql`select scheduler.record_task_outcomes('w2', ${sql.json([{ ...pick(second!), outcome: "succeeded", answered_by: "a",
      model: "m", response: "late", attempts: 1, latency_ms: 1 }] as never)}) as r`;
    expect(late[0]!.r.rejected.map(String)).toEqual([second!.task_id]);
    const ok = await sql`select scheduler.record_task_outcomes('w3', ${sql.json([{ ...pick(third!), outcome: "succeeded", answered_by: "a",
      model: "m", response: "on time", attempts: 1, latency_ms: 1 }] as never)}) as r`;
    expect(ok[0]!.r.jobs_to_finalize).toHaveLength(1);
    expect(await sql`select response from public.prompt_results`).toEqual([{ response: "on time" }]);
  });
});

describe("the fleet", () => {
  it("10 callers at once kick exactly the fleet the demand needs, and a live fleet keeps jobs from going stale", async () => {
    await seedOrganizations(sql, { organizations: 4, promptsPerOrg: 5, providers: { a: "http://127.0.0.1:9/v1", b: "http://127.0.0.1:9/v1" } });
    await sql`update public.providers set requests_per_minute = 1200`; // 19.4/s × 2 s default latency ≈ 39 in flight each
    await setConfig(sql, { processor_in_flight_per_invocation: 10, max_processor_invocations: 6 });
    await startRunInSql(sql); // Vault is empty: planning kicks nothing
    await setVault(sql, "http://127.0.0.1:9/functions/v1", "s".repeat(40));
    const kicked = await Promise.all(Array.from({ length: 10 }, () => sql`select scheduler.ensure_processor_fleet('cron') as n`));
    expect(kicked.reduce((s, [r]) => s + r!.n, 0)).toBe(6); // ceil(77.6 / 10) = 8, capped at 6
    const [{ n }] = await sql`select count(*)::int as n from daybreak_test.net_requests`;
    expect(n).toBe(6);
    expect((await sql`select status, count(*)::int as n from scheduler.processors group by 1`)).toEqual([{ status: "kicked", n: 6 }]);

    // A processing job whose heartbeat is old is not stale while the fleet is live.
    await claim("a", 1, new Date());
    await sql`update scheduler.batch_jobs set last_heartbeat = now() - interval '10 minutes', created_at = now() - interval '10 minutes'`;
    expect(await sql`select * from scheduler.stale_batch_jobs()`).toHaveLength(0);
    await sql`update scheduler.processors set kicked_at = now() - interval '1 hour'`; // they never started
    expect((await sql`select * from scheduler.stale_batch_jobs()`).length).toBe(4);
  });
});

function pick(t: { task_id: string; attempt_token: string }) {
  return { task_id: t.task_id, attempt_token: t.attempt_token };
}

async function feedback(f: Record<string, unknown>): Promise<void> {
  await sql`select scheduler.record_task_outcomes('w', '[]'::jsonb, ${sql.json([f] as never)})`;
}
