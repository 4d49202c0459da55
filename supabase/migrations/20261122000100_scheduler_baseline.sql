-- daybreak baseline.
-- Purpose: the private `scheduler` schema with its security baseline, pg_cron, and pg_net.
-- Objects: extension pg_cron, extension pg_net (where available), schema scheduler.
-- Operators: nothing to do. pg_net is the extension, on Supabase and on the local platform alike
-- (the branch that accepts a bare net.http_post served an early local imitation, since removed).
-- The current schema, every function with its body: supabase/schema.sql.

create extension if not exists pg_cron;

do $$
begin
  if exists (select from pg_catalog.pg_available_extensions where name = 'pg_net') then
    create extension if not exists pg_net with schema extensions;
  elsif not exists (
    select from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'net' and p.proname = 'http_post'
  ) then
    raise exception 'daybreak needs pg_net (net.http_post) so cron ticks can call edge functions'
      using hint = 'On Supabase enable the pg_net extension; locally scripts/dev installs sql/local/10_pg_net.sql.';
  end if;
end
$$;

-- scheduler is never exposed to the Data API: the edge functions reach it through a direct
-- database connection, operators through SQL. anon/authenticated get nothing, now or later.
create schema if not exists scheduler;
revoke all on schema scheduler from public, anon, authenticated;
alter default privileges in schema scheduler revoke all on tables from public, anon, authenticated;
alter default privileges in schema scheduler revoke all on sequences from public, anon, authenticated;
alter default privileges in schema scheduler revoke execute on functions from public, anon, authenticated;

comment on schema scheduler is 'daybreak: exactly-once daily batch scheduling (private; not exposed to the Data API)';
