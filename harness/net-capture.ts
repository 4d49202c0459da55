// The real pg_net's worker takes requests off net.http_request_queue as soon as they commit, so
// whatever checks what SQL queued (tests, the bench) reads daybreak_test.net_requests: a copy of
// every row inserted into the queue, made by a test-only trigger on pg_net's table (the worker
// deletes rows, it never inserts). Idempotent.
import type postgres from "postgres";

export async function installNetCapture(sql: postgres.Sql<any>): Promise<void> {
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
}
