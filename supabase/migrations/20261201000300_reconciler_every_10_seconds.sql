-- daybreak: the reconciler ticks every 10 seconds (pg_cron 1.6's second-level schedules).
-- Purpose: when a functions runtime dies with every processor of a run, no live sibling is left to
-- rescue them: they are found lost after 20 s of silence (4 heartbeats) and rescued at the
-- reconciler's next tick, which with a minute's cadence added up to 60 s more. Every 10 s it adds
-- at most 10 s, half the staleness window it follows (5 s would halve that again for twice the
-- ticks). An idle tick still makes no HTTP call: cron_reconcile_tick's pre-check is SQL. It also
-- prunes history, now 8,640 times a day instead of 1,440, and cron.job_run_details gets one row
-- per tick (8,640 a day, kept retention_days like the rest): prune_history no longer scans that
-- table (pg_cron gives it no index on start_time, and at 30 days it holds ~260,000 rows); it
-- walks pg_cron's primary key (runid, which grows in start order) from the oldest row up to the
-- first row inside the retention and deletes only what lies below it.
-- Objects: cron job daybreak-reconciler ('* * * * *' → '10 seconds'); replaced:
-- scheduler.prune_history (same answer, daybreak's jobs only, job_run_details through its primary key).
-- Needs pg_cron 1.5 or later for second-level schedules (hosted Supabase runs 1.6.4); with an
-- older pg_cron this migration fails and says so.
-- Operators: nothing to do. RUNBOOK.md "Thresholds" and section 14 give the recovery times.
-- The current schema, every function with its body: supabase/schema.sql.

do $$
declare
  v_version text := (select extversion from pg_catalog.pg_extension where extname = 'pg_cron');
begin
  if string_to_array(split_part(v_version, '-', 1), '.')::int[] < array[1, 5] then
    raise exception 'daybreak schedules its reconciler every 10 seconds, which needs pg_cron 1.5 or later (hosted Supabase runs 1.6.4); this database has pg_cron %', v_version
      using errcode = '0A000';
  end if;
end
$$;

-- Retention: scheduler_runs (not running), cron_ticks, cron.job_run_details and processors older
-- than retention_days. Called by every idle reconciler tick and by reconcile(); each delete reads
-- through an index, so a tick with nothing to prune reads a handful of rows.
create or replace function scheduler.prune_history(p_now timestamptz default now()) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_cutoff timestamptz := p_now - make_interval(days => scheduler.config_int('retention_days'));
  v_first_kept bigint;
  v_invocations integer;
  v_ticks integer;
  v_cron integer;
  v_processors integer;
begin
  delete from scheduler.scheduler_runs where started_at < v_cutoff and status <> 'running';
  get diagnostics v_invocations = row_count;
  delete from scheduler.cron_ticks where ticked_at < v_cutoff;
  get diagnostics v_ticks = row_count;
  -- pg_cron numbers its runs in start order: the first run inside the retention bounds what can
  -- go. Walking the primary key from the bottom meets it after the rows still to prune (none,
  -- once pruned) and the rare run a server crash caught before it started (no time at all: never
  -- pruned). A run that failed before it started has only an end time, which counts.
  select d.runid into v_first_kept
    from cron.job_run_details d
   where coalesce(d.start_time, d.end_time) >= v_cutoff
   order by d.runid
   limit 1;
  -- Only daybreak's own jobs' history goes: other teams' cron history is theirs.
  delete from cron.job_run_details d
   where d.runid < coalesce(v_first_kept, 9223372036854775807) and coalesce(d.start_time, d.end_time) < v_cutoff
     and d.jobid in (select j.jobid from cron.job j where j.jobname in ('daybreak-trigger', 'daybreak-reconciler'));
  get diagnostics v_cron = row_count;
  delete from scheduler.processors where coalesce(stopped_at, last_seen, kicked_at) < v_cutoff;
  get diagnostics v_processors = row_count;
  return jsonb_build_object('scheduler_runs', v_invocations, 'cron_ticks', v_ticks, 'job_run_details', v_cron,
                            'processors', v_processors);
end
$$;
revoke execute on function scheduler.prune_history(timestamptz) from public, anon, authenticated;

-- cron.schedule with a job name replaces that job's schedule and command: re-running is harmless.
select cron.schedule('daybreak-reconciler', '10 seconds', 'select scheduler.cron_reconcile_tick()');
