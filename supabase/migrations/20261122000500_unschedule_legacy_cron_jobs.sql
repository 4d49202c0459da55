-- daybreak: remove the legacy cron jobs.
-- Purpose: the nine overlapping jobs that ran the batch before daybreak (every 5, 10, 15, 30 min,
-- EDT and EST copies: 20+ hours a day of no-op invocations and duplicate runs) are unscheduled
-- wherever they exist. Safe to run on a database that never had them.
-- Objects: cron.job rows named below.
-- Operators: nothing; scheduler.v_cron_health shows anything else that is still scheduled.
-- The current schema, every function with its body: supabase/schema.sql.

select cron.unschedule(j.jobid)
  from cron.job j
 where j.jobname in (
   'daily-batch-trigger-resilient',
   'daily-batch-trigger-every-5min',
   'batch-reconciler-cleanup',
   'batch-reconciler-every-10min',
   'daily-batch-midnight-edt',
   'daily-batch-midnight-est',
   'daily-batch-trigger-12am-est',
   'daily-scheduler-3am-edt',
   'daily-scheduler-3am-est'
 );
