// The local platform runs hosted Supabase's versions: pg_cron 1.6 (hosted runs 1.6.4, the pinned
// build scripts/lib/extensions.sh installs), whose second-level schedules daybreak's reconciler
// uses, and pg_stat_statements preloaded and created in schema extensions. Debian's pg_cron 1.4
// fails both pg_cron tests: its extension says 1.4-1 and it refuses '1 seconds' as a schedule.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, waitFor, type Sql } from "../../harness/db.ts";

let sql: Sql;
beforeAll(() => {
  sql = connect(2);
});
afterAll(() => sql.end());

describe("pg_cron", () => {
  it("is 1.6, the version hosted Supabase runs", async () => {
    const [ext] = await sql`select extversion from pg_extension where extname = 'pg_cron'`;
    expect(ext).toEqual({ extversion: "1.6" });
    const [{ running }] = await sql`select count(*)::int as running from pg_stat_activity where backend_type = 'pg_cron launcher'`;
    expect(running).toBe(1);
  });

  it("runs a job on a seconds schedule every second, not every minute", async () => {
    const [{ jobid }] = await sql<{ jobid: number }[]>`
      select cron.schedule(${`platform-test-seconds-${Date.now()}`}, '1 seconds', 'select 1') as jobid`;
    try {
      const [job] = await sql`select schedule from cron.job where jobid = ${jobid}`;
      expect(job!.schedule).toBe("1 seconds");
      // Three runs inside 20 s cannot come from a minute schedule.
      const runs = await waitFor(
        "three succeeded runs of the seconds job",
        () => sql<{ start_time: Date }[]>`
          select start_time from cron.job_run_details where jobid = ${jobid} and status = 'succeeded' order by start_time`,
        (r) => r.length >= 3,
        20_000,
        200,
      );
      const gaps = runs.slice(1).map((r, i) => r.start_time.getTime() - runs[i]!.start_time.getTime());
      for (const gap of gaps) expect(gap).toBeLessThan(5_000);
    } finally {
      await sql`select cron.unschedule(${jobid}::bigint)`;
      await sql`delete from cron.job_run_details where jobid = ${jobid}`;
    }
  }, 30_000);
});

describe("pg_stat_statements", () => {
  it("is preloaded and created in schema extensions, as on hosted Supabase", async () => {
    const [{ libs }] = await sql`select current_setting('shared_preload_libraries') as libs`;
    expect(libs.split(",").map((s: string) => s.trim())).toContain("pg_stat_statements");
    const [ext] = await sql`select extnamespace::regnamespace::text as schema from pg_extension where extname = 'pg_stat_statements'`;
    expect(ext).toEqual({ schema: "extensions" });
    // It counts statements (the view can be read only when the library was loaded at start).
    const probe = "select count(*) from pg_catalog.pg_namespace where nspname = $1 and nspowner is not null";
    const calls = async () => Number((await sql`
      select coalesce(sum(calls), 0)::int as n from extensions.pg_stat_statements where query = ${probe}`)[0]!.n);
    const before = await calls();
    for (let i = 0; i < 3; i++) await sql.unsafe(probe, [`probe-${i}`]);
    expect(await calls()).toBe(before + 3);
  });
});
