-- daybreak: provider pacing.
-- Purpose: a day's batch runs at its providers' rate limits, not at a fixed concurrency.
--   * public.providers gains optional requests_per_minute, tokens_per_minute, max_in_flight;
--     limits left unset are learned from what the provider answers (x-ratelimit-*,
--     anthropic-ratelimit-*, retry-after) and kept in scheduler.provider_pace.
--   * One pacer per provider, shared by every processor invocation: a token bucket row drawn from
--     in the same transaction that claims the tasks (scheduler.claim_paced_tasks), so the claim and
--     the permission to call are one step. 429s cut the rate (multiplicative decrease) and it
--     recovers linearly (additive increase); retry-after pauses the provider; a quota 429 pauses
--     the provider for the run and fails its tasks there with the reason.
--   * Fairness: tasks carry seq, their rank inside (batch job, provider); claims go by seq, so every
--     organization's first task is called before any organization's second.
--   * scheduler.record_task_outcomes: one transaction per round of finished calls (successes,
--     failures, releases, 429s) with the providers' feedback and per-run provider counters.
-- Objects: columns providers.{requests_per_minute, tokens_per_minute, max_in_flight},
-- batch_tasks.{seq, rate_limited}; tables scheduler.{provider_pace, provider_run_stats}; config keys
-- (pace_*, max_rate_limited_releases, and the fleet's, used by the next migration); functions
-- config_num, provider_rate, claim_paced_tasks, providers_with_work, jsonb_sum_counts,
-- record_task_outcomes; replaced: claim_and_plan_run (ranks tasks by seq).
-- Operators: nothing required. Set a provider's limits with
--   update public.providers set requests_per_minute = 1200 where name = '...';
-- unset ones are learned (RUNBOOK.md, "Provider limits and pacing").
-- The current schema, every function with its body: supabase/schema.sql.

-- ---------------------------------------------------------------- limits as data

alter table public.providers
  add column requests_per_minute integer check (requests_per_minute > 0),
  add column tokens_per_minute integer check (tokens_per_minute > 0),
  add column max_in_flight integer check (max_in_flight > 0);

comment on column public.providers.requests_per_minute is 'Requests/min the provider allows this key; null = learned from its headers';
comment on column public.providers.tokens_per_minute is 'Tokens/min the provider allows this key; null = learned from its headers';
comment on column public.providers.max_in_flight is 'Most calls in flight at once across every processor; null = no cap beyond the rate';

insert into scheduler.config (key, value, description) values
  ('max_processor_invocations', '10', 'ceiling on processor invocations in flight at once (a Supabase project''s concurrency is finite)'),
  ('processor_in_flight_per_invocation', '64', 'provider calls one processor invocation keeps in flight at most'),
  ('processor_kick_grace_seconds', '30', 'a kicked processor that has not started after this long no longer counts as part of the fleet'),
  ('pace_target_percent', '97', 'share of a provider''s limit the pacer aims at'),
  ('pace_burst_ms', '500', 'token bucket capacity, as this many milliseconds of the paced rate'),
  ('pace_backoff_percent', '50', 'on a 429 the rate is multiplied by this percentage'),
  ('pace_recovery_percent_per_second', '2', 'after a backoff the rate recovers by this share of the limit per second'),
  ('pace_unknown_requests_per_minute', '3000', 'rate ceiling for a provider with no configured or learned limit (AIMD finds the real one)'),
  ('pace_default_latency_ms', '2000', 'latency assumed for fleet sizing before any call was observed'),
  ('max_rate_limited_releases', '20', 'a task given back this many times after 429s is failed')
on conflict (key) do nothing;

-- Numbers that are not integers (ratios) are kept as integer percentages; this reads any number.
create function scheduler.config_num(p_key text) returns double precision
language plpgsql stable
set search_path = ''
as $$
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

-- ---------------------------------------------------------------- fairness

alter table scheduler.batch_tasks add column seq integer not null default 0;
-- 429s are not attempts (the provider did nothing), but they are counted and bounded.
alter table scheduler.batch_tasks add column rate_limited integer not null default 0;

-- The paced claim: pending tasks of one provider in round-robin order over organizations.
create index batch_tasks_pending_by_provider on scheduler.batch_tasks (provider, seq, id) where status = 'pending';
-- In-flight counting (max_in_flight), expired-lease reclaim, and heartbeats by worker.
create index batch_tasks_processing_by_provider on scheduler.batch_tasks (provider, lease_expires_at) where status = 'processing';
create index batch_tasks_processing_by_worker on scheduler.batch_tasks (claimed_by) where status = 'processing';

-- ---------------------------------------------------------------- the pacer

create table scheduler.provider_pace (
  provider text primary key references public.providers (name) on delete cascade on update cascade,
  learned_requests_per_minute integer,
  learned_tokens_per_minute integer,
  learned_at timestamptz,
  -- AIMD: the rate is limit × factor, the factor cut on 429 and recovering linearly since backoff_at.
  backoff_factor double precision not null default 1 check (backoff_factor > 0 and backoff_factor <= 1),
  backoff_at timestamptz,
  -- retry-after (or remaining = 0 until reset): no claim before this.
  paused_until timestamptz,
  -- Token bucket, in requests; may go negative: calls made beyond the claims (retries, fallbacks)
  -- are drawn after the fact, so they slow the next claims instead of exceeding the rate.
  bucket double precision not null default 0,
  bucket_at timestamptz,
  latency_ms_ewma double precision,
  tokens_per_call_ewma double precision,
  calls_total bigint not null default 0,
  rate_limited_total bigint not null default 0,
  updated_at timestamptz not null default now()
);
alter table scheduler.provider_pace enable row level security;

-- Per run and provider: what was called and how it went (visibility; the pacer is global).
create table scheduler.provider_run_stats (
  run_id uuid not null references scheduler.runs (id) on delete cascade,
  provider text not null,
  calls bigint not null default 0,
  calls_by_status jsonb not null default '{}',
  rate_limited bigint not null default 0,
  quota_reason text,
  quota_paused_at timestamptz,
  first_call_at timestamptz,
  last_call_at timestamptz,
  -- A two-window sliding counter (this minute, the previous one) for the current pace.
  minute_start timestamptz,
  minute_calls bigint not null default 0,
  previous_minute_calls bigint not null default 0,
  primary key (run_id, provider)
);
alter table scheduler.provider_run_stats enable row level security;

-- Requests per minute the pacer allows a provider at p_now, and the limit it paces against.
-- A configured limit wins over a learned one; with neither, pace_unknown_requests_per_minute is
-- the ceiling and 429s find the real limit. A token limit becomes a request limit through the
-- observed tokens per call.
create function scheduler.provider_rate(p_provider text, p_now timestamptz default clock_timestamp())
returns table (rate_per_minute double precision, limit_per_minute double precision, limit_source text)
language sql stable
set search_path = ''
as $$
  with p as (
    select pr.requests_per_minute, pr.tokens_per_minute, pace.learned_requests_per_minute,
           pace.learned_tokens_per_minute, pace.tokens_per_call_ewma, pace.backoff_factor, pace.backoff_at
      from public.providers pr
      left join scheduler.provider_pace pace on pace.provider = pr.name
     where pr.name = p_provider
  ), limits as (
    select coalesce(p.requests_per_minute, p.learned_requests_per_minute)::double precision as rpm,
           case when coalesce(p.tokens_per_minute, p.learned_tokens_per_minute) is not null
                 and p.tokens_per_call_ewma > 0
                then coalesce(p.tokens_per_minute, p.learned_tokens_per_minute) / p.tokens_per_call_ewma end as tpm_as_rpm,
           case when p.requests_per_minute is not null or p.tokens_per_minute is not null then 'configured'
                when p.learned_requests_per_minute is not null or p.learned_tokens_per_minute is not null then 'learned'
                else 'unknown' end as source,
           least(1.0, coalesce(p.backoff_factor, 1)
                      + (select scheduler.config_num('pace_recovery_percent_per_second')) / 100.0
                        * greatest(0, extract(epoch from (p_now - coalesce(p.backoff_at, p_now))))) as factor
      from p
  )
  select greatest(1.0, coalesce(least(rpm, tpm_as_rpm), rpm, tpm_as_rpm,
                                (select scheduler.config_num('pace_unknown_requests_per_minute')))
                       * (select scheduler.config_num('pace_target_percent')) / 100.0 * factor),
         coalesce(least(rpm, tpm_as_rpm), rpm, tpm_as_rpm),
         source
    from limits
$$;

-- Claims up to p_limit tasks of one provider for a processor, if the provider's pacer allows
-- them now: the bucket is refilled for the time since it was last drawn, capped by max_in_flight,
-- and the tasks are taken with FOR UPDATE SKIP LOCKED (pending in seq order, then those whose lease
-- expired) with a fresh attempt token and lease each, all in this one transaction under the pace
-- row's lock. Returns {tasks: [...], wait_ms, rate_per_minute, in_flight, has_work}: wait_ms is
-- how long until the pacer can grant another call (null when only a completion can free a slot).
-- A provider missing from public.providers (or disabled) is not paced: its tasks are handed out
-- so the processor can fail them with a clear reason.
create function scheduler.claim_paced_tasks(
  p_worker text,
  p_provider text,
  p_limit integer,
  p_now timestamptz default clock_timestamp()
) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_provider public.providers;
  v_pace scheduler.provider_pace;
  v_rate double precision;
  v_per_ms double precision;
  v_capacity double precision;
  v_bucket double precision;
  v_in_flight integer;
  v_grant integer;
  v_wait integer;
  v_tasks jsonb;
  v_claimed integer;
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
    select r.rate_per_minute into v_rate from scheduler.provider_rate(p_provider, p_now) r;
    v_per_ms := v_rate / 60000.0;
    v_capacity := greatest(1.0, v_per_ms * scheduler.config_int('pace_burst_ms'));
    -- A fresh row (never drawn from) starts full, like the provider's own bucket.
    v_bucket := case when v_pace.bucket_at is null then v_capacity
                     else least(v_capacity, v_pace.bucket + v_per_ms * greatest(0, extract(epoch from (p_now - v_pace.bucket_at)) * 1000)) end;
    select count(*)::integer into v_in_flight from scheduler.batch_tasks t
     where t.provider = p_provider and t.status = 'processing' and t.lease_expires_at >= p_now;
    v_grant := least(p_limit, floor(v_bucket)::integer,
                     coalesce(v_provider.max_in_flight - v_in_flight, p_limit));
  else
    v_grant := p_limit;
    v_in_flight := 0;
  end if;

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
             'lease_ms', (extract(epoch from v_lease) * 1000)::integer) order by c.id), '[]'::jsonb),
           count(*)::integer
      into v_tasks, v_claimed
      from claimed c
      left join public.prompts p on p.id = c.prompt_id
      left join (select jb.id, jb.org_id from scheduler.batch_jobs jb where jb.id in (select batch_job_id from claimed)) j
        on j.id = c.batch_job_id;
  end if;

  if v_provider.name is not null then
    v_bucket := v_bucket - v_claimed;
    update scheduler.provider_pace
       set bucket = v_bucket, bucket_at = p_now, updated_at = p_now
     where provider = p_provider;
    -- Time until the bucket holds one more whole call (or half its capacity, to batch claims).
    v_wait := ceil(greatest(0, least(v_capacity / 2, greatest(1.0, p_limit - v_claimed)) - v_bucket) / v_per_ms)::integer;
    if v_provider.max_in_flight is not null and v_in_flight + v_claimed >= v_provider.max_in_flight then
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

