-- daybreak: processing and reconciliation.
-- Purpose: the state changes of robust-batch-processor (claim a batch job under the global cap,
-- heartbeat, claim tasks with FOR UPDATE SKIP LOCKED and a lease, complete or fail a task only
-- with the current attempt token, finalize) and of batch-reconciler (resume stuck batch jobs,
-- close abandoned invocations, finalize runs, prune history), each one transaction.
-- Objects: batch_jobs.duplicates_prevented, resumed_at; functions claim_batch_job, heartbeat_batch_job,
-- claim_tasks, complete_tasks, complete_task, fail_task, release_task, fail_exhausted_tasks,
-- finalize_batch_job, resume_stuck_batch_job,
-- stale_batch_jobs, unfinalized_runs, abandoned_invocations, reconcile, prune_history,
-- cron_reconcile_tick; cron job daybreak-reconciler.
-- Operators: scheduler.config holds the thresholds (stale_heartbeat_seconds, task_lease_seconds...).
-- The current schema, every function with its body: supabase/schema.sql.

alter table scheduler.batch_jobs add column duplicates_prevented integer not null default 0;
-- When the reconciler last resumed the job: progress since then resets its attempt count.
alter table scheduler.batch_jobs add column resumed_at timestamptz;

-- Takes a batch job for a processor. With p_batch_job_id: that job (joining it if another
-- processor already works on it: tasks are claimed with SKIP LOCKED, so helpers never collide).
-- Without: the oldest pending job of a running run. Moving a job from pending to processing is
-- serialized by an advisory lock so the global cap (max_concurrent_batch_jobs) holds under races.
create function scheduler.claim_batch_job(p_worker text, p_batch_job_id uuid default null)
returns table (batch_job_id uuid, run_id uuid, org_id uuid, status text, joined boolean)
language plpgsql
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_job scheduler.batch_jobs;
  v_processing integer;
begin
  if p_batch_job_id is not null then
    select * into v_job from scheduler.batch_jobs j where j.id = p_batch_job_id for update;
    if not found or v_job.status not in ('pending', 'processing') then
      return;
    end if;
    if v_job.status = 'processing' then
      update scheduler.batch_jobs j set last_heartbeat = now() where j.id = v_job.id;
      return query select v_job.id, v_job.run_id, v_job.org_id, v_job.status, true;
      return;
    end if;
  end if;

  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('daybreak.claim_batch_job'));
  select count(*) into v_processing from scheduler.batch_jobs j where j.status = 'processing';
  if v_processing >= scheduler.config_int('max_concurrent_batch_jobs') then
    return;
  end if;

  if p_batch_job_id is null then
    select j.* into v_job
      from scheduler.batch_jobs j
      join scheduler.runs r on r.id = j.run_id and r.status = 'running'
     where j.status = 'pending'
     order by j.created_at, j.id
     limit 1
     for update of j skip locked;
    if not found then
      return;
    end if;
  end if;

  update scheduler.batch_jobs j
     set status = 'processing', attempts = greatest(j.attempts, 1), started_at = coalesce(j.started_at, now()),
         last_heartbeat = now(), claimed_by = p_worker
   where j.id = v_job.id;
  return query select v_job.id, v_job.run_id, v_job.org_id, 'processing'::text, false;
end
$$;

create function scheduler.heartbeat_batch_job(p_batch_job_id uuid, p_worker text) returns boolean
language sql
set search_path = ''
as $$
  update scheduler.batch_jobs set last_heartbeat = now()
   where id = p_batch_job_id and status = 'processing'
  returning true
$$;

-- Claims up to p_limit tasks of a batch job: pending ones, and processing ones whose lease
-- expired (their worker is gone), while attempts remain. Each claim gets a new attempt token and
-- returns how long its lease lasts (lease_ms): a worker never works on a task past its lease.
-- Tasks out of attempts are left to the reconciler, which fails them.
create function scheduler.claim_tasks(p_batch_job_id uuid, p_worker text, p_limit integer)
returns table (task_id bigint, attempt_token uuid, attempts integer, prompt_id uuid, prompt_text text,
               provider text, region text, run_id uuid, org_id uuid, lease_ms integer)
