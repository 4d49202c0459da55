# shellcheck shell=bash
# Which PostgreSQL the local platform runs, and getting it. DAYBREAK_PG_MAJOR chooses the major:
# 15 (the default; what daybreak is developed and benchmarked on) comes from Debian's packages;
# 17 (what new hosted Supabase projects run) is not packaged for Debian 12 and Debian 13's binaries
# need a newer libc, so it is built once from Debian's own source tarball (pinned below by sha256)
# into a fixed prefix under /var/cache/daybreak, with contrib's pg_stat_statements, and reused by
# every later run (a stamp file in the prefix names what was built). pg_cron, pg_net and Vault
# are then built against whichever server this is (extensions.sh).
# Sourced by platform.sh (say, die, as_root, apt_install_missing).

# supabase/schema.sql is dumped from this major only: pg_dump's output differs between majors.
PG_SCHEMA_MAJOR=15
PG_CACHE_DIR="/var/cache/daybreak"
# PostgreSQL 17 from Debian's source package postgresql-17 (17.11-0+deb13u1): the upstream tarball,
# renamed; its sha256 is the one in Debian's signed .dsc. Debian's pool keeps only the versions its
# suites ship: when 17.11 leaves it, pin the new version here.
PG17_VERSION="17.11"
PG17_TARBALL="postgresql-17_17.11.orig.tar.bz2"
PG17_SHA256="dd27f2b3c59e73ed14aa3324901242bf69a032a6347805f274e6260322d42979"
PG17_URL="https://deb.debian.org/debian/pool/main/p/postgresql-17/$PG17_TARBALL"
PG17_CONFIGURE=(--without-icu --without-readline)

# use_pg_major MAJOR: sets PG_MAJOR and PG_BIN, and exports DAYBREAK_PG_MAJOR so that scripts and
# tests started from here use the same server.
use_pg_major() {
  case "$1" in
    15) PG_BIN="/usr/lib/postgresql/15/bin" ;;
    17) PG_BIN="$PG_CACHE_DIR/postgresql-$PG17_VERSION/bin" ;;
    *) die "DAYBREAK_PG_MAJOR=$1: the local platform runs PostgreSQL 15 (Debian's packages) or 17 (built from Debian's source)" ;;
  esac
  PG_MAJOR="$1"
  export DAYBREAK_PG_MAJOR="$1"
}
use_pg_major "${DAYBREAK_PG_MAJOR:-15}"

postgres_from_debian() { [ "$PG_MAJOR" = 15 ]; }

# ensure_postgres_server: the server binaries and pg_stat_statements for PG_MAJOR.
ensure_postgres_server() {
  if postgres_from_debian; then
    [ -x "$PG_BIN/initdb" ] || apt_install "" "postgresql-$PG_MAJOR"
  else
    ensure_postgres_from_source
  fi
  [ -f "$("$PG_BIN/pg_config" --sharedir)/extension/pg_stat_statements.control" ] \
    || die "pg_stat_statements is missing from PostgreSQL $PG_MAJOR ($PG_BIN)"
  # The cluster's TLS certificate (hosted Supabase serves TLS; scripts/deploy requires it).
  command -v openssl >/dev/null 2>&1 || apt_install "for the cluster's TLS certificate" openssl
}

postgres_build_stamp() {
  printf 'postgresql %s sha256 %s configure %s\n' "$PG17_VERSION" "$PG17_SHA256" "${PG17_CONFIGURE[*]}"
}

ensure_postgres_from_source() {
  local prefix="$PG_CACHE_DIR/postgresql-$PG17_VERSION" lock lock_fd
  [ "$(cat "$prefix/.daybreak-build" 2>/dev/null)" = "$(postgres_build_stamp)" ] && return 0
  as_root mkdir -p "$PG_CACHE_DIR/sources"
  lock="$PG_CACHE_DIR/postgresql-$PG17_VERSION.lock"
  [ -w "$lock" ] || { as_root touch "$lock" && as_root chmod 666 "$lock"; } || die "cannot create $lock"
  exec {lock_fd}>"$lock"
  if ! flock -n "$lock_fd"; then
    say "waiting for another daybreak building PostgreSQL $PG17_VERSION (lock: $lock)"
    flock "$lock_fd" || die "cannot lock $lock"
  fi
  if [ "$(cat "$prefix/.daybreak-build" 2>/dev/null)" != "$(postgres_build_stamp)" ]; then
    build_postgres_from_source "$prefix"
  fi
  exec {lock_fd}>&-
}

