-- daybreak: the day gate and the planner.
-- Purpose: scheduler.try_mark_daily_run claims a (schedule, period) and plans its whole batch in
-- ONE transaction (invariants 1 and 2), plus the window and period-key helpers it and the cron
-- tick share, and scheduler.queue_function_call, the one way SQL starts an edge function.
-- Objects: functions config_int, period_key, is_in_execution_window,
-- current_run_key, parse_run_key, queue_function_call, kick_processors, claim_and_plan_run,
-- try_mark_daily_run (2 overloads),
-- finalize_run.
-- Operators: the functions URL and cron secret live in Vault (daybreak_functions_url,
-- daybreak_cron_secret); see RUNBOOK.md "Deploying".
-- The current schema, every function with its body: supabase/schema.sql.

create function scheduler.config_int(p_key text) returns integer
language plpgsql stable
set search_path = ''
as $$
declare
  v_value integer;
begin
  select (c.value #>> '{}')::integer into v_value from scheduler.config c where c.key = p_key;
  if v_value is null then
    raise exception 'scheduler.config has no integer setting "%"', p_key using errcode = '22023';
  end if;
  return v_value;
end
$$;

-- The period a local date belongs to: the date itself for daily schedules, the ISO week for weekly.
create function scheduler.period_key(p_period text, p_local_date date) returns text
language sql immutable
set search_path = ''
as $$
  select case p_period
    when 'daily' then to_char(p_local_date, 'YYYY-MM-DD')
    when 'weekly' then to_char(p_local_date, 'IYYY-"W"IW')
  end
$$;

-- window_start <= local time < window_end, on the schedule's weekday for weekly schedules.
-- America/New_York switches at 02:00, so a 03:00-06:00 window is never skipped or repeated.
create function scheduler.is_in_execution_window(p_schedule text, p_now timestamptz default now()) returns boolean
language sql stable
set search_path = ''
as $$
  select (p_now at time zone s.timezone)::time >= s.window_start
     and (p_now at time zone s.timezone)::time < s.window_end
     and (s.period = 'daily' or extract(isodow from (p_now at time zone s.timezone)) = s.weekday)
    from scheduler.schedules s
   where s.name = p_schedule
$$;

create function scheduler.current_run_key(p_schedule text, p_now timestamptz default now()) returns text
language sql stable
set search_path = ''
as $$
  select scheduler.period_key(s.period, (p_now at time zone s.timezone)::date)
    from scheduler.schedules s
   where s.name = p_schedule
$$;

-- The first local date of the period a run key names, or an error that says what is wrong.
create function scheduler.parse_run_key(p_period text, p_run_key text) returns date
language plpgsql immutable
set search_path = ''
as $$
declare
  v_date date;
begin
  if p_period = 'daily' and p_run_key ~ '^\d{4}-\d{2}-\d{2}$' then
    begin
      v_date := to_date(p_run_key, 'YYYY-MM-DD');
    exception when others then
      v_date := null;
    end;
  elsif p_period = 'weekly' and p_run_key ~ '^\d{4}-W\d{2}$' then
    -- Monday of ISO week 1 is the Monday on or before January 4th.
    v_date := make_date(left(p_run_key, 4)::integer, 1, 4);
    v_date := v_date - (extract(isodow from v_date)::integer - 1) + (substr(p_run_key, 7, 2)::integer - 1) * 7;
  end if;
  if v_date is null or scheduler.period_key(p_period, v_date) is distinct from p_run_key then
    raise exception 'invalid run_key "%" for a % schedule (expected %)', p_run_key, p_period,
      case p_period when 'weekly' then 'YYYY-Www' else 'YYYY-MM-DD' end
      using errcode = '22023';
  end if;
  return v_date;
end
$$;

-- Queues an HTTP call to one of daybreak's edge functions through pg_net, with the URL and the
-- cron secret read from Vault. pg_net sends it only if the calling transaction commits, so a
-- kick is sent exactly when the state change that needs it is durable. Returns pg_net's request
-- id, or null (with a warning) when Vault does not hold the URL and secret yet.
create function scheduler.queue_function_call(
  p_function text,
  p_body jsonb,
  p_trigger_source text,
  p_request_id text default null
) returns bigint
language plpgsql
set search_path = ''
as $$
declare
  v_url text;
  v_secret text;
begin
  if p_function not in ('daily-batch-trigger', 'robust-batch-processor', 'batch-reconciler') then
    raise exception 'unknown daybreak function "%"', p_function using errcode = '22023';
  end if;
  select max(decrypted_secret) filter (where name = 'daybreak_functions_url'),
         max(decrypted_secret) filter (where name = 'daybreak_cron_secret')
    into v_url, v_secret
    from vault.decrypted_secrets
   where name in ('daybreak_functions_url', 'daybreak_cron_secret');
  if v_url is null or v_secret is null then
    raise warning 'daybreak: Vault secrets daybreak_functions_url / daybreak_cron_secret are not set; % not called', p_function;
    return null;
  end if;
  return net.http_post(
    url := rtrim(v_url, '/') || '/' || p_function,
    body := coalesce(p_body, '{}'::jsonb),
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'x-cron-secret', v_secret,
      'x-trigger-source', p_trigger_source,
      'x-request-id', coalesce(p_request_id, gen_random_uuid()::text)
    ),
    timeout_milliseconds := scheduler.config_int('processor_request_timeout_ms')
  );
