-- daybreak: the operator surface.
-- Purpose: one view per question an incident asked (who called, is anything stuck, did every
-- provider run in every region, did a day get missed, is cron sane), a summary of everything
-- unhealthy for monitors, and the operator actions (retry failed tasks, pause/resume a schedule,
-- cancel a run). sql/monitoring/ has one ready-to-run query per view.
-- Objects: views v_recent_invocations, v_batch_health, v_stuck_batch_jobs, v_duplicate_results,
-- v_run_completeness, v_cron_health, v_daily_history, v_health_problems; functions
-- retry_failed_tasks, set_schedule_enabled, pause_schedule, resume_schedule, cancel_run.
-- Operators: see RUNBOOK.md.
-- The current schema, every function with its body: supabase/schema.sql.

-- Every authenticated call of the last 7 days, newest first, with the cron tick that sent it.
create view scheduler.v_recent_invocations with (security_invoker = true) as
select s.started_at, s.function_name, s.trigger_source, s.status, s.reason, s.schedule, s.run_key, s.run_id,
       s.forced, s.note, s.auth_method, s.user_agent, s.request_id, s.github_run_id, s.cf_ray,
       round(extract(epoch from (s.completed_at - s.started_at)) * 1000)::integer as duration_ms,
       s.error_message, t.ticked_at as cron_tick_at, t.net_request_id, s.id as invocation_id
  from scheduler.scheduler_runs s
  left join scheduler.cron_ticks t on t.request_id = s.request_id
 where s.started_at > now() - interval '7 days'
 order by s.started_at desc;

-- Each run of the last 30 days: its batch jobs and tasks by status, duplicates prevented, timing.
create view scheduler.v_batch_health with (security_invoker = true) as
select r.schedule, r.run_key, r.id as run_id, r.status as run_status, r.trigger_source, r.forced,
       count(distinct j.id) as batch_jobs,
       count(distinct j.id) filter (where j.status in ('pending', 'processing')) as jobs_live,
       count(distinct j.id) filter (where j.status = 'completed') as jobs_completed,
       count(distinct j.id) filter (where j.status = 'completed_with_errors') as jobs_with_errors,
       count(distinct j.id) filter (where j.status = 'failed') as jobs_failed,
       r.tasks_planned,
       (select count(*) from scheduler.batch_tasks t where t.run_id = r.id and t.status = 'succeeded') as tasks_succeeded,
       (select count(*) from scheduler.batch_tasks t where t.run_id = r.id and t.status = 'failed') as tasks_failed,
       (select count(*) from scheduler.batch_tasks t where t.run_id = r.id and t.status in ('pending', 'processing')) as tasks_live,
       coalesce(sum(j.duplicates_prevented), 0)::integer as duplicates_prevented,
       r.created_at, r.completed_at,
       round(extract(epoch from (coalesce(r.completed_at, now()) - r.created_at)))::integer as duration_s
  from scheduler.runs r
  left join scheduler.batch_jobs j on j.run_id = r.id
 where r.created_at > now() - interval '30 days'
 group by r.id
 order by r.created_at desc;

-- Batch jobs the reconciler would act on right now, and why.
create view scheduler.v_stuck_batch_jobs with (security_invoker = true) as
select s.batch_job_id, s.reason, j.status, o.name as organization, j.run_id, r.schedule, r.run_key,
       j.attempts, j.last_heartbeat,
       round(extract(epoch from (now() - coalesce(j.last_heartbeat, j.created_at))))::integer as silent_for_s,
       (select count(*) from scheduler.batch_tasks t where t.batch_job_id = j.id and t.status in ('pending', 'processing')) as tasks_live
  from scheduler.stale_batch_jobs(now()) s
  join scheduler.batch_jobs j on j.id = s.batch_job_id
  join scheduler.runs r on r.id = j.run_id
  left join public.organizations o on o.id = j.org_id;

-- Two results for one (run, prompt, provider, region). The unique key makes this impossible;
-- the view exists so that an operator can prove it in one query.
create view scheduler.v_duplicate_results with (security_invoker = true) as
select run_id, prompt_id, provider, region, count(*) as results, array_agg(id order by id) as result_ids
  from public.prompt_results
 group by run_id, prompt_id, provider, region
having count(*) > 1;

