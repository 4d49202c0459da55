-- Is anything wrong right now? One row per problem; no rows means healthy (scripts/status exits 1 on any row).
select * from scheduler.v_health_problems;
