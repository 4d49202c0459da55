-- When does each organization with its own schedule run next (its local time and UTC), and how did its last 30 local days go?
select organization, schedule, timezone, run_at, next_run_local, next_run_utc, paused, catch_up, last_run_key, ran_30d, missed_30d
  from scheduler.v_org_schedules
 order by missed_30d desc, next_run_at;
