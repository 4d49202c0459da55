-- daybreak: an invocation that recorded its end is never closed as abandoned over it.
-- Purpose: the reconciler closes invocations with no outcome past the abandon threshold. It read
-- which ones from a function (scheduler.abandoned_invocations) and updated them by id, so an
-- invocation that recorded its end while the pass waited for its row lock was overwritten with
-- failed / abandoned: READ COMMITTED re-checks only the update's own conditions on the newer row,
-- and the id still matched. Seen in the fault soak, whose closing reconcile is dated past every
-- threshold and ran 5 ms after a processor stopped and before its invocation recorded the end.
-- The update now also requires status = 'running', which the re-check sees.
-- Objects: function scheduler.reconcile_now (redefined; same signature, grants kept).
-- Operators: nothing to do.
-- The current schema, every function with its body: supabase/schema.sql.

create or replace function scheduler.reconcile_now(p_now timestamp with time zone) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_rescued jsonb;
  v_job record;
  v_result jsonb;
  v_stale integer := 0;
  v_resumed integer := 0;
  v_finalized integer := 0;
  v_failed integer := 0;
  v_runs_closed integer;
  v_runs_finalized integer := 0;
  v_actions jsonb := '[]'::jsonb;
  v_run record;
begin
  v_rescued := scheduler.rescue_lost_processors(p_now);

  for v_job in select * from scheduler.stale_batch_jobs(p_now) loop
    v_stale := v_stale + 1;
    v_result := scheduler.resume_stuck_batch_job(v_job.batch_job_id);
    v_actions := v_actions || v_result;
    case v_result->>'action'
      when 'resumed' then v_resumed := v_resumed + 1;
      when 'finalized' then v_finalized := v_finalized + 1;
      when 'failed' then v_failed := v_failed + 1;
      else null;
    end case;
  end loop;

  -- Still running when its row is locked: an invocation that recorded its end while this pass was
  -- waiting for the row keeps the end it recorded (the set was read before the lock).
  update scheduler.scheduler_runs
     set status = 'failed', reason = 'abandoned', completed_at = p_now,
         error_message = coalesce(error_message, 'no outcome recorded within the abandon threshold')
   where status = 'running' and id in (select scheduler.abandoned_invocations(p_now));
  get diagnostics v_runs_closed = row_count;
  v_runs_closed := v_runs_closed + (v_rescued ->> 'invocations')::integer;

  for v_run in select id from scheduler.unfinalized_runs() id loop
    perform scheduler.finalize_run(v_run.id);
    v_runs_finalized := v_runs_finalized + 1;
  end loop;

  return jsonb_build_object('status', 'completed', 'stale', v_stale, 'resumed', v_resumed,
                            'finalized', v_finalized + v_runs_finalized, 'failed', v_failed,
                            'runs_closed', v_runs_closed,
                            'rescued', jsonb_build_object('processors', v_rescued -> 'processors', 'tasks', v_rescued -> 'tasks'),
                            'pruned', scheduler.prune_history(p_now), 'actions', v_actions);
end
$$;
