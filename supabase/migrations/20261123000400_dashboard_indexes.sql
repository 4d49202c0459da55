-- daybreak: the status page's reads stay fast with 30 days of history (measured).
-- Purpose: scheduler.v_health_problems' incomplete_run check asked, for every run of the last 30
-- days, whether any task had not succeeded, reading each run's tasks (6,000 a day at the bench's
-- size: 180,000 rows, ~170 ms of the page's data). A partial index on the tasks that did not
-- succeed answers it from a few index pages, and is small because most tasks succeed.
-- Objects: index scheduler.batch_tasks_unsucceeded_by_run.
-- Operators: nothing to do.
-- The current schema, every function with its body: supabase/schema.sql.
create index if not exists batch_tasks_unsucceeded_by_run on scheduler.batch_tasks (run_id) where status <> 'succeeded';
