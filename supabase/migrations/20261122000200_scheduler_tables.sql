-- daybreak tables.
-- Purpose: the app tables daybreak reads (public: organizations, prompts, providers, regions,
-- organization_providers, prompt_results) and the scheduler's own state (scheduler: config,
-- schedules, runs, scheduler_runs, batch_jobs, batch_tasks, cron_ticks).
-- Objects: tables public.{organizations, prompts, providers, regions, organization_providers,
-- prompt_results}, scheduler.{config, schedules, runs, scheduler_runs, batch_jobs, batch_tasks,
-- cron_ticks}; seed rows: regions, config defaults, schedule daily-batch.
-- Every uniqueness guarantee lives here: one run per (schedule, run_key), one batch job per
-- (run, organization), one task per (batch job, prompt, provider, region), one result per task.
-- Operators: none. RLS is on for every table; only the service role and postgres read them.
-- The current schema, every function with its body: supabase/schema.sql.

-- ---------------------------------------------------------------- app tables (public)

create table public.organizations (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  active boolean not null default true,
  created_at timestamptz not null default now()
);

create table public.prompts (
  id uuid primary key default gen_random_uuid(),
  org_id uuid not null references public.organizations (id) on delete cascade,
  text text not null check (length(text) between 1 and 20000),
  active boolean not null default true,
  created_at timestamptz not null default now()
);
create index prompts_active_by_org on public.prompts (org_id) where active;

