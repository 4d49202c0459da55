-- daybreak: a processor fleet sized to demand.
-- Purpose: scheduler.processors records every processor invocation (kicked, running, handing
-- over, stopped); scheduler.ensure_processor_fleet kicks as many as the providers' paced rates need
-- given their observed latency (Little's law: calls in flight = rate x latency), up to
-- max_processor_invocations. A batch job is stale only when no processor is live: with a live
-- fleet its pending tasks are waiting for their turn at the providers' pace.
-- Objects: table scheduler.processors; functions live_processor_count, register_processor,
-- heartbeat_processor, stop_processor, ensure_processor_fleet, settle_batch_jobs; replaced:
-- kick_processors (the fleet, not one kick per job), stale_batch_jobs, prune_history (processors).
-- Operators: the ceiling is scheduler.config max_processor_invocations (RUNBOOK.md, Thresholds).
-- The current schema, every function with its body: supabase/schema.sql.

-- ---------------------------------------------------------------- the fleet

create table scheduler.processors (
  id uuid primary key default gen_random_uuid(),
  status text not null default 'kicked' check (status in ('kicked', 'running', 'handing_over', 'stopped')),
  trigger_source text,
  worker text,
  net_request_id bigint,
  kicked_at timestamptz,
  started_at timestamptz,
  last_seen timestamptz,
  stopped_at timestamptz,
  stop_reason text,
  tasks integer not null default 0,
  cpu_ms integer,
  details jsonb not null default '{}'
);
create index processors_live on scheduler.processors (status) where status in ('kicked', 'running', 'handing_over');
create index processors_kicked_at on scheduler.processors (kicked_at);
alter table scheduler.processors enable row level security;

-- Processors that count as the fleet now: running with a recent heartbeat, or kicked recently and
-- not started yet. One handing over is leaving and does not count.
create function scheduler.live_processor_count(p_now timestamptz default clock_timestamp()) returns integer
language sql stable
set search_path = ''
as $$
  select count(*)::integer from scheduler.processors p
   where (p.status = 'running' and p.last_seen >= p_now - make_interval(secs => (select scheduler.config_int('stale_heartbeat_seconds'))))
      or (p.status = 'kicked' and p.kicked_at >= p_now - make_interval(secs => (select scheduler.config_int('processor_kick_grace_seconds'))))
$$;

-- An invocation starts: it takes its kicked row (or creates one when called directly).
create function scheduler.register_processor(p_processor_id uuid, p_worker text) returns uuid
language plpgsql
set search_path = ''
as $$
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

-- The invocation is alive, and so are the batch jobs whose tasks it holds.
create function scheduler.heartbeat_processor(p_processor_id uuid, p_worker text, p_tasks integer default null)
returns void
language sql
set search_path = ''
as $$
  update scheduler.processors
     set last_seen = clock_timestamp(), tasks = coalesce(p_tasks, tasks)
   where id = p_processor_id and status in ('running', 'handing_over');
  update scheduler.batch_jobs j set last_heartbeat = clock_timestamp()
   where j.status = 'processing'
     and j.id in (select t.batch_job_id from scheduler.batch_tasks t where t.status = 'processing' and t.claimed_by = p_worker);
$$;

create function scheduler.stop_processor(p_processor_id uuid, p_status text, p_reason text, p_tasks integer, p_cpu_ms integer,
                                         p_details jsonb default '{}')
returns void
language sql
set search_path = ''
as $$
  update scheduler.processors
     set status = p_status, stop_reason = p_reason, tasks = p_tasks, cpu_ms = p_cpu_ms, last_seen = clock_timestamp(),
         stopped_at = case when p_status = 'stopped' then clock_timestamp() end,
         details = details || coalesce(p_details, '{}')
   where id = p_processor_id
$$;

-- Kicks as many processors as the work needs now, minus those live: for each provider with
-- claimable work, calls in flight at its pace = rate × observed latency (Little's law); the fleet
-- is that total over the calls one invocation keeps in flight, at least one while any work is
-- left, at most max_processor_invocations (never more than p_max_new at once). Serialized by an
-- advisory lock so concurrent callers do not both fill the same gap. Returns how many it kicked.
create function scheduler.ensure_processor_fleet(p_trigger_source text, p_max_new integer default null)
returns integer
language plpgsql
set search_path = ''
as $$
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

-- Replaces the per-job kick: the fleet the work needs, at most p_count new invocations.
create or replace function scheduler.kick_processors(p_count integer, p_trigger_source text) returns integer
language sql
set search_path = ''
as $$
  select case when p_count > 0 then scheduler.ensure_processor_fleet(p_trigger_source, p_count) else 0 end
$$;

-- Fails exhausted tasks of the live batch jobs of running runs and returns the jobs with no live
-- task left (to finalize). Processors call it when they run out of work; the reconciler's
-- finalization covers a processor that died before it.
create function scheduler.settle_batch_jobs() returns setof uuid
language plpgsql
set search_path = ''
as $$
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

-- ---------------------------------------------------------------- replaced functions

-- A processing or pending batch job is stale only when no processor is live: with a live fleet
-- its pending tasks are waiting their turn at the providers' pace, and an expired lease is
-- reclaimed by the fleet itself (claim_paced_tasks). Without one, the thresholds are as before.
create or replace function scheduler.stale_batch_jobs(p_now timestamptz default now())
returns table (batch_job_id uuid, status text, reason text, last_heartbeat timestamptz)
language sql stable
set search_path = ''
as $$
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

create or replace function scheduler.prune_history(p_now timestamptz default now()) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_cutoff timestamptz := p_now - make_interval(days => scheduler.config_int('retention_days'));
  v_invocations integer;
  v_ticks integer;
  v_cron integer;
  v_processors integer;
begin
  delete from scheduler.scheduler_runs where started_at < v_cutoff and status <> 'running';
  get diagnostics v_invocations = row_count;
  delete from scheduler.cron_ticks where ticked_at < v_cutoff;
  get diagnostics v_ticks = row_count;
  delete from cron.job_run_details where start_time < v_cutoff;
  get diagnostics v_cron = row_count;
  delete from scheduler.processors where coalesce(stopped_at, last_seen, kicked_at) < v_cutoff;
  get diagnostics v_processors = row_count;
  return jsonb_build_object('scheduler_runs', v_invocations, 'cron_ticks', v_ticks, 'job_run_details', v_cron,
                            'processors', v_processors);
end
$$;
revoke execute on all functions in schema scheduler from public, anon, authenticated;
revoke all on all tables in schema scheduler from public, anon, authenticated;

comment on function scheduler.ensure_processor_fleet(text, integer) is
  'Kicks the processor invocations the providers'' rates need, up to max_processor_invocations';
