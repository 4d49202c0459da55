-- daybreak: the day gate plans organizations' own runs: one run per (schedule, organization,
-- local period), claimed with the plan in one transaction, and the tick calls only when due.
-- Purpose:
--   * scheduler.try_mark_daily_run (the one gate) gains two arguments, p_org_id and p_now:
--       - without an organization and with a run key: the schedule's global run, as before, for
--         every organization that has no schedule of its own;
--       - with an organization: that organization's run for the run key (a forced run or a
--         backfill), its schedule row locked; claiming its next date advances the next date;
--       - without either (run key null): the due pass. Organizations whose next_run_at has come are
--         locked FOR UPDATE SKIP LOCKED (a racing pass takes the others), each one's latest due
--         date is claimed (runs_one_per_period: a forced run that got there first makes this a
--         loser, counted), the dates before it recorded missed, and its next date advanced; every
--         claimed run is planned (batch job, tasks ranked by seq) and the workers kicked, all in
--         this one transaction. A date later than its window is caught up once (catch_up 'once',
--         within catch_up_minutes) or recorded missed.
--     The six-argument form the trigger called is replaced by this one (the same six arguments
--     first; the two new ones have defaults), and the one- and two-argument forms call it.
--   * Planning is set-based (scheduler.plan_runs), so a thousand due organizations are one insert
--     of runs, one of batch jobs and one of tasks.
--   * A schedule's runs do what its work says: 'prompts' (the processor fleet) or 'suggestions'
--     (one task per organization, asking one of its providers for five new prompts; the workers
--     kicked are weekly-suggestions invocations).
--   * scheduler.cron_trigger_tick also asks, from one index, whether any organization of an enabled
--     schedule is due, and then queues one call to the trigger (still no call when nothing is due).
--   * scheduler.queue_function_call may call weekly-suggestions.
-- Objects: column batch_tasks.kind; functions scheduler.plan_runs, kick_workers,
-- claim_due_organizations, try_mark_daily_run (8 arguments, replaces the 6-argument form; the
-- 1- and 2-argument forms recreated), cron_trigger_tick, queue_function_call (same signatures).
-- Operators: nothing to do; RUNBOOK.md, "Organization schedules".
-- The current schema, every function with its body: supabase/schema.sql.

alter table scheduler.batch_tasks add column kind text not null default 'prompt'
  check (kind in ('prompt', 'suggestions'));
comment on column scheduler.batch_tasks.kind is
  'prompt: answer the prompt prompt_id; suggestions: ask the provider for five new prompts for the organization';

create or replace function scheduler.queue_function_call(
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
  if p_function not in ('daily-batch-trigger', 'robust-batch-processor', 'batch-reconciler', 'weekly-suggestions') then
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
    params := '{}'::jsonb,
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'Prefer', 'respond-async',
      'x-cron-secret', v_secret,
      'x-trigger-source', p_trigger_source,
      'x-request-id', coalesce(p_request_id, gen_random_uuid()::text)
    ),
    timeout_milliseconds := scheduler.config_int('function_call_timeout_ms')
  );
end
$$;