end
$$;

-- Starts up to p_count processors (never more than the global cap allows right now).
create function scheduler.kick_processors(p_count integer, p_trigger_source text) returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_slots integer;
  v_kicked integer := 0;
begin
  select greatest(scheduler.config_int('max_concurrent_batch_jobs') - count(*), 0)::integer
    into v_slots
    from scheduler.batch_jobs where status = 'processing';
  for i in 1 .. least(p_count, v_slots) loop
    if scheduler.queue_function_call('robust-batch-processor', '{}'::jsonb, p_trigger_source) is not null then
      v_kicked := v_kicked + 1;
    end if;
  end loop;
  return v_kicked;
end
$$;

-- Claims (p_schedule, p_run_key) and plans it, all in this one transaction:
--   the run (unique per schedule and run key: the loser of any race gets updated = false),
--   one batch job per active organization with at least one active prompt,
--   one task per distinct (active prompt, provider, region) of that organization.
-- Configuration is validated, not trusted: duplicate providers, regions or prompts collapse into
-- one task; an unknown or disabled provider, or an unknown region, fails that organization's batch
-- job with an error naming it (never a remap), and the other organizations still run.
-- When p_scheduler_run_id is given, that invocation row is closed in the same transaction.
-- scheduler.try_mark_daily_run is the contract's name for it (two thin overloads below).
create function scheduler.claim_and_plan_run(
  p_schedule text,
  p_run_key text,
  p_trigger_source text default 'api',
  p_scheduler_run_id uuid default null,
  p_forced boolean default false,
  p_note text default null
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

  insert into scheduler.batch_tasks (batch_job_id, run_id, prompt_id, provider, region)
  select distinct bj.id, v_run_id, p.id, op.provider, r.region
    from scheduler.batch_jobs bj
    join public.prompts p on p.org_id = bj.org_id and p.active
    join public.organization_providers op on op.org_id = bj.org_id
    cross join lateral unnest(op.regions) r(region)
   where bj.run_id = v_run_id and bj.status = 'pending'
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

  select count(*)::integer into v_kicked from scheduler.batch_jobs where run_id = v_run_id and status = 'pending';
  v_kicked := scheduler.kick_processors(v_kicked, p_trigger_source);

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

create function scheduler.try_mark_daily_run(p_schedule text, p_run_key text) returns jsonb
language sql
set search_path = ''
as $$
  select scheduler.claim_and_plan_run(p_schedule, p_run_key)
$$;

create function scheduler.try_mark_daily_run(p_today_key text) returns jsonb
language sql
set search_path = ''
as $$
  select scheduler.claim_and_plan_run('daily-batch', p_today_key)
$$;

-- A run ends when every batch job has: completed if all completed, completed_with_errors if any
-- task or job failed, failed if every job failed. Idempotent; returns the run's status.
-- Processors finalize their batch jobs concurrently, each in the transaction that ended its job;
-- without a lock each would count the others' jobs as still live and none would end the run.
-- The run row lock orders them, and the count below is a new statement (a new snapshot), so the
-- last one to get the lock sees every other job's end.
create function scheduler.finalize_run(p_run_id uuid) returns text
language plpgsql
set search_path = ''
as $$
declare
  v_status text;
begin
  perform from scheduler.runs where id = p_run_id for update;
  update scheduler.runs r
     set status = case
                    when s.total > 0 and s.failed = s.total then 'failed'
                    when s.failed > 0 or s.with_errors > 0 then 'completed_with_errors'
                    else 'completed'
                  end,
         completed_at = now()
    from (select count(*) as total,
                 count(*) filter (where status = 'failed') as failed,
                 count(*) filter (where status = 'completed_with_errors') as with_errors,
                 count(*) filter (where status in ('pending', 'processing')) as live
            from scheduler.batch_jobs where run_id = p_run_id) s
   where r.id = p_run_id and r.status = 'running' and s.live = 0
  returning r.status into v_status;
  if v_status is null then
    select status into v_status from scheduler.runs where id = p_run_id;
  end if;
  return v_status;
end
$$;

revoke execute on all functions in schema scheduler from public, anon, authenticated;

comment on function scheduler.claim_and_plan_run(text, text, text, uuid, boolean, text) is
  'Claims (schedule, run_key) and plans its run, batch jobs and tasks in one transaction; updated=false when already claimed';
comment on function scheduler.try_mark_daily_run(text, text) is
  'claim_and_plan_run for (schedule, run_key): {"updated","previous_key","new_key",...}';
comment on function scheduler.try_mark_daily_run(text) is
  'try_mark_daily_run for the default schedule daily-batch';
comment on function scheduler.is_in_execution_window(text, timestamptz) is
  'Whether p_now falls inside the schedule''s local window (start inclusive, end exclusive)';
comment on function scheduler.current_run_key(text, timestamptz) is
  'The period key (local date, or ISO week) of p_now for a schedule';
comment on function scheduler.queue_function_call(text, jsonb, text, text) is
  'Queues a pg_net call to a daybreak edge function with the URL and cron secret from Vault';
comment on function scheduler.finalize_run(uuid) is
  'Ends a run whose batch jobs are all terminal; returns its status';