-- Providers with claimable work (pending, or a lease expired), known or not.
create function scheduler.providers_with_work(p_now timestamptz default clock_timestamp()) returns setof text
language sql stable
set search_path = ''
as $$
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

-- Sums two {"key": count} objects.
create function scheduler.jsonb_sum_counts(a jsonb, b jsonb) returns jsonb
language sql immutable
set search_path = ''
as $$
  select coalesce(jsonb_object_agg(k, coalesce((a ->> k)::bigint, 0) + coalesce((b ->> k)::bigint, 0)), '{}'::jsonb)
    from (select jsonb_object_keys(coalesce(a, '{}'::jsonb)) union select jsonb_object_keys(coalesce(b, '{}'::jsonb))) keys(k)
$$;

-- One round of finished calls from one processor, in one transaction:
--   p_outcomes: [{task_id, attempt_token, outcome, ...}], outcome one of
--     succeeded    {answered_by, model, response, attempts, latency_ms}  → complete_tasks (fenced, one result)
--     failed       {error}                   → failed (fenced)
--     released     {error, provider_called}  → back to pending (an attempt when the provider was called)
--     rate_limited {}                        → back to pending, not an attempt; failed past max_rate_limited_releases
--     quota        {error}                   → failed, and every pending task of that provider in the
--                                              same run fails with the reason (the provider is paused for the run)
--   p_feedback: [{provider, run_id, calls, calls_by_status, rate_limited, extra_calls, retry_after_ms,
--     limit_requests, limit_tokens, remaining_requests, reset_requests_ms, latency_ms, tokens_per_call}]
--     per (provider, run): what the provider said, for the pacer and the per-run counters.
-- Returns {accepted, rejected, duplicates_prevented, jobs_to_finalize: [batch_job_id...]}: the
-- batch jobs with no live task left, for the caller to finalize in their own transactions (run →
-- job lock order; finalizing here, after locking tasks, could deadlock with cancel_run).
create function scheduler.record_task_outcomes(p_worker text, p_outcomes jsonb, p_feedback jsonb default '[]')
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_completion jsonb;
  v_rejected jsonb := '[]'::jsonb;
  v_jobs uuid[];
  v_max_rl integer := scheduler.config_int('max_rate_limited_releases');
  v_now timestamptz := clock_timestamp();
  v_backoff double precision := scheduler.config_num('pace_backoff_percent') / 100.0;
  f record;
