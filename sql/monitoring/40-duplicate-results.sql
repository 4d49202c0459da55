-- Was any result recorded twice? Always empty: prompt_results has one row per task by a unique key.
select * from scheduler.v_duplicate_results;
