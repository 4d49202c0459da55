-- daybreak: a probe grows only while none of its pace goes unused (grow_probe; the claims' half is
-- the previous migration).
-- Purpose: a claim now presses when neither the work nor the probing in-flight ceiling held it back,
-- whatever its size; the probe grows for the time since such a claim only when the bucket did not
-- refill past its capacity by more than a tenth of what the pace gave meanwhile (a claim a little
-- late). Lanes that together take less than the pace, or a pause in the claims (a hand-over), let the
-- bucket overflow, and the probe holds.
-- Objects: function scheduler.grow_probe (redefined; same signature, grants kept).
-- Operators: nothing to do.
-- The current schema, every function with its body: supabase/schema.sql.

create or replace function scheduler.grow_probe(p_provider text, p_now timestamp with time zone)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_pace scheduler.provider_pace;
  v_seconds double precision;
  v_ceiling double precision;
  v_latency_ms double precision;
  v_max_in_flight integer;
  v_per_ms double precision;
  v_refill double precision;
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
  -- Only when the last claim pressed (its pressed_at is its probe_at), for the time since it, and
  -- only when the pace went used since: the bucket (the probed pace's burst, as claim_paced_tasks
  -- holds it) did not refill past its capacity by more than a tenth of what the pace gave since (a
  -- claim a little late).
  v_per_ms := greatest(1.0, v_pace.probe_rpm) / 60000.0;
  v_refill := v_per_ms * greatest(0, extract(epoch from (p_now - v_pace.bucket_at)) * 1000);
  if v_pace.pressed_at is null or v_pace.pressed_at < v_pace.probe_at
     or v_pace.bucket_at is null
     or v_pace.bucket + v_refill > greatest(1.5, v_per_ms * scheduler.config_int('pace_probe_burst_ms')) + 0.1 * v_refill
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
                            else probe_rpm * (1 + scheduler.config_num(case when rate_limited_total = 0
                                                                            then 'pace_probe_queueing_additive_percent_per_second'
                                                                            else 'pace_probe_additive_percent_per_second' end)
                                                  / 100.0 * v_seconds) end)),
         probe_at = p_now
   where provider = p_provider;
end
$$;
