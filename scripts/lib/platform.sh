# shellcheck shell=bash
# The local Supabase-compatible platform, shared by scripts/dev, scripts/test and bench/run:
# a PostgreSQL cluster of our own (15 by default, 17 with DAYBREAK_PG_MAJOR=17) with what hosted
# Supabase preloads: the real pg_cron 1.6.4, pg_net and Supabase Vault (built from pinned
# upstream sources when they are not installed) and pg_stat_statements; the Supabase roles, and
# migrations applied by the real Supabase CLI.
# Sourced, not executed. Every function prints progress to stderr and fails loudly.

DAYBREAK_ROOT="${DAYBREAK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
PG_SUPERUSER_PASSWORD="${PG_SUPERUSER_PASSWORD:-postgres}"

say() { printf '\033[1m[daybreak]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[daybreak] error:\033[0m %s\n' "$*" >&2; exit 1; }

# PG_MAJOR, PG_BIN and getting the server (Debian's packages, or built from source): postgres-server.sh.
source "$DAYBREAK_ROOT/scripts/lib/postgres-server.sh"

is_root() { [ "$(id -u)" = "0" ]; }

# Postgres refuses to run as root, so as root every server-side command runs as `postgres`.
as_pg_owner() {
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

as_root() {
  if is_root; then "$@";
  elif command -v sudo >/dev/null 2>&1; then sudo "$@";
  else die "need root (or sudo) to run: $*"; fi
}

# npm ci only when node_modules was not installed from this exact package-lock.json; then Deno's
# npm cache for the functions (deno.sh), which lives in node_modules.
ensure_npm_deps() {
  local force="${1:-}" want stamp="$DAYBREAK_ROOT/node_modules/.daybreak-lock-sha"
  want="$(sha256sum "$DAYBREAK_ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ "$force" = "--force" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing npm dependencies (npm ci)"
    (cd "$DAYBREAK_ROOT" && npm ci --no-fund --no-audit --loglevel=error) >&2 || die "npm ci failed"
    printf '%s\n' "$want" >"$stamp"
  fi
  ensure_deno_cache
}

# ensure_platform: the PostgreSQL server of PG_MAJOR with pg_stat_statements, and pg_cron, pg_net
# and Supabase Vault at the pinned versions; each is installed or built only when missing.
ensure_platform() {
  ensure_postgres_server
  ensure_extensions
}

# apt_install WHY PACKAGE...: installs with apt (sudo when not root); WHY says what for, or "".
apt_install() {
  local why="$1"; shift
  command -v apt-get >/dev/null 2>&1 || die "missing $*${why:+ ($why)} and no apt-get: daybreak needs Debian/Ubuntu"
  say "installing $* with apt${why:+ ($why)}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 \
    || die "apt-get install $* failed"
}

# apt_install_missing WHY PACKAGE...: only those not installed (naming an installed one would upgrade it).
apt_install_missing() {
  local why="$1" missing=() p
  shift
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] || apt_install "$why" "${missing[@]}"
}

# Deno's binary, flags and npm cache: deno.sh.
source "$DAYBREAK_ROOT/scripts/lib/deno.sh"
# pg_cron, pg_net and Supabase Vault, built from pinned sources: extensions.sh.
source "$DAYBREAK_ROOT/scripts/lib/extensions.sh"
# Throwaway clusters (tests, bench, soak, schema) and the schema dump: throwaway.sh.
source "$DAYBREAK_ROOT/scripts/lib/throwaway.sh"

