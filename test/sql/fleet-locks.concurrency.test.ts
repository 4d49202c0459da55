// A busy fleet's statements, many real connections at once: claims (the provider's pace row, then
// tasks and their batch jobs), rounds of outcomes with the pacer's feedback (tasks, then the pace
// row) and heartbeats (the batch jobs of a worker's in-flight tasks). A fleet's workers hold tasks
// of the same batch jobs and share one pace row per provider, so these must never wait on each
// other in a cycle: a deadlock costs the loser a second (deadlock_timeout) and its retry.
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import postgres from "postgres";
import { connect, databaseUrl, type Sql } from "../../harness/db.ts";
import { resetState, seedOrganizations } from "../../harness/fixtures.ts";
import { startRunInSql } from "../../harness/runs.ts";

const WORKERS = 16;
const sql = connect(5);

beforeEach(async () => {
  await resetState(sql);
  await seedOrganizations(sql, { organizations: 24, promptsPerOrg: 2 * WORKERS, providers: { a: "http://127.0.0.1:9/v1", b: "http://127.0.0.1:9/v1" } });
  await sql`update public.providers set requests_per_minute = 6000000`;
});
afterAll(async () => {
  await resetState(sql);
  await sql.end();
});

interface Claimed { task_id: string; attempt_token: string }

async function claim(db: Sql, worker: string, provider: string, n: number): Promise<Claimed[]> {
  const [row] = await db<{ c: { tasks: Claimed[] } }[]>`select scheduler.claim_paced_tasks(${worker}, ${provider}, ${n}::int) as c`;
  return row!.c.tasks;
}

async function registerProcessors(workers: string[]): Promise<Map<string, string>> {
  const processors = new Map<string, string>();
  for (const worker of workers) {
    const [row] = await sql<{ id: string }[]>`
      insert into scheduler.processors (worker, status, started_at, last_seen) values (${worker}, 'running', now(), now()) returning id`;
    processors.set(worker, row!.id);
  }
  return processors;
}

/** Runs each worker's loop on its own connection, all at once; returns every error raised. */
async function race(workers: string[], loop: (db: Sql, worker: string, i: number) => Promise<void>): Promise<string[]> {
  const errors: string[] = [];
  const connections = workers.map(() => postgres(databaseUrl(), { max: 1, onnotice: () => {} }) as Sql);
  try {
    await Promise.all(workers.map((worker, i) => loop(connections[i]!, worker, i).catch((e: Error) => { errors.push(e.message); })));
  } finally {
    await Promise.all(connections.map((c) => c.end()));
  }
  return errors;
}

describe("a fleet's claims, rounds and heartbeats, 16 connections at once", () => {
  it("heartbeats never deadlock, with each other or with claims, and keep every shared batch job fresh", async () => {
    const { runId } = await startRunInSql(sql);
    const workers = Array.from({ length: WORKERS }, (_, i) => `worker-${i}`);
    const processors = await registerProcessors(workers);
    // One task at a time, round-robin, on provider a: each worker holds tasks of many batch jobs,
    // and each batch job is held by many workers. Provider b's tasks are for the racing claims.
    for (let round = 0; round < 12; round++) {
      for (const worker of workers) await claim(sql, worker, "a", 1);
    }
    const [shared] = await sql<{ jobs: number; holders: number }[]>`
      select count(*)::int as jobs, min(n)::int as holders from (
        select batch_job_id, count(distinct claimed_by) as n from scheduler.batch_tasks
         where status = 'processing' group by batch_job_id) x`;
    expect(shared!.jobs).toBeGreaterThan(10);
    expect(shared!.holders).toBeGreaterThan(1);

    const startedAt = new Date();
    const errors = await race(workers, async (db, worker, i) => {
      for (let n = 0; n < 40; n++) {
        await db`select scheduler.heartbeat_processor(${processors.get(worker)!}::uuid, ${worker}, 12)`;
        if (n % 10 === i % 10) await claim(db, worker, "b", 1);
      }
    });
    expect(errors).toEqual([]);
    const [stale] = await sql<{ n: number }[]>`
      select count(*)::int as n from scheduler.batch_jobs
       where run_id = ${runId} and status = 'processing' and (last_heartbeat is null or last_heartbeat < ${startedAt})`;
    expect(stale!.n).toBe(0);
  }, 60_000);

  it("claims and rounds with the pacer's feedback never deadlock, and every task is done once", async () => {
    const { runId } = await startRunInSql(sql);
    const workers = Array.from({ length: WORKERS }, (_, i) => `worker-${i}`);
    const processors = await registerProcessors(workers);
    const errors = await race(workers, async (db, worker) => {
      // Each round also repeats one outcome of the round before, as a processor whose lease was
      // taken over would: refused as a duplicate, counted on its batch job.
      let late: Claimed | null = null;
      for (;;) {
        const tasks = await claim(db, worker, "a", 5);
        if (tasks.length === 0) return;
        await db`select scheduler.heartbeat_processor(${processors.get(worker)!}::uuid, ${worker}, ${tasks.length}::int)`;
        const outcomes = [...(late ? [late] : []), ...tasks]
          .map((t) => ({ ...t, outcome: "succeeded", answered_by: "a", model: "m", response: "ok", attempts: 1, latency_ms: 5 }));
        late = tasks[0]!;
        const feedback = [{ provider: "a", run_id: runId, calls: tasks.length, successes: tasks.length, calls_by_status: { "200": tasks.length }, latency_ms: 5 }];
        await db`select scheduler.record_task_outcomes(${worker}, ${db.json(outcomes as never)}, ${db.json(feedback as never)})`;
      }
    });
    expect(errors).toEqual([]);
    const [done] = await sql<{ open: number; results: number; tasks: number }[]>`
      select count(*) filter (where t.status <> 'succeeded' and t.provider = 'a')::int as open,
             (select count(*)::int from public.prompt_results r where r.run_id = ${runId} and r.provider = 'a') as results,
             count(*) filter (where t.provider = 'a')::int as tasks
        from scheduler.batch_tasks t where t.run_id = ${runId}`;
    expect(done).toEqual({ open: 0, results: done!.tasks, tasks: 24 * 2 * WORKERS });
  }, 60_000);
});