begin
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

  -- The pacer: learned limits, retry-after, AIMD, latency and tokens per call; and per-run counters.
  for f in
    select x.* from jsonb_to_recordset(coalesce(p_feedback, '[]'::jsonb)) as x(
      provider text, run_id uuid, calls integer, calls_by_status jsonb, rate_limited integer, extra_calls integer,
      retry_after_ms integer, limit_requests integer, limit_tokens integer, remaining_requests integer,
      reset_requests_ms integer, latency_ms double precision, tokens_per_call double precision)
  loop
    if exists (select from public.providers where name = f.provider) then
      insert into scheduler.provider_pace (provider) values (f.provider) on conflict (provider) do nothing;
      update scheduler.provider_pace p
         set learned_requests_per_minute = coalesce(f.limit_requests, p.learned_requests_per_minute),
             learned_tokens_per_minute = coalesce(f.limit_tokens, p.learned_tokens_per_minute),
             learned_at = case when f.limit_requests is not null or f.limit_tokens is not null then v_now else p.learned_at end,
             -- Multiplicative decrease from the rate in force now (at most once per second, so a burst of
             -- 429s from one moment counts once).
             backoff_factor = case when coalesce(f.rate_limited, 0) > 0
                                     and (p.backoff_at is null or p.backoff_at < v_now - interval '1 second')
                                   then greatest(0.05, least(1.0, p.backoff_factor
                                          + scheduler.config_num('pace_recovery_percent_per_second') / 100.0
                                            * extract(epoch from (v_now - coalesce(p.backoff_at, v_now)))) * v_backoff)
                                   else p.backoff_factor end,
             backoff_at = case when coalesce(f.rate_limited, 0) > 0
                                 and (p.backoff_at is null or p.backoff_at < v_now - interval '1 second') then v_now
                               else p.backoff_at end,
             -- retry-after pauses the provider. remaining/reset are not used to pause: reset is when
             -- the provider's bucket is full again, far later than its next free call.
             paused_until = greatest(p.paused_until,
                                     case when f.retry_after_ms > 0 then v_now + make_interval(secs => f.retry_after_ms / 1000.0) end),
             bucket = p.bucket - coalesce(f.extra_calls, 0),
             latency_ms_ewma = case when f.latency_ms is null then p.latency_ms_ewma
                                    else coalesce(p.latency_ms_ewma * 0.8 + f.latency_ms * 0.2, f.latency_ms) end,
             tokens_per_call_ewma = case when f.tokens_per_call is null then p.tokens_per_call_ewma
                                         else coalesce(p.tokens_per_call_ewma * 0.8 + f.tokens_per_call * 0.2, f.tokens_per_call) end,
             calls_total = p.calls_total + coalesce(f.calls, 0),
             rate_limited_total = p.rate_limited_total + coalesce(f.rate_limited, 0),
             updated_at = v_now
       where p.provider = f.provider;
    end if;
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

