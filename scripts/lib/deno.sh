# shellcheck shell=bash
# Deno for the local platform: the binary, the flags and the npm cache the functions resolve through
# (defined once, in deno.cjs), and ensure_deno_cache, the install step that fills that cache.
# Sourced by platform.sh.

DENO_BIN=""
DENO_IMPORT_MAP=""
DENO_RESOLUTION=()

# load_deno_settings: DENO_BIN, DENO_DIR (exported), DENO_IMPORT_MAP and DENO_RESOLUTION (the
# flags for every deno command that loads the functions). Needs the npm dependencies installed.
load_deno_settings() {
  local settings
  settings="$(node "$DAYBREAK_ROOT/scripts/lib/deno.cjs")" || die "cannot locate Deno (is npm ci done?)"
  eval "$settings"
  export DENO_DIR
}

# ensure_deno_cache: fills Deno's npm cache with exactly what functions/import_map.json pins, and
# deno bundle's esbuild (the deploy tests bundle captured uploads offline). The only time Deno
# downloads anything, from the npm registry; again only when the import map changed or npm ci
# emptied node_modules.
ensure_deno_cache() {
  local stamp want tmp
  load_deno_settings
  stamp="$DENO_DIR/.daybreak-import-map-sha"
  want="$(sha256sum "$DENO_IMPORT_MAP" | cut -d' ' -f1)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  say "filling Deno's npm cache for the functions ($DENO_DIR)"
  mkdir -p "$DENO_DIR"
  "$DENO_BIN" cache --quiet --no-config --import-map "$DENO_IMPORT_MAP" "$DAYBREAK_ROOT"/functions/*/index.ts >&2 \
    || die "deno cache failed (the npm registry must be reachable at install time)"
  tmp="$(mktemp -d)"
  "$DENO_BIN" bundle --quiet --no-config --import-map "$DENO_IMPORT_MAP" -o "$tmp/health.js" \
    "$DAYBREAK_ROOT/functions/health/index.ts" >&2 || { rm -rf "$tmp"; die "deno bundle failed"; }
  rm -rf "$tmp"
  printf '%s\n' "$want" >"$stamp"
}
