-- daybreak: the trigger's cron job.
-- Purpose: one pg_cron job, daybreak-trigger, every 5 minutes (pg_cron runs in UTC; the window is
-- daybreak's job). scheduler.cron_trigger_tick decides in SQL whether any enabled schedule is in
-- its window and unclaimed for its current period, and only then calls daily-batch-trigger
-- through pg_net. Idle ticks make no HTTP call and write nothing (invariant 6).
-- Objects: function scheduler.cron_trigger_tick, cron job daybreak-trigger.
-- Operators: Vault must hold daybreak_functions_url and daybreak_cron_secret (scripts/deploy).
-- The current schema, every function with its body: supabase/schema.sql.

create function scheduler.cron_trigger_tick(p_now timestamptz default now()) returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  s scheduler.schedules;
  v_key text;
  v_decision text;
  v_request_id text;
  v_net_id bigint;
  v_decisions jsonb := '[]'::jsonb;
begin
  for s in select * from scheduler.schedules order by name loop
    v_key := scheduler.period_key(s.period, (p_now at time zone s.timezone)::date);
    v_request_id := null;
    v_net_id := null;
    if not s.enabled then
      v_decision := 'disabled';
    elsif not scheduler.is_in_execution_window(s.name, p_now) then
      v_decision := 'outside_window';
    elsif exists (select from scheduler.runs r where r.schedule = s.name and r.run_key = v_key) then
      v_decision := 'already_claimed';
    else
      -- The x-request-id travels with the call and is stored by the trigger in scheduler_runs,
      -- so one tick can be followed through pg_net to the invocation and the run it produced.
      v_request_id := gen_random_uuid()::text;
      v_net_id := scheduler.queue_function_call('daily-batch-trigger', jsonb_build_object('schedule', s.name),
                                                'cron', v_request_id);
      v_decision := case when v_net_id is null then 'not_configured' else 'called' end;
      insert into scheduler.cron_ticks (tick, ticked_at, decision, schedule, run_key, request_id, net_request_id)
      values ('trigger', p_now, v_decision, s.name, v_key, v_request_id, v_net_id);
    end if;
    v_decisions := v_decisions || jsonb_build_object('schedule', s.name, 'run_key', v_key, 'decision', v_decision,
                                                     'request_id', v_request_id, 'net_request_id', v_net_id);
  end loop;
  return v_decisions;
end
$$;

revoke execute on function scheduler.cron_trigger_tick(timestamptz) from public, anon, authenticated;
comment on function scheduler.cron_trigger_tick(timestamptz) is
  'pg_cron entry point: calls daily-batch-trigger for each enabled schedule that is in its window and unclaimed';

-- cron.schedule with a job name replaces that job's schedule and command: re-running is harmless.
select cron.schedule('daybreak-trigger', '*/5 * * * *', 'select scheduler.cron_trigger_tick()');
