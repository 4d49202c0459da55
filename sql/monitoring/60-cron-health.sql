-- Is pg_cron sane? daybreak's two jobs with their last run, and anything else that is scheduled.
select * from scheduler.v_cron_health;
