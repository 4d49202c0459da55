-- daybreak: a provider call's deadline follows the provider's own recent latency.
-- Purpose: every call waited up to its provider's configured timeout (120 s by default), so one
-- hung call held its task, and the run's tail, for two minutes even against a provider that
-- answers in a few hundred milliseconds. A call's deadline is now clamp(3 × the p99 of the
-- provider's recent answers, 5 s, the configured timeout): a hang costs seconds when the provider
-- is fast and never cuts off what its own tail takes. Until enough answers are known (20 in the
-- last hour) the configured timeout stands. The processor reads it per provider every few seconds.
-- Objects: function scheduler.call_deadline_ms(text, timestamptz); index
-- prompt_results_by_answerer (answered_by, created_at desc); config call_deadline_latency_multiple
-- (3), call_deadline_min_ms (5000).
-- Operators: nothing to do; a provider's timeout_ms is still the most any call waits.
-- The current schema, every function with its body: supabase/schema.sql.

insert into scheduler.config (key, value, description) values
  ('call_deadline_latency_multiple', '3', 'a provider call is cut off after this many times the p99 of the provider''s recent answers (at least call_deadline_min_ms, at most its timeout_ms)'),
  ('call_deadline_min_ms', '5000', 'the shortest deadline a provider call gets, however fast the provider answers')
on conflict (key) do nothing;

create index prompt_results_by_answerer on public.prompt_results (answered_by, created_at desc);

create function scheduler.call_deadline_ms(p_provider text, p_now timestamptz default clock_timestamp())
returns integer
language sql
stable
set search_path = ''
as $$
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

comment on function scheduler.call_deadline_ms(text, timestamptz) is
  'How long a call to this provider may take: clamp(call_deadline_latency_multiple × p99 of its last 200 answers in the hour, call_deadline_min_ms, its timeout_ms); its timeout_ms until 20 answers are known; null for an unknown provider';

revoke all on function scheduler.call_deadline_ms(text, timestamptz) from public, anon, authenticated;
