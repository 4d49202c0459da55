-- daybreak: a provider found by its latency is driven near its capacity, not past it (learn_pace,
-- grow_probe).
-- Purpose: against a server with no limit (it serves 15 calls at once and queues the rest;
-- nothing is refused) the probe settled at 18-25 calls in flight where the best fixed concurrency
-- is 14-16: after slow start it climbed 3 % a second until latency was 25 % above its floor, and
-- that rise shows seconds late (answers come back after the queue, and the smoothed latency moves
-- 2 % a call), so each climb ran the pace well past the server; each cut then took 15 % off at
-- most, which left a pace far above the server above it, and once the queue drained the tenth held
-- back came back, so the climb restarted at the rate the server had just been shown not to keep.
-- - A rise after slow start cuts the probe to 90 % of what got through over the last 3 s, like
--   slow start's (no 15 % limit), and a drained queue gives nothing back.
-- - While it queues, a server delivers all it can: the most it delivered over any 10 s of a
--   queueing episode is its capacity as read (provider_pace.probe_queued_rpm, read afresh when slow
--   start ends, raised by later episodes, never lowered: a rise read wrong, as the latency floor
--   drifts low, would lower it for good).
-- - After slow start the probe climbs 3 % a second up to pace_probe_capacity_share_percent (92 %)
--   of that capacity, then pace_probe_near_capacity_percent_per_second (0.3 %): close to it, at a
--   steady rate, a server with slots queues more with every second of climb.
-- - It holds, not climbs, while its latency is more than half the rise that reads as queueing
--   above its floor (12.5 %): the queue has started; the cut comes at the whole rise.
-- Measured (paced days, trials): settled at 15 and 13 calls in flight in two 12-kind days, 14, 14
-- and 13 with the no-limit provider alone (search's best: 14-16); every limited kind 0.937 or
-- more. A provider that refused a call is paced by its 429s as before.
-- Objects: column scheduler.provider_pace.probe_queued_rpm; config pace_probe_capacity_share_percent,
-- pace_probe_near_capacity_percent_per_second; functions scheduler.learn_pace, scheduler.grow_probe
-- (redefined; same signatures, grants kept).
-- Operators: nothing to do.
-- The current schema, every function with its body: supabase/schema.sql.

alter table scheduler.provider_pace add column probe_queued_rpm double precision;
comment on column scheduler.provider_pace.probe_queued_rpm is 'A provider that never refused a call, found by its latency: the most it delivered over any 10 s while it queued (calls a minute), its capacity as read; the probe climbs slowly near it';

insert into scheduler.config (key, value, description) values
  ('pace_probe_capacity_share_percent', '92', 'after slow start, the probed pace of a provider that never refused a call climbs at pace_probe_queueing_additive_percent_per_second up to this share of its capacity as read (the most it delivered over 10 s while it queued), then at pace_probe_near_capacity_percent_per_second'),
  ('pace_probe_near_capacity_percent_per_second', '0.3', 'after slow start, the probed pace of a provider that never refused a call grows by this share of itself per second once at pace_probe_capacity_share_percent of its capacity as read (near it, a queue grows with every second of climb)')
on conflict (key) do nothing;

create or replace function scheduler.learn_pace(p_feedback jsonb, p_now timestamp with time zone) RETURNS void
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
  v_key_share double precision;
  v_recent_rpm double precision;
  v_latency double precision;
  v_floor double precision;
  v_share double precision := scheduler.config_num('pace_target_percent') / 100.0;
  v_first_reaction boolean;
  v_rise double precision;
  v_queueing boolean;
  v_recovered double precision;
  v_cut double precision;
  v_others boolean;
  v_sent_through double precision;
  v_never_refused boolean;
  v_leaves_slow_start boolean;
  v_target double precision;
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
    -- The share of the limit paced at now, as recovered since the last 429 episode.
    v_target := scheduler.target_share(v_pace.target_percent, v_pace.backoff_at, p_now);
    -- Queueing is read from a smaller rise once slow start is over (it grows slowly after).
    v_rise := 1 + scheduler.config_num(case when v_pace.probe_phase = 'steady' then 'pace_latency_rise_after_slow_start_percent'
                                            else 'pace_latency_rise_percent' end) / 100.0;
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
    -- As a share of the limits known before this round (requests or tokens, whichever is nearer),
    -- and as a share of the calls daybreak sent over the same 10 s (from ten sent up).
    select case when d.successes_per_minute * d.seconds / 60.0 >= 10 then d.successes_per_minute end,
           case when d.successes_per_minute * d.seconds / 60.0 >= 10 and d.seconds >= 9
                then greatest(d.successes_per_minute / coalesce(v_configured_rpm, v_pace.learned_requests_per_minute),
                              d.tokens_per_minute / coalesce(v_configured_tpm, v_pace.learned_tokens_per_minute)) end,
           case when d.claimed_per_minute * d.seconds / 60.0 >= 10 then d.successes_per_minute / d.claimed_per_minute end
      into v_window_rpm, v_window_share, v_sent_through
      from scheduler.delivered_per_minute(f.provider, p_now, interval '10 seconds') d;
    -- What the key used by the provider's own count (its stated per-minute limit less what it says
    -- remains: every client's calls) against what daybreak sent over the same minute (claimed:
    -- refused and still unanswered calls too, so it never reads low; not those given back unsent,
    -- which record_task_outcomes takes off). Read from ten calls
    -- up; a count that refills as it goes (a token bucket) reads low and says nothing.
    v_key_share := case when f.remaining_requests is not null
                         and coalesce(v_configured_rpm, f.limit_requests, v_pace.learned_requests_per_minute) - f.remaining_requests >= 10
                        then least(1.0, (select coalesce(sum(s.claimed), 0)::double precision from scheduler.provider_seconds s
                                          where s.provider = f.provider and s.second > p_now - interval '60 seconds')
                                        / (coalesce(v_configured_rpm, f.limit_requests, v_pace.learned_requests_per_minute) - f.remaining_requests)) end;
    -- What it delivers now: the last three whole seconds.
    select case when sum(s.successes) >= 10 then sum(s.successes) * 20.0 end into v_recent_rpm from scheduler.provider_seconds s
     where s.provider = f.provider and s.second >= date_trunc('second', p_now) - interval '3 seconds'
       and s.second < date_trunc('second', p_now);

    v_known_rpm := coalesce(v_configured_rpm, f.limit_requests, v_pace.learned_requests_per_minute);
    -- A 429 under a limit known before it (not the one that first stated it) means a short window
    -- or other clients.
    v_known_before := coalesce(v_configured_rpm, v_pace.learned_requests_per_minute);
    -- One reaction per episode: the 429s of calls a reaction could not hold back (granted up to a
    -- claim's horizon, 1 s at most, before their turn, then answered after the provider's latency)
    -- and those of a window still spent (429s in a row, paused between them) count once, whatever
    -- successes come back between them.
    v_first_reaction := v_pace.pauses_in_a_row = 0
                        and (v_pace.backoff_at is null
                             or v_pace.backoff_at < p_now - make_interval(secs => (1000 + coalesce(v_pace.latency_ms_ewma,
                                                          scheduler.config_int('pace_default_latency_ms'))) / 1000.0));
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
    -- A 429 when less than 80 % of the pace in force got through over the last 10 s, and less than
    -- 90 % of what daybreak sent in them: others use the key; the pace is cut to 90 % of what got
    -- through, by half (pace_backoff_percent) at most. When what got through is about what daybreak
    -- sent, daybreak sent below its pace (paused, between workers, short of slots): that says
    -- nothing of others. Otherwise it was the timing: the burst halves, and once at its shortest
    -- the share drops (below). When the provider's count says the key used a tenth more than daybreak
    -- sent, others use it, known at once (not only after 10 s of deliveries); the pace is cut to 90 %
    -- of the smaller of daybreak's shares, of the limit delivered and of the key's use.
    v_others := (coalesce(v_window_share < 0.8 * v_recovered * v_target
                          and v_sent_through < 0.9, false)
                 and (v_configured_rpm is not null or v_configured_tpm is not null or v_pace.limit_known_at <= p_now - interval '10 seconds'))
                or coalesce(v_key_share < 0.9, false);
    v_cut := least(v_recovered, greatest(scheduler.config_num('pace_backoff_percent') / 100.0 * v_recovered,
                                         0.9 * least(coalesce(v_window_share, v_key_share), coalesce(v_key_share, v_window_share))
                                             / v_target));
    v_never_refused := v_pace.rate_limited_total + f.rate_limited = 0;
    v_queueing := case when v_floor is null or v_latency is null then false
                       when v_latency > v_floor * v_rise then true
                       when v_latency < v_floor * (1 + (v_rise - 1) / 2) then false
                       else v_pace.queueing end;
    v_leaves_slow_start := v_known_rpm is null and v_pace.probe_rpm is not null and v_pace.probe_phase = 'slow_start'
                           and ((f.rate_limited > 0 and v_first_reaction) or (v_never_refused and v_queueing and not v_pace.queueing));

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
                                      nullif(f.retry_after_ms, 0), 500 * power(2, least(p.pauses_in_a_row, 3))) / 1000.0))
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
                                 then greatest(85, v_target * 100 - 3)
                                 -- backoff_at is reset: the share keeps what it recovered.
                                 when f.rate_limited > 0 and v_first_reaction and p.target_percent is not null then v_target * 100
                                 else p.target_percent end,
           -- Probing: a 429 or queueing (latency up) sets the probe to what got through (when enough
           -- did to say; else a 429 takes pace_probe_backoff_percent off it and queueing leaves it);
           -- queueing, to 90 % of the last 3 s however far above them it ran, so the queue it built
           -- drains. Nothing comes back when it has: the climb (grow_probe) starts from there.
           probe_rpm = case
                         when v_known_rpm is not null or p.probe_rpm is null then p.probe_rpm
                         when f.rate_limited > 0 and v_first_reaction
                           then greatest(1.0, least(p.probe_rpm * scheduler.config_num('pace_probe_backoff_percent') / 100.0,
                                                    v_window_rpm * v_share))
                         when v_never_refused and v_queueing and not p.queueing
                           then greatest(1.0, least(p.probe_rpm, v_recent_rpm * 0.9))
                         else p.probe_rpm end,
           -- Its capacity as read: while it queues it delivers all it can, so the most over any 10 s
           -- of the episode; slow start's episode starts afresh (its first 10 s are mostly the climb).
           probe_queued_rpm = case when v_known_rpm is not null or p.probe_rpm is null or not v_never_refused or not v_queueing then p.probe_queued_rpm
                                   when p.probe_phase = 'slow_start' and not p.queueing then coalesce(v_window_rpm, v_recent_rpm)
                                   else greatest(p.probe_queued_rpm, v_window_rpm) end,
           probe_phase = case when v_leaves_slow_start then 'steady' else p.probe_phase end,
           backoff_at = case when f.rate_limited > 0 and v_first_reaction then p_now else p.backoff_at end,
           queueing = v_queueing and v_never_refused,
           -- After a 429 the buckets restart empty when the pause ends.
           bucket = case when f.rate_limited > 0 then least(p.bucket, 0) else p.bucket - f.extra_calls end,
           bucket_at = case when f.rate_limited > 0 then greatest(coalesce(p.bucket_at, p_now), p_now) else p.bucket_at end,
           token_bucket = case when f.rate_limited > 0 then least(p.token_bucket, 0) else p.token_bucket - f.token_adjustment end,
           token_bucket_at = case when f.rate_limited > 0 and p.token_bucket is not null then greatest(coalesce(p.token_bucket_at, p_now), p_now)
                                  else p.token_bucket_at end,
           latency_ms_ewma = v_latency,
           -- Read while the pace grew, the floor is low: the answers that come back then are mostly
           -- the short calls sent last. Leaving slow start it is lifted by half the rise read after
           -- it; the lowest smoothed latency from then on takes it down again.
           latency_floor_ms = case when v_leaves_slow_start
                                   then v_floor * (1 + scheduler.config_num('pace_latency_rise_after_slow_start_percent') / 200.0)
                                   else v_floor end,
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

create or replace function scheduler.grow_probe(p_provider text, p_now timestamp with time zone) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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
     or v_pace.paused_until > p_now or v_pace.queueing or v_seconds <= 0
     -- After slow start a provider that never refused a call holds its pace once its latency rose
     -- half of what reads as queueing: past its capacity the queue grows with every second of climb.
     or (v_pace.probe_phase = 'steady' and v_pace.rate_limited_total = 0
         and v_pace.latency_ms_ewma > v_pace.latency_floor_ms
                                      * (1 + scheduler.config_num('pace_latency_rise_after_slow_start_percent') / 200.0)) then
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
                            else probe_rpm * (1 + scheduler.config_num(case when rate_limited_total = 0 and probe_rpm >= scheduler.config_num('pace_probe_capacity_share_percent') / 100.0 * probe_queued_rpm
                                                                            then 'pace_probe_near_capacity_percent_per_second'
                                                                            when rate_limited_total = 0
                                                                            then 'pace_probe_queueing_additive_percent_per_second'
                                                                            else 'pace_probe_additive_percent_per_second' end)
                                                  / 100.0 * v_seconds) end)),
         probe_at = p_now
   where provider = p_provider;
end
$$;

