// Heartbeats of a busy fleet, many real connections at once: every processor's heartbeat touches
// the batch jobs its in-flight tasks belong to, and a fleet's tasks share batch jobs, so the
// heartbeats (and the claims beside them) must never wait on each other in a cycle.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { connect, databaseUrl } from "../../harness/db.ts";
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import { DEFAULT_CONFIG, setConfig, startRunInSql } from "../../harness/runs.ts";

const WORKERS = 16;
const ROUNDS = 40;
const sql = connect(5);

beforeAll(async () => {
  await resetState(sql);
  await seedOrganizations(sql, { organizations: 24, promptsPerOrg: 2 * WORKERS, providers: { a: "http://127.0.0.1:9/v1", b: "http://127.0.0.1:9/v1" } });
  await sql`update public.providers set requests_per_minute = 6000000`;
});
afterAll(async () => {
  await setConfig(sql, DEFAULT_CONFIG);
  await resetState(sql);
  await sql.end();
});

describe("heartbeats of a fleet whose tasks share batch jobs", () => {
  it("never deadlock, with each other or with the claims, and keep every shared batch job fresh", async () => {
    const { runId } = await startRunInSql(sql);
    const workers = Array.from({ length: WORKERS }, (_, i) => `worker-${i}`);
    const processors = new Map<string, string>();
    for (const worker of workers) {
      const [row] = await sql<{ id: string }[]>`
        insert into scheduler.processors (worker, status, started_at, last_seen) values (${worker}, 'running', now(), now()) returning id`;
      processors.set(worker, row!.id);
    }
    // One task at a time, round-robin, on provider a: each worker ends up holding tasks in many
    // batch jobs, and every batch job is held by many workers. Provider b's tasks stay pending,
    // for the claims that race the heartbeats.
    for (let round = 0; round < 12; round++) {
      for (const worker of workers) await sql`select scheduler.claim_paced_tasks(${worker}, 'a', 1)`;
    }
    const [shared] = await sql<{ jobs: number; holders: number }[]>`
      select count(distinct batch_job_id)::int as jobs, min(n)::int as holders from (
        select batch_job_id, count(distinct claimed_by) as n from scheduler.batch_tasks
         where status = 'processing' group by batch_job_id) x`;
    expect(shared!.jobs).toBeGreaterThan(10);
    expect(shared!.holders).toBeGreaterThan(1);

    const errors: string[] = [];
    const connections = workers.map(() => postgres(databaseUrl(), { max: 1, onnotice: () => {} }));
    const startedAt = new Date();
    try {
      await Promise.all(workers.map(async (worker, i) => {
        const db = connections[i]!;
        for (let n = 0; n < ROUNDS; n++) {
          try {
            await db`select scheduler.heartbeat_processor(${processors.get(worker)!}::uuid, ${worker}, 12)`;
            if (n % 10 === i % 10) await db`select scheduler.claim_paced_tasks(${worker}, 'b', 1)`;
          } catch (error) {
            errors.push((error as Error).message);
          }
        }
      }));
    } finally {
      await Promise.all(connections.map((c) => c.end()));
    }
    expect(errors).toEqual([]);
    const [stale] = await sql<{ n: number }[]>`
      select count(*)::int as n from scheduler.batch_jobs
       where run_id = ${runId} and status = 'processing' and (last_heartbeat is null or last_heartbeat < ${startedAt})`;
    expect(stale!.n).toBe(0);
  }, 120_000);
});
