-- daybreak: a rescue kicks the fleet at once (measured by the soak).
-- Purpose: a rescue gave a lost processor's tasks back, but a processor was kicked only once a
-- batch job looked stale, and a job whose processors never started (their kicks were queued in
-- pg_net's unlogged queue when PostgreSQL crashed, or sent to a dead runtime) looks stale only
-- after pending_grace_seconds (45 s): with the reconciler ticking each minute, such a run waited
-- up to two ticks (the soak measured 69 s after an immediate restart). Now the rescue itself asks
-- ensure_processor_fleet for the processors the work needs, in the same transaction.
-- Objects: replaced scheduler.rescue_lost_processors (its report adds processors_kicked).
-- Operators: nothing to do.
-- The current schema, every function with its body: supabase/schema.sql.

-- Closes each lost processor (row locked, staleness checked again under the lock, since a late
-- heartbeat may have landed), gives its processing tasks back as pending and closes its
-- invocation, then kicks the fleet the work needs (none when live processors already cover it).
-- Concurrent rescuers skip each other's rows.
create or replace function scheduler.rescue_lost_processors(p_now timestamptz default clock_timestamp()) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_stale interval := make_interval(secs => scheduler.config_int('stale_heartbeat_seconds'));
  v_grace interval := make_interval(secs => scheduler.config_int('processor_kick_grace_seconds'));
  v_p scheduler.processors;
  v_reason text;
  v_tasks integer;
  v_processors integer := 0;
  v_tasks_total integer := 0;
  v_invocations integer := 0;
  v_n integer;
  v_kicked integer := 0;
begin
  for v_p in
    select p.* from scheduler.processors p
     where p.id in (select l.processor_id from scheduler.lost_processors(p_now) l)
     order by p.id
       for update skip locked
  loop
    if v_p.status in ('running', 'handing_over') and v_p.last_seen < p_now - v_stale then
      v_reason := 'lost';
    elsif v_p.status = 'kicked' and v_p.kicked_at < p_now - v_grace then
      v_reason := 'never_started';
    else
      continue;
    end if;
    v_tasks := 0;
    if v_p.worker is not null then
      update scheduler.batch_tasks
         set status = 'pending', attempt_token = null, lease_expires_at = null, claimed_by = null
       where status = 'processing' and claimed_by = v_p.worker;
      get diagnostics v_tasks = row_count;
      update scheduler.scheduler_runs
         set status = 'failed', reason = 'abandoned', completed_at = p_now,
             error_message = coalesce(error_message, format('processor lost: no heartbeat for %s s', extract(epoch from v_stale)))
       where status = 'running' and function_name = 'robust-batch-processor' and details ->> 'worker' = v_p.worker;
      get diagnostics v_n = row_count;
      v_invocations := v_invocations + v_n;
    end if;
    update scheduler.processors
       set status = 'stopped', stop_reason = v_reason, stopped_at = p_now,
           details = details || jsonb_build_object('tasks_rescued', v_tasks)
     where id = v_p.id;
    v_processors := v_processors + 1;
    v_tasks_total := v_tasks_total + v_tasks;
  end loop;
  if v_processors > 0 then
    v_kicked := scheduler.ensure_processor_fleet('reconciler');
  end if;
  return jsonb_build_object('processors', v_processors, 'tasks', v_tasks_total, 'invocations', v_invocations,
                            'processors_kicked', v_kicked);
end
$$;

revoke execute on all functions in schema scheduler from public, anon, authenticated;