-- Planned vs done per run, provider and region (runs of the last 30 days): missing = planned tasks
-- without a result, extra = results without a planned task.
create view scheduler.v_run_completeness with (security_invoker = true) as
with recent as (
  select id, schedule, run_key, status from scheduler.runs where created_at > now() - interval '30 days'
), planned as (
  select t.run_id, t.provider, t.region,
         count(*) as planned,
         count(*) filter (where t.status = 'succeeded') as succeeded,
         count(*) filter (where t.status = 'failed') as failed,
         count(*) filter (where t.status in ('pending', 'processing')) as live,
         count(*) filter (where not exists (select from public.prompt_results p where p.task_id = t.id)) as missing
    from scheduler.batch_tasks t join recent on recent.id = t.run_id
   group by t.run_id, t.provider, t.region
), recorded as (
  select p.run_id, p.provider, p.region, count(*) as results,
         count(*) filter (where not exists (
           select from scheduler.batch_tasks t
            where t.id = p.task_id and t.run_id = p.run_id and t.provider = p.provider and t.region = p.region)) as extra
    from public.prompt_results p join recent on recent.id = p.run_id
   group by p.run_id, p.provider, p.region
)
select r.schedule, r.run_key, r.id as run_id, r.status as run_status,
       coalesce(pl.provider, rc.provider) as provider, coalesce(pl.region, rc.region) as region,
       coalesce(pl.planned, 0) as planned, coalesce(pl.succeeded, 0) as succeeded, coalesce(pl.failed, 0) as failed,
       coalesce(pl.live, 0) as live, coalesce(rc.results, 0) as results,
       coalesce(pl.missing, 0) as missing, coalesce(rc.extra, 0) as extra
  from planned pl
  full join recorded rc on rc.run_id = pl.run_id and rc.provider = pl.provider and rc.region = pl.region
  join recent r on r.id = coalesce(pl.run_id, rc.run_id)
 order by r.run_key desc, provider, region;

-- The pg_cron jobs: daybreak's two with their last run, anything else that is scheduled (it
-- should not be), and a daybreak job that is missing or paused.
create view scheduler.v_cron_health with (security_invoker = true) as
with expected(jobname) as (values ('daybreak-trigger'), ('daybreak-reconciler'))
select coalesce(j.jobname, e.jobname) as jobname, j.jobid, j.schedule, j.command, j.active,
       d.status as last_status, d.start_time as last_start, d.end_time as last_end, d.return_message as last_message,
       case
         when j.jobid is null then 'missing'
         when e.jobname is null then 'unexpected job'
         when not j.active then 'paused'
         when d.status = 'failed' then 'last run failed'
         when d.start_time is not null and d.start_time < now() - interval '15 minutes' then 'not run for 15 minutes'
         else 'ok'
       end as health
  from cron.job j
  full join expected e on e.jobname = j.jobname
  left join lateral (
    select status, start_time, end_time, return_message
      from cron.job_run_details x where x.jobid = j.jobid order by x.start_time desc nulls last limit 1
  ) d on true
 order by (e.jobname is null), 1;

-- Per schedule and period over the last 30 days: every caller (source, time, outcome) with the
-- winner marked, for cron calls the tick and pg_net request that carried them (joined through
-- x-request-id), and missed periods (window over, no run) as rows of their own.
create view scheduler.v_daily_history with (security_invoker = true) as
with periods as (
  select s.name as schedule, s.period, s.enabled, s.window_end, s.timezone,
         scheduler.period_key(s.period, d::date) as run_key, d::date as local_date
    from scheduler.schedules s
   cross join lateral generate_series((now() at time zone s.timezone)::date - 30,
                                      (now() at time zone s.timezone)::date, interval '1 day') d
   where (s.period = 'daily' or extract(isodow from d) = s.weekday)
     and d::date >= (s.created_at at time zone s.timezone)::date
), keys as (
  select schedule, run_key, local_date, enabled,
         (local_date < (now() at time zone timezone)::date
          or (now() at time zone timezone)::time >= window_end) as window_over
    from periods
  union
  select r.schedule, r.run_key, null::date, true, true
    from scheduler.runs r where r.created_at > now() - interval '30 days'
)
select k.schedule, k.run_key,
       case
         when r.id is not null then 'ran'
         when k.window_over and k.enabled then 'missed'
         when k.enabled then 'due'
         else 'paused'
       end as day_status,
       r.id as run_id, r.status as run_status, r.trigger_source as winner_source, r.note as run_note,
       c.started_at as called_at, c.trigger_source, c.status as call_status, c.reason as call_reason,
       (c.id is not null and c.id = r.scheduler_run_id) as is_winner,
       c.forced, c.note, c.user_agent, c.request_id, c.github_run_id,
       t.ticked_at as cron_tick_at, t.net_request_id, n.status_code as net_status_code, n.error_msg as net_error
  from (select distinct on (schedule, run_key) * from keys order by schedule, run_key, local_date nulls last) k
  left join scheduler.runs r on r.schedule = k.schedule and r.run_key = k.run_key
  left join scheduler.scheduler_runs c
         on c.schedule = k.schedule and c.run_key = k.run_key and c.function_name = 'daily-batch-trigger'
  left join scheduler.cron_ticks t on t.request_id = c.request_id
  left join net._http_response n on n.id = t.net_request_id
 order by k.run_key desc, k.schedule, c.started_at;

-- Everything an operator should be woken for, one row each (empty = healthy). scripts/status exits
-- 1 when this has rows.
create view scheduler.v_health_problems with (security_invoker = true) as
select 'stuck_batch_job' as problem, batch_job_id::text as subject,
       format('%s batch job for %s (run %s) %s; silent for %s s', status, organization, run_key, reason, silent_for_s) as detail
  from scheduler.v_stuck_batch_jobs
