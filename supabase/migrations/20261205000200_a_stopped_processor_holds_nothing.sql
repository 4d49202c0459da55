-- daybreak: a stopped processor holds nothing; a claim whose answer was lost is given back when
-- its processor stops, not when its lease runs out.
-- Purpose:
--   * A processor retries a claim through a lost connection (transient.ts). When the connection
--     drops after the claim committed, the retry claims other tasks and the first claim's tasks stay
--     processing under the processor's worker, unknown to it, until their lease (300 s shipped)
--     runs out: the run stalls that long on them.
--   * A processor stops ('stopped') only after its lanes finished and its last round was recorded,
--     so any task still processing under its worker then is such a lost claim. stop_processor gives
--     those back (pending, token cleared, the attempt not counted: no provider was called for it).
--     A hand-over ('handing_over') still has calls in flight and gives back nothing.
-- Objects: function scheduler.stop_processor (redefined; same signature, grants kept).
-- The current schema, every function with its body: supabase/schema.sql.

create or replace function scheduler.stop_processor(p_processor_id uuid, p_status text, p_reason text, p_tasks integer, p_cpu_ms integer,
                                                    p_details jsonb default '{}')
returns void
language sql
set search_path = ''
as $$
  update scheduler.processors
     set status = p_status, stop_reason = p_reason, tasks = p_tasks, cpu_ms = p_cpu_ms, last_seen = clock_timestamp(),
         stopped_at = case when p_status = 'stopped' then clock_timestamp() end,
         details = details || coalesce(p_details, '{}')
   where id = p_processor_id;
  update scheduler.batch_tasks t
     set status = 'pending', attempt_token = null, claimed_by = null, lease_expires_at = null,
         attempts = greatest(t.attempts - 1, 0)
   where p_status = 'stopped'
     and t.status = 'processing'
     and t.claimed_by = (select p.worker from scheduler.processors p where p.id = p_processor_id);
$$;
