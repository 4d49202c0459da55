// Runs once before the suites: the migrations' own cron jobs are paused for the test run so the
// real clock never fires a tick in the middle of a test; tests that need pg_cron schedule their
// own jobs (or, like test/e2e/recovery.test.ts, resume one). (test/sql/cron-jobs.test.ts checks the jobs exist as migrated.)
// Tests that check what SQL queued read daybreak_test.net_requests (helpers/net-capture.ts).
import postgres from "postgres";
import { installNetCapture } from "../harness/net-capture.ts";

export async function setup(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) return; // unit-only runs need no database
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select cron.alter_job(jobid, active := false) from cron.job where jobname like 'daybreak-%'`;
    await installNetCapture(sql);
  } finally {
    await sql.end();
  }
}
