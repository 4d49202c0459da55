-- daybreak: the pace finds a provider's limits on its own.
-- Purpose: an unknown provider was paced at 300 requests/min forever unless its headers stated a
-- limit: one that states it only with its 429s was never pushed to one, and one with no limit at
-- all (a self-hosted model) never left 300/min; tokens per minute became a request rate through an
-- average, and a burst could break a limit enforced over a window of a second. Now:
--   * Probing (no request limit configured or stated): slow start multiplies the pace by
--     pace_probe_growth_per_second each second while the work presses against it, until the first
--     429 or the first rise in latency (pace_latency_rise_percent above its lowest), within what the
--     fleet can keep in flight at the observed latency; then it grows additively
--     (pace_probe_additive_percent_per_second of itself), and a 429 or a rise in latency sets it to
--     what the provider delivered over the last seconds (scheduler.provider_seconds), times the
--     backoff. The probed pace is kept across runs.
--   * A 429 pauses the provider for its retry-after, or 1 s doubling while 429s follow one another
--     (at most 8 s), and the bucket restarts empty after the pause.
--   * A known limit (configured, or stated by headers) is never probed above. A 429 under it halves
--     the provider's burst (down to pace_min_burst_ms): it enforces the limit over a shorter window;
--     with the burst already that short, the provider's share of its limit drops 3 points (to 85%
--     at least): a window of a second has no room for the pacer's timing at 97%.
--     `remaining` headers are followed: what the provider last said remains, refilling at the
--     limit's rate, less what was claimed since, bounds the next claims, so calls other clients of
--     the key make (which daybreak cannot see otherwise) hold daybreak back. Under a known limit the calls claimed over the last 10 s
--     and 60 s stay within its share of those windows, so a burst sent before the limit was known
--     (slow start) is waited out rather than run into.
--   * Tokens per minute are a second bucket drawn in the same claim: each task costs its prompt's
--     tokens (length ÷ 4) plus max_tokens, or the completion tokens calls took on average; the
--     difference from what usage reported is settled when the round is recorded.
-- Objects: table scheduler.provider_seconds; columns providers.max_tokens, provider_pace.{probe_rpm,
-- probe_phase, probe_at, pressed_at, latency_floor_ms, queueing, remaining_requests, remaining_at, target_percent, burst_ms, pauses_in_a_row,
-- completion_tokens_ewma, token_bucket, token_bucket_at}; config keys pace_probe_growth_per_second,
-- pace_probe_additive_percent_per_second, pace_probe_backoff_percent, pace_latency_rise_percent,
-- pace_probe_burst_ms, pace_min_burst_ms,
-- pace_default_completion_tokens; functions provider_limits, delivered_per_minute, learn_pace;
-- replaced: provider_rate (limit_source adds 'probed'), claim_paced_tasks (token bucket,
-- estimated_tokens per task, probing), record_task_outcomes (its pacer part is learn_pace).
-- Operators: nothing to do. A limit that is known is best stated (public.providers); RUNBOOK.md
-- section 13 says how the pace finds one and how long it takes.
-- The current schema, every function with its body: supabase/schema.sql.

alter table public.providers add column max_tokens integer check (max_tokens > 0);
comment on column public.providers.max_tokens is 'max_tokens sent with every call (and counted towards the token budget); null: the provider''s default';

alter table scheduler.provider_pace
  add column probe_rpm double precision,
  add column probe_phase text not null default 'slow_start' check (probe_phase in ('slow_start', 'steady')),
  add column probe_at timestamptz,
  add column pressed_at timestamptz,
  add column latency_floor_ms double precision,
  add column queueing boolean not null default false,
  add column remaining_requests double precision,
  add column remaining_at timestamptz,
  add column burst_ms integer,
  add column target_percent double precision check (target_percent > 0 and target_percent <= 100),
  add column pauses_in_a_row integer not null default 0,
  add column completion_tokens_ewma double precision,
  add column token_bucket double precision,
  add column token_bucket_at timestamptz;

-- What got through, per provider and second: the rate a provider delivered is read from here.
create table scheduler.provider_seconds (
  provider text not null,
  second timestamptz not null,
  claimed integer not null default 0,
  successes integer not null default 0,
  tokens bigint not null default 0,
  rate_limited integer not null default 0,
  primary key (provider, second)
);
alter table scheduler.provider_seconds enable row level security;
comment on table scheduler.provider_seconds is 'Calls claimed, successful calls, their tokens and 429s per provider and second (the last few minutes): what daybreak sent and what the provider delivered';