-- Plans claimed runs, set-based: batch jobs (the global run: every active organization with an
-- active prompt and no schedule of its own; an organization's run: that organization), their
-- configuration errors, their tasks, the runs' counts; runs with nothing to do are finalized.
create function scheduler.plan_runs(p_run_ids uuid[], p_work text) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_tasks integer;
  v_config_errors integer;
  v_jobs integer;
  v_pending integer;
  v_run uuid;
begin
  insert into scheduler.batch_jobs (run_id, org_id)
  select r.id, o.id
    from scheduler.runs r
   cross join public.organizations o
   where r.id = any(p_run_ids) and r.org_id is null and o.active
     and exists (select from public.prompts p where p.org_id = o.id and p.active)
     and not exists (select from scheduler.org_schedules os where os.schedule = r.schedule and os.org_id = o.id)
  on conflict on constraint batch_jobs_one_per_org do nothing;
  insert into scheduler.batch_jobs (run_id, org_id)
  select r.id, o.id
    from scheduler.runs r
    join public.organizations o on o.id = r.org_id
   where r.id = any(p_run_ids) and o.active
     and exists (select from public.prompts p where p.org_id = o.id and p.active)
  on conflict on constraint batch_jobs_one_per_org do nothing;

  -- Organizations whose configuration names a provider or region daybreak does not know.
  with bad as (
    select bj.id as batch_job_id,
           string_agg(distinct format('unknown provider "%s"', op.provider), '; ')
             filter (where pr.name is null or not pr.enabled) as provider_errors,
           string_agg(distinct format('unknown region "%s"', coalesce(r.region, 'NULL')), '; ')
             filter (where rg.code is null) as region_errors
      from scheduler.batch_jobs bj
      join public.organization_providers op on op.org_id = bj.org_id
      left join public.providers pr on pr.name = op.provider
      left join lateral unnest(op.regions) r(region) on true
      left join public.regions rg on rg.code = r.region
     where bj.run_id = any(p_run_ids)
     group by bj.id
  )
  update scheduler.batch_jobs bj
     set status = 'failed', completed_at = now(),
         last_error = 'configuration error: ' || concat_ws('; ', bad.provider_errors, bad.region_errors)
    from bad
   where bj.id = bad.batch_job_id
     and (bad.provider_errors is not null or bad.region_errors is not null);
  get diagnostics v_config_errors = row_count;

  if p_work = 'suggestions' then
    -- One task per organization: its first configured provider and region.
    insert into scheduler.batch_tasks (batch_job_id, run_id, prompt_id, provider, region, seq, kind)
    select distinct on (bj.id) bj.id, bj.run_id, bj.id, op.provider, op.regions[1], 1, 'suggestions'
      from scheduler.batch_jobs bj
      join public.organization_providers op on op.org_id = bj.org_id
     where bj.run_id = any(p_run_ids) and bj.status = 'pending'
     order by bj.id, op.id
    on conflict on constraint batch_tasks_one_per_combination do nothing;
  else
    -- seq ranks a task inside its (batch job, provider): paced claims go by seq, so each
    -- organization's first task comes before any organization's second (fairness).
    insert into scheduler.batch_tasks (batch_job_id, run_id, prompt_id, provider, region, seq)
    select d.batch_job_id, d.run_id, d.prompt_id, d.provider, d.region,
           row_number() over (partition by d.batch_job_id, d.provider order by d.prompt_id, d.region)
      from (select distinct bj.id as batch_job_id, bj.run_id, p.id as prompt_id, op.provider, r.region
              from scheduler.batch_jobs bj
              join public.prompts p on p.org_id = bj.org_id and p.active
              join public.organization_providers op on op.org_id = bj.org_id
             cross join lateral unnest(op.regions) r(region)
             where bj.run_id = any(p_run_ids) and bj.status = 'pending') d
    on conflict on constraint batch_tasks_one_per_combination do nothing;
  end if;
  get diagnostics v_tasks = row_count;

  update scheduler.batch_jobs bj
     set tasks_total = t.n
    from (select batch_job_id, count(*)::integer as n from scheduler.batch_tasks
           where run_id = any(p_run_ids) group by batch_job_id) t
   where bj.id = t.batch_job_id;

  -- An organization with prompts but no provider configured has nothing to do this period.
  update scheduler.batch_jobs
     set status = 'completed', completed_at = now()
   where run_id = any(p_run_ids) and status = 'pending' and tasks_total = 0;

  update scheduler.runs r
     set batch_jobs_planned = x.jobs, tasks_planned = x.tasks
    from (select rr.id, count(j.id)::integer as jobs, coalesce(sum(j.tasks_total), 0)::integer as tasks
            from unnest(p_run_ids) rr(id)
            left join scheduler.batch_jobs j on j.run_id = rr.id
           group by rr.id) x
   where r.id = x.id;

  for v_run in
    select rr.id from unnest(p_run_ids) rr(id)
     where not exists (select from scheduler.batch_jobs j where j.run_id = rr.id and j.status in ('pending', 'processing'))
  loop
    perform scheduler.finalize_run(v_run);
  end loop;

  select count(*)::integer, count(*) filter (where status = 'pending')::integer into v_jobs, v_pending
    from scheduler.batch_jobs where run_id = any(p_run_ids);
  return jsonb_build_object('batch_jobs', v_jobs, 'tasks', v_tasks, 'configuration_errors', v_config_errors,
                            'pending_jobs', v_pending);
end
$$;

-- The workers planned work needs: the processor fleet for prompts (at most one new invocation per
-- pending batch job to start with), one weekly-suggestions invocation for suggestions.
create function scheduler.kick_workers(p_work text, p_trigger_source text, p_pending_jobs integer) returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_id uuid;
  v_net bigint;
begin
  if coalesce(p_pending_jobs, 0) <= 0 then
    return 0;
  end if;
  if p_work <> 'suggestions' then
    return scheduler.ensure_processor_fleet(p_trigger_source, p_pending_jobs);
  end if;
  insert into scheduler.processors (status, trigger_source, kicked_at) values ('kicked', p_trigger_source, clock_timestamp())
  returning id into v_id;
  v_net := scheduler.queue_function_call('weekly-suggestions', jsonb_build_object('processor_id', v_id), p_trigger_source);
  if v_net is null then
    delete from scheduler.processors where id = v_id; -- Vault not configured: nothing was sent
    return 0;
  end if;
  update scheduler.processors set net_request_id = v_net where id = v_id;
  return 1;
end
$$;

-- The due pass (try_mark_daily_run with neither run key nor organization): see the header.
create function scheduler.claim_due_organizations(p_schedule text, p_trigger_source text, p_scheduler_run_id uuid,
                                                  p_note text, p_now timestamptz, p_limit integer default 500)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_s scheduler.schedules;
  o scheduler.org_schedules;
  v_weekday smallint;
  v_date date;
  v_due timestamptz;
  v_next date;
  v_next_due timestamptz;
  v_key text;
  v_late interval;
  v_reason text;
  v_orgs uuid[] := '{}';
  v_keys text[] := '{}';
  v_dues timestamptz[] := '{}';
  v_catch_ups boolean[] := '{}';
  v_due_rows integer := 0;
  v_missed integer := 0;
  v_catch_up integer := 0;
  v_run_ids uuid[];
  v_plan jsonb := jsonb_build_object('batch_jobs', 0, 'tasks', 0, 'configuration_errors', 0, 'pending_jobs', 0);
  v_kicked integer := 0;
  v_report jsonb;
begin
  select * into strict v_s from scheduler.schedules where name = p_schedule;
  for o in
    select * from scheduler.org_schedules os
     where os.schedule = p_schedule and not os.paused and os.next_run_at <= p_now
     order by os.next_run_at, os.org_id
     limit p_limit
       for update skip locked
  loop
    v_due_rows := v_due_rows + 1;
    v_weekday := coalesce(o.weekday, v_s.weekday);
    v_date := o.next_local_date;
    v_due := o.next_run_at;
    -- The latest local date whose instant has come; the ones before it were missed (an outage).
    loop
      v_next := scheduler.cadence_after(v_s.period, v_weekday, v_date);
      v_next_due := scheduler.local_instant(v_next, o.run_at, o.timezone) + make_interval(secs => o.jitter_seconds);
      exit when v_next_due > p_now;
      if v_due > p_now - interval '31 days' then
        v_key := scheduler.period_key(v_s.period, v_date);
        insert into scheduler.missed_runs (schedule, org_id, run_key, due_at, recorded_at, reason)
        select p_schedule, o.org_id, v_key, v_due, p_now, 'a later date was due: only the latest missed one is caught up'
         where not exists (select from scheduler.runs r where r.schedule = p_schedule and r.org_id = o.org_id and r.run_key = v_key)
        on conflict do nothing;
        v_missed := v_missed + 1;
      end if;
      v_date := v_next;
      v_due := v_next_due;
    end loop;
    v_key := scheduler.period_key(v_s.period, v_date);
    v_late := p_now - v_due;
    v_reason := null;
    if v_late < make_interval(mins => o.window_minutes) then
      null;
    elsif o.catch_up = 'once' and v_late < make_interval(mins => o.catch_up_minutes) then
      v_catch_up := v_catch_up + 1;
    elsif o.catch_up = 'once' then
      v_reason := format('past the catch-up window (%s min)', o.catch_up_minutes);
    else
      v_reason := format('past the window (%s min); catch-up policy skip', o.window_minutes);
    end if;
    if v_reason is null then
      v_orgs := v_orgs || o.org_id;
      v_keys := v_keys || v_key;
      v_dues := v_dues || v_due;
      v_catch_ups := v_catch_ups || (v_late >= make_interval(mins => o.window_minutes));
    else
      insert into scheduler.missed_runs (schedule, org_id, run_key, due_at, recorded_at, reason)
      select p_schedule, o.org_id, v_key, v_due, p_now, v_reason
       where not exists (select from scheduler.runs r where r.schedule = p_schedule and r.org_id = o.org_id and r.run_key = v_key)
      on conflict do nothing;
      v_missed := v_missed + 1;
    end if;
    update scheduler.org_schedules
       set next_local_date = v_next, next_run_at = v_next_due,
           last_run_key = case when v_reason is null then v_key else last_run_key end
     where schedule = o.schedule and org_id = o.org_id;
  end loop;

  -- One insert for every claim. A period some other caller claimed first (a forced run, a
  -- backfill) is not claimed again: the unique key decides, and the loser is counted.
  with claimed as (
    insert into scheduler.runs (schedule, run_key, org_id, trigger_source, scheduler_run_id, forced, note,
                                claimed_at, due_at, catch_up)
    select p_schedule, c.run_key, c.org_id, p_trigger_source, p_scheduler_run_id, false, p_note, p_now, c.due_at, c.catch_up
      from unnest(v_orgs, v_keys, v_dues, v_catch_ups) c(org_id, run_key, due_at, catch_up)
    on conflict on constraint runs_one_per_period do nothing
    returning id
  )
  select coalesce(array_agg(id), '{}') into v_run_ids from claimed;
  if cardinality(v_run_ids) > 0 then
    v_plan := scheduler.plan_runs(v_run_ids, v_s.work);
    v_kicked := scheduler.kick_workers(v_s.work, p_trigger_source, (v_plan ->> 'pending_jobs')::integer);
  end if;

  v_report := jsonb_build_object(
    'due', v_due_rows, 'started', cardinality(v_run_ids), 'catch_up', v_catch_up, 'missed', v_missed,
    'already_ran', cardinality(v_orgs) - cardinality(v_run_ids),
    'batch_jobs', v_plan -> 'batch_jobs', 'tasks', v_plan -> 'tasks', 'processors_kicked', v_kicked,
    -- More may be due than this pass took (its limit, or rows a racing pass holds).
    'remaining', v_due_rows >= p_limit);
  if p_scheduler_run_id is not null and v_due_rows > 0 then
    update scheduler.scheduler_runs
       set details = details || jsonb_build_object('organizations',
                                  scheduler.jsonb_sum_counts(details -> 'organizations', v_report - 'remaining'))
     where id = p_scheduler_run_id;
  end if;
  return v_report;
end
$$;

drop function scheduler.try_mark_daily_run(text, text, text, uuid, boolean, text);

create function scheduler.try_mark_daily_run(
  p_schedule text,
  p_run_key text,
  p_trigger_source text,
  p_scheduler_run_id uuid,
  p_forced boolean,
  p_note text,
  p_org_id uuid default null,
  p_now timestamptz default now()
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_schedule scheduler.schedules;
  v_org scheduler.org_schedules;
  v_run_id uuid;
  v_previous_key text;
  v_plan jsonb;
  v_kicked integer;
  v_date date;
  v_due timestamptz;
  v_next date;
begin
  select * into v_schedule from scheduler.schedules where name = p_schedule;
  if not found then
    raise exception 'unknown schedule "%"', p_schedule using errcode = '22023';
  end if;
  if p_run_key is null and p_org_id is null then
    return jsonb_build_object('updated', false, 'previous_key', null, 'new_key', null, 'organizations',
                              scheduler.claim_due_organizations(p_schedule, p_trigger_source, p_scheduler_run_id, p_note, p_now));
  end if;
  if p_org_id is not null then
    select * into v_org from scheduler.org_schedules where schedule = p_schedule and org_id = p_org_id for update;
    if not found then
      raise exception 'organization % has no schedule of its own for "%": it runs in the schedule''s global run (trigger without an organization)',
        p_org_id, p_schedule using errcode = '22023';
    end if;
    if p_run_key is null then
      p_run_key := scheduler.period_key(v_schedule.period, (p_now at time zone v_org.timezone)::date);
    end if;
  end if;
  v_date := scheduler.parse_run_key(v_schedule.period, p_run_key);

  select max(run_key) into v_previous_key
    from scheduler.runs where schedule = p_schedule and org_id is not distinct from p_org_id and run_key <> p_run_key;

  if p_org_id is not null then
    if v_schedule.period = 'weekly' then
      v_date := v_date + (coalesce(v_org.weekday, v_schedule.weekday) - 1);
    end if;
    v_due := scheduler.local_instant(v_date, v_org.run_at, v_org.timezone) + make_interval(secs => v_org.jitter_seconds);
  end if;

  insert into scheduler.runs (schedule, run_key, org_id, trigger_source, scheduler_run_id, forced, note, claimed_at, due_at)
  values (p_schedule, p_run_key, p_org_id, p_trigger_source, p_scheduler_run_id, p_forced, p_note, p_now, v_due)
  on conflict on constraint runs_one_per_period do nothing
  returning id into v_run_id;

  if v_run_id is null then
    select id into v_run_id from scheduler.runs
     where schedule = p_schedule and run_key = p_run_key and org_id is not distinct from p_org_id;
    if p_scheduler_run_id is not null then
      update scheduler.scheduler_runs
         set status = 'skipped', reason = 'already_ran', run_id = v_run_id, completed_at = now()
       where id = p_scheduler_run_id;
    end if;
    return jsonb_build_object('updated', false, 'previous_key', greatest(v_previous_key, p_run_key),
                              'new_key', p_run_key, 'existing_run_id', v_run_id);
  end if;

  -- An organization's run for its next period (or a later one) moves its next date past it, so the
  -- due pass never claims that period again.
  if p_org_id is not null
     and p_run_key >= scheduler.period_key(v_schedule.period, v_org.next_local_date) then
    v_next := scheduler.org_first_date(v_schedule.period, coalesce(v_org.weekday, v_schedule.weekday), v_org.run_at,
                                       v_org.timezone, v_org.jitter_seconds, v_date, p_now);
    update scheduler.org_schedules
       set next_local_date = v_next, last_run_key = greatest(last_run_key, p_run_key),
           next_run_at = scheduler.local_instant(v_next, run_at, timezone) + make_interval(secs => jitter_seconds)
     where schedule = p_schedule and org_id = p_org_id;
  end if;

  v_plan := scheduler.plan_runs(array[v_run_id], v_schedule.work);
  v_kicked := scheduler.kick_workers(v_schedule.work, p_trigger_source, (v_plan ->> 'pending_jobs')::integer);

  if p_scheduler_run_id is not null then
    update scheduler.scheduler_runs
       set status = 'completed', reason = 'started', run_id = v_run_id, completed_at = now(),
           details = details || jsonb_build_object('batch_jobs', v_plan -> 'batch_jobs', 'tasks', v_plan -> 'tasks',
                                                   'processors_kicked', v_kicked,
                                                   'configuration_errors', v_plan -> 'configuration_errors')
     where id = p_scheduler_run_id;
  end if;

  return jsonb_build_object('updated', true, 'previous_key', v_previous_key, 'new_key', p_run_key,
                            'run_id', v_run_id, 'batch_jobs', v_plan -> 'batch_jobs', 'tasks', v_plan -> 'tasks',
                            'processors_kicked', v_kicked, 'configuration_errors', v_plan -> 'configuration_errors');
end
$$;
comment on function scheduler.try_mark_daily_run(text, text, text, uuid, boolean, text, uuid, timestamptz) is
  'The day gate: claims (schedule, run_key[, organization]) and plans it, or (run_key and organization null) every organization due, in one transaction; updated=false when already claimed';

create or replace function scheduler.try_mark_daily_run(p_today_key text) returns jsonb
language sql
set search_path = ''
as $$
  select scheduler.try_mark_daily_run('daily-batch', p_today_key, 'api', null::uuid, false, null::text)
$$;

create or replace function scheduler.try_mark_daily_run(p_schedule text, p_run_key text) returns jsonb
language sql
set search_path = ''
as $$
  select scheduler.try_mark_daily_run(p_schedule, p_run_key, 'api', null::uuid, false, null::text)
$$;

create or replace function scheduler.cron_trigger_tick(p_now timestamptz default now()) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  s scheduler.schedules;
  v_key text;
  v_decision text;
  v_orgs_due boolean;
  v_request_id text;
  v_net_id bigint;
  v_decisions jsonb := '[]'::jsonb;
begin
  for s in select * from scheduler.schedules order by name loop
    v_key := scheduler.period_key(s.period, (p_now at time zone s.timezone)::date);
    v_request_id := null;
    v_net_id := null;
    -- One index probe: is any organization with a schedule of its own due?
    v_orgs_due := s.enabled and exists (select from scheduler.org_schedules o
                                         where o.schedule = s.name and not o.paused and o.next_run_at <= p_now);
    if not s.enabled then
      v_decision := 'disabled';
    elsif not scheduler.is_in_execution_window(s.name, p_now) then
      v_decision := 'outside_window';
    elsif exists (select from scheduler.runs r where r.schedule = s.name and r.run_key = v_key and r.org_id is null) then
      v_decision := 'already_claimed';
    else
      v_decision := 'due';
    end if;
    if v_decision = 'due' or v_orgs_due then
      -- The x-request-id travels with the call and is stored by the trigger in scheduler_runs,
      -- so one tick can be followed through pg_net to the invocation and the runs it produced.
      v_request_id := gen_random_uuid()::text;
      v_net_id := scheduler.queue_function_call('daily-batch-trigger', jsonb_build_object('schedule', s.name),
                                                'cron', v_request_id);
      v_decision := case when v_net_id is null then 'not_configured' else 'called' end;
      insert into scheduler.cron_ticks (tick, ticked_at, decision, schedule, run_key, request_id, net_request_id, details)
      values ('trigger', p_now, v_decision, s.name, v_key, v_request_id, v_net_id,
              jsonb_build_object('organizations_due', v_orgs_due));
    end if;
    v_decisions := v_decisions || jsonb_build_object('schedule', s.name, 'run_key', v_key, 'decision', v_decision,
                                                     'organizations_due', v_orgs_due,
                                                     'request_id', v_request_id, 'net_request_id', v_net_id);
  end loop;
  return v_decisions;
end
$$;

revoke all on function scheduler.plan_runs(uuid[], text) from public, anon, authenticated;
revoke all on function scheduler.kick_workers(text, text, integer) from public, anon, authenticated;
revoke all on function scheduler.claim_due_organizations(text, text, uuid, text, timestamptz, integer) from public, anon, authenticated;
revoke all on function scheduler.try_mark_daily_run(text, text, text, uuid, boolean, text, uuid, timestamptz) from public, anon, authenticated;
revoke all on function scheduler.try_mark_daily_run(text) from public, anon, authenticated;
revoke all on function scheduler.try_mark_daily_run(text, text) from public, anon, authenticated;
