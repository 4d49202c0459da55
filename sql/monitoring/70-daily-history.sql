-- Who triggered what, per day: every caller with its source and time, the winner, the outcome,
-- the cron tick and pg_net request behind cron calls, and missed days (last 30).
select schedule, run_key, day_status, is_winner, trigger_source, called_at, call_status, call_reason,
       forced, note, user_agent, request_id, cron_tick_at, net_request_id, net_status_code
  from scheduler.v_daily_history
 order by run_key desc, schedule, called_at;
