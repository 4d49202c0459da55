// The pacer's SQL driven by hand, for the pace tests: a claim at a given moment, a round's
// feedback, what the provider delivered per second, the pace row. Every call takes p_now, so
// "a second later" is a parameter. Each test file that imports it gets its own pool and hooks.
import { afterAll, afterEach, beforeEach } from "vitest";
import { connect } from "../../harness/db.ts";
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import { DEFAULT_CONFIG, setConfig, startRunInSql } from "../../harness/runs.ts";

export const sql = connect(10);
afterAll(() => sql.end());
beforeEach(() => resetState(sql));
afterEach(() => setConfig(sql, DEFAULT_CONFIG));

export const T0 = new Date("2026-11-23T08:00:00Z");
export const at = (ms: number) => new Date(T0.getTime() + ms);

export interface Claim { tasks: { task_id: string; estimated_tokens: number }[]; wait_ms: number | null; rate_per_minute: number }

export async function claim(limit: number, ms: number, provider = "a"): Promise<Claim> {
  const [row] = await sql<{ c: Claim }[]>`select scheduler.claim_paced_tasks('w', ${provider}, ${limit}::int, ${at(ms)}) as c`;
  return row!.c;
}

/** A claim whose calls come back at once: nothing stays in flight (the in-flight ceiling is tested on its own). */
export async function claimAndAnswer(limit: number, ms: number): Promise<Claim> {
  const c = await claim(limit, ms);
  await sql`update scheduler.batch_tasks set status = 'succeeded', lease_expires_at = null where status = 'processing'`;
  return c;
}

export async function learn(ms: number, feedback: Record<string, unknown>): Promise<void> {
  await sql`select scheduler.learn_pace(${sql.json([{ provider: "a", calls: 1, successes: 0, rate_limited: 0, ...feedback }] as never)}, ${at(ms)})`;
}

export async function pace() {
  const [row] = await sql`select probe_rpm, probe_phase, queueing, paused_until, pauses_in_a_row, burst_ms, backoff_factor,
                                 learned_requests_per_minute, remaining_requests, token_bucket, latency_floor_ms, latency_ms_ewma
                            from scheduler.provider_pace where provider = 'a'`;
  return row!;
}

/** What the provider delivered: n successes in each of the seconds [fromMs, toMs), of `sent` calls
 * daybreak claimed in each (as many as got through unless said). */
export async function delivered(fromMs: number, toMs: number, perSecond: number, sent = perSecond): Promise<void> {
  for (let ms = fromMs; ms < toMs; ms += 1000) {
    await sql`insert into scheduler.provider_seconds (provider, second, claimed, successes)
              values ('a', date_trunc('second', ${at(ms)}::timestamptz), ${sent}, ${perSecond})
              on conflict (provider, second) do update set claimed = excluded.claimed, successes = excluded.successes`;
  }
}

export async function seed(prompts = 400): Promise<void> {
  await seedOrganizations(sql, { organizations: 4, promptsPerOrg: prompts / 4, providers: { a: "http://127.0.0.1:9/v1" } });
  await startRunInSql(sql);
}
