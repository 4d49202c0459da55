# shellcheck shell=bash
# pg_cron, pg_net and Supabase Vault for the local platform, at hosted Supabase's versions. Sourced
# by platform.sh (which defines say, die, as_root, apt_install, PG_MAJOR and PG_BIN). Each is built
# (PGXS) from its pinned, checksummed upstream source and installed into the directories of the
# PostgreSQL that PG_BIN names, once: when the pinned build is already there nothing is built.
# Debian packages pg_net and Vault not at all, and pg_cron only at 1.4 (no second-level
# schedules): its package postgresql-<major>-cron is removed when present, since its files
# (pg_cron.so, pg_cron.control, the SQL scripts, JIT bitcode) are the ones the pinned build installs.
PG_CRON_ARCHIVE="pg_cron-1.6.4.tar.gz"      # tag v1.6.4, SQL version 1.6 (hosted Supabase runs 1.6.4)
PG_CRON_RELEASE="1.6.4"
PG_CRON_URL="https://github.com/citusdata/pg_cron/archive/refs/tags/v1.6.4.tar.gz"
PG_NET_ARCHIVE="pg_net-0.20.5.tar.gz"       # tag v0.20.5, SQL version 0.20.4
PG_NET_VERSION="0.20.4"
PG_NET_URL="https://github.com/supabase/pg_net/archive/refs/tags/v0.20.5.tar.gz"
VAULT_ARCHIVE="supabase_vault-0.3.1.tar.gz" # tag v0.3.1
VAULT_VERSION="0.3.1"
VAULT_URL="https://github.com/supabase/vault/archive/refs/tags/v0.3.1.tar.gz"
# The sha256 of the build inputs (the paths in *_TREE: `sha256sum` lines sorted by path, hashed).
# It checks a downloaded tag archive, whose bytes differ from the vendored copies (those leave out
# nix/, .github/, test/), and double-checks the vendored ones after SHA256SUMS.
PG_CRON_TREE="Makefile ./*.control ./*.sql include src"
PG_CRON_TREE_SHA256="9f6ae1f40658d1c55d50efe957da121ebd385db0adcb83c10706dce22bdd9a49"
SUPABASE_TREE="Makefile ./*.control.in sql src"
PG_NET_TREE_SHA256="e85f13ed4ac06806d19520b45b8e73e44d6648e318ba6188f5202e181d729747"
VAULT_TREE_SHA256="e43053cb78c6b4fff560c5a099d00f02755ce6c7f4b7003c3d9b7ee894de5592"

pg_sharedir() { "$PG_BIN/pg_config" --sharedir; }
pg_pkglibdir() { "$PG_BIN/pg_config" --pkglibdir; }

# installed_extension_version NAME: the default_version of the installed control file, when its
# library is installed too; nothing otherwise.
installed_extension_version() {
  local name="$1" control
  control="$(pg_sharedir)/extension/$name.control"
  [ -f "$control" ] && [ -f "$(pg_pkglibdir)/$name.so" ] || return 0
  sed -n "s/^[[:space:]]*default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$control" | head -n1
}

# pg_cron's control file says 1.6 for every 1.6.x and its library carries no version, so the
# pinned build is known by a stamp written next to the control file when daybreak installed it:
# the release, the source tree's sha256 and the installed library's sha256.
pg_cron_stamp_file() { printf '%s/extension/pg_cron.daybreak-build\n' "$(pg_sharedir)"; }
pg_cron_stamp() {
  local so
  so="$(pg_pkglibdir)/pg_cron.so"
  [ -f "$so" ] || return 0
  printf 'pg_cron %s tree %s so %s\n' "$PG_CRON_RELEASE" "$PG_CRON_TREE_SHA256" "$(sha256sum <"$so" | cut -d' ' -f1)"
}
pinned_pg_cron_installed() {
  [ -n "$(pg_cron_stamp)" ] && [ "$(cat "$(pg_cron_stamp_file)" 2>/dev/null)" = "$(pg_cron_stamp)" ]
}

# Where the pinned archives are: the directory named by $DAYBREAK_EXTENSION_SOURCES (configuration:
# a mirror, a vendored copy); prints nothing when it is unset, and the tagged releases are downloaded.
extension_sources_dir() {
  [ -n "${DAYBREAK_EXTENSION_SOURCES:-}" ] || return 0
  [ -d "$DAYBREAK_EXTENSION_SOURCES" ] || die "DAYBREAK_EXTENSION_SOURCES=$DAYBREAK_EXTENSION_SOURCES is not a directory"
  (cd "$DAYBREAK_EXTENSION_SOURCES" && pwd)
}

