-- daybreak: a claim says how long its turns had been counting when its answer left the database.
-- Purpose: a claim's turns (start_in_ms) count from the moment the provider's buckets stand at, the
-- later of its start and the last claim's draw, and its caller counted them from when the answer
-- came back: a claim that waited for the provider's row (another claim, or a round's outcomes
-- holding it) or took long itself sent its calls late by that much, onto the turns of the next
-- claim, another invocation's: against a limit enforced over one second, 429s at 91 % of it.
-- The answer now carries elapsed_ms, measured by the database's own clock at both ends, which the
-- caller takes off; a turn is still never early.
-- Objects: function scheduler.claim_paced_tasks (redefined; same signature, grants kept).
-- Operators: nothing to do; a processor that does not read elapsed_ms keeps its former timing.
-- The current schema, every function with its body: supabase/schema.sql.

create or replace function scheduler.claim_paced_tasks(p_worker text, p_provider text, p_limit integer, p_now timestamp with time zone DEFAULT clock_timestamp(), p_ahead_ms integer DEFAULT 0)
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
  v_refill double precision;
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
  v_ahead double precision := 0;
  v_token_ahead double precision := 0;
  v_grant integer;
  v_wait integer;
  v_tasks jsonb;
  v_claimed integer;
  v_cost double precision := 0;
  v_next_cost double precision;
  v_ids bigint[];
  v_max_attempts integer := scheduler.config_int('max_task_attempts');
  v_lease interval := make_interval(secs => scheduler.config_int('task_lease_seconds'));
  v_entered timestamptz := clock_timestamp();
  v_turns_from timestamptz;
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
    -- The buckets stand as of the later of now and the last claim's draw: turns count from there.
    v_turns_from := greatest(p_now, v_pace.bucket_at);
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
      v_token_ahead := v_tokens_per_ms * least(greatest(coalesce(p_ahead_ms, 0), 0), 1000);
    end if;
    select count(*)::integer into v_in_flight from scheduler.batch_tasks t
     where t.provider = p_provider and t.status = 'processing' and t.lease_expires_at >= p_now;
    -- Calls whose turn comes within p_ahead_ms are granted now, each with the moment it may start:
    -- the bucket goes into debt by at most that much, and the caller starts each call on time, so
    -- the provider sees the pace itself while the claim's round trip is off its path.
    v_ahead := v_per_ms * least(greatest(coalesce(p_ahead_ms, 0), 0), 1000);
    v_grant := least(p_limit, floor(v_bucket + v_ahead)::integer,
                     coalesce(v_provider.max_in_flight - v_in_flight, p_limit));
    if v_limits.request_limit is not null then
      -- Claims are counted when granted, up to the horizon before their turn: the window's share
      -- holds the turns, so it has the horizon's calls of room on top.
      select least(floor(v_limits.request_limit / 6.0 + v_ahead)
                     - coalesce(sum(s.claimed) filter (where s.second > p_now - interval '10 seconds'), 0),
                   floor(v_limits.request_limit + v_ahead) - coalesce(sum(s.claimed), 0))::integer
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
      -- (Little's law, with room for the spread), so a provider that queues cannot pile up calls;
      -- and the calls granted ahead, waiting for their turn.
      v_in_flight_cap := greatest(1, ceil(v_rate / 60000.0
                           * coalesce(v_pace.latency_floor_ms, v_pace.latency_ms_ewma, scheduler.config_int('pace_default_latency_ms'))
                           * (1 + scheduler.config_num('pace_latency_rise_percent') / 100.0) + v_ahead)::integer);
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
       where c.running <= v_token_bucket + v_token_ahead or (c.ord = 1 and v_token_bucket >= least(c.running, v_token_capacity));
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
             'estimated_tokens', (ceil(length(coalesce(p.text, '')) / 4.0) + v_completion)::integer,
             -- When the buckets hold this call's turn (the n-th granted waits for the n-th call, and
             -- for the tokens of those before it), never later than the horizon (a call larger than
             -- a full token bucket goes at once, as without reaching ahead).
             -- Counted from the moment the buckets stand at (v_turns_from); the caller takes off
             -- elapsed_ms, how long before the answer left that was, so neither a wait for the row's
             -- lock nor the claim's own work makes its turns late, and only the answer's way back does.
             'start_in_ms', least(greatest(coalesce(p_ahead_ms, 0), 0), 1000, greatest(0,
                              case when v_per_ms > 0 then ceil((c.n - v_bucket) / v_per_ms) else 0 end,
                              case when v_tokens_per_ms > 0 then ceil((c.running_cost - v_token_bucket) / v_tokens_per_ms) else 0 end))::integer)
             order by c.id), '[]'::jsonb),
           count(*)::integer,
           coalesce(sum(ceil(length(coalesce(p.text, '')) / 4.0) + v_completion), 0)
      into v_tasks, v_claimed, v_cost
      from (select c.*, row_number() over (order by c.id) as n,
                   sum(ceil(length(coalesce(p.text, '')) / 4.0) + v_completion) over (order by c.id) as running_cost
              from claimed c left join public.prompts p on p.id = c.prompt_id) c
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
    -- The work could have taken more than the pace gave (the bucket limited the claim, or neither
    -- the work nor the probing in-flight ceiling did): a probe may grow, for as long as none of the
    -- pace goes unused (grow_probe). A lane whose invocation is short of slots claims fewer than the
    -- bucket holds; that alone says nothing of the pace.
    update scheduler.provider_pace
       set bucket = v_bucket, bucket_at = greatest(p_now, bucket_at),
           token_bucket = v_token_bucket, token_bucket_at = case when v_token_bucket is not null then greatest(p_now, token_bucket_at) end,
           remaining_requests = coalesce(v_remaining - v_claimed, remaining_requests),
           remaining_at = case when v_remaining is not null then p_now else remaining_at end,
           pressed_at = case when ((floor(v_bucket + v_claimed + v_ahead) < p_limit and v_claimed >= floor(v_bucket + v_claimed + v_ahead))
                                   or coalesce(v_in_flight + v_claimed < v_in_flight_cap, true))
                                  and exists (select from scheduler.batch_tasks t where t.provider = p_provider
                                                 and t.status = 'pending' and t.attempts < v_max_attempts)
                             then p_now end,
           updated_at = p_now
     where provider = p_provider;
    -- Time until the bucket holds one more whole call (or half its capacity, to batch claims).
    -- (Reaching ahead, until half the horizon's calls can be granted.)
    v_wait := ceil(greatest(0, greatest(1.0, least(greatest(v_capacity, v_ahead) / 2, p_limit - v_claimed)) - v_bucket - v_ahead) / v_per_ms)::integer;
    if v_token_bucket is not null then
      v_next_cost := least(v_token_capacity, coalesce(v_pace.tokens_per_call_ewma, v_completion));
      v_wait := greatest(v_wait, ceil(greatest(0, greatest(v_next_cost, v_token_ahead / 2) - v_token_bucket - v_token_ahead) / v_tokens_per_ms)::integer);
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
    -- Real time, from the database's own clock at both ends (a p_now given by a test is not read),
    -- rounded down: a turn is never early.
    'elapsed_ms', greatest(0, floor(extract(epoch from (clock_timestamp() - v_entered - (coalesce(v_turns_from, p_now) - p_now))) * 1000))::integer,
    'rate_per_minute', v_rate,
    'in_flight', v_in_flight + v_claimed,
    'has_work', v_claimed > 0 or exists (
      select from scheduler.batch_tasks t where t.provider = p_provider and t.status = 'pending' and t.attempts < v_max_attempts)
      or exists (select from scheduler.batch_tasks t where t.provider = p_provider and t.status = 'processing'
                  and t.lease_expires_at < p_now and t.attempts < v_max_attempts));
end
$$;

