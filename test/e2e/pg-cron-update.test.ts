// A cluster kept from before pg_cron 1.6.4 (scripts/dev's .local/pg) holds pg_cron 1.4 in its
// catalog while the library is the pinned 1.6.4 build. prepare_database (scripts/lib/platform.sh)
// updates it in place: pg_cron's 1.5 step changes cron.job.jobname from name to text, which
// PostgreSQL refuses while a view reads it (daybreak's v_cron_health does), so the views on
// cron.job are dumped, dropped and recreated around the update. Here on a throwaway cluster of
// its own, the extension created at 1.4-1 from the 1.6.4 install's own upgrade scripts.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/lib/root.ts";

const SCRIPT = `
set -euo pipefail
source scripts/lib/platform.sh
use_throwaway_cluster pg-cron-update
url="$THROWAWAY_URL"
psql_run "$url" <<'SQL'
create extension pg_cron version '1.4-1';
create schema kept;
create view kept.jobs with (security_invoker = true) as select jobname, schedule from cron.job;
create view kept.job_names as select jobname from kept.jobs;
comment on view kept.jobs is 'a view on cron.job, as v_cron_health is';
grant usage on schema kept to service_role;
grant select on kept.jobs to service_role;
select cron.schedule('kept-job', '* * * * *', 'select 1');
SQL
prepare_database "$url"
prepare_database "$url" # idempotent: nothing left to update
psql_run "$url" -At <<'SQL'
select 'version=' || extversion from pg_extension where extname = 'pg_cron';
select 'jobname_type=' || format_type(atttypid, atttypmod) from pg_attribute where attrelid = 'cron.job'::regclass and attname = 'jobname';
select 'jobs=' || string_agg(jobname || ' ' || schedule, ';') from kept.jobs;
select 'job_names=' || string_agg(jobname, ';') from kept.job_names;
select 'options=' || array_to_string(reloptions, ',') from pg_class where oid = 'kept.jobs'::regclass;
select 'comment=' || obj_description('kept.jobs'::regclass, 'pg_class');
select 'grant=' || has_table_privilege('service_role', 'kept.jobs', 'select');
select 'seconds=' || (cron.schedule('kept-seconds', '5 seconds', 'select 1') > 0);
SQL
`;

describe("a kept cluster's pg_cron 1.4", () => {
  it("is updated to 1.6 by prepare_database, with the views on cron.job kept as they were", () => {
    const res = spawnSync("bash", ["-c", SCRIPT], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    const out = res.stdout + res.stderr;
    expect(res.status, out).toBe(0);
    expect(out).toMatch(/updating pg_cron in this cluster from 1\.4-1 to 1\.6\.4/);
    expect(out.match(/updating pg_cron/g)).toHaveLength(1);
    const values = Object.fromEntries(res.stdout.split("\n").filter((l) => l.includes("=")).map((l) => l.split(/=(.*)/s).slice(0, 2)));
    expect(values).toEqual({
      version: "1.6",
      jobname_type: "text",
      jobs: "kept-job * * * * *",
      job_names: "kept-job",
      options: "security_invoker=true",
      comment: "a view on cron.job, as v_cron_health is",
      grant: "true",
      seconds: "true",
    });
  }, 130_000);
});
