-- daybreak: least privilege: provider rows cannot leak secrets, daybreak shows and deletes only its own.
-- Purpose:
--   * public.providers names a provider's key variable and where calls go. Whoever could write that
--     table could have the processor send any environment variable (the database URL, the cron
--     secret) as a bearer token to any host. A key variable must now be named like a provider key
--     (…_API_KEY, never SUPABASE_…, CRON_… or DAYBREAK_…), a base URL must be https, or http to a
--     loopback host only, and only the migrating role writes the table (the service role reads it).
--     The processor checks both again before it reads a key or sends a call.
--   * scheduler.v_cron_health (what the status page and the health problems read) shows daybreak's
--     own pg_cron jobs and the legacy jobs it replaced, never other teams' jobs, their commands or
--     their output; prune_history deletes only daybreak's jobs' cron.job_run_details.
--   * The Data API roles lose the sequences of daybreak's public tables.
--   * Attribution that cannot be forged: a call labelled cron (x-trigger-source, or pg_net's
--     User-Agent) is recorded as cron only when it carries the request id of a tick daybreak's own
--     cron job queued (scheduler.cron_ticks), each id accepted once, or when it is a processor kick
--     queued for a cron-started run; otherwise it is recorded as api. The label the caller claimed
--     is kept beside the verified one (scheduler_runs.claimed_trigger_source).
-- Objects: checks providers_api_key_env_is_a_provider_key, providers_base_url_is_safe; privileges on
-- public.providers and daybreak's public sequences; columns cron_ticks.consumed_at,
-- scheduler_runs.claimed_trigger_source; function verified_trigger_source; replaced: view
-- v_cron_health, function prune_history.
-- Operators: a provider row that breaks the new rules stops this migration with its name (fix the
-- row, then push again). Configure providers as the database owner (SQL editor, psql), not through
-- the REST API. RUNBOOK.md, "Security: which credential goes where".
-- The current schema, every function with its body: supabase/schema.sql.

do $$
declare
  v_bad text;
begin
  select string_agg(format('%s (api_key_env %s, base_url %s)', name, coalesce(api_key_env, 'null'), base_url), '; ')
    into v_bad
    from public.providers
   where not (api_key_env is null
              or (api_key_env ~ '^[A-Z][A-Z0-9_]*_API_KEY$' and api_key_env !~ '^(SUPABASE|CRON|DAYBREAK)_'))
      or not (base_url ~ '^https://[^/?#@]+' or base_url ~ '^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?(/|$)');
  if v_bad is not null then
    raise exception 'daybreak: provider rows that could leak secrets: %', v_bad
      using hint = 'api_key_env must end in _API_KEY and not start with SUPABASE_, CRON_ or DAYBREAK_; base_url must be https:// (http:// only to 127.0.0.1, localhost or [::1]). Fix these rows, then push again.';
  end if;
end
$$;

alter table public.providers
  add constraint providers_api_key_env_is_a_provider_key
    check (api_key_env ~ '^[A-Z][A-Z0-9_]*_API_KEY$' and api_key_env !~ '^(SUPABASE|CRON|DAYBREAK)_'),
  add constraint providers_base_url_is_safe
    check (base_url ~ '^https://[^/?#@]+' or base_url ~ '^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?(/|$)');

-- Provider configuration is operator configuration: the service role (and so the REST API) reads it only.
revoke insert, update, delete, truncate, references, trigger on public.providers from service_role;
revoke all on sequence public.prompt_results_id_seq, public.organization_providers_id_seq from anon, authenticated;

