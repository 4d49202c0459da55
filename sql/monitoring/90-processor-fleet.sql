-- The processor invocations of the last hour: how many were kicked, ran, handed over or stopped,
-- the tasks they did and the CPU each spent per task (Supabase allows 2 s of CPU per request).
select status, count(*) as processors, sum(tasks) as tasks,
       round(sum(cpu_ms)::numeric / nullif(sum(tasks), 0), 2) as cpu_ms_per_task,
       max(cpu_ms) as max_cpu_ms, max(duration_ms) as max_duration_ms
  from scheduler.v_processor_fleet
 where coalesce(kicked_at, started_at) > now() - interval '1 hour'
 group by status
 order by status;
