-- The roles every Supabase database has, so grants and RLS behave as they do on Supabase.
-- Local platform only (scripts/lib/platform.sh runs it before migrations); idempotent.
do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
end
$$;
grant anon, authenticated, service_role to authenticator;
create schema if not exists extensions;
grant usage on schema extensions to anon, authenticated, service_role;
-- Supabase grants the API roles access to what postgres creates in public; do the same.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
-- pg_stat_statements, preloaded by the platform (configure_cluster) and in schema extensions, as
-- on hosted Supabase: the deploy tests check that no statement text it keeps holds a secret.
create extension if not exists pg_stat_statements with schema extensions;
