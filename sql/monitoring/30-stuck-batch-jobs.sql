-- Is any batch job stuck (stale heartbeat, or pending with nobody on it)?
select * from scheduler.v_stuck_batch_jobs;
