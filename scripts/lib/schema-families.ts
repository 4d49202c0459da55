// Where each object of the generated schema is read: supabase/schema/<file>.sql, one concept per
// file. Keyed by the name of the table, view or function an object belongs to (an index, a
// constraint, a grant or a comment goes with its table or function; a trigger with the function it
// runs). scripts/schema fails on an object missing here, so a new table or function is placed on
// purpose, and on a file over 300 lines, so a family that outgrows its file is split.

export interface SchemaFamily {
  file: string;
  about: string;
  members: string[];
}

export const SCHEMA_FAMILIES: SchemaFamily[] = [
  {
    file: "app-tables",
    about: "the application's tables in schema public (organizations, prompts, providers, results), the schemas and their default privileges",
    members: ["schema:public", "schema:scheduler", "default-privileges", "organizations", "organization_providers", "prompts", "prompt_results", "providers", "regions"],
  },
  {
    file: "suggestions",
    about: "prompt suggestions: the table and the trigger that asks for them when a result lands",
    members: ["prompt_suggestions", "store_prompt_suggestions", "suggestion_request"],
  },
  {
    file: "config",
    about: "scheduler.config, its readers and the values the migrations set, and small JSON helpers",
    members: ["config", "config_int", "config_num", "json_array_or_empty", "jsonb_sum_counts"],
  },
  {
    file: "cron",
    about: "the two cron jobs and their ticks, and the calls SQL makes to edge functions through pg_net",
    members: ["cron_ticks", "cron_reconcile_tick", "cron_trigger_tick", "queue_function_call", "v_cron_health"],
  },
  {
    file: "calendar",
    about: "periods, run keys and local wall-clock instants (DST-safe), and the execution window",
    members: ["known_time_zones", "cadence_after", "local_instant", "parse_run_key", "period_key", "current_run_key", "is_in_execution_window"],
  },
  {
    file: "org-schedules",
    about: "per-organization schedules: setting them, and the runs they missed",
    members: ["org_schedules", "missed_runs", "set_org_schedule", "v_org_schedules"],
  },
  {
    file: "due-organizations",
    about: "claiming the organizations whose run is due, and an organization's first date",
    members: ["claim_due_organizations", "org_first_date"],
  },
  {
    file: "runs",
    about: "schedules, runs (one per period) and the invocations that trigger them",
    members: ["schedules", "runs", "scheduler_runs"],
  },
  {
    file: "run-marking",
    about: "marking a period's run exactly once, with the trigger source a caller may claim",
    members: ["try_mark_daily_run", "verified_trigger_source"],
  },
  {
    file: "planning",
    about: "batch jobs and tasks, and planning a run into them",
    members: ["batch_jobs", "batch_tasks", "plan_runs"],
  },
  {
    file: "pace",
    about: "the shared pace per provider: its state, its limits and which providers have work",
    members: ["provider_pace", "provider_run_stats", "provider_seconds", "provider_limits", "target_share", "provider_rate", "providers_with_work"],
  },
  {
    file: "pace-readings",
    about: "what the pace delivers, the call deadline it sets, and the view an operator reads",
    members: ["delivered_per_minute", "call_deadline_ms", "v_provider_pace"],
  },
  {
    file: "claim-paced-tasks",
    about: "claim_paced_tasks: a processor's claim, drawing requests and tokens from the provider's pace in one transaction",
    members: ["claim_paced_tasks"],
  },
  {
    file: "learn-pace",
    about: "learn_pace: what the pace learns from a round of answers (stated limits, other clients, 429s, latency)",
    members: ["learn_pace"],
  },
  {
    file: "grow-probe",
    about: "grow_probe: the probed pace of a provider with no known limit, grown while the work presses against it",
    members: ["grow_probe"],
  },
  {
    file: "task-outcomes",
    about: "recording what the provider calls returned",
    members: ["record_task_outcomes", "complete_tasks", "fail_exhausted_tasks"],
  },
  {
    file: "finishing",
    about: "finishing batch jobs and runs once their tasks are done",
    members: ["finalize_batch_job", "finalize_run"],
  },
  {
    file: "fleet",
    about: "processors: registering, heartbeats, stopping, the fleet the work needs and the kicks that start it",
    members: ["processors", "register_processor", "heartbeat_processor", "stop_processor", "ensure_processor_fleet", "kick_workers", "live_processor_count", "lost_processors", "v_processor_fleet"],
  },
  {
    file: "reconciler",
    about: "the reconciler: what it finds stale, abandoned or unfinished, and pruning history",
    members: ["reconcile", "reconcile_now", "abandoned_invocations", "unfinalized_runs", "settle_batch_jobs", "stale_batch_jobs", "prune_history"],
  },
  {
    file: "rescue",
    about: "rescuing the work of lost processors and resuming stuck batch jobs",
    members: ["rescue_lost_processors", "resume_stuck_batch_job"],
  },
  {
    file: "operator",
    about: "what an operator calls: cancel a run, retry its failed tasks, pause or resume a schedule",
    members: ["cancel_run", "retry_failed_tasks", "pause_schedule", "resume_schedule", "set_schedule_enabled"],
  },
  {
    file: "history-views",
    about: "the history the status page shows: daily runs, per organization, each run's completeness, recent invocations",
    members: ["v_daily_history", "v_org_history", "v_run_completeness", "v_recent_invocations"],
  },
  {
    file: "health-views",
    about: "the health views alerts read: problems, stuck batch jobs, duplicate results",
    members: ["v_health_problems", "v_batch_health", "v_stuck_batch_jobs", "v_duplicate_results"],
  },
];

export const MAX_SCHEMA_FILE_LINES = 300;