union all
select 'duplicate_result', run_id::text, format('%s results for prompt %s on %s/%s', results, prompt_id, provider, region)
  from scheduler.v_duplicate_results
union all
select 'incomplete_run', r.id::text,
       format('run %s/%s is %s after its window with %s task(s) without a result', r.schedule, r.run_key, r.status,
              (select count(*) from scheduler.batch_tasks t where t.run_id = r.id
                  and not exists (select from public.prompt_results p where p.task_id = t.id)))
  from scheduler.runs r
  join scheduler.schedules s on s.name = r.schedule
 where r.created_at > now() - interval '30 days'
   and r.status <> 'cancelled'
   and (r.status <> 'running' or r.created_at < now() - interval '1 hour')
   and (r.status <> 'completed' or exists (select from scheduler.batch_tasks t where t.run_id = r.id and t.status <> 'succeeded'))
   and (scheduler.parse_run_key(s.period, r.run_key) < (now() at time zone s.timezone)::date
        or ((now() at time zone s.timezone)::time >= s.window_end
            and scheduler.current_run_key(s.name, now()) = r.run_key))
union all
select distinct 'missed_period', schedule || '/' || run_key, format('no run for %s %s and its window is over', schedule, run_key)
  from scheduler.v_daily_history where day_status = 'missed'
union all
select 'cron_job', jobname, health from scheduler.v_cron_health where health <> 'ok';

-- Puts a run's failed tasks back to pending and kicks processors. Tasks that already have a
-- result are never reset, so a retry cannot produce a second result.
create function scheduler.retry_failed_tasks(p_run_id uuid) returns jsonb
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
  v_kicked := scheduler.kick_processors(v_jobs, 'manual');
  return jsonb_build_object('tasks_reset', v_tasks, 'batch_jobs_reopened', v_jobs, 'processors_kicked', v_kicked);
end
$$;

create function scheduler.set_schedule_enabled(p_name text, p_enabled boolean) returns jsonb
language plpgsql
set search_path = ''
as $$
begin
  update scheduler.schedules set enabled = p_enabled, updated_at = now() where name = p_name;
  if not found then
    raise exception 'unknown schedule "%"', p_name using errcode = '22023';
  end if;
  return jsonb_build_object('schedule', p_name, 'enabled', p_enabled);
end
$$;

create function scheduler.pause_schedule(p_name text) returns jsonb
language sql
set search_path = ''
as $$ select scheduler.set_schedule_enabled(p_name, false) $$;

create function scheduler.resume_schedule(p_name text) returns jsonb
language sql
set search_path = ''
as $$ select scheduler.set_schedule_enabled(p_name, true) $$;

-- Cancels a running run: its live batch jobs and tasks are cancelled; a processor still holding
-- one of its tasks finds its completion rejected (the task is no longer processing).
create function scheduler.cancel_run(p_run_id uuid, p_reason text) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_status text;
  v_jobs integer;
  v_tasks integer;
begin
  if p_reason is null or length(trim(p_reason)) = 0 then
    raise exception 'cancel_run needs a reason' using errcode = '22023';
  end if;
  select status into v_status from scheduler.runs where id = p_run_id for update;
  if not found then
    raise exception 'unknown run %', p_run_id using errcode = '22023';
  end if;
  if v_status <> 'running' then
    raise exception 'run % already ended (%)', p_run_id, v_status using errcode = '22023';
  end if;
  update scheduler.batch_tasks set status = 'cancelled', completed_at = now(), lease_expires_at = null,
         last_error = 'cancelled: ' || p_reason
   where run_id = p_run_id and status in ('pending', 'processing');
  get diagnostics v_tasks = row_count;
  update scheduler.batch_jobs set status = 'cancelled', completed_at = now(), last_error = 'cancelled: ' || p_reason
   where run_id = p_run_id and status in ('pending', 'processing');
  get diagnostics v_jobs = row_count;
  update scheduler.runs set status = 'cancelled', completed_at = now(), cancel_reason = p_reason where id = p_run_id;
  return jsonb_build_object('run_id', p_run_id, 'status', 'cancelled', 'batch_jobs_cancelled', v_jobs, 'tasks_cancelled', v_tasks);
end
$$;

revoke execute on all functions in schema scheduler from public, anon, authenticated;
revoke all on all tables in schema scheduler from public, anon, authenticated;

comment on function scheduler.retry_failed_tasks(uuid) is 'Puts a run''s failed tasks (without a result) back to pending and kicks processors';
comment on function scheduler.pause_schedule(text) is 'Stops the cron tick from starting a schedule''s runs (forced manual runs still work)';
comment on function scheduler.resume_schedule(text) is 'Lets the cron tick start a schedule''s runs again';
comment on function scheduler.cancel_run(uuid, text) is 'Cancels a running run, its live batch jobs and tasks, with a reason';
comment on view scheduler.v_health_problems is 'Everything unhealthy right now, one row each; empty means healthy';
