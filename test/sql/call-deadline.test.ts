// A provider call's deadline (scheduler.call_deadline_ms) against a real database: the configured
// timeout until enough answers are known, then 3 × the p99 of the provider's recent answers,
// floored at 5 s and capped at the timeout; other providers' answers and old ones do not count.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import postgres from "postgres";
import { connect, databaseUrl, waitFor } from "../../harness/db.ts";
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import { startRunInSql } from "../../harness/runs.ts";
import { CallDeadlines } from "../../functions/_shared/call-deadline.ts";

const sql = connect(4);
afterAll(() => sql.end());

const NOW = new Date("2026-11-23T08:00:00Z");
let taskIds: string[];
let runId: string;

beforeEach(async () => {
  await resetState(sql);
  await seedOrganizations(sql, { organizations: 8, promptsPerOrg: 50, providers: { fast: "http://127.0.0.1:9/v1" } });
  await sql`update public.providers set timeout_ms = 120000`;
  ({ runId } = await startRunInSql(sql));
  taskIds = (await sql<{ id: string }[]>`select id::text from scheduler.batch_tasks where run_id = ${runId} order by id`).map((r) => r.id);
});

/** One answer per task, the i-th answered by `by` with latency latencies[i], ageMs before NOW. */
async function answers(latencies: number[], by = "fast", ageMs = 60_000, from = 0): Promise<void> {
  const rows = latencies.map((latency, i) => ({ task: taskIds[from + i]!, latency, at: new Date(NOW.getTime() - ageMs + i) }));
  await sql`
    insert into public.prompt_results (task_id, run_id, org_id, prompt_id, provider, region, answered_by, model, response, attempts, latency_ms, created_at)
    select t.id, t.run_id, j.org_id, t.prompt_id, t.provider, t.region, ${by}, 'm', 'ok', 1, x.latency, x.at
      from jsonb_to_recordset(${sql.json(rows)}) x(task bigint, latency integer, at timestamptz)
      join scheduler.batch_tasks t on t.id = x.task
      join scheduler.batch_jobs j on j.id = t.batch_job_id`;
}

const deadline = async (provider = "fast"): Promise<number | null> =>
  (await sql<{ ms: number | null }[]>`select scheduler.call_deadline_ms(${provider}, ${NOW}) as ms`)[0]!.ms;

describe("a call's deadline follows the provider's recent latency", () => {
  it("is the configured timeout until 20 answers are known", async () => {
    await answers(Array(19).fill(100));
    expect(await deadline()).toBe(120_000);
    await answers([100], "fast", 60_000, 19);
    expect(await deadline()).toBe(5000);
  });

  it("is 3 × the p99 of the last 200 answers, at least 5 s", async () => {
    // 196 quick answers and 4 slow ones (2%): the p99 is in the slow ones' range.
    await answers([...Array(196).fill(150), 3000, 3200, 3400, 3600]);
    const ms = await deadline();
    expect(ms).toBeGreaterThanOrEqual(3 * 3200);
    expect(ms).toBeLessThanOrEqual(3 * 3600);
    // Only the last 200 count: 200 newer quick answers push the slow ones out.
    await answers(Array(200).fill(150), "fast", 30_000, 200);
    expect(await deadline()).toBe(5000);
  });

  it("never exceeds the provider's timeout", async () => {
    await answers([...Array(30).fill(20_000), ...Array(30).fill(50_000)]);
    expect(await deadline()).toBe(120_000);
    await sql`update public.providers set timeout_ms = 30000`;
    expect(await deadline()).toBe(30_000);
  });

  it("counts only the provider's own answers of the hour before the moment asked about", async () => {
    await answers(Array(100).fill(4000), "fast", 2 * 3600_000);
    await answers(Array(100).fill(4000), "fallback", 60_000, 100);
    expect(await deadline()).toBe(120_000);
    await answers(Array(40).fill(2000), "fast", 60_000, 200);
    expect(await deadline()).toBe(6000);
    // Answers after the moment asked about are not known at that moment.
    await answers(Array(40).fill(9000), "fast", -60_000, 240);
    expect(await deadline()).toBe(6000);
  });

  it("is null for a provider that does not exist, and no client role may call it", async () => {
    expect(await deadline("nobody")).toBeNull();
    for (const role of ["anon", "authenticated"]) {
      const [row] = await sql<{ ok: boolean }[]>`
        select has_function_privilege(${role}, 'scheduler.call_deadline_ms(text, timestamptz)', 'execute') as ok`;
      expect(row!.ok).toBe(false);
    }
  });

  it("the processor reads the deadlines of several providers in one query as it starts", async () => {
    // Answered a minute ago by the clock the processor reads them on.
    await answers(Array(30).fill(2000), "fast", NOW.getTime() - Date.now() + 60_000);
    // As the edge functions connect: no prepared statements (Supavisor's transaction mode).
    const edgeSql = postgres(databaseUrl(), { max: 1, prepare: false, onnotice: () => {} });
    try {
      const deadlines = new CallDeadlines(edgeSql as never, Date.now);
      deadlines.prefetch(["fast", "nobody"]);
      await waitFor("the prefetched deadline", async () => deadlines.forProvider("fast", 120_000), (ms) => ms === 6000, 10_000, 20);
      expect(deadlines.forProvider("nobody", 120_000)).toBe(120_000);
    } finally {
      await edgeSql.end();
    }
  });
});