-- The status page, scripts/status and the health problems read this: daybreak's jobs and the
-- legacy jobs it replaced (flagged when they come back), nothing of anyone else's.
create or replace view scheduler.v_cron_health with (security_invoker = true) as
with expected(jobname) as (values ('daybreak-trigger'), ('daybreak-reconciler')),
ours as (
  select * from cron.job
   where jobname like 'daybreak-%'
      or jobname in ('daily-batch-trigger-resilient', 'daily-batch-trigger-every-5min', 'batch-reconciler-cleanup',
                     'batch-reconciler-every-10min', 'daily-batch-midnight-edt', 'daily-batch-midnight-est',
                     'daily-batch-trigger-12am-est', 'daily-scheduler-3am-edt', 'daily-scheduler-3am-est')
)
select coalesce(j.jobname, e.jobname) as jobname, j.jobid, j.schedule, j.command, j.active,
       d.status as last_status, d.start_time as last_start, d.end_time as last_end, d.return_message as last_message,
       case
         when j.jobid is null then 'missing'
         when e.jobname is null then 'unexpected job'
         when not j.active then 'paused'
         when d.status = 'failed' then 'last run failed'
         when d.start_time is not null and d.start_time < now() - interval '15 minutes' then 'not run for 15 minutes'
         else 'ok'
       end as health
  from ours j
  full join expected e on e.jobname = j.jobname
  left join lateral (
    select status, start_time, end_time, return_message
      from cron.job_run_details x where x.jobid = j.jobid order by x.start_time desc nulls last limit 1
  ) d on true
 order by (e.jobname is null), 1;

create or replace function scheduler.prune_history(p_now timestamptz default now()) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_cutoff timestamptz := p_now - make_interval(days => scheduler.config_int('retention_days'));
  v_invocations integer;
  v_ticks integer;
  v_cron integer;
  v_processors integer;
begin
  delete from scheduler.scheduler_runs where started_at < v_cutoff and status <> 'running';
  get diagnostics v_invocations = row_count;
  delete from scheduler.cron_ticks where ticked_at < v_cutoff;
  get diagnostics v_ticks = row_count;
  -- Only daybreak's own jobs' history: other teams' cron history is theirs.
  delete from cron.job_run_details d
   where d.start_time < v_cutoff
     and d.jobid in (select j.jobid from cron.job j where j.jobname in ('daybreak-trigger', 'daybreak-reconciler'));
  get diagnostics v_cron = row_count;
  delete from scheduler.processors where coalesce(stopped_at, last_seen, kicked_at) < v_cutoff;
  get diagnostics v_processors = row_count;
  return jsonb_build_object('scheduler_runs', v_invocations, 'cron_ticks', v_ticks, 'job_run_details', v_cron,
                            'processors', v_processors);
end
$$;

alter table scheduler.cron_ticks add column consumed_at timestamptz;
alter table scheduler.scheduler_runs add column claimed_trigger_source text;
comment on column scheduler.scheduler_runs.trigger_source is
  'Who called, verified: cron only for the request id of a tick daybreak''s cron job queued (or a kick of a cron-started run)';
comment on column scheduler.scheduler_runs.claimed_trigger_source is
  'What the call said it was (x-trigger-source, x-manual-call, User-Agent), kept beside the verified trigger_source';

-- The source to record for a call claiming p_claimed. Only cron needs proof, since it is the label
-- a run started by daybreak itself carries: the request id of a tick daybreak's trigger or
-- reconciler job queued (consumed here, so each id is accepted once), or a processor row kicked
-- for a cron-started run. An unproven cron claim is recorded as api. Other labels describe a
-- caller that authenticated anyway and are kept as claimed.
create function scheduler.verified_trigger_source(p_claimed text, p_request_id text, p_processor_id uuid default null)
returns text
language plpgsql
set search_path = ''
as $$
begin
  if p_claimed is distinct from 'cron' then
    return p_claimed;
  end if;
  update scheduler.cron_ticks t
     set consumed_at = clock_timestamp()
   where t.id = (select c.id from scheduler.cron_ticks c
                  where c.request_id = p_request_id and c.decision = 'called' and c.consumed_at is null
                  order by c.id limit 1 for update skip locked);
  if found then
    return 'cron';
  end if;
  if p_processor_id is not null
     and exists (select from scheduler.processors p
                  where p.id = p_processor_id and p.status = 'kicked' and p.trigger_source = 'cron') then
    return 'cron';
  end if;
  return 'api';
end
$$;

revoke execute on all functions in schema scheduler from public, anon, authenticated;
revoke all on all tables in schema scheduler from public, anon, authenticated;

comment on function scheduler.verified_trigger_source(text, text, uuid) is
  'The trigger source to record for a call: cron only with proof (a tick''s request id, once; or a cron run''s processor kick)';
comment on view scheduler.v_cron_health is 'daybreak''s pg_cron jobs (and legacy ones that came back) with their last run and health';
