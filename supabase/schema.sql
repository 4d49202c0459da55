-- daybreak: the current schema in one file, generated from a database freshly migrated by the
-- Supabase CLI (scripts/schema writes it; scripts/test fails when it differs from what the
-- migrations make). Read it for the current body of any function; change the schema with a new
-- migration in supabase/migrations/, never here. The design: docs/design/ARCHITECTURE.md.

-- ---------------------------------------------------------------- extensions
create extension if not exists pg_cron with schema pg_catalog; -- version 1.6
create extension if not exists pg_net with schema extensions; -- version 0.20.4
create extension if not exists supabase_vault with schema vault; -- version 0.3.1

-- ---------------------------------------------------------------- schemas scheduler and public (pg_dump)

-- Name: public; Type: SCHEMA; Schema: -

CREATE SCHEMA public;

-- Name: SCHEMA public; Type: COMMENT; Schema: -

COMMENT ON SCHEMA public IS 'standard public schema';

-- Name: scheduler; Type: SCHEMA; Schema: -

CREATE SCHEMA scheduler;

-- Name: SCHEMA scheduler; Type: COMMENT; Schema: -

COMMENT ON SCHEMA scheduler IS 'daybreak: exactly-once daily batch scheduling (private; not exposed to the Data API)';

-- Name: set_org_schedule(uuid, text, text, text, integer, text, integer, boolean, integer, timestamp with time zone); Type: FUNCTION; Schema: public

