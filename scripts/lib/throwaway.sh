# shellcheck shell=bash
# A throwaway stack for scripts/test, scripts/schema, bench/run and bench/soak/run: a cluster in a
# fresh temporary directory on a free loopback port, with the Supabase roles; every process started
# afterwards carries DAYBREAK_RUN_TAG, and all of it is stopped and removed on exit, failure or
# Ctrl-C. Sourced by platform.sh (which defines the cluster functions used here).

THROWAWAY_DIR=""
THROWAWAY_DATADIR=""
THROWAWAY_URL=""

remove_throwaway() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$THROWAWAY_DATADIR" ]; then
    stop_cluster "$THROWAWAY_DATADIR"
    remove_cluster_data "$THROWAWAY_DATADIR"
  fi
  kill_tagged_processes "$DAYBREAK_RUN_TAG"
  [ -n "$THROWAWAY_DIR" ] && rm -rf "$THROWAWAY_DIR"
  exit "$status"
}

# use_throwaway_cluster NAME: tags this run, installs the cleanup traps, starts the cluster and
# sets THROWAWAY_DIR (the temporary directory, for the caller's files too), THROWAWAY_DATADIR and
# THROWAWAY_URL. Migrations are the caller's next step (push_migrations "$THROWAWAY_URL").
use_throwaway_cluster() {
  local name="$1" port
  export DAYBREAK_RUN_TAG="daybreak-$name-$$-$RANDOM"
  trap remove_throwaway EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  THROWAWAY_DIR="$(mktemp -d "${TMPDIR:-/tmp}/daybreak-$name.XXXXXX")"
  chmod 755 "$THROWAWAY_DIR"
  THROWAWAY_DATADIR="$(cluster_datadir "$THROWAWAY_DIR/pg")"
  port="$(free_port)"
  say "starting PostgreSQL $PG_MAJOR + pg_cron, pg_net, Vault on 127.0.0.1:$port (data in $THROWAWAY_DATADIR)"
  start_cluster "$THROWAWAY_DATADIR" "$port"
  THROWAWAY_URL="$(pg_url "$port")"
  prepare_database "$THROWAWAY_URL"
}

# write_schema URL OUT (after use_throwaway_cluster): daybreak's current schema as readable files,
# OUT/schema.sql (the index) and OUT/schema/<concept>.sql; into supabase/ (scripts/schema), or
# elsewhere for test/sql/schema.test.ts to compare with what is committed (scripts/test).
write_schema() {
  local url="$1" out="$2"
  dump_schema "$url" >"$THROWAWAY_DIR/schema-dump.sql"
  "$DAYBREAK_ROOT/node_modules/.bin/tsx" "$DAYBREAK_ROOT/scripts/lib/schema-split.ts" "$THROWAWAY_DIR/schema-dump.sql" "$out" \
    || die "splitting the schema failed"
}

# dump_schema URL: daybreak's current schema as one SQL file, split by write_schema: the
# extensions, then pg_dump of schemas scheduler and public (tables, indexes, views, every function
# with its body, grants, row security), then the cron jobs and the config rows, in a stable order.
# Only from PostgreSQL PG_SCHEMA_MAJOR: pg_dump's output differs between majors.
dump_schema() {
  local url="$1"
  [ "$PG_MAJOR" = "$PG_SCHEMA_MAJOR" ] \
    || die "supabase/schema.sql is dumped from PostgreSQL $PG_SCHEMA_MAJOR (pg_dump's output differs between majors), not $PG_MAJOR"
  printf -- '-- ---------------------------------------------------------------- extensions\n'
  psql_run "$url" -At -c "
    select format('create extension if not exists %I with schema %I; -- version %s', e.extname, n.nspname, e.extversion)
      from pg_extension e join pg_namespace n on n.oid = e.extnamespace
     where e.extname in ('pg_cron', 'pg_net', 'supabase_vault') order by e.extname" || die "reading extensions failed"
  printf '\n-- ---------------------------------------------------------------- schemas scheduler and public (pg_dump)\n'
  "$PG_BIN/pg_dump" "$url" --schema-only --no-owner --restrict-key=daybreakschema -n scheduler -n public \
    | sed -e '/^\\restrict /d' -e '/^\\unrestrict /d' -e '/^-- Dumped from /d' -e '/^-- Dumped by /d' \
          -e '/^SET /d' -e "/^SELECT pg_catalog.set_config('search_path', '', false);/d" \
          -e '/^-- PostgreSQL database dump/d' -e '/^--$/d' -e 's/; Owner: -$//' \
    | cat -s || die "pg_dump failed"
  printf -- '-- ---------------------------------------------------------------- cron jobs\n'
  psql_run "$url" -At -c "
    select format('select cron.schedule(%L, %L, %L);', jobname, schedule, command)
      from cron.job where jobname like 'daybreak-%' order by jobname" || die "reading cron jobs failed"
  printf -- '\n-- ---------------------------------------------------------------- scheduler.config as migrated\n'
  psql_run "$url" -At -c "
    select format('-- %s = %s: %s', key, value, description) from scheduler.config order by key" || die "reading config failed"
}
