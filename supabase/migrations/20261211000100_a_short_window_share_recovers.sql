-- daybreak: a provider's share of its limit, lowered by the 429s of a short window, recovers.
-- Purpose: against a limit enforced over one second (600/min: ten calls in any second) the pacer's
-- timing across invocations leaves no room at 97 %: each 429 with the burst already at its shortest
-- took 3 points off the provider's share (target_percent), to 85 %, and nothing gave them back, so
-- a day paced at 91 % of such a limit for the rest of it after two 429s early on. The share now
-- recovers pace_target_recovery_percent_per_second points a second since the last 429 episode, to
-- pace_target_percent: 429s lower it, their absence raises it, and it settles where the timing holds.
-- Objects: function scheduler.target_share (new: the share in force); config
-- pace_target_recovery_percent_per_second; function scheduler.provider_limits (redefined; same
-- signature, grants kept). learn_pace lowers from the recovered share: the next migration.
-- Operators: nothing to do.
-- The current schema, every function with its body: supabase/schema.sql.

insert into scheduler.config (key, value, description) values
  ('pace_target_recovery_percent_per_second', '0.1', 'a provider''s share of its limit, lowered by the 429s of a short window, recovers by this many points per second since its last 429 (to pace_target_percent)')
on conflict (key) do nothing;

create function scheduler.target_share(p_target_percent double precision, p_backoff_at timestamptz, p_now timestamptz)
returns double precision
language sql
stable
set search_path = ''
as $$
  select least(scheduler.config_num('pace_target_percent'),
               coalesce(p_target_percent, scheduler.config_num('pace_target_percent'))
               + scheduler.config_num('pace_target_recovery_percent_per_second')
                 * greatest(0, extract(epoch from (p_now - coalesce(p_backoff_at, p_now))))) / 100.0
$$;

revoke execute on function scheduler.target_share(double precision, timestamptz, timestamptz) from public, anon, authenticated;
comment on function scheduler.target_share(double precision, timestamptz, timestamptz) is
  'The share of its limit a provider is paced at now: its target_percent (lowered by the 429s of a short window) recovered since its last 429 episode, up to pace_target_percent';

create or replace function scheduler.provider_limits(p_provider text, p_now timestamp with time zone)
returns TABLE(requests_per_minute double precision, request_limit double precision, tokens_per_minute double precision, token_limit double precision, limit_source text)
language sql stable
set search_path = ''
as $$
  with p as (
    select coalesce(pr.requests_per_minute, pace.learned_requests_per_minute)::double precision as rpm,
           coalesce(pr.tokens_per_minute, pace.learned_tokens_per_minute)::double precision as tpm,
           pace.probe_rpm, pace.probe_phase,
           scheduler.target_share(pace.target_percent, pace.backoff_at, p_now) as share,
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

