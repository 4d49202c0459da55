-- How did each recent run go: batch jobs and tasks by status, duplicates prevented, duration?
select * from scheduler.v_batch_health limit 10;
