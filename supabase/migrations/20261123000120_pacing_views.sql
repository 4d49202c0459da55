-- daybreak: pacing visibility.
-- Purpose: what an operator asks during a long paced day: per run and provider, calls, 429s, the
-- pace against the limit, latency p50/p95 and an ETA; and the processor fleet.
-- Objects: views scheduler.v_provider_pace, scheduler.v_processor_fleet.
-- Operators: scripts/status shows both; sql/monitoring/ has a query for each.
-- The current schema, every function with its body: supabase/schema.sql.

-- ---------------------------------------------------------------- visibility

-- Per run and provider (runs of the last 30 days): tasks by state, calls and 429s, the pacer's
-- current rate against the limit (configured or learned), the pace actually seen over the last
-- minute, latency p50/p95 of answered calls, and an ETA from the live tasks at the current pace.
create view scheduler.v_provider_pace with (security_invoker = true) as
with recent as (
  select id, schedule, run_key, status, created_at from scheduler.runs where created_at > now() - interval '30 days'
), tasks as (
  select t.run_id, t.provider,
         count(*) as planned,
         count(*) filter (where t.status = 'succeeded') as succeeded,
         count(*) filter (where t.status = 'failed') as failed,
         count(*) filter (where t.status = 'processing') as in_flight,
         count(*) filter (where t.status in ('pending', 'processing')) as live
    from scheduler.batch_tasks t join recent on recent.id = t.run_id
   group by t.run_id, t.provider
), latency as (
  select p.run_id, p.provider,
         percentile_cont(0.5) within group (order by p.latency_ms) as p50,
         percentile_cont(0.95) within group (order by p.latency_ms) as p95
    from public.prompt_results p join recent on recent.id = p.run_id
   group by p.run_id, p.provider
)
select r.schedule, r.run_key, r.id as run_id, r.status as run_status, t.provider,
       t.planned, t.succeeded, t.failed, t.in_flight, t.live,
       coalesce(s.calls, 0) as calls, coalesce(s.rate_limited, 0) as rate_limited,
       round(coalesce(s.rate_limited::numeric / nullif(s.calls, 0), 0), 4) as rate_limited_share,
       coalesce(s.calls_by_status, '{}') as calls_by_status,
       rate.limit_per_minute as limit_rpm, rate.limit_source, round(rate.rate_per_minute::numeric, 1) as paced_rpm,
       pr.tokens_per_minute as configured_tpm, pace.learned_tokens_per_minute as learned_tpm, pr.max_in_flight,
       -- Calls over the last 60 s: this minute's count plus the previous minute's, weighted by overlap.
       case when s.minute_start is null or s.minute_start < date_trunc('minute', now()) - interval '1 minute' then 0
            when s.minute_start < date_trunc('minute', now()) then round(s.minute_calls
                 * (1 - extract(epoch from (now() - date_trunc('minute', now()))) / 60.0))
            else round(s.minute_calls + s.previous_minute_calls * (1 - extract(epoch from (now() - s.minute_start)) / 60.0))
       end::integer as observed_rpm,
       round(l.p50)::integer as latency_p50_ms, round(l.p95)::integer as latency_p95_ms,
       pace.paused_until, s.quota_reason,
       case when t.live = 0 then null
            when r.status = 'running' and rate.rate_per_minute > 0
              then now() + make_interval(secs => t.live / (rate.rate_per_minute / 60.0)) end as eta,
       s.first_call_at, s.last_call_at
  from tasks t
  join recent r on r.id = t.run_id
  left join scheduler.provider_run_stats s on s.run_id = t.run_id and s.provider = t.provider
  left join public.providers pr on pr.name = t.provider
  left join scheduler.provider_pace pace on pace.provider = t.provider
  left join lateral scheduler.provider_rate(t.provider, now()) rate on pr.name is not null
  left join latency l on l.run_id = t.run_id and l.provider = t.provider
 order by r.created_at desc, t.provider;

-- The fleet of processor invocations over the last day.
create view scheduler.v_processor_fleet with (security_invoker = true) as
select p.id as processor_id, p.status, p.trigger_source, p.worker, p.kicked_at, p.started_at, p.last_seen, p.stopped_at,
       p.stop_reason, p.tasks, p.cpu_ms,
       round(extract(epoch from (coalesce(p.stopped_at, p.last_seen) - p.started_at)) * 1000)::integer as duration_ms,
       p.details
  from scheduler.processors p
 where coalesce(p.kicked_at, p.started_at) > now() - interval '1 day'
 order by coalesce(p.kicked_at, p.started_at) desc;

revoke execute on all functions in schema scheduler from public, anon, authenticated;
revoke all on all tables in schema scheduler from public, anon, authenticated;

comment on view scheduler.v_provider_pace is 'Per run and provider: calls, 429s, pace against limit, latency p50/p95, ETA';
comment on view scheduler.v_processor_fleet is 'Processor invocations of the last day: kicked, running, handed over, stopped';
