-- Organizations' own periods of the last 30 local days: each run (catch-up or not, who started it) and each missed period with its reason.
select schedule, organization, run_key, day_status, run_status, trigger_source, forced, catch_up, due_at, claimed_at, reason
  from scheduler.v_org_history
 order by due_at desc;