# ensure_browser: Debian's Chromium for the status page's browser test (playwright-core drives it;
# no browser is downloaded from anywhere else).
ensure_browser() {
  command -v chromium >/dev/null 2>&1 && return 0
  apt_install "for the status page's browser test" chromium
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

port_in_use() {
  node -e 'const s=require("net").connect(+process.argv[1],"127.0.0.1");s.on("connect",()=>{s.destroy();process.exit(0)});s.on("error",()=>process.exit(1))' "$1"
}

# cluster_datadir WANTED: where a cluster meant for WANTED keeps its data. The server runs as
# the `postgres` OS user when the scripts run as root; when that user cannot reach WANTED's
# folder (a repository under /root, or in any directory only its owner may enter) the data lives
# in /var/tmp/daybreak-<hash of WANTED>/pg instead, owned by postgres. Same WANTED, same place,
# so a kept cluster is found again, and remove_cluster_data (scripts/dev --reset) removes it.
cluster_datadir() {
  local wanted="$1" parent hash
  parent="$(dirname "$wanted")"
  mkdir -p "$parent"
  if ! is_root || runuser -u postgres -- test -x "$parent" 2>/dev/null; then
    printf '%s\n' "$wanted"
    return 0
  fi
  hash="$(printf '%s' "$wanted" | sha256sum | cut -c1-16)"
  printf '/var/tmp/daybreak-%s/pg\n' "$hash"
}

# remove_cluster_data DATADIR: the data dir, and the /var/tmp/daybreak-* folder holding it.
remove_cluster_data() {
  local datadir="$1" parent
  parent="$(dirname "$datadir")"
  case "$parent" in
    /var/tmp/daybreak-*) rm -rf "$parent" ;;
    *) rm -rf "$datadir" ;;
  esac
}

# init_cluster DATADIR: a fresh cluster owned by the server's user, password auth on loopback.
init_cluster() {
  local datadir="$1" pwfile parent
  parent="$(dirname "$datadir")"
  case "$parent" in
    /var/tmp/daybreak-*)
      mkdir -p "$parent"
      chown postgres:postgres "$parent"
      chmod 700 "$parent" ;;
  esac
  mkdir -p "$datadir"
  is_root && chown postgres:postgres "$datadir"
  chmod 700 "$datadir"
  if is_root && ! runuser -u postgres -- test -w "$datadir" 2>/dev/null; then
    die "the postgres user cannot reach $datadir (a parent directory does not let it in)"
  fi
  pwfile="$(mktemp)"; printf '%s\n' "$PG_SUPERUSER_PASSWORD" >"$pwfile"
  is_root && chown postgres "$pwfile"
  as_pg_owner "$PG_BIN/initdb" -D "$datadir" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null || { rm -f "$pwfile"; die "initdb failed in $datadir"; }
  rm -f "$pwfile"
  # pg_cron runs its jobs in background workers (no libpq login needed), in database `postgres`,
  # and like hosted Supabase in UTC. The preloaded libraries and Vault's key: configure_cluster.
  as_pg_owner tee -a "$datadir/postgresql.conf" >/dev/null <<EOF
# --- daybreak local platform ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$datadir'
cron.database_name = 'postgres'
cron.use_background_workers = on
max_worker_processes = 32
max_connections = 300
shared_buffers = 512MB
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
EOF
}

random_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# configure_cluster DATADIR (on every start; idempotent): pg_stat_statements, pg_cron, pg_net and
# Vault preloaded as on hosted Supabase, and TLS on, as on Supabase (scripts/deploy requires it), with a
# self-signed certificate made once per cluster. Vault's root key is made once per cluster (32 random bytes, 64 hex characters)
# and served by a getkey script that only the server's user may read or run. pg_net's worker
# connects to the database daybreak uses. These settings live in daybreak.conf, included last
# from postgresql.conf, so a cluster made by an earlier daybreak picks them up too.
configure_cluster() {
  local datadir="$1" getkey="$1/daybreak-vault-getkey"
  if ! as_pg_owner test -s "$getkey"; then
    printf '#!/bin/sh\n# The Vault root key of this cluster only (made by daybreak scripts/lib/platform.sh).\necho %s\n' \
      "$(random_hex 32)" | as_pg_owner sh -c 'umask 077 && cat >"$1" && chmod 700 "$1"' sh "$getkey" \
      || die "cannot write the Vault getkey script $getkey"
  fi
  if ! as_pg_owner test -s "$datadir/server.key"; then
    as_pg_owner sh -c 'umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -days 3650 -subj /CN=localhost -keyout "$1/server.key" -out "$1/server.crt" 2>/dev/null' sh "$datadir" \
      || die "cannot make a TLS certificate in $datadir (is openssl installed?)"
  fi
  as_pg_owner sh -c 'umask 077 && cat >"$1"' sh "$datadir/daybreak.conf" <<EOF || die "cannot write $datadir/daybreak.conf"
# Written by daybreak (scripts/lib/platform.sh) on every start; edits are lost.
shared_preload_libraries = 'pg_stat_statements,pg_cron,pg_net,supabase_vault'
vault.getkey_script = '$getkey'
pg_net.database_name = 'postgres'
ssl = on
EOF
  if ! as_pg_owner grep -q "^include_if_exists = 'daybreak.conf'" "$datadir/postgresql.conf"; then
    printf "include_if_exists = 'daybreak.conf'\n" | as_pg_owner tee -a "$datadir/postgresql.conf" >/dev/null
  fi
}

