-- daybreak: a call given back unsent no longer counts as sent.
-- Purpose: provider_seconds.claimed counted every call claimed, also those given back unsent (a
-- turn falling in the hold after a 429, a worker stopping first). After a few 429s of a 1 s window
-- (the timing, not other clients), what got through over 10 s read as 82-86 % of what daybreak
-- "sent", under the 90 % that tells daybreak's own shortfall from other clients, and the pace was
-- cut to 0.68 of the limit for the rest of the run (the bench's sliding-1s kind, 2 passes of 3).
-- A call given back unsent is now taken off the claims of the second it was claimed in.
-- Objects: function scheduler.record_task_outcomes (redefined; same signature, grants kept).
-- Operators: nothing to do.
-- The current schema, every function with its body: supabase/schema.sql.

create or replace function scheduler.record_task_outcomes(p_worker text, p_outcomes jsonb, p_feedback jsonb default '[]'::jsonb)
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
  f record;
begin
  -- The claims' lock order: the pace rows of the providers this round reports on come first, before
  -- any task or batch job (learn_pace updates them at the end of this transaction), and those of
  -- the calls it gives back unsent (their claims are taken off provider_seconds below, as claims
  -- write it: under the pace row).
  perform 1 from scheduler.provider_pace p
   where p.provider in (select distinct x ->> 'provider' from jsonb_array_elements(coalesce(p_feedback, '[]'::jsonb)) x)
      or p.provider in (select t.provider from jsonb_array_elements(p_outcomes) o
                          join scheduler.batch_tasks t on t.id = (o ->> 'task_id')::bigint
                         where o ->> 'outcome' = 'released' and not coalesce((o ->> 'provider_called')::boolean, true))
   order by p.provider
     for update;
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
    returning t.id, t.provider, t.started_at, i.outcome = 'released' and not i.provider_called as unsent
  ), given_back as (
    -- A call given back unsent (its turn fell in a hold after a 429, or its worker stopped first)
    -- was never sent: its claim no longer counts as sent, for the window's share and for what got
    -- through of what daybreak sent (learn_pace).
    update scheduler.provider_seconds s
       set claimed = greatest(0, s.claimed - g.n)
      from (select c.provider, date_trunc('second', c.started_at) as second, count(*)::integer as n
              from changed c where c.unsent group by 1, 2) g
     where s.provider = g.provider and s.second = g.second
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
