-- daybreak: each organization's own schedule, as data: its time zone, local run time and window,
-- catch-up policy and pause, validated on the way in.
-- Purpose:
--   * scheduler.org_schedules holds, per (schedule, organization), the local wall time a run is
--     due, how late it may still start (window), what happens after an outage (catch_up 'skip' or
--     'once', within catch_up_minutes), a pause, a deterministic jitter (0–899 s, from the
--     organization and schedule) and the next local date with its instant (next_run_at). An
--     organization without a row keeps the schedule's global run (daily-batch: 03:00–06:00
--     America/New_York) exactly as before.
--   * scheduler.local_instant(date, time, zone) maps a local date and wall time to exactly one
--     instant: a wall time that does not exist (spring forward) runs at the instant it would have
--     been on the clock before the change (02:30 → 03:30 EDT); a wall time that exists twice
--     (fall back) runs at its first occurrence (01:30 EDT, not 01:30 EST). The next run is always
--     computed from the next local date and the wall time, never by adding 24 hours.
--   * public.set_org_schedule is the only writer: it rejects an unknown organization or schedule, a
--     time zone that pg_timezone_names does not list, a wall time that is not HH:MM[:SS], windows
--     out of range and a weekday on a daily schedule, each with a clear message; the service role
--     may call it (through the Data API), nobody writes the table directly. An edit never makes a
--     run due at once: the next run is the first local date whose instant is still ahead and that
--     comes after every date this organization already ran or missed (in the old or the new zone),
--     so changing the time zone never runs a local date twice.
--   * runs gain org_id (null for a schedule's global run), due_at, claimed_at and catch_up; their
--     unique key runs_one_per_period becomes (schedule, run_key, org_id), nulls not distinct: one
--     run per (schedule, organization, local period), and still one global run per period.
--   * scheduler.missed_runs: a local period an organization did not get (past its catch-up window,
--     or older than the one date that was caught up), visible in the views, the status and the page.
-- Objects: column schedules.work; tables scheduler.org_schedules, scheduler.missed_runs,
-- scheduler.known_time_zones; columns
-- runs.org_id, due_at, claimed_at, catch_up, scheduler_runs.org_id; constraint runs_one_per_period
-- (replaced); functions scheduler.local_instant, cadence_after, org_first_date,
-- public.set_org_schedule; config org_jitter_seconds.
-- Operators: nothing changes until an organization is given a schedule of its own
-- (select public.set_org_schedule(...)); RUNBOOK.md, "Organization schedules".
-- The current schema, every function with its body: supabase/schema.sql.

alter table scheduler.schedules add column work text not null default 'prompts'
  check (work in ('prompts', 'suggestions'));
comment on column scheduler.schedules.work is
  'What a run does: prompts (every active prompt against the providers) or suggestions (five new prompts per organization)';

insert into scheduler.config (key, value, description) values
  ('org_jitter_seconds', '900', 'organizations due at the same instant are spread over this many seconds (deterministic per organization and schedule)')
on conflict (key) do nothing;

-- pg_timezone_names as of this migration: reading the view costs ~30 ms (it walks the zone
-- files), this lookup microseconds; a name missing here is still looked up in the view.
create table scheduler.known_time_zones (name text primary key);
insert into scheduler.known_time_zones (name) select name from pg_catalog.pg_timezone_names on conflict do nothing;
alter table scheduler.known_time_zones enable row level security;

create table scheduler.org_schedules (
  schedule text not null references scheduler.schedules (name) on delete cascade,
  org_id uuid not null references public.organizations (id) on delete cascade,
  timezone text not null,
  run_at time not null,
  window_minutes integer not null default 180 check (window_minutes between 10 and 1440),
  weekday smallint check (weekday between 1 and 7),
  catch_up text not null default 'once' check (catch_up in ('skip', 'once')),
  catch_up_minutes integer not null default 360 check (catch_up_minutes between 0 and 1440),
  paused boolean not null default false,
  jitter_seconds integer not null check (jitter_seconds >= 0),
  next_local_date date not null,
  next_run_at timestamptz not null,
  last_run_key text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (schedule, org_id)
);
comment on table scheduler.org_schedules is
  'An organization''s own schedule (written only by public.set_org_schedule); without a row it runs in the schedule''s global run';
comment on column scheduler.org_schedules.next_run_at is
  'The instant next_local_date is due: local_instant(next_local_date, run_at, timezone) + jitter_seconds';
-- The tick's question ("is anyone due?") and the due pass's claim read this index only.
create index org_schedules_due on scheduler.org_schedules (schedule, next_run_at) where not paused;
create index org_schedules_by_org on scheduler.org_schedules (org_id);
alter table scheduler.org_schedules enable row level security;

create table scheduler.missed_runs (
  schedule text not null references scheduler.schedules (name) on delete cascade,
  org_id uuid not null references public.organizations (id) on delete cascade,
  run_key text not null,
  due_at timestamptz not null,
  recorded_at timestamptz not null,
  reason text not null,
  primary key (schedule, org_id, run_key)
);
comment on table scheduler.missed_runs is
  'Local periods an organization did not get: past the catch-up window, skip policy, or older than the date caught up';
create index missed_runs_recorded on scheduler.missed_runs (recorded_at);
alter table scheduler.missed_runs enable row level security;

alter table scheduler.runs
  add column org_id uuid references public.organizations (id),
  add column due_at timestamptz,
  add column claimed_at timestamptz,
  add column catch_up boolean not null default false;
comment on column scheduler.runs.org_id is 'The organization of an organization''s own run; null for the schedule''s global run';
comment on column scheduler.runs.due_at is 'The instant the period was due (an organization''s run: its local time plus jitter)';
alter table scheduler.runs drop constraint runs_one_per_period;
alter table scheduler.runs add constraint runs_one_per_period unique nulls not distinct (schedule, run_key, org_id);
create index runs_by_org on scheduler.runs (org_id, schedule, run_key) where org_id is not null;
create index runs_global_by_schedule on scheduler.runs (schedule, created_at) where org_id is null;

alter table scheduler.scheduler_runs add column org_id uuid;

-- A local date and wall time in a zone → one instant. The zone's offsets a day before and a day
-- after bracket the date (no zone changes twice within two days): a wall time valid under both
-- (fall back) takes the earlier instant; under neither (spring forward) the offset before the
-- change, which lands it as late after the change as it was meant to be after its start.
create function scheduler.local_instant(p_local_date date, p_wall_time time, p_timezone text) returns timestamptz
language plpgsql stable
set search_path = ''
as $$
declare
  v_local timestamp := p_local_date + p_wall_time;
  v_probe timestamptz;
  v_before interval;
  v_after interval;
  v_early timestamptz;
  v_late timestamptz;
  v_early_ok boolean;
  v_late_ok boolean;
begin
  v_probe := (v_local - interval '1 day') at time zone 'UTC';
  v_before := (v_probe at time zone p_timezone) - (v_local - interval '1 day');
  v_probe := (v_local + interval '1 day') at time zone 'UTC';
  v_after := (v_probe at time zone p_timezone) - (v_local + interval '1 day');
  v_early := (v_local - v_before) at time zone 'UTC';
  v_late := (v_local - v_after) at time zone 'UTC';
  v_early_ok := (v_early at time zone p_timezone) = v_local;
  v_late_ok := (v_late at time zone p_timezone) = v_local;
  if v_early_ok and v_late_ok then
    return least(v_early, v_late);
  elsif v_early_ok then
    return v_early;
  elsif v_late_ok then
    return v_late;
  end if;
  return v_early;
end
$$;
comment on function scheduler.local_instant(date, time, text) is
  'The one instant of a local date and wall time: a nonexistent time (spring forward) shifts by the gap, a repeated one (fall back) takes its first occurrence';

-- The next local date on a cadence after p_date: the next day, or the weekday of the next ISO week.
create function scheduler.cadence_after(p_period text, p_weekday smallint, p_date date) returns date
language sql immutable
set search_path = ''
as $$
  select case p_period
    when 'daily' then p_date + 1
    else p_date - (extract(isodow from p_date)::integer - 1) + 7 + (p_weekday - 1)
  end
$$;

-- The first local date an organization's schedule may run: on its cadence, after p_floor (the
-- latest local period it already ran or missed; for a weekly schedule, in a later ISO week), and
-- whose instant is still ahead of p_now.
create function scheduler.org_first_date(p_period text, p_weekday smallint, p_run_at time, p_timezone text,
                                         p_jitter_seconds integer, p_floor date, p_now timestamptz)
