-- The extensions a hosted Supabase database has before any migration of ours runs and that daybreak
-- does not create itself. Local platform only (scripts/lib/platform.sh runs every file here, in
-- order, before migrations); idempotent.
-- pg_stat_statements: preloaded by the platform and created in schema extensions, as on hosted.
create extension if not exists pg_stat_statements with schema extensions;
