# shellcheck shell=bash
# The local Supabase-compatible platform, shared by scripts/dev, scripts/test and bench/run:
# a PostgreSQL 15 cluster of our own with real pg_cron, the Supabase roles, the sql/local
# stand-ins for pg_net and Vault, and migrations applied by the real Supabase CLI.
# Sourced, not executed. Every function prints progress to stderr and fails loudly.

DAYBREAK_ROOT="${DAYBREAK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_SUPERUSER_PASSWORD="${PG_SUPERUSER_PASSWORD:-postgres}"

say() { printf '\033[1m[daybreak]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[daybreak] error:\033[0m %s\n' "$*" >&2; exit 1; }

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

# npm ci only when node_modules was not installed from this exact package-lock.json.
ensure_npm_deps() {
  local force="${1:-}" want stamp="$DAYBREAK_ROOT/node_modules/.daybreak-lock-sha"
  want="$(sha256sum "$DAYBREAK_ROOT/package-lock.json" | cut -d' ' -f1)"
  if [ "$force" = "--force" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing npm dependencies (npm ci)"
    (cd "$DAYBREAK_ROOT" && npm ci --no-fund --no-audit --loglevel=error) >&2 || die "npm ci failed"
    printf '%s\n' "$want" >"$stamp"
  fi
}

# PostgreSQL 15 and pg_cron from Debian, installed only when missing (apt-get update once first).
ensure_postgres_packages() {
  local missing=()
  [ -x "$PG_BIN/initdb" ] || missing+=(postgresql-15)
  [ -f /usr/share/postgresql/15/extension/pg_cron.control ] || missing+=(postgresql-15-cron)
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get: daybreak needs Debian/Ubuntu"
  say "installing ${missing[*]} with apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

port_in_use() {
  node -e 'const s=require("net").connect(+process.argv[1],"127.0.0.1");s.on("connect",()=>{s.destroy();process.exit(0)});s.on("error",()=>process.exit(1))' "$1"
}

# init_cluster DATADIR: a fresh cluster owned by the server's user, password auth on loopback.
init_cluster() {
  local datadir="$1" pwfile
  mkdir -p "$datadir"
  is_root && chown postgres:postgres "$datadir"
  chmod 700 "$datadir"
  pwfile="$(mktemp)"; printf '%s\n' "$PG_SUPERUSER_PASSWORD" >"$pwfile"
  is_root && chown postgres "$pwfile"
  as_pg_owner "$PG_BIN/initdb" -D "$datadir" -U postgres --pwfile="$pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null || { rm -f "$pwfile"; die "initdb failed in $datadir"; }
  rm -f "$pwfile"
  # pg_cron runs its jobs in background workers (no libpq login needed), in database `postgres`,
  # and like hosted Supabase in UTC.
  as_pg_owner tee -a "$datadir/postgresql.conf" >/dev/null <<EOF
# --- daybreak local platform ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$datadir'
shared_preload_libraries = 'pg_cron'
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

# start_cluster DATADIR PORT: start (initialising when empty) and wait until it accepts logins.
start_cluster() {
  local datadir="$1" port="$2"
  [ -f "$datadir/PG_VERSION" ] || init_cluster "$datadir"
  if as_pg_owner "$PG_BIN/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
    say "postgres already running in $datadir"
    return 0
  fi
  port_in_use "$port" && die "port $port is taken by another process; stop it or pick another port"
  as_pg_owner "$PG_BIN/pg_ctl" -D "$datadir" -o "-p $port" -l "$datadir/server.log" -w -t 60 start >/dev/null \
    || { tail -n 20 "$datadir/server.log" >&2; die "postgres did not start (log: $datadir/server.log)"; }
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

# The roles Supabase has and the stand-ins for the extensions only Supabase has.
prepare_database() {
  local url="$1" f
  psql_run "$url" -f "$DAYBREAK_ROOT/sql/local/00_roles.sql" || die "creating Supabase roles failed"
  for f in "$DAYBREAK_ROOT"/sql/local/[1-9]*.sql; do
    psql_run "$url" -f "$f" || die "installing stand-in $(basename "$f") failed"
  done
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
