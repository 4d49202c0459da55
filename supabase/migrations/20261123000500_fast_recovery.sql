-- daybreak: a dead processor costs about a minute, not five.
-- Purpose: a processor killed mid-run (the edge runtime recycled, kill -9) held its tasks until
-- their 300 s leases ran out, its batch job looked stale only after 120 s of silence, and the
-- reconciler looked every 5 minutes: a kill cost ~5 minutes. Now the thresholds are multiples of
-- the heartbeat interval: a processor silent for 4 heartbeats (20 s) is lost, and the reconciler
-- (ticking every minute; its pre-check is SQL and makes no HTTP call when nothing needs it)
-- rescues it: the tasks it held go back to pending at once (each already counted an attempt at
-- its claim; the attempt token fences off the dead worker should it come back), its row and its
-- invocation are closed. A live processor rescues its lost siblings too, between claims.
-- Objects: scheduler.config heartbeat_seconds (new, 5), stale_heartbeat_seconds (120 → 20),
-- pending_grace_seconds (180 → 45), abandoned_invocation_minutes (10 → 3); functions
-- lost_processors, rescue_lost_processors; replaced: reconcile_now, cron_reconcile_tick;
-- cron job daybreak-reconciler every minute.
-- Operators: RUNBOOK.md, "A stuck job" and "Thresholds" give the measured recovery times.
-- The current schema, every function with its body: supabase/schema.sql.

insert into scheduler.config (key, value, description) values
  ('heartbeat_seconds', '5', 'how often a live processor reports; the staleness thresholds are multiples of it')
on conflict (key) do nothing;
update scheduler.config set value = '20', description = 'a processor (and its batch jobs) silent this long (4 heartbeats) is lost'
 where key = 'stale_heartbeat_seconds' and value = '120';
update scheduler.config set value = '45'
 where key = 'pending_grace_seconds' and value = '180';
-- Every daybreak invocation ends within its hard deadline (145 s) or is dead.
update scheduler.config set value = '3'
 where key = 'abandoned_invocation_minutes' and value = '10';

-- Processors that stopped reporting: running or handing over with no heartbeat within
-- stale_heartbeat_seconds, or kicked and never started within processor_kick_grace_seconds.
create function scheduler.lost_processors(p_now timestamptz default clock_timestamp())
returns table (processor_id uuid, worker text, status text, reason text)
language sql stable
set search_path = ''
as $$
  select p.id, p.worker, p.status, 'heartbeat_lost'
    from scheduler.processors p
   where p.status in ('running', 'handing_over')
     and p.last_seen < p_now - make_interval(secs => (select scheduler.config_int('stale_heartbeat_seconds')))
  union all
  select p.id, p.worker, p.status, 'never_started'
    from scheduler.processors p
   where p.status = 'kicked'
     and p.kicked_at < p_now - make_interval(secs => (select scheduler.config_int('processor_kick_grace_seconds')))
$$;

-- Closes each lost processor (row locked, staleness checked again under the lock, since a late
-- heartbeat may have landed), gives its processing tasks back as pending and closes its
-- invocation. Concurrent rescuers skip each other's rows.
create function scheduler.rescue_lost_processors(p_now timestamptz default clock_timestamp()) returns jsonb
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
  return jsonb_build_object('processors', v_processors, 'tasks', v_tasks_total, 'invocations', v_invocations);
end
$$;

-- The reconciler's pass, rescue first: the tasks of lost processors are back to pending before
-- the stale scan decides which jobs need a processor kicked.
create or replace function scheduler.reconcile_now(p_now timestamptz) returns jsonb
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

  update scheduler.scheduler_runs
     set status = 'failed', reason = 'abandoned', completed_at = p_now,
         error_message = coalesce(error_message, 'no outcome recorded within the abandon threshold')
   where id in (select scheduler.abandoned_invocations(p_now));
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

-- pg_cron entry point, every minute: calls batch-reconciler only when a processor is lost or a
-- job is stale, unfinalized or abandoned; an idle tick makes no HTTP call.
create or replace function scheduler.cron_reconcile_tick(p_now timestamptz default now()) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_lost integer;
  v_stale integer;
  v_unfinalized integer;
  v_abandoned integer;
  v_request_id text;
  v_net_id bigint;
  v_decision text;
begin
  select count(*) into v_lost from scheduler.lost_processors(p_now);
  select count(*) into v_stale from scheduler.stale_batch_jobs(p_now);
  select count(*) into v_unfinalized from scheduler.unfinalized_runs();
  select count(*) into v_abandoned from scheduler.abandoned_invocations(p_now);

  if v_lost + v_stale + v_unfinalized + v_abandoned = 0 then
    -- Retention needs no edge function: prune here, in SQL, so a healthy system stays bounded.
    return jsonb_build_object('decision', 'idle', 'pruned', scheduler.prune_history(p_now));
  end if;
  v_request_id := gen_random_uuid()::text;
  v_net_id := scheduler.queue_function_call('batch-reconciler', '{}'::jsonb, 'cron', v_request_id);
  v_decision := case when v_net_id is null then 'not_configured' else 'called' end;
  insert into scheduler.cron_ticks (tick, ticked_at, decision, request_id, net_request_id, details)
  values ('reconcile', p_now, v_decision, v_request_id, v_net_id,
          jsonb_build_object('lost', v_lost, 'stale', v_stale, 'unfinalized', v_unfinalized, 'abandoned', v_abandoned));
  return jsonb_build_object('decision', v_decision, 'request_id', v_request_id, 'net_request_id', v_net_id,
                            'lost', v_lost, 'stale', v_stale, 'unfinalized', v_unfinalized, 'abandoned', v_abandoned);
end
$$;

revoke execute on all functions in schema scheduler from public, anon, authenticated;

comment on function scheduler.lost_processors(timestamptz) is 'Processors silent past stale_heartbeat_seconds, or kicked and never started';
comment on function scheduler.rescue_lost_processors(timestamptz) is 'Closes lost processors; their tasks back to pending, their invocations closed';

select cron.schedule('daybreak-reconciler', '* * * * *', 'select scheduler.cron_reconcile_tick()');
