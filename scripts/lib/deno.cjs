// How daybreak runs Deno, for the shell scripts and the TypeScript harness alike (one place):
// - the real Deno binary, not npm's Node wrapper: the wrapper runs it with spawnSync, so a signal
//   sent to the wrapper never reaches a server that must stop (or be kill -9'd);
// - the functions resolve as the deployed bundle does: through functions/import_map.json, the one
//   map the Supabase CLI uploads with every function, with no deno.json and no node_modules;
// - npm packages come from one cache, DENO_DIR under node_modules (so `npm ci` empties it), filled
//   at install time (ensure_deno_cache in platform.sh); nothing else is ever downloaded
//   (--cached-only).
// `node scripts/lib/deno.cjs` prints the same as shell assignments for platform.sh to eval.
"use strict";
const path = require("node:path");

const ROOT = path.resolve(__dirname, "../..");
const DENO_DIR = path.join(ROOT, "node_modules/.cache/deno");
const IMPORT_MAP = path.join(ROOT, "functions/import_map.json");
const RESOLUTION_FLAGS = Object.freeze(["--no-config", "--import-map", IMPORT_MAP, "--cached-only"]);

/** The path of the real Deno executable npm installed. */
function denoBin() {
  return require("deno/install_api.cjs").runInstall();
}

module.exports = { DENO_DIR, IMPORT_MAP, RESOLUTION_FLAGS, denoBin };

if (require.main === module) {
  const q = (s) => `'${String(s).replaceAll("'", `'\\''`)}'`;
  process.stdout.write([
    `DENO_BIN=${q(denoBin())}`,
    `DENO_DIR=${q(DENO_DIR)}`,
    `DENO_IMPORT_MAP=${q(IMPORT_MAP)}`,
    `DENO_RESOLUTION=(${RESOLUTION_FLAGS.map(q).join(" ")})`,
    "",
  ].join("\n"));
}