# start_cluster DATADIR PORT: start (initialising when empty) and wait until it accepts logins.
start_cluster() {
  local datadir="$1" port="$2" made_by
  ensure_platform
  as_pg_owner test -f "$datadir/PG_VERSION" 2>/dev/null || init_cluster "$datadir"
  made_by="$(as_pg_owner cat "$datadir/PG_VERSION")"
  [ "$made_by" = "$PG_MAJOR" ] || die "the cluster in $datadir was made by PostgreSQL $made_by, not $PG_MAJOR (DAYBREAK_PG_MAJOR): use DAYBREAK_PG_MAJOR=$made_by, or remove it (scripts/dev --reset)"
  if as_pg_owner "$PG_BIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
    say "postgres already running in $datadir"
    return 0
  fi
  configure_cluster "$datadir"
  port_in_use "$port" && die "port $port is taken by another process; stop it or pick another port"
  as_pg_owner "$PG_BIN/pg_ctl" -D "$datadir" -o "-p $port" -l "$datadir/server.log" -w -t 60 start >/dev/null \
    || { as_pg_owner tail -n 20 "$datadir/server.log" >&2; die "postgres did not start (log: $datadir/server.log)"; }
}

stop_cluster() {
  local datadir="$1"
  [ -f "$datadir/postmaster.pid" ] || return 0
  as_pg_owner "$PG_BIN/pg_ctl" -D "$datadir" -m fast -w -t 60 stop >/dev/null 2>&1 \
    || as_pg_owner "$PG_BIN/pg_ctl" -D "$datadir" -m immediate stop >/dev/null 2>&1 || true
}

pg_url() { printf 'postgresql://postgres:%s@127.0.0.1:%s/postgres' "$PG_SUPERUSER_PASSWORD" "$1"; }

psql_run() {
  local url="$1"; shift
  PGOPTIONS='--client-min-messages=warning' psql "$url" -v ON_ERROR_STOP=1 -X -q "$@"
}

# What a Supabase database has before daybreak's migrations: the roles, pg_stat_statements in
# schema extensions, and (a cluster kept from before) pg_cron updated to the installed version.
# daybreak's own extensions are created by the migrations, as on Supabase.
prepare_database() {
  local url="$1" file
  for file in "$DAYBREAK_ROOT"/sql/local/*.sql; do
    psql_run "$url" -f "$file" || die "running $file failed (is the database at $url reachable?)"
  done
  update_pg_cron "$url"
}

# Migrations applied by the real Supabase CLI; it records them in supabase_migrations.
push_migrations() {
  local url="$1"
  say "applying migrations with supabase db push"
  (cd "$DAYBREAK_ROOT" && SUPABASE_YES=1 npx --no-install supabase db push --remote="$url" --yes --skip-vault) >&2 \
    || die "supabase db push failed"
}

# Stops every process carrying DAYBREAK_RUN_TAG=<tag> in its environment (except this shell).
kill_tagged_processes() {
  local tag="$1" pid pids=()
  for pid in $(grep -l -s -a -z "^DAYBREAK_RUN_TAG=$tag\$" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3); do
    [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] || pids+=("$pid")
  done
  [ ${#pids[@]} -eq 0 ] && return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}