returns date
language plpgsql stable
set search_path = ''
as $$
declare
  v_date date := (p_now at time zone p_timezone)::date - 1;
begin
  if p_period = 'weekly' then
    v_date := v_date - (extract(isodow from v_date)::integer - 1) + (p_weekday - 1) - 7;
  end if;
  for i in 1 .. 800 loop
    if (p_floor is null or scheduler.period_key(p_period, v_date) > scheduler.period_key(p_period, p_floor))
       and scheduler.local_instant(v_date, p_run_at, p_timezone) + make_interval(secs => p_jitter_seconds) > p_now then
      return v_date;
    end if;
    v_date := scheduler.cadence_after(p_period, p_weekday, v_date);
  end loop;
  raise exception 'no next date found for %/% after %', p_period, p_timezone, p_floor;
end
$$;

-- The one writer of scheduler.org_schedules. Null arguments keep the current value (or, for a new
-- row, take the schedule's: its time zone, window start as the run time and window length).
create function public.set_org_schedule(
  p_org_id uuid,
  p_schedule text default 'daily-batch',
  p_timezone text default null,
  p_run_at text default null,
  p_window_minutes integer default null,
  p_catch_up text default null,
  p_catch_up_minutes integer default null,
  p_paused boolean default null,
  p_weekday integer default null,
  p_now timestamptz default now()
) returns jsonb
language plpgsql
-- security definer: the service role may set schedules through this validation only, never write the table.
security definer
set search_path = ''
as $$
declare
  v_s scheduler.schedules;
  v_old scheduler.org_schedules;
  v_new scheduler.org_schedules;
  v_exists boolean;
  v_floor date;
  v_timing_changed boolean;
begin
  if p_org_id is null or not exists (select from public.organizations where id = p_org_id) then
    raise exception 'unknown organization %', coalesce(p_org_id::text, 'null') using errcode = '22023';
  end if;
  select * into v_s from scheduler.schedules where name = p_schedule;
  if not found then
    raise exception 'unknown schedule "%"', p_schedule using errcode = '22023';
  end if;
  if p_timezone is not null
     and not exists (select from scheduler.known_time_zones where name = p_timezone)
     and not exists (select from pg_catalog.pg_timezone_names where name = p_timezone) then
    raise exception 'unknown time zone "%": use a name from pg_timezone_names, such as Australia/Sydney', p_timezone
      using errcode = '22023';
  end if;
  if p_run_at is not null and p_run_at !~ '^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$' then
    raise exception 'bad run time "%": a local wall time HH:MM (00:00 to 23:59)', p_run_at using errcode = '22023';
  end if;
  if p_window_minutes is not null and p_window_minutes not between 10 and 1440 then
    raise exception 'bad window: % minutes (10 to 1440)', p_window_minutes using errcode = '22023';
  end if;
  if p_catch_up is not null and p_catch_up not in ('skip', 'once') then
    raise exception 'bad catch-up policy "%": skip or once', p_catch_up using errcode = '22023';
  end if;
  if p_catch_up_minutes is not null and p_catch_up_minutes not between 0 and 1440 then
    raise exception 'bad catch-up window: % minutes (0 to 1440)', p_catch_up_minutes using errcode = '22023';
  end if;
  if p_weekday is not null and v_s.period <> 'weekly' then
    raise exception 'schedule "%" is daily: it takes no weekday', p_schedule using errcode = '22023';
  end if;
  if p_weekday is not null and p_weekday not between 1 and 7 then
    raise exception 'bad weekday %: 1 (Monday) to 7 (Sunday)', p_weekday using errcode = '22023';
  end if;

  -- Serializes with the due pass and a forced run of this organization (they lock the row too).
  select * into v_old from scheduler.org_schedules where schedule = p_schedule and org_id = p_org_id for update;
  v_exists := found;
  v_new.schedule := p_schedule;
  v_new.org_id := p_org_id;
  v_new.timezone := coalesce(p_timezone, v_old.timezone, v_s.timezone);
  v_new.run_at := coalesce(p_run_at::time, v_old.run_at, v_s.window_start);
  v_new.window_minutes := coalesce(p_window_minutes, v_old.window_minutes,
                                   least(1440, greatest(10, (extract(epoch from (v_s.window_end - v_s.window_start)) / 60)::integer)));
  v_new.weekday := coalesce(p_weekday::smallint, v_old.weekday, v_s.weekday);
  v_new.catch_up := coalesce(p_catch_up, v_old.catch_up, 'once');
  v_new.catch_up_minutes := coalesce(p_catch_up_minutes, v_old.catch_up_minutes, 360);
  v_new.paused := coalesce(p_paused, v_old.paused, false);
  v_new.jitter_seconds := coalesce(v_old.jitter_seconds,
    ((pg_catalog.hashtextextended(p_org_id::text || '/' || p_schedule, 0) % scheduler.config_int('org_jitter_seconds'))
      + scheduler.config_int('org_jitter_seconds'))::integer % scheduler.config_int('org_jitter_seconds'));
  v_timing_changed := not v_exists
    or v_new.timezone is distinct from v_old.timezone or v_new.run_at is distinct from v_old.run_at
    or v_new.weekday is distinct from v_old.weekday or (v_old.paused and not v_new.paused);

  if v_timing_changed then
    -- The latest local period this organization already had: its own runs and missed periods, and
    -- the global runs that planned it (their local date in the new zone).
    select max(d) into v_floor from (
      select scheduler.parse_run_key(v_s.period, r.run_key) as d
        from scheduler.runs r where r.schedule = p_schedule and r.org_id = p_org_id
      union all
      select (coalesce(r.due_at, r.created_at) at time zone v_new.timezone)::date
        from scheduler.runs r where r.schedule = p_schedule and r.org_id = p_org_id
      union all
      select scheduler.parse_run_key(v_s.period, m.run_key)
        from scheduler.missed_runs m where m.schedule = p_schedule and m.org_id = p_org_id
      union all
      select (r.created_at at time zone v_new.timezone)::date
        from scheduler.runs r
        join scheduler.batch_jobs j on j.run_id = r.id and j.org_id = p_org_id
       where r.schedule = p_schedule and r.org_id is null and r.created_at > p_now - interval '8 days'
    ) x;
    v_new.next_local_date := scheduler.org_first_date(v_s.period, v_new.weekday, v_new.run_at, v_new.timezone,
                                                      v_new.jitter_seconds, v_floor, p_now);
    v_new.next_run_at := scheduler.local_instant(v_new.next_local_date, v_new.run_at, v_new.timezone)
                         + make_interval(secs => v_new.jitter_seconds);
  else
    v_new.next_local_date := v_old.next_local_date;
    v_new.next_run_at := v_old.next_run_at;
  end if;

  insert into scheduler.org_schedules as o (schedule, org_id, timezone, run_at, window_minutes, weekday, catch_up,
                                            catch_up_minutes, paused, jitter_seconds, next_local_date, next_run_at,
                                            created_at, updated_at)
  values (v_new.schedule, v_new.org_id, v_new.timezone, v_new.run_at, v_new.window_minutes, v_new.weekday, v_new.catch_up,
          v_new.catch_up_minutes, v_new.paused, v_new.jitter_seconds, v_new.next_local_date, v_new.next_run_at, p_now, p_now)
  on conflict (schedule, org_id) do update
    set timezone = excluded.timezone, run_at = excluded.run_at, window_minutes = excluded.window_minutes,
        weekday = excluded.weekday, catch_up = excluded.catch_up, catch_up_minutes = excluded.catch_up_minutes,
        paused = excluded.paused, next_local_date = excluded.next_local_date, next_run_at = excluded.next_run_at,
        updated_at = p_now;

  return jsonb_build_object(
    'schedule', p_schedule, 'org_id', p_org_id, 'timezone', v_new.timezone, 'run_at', to_char(v_new.run_at, 'HH24:MI:SS'),
    'window_minutes', v_new.window_minutes, 'weekday', v_new.weekday, 'catch_up', v_new.catch_up,
    'catch_up_minutes', v_new.catch_up_minutes, 'paused', v_new.paused, 'jitter_seconds', v_new.jitter_seconds,
    'next_local_date', v_new.next_local_date, 'next_run_at', v_new.next_run_at,
    'next_run_local', to_char(v_new.next_run_at at time zone v_new.timezone, 'YYYY-MM-DD HH24:MI:SS'),
    'created', not v_exists);
end
$$;
comment on function public.set_org_schedule(uuid, text, text, text, integer, text, integer, boolean, integer, timestamptz) is
  'Sets an organization''s own schedule (validated; null keeps a value); never makes a run due at once';

revoke all on function scheduler.local_instant(date, time, text) from public, anon, authenticated;
revoke all on function scheduler.cadence_after(text, smallint, date) from public, anon, authenticated;
revoke all on function scheduler.org_first_date(text, smallint, time, text, integer, date, timestamptz) from public, anon, authenticated;
revoke all on function public.set_org_schedule(uuid, text, text, text, integer, text, integer, boolean, integer, timestamptz)
  from public, anon, authenticated;
grant execute on function public.set_org_schedule(uuid, text, text, text, integer, text, integer, boolean, integer, timestamptz)
  to service_role;