language sql
set search_path = ''
as $$
  with picked as (
    select t.id
      from scheduler.batch_tasks t
     where t.batch_job_id = p_batch_job_id
       and t.attempts < (select scheduler.config_int('max_task_attempts'))
       and (t.status = 'pending' or (t.status = 'processing' and t.lease_expires_at < now()))
     order by t.id
     limit p_limit
     for update skip locked
  ), claimed as (
    update scheduler.batch_tasks t
       set status = 'processing', attempts = t.attempts + 1, attempt_token = gen_random_uuid(),
           lease_expires_at = now() + make_interval(secs => (select scheduler.config_int('task_lease_seconds'))),
           claimed_by = p_worker, started_at = now()
      from picked
     where t.id = picked.id
    returning t.id, t.attempt_token, t.attempts, t.prompt_id, t.provider, t.region, t.run_id, t.batch_job_id,
              t.lease_expires_at
  )
  -- A prompt deleted since planning comes back as null text: the processor fails that task.
  select c.id, c.attempt_token, c.attempts, c.prompt_id, p.text, c.provider, c.region, c.run_id, j.org_id,
         (extract(epoch from (c.lease_expires_at - now())) * 1000)::integer
    from claimed c
    left join public.prompts p on p.id = c.prompt_id
    join scheduler.batch_jobs j on j.id = c.batch_job_id
   order by c.id
$$;

-- Completes a batch of tasks and records their results, in one transaction (one statement), so a
-- processor pays one round trip per claimed batch, not per task. Fenced: only the current attempt
-- (its token) may complete a task; a late worker whose lease was taken over is rejected. Results
-- are inserted ON CONFLICT DO NOTHING on prompt_results_one_per_task; a conflict or a rejected
-- late completion is counted in batch_jobs.duplicates_prevented, never silently dropped.
-- p_results: [{task_id, attempt_token, answered_by, model, response, attempts, latency_ms}, ...]
create function scheduler.complete_tasks(p_results jsonb) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_report jsonb;
begin
  with input as (
    select * from jsonb_to_recordset(p_results)
      as x(task_id bigint, attempt_token uuid, answered_by text, model text, response text, attempts integer, latency_ms integer)
  ), done as (
    update scheduler.batch_tasks t
       set status = 'succeeded', completed_at = now(), lease_expires_at = null, last_error = null,
           answered_by = i.answered_by
      from input i
     where t.id = i.task_id and t.attempt_token = i.attempt_token and t.status = 'processing'
    returning t.id, t.run_id, t.batch_job_id, t.prompt_id, t.provider, t.region,
              i.answered_by, i.model, i.response, i.attempts, i.latency_ms
  ), recorded as (
    insert into public.prompt_results (task_id, run_id, org_id, prompt_id, provider, region, answered_by, model,
                                       response, attempts, latency_ms)
    select d.id, d.run_id, j.org_id, d.prompt_id, d.provider, d.region, d.answered_by, d.model, d.response,
           coalesce(d.attempts, 1), coalesce(d.latency_ms, 0)
      from done d join scheduler.batch_jobs j on j.id = d.batch_job_id
    on conflict on constraint prompt_results_one_per_task do nothing
    returning task_id
  ), prevented as (
    select t.batch_job_id, count(*)::integer as n
      from input i join scheduler.batch_tasks t on t.id = i.task_id
     where not exists (select from recorded r where r.task_id = i.task_id)
     group by t.batch_job_id
  ), counted as (
    update scheduler.batch_jobs j set duplicates_prevented = j.duplicates_prevented + p.n
      from prevented p where j.id = p.batch_job_id
    returning j.id
  )
  select jsonb_build_object(
           'accepted', coalesce((select jsonb_agg(id order by id) from done), '[]'::jsonb),
           'duplicates', coalesce((select jsonb_agg(d.id order by d.id) from done d
                                    where not exists (select from recorded r where r.task_id = d.id)), '[]'::jsonb),
           'rejected', coalesce((select jsonb_agg(i.task_id order by i.task_id) from input i
                                  where not exists (select from done d where d.id = i.task_id)), '[]'::jsonb),
           'duplicates_prevented', coalesce((select sum(n) from prevented), 0),
           'jobs_counted', (select count(*) from counted))
    into v_report;
  return v_report;
