-- daybreak: one task lifecycle, one name for the day gate.
-- Purpose: the paced fleet (claim_paced_tasks, record_task_outcomes) is the only way tasks are
-- claimed and finished; the per-batch-job claim that came before it is removed, with its setting.
-- A kick names a processor row, never a batch job. The day gate has one public name,
-- try_mark_daily_run: the full form (schedule, run key, who called, invocation, forced, note) that
-- the trigger calls, beside the two short forms of the contract.
-- Objects: dropped functions claim_batch_job, heartbeat_batch_job, claim_tasks, complete_task,
-- fail_task, release_task, claim_and_plan_run, kick_processors; dropped config key
-- max_concurrent_batch_jobs; new overload try_mark_daily_run(text, text, text, uuid, boolean, text);
-- replaced try_mark_daily_run(text), try_mark_daily_run(text, text), resume_stuck_batch_job (kicks
-- the fleet), retry_failed_tasks (kicks the fleet).
-- Operators: nothing to do. The current body of every function is in supabase/schema.sql; the
-- design is docs/design/ARCHITECTURE.md.

drop function scheduler.claim_batch_job(text, uuid);
drop function scheduler.heartbeat_batch_job(uuid, text);
drop function scheduler.claim_tasks(uuid, text, integer);
drop function scheduler.complete_task(bigint, uuid, jsonb);
drop function scheduler.fail_task(bigint, uuid, text);
drop function scheduler.release_task(bigint, uuid, boolean, text);
delete from scheduler.config where key = 'max_concurrent_batch_jobs';