-- Claims and plans a period as before (20261122000300), now ranking each task (seq) for fairness.
create or replace function scheduler.claim_and_plan_run(
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

  -- seq ranks a task inside its (batch job, provider): paced claims go by seq, so each
  -- organization's first task comes before any organization's second (fairness).
  insert into scheduler.batch_tasks (batch_job_id, run_id, prompt_id, provider, region, seq)
  select d.batch_job_id, v_run_id, d.prompt_id, d.provider, d.region,
         row_number() over (partition by d.batch_job_id, d.provider order by d.prompt_id, d.region)
    from (select distinct bj.id as batch_job_id, p.id as prompt_id, op.provider, r.region
            from scheduler.batch_jobs bj
            join public.prompts p on p.org_id = bj.org_id and p.active
            join public.organization_providers op on op.org_id = bj.org_id
            cross join lateral unnest(op.regions) r(region)
           where bj.run_id = v_run_id and bj.status = 'pending') d
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

revoke execute on all functions in schema scheduler from public, anon, authenticated;
revoke all on all tables in schema scheduler from public, anon, authenticated;

comment on function scheduler.claim_paced_tasks(text, text, integer, timestamptz) is
  'Claims a provider''s tasks within its pace (token bucket, max_in_flight) with SKIP LOCKED, leases and attempt tokens';
comment on function scheduler.record_task_outcomes(text, jsonb, jsonb) is
  'Records a round of finished calls (fenced) and what the providers said, in one transaction';
comment on function scheduler.provider_rate(text, timestamptz) is
  'The rate the pacer allows a provider now, the limit it paces against, and where that limit came from';
