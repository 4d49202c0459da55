-- Who called daybreak's functions in the last 7 days, from where, and what came of it?
select started_at, function_name, trigger_source, status, reason, run_key, forced, note, user_agent, request_id, cron_tick_at
  from scheduler.v_recent_invocations
 limit 50;