insert into scheduler.config (key, value, description) values
  ('pace_probe_growth_per_second', '1.5', 'slow start: a provider with no known request limit has its pace multiplied by this each second while the work presses and nothing refuses'),
  ('pace_probe_additive_percent_per_second', '1', 'after slow start, the probed pace grows by this share of itself per second while the work presses'),
  ('pace_probe_backoff_percent', '90', 'probing: a 429 multiplies the probed pace by this (or sets it to what got through, when lower)'),
  ('pace_latency_rise_percent', '50', 'latency this much above its lowest means a provider with no known limit is queueing: what it delivers is its limit'),
  ('pace_probe_burst_ms', '100', 'the burst (bucket capacity, in ms of the pace) while a provider''s request limit is unknown'),
  ('pace_min_burst_ms', '50', 'the smallest burst (bucket capacity, in ms of the pace) a provider that enforces short windows is paced with'),
  ('pace_default_completion_tokens', '256', 'completion tokens a call counts for (token budgets) before any was observed, when the provider has no max_tokens')
on conflict (key) do nothing;
-- A 429 under a known limit now shortens the burst as well; the pace gives up a quarter, not half.
update scheduler.config set value = '75' where key = 'pace_backoff_percent' and value = '50';

-- Successful calls and tokens per minute p_provider delivered over the last p_span (or since its
-- first second in that span, when it started later), and the seconds that covers.
create function scheduler.delivered_per_minute(p_provider text, p_now timestamptz, p_span interval default interval '60 seconds')
returns table (successes_per_minute double precision, tokens_per_minute double precision, seconds double precision)
language sql stable
set search_path = ''
as $$
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

-- The pace in force for p_provider at p_now, requests and tokens. A configured limit wins over one
-- stated by headers; other clients' rate (from remaining headers) is taken off it; the pace is
-- pace_target_percent of it times the AIMD factor. With no request limit known, the probe's pace.
create function scheduler.provider_limits(p_provider text, p_now timestamptz)
returns table (requests_per_minute double precision, request_limit double precision,
               tokens_per_minute double precision, token_limit double precision, limit_source text)
language sql stable
set search_path = ''
as $$
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

-- The request rate the pacer allows a provider now (the token pace as requests, through the tokens
-- a call takes, when that is lower), the limit it paces against, and where that came from.
create or replace function scheduler.provider_rate(p_provider text, p_now timestamp with time zone default clock_timestamp())
returns table (rate_per_minute double precision, limit_per_minute double precision, limit_source text)
language sql stable
set search_path = ''
as $$
  select least(l.requests_per_minute,
               l.tokens_per_minute / nullif(pace.tokens_per_call_ewma, 0)),
         coalesce(least(l.request_limit, l.token_limit / nullif(pace.tokens_per_call_ewma, 0)), l.request_limit),
         l.limit_source
    from scheduler.provider_limits(p_provider, p_now) l
    left join scheduler.provider_pace pace on pace.provider = p_provider
$$;

-- The probe (no request limit known) grows while the work presses against it (the last claim did):
-- multiplicatively in slow start, additively after, never above what the fleet keeps in flight at
-- the observed latency (nor max_in_flight). Called by the claim, under the provider's row lock.
create function scheduler.grow_probe(p_provider text, p_now timestamptz)
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

-- Claims up to p_limit of a provider's tasks within its pace: a request bucket and, when a token
-- limit is known, a token bucket, both drawn in this transaction under the provider's row lock;
-- expired leases first, then pending tasks in seq order, skipping rows others hold.
create or replace function scheduler.claim_paced_tasks(p_worker text, p_provider text, p_limit integer, p_now timestamp with time zone default clock_timestamp())
returns jsonb
language plpgsql
set search_path = ''
as $$
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