end
$$;

-- One task: complete_tasks for a batch of one. {accepted, duplicate} or {accepted: false, reason}.
create function scheduler.complete_task(p_task_id bigint, p_attempt_token uuid, p_result jsonb)
returns jsonb
language sql
set search_path = ''
as $$
  select case
           when jsonb_array_length(r->'accepted') = 0 then jsonb_build_object('accepted', false, 'reason', 'stale_attempt')
           else jsonb_build_object('accepted', true, 'duplicate', jsonb_array_length(r->'duplicates') > 0)
         end
    from scheduler.complete_tasks(jsonb_build_array(
           p_result || jsonb_build_object('task_id', p_task_id, 'attempt_token', p_attempt_token))) r
$$;

-- Fails a task after its provider calls are exhausted. Fenced like complete_task.
create function scheduler.fail_task(p_task_id bigint, p_attempt_token uuid, p_error text) returns boolean
language sql
set search_path = ''
as $$
  update scheduler.batch_tasks
     set status = 'failed', completed_at = now(), lease_expires_at = null, last_error = left(p_error, 2000)
   where id = p_task_id and attempt_token = p_attempt_token and status = 'processing'
  returning true
$$;

-- Gives a claimed task back (its processor reached its deadline). Before any provider call it
-- does not count as an attempt; during one it does (the provider may have done the work), so a
-- task that never fits in an invocation fails after max_task_attempts instead of cycling forever.
create function scheduler.release_task(p_task_id bigint, p_attempt_token uuid, p_provider_called boolean, p_reason text)
returns boolean
language sql
set search_path = ''
as $$
  update scheduler.batch_tasks
     set status = 'pending', attempts = case when p_provider_called then attempts else greatest(attempts - 1, 0) end,
         attempt_token = null, lease_expires_at = null, claimed_by = null,
         last_error = case when p_provider_called then left(p_reason, 2000) else last_error end
   where id = p_task_id and attempt_token = p_attempt_token and status = 'processing'
  returning true
$$;

-- Fails the tasks of a batch job that are out of attempts and that nobody can still be working
-- on (pending, or processing with an expired lease): they will never be claimed again, so they are
-- failures, not live work. Returns how many it failed.
create function scheduler.fail_exhausted_tasks(p_batch_job_id uuid) returns integer
language sql
set search_path = ''
as $$
  with failed as (
    update scheduler.batch_tasks
       set status = 'failed', completed_at = now(), lease_expires_at = null,
           last_error = coalesce(last_error || '; ', '') || format('gave up after %s attempts', attempts)
     where batch_job_id = p_batch_job_id
       and attempts >= (select scheduler.config_int('max_task_attempts'))
       and (status = 'pending' or (status = 'processing' and lease_expires_at < now()))
    returning 1
  )
  select count(*)::integer from failed
$$;

-- Ends a batch job whose tasks are all terminal (completed / completed_with_errors / failed),
-- then its run if that was the last live job. Returns the job's status; idempotent.
create function scheduler.finalize_batch_job(p_batch_job_id uuid) returns text
language plpgsql
set search_path = ''
as $$
declare
  v_status text;
  v_run_id uuid;
begin
  -- Lock order everywhere: run, then batch job, then tasks (cancel_run, retry_failed_tasks and
  -- the reconciler take them in this order too), so these paths serialize instead of deadlocking.
  select run_id into v_run_id from scheduler.batch_jobs where id = p_batch_job_id;
  perform from scheduler.runs where id = v_run_id for update;
  perform scheduler.fail_exhausted_tasks(p_batch_job_id);
  update scheduler.batch_jobs j
     set status = case
                    when s.total > 0 and s.failed = s.total then 'failed'
                    when s.failed > 0 then 'completed_with_errors'
                    else 'completed'
                  end,
         completed_at = now(),
         last_error = case when s.failed > 0 then format('%s of %s tasks failed', s.failed, s.total) else j.last_error end
    from (select count(*) as total,
                 count(*) filter (where t.status = 'failed') as failed,
                 count(*) filter (where t.status in ('pending', 'processing')) as live
            from scheduler.batch_tasks t where t.batch_job_id = p_batch_job_id) s
   where j.id = p_batch_job_id and j.status in ('pending', 'processing') and s.live = 0
  returning j.status, j.run_id into v_status, v_run_id;
  if v_status is null then
    select status, run_id into v_status, v_run_id from scheduler.batch_jobs where id = p_batch_job_id;
  end if;
  if v_run_id is not null then
    perform scheduler.finalize_run(v_run_id);
  end if;
  return v_status;