CREATE FUNCTION public.set_org_schedule(p_org_id uuid, p_schedule text DEFAULT 'daily-batch'::text, p_timezone text DEFAULT NULL::text, p_run_at text DEFAULT NULL::text, p_window_minutes integer DEFAULT NULL::integer, p_catch_up text DEFAULT NULL::text, p_catch_up_minutes integer DEFAULT NULL::integer, p_paused boolean DEFAULT NULL::boolean, p_weekday integer DEFAULT NULL::integer, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
declare
  v_s scheduler.schedules;
  v_old scheduler.org_schedules;
  v_new scheduler.org_schedules;
  v_exists boolean;
  v_floor date;
  v_timing_changed boolean;
begin
  if p_org_id is null or not exists (select from public.organizations where id = p_org_id) then
    raise exception 'unknown organization %', coalesce(p_org_id::text, 'null') using errcode = '22023';
  end if;
  select * into v_s from scheduler.schedules where name = p_schedule;
  if not found then
    raise exception 'unknown schedule "%"', p_schedule using errcode = '22023';
  end if;
  if p_timezone is not null
     and not exists (select from scheduler.known_time_zones where name = p_timezone)
     and not exists (select from pg_catalog.pg_timezone_names where name = p_timezone) then
    raise exception 'unknown time zone "%": use a name from pg_timezone_names, such as Australia/Sydney', p_timezone
      using errcode = '22023';
  end if;
  if p_run_at is not null and p_run_at !~ '^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$' then
    raise exception 'bad run time "%": a local wall time HH:MM (00:00 to 23:59)', p_run_at using errcode = '22023';
  end if;
  if p_window_minutes is not null and p_window_minutes not between 10 and 1440 then
    raise exception 'bad window: % minutes (10 to 1440)', p_window_minutes using errcode = '22023';
  end if;
  if p_catch_up is not null and p_catch_up not in ('skip', 'once') then
    raise exception 'bad catch-up policy "%": skip or once', p_catch_up using errcode = '22023';
  end if;
  if p_catch_up_minutes is not null and p_catch_up_minutes not between 0 and 1440 then
    raise exception 'bad catch-up window: % minutes (0 to 1440)', p_catch_up_minutes using errcode = '22023';
  end if;
  if p_weekday is not null and v_s.period <> 'weekly' then
    raise exception 'schedule "%" is daily: it takes no weekday', p_schedule using errcode = '22023';
  end if;
  if p_weekday is not null and p_weekday not between 1 and 7 then
    raise exception 'bad weekday %: 1 (Monday) to 7 (Sunday)', p_weekday using errcode = '22023';
  end if;

  -- Serializes with the due pass and a forced run of this organization (they lock the row too).
  select * into v_old from scheduler.org_schedules where schedule = p_schedule and org_id = p_org_id for update;
  v_exists := found;
  v_new.schedule := p_schedule;
  v_new.org_id := p_org_id;
  v_new.timezone := coalesce(p_timezone, v_old.timezone, v_s.timezone);
  v_new.run_at := coalesce(p_run_at::time, v_old.run_at, v_s.window_start);
  v_new.window_minutes := coalesce(p_window_minutes, v_old.window_minutes,
                                   least(1440, greatest(10, (extract(epoch from (v_s.window_end - v_s.window_start)) / 60)::integer)));
  v_new.weekday := coalesce(p_weekday::smallint, v_old.weekday, v_s.weekday);
  v_new.catch_up := coalesce(p_catch_up, v_old.catch_up, 'once');
  v_new.catch_up_minutes := coalesce(p_catch_up_minutes, v_old.catch_up_minutes, 360);
  v_new.paused := coalesce(p_paused, v_old.paused, false);
  v_new.jitter_seconds := coalesce(v_old.jitter_seconds,
    ((pg_catalog.hashtextextended(p_org_id::text || '/' || p_schedule, 0) % scheduler.config_int('org_jitter_seconds'))
      + scheduler.config_int('org_jitter_seconds'))::integer % scheduler.config_int('org_jitter_seconds'));
  v_timing_changed := not v_exists
    or v_new.timezone is distinct from v_old.timezone or v_new.run_at is distinct from v_old.run_at
    or v_new.weekday is distinct from v_old.weekday or (v_old.paused and not v_new.paused);

  if v_timing_changed then
    -- The latest local period this organization already had: its own runs and missed periods, and
    -- the global runs that planned it (their local date in the new zone).
    select max(d) into v_floor from (
      select scheduler.parse_run_key(v_s.period, r.run_key) as d
        from scheduler.runs r where r.schedule = p_schedule and r.org_id = p_org_id
      union all
      select (coalesce(r.due_at, r.created_at) at time zone v_new.timezone)::date
        from scheduler.runs r where r.schedule = p_schedule and r.org_id = p_org_id
      union all
      select scheduler.parse_run_key(v_s.period, m.run_key)
        from scheduler.missed_runs m where m.schedule = p_schedule and m.org_id = p_org_id
      union all
      select (r.created_at at time zone v_new.timezone)::date
        from scheduler.runs r
        join scheduler.batch_jobs j on j.run_id = r.id and j.org_id = p_org_id
       where r.schedule = p_schedule and r.org_id is null and r.created_at > p_now - interval '8 days'
    ) x;
    v_new.next_local_date := scheduler.org_first_date(v_s.period, v_new.weekday, v_new.run_at, v_new.timezone,
                                                      v_new.jitter_seconds, v_floor, p_now);
    v_new.next_run_at := scheduler.local_instant(v_new.next_local_date, v_new.run_at, v_new.timezone)
                         + make_interval(secs => v_new.jitter_seconds);
  else
    v_new.next_local_date := v_old.next_local_date;
    v_new.next_run_at := v_old.next_run_at;
  end if;

  insert into scheduler.org_schedules as o (schedule, org_id, timezone, run_at, window_minutes, weekday, catch_up,
                                            catch_up_minutes, paused, jitter_seconds, next_local_date, next_run_at,
                                            created_at, updated_at)
  values (v_new.schedule, v_new.org_id, v_new.timezone, v_new.run_at, v_new.window_minutes, v_new.weekday, v_new.catch_up,
          v_new.catch_up_minutes, v_new.paused, v_new.jitter_seconds, v_new.next_local_date, v_new.next_run_at, p_now, p_now)
  on conflict (schedule, org_id) do update
    set timezone = excluded.timezone, run_at = excluded.run_at, window_minutes = excluded.window_minutes,
        weekday = excluded.weekday, catch_up = excluded.catch_up, catch_up_minutes = excluded.catch_up_minutes,
        paused = excluded.paused, next_local_date = excluded.next_local_date, next_run_at = excluded.next_run_at,
        updated_at = p_now;

  return jsonb_build_object(
    'schedule', p_schedule, 'org_id', p_org_id, 'timezone', v_new.timezone, 'run_at', to_char(v_new.run_at, 'HH24:MI:SS'),
    'window_minutes', v_new.window_minutes, 'weekday', v_new.weekday, 'catch_up', v_new.catch_up,
    'catch_up_minutes', v_new.catch_up_minutes, 'paused', v_new.paused, 'jitter_seconds', v_new.jitter_seconds,
    'next_local_date', v_new.next_local_date, 'next_run_at', v_new.next_run_at,
    'next_run_local', to_char(v_new.next_run_at at time zone v_new.timezone, 'YYYY-MM-DD HH24:MI:SS'),
    'created', not v_exists);
end
$_$;

-- Name: FUNCTION set_org_schedule(p_org_id uuid, p_schedule text, p_timezone text, p_run_at text, p_window_minutes integer, p_catch_up text, p_catch_up_minutes integer, p_paused boolean, p_weekday integer, p_now timestamp with time zone); Type: COMMENT; Schema: public

COMMENT ON FUNCTION public.set_org_schedule(p_org_id uuid, p_schedule text, p_timezone text, p_run_at text, p_window_minutes integer, p_catch_up text, p_catch_up_minutes integer, p_paused boolean, p_weekday integer, p_now timestamp with time zone) IS 'Sets an organization''s own schedule (validated; null keeps a value); never makes a run due at once';

-- Name: abandoned_invocations(timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.abandoned_invocations(p_now timestamp with time zone) RETURNS SETOF uuid
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select s.id from scheduler.scheduler_runs s
   where s.status = 'running'
     and s.started_at < p_now - make_interval(mins => scheduler.config_int('abandoned_invocation_minutes'))
$$;

-- Name: cadence_after(text, smallint, date); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.cadence_after(p_period text, p_weekday smallint, p_date date) RETURNS date
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select case p_period
    when 'daily' then p_date + 1
    else p_date - (extract(isodow from p_date)::integer - 1) + 7 + (p_weekday - 1)
  end
$$;

-- Name: call_deadline_ms(text, timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.call_deadline_ms(p_provider text, p_now timestamp with time zone DEFAULT clock_timestamp()) RETURNS integer
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  with recent as (
    -- The provider's last 200 answers of the last hour: its latency as it is today.
    select r.latency_ms
      from public.prompt_results r
     where r.answered_by = p_provider and r.created_at > p_now - interval '1 hour' and r.created_at <= p_now
     order by r.created_at desc
     limit 200
  ), observed as (
    select count(*) as answers, percentile_cont(0.99) within group (order by latency_ms) as p99 from recent
  )
  select case when o.answers < 20 then p.timeout_ms
              else least(p.timeout_ms,
                         greatest(scheduler.config_int('call_deadline_min_ms'),
                                  ceil(scheduler.config_num('call_deadline_latency_multiple') * o.p99)::integer))
         end
    from public.providers p cross join observed o
   where p.name = p_provider
$$;

-- Name: FUNCTION call_deadline_ms(p_provider text, p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.call_deadline_ms(p_provider text, p_now timestamp with time zone) IS 'How long a call to this provider may take: clamp(call_deadline_latency_multiple × p99 of its last 200 answers in the hour, call_deadline_min_ms, its timeout_ms); its timeout_ms until 20 answers are known; null for an unknown provider';

-- Name: cancel_run(uuid, text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.cancel_run(p_run_id uuid, p_reason text) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION cancel_run(p_run_id uuid, p_reason text); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.cancel_run(p_run_id uuid, p_reason text) IS 'Cancels a running run, its live batch jobs and tasks, with a reason';

-- Name: claim_due_organizations(text, text, uuid, text, timestamp with time zone, integer); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.claim_due_organizations(p_schedule text, p_trigger_source text, p_scheduler_run_id uuid, p_note text, p_now timestamp with time zone, p_limit integer DEFAULT 500) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: claim_paced_tasks(text, text, integer, timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.claim_paced_tasks(p_worker text, p_provider text, p_limit integer, p_now timestamp with time zone DEFAULT clock_timestamp()) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_provider public.providers;
  v_pace scheduler.provider_pace;
  v_limits record;
  v_rate double precision;
  v_per_ms double precision;
  v_capacity double precision;
  v_burst_ms integer;
  v_bucket double precision;
  v_tokens_per_ms double precision;
  v_token_capacity double precision;
  v_token_bucket double precision;
  v_completion double precision;
  v_in_flight integer;
  v_in_flight_cap integer;
  v_window_room integer;
  v_remaining double precision;
  v_grant integer;
  v_wait integer;
  v_tasks jsonb;
  v_claimed integer;
  v_cost double precision := 0;
  v_next_cost double precision;
  v_ids bigint[];
  v_max_attempts integer := scheduler.config_int('max_task_attempts');
  v_lease interval := make_interval(secs => scheduler.config_int('task_lease_seconds'));
begin
  if p_limit is null or p_limit < 1 then
    raise exception 'p_limit must be >= 1' using errcode = '22023';
  end if;
  select * into v_provider from public.providers where name = p_provider and enabled;
  if found then
    insert into scheduler.provider_pace (provider) values (p_provider) on conflict (provider) do nothing;
    select * into v_pace from scheduler.provider_pace where provider = p_provider for update;
    if v_pace.paused_until > p_now then
      return jsonb_build_object('tasks', '[]'::jsonb, 'has_work', true, 'paused', true,
                                'wait_ms', ceil(extract(epoch from (v_pace.paused_until - p_now)) * 1000)::integer);
    end if;
    if coalesce(v_provider.requests_per_minute, v_pace.learned_requests_per_minute) is null then
      perform scheduler.grow_probe(p_provider, p_now);
      select * into v_pace from scheduler.provider_pace where provider = p_provider;
    end if;
    select * into v_limits from scheduler.provider_limits(p_provider, p_now);
    v_rate := v_limits.requests_per_minute;
    v_per_ms := v_rate / 60000.0;
    -- Probing, bursts are short: an unknown window is found with fewer calls refused at once.
    v_burst_ms := case when v_limits.request_limit is null then scheduler.config_int('pace_probe_burst_ms')
                       else coalesce(v_pace.burst_ms, scheduler.config_int('pace_burst_ms')) end;
    -- At least a call and a half: a claim a few ms late (the lanes' timers, the round trip) loses
    -- nothing; one call once a short window was found (the burst at its shortest).
    v_capacity := greatest(case when v_burst_ms <= scheduler.config_int('pace_min_burst_ms') then 1.0 else 1.5 end,
                           v_per_ms * v_burst_ms);
    -- A fresh row (never drawn from) starts full, like the provider's own bucket; after a 429 the
    -- bucket restarts empty when the pause ends (bucket_at is then in the future).
    v_bucket := case when v_pace.bucket_at is null then v_capacity
                     else least(v_capacity, v_pace.bucket + v_per_ms * greatest(0, extract(epoch from (p_now - v_pace.bucket_at)) * 1000)) end;
    if v_limits.tokens_per_minute is not null then
      v_tokens_per_ms := v_limits.tokens_per_minute / 60000.0;
      v_token_capacity := greatest(1.0, v_tokens_per_ms * coalesce(v_pace.burst_ms, scheduler.config_int('pace_burst_ms')));
      v_token_bucket := case when v_pace.token_bucket_at is null then v_token_capacity
                             else least(v_token_capacity, v_pace.token_bucket
                                        + v_tokens_per_ms * greatest(0, extract(epoch from (p_now - v_pace.token_bucket_at)) * 1000)) end;
    end if;
    select count(*)::integer into v_in_flight from scheduler.batch_tasks t
     where t.provider = p_provider and t.status = 'processing' and t.lease_expires_at >= p_now;
    v_grant := least(p_limit, floor(v_bucket)::integer,
                     coalesce(v_provider.max_in_flight - v_in_flight, p_limit));
    if v_limits.request_limit is not null then
      select least(floor(v_limits.request_limit / 6.0)
                     - coalesce(sum(s.claimed) filter (where s.second > p_now - interval '10 seconds'), 0),
                   floor(v_limits.request_limit) - coalesce(sum(s.claimed), 0))::integer
        into v_window_room
        from scheduler.provider_seconds s
       where s.provider = p_provider and s.second > p_now - interval '60 seconds' and s.second <= p_now;
      v_grant := least(v_grant, v_window_room);
      -- What the provider last said remains (its own count: other clients' calls included),
      -- refilled at the limit's rate since.
      if v_pace.remaining_requests is not null then
        v_remaining := least(v_limits.request_limit, v_pace.remaining_requests
                             + v_limits.request_limit / 60000.0 * greatest(0, extract(epoch from (p_now - v_pace.remaining_at)) * 1000));
        v_grant := least(v_grant, floor(v_remaining)::integer);
      end if;
    end if;
    if v_limits.request_limit is null then
      -- Probing: no more in flight than the probed pace needs at the provider's unloaded latency
      -- (Little's law, with room for the spread), so a provider that queues cannot pile up calls.
      v_in_flight_cap := greatest(1, ceil(v_rate / 60000.0
                           * coalesce(v_pace.latency_floor_ms, v_pace.latency_ms_ewma, scheduler.config_int('pace_default_latency_ms'))
                           * (1 + scheduler.config_num('pace_latency_rise_percent') / 100.0))::integer);
      v_grant := least(v_grant, v_in_flight_cap - v_in_flight);
    end if;
  else
    v_grant := p_limit;
    v_in_flight := 0;
  end if;
  v_completion := coalesce(v_provider.max_tokens, v_pace.completion_tokens_ewma, scheduler.config_num('pace_default_completion_tokens'));

  v_claimed := 0;
  v_tasks := '[]'::jsonb;
  if v_grant > 0 then
    -- Expired leases first (their worker is gone; usually none), then pending tasks in seq order.
    select coalesce(array_agg(x.id), '{}') into v_ids from (
      select t.id from scheduler.batch_tasks t
       where t.provider = p_provider and t.status = 'processing' and t.lease_expires_at < p_now
         and t.attempts < v_max_attempts
       order by t.lease_expires_at
       limit v_grant
       for update skip locked) x;
    if cardinality(v_ids) < v_grant then
      select v_ids || coalesce(array_agg(x.id), '{}') into v_ids from (
        select t.id from scheduler.batch_tasks t
         where t.provider = p_provider and t.status = 'pending' and t.attempts < v_max_attempts
         order by t.seq, t.id
         limit v_grant - cardinality(v_ids)
         for update skip locked) x;
    end if;
    if v_token_bucket is not null then
      -- The token budget: the longest prefix whose estimated cost the bucket holds (the first task
      -- whenever the bucket holds its cost or is full: one call larger than the burst still goes).
      select coalesce(array_agg(c.id order by c.ord), '{}'), coalesce(max(c.running), 0) into v_ids, v_cost
        from (select x.id, x.ord, sum(x.cost) over (order by x.ord) as running
                from (select t.id, o.ord, ceil(length(coalesce(p.text, '')) / 4.0) + v_completion as cost
                        from unnest(v_ids) with ordinality o(id, ord)
                        join scheduler.batch_tasks t on t.id = o.id
                        left join public.prompts p on p.id = t.prompt_id) x) c
       where c.running <= v_token_bucket or (c.ord = 1 and v_token_bucket >= least(c.running, v_token_capacity));
    end if;
    with picked as (
      select unnest(v_ids) as id
    ), claimed as (
      update scheduler.batch_tasks t
         set status = 'processing', attempts = t.attempts + 1, attempt_token = gen_random_uuid(),
             lease_expires_at = p_now + v_lease, claimed_by = p_worker, started_at = p_now
        from picked
       where t.id = picked.id
      returning t.id, t.attempt_token, t.attempts, t.prompt_id, t.provider, t.region, t.run_id, t.batch_job_id
    ), jobs as (
      update scheduler.batch_jobs j
         set status = 'processing', attempts = greatest(j.attempts, 1), started_at = coalesce(j.started_at, p_now),
             last_heartbeat = p_now, claimed_by = p_worker
       where j.id in (select distinct batch_job_id from claimed) and j.status in ('pending', 'processing')
      returning j.id, j.org_id
    )
    select coalesce(jsonb_agg(jsonb_build_object(
             'task_id', c.id::text, 'attempt_token', c.attempt_token, 'attempts', c.attempts,
             'prompt_id', c.prompt_id, 'prompt_text', p.text, 'provider', c.provider, 'region', c.region,
             'run_id', c.run_id, 'org_id', j.org_id, 'batch_job_id', c.batch_job_id,
             'lease_ms', (extract(epoch from v_lease) * 1000)::integer,
             'estimated_tokens', (ceil(length(coalesce(p.text, '')) / 4.0) + v_completion)::integer) order by c.id), '[]'::jsonb),
           count(*)::integer,
           coalesce(sum(ceil(length(coalesce(p.text, '')) / 4.0) + v_completion), 0)
      into v_tasks, v_claimed, v_cost
      from claimed c
      left join public.prompts p on p.id = c.prompt_id
      left join (select jb.id, jb.org_id from scheduler.batch_jobs jb where jb.id in (select batch_job_id from claimed)) j
        on j.id = c.batch_job_id;
  end if;

  if v_provider.name is not null then
    v_bucket := v_bucket - v_claimed;
    v_token_bucket := v_token_bucket - v_cost;
    if v_claimed > 0 then
      insert into scheduler.provider_seconds as s (provider, second, claimed)
      values (p_provider, date_trunc('second', p_now), v_claimed)
      on conflict (provider, second) do update set claimed = s.claimed + excluded.claimed;
    end if;
    -- The work pressed against the request pace (the bucket, not the work, limited the claim):
    -- a probe may grow.
    update scheduler.provider_pace
       set bucket = v_bucket, bucket_at = greatest(p_now, bucket_at),
           token_bucket = v_token_bucket, token_bucket_at = case when v_token_bucket is not null then greatest(p_now, token_bucket_at) end,
           remaining_requests = coalesce(v_remaining - v_claimed, remaining_requests),
           remaining_at = case when v_remaining is not null then p_now else remaining_at end,
           pressed_at = case when floor(v_bucket + v_claimed) < p_limit and v_claimed >= floor(v_bucket + v_claimed)
                                  and exists (select from scheduler.batch_tasks t where t.provider = p_provider
                                                 and t.status = 'pending' and t.attempts < v_max_attempts)
                             then p_now else pressed_at end,
           updated_at = p_now
     where provider = p_provider;
    -- Time until the bucket holds one more whole call (or half its capacity, to batch claims).
    v_wait := ceil(greatest(0, greatest(1.0, least(v_capacity / 2, p_limit - v_claimed)) - v_bucket) / v_per_ms)::integer;
    if v_token_bucket is not null then
      v_next_cost := least(v_token_capacity, coalesce(v_pace.tokens_per_call_ewma, v_completion));
      v_wait := greatest(v_wait, ceil(greatest(0, v_next_cost - v_token_bucket) / v_tokens_per_ms)::integer);
    end if;
    if v_window_room <= v_claimed or v_remaining < v_claimed + 1 then
      v_wait := greatest(v_wait, 250); -- the window's share is spent: its oldest second leaves soon
    end if;
    if v_in_flight + v_claimed >= least(v_provider.max_in_flight, v_in_flight_cap) then
      v_wait := null; -- only a completion frees a slot
    end if;
  end if;

  return jsonb_build_object(
    'tasks', v_tasks,
    'wait_ms', v_wait,
    'rate_per_minute', v_rate,
    'in_flight', v_in_flight + v_claimed,
    'has_work', v_claimed > 0 or exists (
      select from scheduler.batch_tasks t where t.provider = p_provider and t.status = 'pending' and t.attempts < v_max_attempts)
      or exists (select from scheduler.batch_tasks t where t.provider = p_provider and t.status = 'processing'
                  and t.lease_expires_at < p_now and t.attempts < v_max_attempts));
end
$$;

-- Name: FUNCTION claim_paced_tasks(p_worker text, p_provider text, p_limit integer, p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.claim_paced_tasks(p_worker text, p_provider text, p_limit integer, p_now timestamp with time zone) IS 'Claims a provider''s tasks within its pace (request and token buckets, max_in_flight) with SKIP LOCKED, leases and attempt tokens';

-- Name: complete_tasks(jsonb); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.complete_tasks(p_results jsonb) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION complete_tasks(p_results jsonb); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.complete_tasks(p_results jsonb) IS 'Completes a batch of tasks (current attempt tokens only) and records one result each';

-- Name: config_int(text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.config_int(p_key text) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
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

-- Name: config_num(text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.config_num(p_key text) RETURNS double precision
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
  v_value double precision;
begin
  select (c.value #>> '{}')::double precision into v_value from scheduler.config c where c.key = p_key;
  if v_value is null then
    raise exception 'scheduler.config has no numeric setting "%"', p_key using errcode = '22023';
  end if;
  return v_value;
end
$$;

-- Name: cron_reconcile_tick(timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.cron_reconcile_tick(p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION cron_reconcile_tick(p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.cron_reconcile_tick(p_now timestamp with time zone) IS 'pg_cron entry point: calls batch-reconciler only when something is stale or unfinalized';

-- Name: cron_trigger_tick(timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.cron_trigger_tick(p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION cron_trigger_tick(p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.cron_trigger_tick(p_now timestamp with time zone) IS 'pg_cron entry point: calls daily-batch-trigger for each enabled schedule that is in its window and unclaimed';

-- Name: current_run_key(text, timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.current_run_key(p_schedule text, p_now timestamp with time zone DEFAULT now()) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select scheduler.period_key(s.period, (p_now at time zone s.timezone)::date)
    from scheduler.schedules s
   where s.name = p_schedule
$$;

-- Name: FUNCTION current_run_key(p_schedule text, p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.current_run_key(p_schedule text, p_now timestamp with time zone) IS 'The period key (local date, or ISO week) of p_now for a schedule';

-- Name: delivered_per_minute(text, timestamp with time zone, interval); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.delivered_per_minute(p_provider text, p_now timestamp with time zone, p_span interval DEFAULT '00:01:00'::interval) RETURNS TABLE(successes_per_minute double precision, tokens_per_minute double precision, seconds double precision)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  with recent as (
    select s.second, s.successes, s.tokens from scheduler.provider_seconds s
     where s.provider = p_provider and s.second > p_now - p_span and s.second <= p_now
  ), span as (
    select greatest(1.0, extract(epoch from (p_now - coalesce(min(second), p_now)))) as seconds from recent
  )
  select coalesce(sum(r.successes), 0) * 60.0 / max(span.seconds), coalesce(sum(r.tokens), 0) * 60.0 / max(span.seconds),
         max(span.seconds)
    from span left join recent r on true
$$;

-- Name: FUNCTION delivered_per_minute(p_provider text, p_now timestamp with time zone, p_span interval); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.delivered_per_minute(p_provider text, p_now timestamp with time zone, p_span interval) IS 'Successful calls and tokens per minute a provider delivered over a recent span (what got through)';

-- Name: ensure_processor_fleet(text, integer); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.ensure_processor_fleet(p_trigger_source text, p_max_new integer DEFAULT NULL::integer) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_now timestamptz := clock_timestamp();
  v_needed_in_flight double precision := 0;
  v_any_work boolean;
  v_desired integer;
  v_live integer;
  v_kicked integer := 0;
  v_id uuid;
  v_net bigint;
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('daybreak.ensure_processor_fleet'));
  select coalesce(sum(r.rate_per_minute / 60.0
                      * coalesce(pace.latency_ms_ewma, scheduler.config_int('pace_default_latency_ms')) / 1000.0), 0),
         count(*) > 0
    into v_needed_in_flight, v_any_work
    from scheduler.providers_with_work(v_now) w(provider)
    left join public.providers pr on pr.name = w.provider
    left join scheduler.provider_pace pace on pace.provider = w.provider
    left join lateral scheduler.provider_rate(w.provider, v_now) r on true;
  if not v_any_work then
    return 0;
  end if;
  v_desired := least(scheduler.config_int('max_processor_invocations'),
                     greatest(1, ceil(v_needed_in_flight / scheduler.config_int('processor_in_flight_per_invocation'))::integer));
  v_live := scheduler.live_processor_count(v_now);
  for i in 1 .. least(greatest(v_desired - v_live, 0), coalesce(p_max_new, v_desired)) loop
    insert into scheduler.processors (status, trigger_source, kicked_at) values ('kicked', p_trigger_source, v_now)
    returning id into v_id;
    v_net := scheduler.queue_function_call('robust-batch-processor', jsonb_build_object('processor_id', v_id), p_trigger_source);
    if v_net is null then
      delete from scheduler.processors where id = v_id; -- Vault not configured: nothing was sent
      exit;
    end if;
    update scheduler.processors set net_request_id = v_net where id = v_id;
    v_kicked := v_kicked + 1;
  end loop;
  return v_kicked;
end
$$;

-- Name: FUNCTION ensure_processor_fleet(p_trigger_source text, p_max_new integer); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.ensure_processor_fleet(p_trigger_source text, p_max_new integer) IS 'Kicks the processor invocations the providers'' rates need, up to max_processor_invocations';

-- Name: fail_exhausted_tasks(uuid); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.fail_exhausted_tasks(p_batch_job_id uuid) RETURNS integer
    LANGUAGE sql
    SET search_path TO ''
    AS $$
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

-- Name: finalize_batch_job(uuid); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.finalize_batch_job(p_batch_job_id uuid) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION finalize_batch_job(p_batch_job_id uuid); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.finalize_batch_job(p_batch_job_id uuid) IS 'Ends a batch job whose tasks are all terminal, and its run when it was the last';

-- Name: finalize_run(uuid); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.finalize_run(p_run_id uuid) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION finalize_run(p_run_id uuid); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.finalize_run(p_run_id uuid) IS 'Ends a run whose batch jobs are all terminal; returns its status';

-- Name: grow_probe(text, timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.grow_probe(p_provider text, p_now timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_pace scheduler.provider_pace;
  v_seconds double precision;
  v_ceiling double precision;
  v_latency_ms double precision;
  v_max_in_flight integer;
begin
  select * into v_pace from scheduler.provider_pace where provider = p_provider;
  v_seconds := least(1.0, greatest(0, extract(epoch from (p_now - coalesce(v_pace.probe_at, p_now)))));
  if v_pace.probe_rpm is null then
    update scheduler.provider_pace
       set probe_rpm = scheduler.config_num('pace_unknown_requests_per_minute') * scheduler.config_num('pace_target_percent') / 100.0,
           probe_at = p_now
     where provider = p_provider;
    return;
  end if;
  -- Only when the last claim pressed (its pressed_at is its probe_at), for the time since it.
  if v_pace.pressed_at is null or v_pace.pressed_at < v_pace.probe_at
     or v_pace.paused_until > p_now or v_pace.queueing or v_seconds <= 0 then
    update scheduler.provider_pace set probe_at = p_now where provider = p_provider;
    return;
  end if;
  select max_in_flight into v_max_in_flight from public.providers where name = p_provider;
  v_latency_ms := greatest(1.0, coalesce(v_pace.latency_ms_ewma, scheduler.config_int('pace_default_latency_ms')));
  v_ceiling := least(scheduler.config_int('max_processor_invocations') * scheduler.config_int('processor_in_flight_per_invocation'),
                     coalesce(v_max_in_flight, 2147483647)) * 60000.0 / v_latency_ms;
  update scheduler.provider_pace
     set probe_rpm = greatest(probe_rpm, least(v_ceiling,
                       case when probe_phase = 'slow_start'
                            then probe_rpm * power(scheduler.config_num('pace_probe_growth_per_second'), v_seconds)
                            else probe_rpm * (1 + scheduler.config_num('pace_probe_additive_percent_per_second') / 100.0 * v_seconds) end)),
         probe_at = p_now
   where provider = p_provider;
end
$$;

-- Name: FUNCTION grow_probe(p_provider text, p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.grow_probe(p_provider text, p_now timestamp with time zone) IS 'Grows the probed pace of a provider with no known request limit while the work presses against it';

-- Name: heartbeat_processor(uuid, text, integer); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.heartbeat_processor(p_processor_id uuid, p_worker text, p_tasks integer DEFAULT NULL::integer) RETURNS void
    LANGUAGE sql
    SET search_path TO ''
    AS $$
  update scheduler.processors
     set last_seen = clock_timestamp(), tasks = coalesce(p_tasks, tasks)
   where id = p_processor_id and status in ('running', 'handing_over');
  update scheduler.batch_jobs j set last_heartbeat = clock_timestamp()
   where j.id in (
     select b.id from scheduler.batch_jobs b
      where b.status = 'processing'
        and b.id in (select t.batch_job_id from scheduler.batch_tasks t where t.status = 'processing' and t.claimed_by = p_worker)
      order by b.id
        for update skip locked);
$$;

-- Name: is_in_execution_window(text, timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.is_in_execution_window(p_schedule text, p_now timestamp with time zone DEFAULT now()) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select (p_now at time zone s.timezone)::time >= s.window_start
     and (p_now at time zone s.timezone)::time < s.window_end
     and (s.period = 'daily' or extract(isodow from (p_now at time zone s.timezone)) = s.weekday)
    from scheduler.schedules s
   where s.name = p_schedule
$$;

-- Name: FUNCTION is_in_execution_window(p_schedule text, p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.is_in_execution_window(p_schedule text, p_now timestamp with time zone) IS 'Whether p_now falls inside the schedule''s local window (start inclusive, end exclusive)';

-- Name: json_array_or_empty(text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.json_array_or_empty(p_text text) RETURNS jsonb
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $$
declare
  v jsonb;
begin
  v := p_text::jsonb;
  return case when jsonb_typeof(v) = 'array' then v else '[]'::jsonb end;
exception when others then
  return '[]'::jsonb;
end
$$;

-- Name: jsonb_sum_counts(jsonb, jsonb); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.jsonb_sum_counts(a jsonb, b jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select coalesce(jsonb_object_agg(k, coalesce((a ->> k)::bigint, 0) + coalesce((b ->> k)::bigint, 0)), '{}'::jsonb)
    from (select jsonb_object_keys(coalesce(a, '{}'::jsonb)) union select jsonb_object_keys(coalesce(b, '{}'::jsonb))) keys(k)
$$;

-- Name: kick_workers(text, text, integer); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.kick_workers(p_work text, p_trigger_source text, p_pending_jobs integer) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: learn_pace(jsonb, timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.learn_pace(p_feedback jsonb, p_now timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  f record;
  v_pace scheduler.provider_pace;
  v_configured_rpm integer;
  v_configured_tpm integer;
  v_known_rpm double precision;
  v_known_before double precision;
  v_window_rpm double precision;
  v_window_share double precision;
  v_recent_rpm double precision;
  v_latency double precision;
  v_floor double precision;
  v_share double precision := scheduler.config_num('pace_target_percent') / 100.0;
  v_first_reaction boolean;
  v_rise double precision := 1 + scheduler.config_num('pace_latency_rise_percent') / 100.0;
  v_queueing boolean;
  v_recovered double precision;
  v_cut double precision;
  v_others boolean;
  v_never_refused boolean;
begin
  for f in
    with items as (
      select x.*, o.ord
        from jsonb_array_elements(coalesce(p_feedback, '[]'::jsonb)) with ordinality o(item, ord),
             jsonb_to_record(o.item) as x(
               provider text, calls integer, successes integer, rate_limited integer, extra_calls integer,
               retry_after_ms integer, limit_requests integer, limit_tokens integer, remaining_requests integer,
               latency_ms double precision, tokens_per_call double precision, tokens_used bigint,
               token_adjustment double precision, completion_tokens double precision)
    )
    select i.provider,
           sum(coalesce(i.calls, 0))::integer as calls,
           sum(coalesce(i.successes, 0))::integer as successes,
           sum(coalesce(i.rate_limited, 0))::integer as rate_limited,
           sum(coalesce(i.extra_calls, 0))::integer as extra_calls,
           max(i.retry_after_ms) as retry_after_ms,
           -- The freshest report of a header wins (items arrive in completion order).
           (array_agg(i.limit_requests order by i.ord desc) filter (where i.limit_requests is not null))[1] as limit_requests,
           (array_agg(i.limit_tokens order by i.ord desc) filter (where i.limit_tokens is not null))[1] as limit_tokens,
           (array_agg(i.remaining_requests order by i.ord desc) filter (where i.remaining_requests is not null))[1] as remaining_requests,
           avg(i.latency_ms) as latency_ms,
           avg(i.tokens_per_call) as tokens_per_call,
           sum(coalesce(i.tokens_used, 0)) as tokens_used,
           sum(coalesce(i.token_adjustment, 0)) as token_adjustment,
           avg(i.completion_tokens) as completion_tokens
      from items i
      join public.providers pr on pr.name = i.provider
     group by i.provider
     order by i.provider -- one lock order for concurrent rounds
  loop
    insert into scheduler.provider_pace (provider) values (f.provider) on conflict (provider) do nothing;
    select * into v_pace from scheduler.provider_pace where provider = f.provider for update;
    select requests_per_minute, tokens_per_minute into v_configured_rpm, v_configured_tpm from public.providers where name = f.provider;

    if f.successes > 0 or f.rate_limited > 0 then
      insert into scheduler.provider_seconds as s (provider, second, successes, tokens, rate_limited)
      values (f.provider, date_trunc('second', p_now), f.successes, f.tokens_used, f.rate_limited)
      on conflict (provider, second) do update
        set successes = s.successes + excluded.successes, tokens = s.tokens + excluded.tokens,
            rate_limited = s.rate_limited + excluded.rate_limited;
      delete from scheduler.provider_seconds where provider = f.provider and second < p_now - interval '5 minutes';
    end if;
    -- What got through before the provider refused: over the last 10 s, the window most providers
    -- enforce (a 1 s window's limit shows there too; a 60 s window's may read high, and is found
    -- again at its next 429).
    -- Read only from ten calls up: fewer tell nothing (a 429 before anything got through).
    -- As a share of the limits known before this round (requests or tokens, whichever is nearer).
    select case when d.successes_per_minute * d.seconds / 60.0 >= 10 then d.successes_per_minute end,
           case when d.successes_per_minute * d.seconds / 60.0 >= 10 and d.seconds >= 9
                then greatest(d.successes_per_minute / coalesce(v_configured_rpm, v_pace.learned_requests_per_minute),
                              d.tokens_per_minute / coalesce(v_configured_tpm, v_pace.learned_tokens_per_minute)) end
      into v_window_rpm, v_window_share
      from scheduler.delivered_per_minute(f.provider, p_now, interval '10 seconds') d;
    -- What it delivers now: the last three whole seconds.
    select case when sum(s.successes) >= 10 then sum(s.successes) * 20.0 end into v_recent_rpm from scheduler.provider_seconds s
     where s.provider = f.provider and s.second >= date_trunc('second', p_now) - interval '3 seconds'
       and s.second < date_trunc('second', p_now);

    v_known_rpm := coalesce(v_configured_rpm, f.limit_requests, v_pace.learned_requests_per_minute);
    -- A 429 under a limit known before it (not the one that first stated it) means a short window
    -- or other clients.
    v_known_before := coalesce(v_configured_rpm, v_pace.learned_requests_per_minute);
    -- One reaction per episode: the 429s of one moment (calls already in flight) and those of a
    -- window still spent (429s in a row, paused between them) count once.
    v_first_reaction := v_pace.pauses_in_a_row = 0
                        and (v_pace.backoff_at is null or v_pace.backoff_at < p_now - interval '1 second');
    -- Latency: smoothed per call (a round's median, weighted by its answers), its floor taken only
    -- once enough calls were seen; queueing from a rise above the floor until it falls back halfway.
    v_latency := case when f.latency_ms is null or f.rate_limited > 0 then v_pace.latency_ms_ewma
                      when v_pace.latency_ms_ewma is null then f.latency_ms
                      -- A running mean over the first 50 calls, then each call weighs 2%.
                      else v_pace.latency_ms_ewma + (1 - power(1 - greatest(0.02, 1.0 / (v_pace.calls_total + 1)),
                                                               least(greatest(f.successes, 1), 100)))
                                                    * (f.latency_ms - v_pace.latency_ms_ewma) end;
    v_floor := case when v_pace.calls_total + f.calls >= 50 then least(coalesce(v_pace.latency_floor_ms, v_latency), v_latency)
                    else v_pace.latency_floor_ms end;
    -- The pace factor as recovered by now; the burst already at its shortest (a short window).
    v_recovered := least(1.0, v_pace.backoff_factor + scheduler.config_num('pace_recovery_percent_per_second') / 100.0
                                * greatest(0, extract(epoch from (p_now - coalesce(v_pace.backoff_at, p_now)))));
    -- A 429 when less than 80 % of the pace in force got through over the last 10 s: others use the
    -- key; the pace is cut to 90 % of what got through, by half (pace_backoff_percent) at most.
    -- Otherwise it was the timing: the burst halves, and once at its shortest the share drops (below).
    v_others := coalesce(v_window_share < 0.8 * v_recovered * coalesce(v_pace.target_percent, v_share * 100) / 100.0, false)
                and (v_configured_rpm is not null or v_configured_tpm is not null or v_pace.limit_known_at <= p_now - interval '10 seconds');
    v_cut := least(v_recovered, greatest(scheduler.config_num('pace_backoff_percent') / 100.0 * v_recovered,
                                         0.9 * v_window_share / (coalesce(v_pace.target_percent, v_share * 100) / 100.0)));
    v_never_refused := v_pace.rate_limited_total + f.rate_limited = 0;
    v_queueing := case when v_floor is null or v_latency is null then false
                       when v_latency > v_floor * v_rise then true
                       when v_latency < v_floor * (1 + (v_rise - 1) / 2) then false
                       else v_pace.queueing end;

    update scheduler.provider_pace p
       set learned_requests_per_minute = coalesce(f.limit_requests, p.learned_requests_per_minute),
           learned_tokens_per_minute = coalesce(f.limit_tokens, p.learned_tokens_per_minute),
           limit_known_at = case when f.limit_requests is not null or f.limit_tokens is not null then coalesce(p.limit_known_at, p_now)
                                 else p.limit_known_at end,
           learned_at = case when f.limit_requests is not null or f.limit_tokens is not null then p_now else p.learned_at end,
           -- The provider's own count of what remains, every client of the key included.
           remaining_requests = coalesce(f.remaining_requests, p.remaining_requests),
           remaining_at = case when f.remaining_requests is not null then p_now else p.remaining_at end,
           paused_until = case when f.rate_limited > 0 and p.paused_until > p_now and f.retry_after_ms is null then p.paused_until
                               when f.rate_limited > 0
                               then greatest(p.paused_until, p_now + make_interval(secs => coalesce(
                                      nullif(f.retry_after_ms, 0), 1000 * power(2, least(p.pauses_in_a_row, 3))) / 1000.0))
                               else p.paused_until end,
           -- 429s to calls sent before the pause began do not lengthen it.
           pauses_in_a_row = case when f.rate_limited > 0 and coalesce(p.paused_until, '-infinity') <= p_now then p.pauses_in_a_row + 1
                                  when f.successes > 0 then 0 else p.pauses_in_a_row end,
           -- Under a known limit: the burst first; with it at its shortest, the pace (backoff_at is
           -- reset, so the factor keeps what it recovered).
           backoff_factor = case when f.rate_limited > 0 and v_first_reaction and v_known_before is not null
                                 then greatest(0.05, case when v_others then v_cut else v_recovered end)
                                 else p.backoff_factor end,
           burst_ms = case when f.rate_limited > 0 and v_first_reaction and v_known_before is not null and not v_others
                           then greatest(scheduler.config_int('pace_min_burst_ms'),
                                         coalesce(p.burst_ms, scheduler.config_int('pace_burst_ms')) / 2)
                           else p.burst_ms end,
           target_percent = case when f.rate_limited > 0 and v_first_reaction and v_known_before is not null and not v_others
                                  and coalesce(p.burst_ms, scheduler.config_int('pace_burst_ms')) <= scheduler.config_int('pace_min_burst_ms')
                                 then greatest(85, coalesce(p.target_percent, scheduler.config_num('pace_target_percent')) - 3)
                                 else p.target_percent end,
           -- Probing: a 429 or queueing (latency up) sets the probe to what got through (when enough
           -- did to say; else a 429 takes pace_probe_backoff_percent off it and queueing leaves it).
           probe_rpm = case
                         when v_known_rpm is not null or p.probe_rpm is null then p.probe_rpm
                         when f.rate_limited > 0 and v_first_reaction
                           then greatest(1.0, least(p.probe_rpm * scheduler.config_num('pace_probe_backoff_percent') / 100.0,
                                                    v_window_rpm * v_share))
                         when v_never_refused and v_queueing and not p.queueing and p.probe_phase = 'slow_start'
                           then greatest(1.0, least(p.probe_rpm, v_recent_rpm * 0.9))
                         when v_never_refused and v_queueing and not p.queueing
                           then greatest(1.0, p.probe_rpm * 0.85, least(p.probe_rpm, v_recent_rpm))
                         else p.probe_rpm end,
           probe_phase = case
                           when v_known_rpm is null and p.probe_rpm is not null
                                and ((f.rate_limited > 0 and v_first_reaction) or (v_never_refused and v_queueing and not p.queueing))
                             then 'steady'
                           else p.probe_phase end,
           backoff_at = case when f.rate_limited > 0 and v_first_reaction then p_now else p.backoff_at end,
           queueing = v_queueing and v_never_refused,
           -- After a 429 the buckets restart empty when the pause ends.
           bucket = case when f.rate_limited > 0 then least(p.bucket, 0) else p.bucket - f.extra_calls end,
           bucket_at = case when f.rate_limited > 0 then greatest(coalesce(p.bucket_at, p_now), p_now) else p.bucket_at end,
           token_bucket = case when f.rate_limited > 0 then least(p.token_bucket, 0) else p.token_bucket - f.token_adjustment end,
           token_bucket_at = case when f.rate_limited > 0 and p.token_bucket is not null then greatest(coalesce(p.token_bucket_at, p_now), p_now)
                                  else p.token_bucket_at end,
           latency_ms_ewma = v_latency,
           latency_floor_ms = v_floor,
           tokens_per_call_ewma = case when f.tokens_per_call is null then p.tokens_per_call_ewma
                                       else coalesce(p.tokens_per_call_ewma * 0.8 + f.tokens_per_call * 0.2, f.tokens_per_call) end,
           completion_tokens_ewma = case when f.completion_tokens is null then p.completion_tokens_ewma
                                         else coalesce(p.completion_tokens_ewma * 0.8 + f.completion_tokens * 0.2, f.completion_tokens) end,
           calls_total = p.calls_total + f.calls,
           rate_limited_total = p.rate_limited_total + f.rate_limited,
           updated_at = p_now
     where p.provider = f.provider;
    -- The buckets refill from the end of the pause, not during it.
    update scheduler.provider_pace p
       set bucket_at = greatest(p.bucket_at, p.paused_until),
           token_bucket_at = case when p.token_bucket is not null then greatest(p.token_bucket_at, p.paused_until) end
     where p.provider = f.provider and f.rate_limited > 0 and p.paused_until > p_now;
  end loop;
end
$$;

-- Name: FUNCTION learn_pace(p_feedback jsonb, p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.learn_pace(p_feedback jsonb, p_now timestamp with time zone) IS 'The pacer learns from a round''s calls: stated limits, other clients, 429s, latency, tokens';

-- Name: live_processor_count(timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.live_processor_count(p_now timestamp with time zone DEFAULT clock_timestamp()) RETURNS integer
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select count(*)::integer from scheduler.processors p
   where (p.status = 'running' and p.last_seen >= p_now - make_interval(secs => (select scheduler.config_int('stale_heartbeat_seconds'))))
      or (p.status = 'kicked' and p.kicked_at >= p_now - make_interval(secs => (select scheduler.config_int('processor_kick_grace_seconds'))))
$$;

-- Name: local_instant(date, time without time zone, text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.local_instant(p_local_date date, p_wall_time time without time zone, p_timezone text) RETURNS timestamp with time zone
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
  v_local timestamp := p_local_date + p_wall_time;
  v_probe timestamptz;
  v_before interval;
  v_after interval;
  v_early timestamptz;
  v_late timestamptz;
  v_early_ok boolean;
  v_late_ok boolean;
begin
  v_probe := (v_local - interval '1 day') at time zone 'UTC';
  v_before := (v_probe at time zone p_timezone) - (v_local - interval '1 day');
  v_probe := (v_local + interval '1 day') at time zone 'UTC';
  v_after := (v_probe at time zone p_timezone) - (v_local + interval '1 day');
  v_early := (v_local - v_before) at time zone 'UTC';
  v_late := (v_local - v_after) at time zone 'UTC';
  v_early_ok := (v_early at time zone p_timezone) = v_local;
  v_late_ok := (v_late at time zone p_timezone) = v_local;
  if v_early_ok and v_late_ok then
    return least(v_early, v_late);
  elsif v_early_ok then
    return v_early;
  elsif v_late_ok then
    return v_late;
  end if;
  return v_early;
end
$$;

-- Name: FUNCTION local_instant(p_local_date date, p_wall_time time without time zone, p_timezone text); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.local_instant(p_local_date date, p_wall_time time without time zone, p_timezone text) IS 'The one instant of a local date and wall time: a nonexistent time (spring forward) shifts by the gap, a repeated one (fall back) takes its first occurrence';

-- Name: lost_processors(timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.lost_processors(p_now timestamp with time zone DEFAULT clock_timestamp()) RETURNS TABLE(processor_id uuid, worker text, status text, reason text)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION lost_processors(p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.lost_processors(p_now timestamp with time zone) IS 'Processors silent past stale_heartbeat_seconds, or kicked and never started';

-- Name: org_first_date(text, smallint, time without time zone, text, integer, date, timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.org_first_date(p_period text, p_weekday smallint, p_run_at time without time zone, p_timezone text, p_jitter_seconds integer, p_floor date, p_now timestamp with time zone) RETURNS date
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
  v_date date := (p_now at time zone p_timezone)::date - 1;
begin
  if p_period = 'weekly' then
    v_date := v_date - (extract(isodow from v_date)::integer - 1) + (p_weekday - 1) - 7;
  end if;
  for i in 1 .. 800 loop
    if (p_floor is null or scheduler.period_key(p_period, v_date) > scheduler.period_key(p_period, p_floor))
       and scheduler.local_instant(v_date, p_run_at, p_timezone) + make_interval(secs => p_jitter_seconds) > p_now then
      return v_date;
    end if;
    v_date := scheduler.cadence_after(p_period, p_weekday, v_date);
  end loop;
  raise exception 'no next date found for %/% after %', p_period, p_timezone, p_floor;
end
$$;

-- Name: parse_run_key(text, text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.parse_run_key(p_period text, p_run_key text) RETURNS date
    LANGUAGE plpgsql IMMUTABLE
    SET search_path TO ''
    AS $_$
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
$_$;

-- Name: pause_schedule(text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.pause_schedule(p_name text) RETURNS jsonb
    LANGUAGE sql
    SET search_path TO ''
    AS $$ select scheduler.set_schedule_enabled(p_name, false) $$;

-- Name: FUNCTION pause_schedule(p_name text); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.pause_schedule(p_name text) IS 'Stops the cron tick from starting a schedule''s runs (forced manual runs still work)';

-- Name: period_key(text, date); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.period_key(p_period text, p_local_date date) RETURNS text
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
  select case p_period
    when 'daily' then to_char(p_local_date, 'YYYY-MM-DD')
    when 'weekly' then to_char(p_local_date, 'IYYY-"W"IW')
  end
$$;

-- Name: plan_runs(uuid[], text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.plan_runs(p_run_ids uuid[], p_work text) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: provider_limits(text, timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.provider_limits(p_provider text, p_now timestamp with time zone) RETURNS TABLE(requests_per_minute double precision, request_limit double precision, tokens_per_minute double precision, token_limit double precision, limit_source text)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  with p as (
    select coalesce(pr.requests_per_minute, pace.learned_requests_per_minute)::double precision as rpm,
           coalesce(pr.tokens_per_minute, pace.learned_tokens_per_minute)::double precision as tpm,
           pace.probe_rpm, pace.probe_phase,
           coalesce(pace.target_percent, (select scheduler.config_num('pace_target_percent'))) / 100.0 as share,
           case when pr.requests_per_minute is not null or pr.tokens_per_minute is not null then 'configured'
                when pace.learned_requests_per_minute is not null or pace.learned_tokens_per_minute is not null then 'learned'
                when pace.probe_phase = 'steady' then 'probed'
                else 'unknown' end as source,
           least(1.0, coalesce(pace.backoff_factor, 1)
                      + (select scheduler.config_num('pace_recovery_percent_per_second')) / 100.0
                        * greatest(0, extract(epoch from (p_now - coalesce(pace.backoff_at, p_now))))) as factor
      from public.providers pr
      left join scheduler.provider_pace pace on pace.provider = pr.name
     where pr.name = p_provider
  )
  select greatest(1.0, case
           when p.rpm is null then coalesce(p.probe_rpm, (select scheduler.config_num('pace_unknown_requests_per_minute')) * p.share)
           else p.rpm * p.share * p.factor end),
         p.rpm,
         p.tpm * p.share * p.factor,
         p.tpm,
         p.source
    from p
$$;

-- Name: FUNCTION provider_limits(p_provider text, p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.provider_limits(p_provider text, p_now timestamp with time zone) IS 'The request and token pace in force for a provider, the limits it paces against, and where they came from (configured, learned from headers, probed, unknown)';

-- Name: provider_rate(text, timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.provider_rate(p_provider text, p_now timestamp with time zone DEFAULT clock_timestamp()) RETURNS TABLE(rate_per_minute double precision, limit_per_minute double precision, limit_source text)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select least(l.requests_per_minute,
               l.tokens_per_minute / nullif(pace.tokens_per_call_ewma, 0)),
         coalesce(least(l.request_limit, l.token_limit / nullif(pace.tokens_per_call_ewma, 0)), l.request_limit),
         l.limit_source
    from scheduler.provider_limits(p_provider, p_now) l
    left join scheduler.provider_pace pace on pace.provider = p_provider
$$;

-- Name: FUNCTION provider_rate(p_provider text, p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.provider_rate(p_provider text, p_now timestamp with time zone) IS 'The rate the pacer allows a provider now (tokens as requests when they bind), the limit it paces against, and its source';

-- Name: providers_with_work(timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.providers_with_work(p_now timestamp with time zone DEFAULT clock_timestamp()) RETURNS SETOF text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  with recursive providers as (
    -- A loose index scan over batch_tasks_pending_by_provider: one probe per provider, not a scan.
    (select t.provider from scheduler.batch_tasks t where t.status = 'pending' order by t.provider limit 1)
    union all
    select (select t.provider from scheduler.batch_tasks t
             where t.status = 'pending' and t.provider > providers.provider order by t.provider limit 1)
      from providers where providers.provider is not null
  )
  select provider from providers where provider is not null
  union
  select distinct t.provider from scheduler.batch_tasks t
   where t.status = 'processing' and t.lease_expires_at < p_now
$$;

-- Name: prune_history(timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.prune_history(p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_cutoff timestamptz := p_now - make_interval(days => scheduler.config_int('retention_days'));
  v_first_kept bigint;
  v_invocations integer;
  v_ticks integer;
  v_cron integer;
  v_processors integer;
begin
  delete from scheduler.scheduler_runs where started_at < v_cutoff and status <> 'running';
  get diagnostics v_invocations = row_count;
  delete from scheduler.cron_ticks where ticked_at < v_cutoff;
  get diagnostics v_ticks = row_count;
  -- pg_cron numbers its runs in start order: the first run inside the retention bounds what can
  -- go. Walking the primary key from the bottom meets it after the rows still to prune (none,
  -- once pruned) and the rare run a server crash caught before it started (no time at all: never
  -- pruned). A run that failed before it started has only an end time, which counts.
  select d.runid into v_first_kept
    from cron.job_run_details d
   where coalesce(d.start_time, d.end_time) >= v_cutoff
   order by d.runid
   limit 1;
  -- Only daybreak's own jobs' history goes: other teams' cron history is theirs.
  delete from cron.job_run_details d
   where d.runid < coalesce(v_first_kept, 9223372036854775807) and coalesce(d.start_time, d.end_time) < v_cutoff
     and d.jobid in (select j.jobid from cron.job j where j.jobname in ('daybreak-trigger', 'daybreak-reconciler'));
  get diagnostics v_cron = row_count;
  delete from scheduler.processors where coalesce(stopped_at, last_seen, kicked_at) < v_cutoff;
  get diagnostics v_processors = row_count;
  return jsonb_build_object('scheduler_runs', v_invocations, 'cron_ticks', v_ticks, 'job_run_details', v_cron,
                            'processors', v_processors);
end
$$;

-- Name: queue_function_call(text, jsonb, text, text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.queue_function_call(p_function text, p_body jsonb, p_trigger_source text, p_request_id text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION queue_function_call(p_function text, p_body jsonb, p_trigger_source text, p_request_id text); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.queue_function_call(p_function text, p_body jsonb, p_trigger_source text, p_request_id text) IS 'Queues a pg_net call to a daybreak edge function (URL and cron secret from Vault; Prefer: respond-async; function_call_timeout_ms)';

-- Name: reconcile(boolean, timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.reconcile(p_dry_run boolean DEFAULT false, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION reconcile(p_dry_run boolean, p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.reconcile(p_dry_run boolean, p_now timestamp with time zone) IS 'The reconciler pass: resume stale jobs, close abandoned invocations, finalize runs, prune; dry run changes nothing';

-- Name: reconcile_now(timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.reconcile_now(p_now timestamp with time zone) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: record_task_outcomes(text, jsonb, jsonb); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.record_task_outcomes(p_worker text, p_outcomes jsonb, p_feedback jsonb DEFAULT '[]'::jsonb) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_completion jsonb;
  v_rejected jsonb := '[]'::jsonb;
  v_jobs uuid[];
  v_max_rl integer := scheduler.config_int('max_rate_limited_releases');
  v_now timestamptz := clock_timestamp();
  f record;
begin
  -- The claims' lock order: the pace rows of the providers this round reports on come first, before
  -- any task or batch job (learn_pace updates them at the end of this transaction).
  perform 1 from scheduler.provider_pace p
   where p.provider in (select distinct x ->> 'provider' from jsonb_array_elements(coalesce(p_feedback, '[]'::jsonb)) x)
   order by p.provider
     for update;
  v_completion := scheduler.complete_tasks(coalesce(
    (select jsonb_agg(o) from jsonb_array_elements(p_outcomes) o where o ->> 'outcome' = 'succeeded'), '[]'::jsonb));

  with input as (
    select (o ->> 'task_id')::bigint as task_id, (o ->> 'attempt_token')::uuid as token, o ->> 'outcome' as outcome,
           left(o ->> 'error', 2000) as error, coalesce((o ->> 'provider_called')::boolean, true) as provider_called
      from jsonb_array_elements(p_outcomes) o
     where o ->> 'outcome' in ('failed', 'released', 'rate_limited', 'quota')
  ), changed as (
    update scheduler.batch_tasks t
       set status = case
                      when i.outcome in ('failed', 'quota') then 'failed'
                      when i.outcome = 'rate_limited' and t.rate_limited + 1 >= v_max_rl then 'failed'
                      else 'pending' end,
           completed_at = case when i.outcome in ('failed', 'quota')
                                 or (i.outcome = 'rate_limited' and t.rate_limited + 1 >= v_max_rl) then v_now end,
           attempts = case
                        when i.outcome = 'rate_limited' or (i.outcome = 'released' and not i.provider_called)
                          then greatest(t.attempts - 1, 0)
                        else t.attempts end,
           rate_limited = t.rate_limited + case when i.outcome = 'rate_limited' then 1 else 0 end,
           attempt_token = case when i.outcome in ('released', 'rate_limited') then null else t.attempt_token end,
           claimed_by = case when i.outcome in ('released', 'rate_limited') then null else t.claimed_by end,
           lease_expires_at = null,
           last_error = case
                          when i.outcome = 'rate_limited' and t.rate_limited + 1 >= v_max_rl
                            then format('rate limited (429) %s times; giving up', t.rate_limited + 1)
                          when i.outcome = 'rate_limited' then t.last_error
                          when i.outcome = 'released' and not i.provider_called then t.last_error
                          else i.error end
      from input i
     where t.id = i.task_id and t.attempt_token = i.token and t.status = 'processing'
    returning t.id
  )
  select coalesce(jsonb_agg(i.task_id order by i.task_id), '[]'::jsonb) into v_rejected
    from input i where not exists (select from changed c where c.id = i.task_id);

  -- A quota 429: the provider is paused for the run; its remaining tasks there fail with the reason.
  with quota as (
    select distinct t.run_id, t.provider, o ->> 'error' as error
      from jsonb_array_elements(p_outcomes) o
      join scheduler.batch_tasks t on t.id = (o ->> 'task_id')::bigint
     where o ->> 'outcome' = 'quota'
  ), paused as (
    insert into scheduler.provider_run_stats (run_id, provider, quota_reason, quota_paused_at)
    select run_id, provider, min(error), v_now from quota group by run_id, provider
    on conflict (run_id, provider) do update
      set quota_reason = coalesce(scheduler.provider_run_stats.quota_reason, excluded.quota_reason),
          quota_paused_at = coalesce(scheduler.provider_run_stats.quota_paused_at, excluded.quota_paused_at)
    returning run_id, provider, quota_reason
  )
  update scheduler.batch_tasks t
     set status = 'failed', completed_at = v_now, lease_expires_at = null,
         last_error = left('provider paused for this run, quota exhausted: ' || p.quota_reason, 2000)
    from paused p
   where t.run_id = p.run_id and t.provider = p.provider and t.status = 'pending';

  -- The pacer learns from what the providers said; then the per-run counters.
  perform scheduler.learn_pace(p_feedback, v_now);
  for f in
    select x.* from jsonb_to_recordset(coalesce(p_feedback, '[]'::jsonb)) as x(
      provider text, run_id uuid, calls integer, calls_by_status jsonb, rate_limited integer)
  loop
    if f.run_id is not null and coalesce(f.calls, 0) > 0 then
      insert into scheduler.provider_run_stats as s
        (run_id, provider, calls, calls_by_status, rate_limited, first_call_at, last_call_at, minute_start, minute_calls)
      values (f.run_id, f.provider, f.calls, coalesce(f.calls_by_status, '{}'), coalesce(f.rate_limited, 0), v_now, v_now,
              date_trunc('minute', v_now), f.calls)
      on conflict (run_id, provider) do update
        set calls = s.calls + excluded.calls,
            calls_by_status = scheduler.jsonb_sum_counts(s.calls_by_status, excluded.calls_by_status),
            rate_limited = s.rate_limited + excluded.rate_limited,
            first_call_at = coalesce(s.first_call_at, excluded.first_call_at),
            last_call_at = excluded.last_call_at,
            previous_minute_calls = case
                                      when s.minute_start = excluded.minute_start then s.previous_minute_calls
                                      when s.minute_start = excluded.minute_start - interval '1 minute' then s.minute_calls
                                      else 0 end,
            minute_calls = case when s.minute_start = excluded.minute_start then s.minute_calls + excluded.minute_calls
                                else excluded.minute_calls end,
            minute_start = excluded.minute_start;
    end if;
  end loop;

  -- Batch jobs this round touched that have no live task left: the caller finalizes them.
  select coalesce(array_agg(distinct t.batch_job_id), '{}') into v_jobs
    from scheduler.batch_tasks t
   where t.id in (select (o ->> 'task_id')::bigint from jsonb_array_elements(p_outcomes) o)
     and not exists (select from scheduler.batch_tasks l
                      where l.batch_job_id = t.batch_job_id and l.status in ('pending', 'processing'));
  select v_jobs || coalesce(array_agg(distinct t.batch_job_id), '{}') into v_jobs
    from scheduler.batch_tasks t
    join scheduler.provider_run_stats s on s.run_id = t.run_id and s.provider = t.provider and s.quota_paused_at = v_now
   where t.status = 'failed'
     and not exists (select from scheduler.batch_tasks l
                      where l.batch_job_id = t.batch_job_id and l.status in ('pending', 'processing'));

  return jsonb_build_object(
    'accepted', v_completion -> 'accepted',
    'duplicates', v_completion -> 'duplicates',
    'rejected', (v_completion -> 'rejected') || v_rejected,
    'duplicates_prevented', v_completion -> 'duplicates_prevented',
    'jobs_to_finalize', to_jsonb(array(select distinct unnest(v_jobs))));
end
$$;

-- Name: FUNCTION record_task_outcomes(p_worker text, p_outcomes jsonb, p_feedback jsonb); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.record_task_outcomes(p_worker text, p_outcomes jsonb, p_feedback jsonb) IS 'Records a round of finished calls (fenced) and what the providers said, in one transaction';

-- Name: register_processor(uuid, text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.register_processor(p_processor_id uuid, p_worker text) RETURNS uuid
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_id uuid;
begin
  update scheduler.processors
     set status = 'running', worker = p_worker, started_at = clock_timestamp(), last_seen = clock_timestamp()
   where id = p_processor_id and status = 'kicked'
  returning id into v_id;
  if v_id is null then
    insert into scheduler.processors (status, worker, started_at, last_seen, trigger_source)
    values ('running', p_worker, clock_timestamp(), clock_timestamp(), 'api')
    returning id into v_id;
  end if;
  return v_id;
end
$$;

-- Name: rescue_lost_processors(timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.rescue_lost_processors(p_now timestamp with time zone DEFAULT clock_timestamp()) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION rescue_lost_processors(p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.rescue_lost_processors(p_now timestamp with time zone) IS 'Closes lost processors; their tasks back to pending, their invocations closed';

-- Name: resume_schedule(text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.resume_schedule(p_name text) RETURNS jsonb
    LANGUAGE sql
    SET search_path TO ''
    AS $$ select scheduler.set_schedule_enabled(p_name, true) $$;

-- Name: FUNCTION resume_schedule(p_name text); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.resume_schedule(p_name text) IS 'Lets the cron tick start a schedule''s runs again';

-- Name: resume_stuck_batch_job(uuid); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.resume_stuck_batch_job(p_batch_job_id uuid) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION resume_stuck_batch_job(p_batch_job_id uuid); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.resume_stuck_batch_job(p_batch_job_id uuid) IS 'Finalizes, resumes (expired leases back to pending, the fleet kicked) or fails a stuck batch job';

-- Name: retry_failed_tasks(uuid); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.retry_failed_tasks(p_run_id uuid) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION retry_failed_tasks(p_run_id uuid); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.retry_failed_tasks(p_run_id uuid) IS 'Puts a run''s failed tasks (without a result) back to pending and kicks the processor fleet';

-- Name: set_schedule_enabled(text, boolean); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.set_schedule_enabled(p_name text, p_enabled boolean) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  update scheduler.schedules set enabled = p_enabled, updated_at = now() where name = p_name;
  if not found then
    raise exception 'unknown schedule "%"', p_name using errcode = '22023';
  end if;
  return jsonb_build_object('schedule', p_name, 'enabled', p_enabled);
end
$$;

-- Name: settle_batch_jobs(); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.settle_batch_jobs() RETURNS SETOF uuid
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_job uuid;
begin
  for v_job in
    select j.id from scheduler.batch_jobs j
     where j.status in ('pending', 'processing')
       and exists (select from scheduler.runs r where r.id = j.run_id and r.status = 'running')
  loop
    perform scheduler.fail_exhausted_tasks(v_job);
    if not exists (select from scheduler.batch_tasks t where t.batch_job_id = v_job and t.status in ('pending', 'processing')) then
      return next v_job;
    end if;
  end loop;
end
$$;

-- Name: stale_batch_jobs(timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.stale_batch_jobs(p_now timestamp with time zone DEFAULT now()) RETURNS TABLE(batch_job_id uuid, status text, reason text, last_heartbeat timestamp with time zone)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select j.id, j.status, 'heartbeat_stale', j.last_heartbeat
    from scheduler.batch_jobs j
   where j.status = 'processing'
     and j.last_heartbeat < p_now - make_interval(secs => (select scheduler.config_int('stale_heartbeat_seconds')))
     and (select scheduler.live_processor_count(p_now)) = 0
  union all
  select j.id, j.status, 'pending_without_processor', j.last_heartbeat
    from scheduler.batch_jobs j
   where j.status = 'pending'
     and coalesce(j.last_heartbeat, j.created_at) < p_now - make_interval(secs => (select scheduler.config_int('pending_grace_seconds')))
     and (select scheduler.live_processor_count(p_now)) = 0
$$;

-- Name: stop_processor(uuid, text, text, integer, integer, jsonb); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.stop_processor(p_processor_id uuid, p_status text, p_reason text, p_tasks integer, p_cpu_ms integer, p_details jsonb DEFAULT '{}'::jsonb) RETURNS void
    LANGUAGE sql
    SET search_path TO ''
    AS $$
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

-- Name: store_prompt_suggestions(); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.store_prompt_suggestions() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  insert into public.prompt_suggestions (org_id, run_id, task_id, ordinal, text)
  select i.org_id, i.run_id, i.task_id, e.ordinal, left(e.value, 20000)
    from inserted i
    join scheduler.batch_tasks t on t.id = i.task_id and t.kind = 'suggestions'
   cross join lateral jsonb_array_elements_text(scheduler.json_array_or_empty(i.response))
           with ordinality e(value, ordinal)
   where e.ordinal <= 5 and length(trim(e.value)) > 0
  on conflict on constraint prompt_suggestions_one_set_per_task do nothing;
  return null;
end
$$;

-- Name: suggestion_request(bigint); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.suggestion_request(p_task_id bigint) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select jsonb_build_object(
           'org_id', j.org_id,
           'prompts', coalesce((select jsonb_agg(x.text order by x.created_at, x.id)
                                  from (select p.text, p.created_at, p.id from public.prompts p
                                         where p.org_id = j.org_id and p.active
                                         order by p.created_at desc, p.id limit 20) x), '[]'::jsonb))
    from scheduler.batch_tasks t
    join scheduler.batch_jobs j on j.id = t.batch_job_id
   where t.id = p_task_id and t.kind = 'suggestions'
$$;

-- Name: try_mark_daily_run(text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.try_mark_daily_run(p_today_key text) RETURNS jsonb
    LANGUAGE sql
    SET search_path TO ''
    AS $$
  select scheduler.try_mark_daily_run('daily-batch', p_today_key, 'api', null::uuid, false, null::text)
$$;

-- Name: FUNCTION try_mark_daily_run(p_today_key text); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.try_mark_daily_run(p_today_key text) IS 'try_mark_daily_run for the default schedule daily-batch';

-- Name: try_mark_daily_run(text, text); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.try_mark_daily_run(p_schedule text, p_run_key text) RETURNS jsonb
    LANGUAGE sql
    SET search_path TO ''
    AS $$
  select scheduler.try_mark_daily_run(p_schedule, p_run_key, 'api', null::uuid, false, null::text)
$$;

-- Name: FUNCTION try_mark_daily_run(p_schedule text, p_run_key text); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.try_mark_daily_run(p_schedule text, p_run_key text) IS 'try_mark_daily_run for (schedule, run_key), called by api: {"updated","previous_key","new_key",...}';

-- Name: try_mark_daily_run(text, text, text, uuid, boolean, text, uuid, timestamp with time zone); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.try_mark_daily_run(p_schedule text, p_run_key text, p_trigger_source text, p_scheduler_run_id uuid, p_forced boolean, p_note text, p_org_id uuid DEFAULT NULL::uuid, p_now timestamp with time zone DEFAULT now()) RETURNS jsonb
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

-- Name: FUNCTION try_mark_daily_run(p_schedule text, p_run_key text, p_trigger_source text, p_scheduler_run_id uuid, p_forced boolean, p_note text, p_org_id uuid, p_now timestamp with time zone); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.try_mark_daily_run(p_schedule text, p_run_key text, p_trigger_source text, p_scheduler_run_id uuid, p_forced boolean, p_note text, p_org_id uuid, p_now timestamp with time zone) IS 'The day gate: claims (schedule, run_key[, organization]) and plans it, or (run_key and organization null) every organization due, in one transaction; updated=false when already claimed';

-- Name: unfinalized_runs(); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.unfinalized_runs() RETURNS SETOF uuid
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select r.id from scheduler.runs r
   where r.status = 'running'
     and not exists (select from scheduler.batch_jobs j where j.run_id = r.id and j.status in ('pending', 'processing'))
$$;

-- Name: verified_trigger_source(text, text, uuid); Type: FUNCTION; Schema: scheduler

CREATE FUNCTION scheduler.verified_trigger_source(p_claimed text, p_request_id text, p_processor_id uuid DEFAULT NULL::uuid) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
  if p_claimed is distinct from 'cron' then
    return p_claimed;
  end if;
  update scheduler.cron_ticks t
     set consumed_at = clock_timestamp()
   where t.id = (select c.id from scheduler.cron_ticks c
                  where c.request_id = p_request_id and c.decision = 'called' and c.consumed_at is null
                  order by c.id limit 1 for update skip locked);
  if found then
    return 'cron';
  end if;
  if p_processor_id is not null
     and exists (select from scheduler.processors p
                  where p.id = p_processor_id and p.status = 'kicked' and p.trigger_source = 'cron') then
    return 'cron';
  end if;
  return 'api';
end
$$;

-- Name: FUNCTION verified_trigger_source(p_claimed text, p_request_id text, p_processor_id uuid); Type: COMMENT; Schema: scheduler

COMMENT ON FUNCTION scheduler.verified_trigger_source(p_claimed text, p_request_id text, p_processor_id uuid) IS 'The trigger source to record for a call: cron only with proof (a tick''s request id, once; or a cron run''s processor kick)';

-- Name: organization_providers; Type: TABLE; Schema: public

CREATE TABLE public.organization_providers (
    id bigint NOT NULL,
    org_id uuid NOT NULL,
    provider text NOT NULL,
    regions text[] DEFAULT ARRAY['global'::text] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT organization_providers_regions_check CHECK ((cardinality(regions) > 0))
);

-- Name: organization_providers_id_seq; Type: SEQUENCE; Schema: public

ALTER TABLE public.organization_providers ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.organization_providers_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- Name: organizations; Type: TABLE; Schema: public

CREATE TABLE public.organizations (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

-- Name: prompt_results; Type: TABLE; Schema: public

CREATE TABLE public.prompt_results (
    id bigint NOT NULL,
    task_id bigint NOT NULL,
    run_id uuid NOT NULL,
    org_id uuid NOT NULL,
    prompt_id uuid NOT NULL,
    provider text NOT NULL,
    region text NOT NULL,
    answered_by text NOT NULL,
    model text NOT NULL,
    response text NOT NULL,
    attempts integer NOT NULL,
    latency_ms integer NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

-- Name: prompt_results_id_seq; Type: SEQUENCE; Schema: public

ALTER TABLE public.prompt_results ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.prompt_results_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- Name: prompt_suggestions; Type: TABLE; Schema: public

CREATE TABLE public.prompt_suggestions (
    id bigint NOT NULL,
    org_id uuid NOT NULL,
    run_id uuid NOT NULL,
    task_id bigint NOT NULL,
    ordinal smallint NOT NULL,
    text text NOT NULL,
    active boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT prompt_suggestions_ordinal_check CHECK (((ordinal >= 1) AND (ordinal <= 5))),
    CONSTRAINT prompt_suggestions_text_check CHECK (((length(text) >= 1) AND (length(text) <= 20000)))
);

-- Name: TABLE prompt_suggestions; Type: COMMENT; Schema: public

COMMENT ON TABLE public.prompt_suggestions IS 'Prompts weekly-suggestions proposed for an organization (five per run), inactive until reviewed';

-- Name: prompt_suggestions_id_seq; Type: SEQUENCE; Schema: public

ALTER TABLE public.prompt_suggestions ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.prompt_suggestions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- Name: prompts; Type: TABLE; Schema: public

CREATE TABLE public.prompts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    org_id uuid NOT NULL,
    text text NOT NULL,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT prompts_text_check CHECK (((length(text) >= 1) AND (length(text) <= 20000)))
);

-- Name: providers; Type: TABLE; Schema: public

CREATE TABLE public.providers (
    name text NOT NULL,
    base_url text NOT NULL,
    model text NOT NULL,
    api_key_env text,
    timeout_ms integer DEFAULT 120000 NOT NULL,
    fallback_provider text,
    enabled boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    requests_per_minute integer,
    tokens_per_minute integer,
    max_in_flight integer,
    max_tokens integer,
    CONSTRAINT providers_api_key_env_check CHECK ((api_key_env ~ '^[A-Z][A-Z0-9_]*$'::text)),
    CONSTRAINT providers_api_key_env_is_a_provider_key CHECK (((api_key_env ~ '^[A-Z][A-Z0-9_]*_API_KEY$'::text) AND (api_key_env !~ '^(SUPABASE|CRON|DAYBREAK)_'::text))),
    CONSTRAINT providers_base_url_check CHECK ((base_url ~ '^https?://'::text)),
    CONSTRAINT providers_base_url_is_safe CHECK (((base_url ~ '^https://[^/?#@]+'::text) OR (base_url ~ '^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?(/|$)'::text))),
    CONSTRAINT providers_check CHECK ((fallback_provider IS DISTINCT FROM name)),
    CONSTRAINT providers_max_in_flight_check CHECK ((max_in_flight > 0)),
    CONSTRAINT providers_max_tokens_check CHECK ((max_tokens > 0)),
    CONSTRAINT providers_name_check CHECK ((name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'::text)),
    CONSTRAINT providers_requests_per_minute_check CHECK ((requests_per_minute > 0)),
    CONSTRAINT providers_timeout_ms_check CHECK (((timeout_ms >= 1000) AND (timeout_ms <= 600000))),
    CONSTRAINT providers_tokens_per_minute_check CHECK ((tokens_per_minute > 0))
);

-- Name: COLUMN providers.requests_per_minute; Type: COMMENT; Schema: public

COMMENT ON COLUMN public.providers.requests_per_minute IS 'Requests/min the provider allows this key; null = learned from its headers';

-- Name: COLUMN providers.tokens_per_minute; Type: COMMENT; Schema: public

COMMENT ON COLUMN public.providers.tokens_per_minute IS 'Tokens/min the provider allows this key; null = learned from its headers';

-- Name: COLUMN providers.max_in_flight; Type: COMMENT; Schema: public

COMMENT ON COLUMN public.providers.max_in_flight IS 'Most calls in flight at once across every processor; null = no cap beyond the rate';

-- Name: COLUMN providers.max_tokens; Type: COMMENT; Schema: public

COMMENT ON COLUMN public.providers.max_tokens IS 'max_tokens sent with every call (and counted towards the token budget); null: the provider''s default';

-- Name: regions; Type: TABLE; Schema: public

CREATE TABLE public.regions (
    code text NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    CONSTRAINT regions_code_check CHECK ((code ~ '^[a-z0-9][a-z0-9-]{0,31}$'::text))
);

-- Name: batch_jobs; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.batch_jobs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    run_id uuid NOT NULL,
    org_id uuid NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    tasks_total integer DEFAULT 0 NOT NULL,
    last_heartbeat timestamp with time zone,
    claimed_by text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    completed_at timestamp with time zone,
    last_error text,
    duplicates_prevented integer DEFAULT 0 NOT NULL,
    resumed_at timestamp with time zone,
    CONSTRAINT batch_jobs_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'processing'::text, 'completed'::text, 'completed_with_errors'::text, 'failed'::text, 'cancelled'::text])))
);

-- Name: batch_tasks; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.batch_tasks (
    id bigint NOT NULL,
    batch_job_id uuid NOT NULL,
    run_id uuid NOT NULL,
    prompt_id uuid NOT NULL,
    provider text NOT NULL,
    region text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    attempt_token uuid,
    lease_expires_at timestamp with time zone,
    claimed_by text,
    answered_by text,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    completed_at timestamp with time zone,
    seq integer DEFAULT 0 NOT NULL,
    rate_limited integer DEFAULT 0 NOT NULL,
    kind text DEFAULT 'prompt'::text NOT NULL,
    CONSTRAINT batch_tasks_kind_check CHECK ((kind = ANY (ARRAY['prompt'::text, 'suggestions'::text]))),
    CONSTRAINT batch_tasks_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'processing'::text, 'succeeded'::text, 'failed'::text, 'cancelled'::text])))
);

-- Name: COLUMN batch_tasks.kind; Type: COMMENT; Schema: scheduler

COMMENT ON COLUMN scheduler.batch_tasks.kind IS 'prompt: answer the prompt prompt_id; suggestions: ask the provider for five new prompts for the organization';

-- Name: batch_tasks_id_seq; Type: SEQUENCE; Schema: scheduler

ALTER TABLE scheduler.batch_tasks ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME scheduler.batch_tasks_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- Name: config; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.config (
    key text NOT NULL,
    value jsonb NOT NULL,
    description text DEFAULT ''::text NOT NULL
);

-- Name: cron_ticks; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.cron_ticks (
    id bigint NOT NULL,
    tick text NOT NULL,
    ticked_at timestamp with time zone NOT NULL,
    decision text NOT NULL,
    schedule text,
    run_key text,
    request_id text,
    net_request_id bigint,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    consumed_at timestamp with time zone,
    CONSTRAINT cron_ticks_tick_check CHECK ((tick = ANY (ARRAY['trigger'::text, 'reconcile'::text])))
);

-- Name: cron_ticks_id_seq; Type: SEQUENCE; Schema: scheduler

ALTER TABLE scheduler.cron_ticks ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME scheduler.cron_ticks_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- Name: known_time_zones; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.known_time_zones (
    name text NOT NULL
);

-- Name: missed_runs; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.missed_runs (
    schedule text NOT NULL,
    org_id uuid NOT NULL,
    run_key text NOT NULL,
    due_at timestamp with time zone NOT NULL,
    recorded_at timestamp with time zone NOT NULL,
    reason text NOT NULL
);

-- Name: TABLE missed_runs; Type: COMMENT; Schema: scheduler

COMMENT ON TABLE scheduler.missed_runs IS 'Local periods an organization did not get: past the catch-up window, skip policy, or older than the date caught up';

-- Name: org_schedules; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.org_schedules (
    schedule text NOT NULL,
    org_id uuid NOT NULL,
    timezone text NOT NULL,
    run_at time without time zone NOT NULL,
    window_minutes integer DEFAULT 180 NOT NULL,
    weekday smallint,
    catch_up text DEFAULT 'once'::text NOT NULL,
    catch_up_minutes integer DEFAULT 360 NOT NULL,
    paused boolean DEFAULT false NOT NULL,
    jitter_seconds integer NOT NULL,
    next_local_date date NOT NULL,
    next_run_at timestamp with time zone NOT NULL,
    last_run_key text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT org_schedules_catch_up_check CHECK ((catch_up = ANY (ARRAY['skip'::text, 'once'::text]))),
    CONSTRAINT org_schedules_catch_up_minutes_check CHECK (((catch_up_minutes >= 0) AND (catch_up_minutes <= 1440))),
    CONSTRAINT org_schedules_jitter_seconds_check CHECK ((jitter_seconds >= 0)),
    CONSTRAINT org_schedules_weekday_check CHECK (((weekday >= 1) AND (weekday <= 7))),
    CONSTRAINT org_schedules_window_minutes_check CHECK (((window_minutes >= 10) AND (window_minutes <= 1440)))
);

-- Name: TABLE org_schedules; Type: COMMENT; Schema: scheduler

COMMENT ON TABLE scheduler.org_schedules IS 'An organization''s own schedule (written only by public.set_org_schedule); without a row it runs in the schedule''s global run';

-- Name: COLUMN org_schedules.next_run_at; Type: COMMENT; Schema: scheduler

COMMENT ON COLUMN scheduler.org_schedules.next_run_at IS 'The instant next_local_date is due: local_instant(next_local_date, run_at, timezone) + jitter_seconds';

-- Name: processors; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.processors (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    status text DEFAULT 'kicked'::text NOT NULL,
    trigger_source text,
    worker text,
    net_request_id bigint,
    kicked_at timestamp with time zone,
    started_at timestamp with time zone,
    last_seen timestamp with time zone,
    stopped_at timestamp with time zone,
    stop_reason text,
    tasks integer DEFAULT 0 NOT NULL,
    cpu_ms integer,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT processors_status_check CHECK ((status = ANY (ARRAY['kicked'::text, 'running'::text, 'handing_over'::text, 'stopped'::text])))
);

-- Name: provider_pace; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.provider_pace (
    provider text NOT NULL,
    learned_requests_per_minute integer,
    learned_tokens_per_minute integer,
    learned_at timestamp with time zone,
    backoff_factor double precision DEFAULT 1 NOT NULL,
    backoff_at timestamp with time zone,
    paused_until timestamp with time zone,
    bucket double precision DEFAULT 0 NOT NULL,
    bucket_at timestamp with time zone,
    latency_ms_ewma double precision,
    tokens_per_call_ewma double precision,
    calls_total bigint DEFAULT 0 NOT NULL,
    rate_limited_total bigint DEFAULT 0 NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    probe_rpm double precision,
    probe_phase text DEFAULT 'slow_start'::text NOT NULL,
    probe_at timestamp with time zone,
    pressed_at timestamp with time zone,
    latency_floor_ms double precision,
    queueing boolean DEFAULT false NOT NULL,
    remaining_requests double precision,
    remaining_at timestamp with time zone,
    burst_ms integer,
    target_percent double precision,
    pauses_in_a_row integer DEFAULT 0 NOT NULL,
    completion_tokens_ewma double precision,
    token_bucket double precision,
    token_bucket_at timestamp with time zone,
    limit_known_at timestamp with time zone,
    CONSTRAINT provider_pace_backoff_factor_check CHECK (((backoff_factor > (0)::double precision) AND (backoff_factor <= (1)::double precision))),
    CONSTRAINT provider_pace_probe_phase_check CHECK ((probe_phase = ANY (ARRAY['slow_start'::text, 'steady'::text]))),
    CONSTRAINT provider_pace_target_percent_check CHECK (((target_percent > (0)::double precision) AND (target_percent <= (100)::double precision)))
);

-- Name: COLUMN provider_pace.limit_known_at; Type: COMMENT; Schema: scheduler

COMMENT ON COLUMN scheduler.provider_pace.limit_known_at IS 'When headers first stated a limit (learned_*): what got through before it was paced by the probe, not the limit';

-- Name: provider_run_stats; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.provider_run_stats (
    run_id uuid NOT NULL,
    provider text NOT NULL,
    calls bigint DEFAULT 0 NOT NULL,
    calls_by_status jsonb DEFAULT '{}'::jsonb NOT NULL,
    rate_limited bigint DEFAULT 0 NOT NULL,
    quota_reason text,
    quota_paused_at timestamp with time zone,
    first_call_at timestamp with time zone,
    last_call_at timestamp with time zone,
    minute_start timestamp with time zone,
    minute_calls bigint DEFAULT 0 NOT NULL,
    previous_minute_calls bigint DEFAULT 0 NOT NULL
);

-- Name: provider_seconds; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.provider_seconds (
    provider text NOT NULL,
    second timestamp with time zone NOT NULL,
    claimed integer DEFAULT 0 NOT NULL,
    successes integer DEFAULT 0 NOT NULL,
    tokens bigint DEFAULT 0 NOT NULL,
    rate_limited integer DEFAULT 0 NOT NULL
);

-- Name: TABLE provider_seconds; Type: COMMENT; Schema: scheduler

COMMENT ON TABLE scheduler.provider_seconds IS 'Calls claimed, successful calls, their tokens and 429s per provider and second (the last few minutes): what daybreak sent and what the provider delivered';

-- Name: runs; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.runs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    schedule text NOT NULL,
    run_key text NOT NULL,
    status text DEFAULT 'running'::text NOT NULL,
    trigger_source text NOT NULL,
    scheduler_run_id uuid,
    forced boolean DEFAULT false NOT NULL,
    note text,
    batch_jobs_planned integer DEFAULT 0 NOT NULL,
    tasks_planned integer DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    cancel_reason text,
    org_id uuid,
    due_at timestamp with time zone,
    claimed_at timestamp with time zone,
    catch_up boolean DEFAULT false NOT NULL,
    CONSTRAINT runs_status_check CHECK ((status = ANY (ARRAY['running'::text, 'completed'::text, 'completed_with_errors'::text, 'failed'::text, 'cancelled'::text]))),
    CONSTRAINT runs_trigger_source_check CHECK ((trigger_source = ANY (ARRAY['cron'::text, 'manual'::text, 'github_actions'::text, 'reconciler'::text, 'api'::text])))
);

-- Name: COLUMN runs.org_id; Type: COMMENT; Schema: scheduler

COMMENT ON COLUMN scheduler.runs.org_id IS 'The organization of an organization''s own run; null for the schedule''s global run';

-- Name: COLUMN runs.due_at; Type: COMMENT; Schema: scheduler

COMMENT ON COLUMN scheduler.runs.due_at IS 'The instant the period was due (an organization''s run: its local time plus jitter)';

-- Name: scheduler_runs; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.scheduler_runs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    function_name text NOT NULL,
    trigger_source text NOT NULL,
    status text DEFAULT 'running'::text NOT NULL,
    reason text,
    schedule text,
    run_key text,
    run_id uuid,
    auth_method text,
    forced boolean DEFAULT false NOT NULL,
    note text,
    user_agent text,
    request_id text,
    cf_ray text,
    github_run_id text,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    error_message text,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    claimed_trigger_source text,
    org_id uuid,
    CONSTRAINT scheduler_runs_status_check CHECK ((status = ANY (ARRAY['running'::text, 'completed'::text, 'skipped'::text, 'failed'::text]))),
    CONSTRAINT scheduler_runs_trigger_source_check CHECK ((trigger_source = ANY (ARRAY['cron'::text, 'manual'::text, 'github_actions'::text, 'reconciler'::text, 'api'::text])))
);

-- Name: COLUMN scheduler_runs.trigger_source; Type: COMMENT; Schema: scheduler

COMMENT ON COLUMN scheduler.scheduler_runs.trigger_source IS 'Who called, verified: cron only for the request id of a tick daybreak''s cron job queued (or a kick of a cron-started run)';

-- Name: COLUMN scheduler_runs.claimed_trigger_source; Type: COMMENT; Schema: scheduler

COMMENT ON COLUMN scheduler.scheduler_runs.claimed_trigger_source IS 'What the call said it was (x-trigger-source, x-manual-call, User-Agent), kept beside the verified trigger_source';

-- Name: schedules; Type: TABLE; Schema: scheduler

CREATE TABLE scheduler.schedules (
    name text NOT NULL,
    timezone text NOT NULL,
    window_start time without time zone NOT NULL,
    window_end time without time zone NOT NULL,
    period text NOT NULL,
    weekday smallint,
    enabled boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    work text DEFAULT 'prompts'::text NOT NULL,
    CONSTRAINT schedules_check CHECK ((window_start < window_end)),
    CONSTRAINT schedules_check1 CHECK (((period = 'weekly'::text) = (weekday IS NOT NULL))),
    CONSTRAINT schedules_name_check CHECK ((name ~ '^[a-z0-9][a-z0-9-]{0,62}$'::text)),
    CONSTRAINT schedules_period_check CHECK ((period = ANY (ARRAY['daily'::text, 'weekly'::text]))),
    CONSTRAINT schedules_weekday_check CHECK (((weekday >= 1) AND (weekday <= 7))),
    CONSTRAINT schedules_work_check CHECK ((work = ANY (ARRAY['prompts'::text, 'suggestions'::text])))
);

-- Name: COLUMN schedules.work; Type: COMMENT; Schema: scheduler

COMMENT ON COLUMN scheduler.schedules.work IS 'What a run does: prompts (every active prompt against the providers) or suggestions (five new prompts per organization)';

-- Name: v_batch_health; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_batch_health AS
SELECT
    NULL::text AS schedule,
    NULL::text AS run_key,
    NULL::uuid AS run_id,
    NULL::text AS run_status,
    NULL::text AS trigger_source,
    NULL::boolean AS forced,
    NULL::bigint AS batch_jobs,
    NULL::bigint AS jobs_live,
    NULL::bigint AS jobs_completed,
    NULL::bigint AS jobs_with_errors,
    NULL::bigint AS jobs_failed,
    NULL::integer AS tasks_planned,
    NULL::bigint AS tasks_succeeded,
    NULL::bigint AS tasks_failed,
    NULL::bigint AS tasks_live,
    NULL::integer AS duplicates_prevented,
    NULL::timestamp with time zone AS created_at,
    NULL::timestamp with time zone AS completed_at,
    NULL::integer AS duration_s;

-- Name: v_cron_health; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_cron_health WITH (security_invoker='true') AS
 WITH expected(jobname) AS (
         VALUES ('daybreak-trigger'::text), ('daybreak-reconciler'::text)
        ), ours AS (
         SELECT job.jobid,
            job.schedule,
            job.command,
            job.nodename,
            job.nodeport,
            job.database,
            job.username,
            job.active,
            job.jobname
           FROM cron.job
          WHERE ((job.jobname ~~ 'daybreak-%'::text) OR (job.jobname = ANY (ARRAY['daily-batch-trigger-resilient'::text, 'daily-batch-trigger-every-5min'::text, 'batch-reconciler-cleanup'::text, 'batch-reconciler-every-10min'::text, 'daily-batch-midnight-edt'::text, 'daily-batch-midnight-est'::text, 'daily-batch-trigger-12am-est'::text, 'daily-scheduler-3am-edt'::text, 'daily-scheduler-3am-est'::text])))
        )
 SELECT COALESCE(j.jobname, e.jobname) AS jobname,
    j.jobid,
    j.schedule,
    j.command,
    j.active,
    d.status AS last_status,
    d.start_time AS last_start,
    d.end_time AS last_end,
    d.return_message AS last_message,
        CASE
            WHEN (j.jobid IS NULL) THEN 'missing'::text
            WHEN (e.jobname IS NULL) THEN 'unexpected job'::text
            WHEN (NOT j.active) THEN 'paused'::text
            WHEN (d.status = 'failed'::text) THEN 'last run failed'::text
            WHEN ((d.start_time IS NOT NULL) AND (d.start_time < (now() - '00:15:00'::interval))) THEN 'not run for 15 minutes'::text
            ELSE 'ok'::text
        END AS health
   FROM ((ours j
     FULL JOIN expected e ON ((e.jobname = j.jobname)))
     LEFT JOIN LATERAL ( SELECT x.status,
            x.start_time,
            x.end_time,
            x.return_message
           FROM cron.job_run_details x
          WHERE (x.jobid = j.jobid)
          ORDER BY x.start_time DESC NULLS LAST
         LIMIT 1) d ON (true))
  ORDER BY (e.jobname IS NULL), COALESCE(j.jobname, e.jobname);

-- Name: VIEW v_cron_health; Type: COMMENT; Schema: scheduler

COMMENT ON VIEW scheduler.v_cron_health IS 'daybreak''s pg_cron jobs (and legacy ones that came back) with their last run and health';

-- Name: v_daily_history; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_daily_history WITH (security_invoker='true') AS
 WITH periods AS (
         SELECT s.name AS schedule,
            s.period,
            s.enabled,
            s.window_end,
            s.timezone,
            scheduler.period_key(s.period, (d.d)::date) AS run_key,
            (d.d)::date AS local_date
           FROM (scheduler.schedules s
             CROSS JOIN LATERAL generate_series(((((now() AT TIME ZONE s.timezone))::date - 30))::timestamp with time zone, (((now() AT TIME ZONE s.timezone))::date)::timestamp with time zone, '1 day'::interval) d(d))
          WHERE (((s.period = 'daily'::text) OR (EXTRACT(isodow FROM d.d) = (s.weekday)::numeric)) AND ((d.d)::date >= ((s.created_at AT TIME ZONE s.timezone))::date))
        ), keys AS (
         SELECT periods.schedule,
            periods.run_key,
            periods.local_date,
            periods.enabled,
            ((periods.local_date < ((now() AT TIME ZONE periods.timezone))::date) OR (((now() AT TIME ZONE periods.timezone))::time without time zone >= periods.window_end)) AS window_over
           FROM periods
        UNION
         SELECT r_1.schedule,
            r_1.run_key,
            NULL::date AS date,
            true,
            true
           FROM scheduler.runs r_1
          WHERE ((r_1.created_at > (now() - '30 days'::interval)) AND (r_1.org_id IS NULL))
        )
 SELECT k.schedule,
    k.run_key,
        CASE
            WHEN (r.id IS NOT NULL) THEN 'ran'::text
            WHEN (k.window_over AND k.enabled) THEN 'missed'::text
            WHEN k.enabled THEN 'due'::text
            ELSE 'paused'::text
        END AS day_status,
    r.id AS run_id,
    r.status AS run_status,
    r.trigger_source AS winner_source,
    r.note AS run_note,
    c.started_at AS called_at,
    c.trigger_source,
    c.status AS call_status,
    c.reason AS call_reason,
    ((c.id IS NOT NULL) AND (c.id = r.scheduler_run_id)) AS is_winner,
    c.forced,
    c.note,
    c.user_agent,
    c.request_id,
    c.github_run_id,
    t.ticked_at AS cron_tick_at,
    t.net_request_id,
    n.status_code AS net_status_code,
    n.error_msg AS net_error
   FROM ((((( SELECT DISTINCT ON (keys.schedule, keys.run_key) keys.schedule,
            keys.run_key,
            keys.local_date,
            keys.enabled,
            keys.window_over
           FROM keys
          ORDER BY keys.schedule, keys.run_key, keys.local_date) k
     LEFT JOIN scheduler.runs r ON (((r.schedule = k.schedule) AND (r.run_key = k.run_key) AND (r.org_id IS NULL))))
     LEFT JOIN scheduler.scheduler_runs c ON (((c.schedule = k.schedule) AND (c.run_key = k.run_key) AND (c.function_name = 'daily-batch-trigger'::text) AND (c.org_id IS NULL) AND (c.reason IS DISTINCT FROM 'organizations_started'::text))))
     LEFT JOIN scheduler.cron_ticks t ON ((t.request_id = c.request_id)))
     LEFT JOIN net._http_response n ON ((n.id = t.net_request_id)))
  ORDER BY k.run_key DESC, k.schedule, c.started_at;

-- Name: v_duplicate_results; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_duplicate_results WITH (security_invoker='true') AS
 SELECT prompt_results.run_id,
    prompt_results.prompt_id,
    prompt_results.provider,
    prompt_results.region,
    count(*) AS results,
    array_agg(prompt_results.id ORDER BY prompt_results.id) AS result_ids
   FROM public.prompt_results
  GROUP BY prompt_results.run_id, prompt_results.prompt_id, prompt_results.provider, prompt_results.region
 HAVING (count(*) > 1);

-- Name: v_org_history; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_org_history WITH (security_invoker='true') AS
 SELECT r.schedule,
    r.org_id,
    o.name AS organization,
    r.run_key,
    'ran'::text AS day_status,
    r.id AS run_id,
    r.status AS run_status,
    r.trigger_source,
    r.forced,
    r.catch_up,
    r.due_at,
    r.claimed_at,
    NULL::text AS reason
   FROM (scheduler.runs r
     LEFT JOIN public.organizations o ON ((o.id = r.org_id)))
  WHERE ((r.org_id IS NOT NULL) AND (COALESCE(r.due_at, r.created_at) > (now() - '31 days'::interval)))
UNION ALL
 SELECT m.schedule,
    m.org_id,
    o.name AS organization,
    m.run_key,
    'missed'::text AS day_status,
    NULL::uuid AS run_id,
    NULL::text AS run_status,
    NULL::text AS trigger_source,
    NULL::boolean AS forced,
    false AS catch_up,
    m.due_at,
    NULL::timestamp with time zone AS claimed_at,
    m.reason
   FROM (scheduler.missed_runs m
     LEFT JOIN public.organizations o ON ((o.id = m.org_id)))
  WHERE ((m.due_at > (now() - '31 days'::interval)) AND (NOT (EXISTS ( SELECT
           FROM scheduler.runs r
          WHERE ((r.schedule = m.schedule) AND (r.org_id = m.org_id) AND (r.run_key = m.run_key))))));

-- Name: VIEW v_org_history; Type: COMMENT; Schema: scheduler

COMMENT ON VIEW scheduler.v_org_history IS 'Organizations'' own runs and missed periods over the last 30 local days, one row per (schedule, organization, period)';

-- Name: v_stuck_batch_jobs; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_stuck_batch_jobs WITH (security_invoker='true') AS
 SELECT s.batch_job_id,
    s.reason,
    j.status,
    o.name AS organization,
    j.run_id,
    r.schedule,
    r.run_key,
    j.attempts,
    j.last_heartbeat,
    (round(EXTRACT(epoch FROM (now() - COALESCE(j.last_heartbeat, j.created_at)))))::integer AS silent_for_s,
    ( SELECT count(*) AS count
           FROM scheduler.batch_tasks t
          WHERE ((t.batch_job_id = j.id) AND (t.status = ANY (ARRAY['pending'::text, 'processing'::text])))) AS tasks_live
   FROM (((scheduler.stale_batch_jobs(now()) s(batch_job_id, status, reason, last_heartbeat)
     JOIN scheduler.batch_jobs j ON ((j.id = s.batch_job_id)))
     JOIN scheduler.runs r ON ((r.id = j.run_id)))
     LEFT JOIN public.organizations o ON ((o.id = j.org_id)));

-- Name: v_health_problems; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_health_problems WITH (security_invoker='true') AS
 SELECT 'stuck_batch_job'::text AS problem,
    (v_stuck_batch_jobs.batch_job_id)::text AS subject,
    format('%s batch job for %s (run %s) %s; silent for %s s'::text, v_stuck_batch_jobs.status, v_stuck_batch_jobs.organization, v_stuck_batch_jobs.run_key, v_stuck_batch_jobs.reason, v_stuck_batch_jobs.silent_for_s) AS detail
   FROM scheduler.v_stuck_batch_jobs
UNION ALL
 SELECT 'duplicate_result'::text AS problem,
    (v_duplicate_results.run_id)::text AS subject,
    format('%s results for prompt %s on %s/%s'::text, v_duplicate_results.results, v_duplicate_results.prompt_id, v_duplicate_results.provider, v_duplicate_results.region) AS detail
   FROM scheduler.v_duplicate_results
UNION ALL
 SELECT 'incomplete_run'::text AS problem,
    (r.id)::text AS subject,
    format('run %s/%s is %s after its window with %s task(s) without a result'::text, r.schedule, r.run_key, r.status, ( SELECT count(*) AS count
           FROM scheduler.batch_tasks t
          WHERE ((t.run_id = r.id) AND (NOT (EXISTS ( SELECT
                   FROM public.prompt_results p
                  WHERE (p.task_id = t.id))))))) AS detail
   FROM ((scheduler.runs r
     JOIN scheduler.schedules s ON ((s.name = r.schedule)))
     LEFT JOIN scheduler.org_schedules os ON (((os.schedule = r.schedule) AND (os.org_id = r.org_id))))
  WHERE ((r.created_at > (now() - '30 days'::interval)) AND (r.status <> 'cancelled'::text) AND ((r.status <> 'running'::text) OR (r.created_at < (now() - '01:00:00'::interval))) AND ((r.status <> 'completed'::text) OR (EXISTS ( SELECT
           FROM scheduler.batch_tasks t
          WHERE ((t.run_id = r.id) AND (t.status <> 'succeeded'::text))))) AND
        CASE
            WHEN (r.org_id IS NOT NULL) THEN (now() >= (COALESCE(r.due_at, r.created_at) + make_interval(mins => COALESCE(os.window_minutes, 180))))
            ELSE ((scheduler.parse_run_key(s.period, r.run_key) < ((now() AT TIME ZONE s.timezone))::date) OR ((((now() AT TIME ZONE s.timezone))::time without time zone >= s.window_end) AND (scheduler.current_run_key(s.name, now()) = r.run_key)))
        END)
UNION ALL
 SELECT DISTINCT 'missed_period'::text AS problem,
    ((v_daily_history.schedule || '/'::text) || v_daily_history.run_key) AS subject,
    format('no run for %s %s and its window is over'::text, v_daily_history.schedule, v_daily_history.run_key) AS detail
   FROM scheduler.v_daily_history
  WHERE (v_daily_history.day_status = 'missed'::text)
UNION ALL
 SELECT 'cron_job'::text AS problem,
    v_cron_health.jobname AS subject,
    v_cron_health.health AS detail
   FROM scheduler.v_cron_health
  WHERE (v_cron_health.health <> 'ok'::text)
UNION ALL
 SELECT 'missed_period'::text AS problem,
    ((((v_org_history.schedule || '/'::text) || v_org_history.org_id) || '/'::text) || v_org_history.run_key) AS subject,
    format('no run for %s of %s on %s: %s'::text, v_org_history.schedule, COALESCE(v_org_history.organization, (v_org_history.org_id)::text), v_org_history.run_key, v_org_history.reason) AS detail
   FROM scheduler.v_org_history
  WHERE (v_org_history.day_status = 'missed'::text);

-- Name: VIEW v_health_problems; Type: COMMENT; Schema: scheduler

COMMENT ON VIEW scheduler.v_health_problems IS 'Everything unhealthy right now, one row each; empty means healthy';

-- Name: v_org_schedules; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_org_schedules WITH (security_invoker='true') AS
 SELECT os.schedule,
    os.org_id,
    o.name AS organization,
    os.timezone,
    to_char((os.run_at)::interval, 'HH24:MI:SS'::text) AS run_at,
    os.window_minutes,
    COALESCE(os.weekday, s.weekday) AS weekday,
    os.catch_up,
    os.catch_up_minutes,
    os.paused,
    os.jitter_seconds,
    os.next_local_date,
    os.next_run_at,
    to_char((os.next_run_at AT TIME ZONE os.timezone), 'YYYY-MM-DD HH24:MI:SS'::text) AS next_run_local,
    to_char((os.next_run_at AT TIME ZONE 'UTC'::text), 'YYYY-MM-DD HH24:MI:SS'::text) AS next_run_utc,
    os.last_run_key,
    ( SELECT (count(*))::integer AS count
           FROM scheduler.v_org_history h
          WHERE ((h.schedule = os.schedule) AND (h.org_id = os.org_id) AND (h.day_status = 'ran'::text))) AS ran_30d,
    ( SELECT (count(*))::integer AS count
           FROM scheduler.v_org_history h
          WHERE ((h.schedule = os.schedule) AND (h.org_id = os.org_id) AND (h.day_status = 'missed'::text))) AS missed_30d,
    os.updated_at
   FROM ((scheduler.org_schedules os
     JOIN scheduler.schedules s ON ((s.name = os.schedule)))
     LEFT JOIN public.organizations o ON ((o.id = os.org_id)));

-- Name: VIEW v_org_schedules; Type: COMMENT; Schema: scheduler

COMMENT ON VIEW scheduler.v_org_schedules IS 'Each organization''s own schedule: next run in its local time and in UTC, runs and missed periods of the last 30 days';

-- Name: v_processor_fleet; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_processor_fleet WITH (security_invoker='true') AS
 SELECT p.id AS processor_id,
    p.status,
    p.trigger_source,
    p.worker,
    p.kicked_at,
    p.started_at,
    p.last_seen,
    p.stopped_at,
    p.stop_reason,
    p.tasks,
    p.cpu_ms,
    (round((EXTRACT(epoch FROM (COALESCE(p.stopped_at, p.last_seen) - p.started_at)) * (1000)::numeric)))::integer AS duration_ms,
    p.details
   FROM scheduler.processors p
  WHERE (COALESCE(p.kicked_at, p.started_at) > (now() - '1 day'::interval))
  ORDER BY COALESCE(p.kicked_at, p.started_at) DESC;

-- Name: VIEW v_processor_fleet; Type: COMMENT; Schema: scheduler

COMMENT ON VIEW scheduler.v_processor_fleet IS 'Processor invocations of the last day: kicked, running, handed over, stopped';

-- Name: v_provider_pace; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_provider_pace WITH (security_invoker='true') AS
 WITH recent AS (
         SELECT runs.id,
            runs.schedule,
            runs.run_key,
            runs.status,
            runs.created_at
           FROM scheduler.runs
          WHERE (runs.created_at > (now() - '30 days'::interval))
        ), tasks AS (
         SELECT t_1.run_id,
            t_1.provider,
            count(*) AS planned,
            count(*) FILTER (WHERE (t_1.status = 'succeeded'::text)) AS succeeded,
            count(*) FILTER (WHERE (t_1.status = 'failed'::text)) AS failed,
            count(*) FILTER (WHERE (t_1.status = 'processing'::text)) AS in_flight,
            count(*) FILTER (WHERE (t_1.status = ANY (ARRAY['pending'::text, 'processing'::text]))) AS live
           FROM (scheduler.batch_tasks t_1
             JOIN recent ON ((recent.id = t_1.run_id)))
          GROUP BY t_1.run_id, t_1.provider
        ), latency AS (
         SELECT p.run_id,
            p.provider,
            percentile_cont((0.5)::double precision) WITHIN GROUP (ORDER BY ((p.latency_ms)::double precision)) AS p50,
            percentile_cont((0.95)::double precision) WITHIN GROUP (ORDER BY ((p.latency_ms)::double precision)) AS p95
           FROM (public.prompt_results p
             JOIN recent ON ((recent.id = p.run_id)))
          GROUP BY p.run_id, p.provider
        )
 SELECT r.schedule,
    r.run_key,
    r.id AS run_id,
    r.status AS run_status,
    t.provider,
    t.planned,
    t.succeeded,
    t.failed,
    t.in_flight,
    t.live,
    COALESCE(s.calls, (0)::bigint) AS calls,
    COALESCE(s.rate_limited, (0)::bigint) AS rate_limited,
    round(COALESCE(((s.rate_limited)::numeric / (NULLIF(s.calls, 0))::numeric), (0)::numeric), 4) AS rate_limited_share,
    COALESCE(s.calls_by_status, '{}'::jsonb) AS calls_by_status,
    rate.limit_per_minute AS limit_rpm,
    rate.limit_source,
    round((rate.rate_per_minute)::numeric, 1) AS paced_rpm,
    pr.tokens_per_minute AS configured_tpm,
    pace.learned_tokens_per_minute AS learned_tpm,
    pr.max_in_flight,
    (
        CASE
            WHEN ((s.minute_start IS NULL) OR (s.minute_start < (date_trunc('minute'::text, now()) - '00:01:00'::interval))) THEN (0)::numeric
            WHEN (s.minute_start < date_trunc('minute'::text, now())) THEN round(((s.minute_calls)::numeric * ((1)::numeric - (EXTRACT(epoch FROM (now() - date_trunc('minute'::text, now()))) / 60.0))))
            ELSE round(((s.minute_calls)::numeric + ((s.previous_minute_calls)::numeric * ((1)::numeric - (EXTRACT(epoch FROM (now() - s.minute_start)) / 60.0)))))
        END)::integer AS observed_rpm,
    (round(l.p50))::integer AS latency_p50_ms,
    (round(l.p95))::integer AS latency_p95_ms,
    pace.paused_until,
    s.quota_reason,
        CASE
            WHEN (t.live = 0) THEN NULL::timestamp with time zone
            WHEN ((r.status = 'running'::text) AND (rate.rate_per_minute > (0)::double precision)) THEN (now() + make_interval(secs => ((t.live)::double precision / (rate.rate_per_minute / (60.0)::double precision))))
            ELSE NULL::timestamp with time zone
        END AS eta,
    s.first_call_at,
    s.last_call_at
   FROM ((((((tasks t
     JOIN recent r ON ((r.id = t.run_id)))
     LEFT JOIN scheduler.provider_run_stats s ON (((s.run_id = t.run_id) AND (s.provider = t.provider))))
     LEFT JOIN public.providers pr ON ((pr.name = t.provider)))
     LEFT JOIN scheduler.provider_pace pace ON ((pace.provider = t.provider)))
     LEFT JOIN LATERAL scheduler.provider_rate(t.provider, now()) rate(rate_per_minute, limit_per_minute, limit_source) ON ((pr.name IS NOT NULL)))
     LEFT JOIN latency l ON (((l.run_id = t.run_id) AND (l.provider = t.provider))))
  ORDER BY r.created_at DESC, t.provider;

-- Name: VIEW v_provider_pace; Type: COMMENT; Schema: scheduler

COMMENT ON VIEW scheduler.v_provider_pace IS 'Per run and provider: calls, 429s, pace against limit, latency p50/p95, ETA';

-- Name: v_recent_invocations; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_recent_invocations WITH (security_invoker='true') AS
 SELECT s.started_at,
    s.function_name,
    s.trigger_source,
    s.status,
    s.reason,
    s.schedule,
    s.run_key,
    s.run_id,
    s.forced,
    s.note,
    s.auth_method,
    s.user_agent,
    s.request_id,
    s.github_run_id,
    s.cf_ray,
    (round((EXTRACT(epoch FROM (s.completed_at - s.started_at)) * (1000)::numeric)))::integer AS duration_ms,
    s.error_message,
    t.ticked_at AS cron_tick_at,
    t.net_request_id,
    s.id AS invocation_id
   FROM (scheduler.scheduler_runs s
     LEFT JOIN scheduler.cron_ticks t ON ((t.request_id = s.request_id)))
  WHERE (s.started_at > (now() - '7 days'::interval))
  ORDER BY s.started_at DESC;

-- Name: v_run_completeness; Type: VIEW; Schema: scheduler

CREATE VIEW scheduler.v_run_completeness WITH (security_invoker='true') AS
 WITH recent AS (
         SELECT runs.id,
            runs.schedule,
            runs.run_key,
            runs.status
           FROM scheduler.runs
          WHERE (runs.created_at > (now() - '30 days'::interval))
        ), planned AS (
         SELECT t.run_id,
            t.provider,
            t.region,
            count(*) AS planned,
            count(*) FILTER (WHERE (t.status = 'succeeded'::text)) AS succeeded,
            count(*) FILTER (WHERE (t.status = 'failed'::text)) AS failed,
            count(*) FILTER (WHERE (t.status = ANY (ARRAY['pending'::text, 'processing'::text]))) AS live,
            count(*) FILTER (WHERE (NOT (EXISTS ( SELECT
                   FROM public.prompt_results p
                  WHERE (p.task_id = t.id))))) AS missing
           FROM (scheduler.batch_tasks t
             JOIN recent ON ((recent.id = t.run_id)))
          GROUP BY t.run_id, t.provider, t.region
        ), recorded AS (
         SELECT p.run_id,
            p.provider,
            p.region,
            count(*) AS results,
            count(*) FILTER (WHERE (NOT (EXISTS ( SELECT
                   FROM scheduler.batch_tasks t
                  WHERE ((t.id = p.task_id) AND (t.run_id = p.run_id) AND (t.provider = p.provider) AND (t.region = p.region)))))) AS extra
           FROM (public.prompt_results p
             JOIN recent ON ((recent.id = p.run_id)))
          GROUP BY p.run_id, p.provider, p.region
        )
 SELECT r.schedule,
    r.run_key,
    r.id AS run_id,
    r.status AS run_status,
    COALESCE(pl.provider, rc.provider) AS provider,
    COALESCE(pl.region, rc.region) AS region,
    COALESCE(pl.planned, (0)::bigint) AS planned,
    COALESCE(pl.succeeded, (0)::bigint) AS succeeded,
    COALESCE(pl.failed, (0)::bigint) AS failed,
    COALESCE(pl.live, (0)::bigint) AS live,
    COALESCE(rc.results, (0)::bigint) AS results,
    COALESCE(pl.missing, (0)::bigint) AS missing,
    COALESCE(rc.extra, (0)::bigint) AS extra
   FROM ((planned pl
     FULL JOIN recorded rc ON (((rc.run_id = pl.run_id) AND (rc.provider = pl.provider) AND (rc.region = pl.region))))
     JOIN recent r ON ((r.id = COALESCE(pl.run_id, rc.run_id))))
  ORDER BY r.run_key DESC, COALESCE(pl.provider, rc.provider), COALESCE(pl.region, rc.region);

-- Name: organization_providers organization_providers_pkey; Type: CONSTRAINT; Schema: public

ALTER TABLE ONLY public.organization_providers
    ADD CONSTRAINT organization_providers_pkey PRIMARY KEY (id);

-- Name: organizations organizations_pkey; Type: CONSTRAINT; Schema: public

ALTER TABLE ONLY public.organizations
    ADD CONSTRAINT organizations_pkey PRIMARY KEY (id);

-- Name: prompt_results prompt_results_one_per_task; Type: CONSTRAINT; Schema: public

ALTER TABLE ONLY public.prompt_results
    ADD CONSTRAINT prompt_results_one_per_task UNIQUE (task_id);

-- Name: prompt_results prompt_results_pkey; Type: CONSTRAINT; Schema: public

ALTER TABLE ONLY public.prompt_results
    ADD CONSTRAINT prompt_results_pkey PRIMARY KEY (id);

-- Name: prompt_suggestions prompt_suggestions_one_set_per_task; Type: CONSTRAINT; Schema: public

ALTER TABLE ONLY public.prompt_suggestions
    ADD CONSTRAINT prompt_suggestions_one_set_per_task UNIQUE (task_id, ordinal);

-- Name: prompt_suggestions prompt_suggestions_pkey; Type: CONSTRAINT; Schema: public

ALTER TABLE ONLY public.prompt_suggestions
    ADD CONSTRAINT prompt_suggestions_pkey PRIMARY KEY (id);

-- Name: prompts prompts_pkey; Type: CONSTRAINT; Schema: public

ALTER TABLE ONLY public.prompts
    ADD CONSTRAINT prompts_pkey PRIMARY KEY (id);

-- Name: providers providers_pkey; Type: CONSTRAINT; Schema: public

ALTER TABLE ONLY public.providers
    ADD CONSTRAINT providers_pkey PRIMARY KEY (name);

-- Name: regions regions_pkey; Type: CONSTRAINT; Schema: public

ALTER TABLE ONLY public.regions
    ADD CONSTRAINT regions_pkey PRIMARY KEY (code);

-- Name: batch_jobs batch_jobs_one_per_org; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.batch_jobs
    ADD CONSTRAINT batch_jobs_one_per_org UNIQUE (run_id, org_id);

-- Name: batch_jobs batch_jobs_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.batch_jobs
    ADD CONSTRAINT batch_jobs_pkey PRIMARY KEY (id);

-- Name: batch_tasks batch_tasks_one_per_combination; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.batch_tasks
    ADD CONSTRAINT batch_tasks_one_per_combination UNIQUE (batch_job_id, prompt_id, provider, region);

-- Name: batch_tasks batch_tasks_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.batch_tasks
    ADD CONSTRAINT batch_tasks_pkey PRIMARY KEY (id);

-- Name: config config_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.config
    ADD CONSTRAINT config_pkey PRIMARY KEY (key);

-- Name: cron_ticks cron_ticks_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.cron_ticks
    ADD CONSTRAINT cron_ticks_pkey PRIMARY KEY (id);

-- Name: known_time_zones known_time_zones_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.known_time_zones
    ADD CONSTRAINT known_time_zones_pkey PRIMARY KEY (name);

-- Name: missed_runs missed_runs_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.missed_runs
    ADD CONSTRAINT missed_runs_pkey PRIMARY KEY (schedule, org_id, run_key);

-- Name: org_schedules org_schedules_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.org_schedules
    ADD CONSTRAINT org_schedules_pkey PRIMARY KEY (schedule, org_id);

-- Name: processors processors_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.processors
    ADD CONSTRAINT processors_pkey PRIMARY KEY (id);

-- Name: provider_pace provider_pace_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.provider_pace
    ADD CONSTRAINT provider_pace_pkey PRIMARY KEY (provider);

-- Name: provider_run_stats provider_run_stats_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.provider_run_stats
    ADD CONSTRAINT provider_run_stats_pkey PRIMARY KEY (run_id, provider);

-- Name: provider_seconds provider_seconds_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.provider_seconds
    ADD CONSTRAINT provider_seconds_pkey PRIMARY KEY (provider, second);

-- Name: runs runs_one_per_period; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.runs
    ADD CONSTRAINT runs_one_per_period UNIQUE NULLS NOT DISTINCT (schedule, run_key, org_id);

-- Name: runs runs_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.runs
    ADD CONSTRAINT runs_pkey PRIMARY KEY (id);

-- Name: scheduler_runs scheduler_runs_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.scheduler_runs
    ADD CONSTRAINT scheduler_runs_pkey PRIMARY KEY (id);

-- Name: schedules schedules_pkey; Type: CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.schedules
    ADD CONSTRAINT schedules_pkey PRIMARY KEY (name);

-- Name: organization_providers_by_org; Type: INDEX; Schema: public

CREATE INDEX organization_providers_by_org ON public.organization_providers USING btree (org_id);

-- Name: prompt_results_by_answerer; Type: INDEX; Schema: public

CREATE INDEX prompt_results_by_answerer ON public.prompt_results USING btree (answered_by, created_at DESC);

-- Name: prompt_results_by_run; Type: INDEX; Schema: public

CREATE INDEX prompt_results_by_run ON public.prompt_results USING btree (run_id);

-- Name: prompt_suggestions_by_org; Type: INDEX; Schema: public

CREATE INDEX prompt_suggestions_by_org ON public.prompt_suggestions USING btree (org_id, created_at);

-- Name: prompts_active_by_org; Type: INDEX; Schema: public

CREATE INDEX prompts_active_by_org ON public.prompts USING btree (org_id) WHERE active;

-- Name: batch_jobs_live; Type: INDEX; Schema: scheduler

CREATE INDEX batch_jobs_live ON scheduler.batch_jobs USING btree (status, created_at) WHERE (status = ANY (ARRAY['pending'::text, 'processing'::text]));

-- Name: batch_tasks_by_run; Type: INDEX; Schema: scheduler

CREATE INDEX batch_tasks_by_run ON scheduler.batch_tasks USING btree (run_id);

-- Name: batch_tasks_live; Type: INDEX; Schema: scheduler

CREATE INDEX batch_tasks_live ON scheduler.batch_tasks USING btree (batch_job_id, id) WHERE (status = ANY (ARRAY['pending'::text, 'processing'::text]));

-- Name: batch_tasks_pending_by_provider; Type: INDEX; Schema: scheduler

CREATE INDEX batch_tasks_pending_by_provider ON scheduler.batch_tasks USING btree (provider, seq, id) WHERE (status = 'pending'::text);

-- Name: batch_tasks_processing_by_provider; Type: INDEX; Schema: scheduler

CREATE INDEX batch_tasks_processing_by_provider ON scheduler.batch_tasks USING btree (provider, lease_expires_at) WHERE (status = 'processing'::text);

-- Name: batch_tasks_processing_by_worker; Type: INDEX; Schema: scheduler

CREATE INDEX batch_tasks_processing_by_worker ON scheduler.batch_tasks USING btree (claimed_by) WHERE (status = 'processing'::text);

-- Name: batch_tasks_unsucceeded_by_run; Type: INDEX; Schema: scheduler

CREATE INDEX batch_tasks_unsucceeded_by_run ON scheduler.batch_tasks USING btree (run_id) WHERE (status <> 'succeeded'::text);

-- Name: cron_ticks_at; Type: INDEX; Schema: scheduler

CREATE INDEX cron_ticks_at ON scheduler.cron_ticks USING btree (ticked_at);

-- Name: cron_ticks_by_request; Type: INDEX; Schema: scheduler

CREATE INDEX cron_ticks_by_request ON scheduler.cron_ticks USING btree (request_id) WHERE (request_id IS NOT NULL);

-- Name: missed_runs_recorded; Type: INDEX; Schema: scheduler

CREATE INDEX missed_runs_recorded ON scheduler.missed_runs USING btree (recorded_at);

-- Name: org_schedules_by_org; Type: INDEX; Schema: scheduler

CREATE INDEX org_schedules_by_org ON scheduler.org_schedules USING btree (org_id);

-- Name: org_schedules_due; Type: INDEX; Schema: scheduler

CREATE INDEX org_schedules_due ON scheduler.org_schedules USING btree (schedule, next_run_at) WHERE (NOT paused);

-- Name: processors_kicked_at; Type: INDEX; Schema: scheduler

CREATE INDEX processors_kicked_at ON scheduler.processors USING btree (kicked_at);

-- Name: processors_live; Type: INDEX; Schema: scheduler

CREATE INDEX processors_live ON scheduler.processors USING btree (status) WHERE (status = ANY (ARRAY['kicked'::text, 'running'::text, 'handing_over'::text]));

-- Name: runs_by_org; Type: INDEX; Schema: scheduler

CREATE INDEX runs_by_org ON scheduler.runs USING btree (org_id, schedule, run_key) WHERE (org_id IS NOT NULL);

-- Name: runs_global_by_schedule; Type: INDEX; Schema: scheduler

CREATE INDEX runs_global_by_schedule ON scheduler.runs USING btree (schedule, created_at) WHERE (org_id IS NULL);

-- Name: runs_live; Type: INDEX; Schema: scheduler

CREATE INDEX runs_live ON scheduler.runs USING btree (created_at) WHERE (status = 'running'::text);

-- Name: scheduler_runs_by_key; Type: INDEX; Schema: scheduler

CREATE INDEX scheduler_runs_by_key ON scheduler.scheduler_runs USING btree (schedule, run_key);

-- Name: scheduler_runs_by_request; Type: INDEX; Schema: scheduler

CREATE INDEX scheduler_runs_by_request ON scheduler.scheduler_runs USING btree (request_id);

-- Name: scheduler_runs_by_run; Type: INDEX; Schema: scheduler

CREATE INDEX scheduler_runs_by_run ON scheduler.scheduler_runs USING btree (run_id);

-- Name: scheduler_runs_running; Type: INDEX; Schema: scheduler

CREATE INDEX scheduler_runs_running ON scheduler.scheduler_runs USING btree (started_at) WHERE (status = 'running'::text);

-- Name: scheduler_runs_started; Type: INDEX; Schema: scheduler

CREATE INDEX scheduler_runs_started ON scheduler.scheduler_runs USING btree (started_at);

-- Name: v_batch_health _RETURN; Type: RULE; Schema: scheduler

CREATE OR REPLACE VIEW scheduler.v_batch_health WITH (security_invoker='true') AS
 SELECT r.schedule,
    r.run_key,
    r.id AS run_id,
    r.status AS run_status,
    r.trigger_source,
    r.forced,
    count(DISTINCT j.id) AS batch_jobs,
    count(DISTINCT j.id) FILTER (WHERE (j.status = ANY (ARRAY['pending'::text, 'processing'::text]))) AS jobs_live,
    count(DISTINCT j.id) FILTER (WHERE (j.status = 'completed'::text)) AS jobs_completed,
    count(DISTINCT j.id) FILTER (WHERE (j.status = 'completed_with_errors'::text)) AS jobs_with_errors,
    count(DISTINCT j.id) FILTER (WHERE (j.status = 'failed'::text)) AS jobs_failed,
    r.tasks_planned,
    ( SELECT count(*) AS count
           FROM scheduler.batch_tasks t
          WHERE ((t.run_id = r.id) AND (t.status = 'succeeded'::text))) AS tasks_succeeded,
    ( SELECT count(*) AS count
           FROM scheduler.batch_tasks t
          WHERE ((t.run_id = r.id) AND (t.status = 'failed'::text))) AS tasks_failed,
    ( SELECT count(*) AS count
           FROM scheduler.batch_tasks t
          WHERE ((t.run_id = r.id) AND (t.status = ANY (ARRAY['pending'::text, 'processing'::text])))) AS tasks_live,
    (COALESCE(sum(j.duplicates_prevented), (0)::bigint))::integer AS duplicates_prevented,
    r.created_at,
    r.completed_at,
    (round(EXTRACT(epoch FROM (COALESCE(r.completed_at, now()) - r.created_at))))::integer AS duration_s
   FROM (scheduler.runs r
     LEFT JOIN scheduler.batch_jobs j ON ((j.run_id = r.id)))
  WHERE (r.created_at > (now() - '30 days'::interval))
  GROUP BY r.id
  ORDER BY r.created_at DESC;

-- Name: prompt_results prompt_results_store_suggestions; Type: TRIGGER; Schema: public

CREATE TRIGGER prompt_results_store_suggestions AFTER INSERT ON public.prompt_results REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION scheduler.store_prompt_suggestions();

-- Name: organization_providers organization_providers_org_id_fkey; Type: FK CONSTRAINT; Schema: public

ALTER TABLE ONLY public.organization_providers
    ADD CONSTRAINT organization_providers_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

-- Name: prompt_suggestions prompt_suggestions_org_id_fkey; Type: FK CONSTRAINT; Schema: public

ALTER TABLE ONLY public.prompt_suggestions
    ADD CONSTRAINT prompt_suggestions_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

-- Name: prompts prompts_org_id_fkey; Type: FK CONSTRAINT; Schema: public

ALTER TABLE ONLY public.prompts
    ADD CONSTRAINT prompts_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

-- Name: providers providers_fallback_provider_fkey; Type: FK CONSTRAINT; Schema: public

ALTER TABLE ONLY public.providers
    ADD CONSTRAINT providers_fallback_provider_fkey FOREIGN KEY (fallback_provider) REFERENCES public.providers(name);

-- Name: batch_jobs batch_jobs_org_id_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.batch_jobs
    ADD CONSTRAINT batch_jobs_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organizations(id);

-- Name: batch_jobs batch_jobs_run_id_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.batch_jobs
    ADD CONSTRAINT batch_jobs_run_id_fkey FOREIGN KEY (run_id) REFERENCES scheduler.runs(id) ON DELETE CASCADE;

-- Name: batch_tasks batch_tasks_batch_job_id_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.batch_tasks
    ADD CONSTRAINT batch_tasks_batch_job_id_fkey FOREIGN KEY (batch_job_id) REFERENCES scheduler.batch_jobs(id) ON DELETE CASCADE;

-- Name: missed_runs missed_runs_org_id_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.missed_runs
    ADD CONSTRAINT missed_runs_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

-- Name: missed_runs missed_runs_schedule_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.missed_runs
    ADD CONSTRAINT missed_runs_schedule_fkey FOREIGN KEY (schedule) REFERENCES scheduler.schedules(name) ON DELETE CASCADE;

-- Name: org_schedules org_schedules_org_id_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.org_schedules
    ADD CONSTRAINT org_schedules_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

-- Name: org_schedules org_schedules_schedule_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.org_schedules
    ADD CONSTRAINT org_schedules_schedule_fkey FOREIGN KEY (schedule) REFERENCES scheduler.schedules(name) ON DELETE CASCADE;

-- Name: provider_pace provider_pace_provider_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.provider_pace
    ADD CONSTRAINT provider_pace_provider_fkey FOREIGN KEY (provider) REFERENCES public.providers(name) ON UPDATE CASCADE ON DELETE CASCADE;

-- Name: provider_run_stats provider_run_stats_run_id_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.provider_run_stats
    ADD CONSTRAINT provider_run_stats_run_id_fkey FOREIGN KEY (run_id) REFERENCES scheduler.runs(id) ON DELETE CASCADE;

-- Name: runs runs_org_id_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.runs
    ADD CONSTRAINT runs_org_id_fkey FOREIGN KEY (org_id) REFERENCES public.organizations(id);

-- Name: runs runs_schedule_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.runs
    ADD CONSTRAINT runs_schedule_fkey FOREIGN KEY (schedule) REFERENCES scheduler.schedules(name);

-- Name: scheduler_runs scheduler_runs_run_id_fkey; Type: FK CONSTRAINT; Schema: scheduler

ALTER TABLE ONLY scheduler.scheduler_runs
    ADD CONSTRAINT scheduler_runs_run_id_fkey FOREIGN KEY (run_id) REFERENCES scheduler.runs(id) ON DELETE SET NULL;

-- Name: organization_providers; Type: ROW SECURITY; Schema: public

ALTER TABLE public.organization_providers ENABLE ROW LEVEL SECURITY;

-- Name: organizations; Type: ROW SECURITY; Schema: public

ALTER TABLE public.organizations ENABLE ROW LEVEL SECURITY;

-- Name: prompt_results; Type: ROW SECURITY; Schema: public

ALTER TABLE public.prompt_results ENABLE ROW LEVEL SECURITY;

-- Name: prompt_suggestions; Type: ROW SECURITY; Schema: public

ALTER TABLE public.prompt_suggestions ENABLE ROW LEVEL SECURITY;

-- Name: prompts; Type: ROW SECURITY; Schema: public

ALTER TABLE public.prompts ENABLE ROW LEVEL SECURITY;

-- Name: providers; Type: ROW SECURITY; Schema: public

ALTER TABLE public.providers ENABLE ROW LEVEL SECURITY;

-- Name: regions; Type: ROW SECURITY; Schema: public

ALTER TABLE public.regions ENABLE ROW LEVEL SECURITY;

-- Name: batch_jobs; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.batch_jobs ENABLE ROW LEVEL SECURITY;

-- Name: batch_tasks; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.batch_tasks ENABLE ROW LEVEL SECURITY;

-- Name: config; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.config ENABLE ROW LEVEL SECURITY;

-- Name: cron_ticks; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.cron_ticks ENABLE ROW LEVEL SECURITY;

-- Name: known_time_zones; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.known_time_zones ENABLE ROW LEVEL SECURITY;

-- Name: missed_runs; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.missed_runs ENABLE ROW LEVEL SECURITY;

-- Name: org_schedules; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.org_schedules ENABLE ROW LEVEL SECURITY;

-- Name: processors; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.processors ENABLE ROW LEVEL SECURITY;

-- Name: provider_pace; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.provider_pace ENABLE ROW LEVEL SECURITY;

-- Name: provider_run_stats; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.provider_run_stats ENABLE ROW LEVEL SECURITY;

-- Name: provider_seconds; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.provider_seconds ENABLE ROW LEVEL SECURITY;

-- Name: runs; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.runs ENABLE ROW LEVEL SECURITY;

-- Name: scheduler_runs; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.scheduler_runs ENABLE ROW LEVEL SECURITY;

-- Name: schedules; Type: ROW SECURITY; Schema: scheduler

ALTER TABLE scheduler.schedules ENABLE ROW LEVEL SECURITY;

-- Name: SCHEMA public; Type: ACL; Schema: -

GRANT USAGE ON SCHEMA public TO anon;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT USAGE ON SCHEMA public TO service_role;

-- Name: FUNCTION set_org_schedule(p_org_id uuid, p_schedule text, p_timezone text, p_run_at text, p_window_minutes integer, p_catch_up text, p_catch_up_minutes integer, p_paused boolean, p_weekday integer, p_now timestamp with time zone); Type: ACL; Schema: public

REVOKE ALL ON FUNCTION public.set_org_schedule(p_org_id uuid, p_schedule text, p_timezone text, p_run_at text, p_window_minutes integer, p_catch_up text, p_catch_up_minutes integer, p_paused boolean, p_weekday integer, p_now timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION public.set_org_schedule(p_org_id uuid, p_schedule text, p_timezone text, p_run_at text, p_window_minutes integer, p_catch_up text, p_catch_up_minutes integer, p_paused boolean, p_weekday integer, p_now timestamp with time zone) TO service_role;

-- Name: FUNCTION abandoned_invocations(p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.abandoned_invocations(p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION cadence_after(p_period text, p_weekday smallint, p_date date); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.cadence_after(p_period text, p_weekday smallint, p_date date) FROM PUBLIC;

-- Name: FUNCTION call_deadline_ms(p_provider text, p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.call_deadline_ms(p_provider text, p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION cancel_run(p_run_id uuid, p_reason text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.cancel_run(p_run_id uuid, p_reason text) FROM PUBLIC;

-- Name: FUNCTION claim_due_organizations(p_schedule text, p_trigger_source text, p_scheduler_run_id uuid, p_note text, p_now timestamp with time zone, p_limit integer); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.claim_due_organizations(p_schedule text, p_trigger_source text, p_scheduler_run_id uuid, p_note text, p_now timestamp with time zone, p_limit integer) FROM PUBLIC;

-- Name: FUNCTION claim_paced_tasks(p_worker text, p_provider text, p_limit integer, p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.claim_paced_tasks(p_worker text, p_provider text, p_limit integer, p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION complete_tasks(p_results jsonb); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.complete_tasks(p_results jsonb) FROM PUBLIC;

-- Name: FUNCTION config_int(p_key text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.config_int(p_key text) FROM PUBLIC;

-- Name: FUNCTION config_num(p_key text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.config_num(p_key text) FROM PUBLIC;

-- Name: FUNCTION cron_reconcile_tick(p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.cron_reconcile_tick(p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION cron_trigger_tick(p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.cron_trigger_tick(p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION current_run_key(p_schedule text, p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.current_run_key(p_schedule text, p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION delivered_per_minute(p_provider text, p_now timestamp with time zone, p_span interval); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.delivered_per_minute(p_provider text, p_now timestamp with time zone, p_span interval) FROM PUBLIC;

-- Name: FUNCTION ensure_processor_fleet(p_trigger_source text, p_max_new integer); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.ensure_processor_fleet(p_trigger_source text, p_max_new integer) FROM PUBLIC;

-- Name: FUNCTION fail_exhausted_tasks(p_batch_job_id uuid); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.fail_exhausted_tasks(p_batch_job_id uuid) FROM PUBLIC;

-- Name: FUNCTION finalize_batch_job(p_batch_job_id uuid); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.finalize_batch_job(p_batch_job_id uuid) FROM PUBLIC;

-- Name: FUNCTION finalize_run(p_run_id uuid); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.finalize_run(p_run_id uuid) FROM PUBLIC;

-- Name: FUNCTION grow_probe(p_provider text, p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.grow_probe(p_provider text, p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION heartbeat_processor(p_processor_id uuid, p_worker text, p_tasks integer); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.heartbeat_processor(p_processor_id uuid, p_worker text, p_tasks integer) FROM PUBLIC;

-- Name: FUNCTION is_in_execution_window(p_schedule text, p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.is_in_execution_window(p_schedule text, p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION json_array_or_empty(p_text text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.json_array_or_empty(p_text text) FROM PUBLIC;

-- Name: FUNCTION jsonb_sum_counts(a jsonb, b jsonb); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.jsonb_sum_counts(a jsonb, b jsonb) FROM PUBLIC;

-- Name: FUNCTION kick_workers(p_work text, p_trigger_source text, p_pending_jobs integer); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.kick_workers(p_work text, p_trigger_source text, p_pending_jobs integer) FROM PUBLIC;

-- Name: FUNCTION learn_pace(p_feedback jsonb, p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.learn_pace(p_feedback jsonb, p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION live_processor_count(p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.live_processor_count(p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION local_instant(p_local_date date, p_wall_time time without time zone, p_timezone text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.local_instant(p_local_date date, p_wall_time time without time zone, p_timezone text) FROM PUBLIC;

-- Name: FUNCTION lost_processors(p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.lost_processors(p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION org_first_date(p_period text, p_weekday smallint, p_run_at time without time zone, p_timezone text, p_jitter_seconds integer, p_floor date, p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.org_first_date(p_period text, p_weekday smallint, p_run_at time without time zone, p_timezone text, p_jitter_seconds integer, p_floor date, p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION parse_run_key(p_period text, p_run_key text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.parse_run_key(p_period text, p_run_key text) FROM PUBLIC;

-- Name: FUNCTION pause_schedule(p_name text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.pause_schedule(p_name text) FROM PUBLIC;

-- Name: FUNCTION period_key(p_period text, p_local_date date); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.period_key(p_period text, p_local_date date) FROM PUBLIC;

-- Name: FUNCTION plan_runs(p_run_ids uuid[], p_work text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.plan_runs(p_run_ids uuid[], p_work text) FROM PUBLIC;

-- Name: FUNCTION provider_limits(p_provider text, p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.provider_limits(p_provider text, p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION provider_rate(p_provider text, p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.provider_rate(p_provider text, p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION providers_with_work(p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.providers_with_work(p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION prune_history(p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.prune_history(p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION queue_function_call(p_function text, p_body jsonb, p_trigger_source text, p_request_id text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.queue_function_call(p_function text, p_body jsonb, p_trigger_source text, p_request_id text) FROM PUBLIC;

-- Name: FUNCTION reconcile(p_dry_run boolean, p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.reconcile(p_dry_run boolean, p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION reconcile_now(p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.reconcile_now(p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION record_task_outcomes(p_worker text, p_outcomes jsonb, p_feedback jsonb); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.record_task_outcomes(p_worker text, p_outcomes jsonb, p_feedback jsonb) FROM PUBLIC;

-- Name: FUNCTION register_processor(p_processor_id uuid, p_worker text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.register_processor(p_processor_id uuid, p_worker text) FROM PUBLIC;

-- Name: FUNCTION rescue_lost_processors(p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.rescue_lost_processors(p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION resume_schedule(p_name text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.resume_schedule(p_name text) FROM PUBLIC;

-- Name: FUNCTION resume_stuck_batch_job(p_batch_job_id uuid); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.resume_stuck_batch_job(p_batch_job_id uuid) FROM PUBLIC;

-- Name: FUNCTION retry_failed_tasks(p_run_id uuid); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.retry_failed_tasks(p_run_id uuid) FROM PUBLIC;

-- Name: FUNCTION set_schedule_enabled(p_name text, p_enabled boolean); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.set_schedule_enabled(p_name text, p_enabled boolean) FROM PUBLIC;

-- Name: FUNCTION settle_batch_jobs(); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.settle_batch_jobs() FROM PUBLIC;

-- Name: FUNCTION stale_batch_jobs(p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.stale_batch_jobs(p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION stop_processor(p_processor_id uuid, p_status text, p_reason text, p_tasks integer, p_cpu_ms integer, p_details jsonb); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.stop_processor(p_processor_id uuid, p_status text, p_reason text, p_tasks integer, p_cpu_ms integer, p_details jsonb) FROM PUBLIC;

-- Name: FUNCTION store_prompt_suggestions(); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.store_prompt_suggestions() FROM PUBLIC;

-- Name: FUNCTION suggestion_request(p_task_id bigint); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.suggestion_request(p_task_id bigint) FROM PUBLIC;

-- Name: FUNCTION try_mark_daily_run(p_today_key text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.try_mark_daily_run(p_today_key text) FROM PUBLIC;

-- Name: FUNCTION try_mark_daily_run(p_schedule text, p_run_key text); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.try_mark_daily_run(p_schedule text, p_run_key text) FROM PUBLIC;

-- Name: FUNCTION try_mark_daily_run(p_schedule text, p_run_key text, p_trigger_source text, p_scheduler_run_id uuid, p_forced boolean, p_note text, p_org_id uuid, p_now timestamp with time zone); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.try_mark_daily_run(p_schedule text, p_run_key text, p_trigger_source text, p_scheduler_run_id uuid, p_forced boolean, p_note text, p_org_id uuid, p_now timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION unfinalized_runs(); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.unfinalized_runs() FROM PUBLIC;

-- Name: FUNCTION verified_trigger_source(p_claimed text, p_request_id text, p_processor_id uuid); Type: ACL; Schema: scheduler

REVOKE ALL ON FUNCTION scheduler.verified_trigger_source(p_claimed text, p_request_id text, p_processor_id uuid) FROM PUBLIC;

-- Name: TABLE organization_providers; Type: ACL; Schema: public

GRANT ALL ON TABLE public.organization_providers TO service_role;

-- Name: SEQUENCE organization_providers_id_seq; Type: ACL; Schema: public

GRANT ALL ON SEQUENCE public.organization_providers_id_seq TO service_role;

-- Name: TABLE organizations; Type: ACL; Schema: public

GRANT ALL ON TABLE public.organizations TO service_role;

-- Name: TABLE prompt_results; Type: ACL; Schema: public

GRANT ALL ON TABLE public.prompt_results TO service_role;

-- Name: SEQUENCE prompt_results_id_seq; Type: ACL; Schema: public

GRANT ALL ON SEQUENCE public.prompt_results_id_seq TO service_role;

-- Name: TABLE prompt_suggestions; Type: ACL; Schema: public

GRANT ALL ON TABLE public.prompt_suggestions TO service_role;

-- Name: SEQUENCE prompt_suggestions_id_seq; Type: ACL; Schema: public

GRANT ALL ON SEQUENCE public.prompt_suggestions_id_seq TO service_role;

-- Name: TABLE prompts; Type: ACL; Schema: public

GRANT ALL ON TABLE public.prompts TO service_role;

-- Name: TABLE providers; Type: ACL; Schema: public

GRANT SELECT ON TABLE public.providers TO service_role;

-- Name: TABLE regions; Type: ACL; Schema: public

GRANT ALL ON TABLE public.regions TO service_role;

-- Name: DEFAULT PRIVILEGES FOR SEQUENCES; Type: DEFAULT ACL; Schema: public

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES  TO service_role;

-- Name: DEFAULT PRIVILEGES FOR FUNCTIONS; Type: DEFAULT ACL; Schema: public

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON FUNCTIONS  TO service_role;

-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO service_role;

-- ---------------------------------------------------------------- cron jobs
select cron.schedule('daybreak-reconciler', '10 seconds', 'select scheduler.cron_reconcile_tick()');
select cron.schedule('daybreak-trigger', '*/5 * * * *', 'select scheduler.cron_trigger_tick()');

-- ---------------------------------------------------------------- scheduler.config as migrated
-- abandoned_invocation_minutes = 3: scheduler_runs rows running longer are closed as abandoned
-- call_deadline_latency_multiple = 3: a provider call is cut off after this many times the p99 of the provider's recent answers (at least call_deadline_min_ms, at most its timeout_ms)
-- call_deadline_min_ms = 5000: the shortest deadline a provider call gets, however fast the provider answers
-- function_call_timeout_ms = 2000: pg_net timeout (ms) for every call SQL makes to an edge function; functions answer these calls at once (202)
-- heartbeat_seconds = 5: how often a live processor reports; the staleness thresholds are multiples of it
-- max_batch_job_attempts = 5: a batch job resumed this many times is failed
-- max_processor_invocations = 10: ceiling on processor invocations in flight at once (a Supabase project's concurrency is finite)
-- max_rate_limited_releases = 20: a task given back this many times after 429s is failed
-- max_task_attempts = 3: a task whose lease expired this many times is failed
-- org_jitter_seconds = 900: organizations due at the same instant are spread over this many seconds (deterministic per organization and schedule)
-- pace_backoff_percent = 50: a 429 under a known limit cuts the pace to what got through, by at most this percentage of it
-- pace_burst_ms = 500: token bucket capacity, as this many milliseconds of the paced rate
-- pace_default_completion_tokens = 256: completion tokens a call counts for (token budgets) before any was observed, when the provider has no max_tokens
-- pace_default_latency_ms = 2000: latency assumed for fleet sizing before any call was observed
-- pace_latency_rise_percent = 50: latency this much above its lowest means a provider with no known limit is queueing: what it delivers is its limit
-- pace_min_burst_ms = 50: the smallest burst (bucket capacity, in ms of the pace) a provider that enforces short windows is paced with
-- pace_probe_additive_percent_per_second = 1: after slow start, the probed pace grows by this share of itself per second while the work presses
-- pace_probe_backoff_percent = 90: probing: a 429 multiplies the probed pace by this (or sets it to what got through, when lower)
-- pace_probe_burst_ms = 100: the burst (bucket capacity, in ms of the pace) while a provider's request limit is unknown
-- pace_probe_growth_per_second = 1.5: slow start: a provider with no known request limit has its pace multiplied by this each second while the work presses and nothing refuses
-- pace_recovery_percent_per_second = 0.5: after a backoff the rate recovers by this share of the limit per second
-- pace_target_percent = 97: share of a provider's limit the pacer aims at
-- pace_unknown_requests_per_minute = 300: rate ceiling for a provider with no configured or learned limit (AIMD finds the real one)
-- pending_grace_seconds = 45: a pending batch job this long after planning with no processor is stale
-- processor_in_flight_per_invocation = 64: provider calls one processor invocation keeps in flight at most
-- processor_kick_grace_seconds = 30: a kicked processor that has not started after this long no longer counts as part of the fleet
-- retention_days = 30: scheduler_runs, cron_ticks and cron.job_run_details older than this are pruned
-- stale_heartbeat_seconds = 20: a processor (and its batch jobs) silent this long (4 heartbeats) is lost
-- task_lease_seconds = 300: task lease; longer than the provider timeout so live workers keep their tasks