# source_tree_sha256 DIR TREE: TREE's globs are expanded inside DIR.
source_tree_sha256() {
  # shellcheck disable=SC2086
  (cd "$1" && find $2 -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
}

# fetch_extension_source ARCHIVE URL TREE TREE_SHA DEST: unpacks the verified sources into DEST.
fetch_extension_source() {
  local archive="$1" url="$2" tree="$3" tree_sha="$4" dest="$5" dir file got
  dir="$(extension_sources_dir)"
  mkdir -p "$dest"
  if [ -n "$dir" ] && [ -f "$dir/$archive" ]; then
    [ -f "$dir/SHA256SUMS" ] || die "$dir has $archive but no SHA256SUMS to check it against"
    grep -E "^[0-9a-f]{64}  $archive\$" "$dir/SHA256SUMS" >"$dest.sum" \
      || die "$dir/SHA256SUMS does not pin $archive"
    (cd "$dir" && sha256sum --quiet -c "$dest.sum") >&2 \
      || die "$dir/$archive does not match its checksum in $dir/SHA256SUMS; refusing to build it"
    rm -f "$dest.sum"
    file="$dir/$archive"
  else
    command -v curl >/dev/null 2>&1 || die "$(extension_sources_problem "$archive" "$dir")"
    say "downloading $url"
    file="$dest.tar.gz"
    curl -fsSL --retry 2 --connect-timeout 10 -o "$file" "$url" 2>/dev/null \
      || die "$(extension_sources_problem "$archive" "$dir") (download of $url failed)"
  fi
  tar -xzf "$file" -C "$dest" --strip-components=1 || die "cannot unpack $file"
  got="$(source_tree_sha256 "$dest" "$tree")"
  [ "$got" = "$tree_sha" ] || die "the sources in $file are not the pinned ones (tree sha256 $got, want $tree_sha)"
}

extension_sources_problem() {
  local where="${2:-DAYBREAK_EXTENSION_SOURCES, which is not set}"
  printf 'cannot find the pinned source %s: put %s, %s and %s (with a SHA256SUMS file pinning them) in a directory and point DAYBREAK_EXTENSION_SOURCES at it (looked in %s), or let this machine reach github.com to download the tagged releases' \
    "$1" "$PG_CRON_ARCHIVE" "$PG_NET_ARCHIVE" "$VAULT_ARCHIVE" "$where"
}

# What building needs: a compiler, libcurl (pg_net), libsodium (Vault), and the server's headers
# (Debian's postgresql-server-dev-<major>; a PostgreSQL built from source installed its own).
ensure_extension_build_packages() {
  local wanted=(libcurl4-openssl-dev libsodium-dev build-essential)
  postgres_from_debian && wanted+=("postgresql-server-dev-$PG_MAJOR")
  apt_install_missing "to build pg_cron, pg_net and Supabase Vault" "${wanted[@]}"
}

# build_extension NAME ARCHIVE URL TREE TREE_SHA [BEFORE_INSTALL]: verified sources → make →
# BEFORE_INSTALL (a function, if given) → make install (as root).
build_extension() {
  local name="$1" archive="$2" url="$3" tree="$4" tree_sha="$5" before_install="${6:-}" work log
  work="$(mktemp -d "${TMPDIR:-/tmp}/daybreak-build-$name.XXXXXX")"
  log="$work.log"
  fetch_extension_source "$archive" "$url" "$tree" "$tree_sha" "$work/src"
  say "building $name from $archive for PostgreSQL $PG_MAJOR"
  # with_llvm=no: no JIT bitcode, so clang is not needed.
  if ! (cd "$work/src" && make -j2 PG_CONFIG="$PG_BIN/pg_config" with_llvm=no) >"$log" 2>&1; then
    tail -n 30 "$log" >&2; die "building $name failed (log: $log)"
  fi
  [ -z "$before_install" ] || "$before_install"
  if ! (cd "$work/src" && as_root make install PG_CONFIG="$PG_BIN/pg_config" with_llvm=no) >>"$log" 2>&1; then
    tail -n 30 "$log" >&2; die "installing $name failed (log: $log)"
  fi
  rm -rf "$work" "$log"
}

# Debian's pg_cron package goes before the pinned build is installed (removing it afterwards would
# delete the files they share), and with it any JIT bitcode of an earlier pg_cron build.
remove_other_pg_cron() {
  local pkg="postgresql-$PG_MAJOR-cron" lib
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    say "removing Debian's $pkg ($(dpkg-query -W -f='${Version}' "$pkg")): daybreak runs pg_cron $PG_CRON_RELEASE as hosted Supabase does, built from source, and the package's files collide with it"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq "$pkg" >&2 \
      || die "apt-get remove $pkg failed; remove it by hand (apt-get remove $pkg) and run again"
  fi
  lib="$(pg_pkglibdir)"
  as_root rm -rf "$lib/bitcode/pg_cron" "$lib/bitcode/pg_cron.index.bc"
}

install_pinned_pg_cron() {
  build_extension pg_cron "$PG_CRON_ARCHIVE" "$PG_CRON_URL" "$PG_CRON_TREE" "$PG_CRON_TREE_SHA256" remove_other_pg_cron
  pg_cron_stamp | as_root tee "$(pg_cron_stamp_file)" >/dev/null || die "cannot write $(pg_cron_stamp_file)"
}

# ensure_extensions: pg_cron, pg_net and Supabase Vault at the pinned versions, built only when
# missing or of another version.
ensure_extensions() {
  local have_cron have_net have_vault
  have_cron="$(installed_extension_version pg_cron)"
  have_net="$(installed_extension_version pg_net)"
  have_vault="$(installed_extension_version supabase_vault)"
  pinned_pg_cron_installed && [ "$have_net" = "$PG_NET_VERSION" ] && [ "$have_vault" = "$VAULT_VERSION" ] && return 0
  ensure_extension_build_packages
  if ! pinned_pg_cron_installed; then
    say "pg_cron ${have_cron:-not installed}${have_cron:+ (not the pinned build)}: installing $PG_CRON_RELEASE"
    install_pinned_pg_cron
  fi
  if [ "$have_net" != "$PG_NET_VERSION" ]; then
    say "pg_net ${have_net:-not installed}: installing $PG_NET_VERSION"
    build_extension pg_net "$PG_NET_ARCHIVE" "$PG_NET_URL" "$SUPABASE_TREE" "$PG_NET_TREE_SHA256"
  fi
  if [ "$have_vault" != "$VAULT_VERSION" ]; then
    say "supabase_vault ${have_vault:-not installed}: installing $VAULT_VERSION"
    build_extension supabase_vault "$VAULT_ARCHIVE" "$VAULT_URL" "$SUPABASE_TREE" "$VAULT_TREE_SHA256"
  fi
  pinned_pg_cron_installed || die "pg_cron $PG_CRON_RELEASE is still not installed after building it"
  [ "$(installed_extension_version pg_net)" = "$PG_NET_VERSION" ] || die "pg_net $PG_NET_VERSION is still not installed after building it"
  [ "$(installed_extension_version supabase_vault)" = "$VAULT_VERSION" ] || die "supabase_vault $VAULT_VERSION is still not installed after building it"
}

# update_pg_cron URL: a cluster kept from an earlier daybreak holds pg_cron 1.4 (Debian's) in its
# catalog while the library is the pinned build now: ALTER EXTENSION pg_cron UPDATE. Its 1.5 step
# changes cron.job.jobname from name to text, which PostgreSQL refuses while a view reads it, so
# the views built on cron.job (daybreak's v_cron_health, and the views on top of it) are dumped,
# dropped and recreated as they were, grants and comments included, in the same transaction.
update_pg_cron() {
  local url="$1" from views=() dump
  from="$(psql_run "$url" -At -c "
    select e.extversion from pg_extension e join pg_available_extensions a on a.name = e.extname
     where e.extname = 'pg_cron' and e.extversion <> a.default_version")" || die "reading pg_cron's version failed"
  [ -n "$from" ] || return 0
  say "updating pg_cron in this cluster from $from to $PG_CRON_RELEASE (the installed build)"
  mapfile -t views < <(psql_run "$url" -At -c "
    with recursive deps(oid) as (
      select r.ev_class from pg_depend d join pg_rewrite r on r.oid = d.objid
       where d.classid = 'pg_rewrite'::regclass and d.refobjid = 'cron.job'::regclass and r.ev_class <> d.refobjid
      union
      select r.ev_class from deps join pg_depend d on d.refobjid = deps.oid join pg_rewrite r on r.oid = d.objid
       where d.classid = 'pg_rewrite'::regclass and r.ev_class <> deps.oid)
    select distinct oid::regclass::text from deps")
  dump="$(mktemp)"
  if [ ${#views[@]} -gt 0 ]; then
    "$PG_BIN/pg_dump" "$url" --schema-only --no-owner "${views[@]/#/--table=}" \
      | sed -e '/^\\restrict /d' -e '/^\\unrestrict /d' >"$dump" || { rm -f "$dump"; die "dumping the views on cron.job failed"; }
  fi
  { printf 'begin;\n'
    [ ${#views[@]} -eq 0 ] || printf 'drop view %s;\n' "$(IFS=,; printf '%s' "${views[*]}")"
    printf 'alter extension pg_cron update;\n'
    cat "$dump"
    printf 'commit;\n'; } | psql_run "$url" >/dev/null || { rm -f "$dump"; die "updating pg_cron from $from failed"; }
  rm -f "$dump"
}