-- The catalogue of providers daybreak can call (OpenAI-compatible chat completions).
create table public.providers (
  name text primary key check (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  base_url text not null check (base_url ~ '^https?://'),
  model text not null,
  api_key_env text check (api_key_env ~ '^[A-Z][A-Z0-9_]*$'),
  timeout_ms integer not null default 120000 check (timeout_ms between 1000 and 600000),
  fallback_provider text references public.providers (name),
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  check (fallback_provider is distinct from name)
);

-- Regions are an explicit list: an unknown region is an error, never remapped to another one.
create table public.regions (
  code text primary key check (code ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
  description text not null default ''
);
insert into public.regions (code, description) values
  ('global', 'no region pinning'),
  ('us', 'United States'),
  ('eu', 'European Union'),
  ('apac', 'Asia Pacific');

-- What each organization runs its prompts against. Deliberately a free-form configuration (no
-- unique key, regions as an array): it is where duplicates and typos come from, so planning
-- deduplicates and validates instead of trusting it.
create table public.organization_providers (
  id bigint generated always as identity primary key,
  org_id uuid not null references public.organizations (id) on delete cascade,
  provider text not null,
  regions text[] not null default array['global'],
  created_at timestamptz not null default now(),
  check (cardinality(regions) > 0)
);
create index organization_providers_by_org on public.organization_providers (org_id);

alter table public.organizations enable row level security;
alter table public.prompts enable row level security;
alter table public.providers enable row level security;
alter table public.regions enable row level security;
alter table public.organization_providers enable row level security;

-- ---------------------------------------------------------------- scheduler state

-- Tunables read by SQL and by the edge functions. One row per setting; values are jsonb.
create table scheduler.config (
  key text primary key,
  value jsonb not null,
  description text not null default ''
);
insert into scheduler.config (key, value, description) values
  ('max_concurrent_batch_jobs', '4', 'global cap on batch jobs processed at once'),
  ('stale_heartbeat_seconds', '120', 'a processing batch job whose heartbeat is older is stale'),
  ('pending_grace_seconds', '180', 'a pending batch job this long after planning with no processor is stale'),
  ('task_lease_seconds', '300', 'task lease; longer than the provider timeout so live workers keep their tasks'),
  ('max_task_attempts', '3', 'a task whose lease expired this many times is failed'),
  ('max_batch_job_attempts', '5', 'a batch job resumed this many times is failed'),
  ('abandoned_invocation_minutes', '10', 'scheduler_runs rows running longer are closed as abandoned'),
  ('retention_days', '30', 'scheduler_runs, cron_ticks and cron.job_run_details older than this are pruned'),
  ('processor_request_timeout_ms', '600000', 'pg_net timeout for calls that start a processor');

create table scheduler.schedules (
  name text primary key check (name ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  timezone text not null,
  window_start time not null,
  window_end time not null,
  period text not null check (period in ('daily', 'weekly')),
  -- ISO day of week (1 = Monday) for weekly schedules; null for daily ones.
  weekday smallint check (weekday between 1 and 7),
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (window_start < window_end),
  check ((period = 'weekly') = (weekday is not null))
);

insert into scheduler.schedules (name, timezone, window_start, window_end, period, enabled)
values ('daily-batch', 'America/New_York', '03:00', '06:00', 'daily', true);

create table scheduler.runs (
  id uuid primary key default gen_random_uuid(),
  schedule text not null references scheduler.schedules (name),
  run_key text not null,
  status text not null default 'running'
    check (status in ('running', 'completed', 'completed_with_errors', 'failed', 'cancelled')),
  trigger_source text not null check (trigger_source in ('cron', 'manual', 'github_actions', 'reconciler', 'api')),
  scheduler_run_id uuid,
  forced boolean not null default false,
  note text,
  batch_jobs_planned integer not null default 0,
  tasks_planned integer not null default 0,
  created_at timestamptz not null default now(),
  completed_at timestamptz,
  cancel_reason text,
  -- Invariant 1: one run per (schedule, period), whoever calls.
  constraint runs_one_per_period unique (schedule, run_key)
);
create index runs_live on scheduler.runs (created_at) where status = 'running';

create table scheduler.scheduler_runs (
  id uuid primary key default gen_random_uuid(),
  function_name text not null,
  trigger_source text not null check (trigger_source in ('cron', 'manual', 'github_actions', 'reconciler', 'api')),
  status text not null default 'running' check (status in ('running', 'completed', 'skipped', 'failed')),
  reason text,
  schedule text,
  run_key text,
  run_id uuid references scheduler.runs (id) on delete set null,
  auth_method text,
  forced boolean not null default false,
  note text,
  user_agent text,
  request_id text,
  cf_ray text,
  github_run_id text,
  started_at timestamptz not null default now(),
  completed_at timestamptz,
  error_message text,
  details jsonb not null default '{}'
);
create index scheduler_runs_started on scheduler.scheduler_runs (started_at);
create index scheduler_runs_by_run on scheduler.scheduler_runs (run_id);
create index scheduler_runs_by_key on scheduler.scheduler_runs (schedule, run_key);
create index scheduler_runs_by_request on scheduler.scheduler_runs (request_id);
create index scheduler_runs_running on scheduler.scheduler_runs (started_at) where status = 'running';

create table scheduler.batch_jobs (
  id uuid primary key default gen_random_uuid(),
  run_id uuid not null references scheduler.runs (id) on delete cascade,
  org_id uuid not null references public.organizations (id),
  status text not null default 'pending'
    check (status in ('pending', 'processing', 'completed', 'completed_with_errors', 'failed', 'cancelled')),
  attempts integer not null default 0,
  tasks_total integer not null default 0,
  last_heartbeat timestamptz,
  claimed_by text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz,
  last_error text,
  constraint batch_jobs_one_per_org unique (run_id, org_id)
);
-- Live rows only: the claim and the stale scan never read finished history.
create index batch_jobs_live on scheduler.batch_jobs (status, created_at) where status in ('pending', 'processing');

create table scheduler.batch_tasks (
  id bigint generated always as identity primary key,
  batch_job_id uuid not null references scheduler.batch_jobs (id) on delete cascade,
  run_id uuid not null,
  prompt_id uuid not null,
  provider text not null,
  region text not null,
  status text not null default 'pending'
    check (status in ('pending', 'processing', 'succeeded', 'failed', 'cancelled')),
  attempts integer not null default 0,
  -- Fencing: each claim gets a fresh token; only the holder of the current token may finish it.
  attempt_token uuid,
  lease_expires_at timestamptz,
  claimed_by text,
  answered_by text,
  last_error text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz,
  constraint batch_tasks_one_per_combination unique (batch_job_id, prompt_id, provider, region)
);
create index batch_tasks_live on scheduler.batch_tasks (batch_job_id, id) where status in ('pending', 'processing');
create index batch_tasks_by_run on scheduler.batch_tasks (run_id);

-- Results: at most one row per task (invariant 3), written with on conflict do nothing.
create table public.prompt_results (
  id bigint generated always as identity primary key,
  task_id bigint not null,
  run_id uuid not null,
  org_id uuid not null,
  prompt_id uuid not null,
  provider text not null,
  region text not null,
  answered_by text not null,
  model text not null,
  response text not null,
  attempts integer not null,
  latency_ms integer not null,
  created_at timestamptz not null default now(),
  constraint prompt_results_one_per_task unique (task_id)
);
create index prompt_results_by_run on public.prompt_results (run_id);
alter table public.prompt_results enable row level security;

-- Every cron tick that ran, with its decision; for the ticks that called a function, the
-- x-request-id it sent and pg_net's request id, so one tick can be followed to its invocation.
create table scheduler.cron_ticks (
  id bigint generated always as identity primary key,
  tick text not null check (tick in ('trigger', 'reconcile')),
  ticked_at timestamptz not null,
  decision text not null,
  schedule text,
  run_key text,
  request_id text,
  net_request_id bigint,
  details jsonb not null default '{}'
);
create index cron_ticks_at on scheduler.cron_ticks (ticked_at);
create index cron_ticks_by_request on scheduler.cron_ticks (request_id) where request_id is not null;

alter table scheduler.config enable row level security;
alter table scheduler.schedules enable row level security;
alter table scheduler.runs enable row level security;
alter table scheduler.scheduler_runs enable row level security;
alter table scheduler.batch_jobs enable row level security;
alter table scheduler.batch_tasks enable row level security;
alter table scheduler.cron_ticks enable row level security;

-- The Data API roles never see scheduler state, and app tables are not writable by them either:
-- daybreak's edge functions use a direct connection as postgres.
revoke all on all tables in schema scheduler from public, anon, authenticated;
revoke all on public.organizations, public.prompts, public.providers, public.regions,
  public.organization_providers, public.prompt_results from anon, authenticated;
