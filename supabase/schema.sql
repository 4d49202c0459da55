-- daybreak: the current schema, generated from a database freshly migrated by the Supabase CLI
-- (scripts/schema writes it; scripts/test fails when it differs from what the migrations make).
-- Read supabase/schema/<file>.sql for the current body of any function; change the schema with a
-- new migration in supabase/migrations/, never here. The design: docs/design/ARCHITECTURE.md.

-- ---------------------------------------------------------------- extensions
create extension if not exists pg_cron with schema pg_catalog; -- version 1.6
create extension if not exists pg_net with schema extensions; -- version 0.20.4
create extension if not exists supabase_vault with schema vault; -- version 0.3.1

-- ---------------------------------------------------------------- files, and what each holds
-- schema/app-tables.sql: the application's tables in schema public (organizations, prompts, providers, results), the schemas and their default privileges
--   organizations, organization_providers, prompts, prompt_results, providers, regions

-- schema/suggestions.sql: prompt suggestions: the table and the trigger that asks for them when a result lands
--   prompt_suggestions, store_prompt_suggestions, suggestion_request

-- schema/config.sql: scheduler.config, its readers and the values the migrations set, and small JSON helpers
--   config, config_int, config_num, json_array_or_empty, jsonb_sum_counts

-- schema/cron.sql: the two cron jobs and their ticks, and the calls SQL makes to edge functions through pg_net
--   cron_ticks, cron_reconcile_tick, cron_trigger_tick, queue_function_call, v_cron_health

-- schema/calendar.sql: periods, run keys and local wall-clock instants (DST-safe), and the execution window
--   known_time_zones, cadence_after, local_instant, parse_run_key, period_key, current_run_key,
--   is_in_execution_window

-- schema/org-schedules.sql: per-organization schedules: setting them, and the runs they missed
--   org_schedules, missed_runs, set_org_schedule, v_org_schedules

-- schema/due-organizations.sql: claiming the organizations whose run is due, and an organization's first date
--   claim_due_organizations, org_first_date

-- schema/runs.sql: schedules, runs (one per period) and the invocations that trigger them
--   schedules, runs, scheduler_runs

-- schema/run-marking.sql: marking a period's run exactly once, with the trigger source a caller may claim
--   try_mark_daily_run, verified_trigger_source

-- schema/planning.sql: batch jobs and tasks, and planning a run into them
--   batch_jobs, batch_tasks, plan_runs

-- schema/pace.sql: the shared pace per provider: its state, its limits and which providers have work
--   provider_pace, provider_run_stats, provider_seconds, provider_limits, target_share,
--   provider_rate, providers_with_work

-- schema/pace-readings.sql: what the pace delivers, the call deadline it sets, and the view an operator reads
--   delivered_per_minute, call_deadline_ms, v_provider_pace

-- schema/claim-paced-tasks.sql: claim_paced_tasks: a processor's claim, drawing requests and tokens from the provider's pace in one transaction
--   claim_paced_tasks

-- schema/learn-pace.sql: learn_pace: what the pace learns from a round of answers (stated limits, other clients, 429s, latency)
--   learn_pace

-- schema/grow-probe.sql: grow_probe: the probed pace of a provider with no known limit, grown while the work presses against it
--   grow_probe

-- schema/task-outcomes.sql: recording what the provider calls returned
--   record_task_outcomes, complete_tasks, fail_exhausted_tasks

-- schema/finishing.sql: finishing batch jobs and runs once their tasks are done
--   finalize_batch_job, finalize_run

-- schema/fleet.sql: processors: registering, heartbeats, stopping, the fleet the work needs and the kicks that start it
--   processors, register_processor, heartbeat_processor, stop_processor, ensure_processor_fleet,
--   kick_workers, live_processor_count, lost_processors, v_processor_fleet

-- schema/reconciler.sql: the reconciler: what it finds stale, abandoned or unfinished, and pruning history
--   reconcile, reconcile_now, abandoned_invocations, unfinalized_runs, settle_batch_jobs,
--   stale_batch_jobs, prune_history

-- schema/rescue.sql: rescuing the work of lost processors and resuming stuck batch jobs
--   rescue_lost_processors, resume_stuck_batch_job

-- schema/operator.sql: what an operator calls: cancel a run, retry its failed tasks, pause or resume a schedule
--   cancel_run, retry_failed_tasks, pause_schedule, resume_schedule, set_schedule_enabled

-- schema/history-views.sql: the history the status page shows: daily runs, per organization, each run's completeness, recent invocations
--   v_daily_history, v_org_history, v_run_completeness, v_recent_invocations

-- schema/health-views.sql: the health views alerts read: problems, stuck batch jobs, duplicate results
--   v_health_problems, v_batch_health, v_stuck_batch_jobs, v_duplicate_results