# postgres_source_tarball: the path of the verified tarball: $DAYBREAK_EXTENSION_SOURCES, the
# cache, or downloaded from Debian's archive into the cache.
postgres_source_tarball() {
  local dir="${DAYBREAK_EXTENSION_SOURCES:-}" cached="$PG_CACHE_DIR/sources/$PG17_TARBALL" file partial
  for file in ${dir:+"$dir/$PG17_TARBALL"} "$cached"; do
    [ -f "$file" ] || continue
    if [ "$(sha256sum <"$file" | cut -d' ' -f1)" = "$PG17_SHA256" ]; then printf '%s\n' "$file"; return 0; fi
    say "$file does not have the pinned sha256 $PG17_SHA256; not using it"
  done
  say "downloading $PG17_URL (21.8 MB)"
  partial="$cached.partial-$$"
  if ! as_root curl -fsSL --retry 2 --connect-timeout 10 -o "$partial" "$PG17_URL"; then
    as_root rm -f "$partial"
    die "PostgreSQL $PG17_VERSION is not built on this machine and its source is missing: $PG17_TARBALL (sha256 $PG17_SHA256) is not in ${dir:+$dir or }$PG_CACHE_DIR/sources, and downloading $PG17_URL failed. Put that file in $PG_CACHE_DIR/sources (or in the directory DAYBREAK_EXTENSION_SOURCES names), or run scripts/test with DAYBREAK_SKIP_PG17=1 to leave out its PostgreSQL 17 pass"
  fi
  if [ "$(sha256sum <"$partial" | cut -d' ' -f1)" != "$PG17_SHA256" ]; then
    as_root rm -f "$partial"
    die "$PG17_URL does not have the pinned sha256 $PG17_SHA256; refusing to build it"
  fi
  as_root mv "$partial" "$cached" || die "cannot move the download into $cached"
  printf '%s\n' "$cached"
}

# build_postgres_from_source PREFIX (as root; ~3 minutes on 2 cores): configure, make, install the
# server and pg_stat_statements into PREFIX; the stamp, written last, says the build is complete.
build_postgres_from_source() {
  local prefix="$1" tarball work log
  apt_install_missing "to build PostgreSQL $PG17_VERSION" bison flex zlib1g-dev build-essential
  tarball="$(postgres_source_tarball)" || exit 1
  work="$(as_root mktemp -d "$PG_CACHE_DIR/build-$PG17_VERSION.XXXXXX")"
  log="$(mktemp "${TMPDIR:-/tmp}/daybreak-postgresql-$PG17_VERSION.XXXXXX.log")"
  say "building PostgreSQL $PG17_VERSION from $tarball into $prefix (once per machine; log: $log)"
  if ! { as_root tar -xjf "$tarball" -C "$work" --strip-components=1 \
         && (cd "$work" && as_root ./configure --prefix="$prefix" "${PG17_CONFIGURE[@]}") \
         && as_root make -C "$work" -j2 \
         && as_root rm -rf "$prefix" \
         && as_root make -C "$work" install \
         && as_root make -C "$work/contrib/pg_stat_statements" install; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    as_root rm -rf "$work" "$prefix"
    die "building PostgreSQL $PG17_VERSION failed (log: $log)"
  fi
  as_root rm -rf "$work"
  postgres_build_stamp | as_root tee "$prefix/.daybreak-build" >/dev/null || die "cannot write $prefix/.daybreak-build"
  rm -f "$log"
  say "PostgreSQL $PG17_VERSION is in $prefix"
}
