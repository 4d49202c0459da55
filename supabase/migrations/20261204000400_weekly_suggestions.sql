-- daybreak: a second schedule, weekly-suggestions: once a week per organization, one of its
-- providers is asked for five new prompts in the spirit of its active ones, stored inactive for
-- the organization to review.
-- Purpose:
--   * Schedule weekly-suggestions (weekly, Monday 03:00–06:00 America/New_York, work
--     'suggestions'), under the same gate, cron jobs and per-organization rules as daily-batch:
--     one run per (schedule, organization, local week).
--   * Its run plans one task per organization (kind 'suggestions', on its first configured
--     provider and region): claimed through the same pacer (claim_paced_tasks), fenced by the same
--     attempt tokens and recorded through record_task_outcomes, so it keeps one result per task
--     (prompt_results_one_per_task). Its worker is the weekly-suggestions function.
--   * public.prompt_suggestions: the five prompts of that one result, inactive, written in the
--     same transaction as the result (a statement trigger on prompt_results), at most one set per
--     task (prompt_suggestions_one_set_per_task).
--   * scheduler.suggestion_request(task_id): what the worker asks for: the organization's active
--     prompts (at most 20).
-- Objects: schedule row weekly-suggestions; table public.prompt_suggestions; functions
-- scheduler.suggestion_request, scheduler.json_array_or_empty, scheduler.store_prompt_suggestions (trigger
-- prompt_results_store_suggestions).
-- Operators: review suggestions with select * from public.prompt_suggestions where not active;
-- activate one by copying it into public.prompts. RUNBOOK.md, "Organization schedules".
-- The current schema, every function with its body: supabase/schema.sql.

insert into scheduler.schedules (name, timezone, window_start, window_end, period, weekday, enabled, work)
values ('weekly-suggestions', 'America/New_York', '03:00', '06:00', 'weekly', 1, true, 'suggestions')
on conflict (name) do nothing;

create table public.prompt_suggestions (
  id bigint generated always as identity primary key,
  org_id uuid not null references public.organizations (id) on delete cascade,
  run_id uuid not null,
  task_id bigint not null,
  ordinal smallint not null check (ordinal between 1 and 5),
  text text not null check (length(text) between 1 and 20000),
  active boolean not null default false,
  created_at timestamptz not null default now(),
  constraint prompt_suggestions_one_set_per_task unique (task_id, ordinal)
);
comment on table public.prompt_suggestions is
  'Prompts weekly-suggestions proposed for an organization (five per run), inactive until reviewed';
create index prompt_suggestions_by_org on public.prompt_suggestions (org_id, created_at);
alter table public.prompt_suggestions enable row level security;
revoke all on public.prompt_suggestions from public, anon, authenticated;
revoke all on sequence public.prompt_suggestions_id_seq from public, anon, authenticated;
grant select, update, delete on public.prompt_suggestions to service_role;

-- What a suggestions task asks for: its organization and active prompts (null: not such a task).
create function scheduler.suggestion_request(p_task_id bigint) returns jsonb
language sql stable
set search_path = ''
as $$
  select jsonb_build_object(
           'org_id', j.org_id,
           'prompts', coalesce((select jsonb_agg(x.text order by x.created_at, x.id)
                                  from (select p.text, p.created_at, p.id from public.prompts p
                                         where p.org_id = j.org_id and p.active
                                         order by p.created_at desc, p.id limit 20) x), '[]'::jsonb))
    from scheduler.batch_tasks t
    join scheduler.batch_jobs j on j.id = t.batch_job_id
   where t.id = p_task_id and t.kind = 'suggestions'
$$;

-- A JSON array, or an empty one for any other text (never an error in the recording transaction).
create function scheduler.json_array_or_empty(p_text text) returns jsonb
language plpgsql immutable
set search_path = ''
as $$
declare
  v jsonb;
begin
  v := p_text::jsonb;
  return case when jsonb_typeof(v) = 'array' then v else '[]'::jsonb end;
exception when others then
  return '[]'::jsonb;
end
$$;

-- The worker stores a suggestions answer as a JSON array of five prompts; its one result becomes
-- five inactive suggestions here, in the transaction that records it.
create function scheduler.store_prompt_suggestions() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into public.prompt_suggestions (org_id, run_id, task_id, ordinal, text)
  select i.org_id, i.run_id, i.task_id, e.ordinal, left(e.value, 20000)
    from inserted i
    join scheduler.batch_tasks t on t.id = i.task_id and t.kind = 'suggestions'
   cross join lateral jsonb_array_elements_text(scheduler.json_array_or_empty(i.response))
           with ordinality e(value, ordinal)
   where e.ordinal <= 5 and length(trim(e.value)) > 0
  on conflict on constraint prompt_suggestions_one_set_per_task do nothing;
  return null;
end
$$;

create trigger prompt_results_store_suggestions
  after insert on public.prompt_results
  referencing new table as inserted
  for each statement execute function scheduler.store_prompt_suggestions();

revoke all on function scheduler.suggestion_request(bigint) from public, anon, authenticated;
revoke all on function scheduler.store_prompt_suggestions() from public, anon, authenticated;
revoke all on function scheduler.json_array_or_empty(text) from public, anon, authenticated;
