-- daybreak: a processor's heartbeat never waits on a batch job.
-- Purpose:
--   * heartbeat_processor refreshed the batch jobs of its worker's in-flight tasks with a plain
--     UPDATE. A fleet's workers hold tasks of the same batch jobs, so heartbeats locked shared rows
--     in whatever order their plans met them, and claims (claim_paced_tasks moves a batch job to
--     processing) locked them too: with 16 workers, heartbeats deadlocked with each other and with
--     claims, and the losing heartbeat or claim failed.
--   * Now the heartbeat takes only the batch jobs nobody else holds (FOR UPDATE SKIP LOCKED, in id
--     order). A batch job held by another transaction is being refreshed or moved by it; the next
--     heartbeat (seconds later, well inside the staleness threshold) refreshes it.
-- The current schema, every function with its body: supabase/schema.sql.

create or replace function scheduler.heartbeat_processor(p_processor_id uuid, p_worker text, p_tasks integer default null)
returns void
language sql
set search_path = ''
as $$
  update scheduler.processors
     set last_seen = clock_timestamp(), tasks = coalesce(p_tasks, tasks)
   where id = p_processor_id and status in ('running', 'handing_over');
  update scheduler.batch_jobs j set last_heartbeat = clock_timestamp()
   where j.id in (
     select b.id from scheduler.batch_jobs b
      where b.status = 'processing'
        and b.id in (select t.batch_job_id from scheduler.batch_tasks t where t.status = 'processing' and t.claimed_by = p_worker)
      order by b.id
        for update skip locked);
$$;