end
$$;

-- Batch jobs that need the reconciler at p_now: processing with a heartbeat older than
-- stale_heartbeat_seconds, or pending pending_grace_seconds after planning while a processor
-- slot is free (nobody is on it; with every slot busy, pending is just waiting its turn).
-- Settings are read through scalar subqueries so Postgres reads them once per scan, not per row.
create function scheduler.stale_batch_jobs(p_now timestamptz default now())
returns table (batch_job_id uuid, status text, reason text, last_heartbeat timestamptz)
language sql stable
set search_path = ''
as $$
  select j.id, j.status, 'heartbeat_stale', j.last_heartbeat
    from scheduler.batch_jobs j
   where j.status = 'processing'
     and j.last_heartbeat < p_now - make_interval(secs => (select scheduler.config_int('stale_heartbeat_seconds')))
  union all
  select j.id, j.status, 'pending_without_processor', j.last_heartbeat
    from scheduler.batch_jobs j
   where j.status = 'pending'
     and coalesce(j.last_heartbeat, j.created_at) < p_now - make_interval(secs => (select scheduler.config_int('pending_grace_seconds')))
     and (select count(*) from scheduler.batch_jobs p where p.status = 'processing')
         < (select scheduler.config_int('max_concurrent_batch_jobs'))
$$;

-- Resumes one stuck batch job:
--   terminal already → noop; every task terminal → finalized;
--   resumed past max_batch_job_attempts → failed (live tasks failed with the reason);
--   otherwise tasks whose lease expired go back to pending (or fail past max_task_attempts),
--   the job goes back to pending and a processor is kicked for it.
create function scheduler.resume_stuck_batch_job(p_batch_job_id uuid) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_job scheduler.batch_jobs;
  v_status text;
  v_reset integer;
  v_failed integer;
  v_kick bigint;
  v_reason text;
