// Database access for the benchmark: connections to the throwaway cluster bench/run started,
// and the resets and planner-statistics steps every section shares.
import { connect, databaseUrl, type Sql } from "../../harness/db.ts";

export { connect, databaseUrl, type Sql };

/** Empties daybreak's run state (runs, jobs, tasks, results, invocations, pg_net queue), keeping
 * organizations, prompts and providers. The last pass's stragglers (a processor's last round, the
 * reconciler, pg_net's worker) may still hold some of these tables, taken in another order than
 * TRUNCATE's: a deadlock there rolls the whole TRUNCATE back, so it is tried again. */
export async function clearRunState(sql: Sql): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await sql.begin(async (tx) => {
        await tx`truncate scheduler.batch_tasks, scheduler.batch_jobs, scheduler.scheduler_runs, scheduler.cron_ticks,
                          public.prompt_results, net.http_request_queue, net._http_response`;
        await tx`truncate scheduler.runs cascade`;
      });
      return;
    } catch (e) {
      if ((e as { code?: string }).code !== "40P01" || attempt >= 5) throw e;
    }
  }
}

/** Planner statistics for every table of a schema. BENCH_NOTES: a freshly bulk-loaded backlog
 * without ANALYZE makes the plans (and so the numbers) depend on when autovacuum ran; every
 * system gets ANALYZE after its enqueue. */
export async function analyzeSchemas(sql: Sql, ...schemas: string[]): Promise<void> {
  const tables = await sql<{ name: string }[]>`
    select format('%I.%I', schemaname, tablename) as name from pg_tables where schemaname = any(${schemas})`;
  for (const t of tables) await sql.unsafe(`analyze ${t.name}`);
}

export async function configInt(sql: Sql, key: string): Promise<number> {
  const [row] = await sql<{ v: number }[]>`select scheduler.config_int(${key}) as v`;
  return row!.v;
}

export async function clearVault(sql: Sql): Promise<void> {
  await sql`delete from vault.secrets where name in ('daybreak_functions_url', 'daybreak_cron_secret')`;
}
