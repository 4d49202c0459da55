-- daybreak: leaving slow start, a provider's latency floor is lifted by half the rise read after it,
-- and once a queue drained the probe gets back the tenth held back for it (learn_pace).
-- Purpose: against a server with no limit (latency climbs past its capacity, nothing is refused)
-- the probe held below the capacity for the rest of the day (12 calls in flight where it serves 15):
-- - The floor (the lowest of the smoothed latency, from which a rise means queueing) is read during
--   slow start, while the pace grows 1.5x a second. The answers that come back then are mostly the
--   short calls sent last, so it read 10-17 % below the unloaded latency (755-870 ms against 906 in
--   traces). After slow start queueing ends once latency is back within half the rise of the
--   floor, which that latency never reached: queueing held, and the probe with it, for good.
--   Slow start still reads the floor it has (it ends on a rise from it, a little early at worst).
--   Leaving it, the floor is lifted by half of pace_latency_rise_after_slow_start_percent (12.5 %),
--   and the lowest smoothed latency from then on takes it down again (the min it always was).
--   Clearing it instead and reading it again from the first round that raised the smoothed latency
--   read it mid-queue (1,230-1,250 ms): the queue slow start built still grows when slow start ends.
-- - Queueing sets the probe to 90 % of what got through, so the queue drains. Once latency is back,
--   the probe is divided by 0.9 again: it restarts at what the provider delivered while queueing,
--   not a tenth under it.
-- Objects: function scheduler.learn_pace (redefined; same signature, grants kept).
-- Operators: nothing to do.
-- The current schema, every function with its body: supabase/schema.sql.

create or replace function scheduler.learn_pace(p_feedback jsonb, p_now timestamp with time zone)
returns void
language plpgsql
set search_path = ''
as $$
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
           -- queueing, to 90 % of it, so the queue it built drains (by 15 % at most after slow start).
           probe_rpm = case
                         when v_known_rpm is not null or p.probe_rpm is null then p.probe_rpm
                         when f.rate_limited > 0 and v_first_reaction
                           then greatest(1.0, least(p.probe_rpm * scheduler.config_num('pace_probe_backoff_percent') / 100.0,
                                                    v_window_rpm * v_share))
                         when v_never_refused and v_queueing and not p.queueing and p.probe_phase = 'slow_start'
                           then greatest(1.0, least(p.probe_rpm, v_recent_rpm * 0.9))
                         when v_never_refused and v_queueing and not p.queueing
                           then greatest(1.0, p.probe_rpm * 0.85, least(p.probe_rpm, v_recent_rpm * 0.9))
                         -- The queue drained: the tenth held back for it is given back.
                         when v_never_refused and not v_queueing and p.queueing then p.probe_rpm / 0.9
                         else p.probe_rpm end,
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