begin
  perform from scheduler.runs r join scheduler.batch_jobs j on j.run_id = r.id
   where j.id = p_batch_job_id for update of r;
  select * into v_job from scheduler.batch_jobs where id = p_batch_job_id for update;
  if not found then
    raise exception 'unknown batch job %', p_batch_job_id using errcode = '22023';
  end if;
  if v_job.status not in ('pending', 'processing') then
    return jsonb_build_object('action', 'noop', 'batch_job_id', v_job.id, 'status', v_job.status);
  end if;

  if not exists (select from scheduler.batch_tasks where batch_job_id = v_job.id and status in ('pending', 'processing')) then
    v_status := scheduler.finalize_batch_job(v_job.id);
    return jsonb_build_object('action', 'finalized', 'batch_job_id', v_job.id, 'status', v_status);
  end if;

  -- The stale list was read before this lock: a processor may have picked the job up since.
  if not exists (select from scheduler.stale_batch_jobs(now()) s where s.batch_job_id = v_job.id) then
    return jsonb_build_object('action', 'noop', 'batch_job_id', v_job.id, 'status', v_job.status, 'reason', 'not_stale');
  end if;

  -- A job that made progress since it was last resumed starts counting its stalls afresh.
  if exists (select from scheduler.batch_tasks t where t.batch_job_id = v_job.id
              and t.completed_at > coalesce(v_job.resumed_at, v_job.started_at)) then
    v_job.attempts := 1;
  end if;

  if v_job.status = 'processing' and v_job.attempts >= scheduler.config_int('max_batch_job_attempts') then
    v_reason := format('batch job stalled %s times; giving up', v_job.attempts);
    update scheduler.batch_tasks
       set status = 'failed', completed_at = now(), lease_expires_at = null, last_error = v_reason
     where batch_job_id = v_job.id and status in ('pending', 'processing');
    get diagnostics v_failed = row_count;
    update scheduler.batch_jobs set status = 'failed', completed_at = now(), last_error = v_reason where id = v_job.id;
    perform scheduler.finalize_run(v_job.run_id);
    return jsonb_build_object('action', 'failed', 'batch_job_id', v_job.id, 'reason', v_reason, 'tasks_failed', v_failed);
  end if;

  v_failed := scheduler.fail_exhausted_tasks(v_job.id);
  update scheduler.batch_tasks
     set status = 'pending', attempt_token = null, lease_expires_at = null, claimed_by = null
   where batch_job_id = v_job.id and status = 'processing' and lease_expires_at < now();
  get diagnostics v_reset = row_count;

  -- A stalled processing job counts a new attempt; a pending job that was never picked up does not.
  update scheduler.batch_jobs
     set status = 'pending', claimed_by = null, last_heartbeat = now(), resumed_at = now(),
         attempts = v_job.attempts + case when v_job.status = 'processing' then 1 else 0 end
   where id = v_job.id;
  if not exists (select from scheduler.batch_tasks where batch_job_id = v_job.id and status in ('pending', 'processing')) then
    v_status := scheduler.finalize_batch_job(v_job.id);
    return jsonb_build_object('action', 'finalized', 'batch_job_id', v_job.id, 'status', v_status, 'tasks_failed', v_failed);
  end if;
  v_kick := scheduler.queue_function_call('robust-batch-processor', jsonb_build_object('batch_job_id', v_job.id), 'reconciler');
  return jsonb_build_object('action', 'resumed', 'batch_job_id', v_job.id, 'tasks_reset', v_reset,
                            'tasks_failed', v_failed, 'processor_kicked', v_kick is not null);
end
$$;

create function scheduler.prune_history(p_now timestamptz default now()) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_cutoff timestamptz := p_now - make_interval(days => scheduler.config_int('retention_days'));
  v_invocations integer;
  v_ticks integer;
  v_cron integer;
begin
  delete from scheduler.scheduler_runs where started_at < v_cutoff and status <> 'running';
  get diagnostics v_invocations = row_count;
  delete from scheduler.cron_ticks where ticked_at < v_cutoff;
  get diagnostics v_ticks = row_count;
  delete from cron.job_run_details where start_time < v_cutoff;
  get diagnostics v_cron = row_count;
  return jsonb_build_object('scheduler_runs', v_invocations, 'cron_ticks', v_ticks, 'job_run_details', v_cron);
end
$$;

-- Runs whose batch jobs are all terminal but that were never closed.
create function scheduler.unfinalized_runs() returns setof uuid
language sql stable
set search_path = ''
as $$
  select r.id from scheduler.runs r
   where r.status = 'running'
     and not exists (select from scheduler.batch_jobs j where j.run_id = r.id and j.status in ('pending', 'processing'))
$$;

-- Invocations that never recorded an outcome (their function was killed) within the threshold.
create function scheduler.abandoned_invocations(p_now timestamptz) returns setof uuid
language sql stable
set search_path = ''
as $$
  select s.id from scheduler.scheduler_runs s
   where s.status = 'running'
     and s.started_at < p_now - make_interval(mins => scheduler.config_int('abandoned_invocation_minutes'))
$$;

create function scheduler.reconcile_now(p_now timestamptz) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
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

  for v_run in select id from scheduler.unfinalized_runs() id loop
    perform scheduler.finalize_run(v_run.id);
    v_runs_finalized := v_runs_finalized + 1;
  end loop;

  return jsonb_build_object('status', 'completed', 'stale', v_stale, 'resumed', v_resumed,
                            'finalized', v_finalized + v_runs_finalized, 'failed', v_failed,
                            'runs_closed', v_runs_closed, 'pruned', scheduler.prune_history(p_now),
                            'actions', v_actions);
end
$$;

