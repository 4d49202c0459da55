// Runs once before the suites: the migrations' own cron jobs are paused for the test run so the
// real clock never fires a tick in the middle of a test; tests that need pg_cron schedule their
// own every-minute jobs. (test/sql/cron-jobs.test.ts checks the jobs exist as migrated.)
// The real pg_net's worker takes requests off net.http_request_queue as soon as they commit, so
// tests that check what SQL queued read daybreak_test.net_requests, a copy of every row inserted
// into the queue (a test-only trigger on pg_net's table; the worker deletes, it never inserts).
import postgres from "postgres";

export async function setup(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) return; // unit-only runs need no database
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select cron.alter_job(jobid, active := false) from cron.job where jobname like 'daybreak-%'`;
    await sql.unsafe(`
      create schema if not exists daybreak_test;
      revoke all on schema daybreak_test from public;
      create table if not exists daybreak_test.net_requests (like net.http_request_queue);
      create or replace function daybreak_test.capture_net_request() returns trigger language plpgsql as $$
      begin
        insert into daybreak_test.net_requests select new.*;
        return new;
      end $$;
      create or replace trigger daybreak_test_capture after insert on net.http_request_queue
        for each row execute function daybreak_test.capture_net_request();`);
  } finally {
    await sql.end();
  }
}