-- The pacer learns from a round's calls (p_feedback: what each provider said, per run): limits
-- stated by headers, other clients' share from remaining headers, 429s (a pause, then the AIMD
-- factor and a shorter burst under a known limit, or the probe set to what got through), a rise in
-- latency while probing, the tokens calls took. Called by record_task_outcomes in its transaction.
create function scheduler.learn_pace(p_feedback jsonb, p_now timestamptz)
returns void
language plpgsql
set search_path = ''
as $$
declare
  f record;
  v_pace scheduler.provider_pace;
  v_configured_rpm integer;
  v_known_rpm double precision;
  v_known_before double precision;
  v_window_rpm double precision;
  v_recent_rpm double precision;
  v_latency double precision;
  v_floor double precision;
  v_share double precision := scheduler.config_num('pace_target_percent') / 100.0;
  v_first_reaction boolean;
  v_rise double precision := 1 + scheduler.config_num('pace_latency_rise_percent') / 100.0;
  v_queueing boolean;
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
    select requests_per_minute into v_configured_rpm from public.providers where name = f.provider;

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
    select case when d.successes_per_minute * d.seconds / 60.0 >= 10 then d.successes_per_minute end into v_window_rpm
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
    v_queueing := case when v_floor is null or v_latency is null then false
                       when v_latency > v_floor * v_rise then true
                       when v_latency < v_floor * (1 + (v_rise - 1) / 2) then false
                       else v_pace.queueing end;

    update scheduler.provider_pace p
       set learned_requests_per_minute = coalesce(f.limit_requests, p.learned_requests_per_minute),
           learned_tokens_per_minute = coalesce(f.limit_tokens, p.learned_tokens_per_minute),
           learned_at = case when f.limit_requests is not null or f.limit_tokens is not null then p_now else p.learned_at end,
           -- The provider's own count of what remains, every client of the key included.
           remaining_requests = coalesce(f.remaining_requests, p.remaining_requests),
           remaining_at = case when f.remaining_requests is not null then p_now else p.remaining_at end,
           paused_until = case when f.rate_limited > 0
                               then greatest(p.paused_until, p_now + make_interval(secs => coalesce(
                                      nullif(f.retry_after_ms, 0), 1000 * power(2, least(p.pauses_in_a_row, 3))) / 1000.0))
                               else p.paused_until end,
           pauses_in_a_row = case when f.rate_limited > 0 then p.pauses_in_a_row + 1
                                  when f.successes > 0 then 0 else p.pauses_in_a_row end,
           -- Multiplicative decrease from the rate in force now, under a known limit.
           backoff_factor = case when f.rate_limited > 0 and v_first_reaction and v_known_before is not null
                                 then greatest(0.05, least(1.0, p.backoff_factor
                                        + scheduler.config_num('pace_recovery_percent_per_second') / 100.0
                                          * extract(epoch from (p_now - coalesce(p.backoff_at, p_now)))) * scheduler.config_num('pace_backoff_percent') / 100.0)
                                 else p.backoff_factor end,
           burst_ms = case when f.rate_limited > 0 and v_first_reaction and v_known_before is not null
                           then greatest(scheduler.config_int('pace_min_burst_ms'),
                                         coalesce(p.burst_ms, scheduler.config_int('pace_burst_ms')) / 2)
                           else p.burst_ms end,
           target_percent = case when f.rate_limited > 0 and v_first_reaction and v_known_before is not null
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
                         when f.rate_limited = 0 and v_queueing and not p.queueing
                           then greatest(1.0, least(p.probe_rpm, v_recent_rpm * 0.9))
                         else p.probe_rpm end,
           probe_phase = case
                           when v_known_rpm is null and p.probe_rpm is not null
                                and ((f.rate_limited > 0 and v_first_reaction) or (v_queueing and not p.queueing))
                             then 'steady'
                           else p.probe_phase end,
           backoff_at = case when f.rate_limited > 0 and v_first_reaction then p_now else p.backoff_at end,
           queueing = v_queueing,
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

-- A round of finished calls, fenced, in one transaction; the pacer's part is learn_pace.
create or replace function scheduler.record_task_outcomes(p_worker text, p_outcomes jsonb, p_feedback jsonb DEFAULT '[]'::jsonb) RETURNS jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_completion jsonb;
  v_rejected jsonb := '[]'::jsonb;
  v_jobs uuid[];
  v_max_rl integer := scheduler.config_int('max_rate_limited_releases');
  v_now timestamptz := clock_timestamp();
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

revoke execute on all functions in schema scheduler from public, anon, authenticated;
revoke all on all tables in schema scheduler from public, anon, authenticated;

comment on function scheduler.delivered_per_minute(text, timestamptz, interval) is
  'Successful calls and tokens per minute a provider delivered over a recent span (what got through)';
comment on function scheduler.provider_limits(text, timestamptz) is
  'The request and token pace in force for a provider, the limits it paces against, and where they came from (configured, learned from headers, probed, unknown)';
comment on function scheduler.provider_rate(text, timestamptz) is
  'The rate the pacer allows a provider now (tokens as requests when they bind), the limit it paces against, and its source';
comment on function scheduler.grow_probe(text, timestamptz) is
  'Grows the probed pace of a provider with no known request limit while the work presses against it';
comment on function scheduler.claim_paced_tasks(text, text, integer, timestamptz) is
  'Claims a provider''s tasks within its pace (request and token buckets, max_in_flight) with SKIP LOCKED, leases and attempt tokens';
comment on function scheduler.learn_pace(jsonb, timestamptz) is
  'The pacer learns from a round''s calls: stated limits, other clients, 429s, latency, tokens';
