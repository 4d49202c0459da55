-- daybreak: what operators see of organizations' own schedules.
-- Purpose:
--   * scheduler.v_org_schedules: each organization's schedule with its next run in its local time
--     and in UTC, its jitter, its last run key and its missed periods of the last 30 days.
--   * scheduler.v_org_history: each organization's own runs and missed periods over the last 30
--     local days, one row per (schedule, organization, local period).
--   * scheduler.v_daily_history stays the schedules' global periods (organizations' own runs and
--     the due pass's calls are left out), so the calendar reads as before; v_health_problems adds a
--     missed_period row for each organization's missed period not backfilled, and judges an
--     organization's run incomplete once its own window is over.
-- Objects: views scheduler.v_org_schedules, v_org_history; replaced (same columns): views
-- scheduler.v_daily_history, v_health_problems.
-- Operators: scripts/status and the status page show both; RUNBOOK.md, "Organization schedules".
-- The current schema, every function with its body: supabase/schema.sql.

create or replace view scheduler.v_daily_history with (security_invoker = true) as
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
    from scheduler.runs r where r.created_at > now() - interval '30 days' and r.org_id is null
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
  left join scheduler.runs r on r.schedule = k.schedule and r.run_key = k.run_key and r.org_id is null
  left join scheduler.scheduler_runs c
         on c.schedule = k.schedule and c.run_key = k.run_key and c.function_name = 'daily-batch-trigger'
        and c.org_id is null and c.reason is distinct from 'organizations_started'
  left join scheduler.cron_ticks t on t.request_id = c.request_id
  left join net._http_response n on n.id = t.net_request_id
 order by k.run_key desc, k.schedule, c.started_at;

create view scheduler.v_org_history with (security_invoker = true) as
select r.schedule, r.org_id, o.name as organization, r.run_key, 'ran' as day_status, r.id as run_id,
       r.status as run_status, r.trigger_source, r.forced, r.catch_up, r.due_at, r.claimed_at, null::text as reason
  from scheduler.runs r
  left join public.organizations o on o.id = r.org_id
 where r.org_id is not null and coalesce(r.due_at, r.created_at) > now() - interval '31 days'
union all
select m.schedule, m.org_id, o.name, m.run_key, 'missed', null, null, null, null, false, m.due_at, null, m.reason
  from scheduler.missed_runs m
  left join public.organizations o on o.id = m.org_id
 where m.due_at > now() - interval '31 days'
   and not exists (select from scheduler.runs r where r.schedule = m.schedule and r.org_id = m.org_id and r.run_key = m.run_key);
comment on view scheduler.v_org_history is
  'Organizations'' own runs and missed periods over the last 30 local days, one row per (schedule, organization, period)';

create view scheduler.v_org_schedules with (security_invoker = true) as
select os.schedule, os.org_id, o.name as organization, os.timezone, to_char(os.run_at, 'HH24:MI:SS') as run_at,
       os.window_minutes, coalesce(os.weekday, s.weekday) as weekday, os.catch_up, os.catch_up_minutes, os.paused,
       os.jitter_seconds, os.next_local_date, os.next_run_at,
       to_char(os.next_run_at at time zone os.timezone, 'YYYY-MM-DD HH24:MI:SS') as next_run_local,
       to_char(os.next_run_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as next_run_utc,
       os.last_run_key,
       (select count(*)::integer from scheduler.v_org_history h
         where h.schedule = os.schedule and h.org_id = os.org_id and h.day_status = 'ran') as ran_30d,
       (select count(*)::integer from scheduler.v_org_history h
         where h.schedule = os.schedule and h.org_id = os.org_id and h.day_status = 'missed') as missed_30d,
       os.updated_at
  from scheduler.org_schedules os
  join scheduler.schedules s on s.name = os.schedule
  left join public.organizations o on o.id = os.org_id;
comment on view scheduler.v_org_schedules is
  'Each organization''s own schedule: next run in its local time and in UTC, runs and missed periods of the last 30 days';

create or replace view scheduler.v_health_problems with (security_invoker = true) as
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
  left join scheduler.org_schedules os on os.schedule = r.schedule and os.org_id = r.org_id
 where r.created_at > now() - interval '30 days'
   and r.status <> 'cancelled'
   and (r.status <> 'running' or r.created_at < now() - interval '1 hour')
   and (r.status <> 'completed' or exists (select from scheduler.batch_tasks t where t.run_id = r.id and t.status <> 'succeeded'))
   and (case
          when r.org_id is not null
            then now() >= coalesce(r.due_at, r.created_at) + make_interval(mins => coalesce(os.window_minutes, 180))
          else scheduler.parse_run_key(s.period, r.run_key) < (now() at time zone s.timezone)::date
               or ((now() at time zone s.timezone)::time >= s.window_end
                   and scheduler.current_run_key(s.name, now()) = r.run_key)
        end)
union all
select distinct 'missed_period', schedule || '/' || run_key, format('no run for %s %s and its window is over', schedule, run_key)
  from scheduler.v_daily_history where day_status = 'missed'
union all
select 'cron_job', jobname, health from scheduler.v_cron_health where health <> 'ok'
union all
select 'missed_period', schedule || '/' || org_id || '/' || run_key,
       format('no run for %s of %s on %s: %s', schedule, coalesce(organization, org_id::text), run_key, reason)
  from scheduler.v_org_history where day_status = 'missed';
