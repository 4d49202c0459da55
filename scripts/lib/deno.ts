// scripts/lib/deno.cjs with types, for the harness and tests.
import { createRequire } from "node:module";

const deno = createRequire(import.meta.url)("./deno.cjs") as {
  DENO_DIR: string;
  IMPORT_MAP: string;
  RESOLUTION_FLAGS: readonly string[];
  denoBin(): string;
};

export const DENO_DIR = deno.DENO_DIR;
export const IMPORT_MAP = deno.IMPORT_MAP;
/** --no-config, --import-map functions/import_map.json, --cached-only. */
export const RESOLUTION_FLAGS = deno.RESOLUTION_FLAGS;
export const DENO_BIN = deno.denoBin();