-- The reconciler's whole pass. With p_dry_run the pass runs inside a subtransaction that is
-- rolled back: the report is exactly what would happen, and nothing changes (no kick is sent
-- either, since pg_net only sends committed requests).
create function scheduler.reconcile(p_dry_run boolean default false, p_now timestamptz default now()) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_report text;
begin
  if not p_dry_run then
    return scheduler.reconcile_now(p_now);
  end if;
  begin
    v_report := scheduler.reconcile_now(p_now)::text;
    raise exception 'daybreak_dry_run' using errcode = 'P0001', detail = v_report;
  exception when raise_exception then
    get stacked diagnostics v_report = pg_exception_detail;
    if v_report is null or v_report = '' then
      raise;
    end if;
    return v_report::jsonb || jsonb_build_object('dry_run', true);
  end;
end
$$;

-- pg_cron entry point: calls batch-reconciler only when something is stale, unfinalized or
-- abandoned; an idle tick makes no HTTP call.
create function scheduler.cron_reconcile_tick(p_now timestamptz default now()) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_stale integer;
  v_unfinalized integer;
  v_abandoned integer;
  v_request_id text;
  v_net_id bigint;
  v_decision text;
begin
  select count(*) into v_stale from scheduler.stale_batch_jobs(p_now);
  select count(*) into v_unfinalized from scheduler.unfinalized_runs();
  select count(*) into v_abandoned from scheduler.abandoned_invocations(p_now);

  if v_stale + v_unfinalized + v_abandoned = 0 then
    -- Retention needs no edge function: prune here, in SQL, so a healthy system stays bounded.
    return jsonb_build_object('decision', 'idle', 'pruned', scheduler.prune_history(p_now));
  end if;
  v_request_id := gen_random_uuid()::text;
  v_net_id := scheduler.queue_function_call('batch-reconciler', '{}'::jsonb, 'cron', v_request_id);
  v_decision := case when v_net_id is null then 'not_configured' else 'called' end;
  insert into scheduler.cron_ticks (tick, ticked_at, decision, request_id, net_request_id, details)
  values ('reconcile', p_now, v_decision, v_request_id, v_net_id,
          jsonb_build_object('stale', v_stale, 'unfinalized', v_unfinalized, 'abandoned', v_abandoned));
  return jsonb_build_object('decision', v_decision, 'request_id', v_request_id, 'net_request_id', v_net_id,
                            'stale', v_stale, 'unfinalized', v_unfinalized, 'abandoned', v_abandoned);
end
$$;

revoke execute on all functions in schema scheduler from public, anon, authenticated;

comment on function scheduler.claim_batch_job(text, uuid) is 'Takes a batch job for a processor under the global cap';
comment on function scheduler.claim_tasks(uuid, text, integer) is 'Claims tasks with FOR UPDATE SKIP LOCKED, a lease and a fresh attempt token';
comment on function scheduler.complete_tasks(jsonb) is 'Completes a batch of tasks (current attempt tokens only) and records one result each';
comment on function scheduler.complete_task(bigint, uuid, jsonb) is 'Completes a task (current attempt token only) and records its one result';
comment on function scheduler.release_task(bigint, uuid, boolean, text) is 'Gives a claimed task back at a processor''s deadline (counted as an attempt once its provider was called)';
comment on function scheduler.fail_task(bigint, uuid, text) is 'Fails a task (current attempt token only) with its last error';
comment on function scheduler.finalize_batch_job(uuid) is 'Ends a batch job whose tasks are all terminal, and its run when it was the last';
comment on function scheduler.resume_stuck_batch_job(uuid) is 'Finalizes, resumes (expired leases back to pending, processor kicked) or fails a stuck batch job';
comment on function scheduler.reconcile(boolean, timestamptz) is 'The reconciler pass: resume stale jobs, close abandoned invocations, finalize runs, prune; dry run changes nothing';
comment on function scheduler.cron_reconcile_tick(timestamptz) is 'pg_cron entry point: calls batch-reconciler only when something is stale or unfinalized';

select cron.schedule('daybreak-reconciler', '*/5 * * * *', 'select scheduler.cron_reconcile_tick()');
