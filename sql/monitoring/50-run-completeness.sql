-- Did every provider run in every region? Planned vs succeeded vs failed, missing and extra, per run.
select * from scheduler.v_run_completeness
 where run_id = (select id from scheduler.runs order by created_at desc limit 1);