-- The day gate: claims (p_schedule, p_run_key) and plans it, all in this one transaction:
--   the run (unique per schedule and run key: the loser of any race gets updated = false),
--   one batch job per active organization with at least one active prompt,
--   one task per distinct (active prompt, provider, region) of that organization, ranked by seq
--   inside its (batch job, provider) so paced claims take every organization's first task first,
--   and the processor fleet the work needs (kicked through pg_net, sent when this commits).
-- Configuration is validated, not trusted: duplicate providers, regions or prompts collapse into
-- one task; an unknown or disabled provider, or an unknown region, fails that organization's batch
-- job with an error naming it (never a remap), and the other organizations still run.
-- When p_scheduler_run_id is given, that invocation row is closed in the same transaction.
create function scheduler.try_mark_daily_run(
  p_schedule text,
  p_run_key text,
  p_trigger_source text,
  p_scheduler_run_id uuid,
  p_forced boolean,
  p_note text
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_schedule scheduler.schedules;
  v_run_id uuid;
  v_previous_key text;
  v_batch_jobs integer;
  v_tasks integer;
  v_config_errors integer;
  v_kicked integer;
begin
  select * into v_schedule from scheduler.schedules where name = p_schedule;
  if not found then
    raise exception 'unknown schedule "%"', p_schedule using errcode = '22023';
  end if;
  perform scheduler.parse_run_key(v_schedule.period, p_run_key);

  select max(run_key) into v_previous_key
    from scheduler.runs where schedule = p_schedule and run_key <> p_run_key;

  insert into scheduler.runs (schedule, run_key, trigger_source, scheduler_run_id, forced, note)
  values (p_schedule, p_run_key, p_trigger_source, p_scheduler_run_id, p_forced, p_note)
  on conflict on constraint runs_one_per_period do nothing
  returning id into v_run_id;

  if v_run_id is null then
    select id into v_run_id from scheduler.runs where schedule = p_schedule and run_key = p_run_key;
    if p_scheduler_run_id is not null then
      update scheduler.scheduler_runs
         set status = 'skipped', reason = 'already_ran', run_id = v_run_id, completed_at = now()
       where id = p_scheduler_run_id;
    end if;
    return jsonb_build_object('updated', false, 'previous_key', greatest(v_previous_key, p_run_key),
                              'new_key', p_run_key, 'existing_run_id', v_run_id);
  end if;

  insert into scheduler.batch_jobs (run_id, org_id)
  select v_run_id, o.id
    from public.organizations o
   where o.active
     and exists (select from public.prompts p where p.org_id = o.id and p.active)
  on conflict on constraint batch_jobs_one_per_org do nothing;

  -- Organizations whose configuration names a provider or region daybreak does not know.
  with bad as (
    select op.org_id,
           string_agg(distinct format('unknown provider "%s"', op.provider), '; ')
             filter (where pr.name is null or not pr.enabled) as provider_errors,
           string_agg(distinct format('unknown region "%s"', coalesce(r.region, 'NULL')), '; ')
             filter (where rg.code is null) as region_errors
      from public.organization_providers op
      join scheduler.batch_jobs bj on bj.run_id = v_run_id and bj.org_id = op.org_id
      left join public.providers pr on pr.name = op.provider
      left join lateral unnest(op.regions) r(region) on true
      left join public.regions rg on rg.code = r.region
     group by op.org_id
  )
  update scheduler.batch_jobs bj
     set status = 'failed', completed_at = now(),
         last_error = 'configuration error: ' || concat_ws('; ', bad.provider_errors, bad.region_errors)
    from bad
   where bj.run_id = v_run_id and bj.org_id = bad.org_id
     and (bad.provider_errors is not null or bad.region_errors is not null);
  get diagnostics v_config_errors = row_count;

  -- seq ranks a task inside its (batch job, provider): paced claims go by seq, so each
  -- organization's first task comes before any organization's second (fairness).
  insert into scheduler.batch_tasks (batch_job_id, run_id, prompt_id, provider, region, seq)
  select d.batch_job_id, v_run_id, d.prompt_id, d.provider, d.region,
         row_number() over (partition by d.batch_job_id, d.provider order by d.prompt_id, d.region)
    from (select distinct bj.id as batch_job_id, p.id as prompt_id, op.provider, r.region
            from scheduler.batch_jobs bj
            join public.prompts p on p.org_id = bj.org_id and p.active
            join public.organization_providers op on op.org_id = bj.org_id
            cross join lateral unnest(op.regions) r(region)
           where bj.run_id = v_run_id and bj.status = 'pending') d
  on conflict on constraint batch_tasks_one_per_combination do nothing;
  get diagnostics v_tasks = row_count;

  update scheduler.batch_jobs bj
     set tasks_total = t.n
    from (select batch_job_id, count(*)::integer as n from scheduler.batch_tasks
           where run_id = v_run_id group by batch_job_id) t
   where bj.id = t.batch_job_id;

  -- An organization with prompts but no provider configured has nothing to do today.
  update scheduler.batch_jobs
     set status = 'completed', completed_at = now()
   where run_id = v_run_id and status = 'pending' and tasks_total = 0;

  select count(*)::integer into v_batch_jobs from scheduler.batch_jobs where run_id = v_run_id;

  update scheduler.runs
     set batch_jobs_planned = v_batch_jobs, tasks_planned = v_tasks
   where id = v_run_id;
  perform scheduler.finalize_run(v_run_id);

  -- The fleet the work needs, at most one processor per pending batch job to start with.
  select count(*)::integer into v_kicked from scheduler.batch_jobs where run_id = v_run_id and status = 'pending';
  if v_kicked > 0 then
    v_kicked := scheduler.ensure_processor_fleet(p_trigger_source, v_kicked);
  end if;

  if p_scheduler_run_id is not null then
    update scheduler.scheduler_runs
       set status = 'completed', reason = 'started', run_id = v_run_id, completed_at = now(),
           details = details || jsonb_build_object('batch_jobs', v_batch_jobs, 'tasks', v_tasks,
                                                   'processors_kicked', v_kicked,
                                                   'configuration_errors', v_config_errors)
     where id = p_scheduler_run_id;
  end if;

  return jsonb_build_object('updated', true, 'previous_key', v_previous_key, 'new_key', p_run_key,
                            'run_id', v_run_id, 'batch_jobs', v_batch_jobs, 'tasks', v_tasks,
                            'processors_kicked', v_kicked, 'configuration_errors', v_config_errors);
end
$$;

-- The contract's short forms.
create or replace function scheduler.try_mark_daily_run(p_schedule text, p_run_key text) returns jsonb
language sql
set search_path = ''
as $$
  select scheduler.try_mark_daily_run(p_schedule, p_run_key, 'api', null::uuid, false, null::text)
$$;

create or replace function scheduler.try_mark_daily_run(p_today_key text) returns jsonb
language sql
set search_path = ''
as $$
  select scheduler.try_mark_daily_run('daily-batch', p_today_key, 'api', null::uuid, false, null::text)
$$;

drop function scheduler.claim_and_plan_run(text, text, text, uuid, boolean, text);

-- Resumes one stuck batch job:
--   terminal already → noop; every task terminal → finalized;
--   resumed past max_batch_job_attempts → failed (live tasks failed with the reason);
--   otherwise tasks whose lease expired go back to pending (or fail past max_task_attempts),
--   the job goes back to pending and the processor fleet is kicked for the work.
create or replace function scheduler.resume_stuck_batch_job(p_batch_job_id uuid) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_job scheduler.batch_jobs;
  v_status text;
  v_reset integer;
  v_failed integer;
  v_kicked integer;
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
  v_kicked := scheduler.ensure_processor_fleet('reconciler');
  return jsonb_build_object('action', 'resumed', 'batch_job_id', v_job.id, 'tasks_reset', v_reset,
                            'tasks_failed', v_failed, 'processor_kicked', v_kicked > 0);
end
$$;

-- Puts a run's failed tasks back to pending and kicks the processor fleet. Tasks that already have a
-- result are never reset, so a retry cannot produce a second result.
create or replace function scheduler.retry_failed_tasks(p_run_id uuid) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_run scheduler.runs;
  v_tasks integer;
  v_jobs integer;
  v_kicked integer;
begin
  select * into v_run from scheduler.runs where id = p_run_id for update;
  if not found then
    raise exception 'unknown run %', p_run_id using errcode = '22023';
  end if;
  if v_run.status = 'cancelled' then
    raise exception 'run % was cancelled (%): it keeps its period; force or backfill another period instead', p_run_id, v_run.cancel_reason using errcode = '22023';
  end if;
  update scheduler.batch_tasks t
     set status = 'pending', attempts = 0, attempt_token = null, lease_expires_at = null, claimed_by = null,
         completed_at = null, last_error = 'retried after: ' || coalesce(t.last_error, 'failure')
   where t.run_id = p_run_id and t.status = 'failed'
     and not exists (select from public.prompt_results p where p.task_id = t.id);
  get diagnostics v_tasks = row_count;
  if v_tasks = 0 then
    return jsonb_build_object('tasks_reset', 0, 'batch_jobs_reopened', 0, 'processors_kicked', 0);
  end if;
  update scheduler.batch_jobs j
     set status = 'pending', completed_at = null, claimed_by = null, last_heartbeat = now(), attempts = 0, resumed_at = null
   where j.run_id = p_run_id and j.status in ('completed_with_errors', 'failed')
     and exists (select from scheduler.batch_tasks t where t.batch_job_id = j.id and t.status = 'pending');
  get diagnostics v_jobs = row_count;
  update scheduler.runs set status = 'running', completed_at = null where id = p_run_id;
  v_kicked := case when v_jobs > 0 then scheduler.ensure_processor_fleet('manual', v_jobs) else 0 end;
  return jsonb_build_object('tasks_reset', v_tasks, 'batch_jobs_reopened', v_jobs, 'processors_kicked', v_kicked);
end
$$;

drop function scheduler.kick_processors(integer, text);

revoke execute on all functions in schema scheduler from public, anon, authenticated;

comment on function scheduler.try_mark_daily_run(text, text, text, uuid, boolean, text) is
  'The day gate: claims (schedule, run_key) and plans its run, batch jobs, tasks and fleet in one transaction; updated=false when already claimed';
comment on function scheduler.try_mark_daily_run(text, text) is
  'try_mark_daily_run for (schedule, run_key), called by api: {"updated","previous_key","new_key",...}';
comment on function scheduler.try_mark_daily_run(text) is
  'try_mark_daily_run for the default schedule daily-batch';
comment on function scheduler.resume_stuck_batch_job(uuid) is
  'Finalizes, resumes (expired leases back to pending, the fleet kicked) or fails a stuck batch job';
comment on function scheduler.retry_failed_tasks(uuid) is
  'Puts a run''s failed tasks (without a result) back to pending and kicks the processor fleet';
