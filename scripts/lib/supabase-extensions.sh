# shellcheck shell=bash
# pg_net and Supabase Vault for the local platform, sourced by platform.sh (which defines say,
# die, as_root, apt_install and PG_BIN). Debian packages neither: they are built (PGXS) from the
# pinned, checksummed upstream sources and installed into PostgreSQL 15's directories, once: when
# the installed control file already names the pinned version and the library is there, nothing
# is built (a machine that has them from elsewhere, at these versions, is used as it is).
PG_NET_ARCHIVE="pg_net-0.20.5.tar.gz"       # tag v0.20.5, SQL version 0.20.4
PG_NET_VERSION="0.20.4"
PG_NET_URL="https://github.com/supabase/pg_net/archive/refs/tags/v0.20.5.tar.gz"
VAULT_ARCHIVE="supabase_vault-0.3.1.tar.gz" # tag v0.3.1
VAULT_VERSION="0.3.1"
VAULT_URL="https://github.com/supabase/vault/archive/refs/tags/v0.3.1.tar.gz"
# The sha256 of the build inputs (Makefile, *.control.in, sql/, src/: `sha256sum` lines sorted by
# path, hashed). It checks a downloaded tag archive, whose bytes differ from the vendored copies
# (those leave out nix/, .github/, test/), and double-checks the vendored ones after SHA256SUMS.
PG_NET_TREE_SHA256="e85f13ed4ac06806d19520b45b8e73e44d6648e318ba6188f5202e181d729747"
VAULT_TREE_SHA256="e43053cb78c6b4fff560c5a099d00f02755ce6c7f4b7003c3d9b7ee894de5592"
EXTENSION_BUILD_PACKAGES=(postgresql-server-dev-15 libcurl4-openssl-dev libsodium-dev build-essential)

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

# Where the pinned archives are: the directory named by $DAYBREAK_EXTENSION_SOURCES (configuration:
# a mirror, a vendored copy); prints nothing when it is unset, and the tagged releases are downloaded.
extension_sources_dir() {
  [ -n "${DAYBREAK_EXTENSION_SOURCES:-}" ] || return 0
  [ -d "$DAYBREAK_EXTENSION_SOURCES" ] || die "DAYBREAK_EXTENSION_SOURCES=$DAYBREAK_EXTENSION_SOURCES is not a directory"
  (cd "$DAYBREAK_EXTENSION_SOURCES" && pwd)
}

source_tree_sha256() {
  (cd "$1" && find Makefile ./*.control.in sql src -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
}

# fetch_extension_source ARCHIVE URL TREE_SHA DEST: unpacks the verified sources into DEST.
fetch_extension_source() {
  local archive="$1" url="$2" tree_sha="$3" dest="$4" dir file got
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
    command -v curl >/dev/null 2>&1 || die "$(extension_sources_problem "$dir")"
    say "downloading $url"
    file="$dest.tar.gz"
    curl -fsSL --retry 2 --connect-timeout 10 -o "$file" "$url" 2>/dev/null \
      || die "$(extension_sources_problem "$dir") (download of $url failed)"
  fi
  tar -xzf "$file" -C "$dest" --strip-components=1 || die "cannot unpack $file"
  got="$(source_tree_sha256 "$dest")"
  [ "$got" = "$tree_sha" ] || die "the sources in $file are not the pinned ones (tree sha256 $got, want $tree_sha)"
}

extension_sources_problem() {
  local where="${1:-DAYBREAK_EXTENSION_SOURCES, which is not set}"
  printf 'cannot find the pinned sources of pg_net and Supabase Vault: put %s and %s (with a SHA256SUMS file pinning them) in a directory and point DAYBREAK_EXTENSION_SOURCES at it (looked in %s), or let this machine reach github.com to download the tagged releases' \
    "$PG_NET_ARCHIVE" "$VAULT_ARCHIVE" "$where"
}

ensure_extension_build_packages() {
  local missing=() p
  for p in "${EXTENSION_BUILD_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  apt_install "to build pg_net and Supabase Vault" "${missing[@]}"
}

# build_extension NAME ARCHIVE URL TREE_SHA: verified sources → make → make install (as root).
build_extension() {
  local name="$1" archive="$2" url="$3" tree_sha="$4" work log
  work="$(mktemp -d "${TMPDIR:-/tmp}/daybreak-build-$name.XXXXXX")"
  log="$work.log"
  fetch_extension_source "$archive" "$url" "$tree_sha" "$work/src"
  say "building $name from $archive"
  # with_llvm=no: no JIT bitcode, so clang is not needed.
  if ! (cd "$work/src" && make -j2 PG_CONFIG="$PG_BIN/pg_config" with_llvm=no) >"$log" 2>&1; then
    tail -n 30 "$log" >&2; die "building $name failed (log: $log)"
  fi
  if ! (cd "$work/src" && as_root make install PG_CONFIG="$PG_BIN/pg_config" with_llvm=no) >>"$log" 2>&1; then
    tail -n 30 "$log" >&2; die "installing $name failed (log: $log)"
  fi
  rm -rf "$work" "$log"
}

# ensure_supabase_extensions: pg_net and Supabase Vault at the pinned versions, built only when
# missing or of another version.
ensure_supabase_extensions() {
  local have_net have_vault
  have_net="$(installed_extension_version pg_net)"
  have_vault="$(installed_extension_version supabase_vault)"
  [ "$have_net" = "$PG_NET_VERSION" ] && [ "$have_vault" = "$VAULT_VERSION" ] && return 0
  ensure_extension_build_packages
  if [ "$have_net" != "$PG_NET_VERSION" ]; then
    say "pg_net ${have_net:-not installed}: installing $PG_NET_VERSION"
    build_extension pg_net "$PG_NET_ARCHIVE" "$PG_NET_URL" "$PG_NET_TREE_SHA256"
  fi
  if [ "$have_vault" != "$VAULT_VERSION" ]; then
    say "supabase_vault ${have_vault:-not installed}: installing $VAULT_VERSION"
    build_extension supabase_vault "$VAULT_ARCHIVE" "$VAULT_URL" "$VAULT_TREE_SHA256"
  fi
  [ "$(installed_extension_version pg_net)" = "$PG_NET_VERSION" ] || die "pg_net $PG_NET_VERSION is still not installed after building it"
  [ "$(installed_extension_version supabase_vault)" = "$VAULT_VERSION" ] || die "supabase_vault $VAULT_VERSION is still not installed after building it"
}
